"""Deprecated alias of ``kexue.cli._gan`` (the ``kexue gan`` command group), which moved
into the ``kexue.cli`` package; use ``kexue gan ...`` or ``kexue.cli.main``. It warns
(``DeprecationWarning``) and is removed in the next release."""

import importlib
import sys
import warnings

warnings.warn("kexue.cli_gan is deprecated and will be removed in the next release: the "
              "command group moved into the kexue.cli package (use `kexue gan ...` or "
              "kexue.cli.main)", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("kexue.cli._gan")
