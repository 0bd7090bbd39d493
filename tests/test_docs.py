"""The documentation site (issue 15): every public name documented, links resolve, examples run.

``docs/`` is a mkdocs-material + mkdocstrings site (``make docs``). The fast tests read only the
Markdown and ``mkdocs.yml`` (no install needed): (a) every name in the ``__all__`` of each public
package and top-level module is covered by a ``::: kexue.x`` API block — a whole-module block
renders its ``__all__`` (mkdocstrings' ``filters: public``), a public *submodule* needs its own
block; (c) every relative link, image and snippet include resolves to a file, and every page is
in the nav; the ```` ```python ```` blocks compile. A default test (``make test`` installs the
``docs`` extra; about 12 s) builds the site with ``mkdocs build --strict`` and checks (a) again
against the built objects inventory — what was actually rendered; a slow test runs every
page's ```` ```python ```` blocks (```` ```py ```` blocks are shown, not run: other libraries'
code).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
# The public surface: each package's and each top-level module's __all__ (issue 15).
PUBLIC = ["stochastic", "diffusion", "gan", "onlstm", "regularize", "smooth", "forms", "integrals",
          "data", "metrics", "checkpoint", "training", "rng", "devices", "parallel", "limits",
          "expr", "plotting", "extras"]
BLOCK = re.compile(r"^:::\s+(kexue(?:\.\w+)*)\s*$", re.M)
PY_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SNIPPET = re.compile(r'--8<--\s+"([^"]+)"')
FIGURE_MAX_BYTES = 110_000
FIGURE_MAX_COUNT = 10


def _module_file(mod_name: str) -> Path:
    pkg = ROOT / "src" / "kexue" / mod_name
    return pkg / "__init__.py" if pkg.is_dir() else pkg.with_suffix(".py")


def _static_all(mod_name: str) -> list[str]:
    """``__all__`` of ``kexue.<mod_name>`` read from the source (no import: fast), or imported
    when it is not a literal list."""
    tree = ast.parse(_module_file(mod_name).read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
            try:
                return list(ast.literal_eval(node.value))
            except ValueError:
                break
    return list(importlib.import_module(f"kexue.{mod_name}").__all__)


def _public_names() -> list[str]:
    """``kexue.<module>.<name>`` for every name in the public ``__all__`` lists."""
    return [f"kexue.{m}.{n}" for m in PUBLIC for n in _static_all(m)]


def _is_submodule(name: str) -> bool:
    """Whether ``kexue.<pkg>.<name>`` is a module (a file or folder beside ``__init__.py``)."""
    path = ROOT / "src" / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _api_blocks() -> dict[str, str]:
    """``{identifier: option text}`` of every ``::: identifier`` block in the Markdown."""
    blocks = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            rest = text[m.end():].split("\n\n", 1)[0]  # the indented options, if any
            blocks[m.group(1)] = rest
    return blocks


def _covered(name: str, blocks: dict[str, str]) -> bool:
    if name in blocks:
        return True
    module = name.rpartition(".")[0]
    if _is_submodule(name):  # a public submodule is rendered only by its own block
        return False
    return module in blocks and "members:" not in blocks[module]


def test_every_public_name_has_an_api_block():
    blocks = _api_blocks()
    missing = [n for n in _public_names() if not _covered(n, blocks)]
    assert not missing, (
        f"{len(missing)} public names are in no API block of docs/: {missing}. Add "
        f"'::: kexue.<module>' (or '::: <the name>') to the page of its article")


def test_every_api_block_names_a_public_object():
    public = set(_public_names())
    for ident in _api_blocks():
        assert _is_submodule(ident) or ident in public, (
            f"'::: {ident}' in docs/ is neither a kexue module nor a name in a public __all__")


def _relative_targets(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # links inside code are code
    out = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, https:, mailto: ... and same-page anchors
        out.append(target.split("#", 1)[0])
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_and_snippets_resolve(page):
    for target in _relative_targets(page):
        assert (page.parent / target).resolve().is_file(), (
            f"{page.relative_to(ROOT)} links to {target!r}, which does not exist")
    for include in SNIPPET.findall(page.read_text(encoding="utf-8")):
        assert (ROOT / include).is_file(), (
            f"{page.relative_to(ROOT)} includes {include!r}, which does not exist")


def test_nav_lists_every_page_and_only_existing_pages():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = set(re.findall(r":\s+([\w/.-]+\.md)\s*$", config, re.M))
    pages = {str(p.relative_to(DOCS)) for p in PAGES}
    assert nav <= pages, f"mkdocs.yml's nav names missing pages: {sorted(nav - pages)}"
    assert pages <= nav, f"pages not in mkdocs.yml's nav: {sorted(pages - nav)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_python_blocks_compile(page):
    for i, block in enumerate(PY_BLOCK.findall(page.read_text(encoding="utf-8"))):
        compile(block, f"{page.relative_to(ROOT)} block {i}", "exec")


def test_every_article_page_has_a_runnable_example_and_an_api_block():
    for page in sorted((DOCS / "articles").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        assert PY_BLOCK.search(text), f"{page.name} has no ```python example"
        assert BLOCK.search(text), f"{page.name} has no '::: kexue...' API block"
        assert "kexue.fm/archives/" in text, f"{page.name} links no kexue.fm article"


def _experiment_mentions() -> dict[str, set[str]]:
    """``{page: experiment-like names}``: the hyphenated words in code spans of each article
    page's "## Experiments" section."""
    out = {}
    for page in sorted((DOCS / "articles").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        section = text.split("## Experiments", 1)[1].split("\n## ", 1)[0] if (
            "## Experiments" in text) else ""
        words = " ".join(re.findall(r"`([^`]+)`", section)).split()  # inside code spans
        out[page.name] = {w for w in words if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", w)}
    return out


def test_experiments_named_on_the_pages_exist_and_every_experiment_is_named():
    from kexue.experiments import listing  # reads the registry's source; imports no torch

    registered = {row["name"] for row in listing()}
    mentions = _experiment_mentions()
    for page, names in mentions.items():
        assert names, f"{page} names no experiment in an '## Experiments' section"
        unknown = names - registered
        assert not unknown, f"{page} names experiments that do not exist: {sorted(unknown)}"
    unnamed = registered - set().union(*mentions.values())
    assert not unnamed, f"experiments on no article page: {sorted(unnamed)}"


def test_figures_are_small_and_few():
    figures = sorted((DOCS / "figures").glob("*.png"))
    assert len(figures) <= FIGURE_MAX_COUNT, f"{len(figures)} figures; keep at most 10"
    for fig in figures:
        assert fig.stat().st_size <= FIGURE_MAX_BYTES, (
            f"{fig.name} is {fig.stat().st_size} bytes; regenerate it with docs/make_figures.py")


def _load_hook():
    pytest.importorskip("latex2mathml")
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("kexue_docs_mathml", DOCS / "hooks/mathml.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mathml_hook_converts_inline_and_display_maths():
    hook = _load_hook()
    page = ('<p>a <span class="arithmatex">\\(x &lt; \\frac{1}{2}\\)</span> b</p>'
            '<div class="arithmatex">\\[\\int_0^1 x\\,dx\\]</div>')
    out = hook.convert_html(page)
    assert "arithmatex\">\\(" not in out and "\\[" not in out
    assert out.count("<math") == 2 and 'display="block"' in out and 'display="inline"' in out
    assert "<mfrac>" in out and "&#x0003C;" in out  # '&lt;' unescaped, then MathML's '<'


def test_mathml_hook_refuses_what_it_cannot_render():
    hook = _load_hook()
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="does not know"):
        hook.to_mathml("\\unknowncommand x", display=False)
    with pytest.raises(PluginError, match="cannot convert"):
        hook.to_mathml("\\frac{1}{", display=True)


def test_roles_hook_shows_sphinx_roles_as_code():
    spec = importlib.util.spec_from_file_location("kexue_docs_roles", DOCS / "hooks/roles.py")
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    html = (":func:<code>solve</code>, :class:<code>~kexue.onlstm._model.LanguageModel</code>, "
            ":meth:<code>Trainer.save</code>, <code>:not-a-role:</code>")
    assert roles.strip_roles(html) == ("<code>solve</code>, <code>LanguageModel</code>, "
                                       "<code>Trainer.save</code>, <code>:not-a-role:</code>")


def _have_site_tools() -> bool:
    return all(importlib.util.find_spec(m) is not None
               for m in ("mkdocs", "material", "mkdocstrings_handlers.python", "latex2mathml"))


def _inventory(path: Path) -> set[str]:
    """Object names in a Sphinx ``objects.inv`` (v2: four header lines, then zlib)."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


@pytest.mark.skipif(not _have_site_tools(), reason="needs the docs extra: pip install -e '.[docs]'")
def test_mkdocs_build_strict_renders_every_public_name(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-4000:]}"
    rendered = _inventory(site / "objects.inv")
    missing = [n for n in _public_names() if n not in rendered]
    assert not missing, f"public names not rendered on the site: {missing}"
    html = (site / "articles" / "stochastic.html").read_text(encoding="utf-8")
    assert "<math" in html and "arithmatex\">\\(" not in html  # MathML, no raw TeX left
    assert ":func:<code>" not in html  # Sphinx roles shown as code (docs/hooks/roles.py)


_RUN_PAGES = """
import re, sys, traceback
failed = []
for path in sys.argv[1:]:
    ns = {"__name__": "__docs__"}
    for i, block in enumerate(re.findall(r"^```python\\n(.*?)^```", open(path).read(),
                                         re.S | re.M)):
        try:
            exec(compile(block, f"{path} block {i}", "exec"), ns)
        except Exception:
            failed.append(f"{path} block {i}:\\n{traceback.format_exc()}")
            break
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.slow
def test_python_blocks_run():
    """Every page's ```python blocks run in order in one namespace per page (fresh process)."""
    pages = [str(p) for p in PAGES if PY_BLOCK.search(p.read_text(encoding="utf-8"))]
    assert len(pages) >= 10
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", _RUN_PAGES, *pages], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, f"documentation examples failed:\n{proc.stdout[-6000:]}"
