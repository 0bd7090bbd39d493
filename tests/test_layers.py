"""The layering of kexue, enforced on the source (every import statement, including the ones
inside functions):

1. The library (``kexue.stochastic``, ``diffusion``, ``gan``, …, and the top-level library
   modules) never imports the application layer: ``kexue.experiments``, ``kexue.report`` or the
   CLI modules.
2. A private module (a path component starting with ``_`` below a package) is imported only from
   inside the package that owns it: the CLI, the experiments and the report use public names.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: The application layer: it may import anything public; the library never imports it.
APPLICATION = ("kexue.experiments", "kexue.report", "kexue.cli", "kexue.__main__",
               # the deprecated aliases of the command groups (kexue.cli_sde -> kexue.cli._sde)
               "kexue.cli_diffusion", "kexue.cli_gan", "kexue.cli_integrals", "kexue.cli_onlstm",
               "kexue.cli_sde")


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _module_name(path: Path) -> tuple[str, str]:
    """(module, package) of a source file under ``SRC``."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``kexue…`` name an import statement of ``path`` reaches: (line, dotted name)."""
    module, package = _module_name(path)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return [(line, name) for line, name in out if name == "kexue" or name.startswith("kexue.")]


def _private_owner(name: str) -> str | None:
    """The package owning the first private component of ``name`` (``None``: all public)."""
    parts = name.split(".")
    for i, part in enumerate(parts[1:], 1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _sources() -> list[Path]:
    files = sorted((SRC / "kexue").rglob("*.py"))
    assert len(files) > 50, f"found only {len(files)} source files under {SRC}"
    return files


def test_library_never_imports_the_application_layer():
    bad = []
    for path in _sources():
        module, _ = _module_name(path)
        if _in(module, APPLICATION):
            continue
        bad += [f"{module}:{line} imports {name}" for line, name in _imports(path)
                if _in(name, APPLICATION)]
    assert not bad, "library modules import the application layer:\n" + "\n".join(sorted(bad))


def test_private_modules_are_imported_only_inside_their_package():
    bad = []
    for path in _sources():
        module, _ = _module_name(path)
        for line, name in _imports(path):
            owner = _private_owner(name)
            if owner is not None and not _in(module, (owner,)):
                bad.append(f"{module}:{line} imports {name} (private to {owner})")
    assert not bad, ("modules import private modules of other packages (use the package's "
                     "public names):\n" + "\n".join(sorted(set(bad))))


def test_the_checks_can_fail():
    """The import walker sees relative, absolute and function-level imports."""
    src = SRC / "kexue" / "experiments" / "diffusion_toy.py"
    names = {name for _, name in _imports(src)}
    assert any(n.startswith("kexue.diffusion") for n in names), names
    assert _private_owner("kexue.diffusion._train.make_sde") == "kexue.diffusion"
    assert _private_owner("kexue.diffusion.sample") is None
    assert _in("kexue.cli._sde", APPLICATION) and not _in("kexue.stochastic", APPLICATION)
