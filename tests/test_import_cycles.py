"""No import cycles inside kexue's packages (issue 15, "Architecture"), read from the source.

A graph of imports between kexue modules is built with :mod:`ast` from every import statement —
at module level *and* inside functions and methods, since a function-level import only hides a
circle until the function runs. Edges:

* ``import kexue.a.b`` → the module ``kexue.a.b``;
* ``from .m import name`` / ``from kexue.p.m import name`` → the module ``kexue.p.m``, or the
  submodule ``kexue.p.m.name`` when ``name`` is one;
* ``from . import name`` / ``from kexue.p import name`` → the package ``kexue.p`` (its
  ``__init__``) unless ``name`` is a submodule, then that submodule;
* a name that is no module of kexue resolves to its nearest enclosing module.

Left out: imports under ``if TYPE_CHECKING:`` (never executed) and ``importlib.import_module``
(dynamic, invisible to the parser). The implicit import of a parent package before its
submodule is not an edge (every package would otherwise be a circle with its ``__init__``).

Every strongly connected component with more than one module (or a module importing itself) is a
cycle; it belongs to the innermost package that holds all its modules. Each package below
``kexue`` must have no cycle except those listed in :data:`KNOWN`, with the reason; the list must
match exactly, so the test fails both when a new cycle appears and when a listed one is gone.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Cycles that exist today outside the packages already untangled, ``{modules: reason}``.
#: Removing one is welcome: then delete its line (the test fails on a stale entry).
KNOWN: dict[frozenset[str], str] = {
    frozenset({"kexue.experiments", "kexue.experiments._listing"}):
        "listing() reads the package's registry (_MODULES, _REGISTRY) at call time, and the "
        "package re-exports listing",
    frozenset({"kexue.diffusion._sample_n", "kexue.diffusion._samplers"}):
        "sample_n() calls sample()/sampler_spec() at call time, and _samplers re-exports "
        "sample_n",
    frozenset({"kexue.diffusion._sde", "kexue.diffusion._sde_kinds"}):
        "a GaussianPathSDE method builds the _TableVPSDE subclass defined in _sde_kinds",
}


def _module_name(path: Path) -> tuple[str, bool]:
    """``(dotted module name, is a package __init__)`` of a file under ``SRC``."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _modules() -> dict[str, tuple[Path, bool]]:
    files = sorted((SRC / "kexue").rglob("*.py"))
    assert len(files) > 50, f"found only {len(files)} source files under {SRC}"
    return {name: (path, is_pkg) for path in files for name, is_pkg in [_module_name(path)]}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under ``if TYPE_CHECKING:``."""
    out: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return out


def _nearest(name: str, modules: dict) -> str | None:
    """``name`` or its nearest enclosing kexue module (``None`` outside kexue)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _edges(module: str, modules: dict) -> set[str]:
    """The kexue modules that ``module``'s import statements reach (see the module docstring)."""
    path, is_pkg = modules[module]
    package = module if is_pkg else module.rpartition(".")[0]
    out: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
            named = [a.name for a in node.names if f"{target}.{a.name}" not in modules]
            targets = subs + ([target] if named else [])
        out |= {m for t in targets if (m := _nearest(t, modules)) is not None}
    return out


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` over every kexue module."""
    modules = _modules()
    return {m: _edges(m, modules) for m in modules}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components that are cycles (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in graph.get(v, ()):
                    found.append(frozenset(comp))
    return found


def _owner(cycle: frozenset[str], packages: set[str]) -> str:
    """The innermost package holding every module of ``cycle``."""
    split = [m.split(".") for m in cycle]
    prefix = []
    for parts in zip(*split):
        if len(set(parts)) > 1:
            break
        prefix.append(parts[0])
    while ".".join(prefix) not in packages:
        prefix.pop()
    return ".".join(prefix)


def _packages() -> list[str]:
    return sorted(m for m, (_, is_pkg) in _modules().items() if is_pkg)


@functools.cache
def _found() -> dict[str, frozenset[frozenset[str]]]:
    """``{package: its cycles}`` (built once per session)."""
    packages = set(_packages())
    out: dict[str, set[frozenset[str]]] = {}
    for c in cycles(import_graph()):
        out.setdefault(_owner(c, packages), set()).add(c)
    return {k: frozenset(v) for k, v in out.items()}


@pytest.mark.parametrize("package", _packages())
def test_no_import_cycle_within_the_package(package):
    found = _found().get(package, frozenset())
    known = {c for c in KNOWN if _owner(c, set(_packages())) == package}
    new = sorted(sorted(c) for c in found - known)
    gone = sorted(sorted(c) for c in known - found)
    assert not new, f"{package}: import cycles (function-level imports included): {new}"
    assert not gone, f"{package}: cycles listed in KNOWN no longer exist; delete them: {gone}"


def test_the_walker_sees_function_level_and_relative_imports(tmp_path):
    """The checks can fail: a circle planted through a function-level import is found."""
    pkg = tmp_path / "p"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from ._a import f\n",
        "_a.py": "def f():\n    from ._b import g  # hides a circle until f runs\n    return g\n",
        "_b.py": "from ._c import h\ng = 1\n",
        "_c.py": "from . import _a\nfrom . import sub\nh = 2\n",
        "_d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._a import f\n"
                 "import kexue.p._e as e\nfrom kexue.p import f\n",
        "_e.py": "",
        "sub/__init__.py": "from .. import _e\n",
    }
    modules = {}
    for rel, text in files.items():
        path = pkg / rel
        path.write_text(text, encoding="utf-8")
        name = "kexue.p" + "".join("." + part for part in Path(rel).with_suffix("").parts
                                   if part != "__init__")
        modules[name] = (path, rel.endswith("__init__.py"))
    graph = {m: _edges(m, modules) for m in modules}
    assert graph["kexue.p._a"] == {"kexue.p._b"}                     # function-level
    assert graph["kexue.p._c"] == {"kexue.p._a", "kexue.p.sub"}      # submodules by name
    assert graph["kexue.p._d"] == {"kexue.p._e", "kexue.p"}          # TYPE_CHECKING skipped
    assert graph["kexue.p.sub"] == {"kexue.p._e"}                    # ``..`` from a package
    assert cycles(graph) == [frozenset({"kexue.p._a", "kexue.p._b", "kexue.p._c"})]
    assert cycles({"kexue.q": {"kexue.q"}}) == [frozenset({"kexue.q"})]
    assert _owner(frozenset({"kexue.forms._a", "kexue.forms._b"}), {"kexue", "kexue.forms"}) \
        == "kexue.forms"
    assert _owner(frozenset({"kexue.forms._a", "kexue.integrals._b"}),
                  {"kexue", "kexue.forms", "kexue.integrals"}) == "kexue"
    assert _owner(frozenset({"kexue.a.x.y", "kexue.b.x.y"}), {"kexue", "kexue.a", "kexue.b"}) \
        == "kexue"
