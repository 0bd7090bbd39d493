"""The HTML report: a list of :class:`~kexue.experiments.Result` → one self-contained page.

:func:`write_report` writes ``index.html`` (CSS inlined, figures embedded as ``data:`` URIs, no
network use), ``results.json`` and every figure as a PNG file beside it. The report knows only
``Result`` (and the claim-verdict rules of :mod:`kexue.experiments._base`); it never imports an
experiment or the library. Stored full-preset runs (``benchmarks/results/full/<name>.json``,
written by :func:`store_full_run` — ``kexue reproduce --store`` — and found by
:func:`full_runs_dir`: ``$KEXUE_FULL_RUNS`` (:data:`FULL_RUNS_ENV`) or the source checkout's)
are shown beside each experiment as "last full run".
"""

from ._html import write_report
from ._stored import ENV_VAR as FULL_RUNS_ENV
from ._stored import full_runs_dir, store_full_run

__all__ = ["write_report", "store_full_run", "full_runs_dir", "FULL_RUNS_ENV"]
