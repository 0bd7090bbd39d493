"""Every public function and class of kexue has a docstring that names its source (issue 15).

Public names: ``__all__`` of each subpackage in ``PACKAGES`` (and of a public submodule such as
``kexue.stochastic.closed_forms``) and of the top-level library modules in ``MODULES``.
Functions and classes are checked; constants (tuples, dicts, numbers, strings, instances) are
exempt. Every checked name must have its own docstring (a dataclass's generated
``Name(field, ...)`` signature does not count).

A docstring names a source when it, **or the docstring of the module that defines the name**,
matches :data:`SOURCE`, one of:

* a kexue.fm article: ``kexue.fm/archives/NNNN``, ``kexue.fm NNNN`` or ``archive NNNN``
  (``archives NNNN``);
* an arXiv id: ``arXiv:NNNN.NNNNN`` (``arXiv:NNNN.NNNN`` for pre-2015 ids);
* a DOI: ``10.NNNN/...`` (optionally after ``doi:`` or ``doi.org/``);
* a named reference: a capitalised author (or venue/publisher) followed by a year 1600–2099,
  ``Author 1999``, ``Author et al. 2021``, ``Author and Other (1947)``, ``Springer 1992``.

Exceptions and warnings (subclasses of ``BaseException``) need a docstring but no source: they
report failures, they implement nothing. Plumbing with no source (devices, checkpoint I/O, the
training engine, seeding and torch.distributed glue) is listed by name in :data:`NO_SOURCE`
with its reason; the list must stay a minority of the public names, hold only public names,
and hold no name that already cites a source (so it cannot go stale).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import sys

import pytest

PACKAGES = ["stochastic", "diffusion", "gan", "onlstm", "regularize", "smooth", "forms",
            "integrals", "data", "metrics"]
MODULES = ["checkpoint", "training", "rng", "devices", "parallel"]

SOURCE = re.compile(
    r"kexue\.fm(?:/archives/|\s+)\d{3,5}"  # kexue.fm/archives/9209, kexue.fm 9209
    r"|\barchives?\s+\d{3,5}\b"  # archive 9209, archives 3750
    r"|\barXiv:\s?\d{4}\.\d{4,5}\b"  # arXiv:2011.13456
    r"|\b(?:doi:\s?|doi\.org/)?10\.\d{4,9}/\S+"  # 10.1137/0720066
    r"|\b[A-Z][\w\-]+(?: et al\.| (?:and|&) [A-Z][\w\-]+)?,?\s\(?(?:1[6-9]|20)\d{2}"
    r"[a-z]?\b"  # Nicolson (1947), Song et al. 2021
)

_PLUMBING_CKPT = "checkpoint I/O and integrity (safetensors + JSON): plumbing, no algorithm"
_PLUMBING_TRAIN = "the training loop/resume engine: plumbing, the algorithms live in its tasks"
_PLUMBING_RNG = "seeding rule and per-block seeds (NumPy SeedSequence): plumbing"
_PLUMBING_DEV = "device choice and display: plumbing"
_PLUMBING_DIST = "torch.distributed process-group glue and block sharding: plumbing"

NO_SOURCE: dict[str, str] = {
    **dict.fromkeys(
        [f"kexue.checkpoint.{n}" for n in (
            "save", "load", "load_module", "build_module", "fingerprint", "check_resume",
            "validate_meta", "tensor_digest", "Field", "validate_spec", "resume_engine",
            "check_engine_meta", "dtype_from_name")], _PLUMBING_CKPT),
    **dict.fromkeys(["kexue.training.Engine", "kexue.training.Task"], _PLUMBING_TRAIN),
    **dict.fromkeys(
        [f"kexue.rng.{n}" for n in ("as_generator", "block_seed", "block_generator",
                                    "seed_from")], _PLUMBING_RNG),
    **dict.fromkeys(
        [f"kexue.devices.{n}" for n in ("resolve_device", "infer_device", "device_text")],
        _PLUMBING_DEV),
    **dict.fromkeys(
        [f"kexue.parallel.{n}" for n in (
            "world", "rank", "world_size", "is_main", "is_distributed", "init_from_env",
            "leave", "session", "barrier", "block_ranges", "owned_blocks", "map_blocks",
            "sum_blocks", "broadcast_object", "average_gradients", "shared_seed",
            "check_block_size")], _PLUMBING_DIST),
}


def _public_objects() -> dict[str, object]:
    """``{"kexue.pkg.name": object}`` for every public function and class (constants left out)."""
    found: dict[str, object] = {}

    def visit(module_name: str, top_level: bool) -> None:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) and obj.__name__.startswith("kexue."):
                visit(obj.__name__, top_level=False)  # e.g. kexue.stochastic.closed_forms
            elif inspect.isroutine(obj) or inspect.isclass(obj):
                if top_level and getattr(obj, "__module__", module_name) != module_name:
                    continue  # a top-level module re-exporting another's name
                found.setdefault(f"{module_name}.{name}", obj)

    for package in PACKAGES:
        visit(f"kexue.{package}", top_level=False)
    for module in MODULES:
        visit(f"kexue.{module}", top_level=True)
    return found


PUBLIC = _public_objects()


def _own_doc(obj: object) -> str:
    doc = obj.__doc__ if not inspect.isclass(obj) else obj.__dict__.get("__doc__")
    doc = inspect.cleandoc(doc or "")
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and doc.startswith(
            f"{obj.__name__}("):
        return ""  # the signature dataclasses write when the class has no docstring
    return doc


def _module_doc(obj: object) -> str:
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    return (module.__doc__ or "") if module is not None else ""


def _cites(obj: object) -> bool:
    return bool(SOURCE.search(_own_doc(obj)) or SOURCE.search(_module_doc(obj)))


def _exempt_kind(obj: object) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseException)


@pytest.mark.parametrize("text", [
    "kexue.fm/archives/9209", "kexue.fm 6620", "(archive 3762, eq. (12))", "archives\n3750",
    "arXiv:2011.13456", "arXiv:1409.2329", "doi:10.1137/0720066", "Song et al. 2021",
    "Crank and Nicolson (1947)", "Kloeden & Platen, 1992", "LeCun et al. (1998)",
    "Rößler 2010", "Møller and Madsen (2010)",
])
def test_source_pattern_accepts_citations(text):
    assert SOURCE.search(text), text


@pytest.mark.parametrize("text", [
    "Euler–Maruyama step of the SDE.", "archive", "arXiv 2011", "shape (batch, 1024)",
    "kexue.fm", "float64 tensor of length 2", "see issue 15", "Returns x.",
])
def test_source_pattern_rejects_non_citations(text):
    assert not SOURCE.search(text), text


def test_public_surface_is_found():
    # a floor, so that a broken discovery cannot make the checks below pass vacuously
    assert len(PUBLIC) > 250
    for name in ("kexue.stochastic.solve", "kexue.stochastic.closed_forms.ou_mean",
                 "kexue.diffusion.sample", "kexue.onlstm.ONLSTM", "kexue.checkpoint.save"):
        assert name in PUBLIC, name


def test_every_public_name_has_a_docstring():
    missing = sorted(name for name, obj in PUBLIC.items() if not _own_doc(obj).strip())
    assert not missing, f"{len(missing)} public names without a docstring: {missing}"


def test_every_public_name_cites_its_source():
    uncited = sorted(name for name, obj in PUBLIC.items()
                     if name not in NO_SOURCE and not _exempt_kind(obj) and not _cites(obj))
    assert not uncited, (
        f"{len(uncited)} public names cite no source in their docstring or their module's "
        f"(kexue.fm archive, arXiv id, DOI or 'Author Year'); add the citation, or add the name "
        f"to NO_SOURCE with its reason if it is plumbing: {uncited}")


def test_no_source_list_is_honest_and_short():
    unknown = sorted(set(NO_SOURCE) - set(PUBLIC))
    assert not unknown, f"NO_SOURCE names that are not public (remove them): {unknown}"
    citing = sorted(name for name in NO_SOURCE if _cites(PUBLIC[name]))
    assert not citing, f"NO_SOURCE names that now cite a source (remove them): {citing}"
    assert all(reason.strip() for reason in NO_SOURCE.values())
    assert len(NO_SOURCE) <= 0.15 * len(PUBLIC), (len(NO_SOURCE), len(PUBLIC))
