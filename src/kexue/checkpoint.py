"""Checkpoints: safetensors with JSON metadata, written atomically, never unpickled.

``save(path, tensors, meta)`` writes one ``.safetensors`` file whose header carries ``meta`` as a
JSON string (key ``"kexue_meta"``). It writes a temporary file in the same directory, fsyncs it and
``os.replace``-s it over ``path``, so a crash mid-write leaves the previous checkpoint intact.
``load(path)`` reads only that format (safetensors never executes code, unlike ``torch.load`` of
a pickle). Training loops use these for exact resume (model, optimiser state, RNG state, step).

Integrity (verified on every load):

* ``save`` stores, under the header key ``"kexue_sha256"``, the SHA-256 of the metadata string
  and of every tensor (its name, dtype, shape and bytes; see :func:`tensor_digest`). ``load``
  recomputes them and raises :class:`CorruptCheckpoint` (a ``ValueError``) naming the file and
  the first tensor that differs — a flipped byte anywhere in the data or the metadata is caught.
  A file written before checksums existed (no such key) loads with a
  :class:`UnverifiedCheckpointWarning`; re-save it to add the checksums.
* ``save`` refuses, and ``load`` refuses, NaN/inf in any floating tensor (parameters *and*
  optimiser state) except those whose name starts with a prefix of ``allow_nonfinite``
  (default ``("history/",)``: recorded metric curves): :class:`NonFiniteCheckpoint` (a
  ``ValueError``) names the tensors. A refused save writes nothing, so the previous file stays.
* ``load`` requires the metadata to be a JSON object with string keys; :func:`validate_meta`
  checks it against a schema (types, ranges, no missing or extra keys) and
  :func:`build_module` builds a network on PyTorch's ``meta`` device first, so a size recorded
  in the metadata that does not match the stored weights is refused before any memory is
  allocated.
* The trainers' loaders (``kexue.gan.load_gan``, ``kexue.diffusion.load_score_model``,
  ``kexue.onlstm.load_model`` / ``Trainer.load``, ``kexue.metrics.load_classifier``) validate
  their metadata with :func:`validate_meta` / :func:`validate_spec` right after :func:`load`.
  One rule for unknown keys: the objects a network is built from (network specs, the ON-LSTM
  ``config``, the SDE spec) refuse them; unknown *top-level* keys are free user metadata and
  are ignored. Every error is one line naming the file and the field.
* One resume rule (:func:`resume_engine`, used by every trainer): the training configuration
  must equal the checkpoint's, field by field, except :data:`SAFE_OVERRIDES` (the learning
  rate), which the resumed run takes from its own settings.
* Temporary files left by a save that was killed (``.NAME.*.tmp`` beside ``NAME``) are removed
  by the next save of the same path (one writer per path).
"""

from __future__ import annotations

from ._checkpoint_io import (
    DIGEST_KEY,
    HISTORY_PREFIXES,  # noqa: F401  (kexue.checkpoint.HISTORY_PREFIXES, not in __all__)
    META_KEY,
    CorruptCheckpoint,
    NonFiniteCheckpoint,
    UnverifiedCheckpointWarning,
    build_module,
    fingerprint,
    load,
    load_module,
    save,
    tensor_digest,
)
from ._checkpoint_resume import SAFE_OVERRIDES, check_engine_meta, check_resume, resume_engine
from ._checkpoint_schema import DTYPE_NAMES, Field, dtype_from_name, validate_meta, validate_spec
from ._homes import claim_home

__all__ = ["save", "load", "load_module", "build_module", "fingerprint", "check_resume",
           "validate_meta", "tensor_digest", "META_KEY", "DIGEST_KEY", "CorruptCheckpoint",
           "NonFiniteCheckpoint", "UnverifiedCheckpointWarning", "Field", "validate_spec",
           "resume_engine", "check_engine_meta", "SAFE_OVERRIDES", "DTYPE_NAMES", "dtype_from_name"]

# The names live in private modules by concept (_checkpoint_io: the file format and its integrity;
# _checkpoint_schema: metadata schemas; _checkpoint_resume: the resume rule). Their public home is
# this module: functions and classes report it as their __module__ (tracebacks, repr, pickling).
claim_home(globals(), __all__, __name__)
