"""Smooth surrogates of non-differentiable functions (kexue.fm 6620, "Function smoothing")."""

from ._max import smooth_max, smooth_min

__all__ = ["smooth_max", "smooth_min"]
