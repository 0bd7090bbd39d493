"""MkDocs hook: LaTeX → MathML at build time, so equations need no JavaScript and no CDN.

``pymdownx.arithmatex`` (generic mode) finds the maths in the Markdown and the docstrings and
wraps it as ``<span class="arithmatex">\\(…\\)</span>`` (inline) or
``<div class="arithmatex">\\[…\\]</div>`` (display); this hook replaces each by the MathML that
``latex2mathml`` produces. Every modern browser renders MathML natively (Chrome/Edge ≥ 109,
Firefox, Safari), so the built site shows equations offline. An equation latex2mathml cannot
convert, or one with a command it does not know, fails the build (the page and the TeX are
named).
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def to_mathml(tex: str, *, display: bool) -> str:
    """MathML for ``tex`` (arithmatex's HTML-escaped text), ``display`` for a block."""
    source = html.unescape(tex).strip()
    try:
        out = convert(source, display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises many types; name the equation instead
        raise PluginError(f"cannot convert the equation {source!r} to MathML: {err!r}") from err
    if "\\" in out:  # latex2mathml passes an unknown command through as text: refuse it
        bad = re.findall(r"\\[A-Za-z]+", out)
        raise PluginError(f"the equation {source!r} uses {', '.join(sorted(set(bad)))}, which "
                          "latex2mathml does not know; write it with supported commands")
    return out


def convert_html(text: str) -> str:
    """``text`` with every arithmatex span/div replaced by MathML."""
    text = _BLOCK.sub(lambda m: '<div class="arithmatex">'
                      + to_mathml(m.group(1), display=True) + "</div>", text)
    return _INLINE.sub(lambda m: '<span class="arithmatex">'
                       + to_mathml(m.group(1), display=False) + "</span>", text)


def on_page_content(html_text, page, config, files):  # noqa: ARG001 (mkdocs hook signature)
    try:
        return convert_html(html_text)
    except PluginError as err:
        raise PluginError(f"{page.file.src_path}: {err}") from err
