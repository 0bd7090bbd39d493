"""The HTML report: a list of :class:`~kexue.experiments.Result` → one self-contained page.

:func:`write_report` writes ``index.html`` (CSS inlined, figures embedded as ``data:`` URIs, no
network use), ``results.json`` and every figure as a PNG file beside it. The report knows only
``Result`` (and the claim-verdict rules of :mod:`kexue.experiments._base`); it never imports an
experiment or the library. Stored full-preset runs (``benchmarks/results/full/<name>.json``,
:mod:`kexue.report._stored`) are shown beside each experiment as "last full run".
"""

from ._html import write_report

__all__ = ["write_report"]
