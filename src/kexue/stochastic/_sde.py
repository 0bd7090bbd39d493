"""The SDE object: ``dx = f(t, x) dt + g(t, x) dW`` (Itô or Stratonovich), time-major, batched.

Su's thesis (kexue.fm archive 3762) writes the 1-D case as ``dx = p(x,t) dt + sqrt(alpha) dW``;
here ``f`` is the drift ``p`` and ``g`` the diffusion ``sqrt(alpha)``. Shapes follow the torchsde
convention: ``x`` is ``(batch, d)``; ``f(t, x)`` returns ``(batch, d)``; ``g(t, x)`` returns
something broadcastable to ``(batch, d)`` (a full ``(batch, d)`` tensor, or a 0-d / ``(d,)`` /
``(1, d)`` tensor when it does not depend on the path). ``noise="scalar"`` means one Brownian
motion per path shared by all components (``dW`` of shape ``(batch, 1)``). ``noise="general"``
means ``m`` Brownian motions mixed by a matrix: ``g(t, x)`` returns ``(batch, d, m)`` (or
``(1, d, m)``), ``m != d`` allowed, and ``g dW`` is the matrix–vector product.

``sde_type`` says how ``g dW`` is read. The two readings describe the same process when the
drifts differ by the Itô–Stratonovich correction (Kloeden & Platen 1992, eq. 4.9.6)::

    f_ito,i = f_strat,i + ½ Σ_j Σ_k g_kj ∂g_ij/∂x_k        (j over noise columns)

which is ``½ g ∂g/∂x`` componentwise for diagonal noise and zero for additive noise
(:func:`~kexue.stochastic.ito_stratonovich_correction`, with the conversions, in
:mod:`kexue.stochastic._ito_stratonovich`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["SDE", "NOISE_TYPES", "SDE_TYPES"]

NOISE_TYPES = ("diagonal", "additive", "scalar", "general")
SDE_TYPES = ("ito", "stratonovich")

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SDE:
    """An SDE ``dx = drift(t, x) dt + diffusion(t, x) dW`` (Itô, or Stratonovich ``∘ dW``).

    Source: Su's thesis, SDE chapter (kexue.fm archive 3762): ``dx = p(x, t) dt + sqrt(alpha) dW``
    is the 1-D case; Itô and Stratonovich as in Kloeden and Platen 1992.

    Args:
        drift: ``f(t, x) -> (batch, d)``; ``t`` is a 0-d tensor, ``x`` is ``(batch, d)``.
        diffusion: ``g(t, x)``; ``(batch, d)`` for diagonal noise (each component driven by its
            own Brownian motion), or anything broadcastable to ``(batch, d)`` for additive noise
            (``g`` independent of ``x``) and scalar noise; ``(batch, d, m)`` (or ``(1, d, m)``)
            for general noise.
        noise: ``"diagonal"`` (default: component ``i`` is driven by its own Brownian motion
            ``W_i`` with coefficient ``g_i`` depending on ``x_i`` only), ``"additive"`` (diagonal
            with ``g`` independent of ``x``; enables ``sra1`` and makes Euler strong order 1),
            ``"scalar"`` (one Brownian motion per path shared by all ``d`` components) or
            ``"general"`` (``diffusion`` returns a ``(batch, d, m)`` matrix — or ``(1, d, m)`` —
            multiplying ``m`` independent Brownian motions; ``m`` is read from the probe call).
        diffusion_dx: optional ``∂g/∂x (t, x) -> (batch, d)`` (elementwise, diagonal noise) used
            by Milstein; if absent it is computed with autograd.
        sde_type: ``"ito"`` (default) or ``"stratonovich"``: how ``g dW`` is read.
            :func:`~kexue.stochastic.solve` converts the drift with
            :func:`ito_stratonovich_correction` when the method reads the other calculus
            (e.g. ``euler`` on a Stratonovich SDE), so the solution always converges to the
            SDE as declared.

    Raises:
        TypeError: ``drift``/``diffusion``/``diffusion_dx`` not callable.
        ValueError: ``noise`` not one of ``NOISE_TYPES``, ``sde_type`` not one of
            ``SDE_TYPES``, or ``diffusion_dx`` with ``noise="general"``.
    """

    def __init__(self, drift: Fn, diffusion: Fn, *, noise: str = "diagonal",
                 diffusion_dx: Fn | None = None, sde_type: str = "ito") -> None:
        for name, fn in (("drift", drift), ("diffusion", diffusion)):
            if not callable(fn):
                raise TypeError(
                    f"{name} must be a callable f(t, x) -> tensor of shape (batch, d); "
                    f"got {type(fn).__name__}. Wrap constants as lambda t, x: c."
                )
        if diffusion_dx is not None and not callable(diffusion_dx):
            raise TypeError(
                f"diffusion_dx must be None or a callable (t, x) -> (batch, d); "
                f"got {type(diffusion_dx).__name__}"
            )
        if noise not in NOISE_TYPES:
            raise ValueError(
                f"noise must be one of {', '.join(NOISE_TYPES)}; got {noise!r}. "
                "Use 'additive' when the diffusion does not depend on x."
            )
        if sde_type not in SDE_TYPES:
            raise ValueError(
                f"sde_type must be one of {', '.join(SDE_TYPES)}; got {sde_type!r}."
            )
        if noise == "general" and diffusion_dx is not None:
            raise ValueError(
                "diffusion_dx is the elementwise ∂g_i/∂x_i of diagonal noise; with "
                "noise='general' leave it None (the Itô–Stratonovich correction uses autograd)."
            )
        self.sde_type = sde_type
        self.drift = drift
        self.diffusion = diffusion
        self.noise = noise
        self.diffusion_dx = diffusion_dx
        # (a, b, c, d) when built by SDE.linear: the solver's one-kernel-per-step path.
        self.linear_coefficients: tuple[torch.Tensor, ...] | None = None

    @classmethod
    def linear(cls, a: float | torch.Tensor = 0.0, b: float | torch.Tensor = 0.0,
               c: float | torch.Tensor = 0.0, d: float | torch.Tensor = 0.0) -> SDE:
        """The linear SDE ``dx = (a x + b) dt + (c x + d) dW`` with constant coefficients.

        Geometric Brownian motion is ``linear(a=μ, c=σ)``, Ornstein–Uhlenbeck
        ``linear(a=-θ, b=θμ, d=σ)``, Brownian motion with drift ``linear(b=μ, d=σ)``. Each
        coefficient is a number or a tensor broadcastable to ``(d,)`` (one value per component).
        The noise is ``"additive"`` when ``c == 0`` everywhere, else ``"diagonal"``.

        The result is an ordinary :class:`SDE` (every method and function accepts it), with
        ``∂g/∂x = c`` given for Milstein, and it records its coefficients: without autograd,
        :func:`~kexue.stochastic.solve` then runs Euler and Milstein as ``x ← M_k x + A_k``
        with ``M_k = 1 + a h + c ΔW_k (+ c² q_k)``, ``A_k = b h + d ΔW_k (+ c d q_k)``,
        ``q_k = (ΔW_k² − h)/2`` for Milstein, built for a whole chunk of steps at once: one fused
        kernel per step instead of two user calls and two updates. Same increments, same
        numbers up to rounding.

        Raises:
            TypeError: a coefficient that is neither a real number nor a floating tensor.
            ValueError: a non-finite coefficient, or one with more than one dimension.

        Examples:
            >>> from kexue.stochastic import SDE
            >>> gbm = SDE.linear(a=0.05, c=0.2)              # dx = 0.05 x dt + 0.2 x dW
            >>> gbm.noise
            'diagonal'
            >>> SDE.linear(a=-1.0, d=0.5).noise              # c == 0: additive noise
            'additive'
        """
        coefs = []
        for name, v in (("a", a), ("b", b), ("c", c), ("d", d)):
            if isinstance(v, bool) or not isinstance(v, (int, float, torch.Tensor)):
                raise TypeError(
                    f"{name} must be a real number or a tensor of shape () or (d,); got "
                    f"{type(v).__name__}. Pass e.g. SDE.linear(a=-1.0, d=0.5)."
                )
            t = torch.as_tensor(v, dtype=torch.float64) if not isinstance(v, torch.Tensor) else v
            if t.ndim > 1 or not bool(torch.isfinite(t).all()):
                raise ValueError(
                    f"{name} must be finite with shape () or (d,); got shape {tuple(t.shape)}"
                    f"{'' if bool(torch.isfinite(t).all()) else ' with non-finite values'}."
                )
            coefs.append(t)
        # the drift/diffusion closures keep the coefficients as given, so a coefficient that
        # requires grad gets gradients (solve then takes its autograd path, solve_adjoint its
        # parameters); the fused no-autograd path reads detached copies
        ca, cb, cc, cd = coefs
        additive = not bool((cc != 0).any())

        def cast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return v.to(dtype=x.dtype, device=x.device)

        def drift(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return torch.addcmul(cast(cb, x), x, cast(ca, x))

        def diffusion(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            if additive:
                return torch.broadcast_to(cast(cd, x), x.shape)
            return torch.addcmul(cast(cd, x), x, cast(cc, x))

        def diffusion_dx(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return torch.broadcast_to(cast(cc, x), x.shape)

        sde = cls(drift, diffusion, noise="additive" if additive else "diagonal",
                  diffusion_dx=diffusion_dx)
        sde.linear_coefficients = tuple(v.detach() for v in (ca, cb, cc, cd))
        return sde

    def f(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Drift ``(batch, d)``."""
        return self.drift(t, x)

    def g(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Diffusion, broadcastable to ``(batch, d)``."""
        return self.diffusion(t, x)

    def g_dx(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Elementwise ``∂g_i/∂x_i`` ``(batch, d)``: analytic if given, else autograd."""
        if self.diffusion_dx is not None:
            return self.diffusion_dx(t, x)
        if self.noise == "additive":
            return torch.zeros_like(x)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            gx = torch.broadcast_to(self.diffusion(t, xr), xr.shape)
            if not gx.requires_grad:                # g does not depend on x at all
                return torch.zeros_like(x)
            (grad,) = torch.autograd.grad(gx.sum(), xr, allow_unused=True)
        return torch.zeros_like(x) if grad is None else grad

    def g_and_g_dx(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g, ∂g/∂x)`` at ``(t, x)`` with one diffusion call (values detached from autograd).

        Used by the no-grad Milstein step: with autograd the diffusion is evaluated once and
        differentiated, instead of once for ``g`` and again inside :meth:`g_dx`.
        """
        if self.diffusion_dx is not None or self.noise == "additive":
            return self.diffusion(t, x), self.g_dx(t, x)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            gx = self.diffusion(t, xr)
            if not gx.requires_grad:                # g does not depend on x at all
                return gx, torch.zeros_like(x)
            (grad,) = torch.autograd.grad(torch.broadcast_to(gx, xr.shape).sum(), xr,
                                          allow_unused=True)
        return gx.detach(), torch.zeros_like(x) if grad is None else grad

    def noise_dim(self, d: int, g: torch.Tensor | None = None) -> int:
        """Number of independent Brownian components per path: ``d``, 1 for scalar noise, and
        ``g.shape[-1]`` for general noise (``g`` a diffusion value ``(batch, d, m)``)."""
        if self.noise == "general":
            if g is None:
                raise ValueError("noise='general': the number of Brownian motions m is read "
                                 "from a diffusion value; pass g = diffusion(t, x)")
            return int(g.shape[-1])
        return 1 if self.noise == "scalar" else d

    def probe(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Call drift and diffusion once at ``(t, x)`` and check them (the solvers' boundary check).

        Args:
            t: 0-d tensor (the start time).
            x: state ``(batch, d)``.

        Returns:
            ``(f, g)`` evaluated at ``(t, x)``.

        Raises:
            TypeError: drift, diffusion or ``diffusion_dx`` does not return a tensor.
            ValueError: a result not broadcastable to ``x.shape`` (without enlarging it; for
                ``diffusion_dx`` too, when given),
                non-finite values, a negative diffusion, or ``noise="additive"`` with a
                diffusion that depends on ``x``.
        """
        f = self.drift(t, x)
        g = self.diffusion(t, x)
        tval = float(t)
        if self.noise == "general":
            self._probe_general(g, x, tval)
        elif isinstance(g, torch.Tensor) and g.ndim == 3 and x.ndim == 2:
            raise ValueError(
                f"diffusion(t, x) returned a matrix of shape {tuple(g.shape)} but noise="
                f"{self.noise!r} expects shape (batch, d) = {tuple(x.shape)}. Declare "
                "noise='general' for (batch, d, m) diffusion matrices."
            )
        for name, v in (("drift", f), ("diffusion", g)):
            if name == "diffusion" and self.noise == "general":
                continue
            _check_state_shaped(name, v, x, tval, "a constant", "or something broadcastable to "
                                "it", "e.g. return -x rather than -x[:, 0]")
            if not bool(torch.isfinite(v).all()):
                raise ValueError(
                    f"{name}(t, x) returned non-finite values at t={tval:g} for the initial "
                    "state; check the formula and x0."
                )
        if self.noise != "general" and bool((g < 0).any()):
            raise ValueError(
                f"diffusion must be non-negative; got min {float(g.min()):g} at t={tval:g} "
                "for the initial state. Use abs() of the diffusion or flip the sign of g "
                "(the law of the solution depends only on g²)."
            )
        if self.diffusion_dx is not None:
            self._probe_diffusion_dx(t, x, tval)
        if self.noise == "additive" and self.diffusion_dx is None:
            g_shift = self.diffusion(t, x + 1.0)
            if isinstance(g_shift, torch.Tensor) and not torch.equal(
                    torch.broadcast_to(g_shift, x.shape), torch.broadcast_to(g, x.shape)):
                raise ValueError(
                    "noise='additive' declares a diffusion g(t) independent of x, but "
                    "diffusion(t0, x0) != diffusion(t0, x0 + 1). Declare noise='diagonal' "
                    "(and use euler, milstein or heun)."
                )
        return f, g

    def _probe_diffusion_dx(self, t: torch.Tensor, x: torch.Tensor, tval: float) -> None:
        """Check ``diffusion_dx(t, x)``: a tensor broadcastable to ``x.shape`` = ``(batch, d)``
        (the elementwise ``∂g_i/∂x_i`` Milstein multiplies with ``g``)."""
        _check_state_shaped("diffusion_dx", self.diffusion_dx(t, x), x, tval,
                            "a constant derivative",
                            "the elementwise ∂g_i/∂x_i, or something broadcastable to it", "")

    def _probe_general(self, g, x: torch.Tensor, tval: float) -> None:
        """Check a ``noise="general"`` diffusion value: a finite ``(batch or 1, d, m)`` tensor."""
        if not isinstance(g, torch.Tensor):
            raise TypeError(
                f"diffusion(t, x) must return a tensor of shape (batch, d, m) for noise="
                f"'general'; got {type(g).__name__}."
            )
        batch, d = x.shape
        if g.ndim != 3 or g.shape[1] != d or g.shape[0] not in (1, batch) or g.shape[2] < 1:
            raise ValueError(
                f"diffusion(t, x) must return shape (batch, d, m) = ({batch}, {d}, m) (or "
                f"(1, {d}, m)) for noise='general'; got {tuple(g.shape)} at t={tval:g}. "
                "Reshape it, e.g. sigma(x).view(batch, d, m); use noise='diagonal' for a "
                "(batch, d) diffusion."
            )
        if not bool(torch.isfinite(g).all()):
            raise ValueError(
                f"diffusion(t, x) returned non-finite values at t={tval:g} for the initial "
                "state; check the formula and x0."
            )

    def __repr__(self) -> str:
        if self.linear_coefficients is not None:
            a, b, c, d = (v.tolist() for v in self.linear_coefficients)
            return f"SDE.linear(a={a}, b={b}, c={c}, d={d})"
        typ = "" if self.sde_type == "ito" else f", sde_type={self.sde_type!r}"
        return (f"SDE(drift={self.drift!r}, diffusion={self.diffusion!r}, noise={self.noise!r}"
                f"{typ})")


def _check_state_shaped(name: str, v: object, x: torch.Tensor, tval: float, constant: str,
                        what: str, example: str) -> None:
    """``name(t, x)`` must return a tensor broadcastable to ``x.shape`` = ``(batch, d)``."""
    if not isinstance(v, torch.Tensor):
        raise TypeError(
            f"{name}(t, x) must return a tensor broadcastable to x.shape {tuple(x.shape)} = "
            f"(batch, d); got {type(v).__name__}. Return e.g. torch.full_like(x, c) for "
            f"{constant}."
        )
    try:
        shape = torch.broadcast_shapes(v.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"{name}(t, x) must return shape (batch, d) = {tuple(x.shape)} ({what}); got "
            f"{tuple(v.shape)} at t={tval:g}. Keep the trailing state dimension"
            f"{', ' + example if example else ''}."
        )
