"""MkDocs hook: show the docstrings' Sphinx cross-reference roles as plain code.

The docstrings write ``:func:`solve``` and ``:class:`~kexue.stochastic.SDE``` (Sphinx roles);
Markdown renders them as the text ``:func:`` followed by the code. This hook removes the role
prefix after rendering and, for a name written with ``~``, keeps only its last component, as
Sphinx would show it.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|data|mod|attr|exc|obj|const):"
                   r"<code>(~?)([^<]*)</code>")


def strip_roles(text: str) -> str:
    """``text`` with ``:role:<code>name</code>`` replaced by ``<code>name</code>``."""
    return _ROLE.sub(lambda m: "<code>" + (m.group(2).rsplit(".", 1)[-1] if m.group(1)
                                            else m.group(2)) + "</code>", text)


def on_page_content(html_text, page, config, files):  # noqa: ARG001 (mkdocs hook signature)
    return strip_roles(html_text)
