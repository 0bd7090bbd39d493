"""The HTML report: a list of :class:`~kexue.experiments.Result` → one self-contained page.

:func:`write_report` writes ``index.html`` (CSS inlined, figures embedded as ``data:`` URIs, no
network use), ``results.json`` and every figure as a PNG file beside it. The report knows only
``Result``; it never imports an experiment or the library.
"""

from ._html import write_report

__all__ = ["write_report"]
