"""Fixed-step SDE schemes: Euler–Maruyama, Milstein, Stratonovich Heun and midpoint, SRA1.

Each method is a small object that declares its own theory (``strong_order``, ``weak_order``,
the SDE interpretation it integrates) and builds a per-step closure for
:func:`~kexue.stochastic.solve`.

References: Kloeden & Platen, *Numerical Solution of Stochastic Differential Equations*
(Springer 1992), §10.2 (Euler), §10.3 (Milstein), §11.1 (Heun-type schemes); Rößler, "Runge–Kutta
methods for the strong approximation of solutions of stochastic differential equations",
SIAM J. Numer. Anal. 48(3):922–952 (2010) (SRA1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._sde import SDE

__all__ = ["Method", "Euler", "Milstein", "StratonovichHeun", "StratonovichMidpoint", "SRA1",
           "METHODS", "get_method"]

Step = Callable[[int, torch.Tensor, tuple, "torch.Tensor | None"], torch.Tensor]


def _gdw(g: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
    """General noise: ``g dW`` for ``g (batch or 1, d, m)``, ``dW (batch, m)`` → ``(batch, d)``."""
    return torch.matmul(g, dw.unsqueeze(-1)).squeeze(-1)


class Method:
    """A fixed-step SDE scheme. Subclasses set the class attributes and ``make_step``.

    Source: Kloeden and Platen 1992, Numerical Solution of Stochastic Differential Equations.

    Attributes:
        name: the string accepted by ``solve(method=...)``.
        strong_order: strong (pathwise, ``E|X_N - X(T)|``) order for the noise types it supports.
        weak_order: weak order (error of ``E φ(X_N)`` for smooth ``φ``).
        interpretation: ``"ito"`` or ``"stratonovich"`` — how ``g dW`` is read.
        levy_area: whether the scheme needs ``dZ = ∫(W - W(t_k)) ds`` besides ``dW``.
    """

    name: str = ""
    strong_order: float = 0.0
    weak_order: float = 0.0
    interpretation: str = "ito"
    levy_area: bool = False

    def strong_order_for(self, sde: SDE) -> float:
        """The strong order on ``sde`` (some schemes gain an order for additive noise)."""
        return self.strong_order

    def check(self, sde: SDE, d: int) -> None:
        """Raise ``ValueError`` if the scheme does not apply to ``sde`` in dimension ``d``."""

    def noise_terms(self, dW: torch.Tensor, dZ: torch.Tensor | None,
                    h: torch.Tensor | float) -> tuple[torch.Tensor, ...]:
        """Per-chunk quantities, each ``(n_chunk, batch, m)``, from ``dW``/``dZ`` and steps ``h``
        (a float or ``(n_chunk, 1, 1)``); the step closure receives one slice of each."""
        return (dW,)

    def make_step(self, sde: SDE, t: Sequence[torch.Tensor], h: Sequence[float], *,
                  like: torch.Tensor, inplace: bool) -> Step:
        """Build ``step(k, x, noise_k, out) -> x_next`` for step ``k`` (``t[k] -> t[k+1]``).

        With ``inplace`` the result is written into ``out`` (never aliasing ``x``) and returned;
        otherwise ``out`` is ``None`` and a new tensor is returned (autograd-safe).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, strong_order={self.strong_order}, "
                f"weak_order={self.weak_order}, interpretation={self.interpretation!r})")


class Euler(Method):
    """Euler–Maruyama: ``x + f(t, x) h + g(t, x) ΔW`` (Kloeden & Platen 1992, §10.2).

    Itô. Strong order 0.5 in general and 1.0 for additive noise; weak order 1.0.
    """

    name = "euler"
    strong_order = 0.5
    weak_order = 1.0

    def strong_order_for(self, sde: SDE) -> float:
        return 1.0 if sde.noise == "additive" else 0.5

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        if sde.noise == "general":
            if not inplace:
                def step_g(k, x, nk, out):
                    tk = t[k]
                    return x + f(tk, x) * h[k] + _gdw(g(tk, x), nk[0])
                return step_g

            def step_g_(k, x, nk, out):
                tk = t[k]
                fx = f(tk, x)
                torch.add(x, _gdw(g(tk, x), nk[0]), out=out)           # out = x + g ΔW
                return out.add_(fx, alpha=h[k])                          # out += f h
            return step_g_
        if not inplace:
            def step(k, x, nk, out):
                tk = t[k]
                return x + f(tk, x) * h[k] + g(tk, x) * nk[0]
            return step

        def step_(k, x, nk, out):
            tk = t[k]
            fx = f(tk, x)
            torch.addcmul(x, g(tk, x), nk[0], out=out)         # out = x + g ΔW
            return out.add_(fx, alpha=h[k])                      # out += f h
        return step_


class Milstein(Method):
    """Itô Milstein: ``x + f h + g ΔW + ½ g ∂g/∂x (ΔW² - h)`` (Kloeden & Platen 1992, §10.3).

    Diagonal noise (componentwise; ``g_i`` depends on ``x_i`` only), additive noise (where it
    equals Euler) or scalar noise with ``d == 1``. ``∂g/∂x`` comes from ``sde.diffusion_dx`` or
    autograd (``SDE.g_dx``). Strong order 1.0, weak order 1.0.
    """

    name = "milstein"
    strong_order = 1.0
    weak_order = 1.0

    def check(self, sde: SDE, d: int) -> None:
        if sde.noise == "general":
            raise ValueError(
                "method 'milstein' does not support noise='general': non-commutative noise "
                "needs the Lévy areas ∫W_i dW_j. Use method='euler' (Itô) or 'heun'/'midpoint' "
                "(Stratonovich; solve converts the drift), strong order 0.5."
            )
        if sde.noise == "scalar" and d != 1:
            raise ValueError(
                f"method 'milstein' supports scalar noise only for d == 1 (got d={d}): the "
                "correction g·∇g couples components. Use method='heun' on the Stratonovich form "
                "(ito_to_stratonovich needs d == 1 too) or method='euler'."
            )

    def noise_terms(self, dW, dZ, h):
        return dW, (dW * dW).sub_(h).mul_(0.5)                  # (n, batch, m) each

    def make_step(self, sde, t, h, *, like, inplace):
        if sde.noise == "additive":
            return Euler().make_step(sde, t, h, like=like, inplace=inplace)
        f, g, gdx, g_and_gdx = sde.drift, sde.diffusion, sde.g_dx, sde.g_and_g_dx
        if not inplace:
            def step(k, x, nk, out):
                tk = t[k]
                gx = g(tk, x)
                return x + f(tk, x) * h[k] + gx * nk[0] + gx * gdx(tk, x) * nk[1]
            return step

        def step_(k, x, nk, out):
            tk = t[k]
            fx = f(tk, x)
            gx, dgx = g_and_gdx(tk, x)
            noise = torch.addcmul(nk[0], dgx, nk[1])             # ΔW + g' (ΔW² - h)/2
            torch.addcmul(x, gx, noise, out=out)                 # x + g ΔW + ½ g g' (ΔW² - h)
            return out.add_(fx, alpha=h[k])                      # + f h
        return step_


class StratonovichHeun(Method):
    """Stratonovich Heun (predictor–corrector trapezoidal rule; Kloeden & Platen 1992, §11.1):

    ``x̃ = x + f(t, x) h + g(t, x) ΔW``,
    ``x' = x + ½[f(t, x) + f(t+h, x̃)] h + ½[g(t, x) + g(t+h, x̃)] ΔW``.

    It integrates the SDE in the **Stratonovich** sense ``dx = f dt + g ∘ dW``: applied to the
    coefficients of an Itô SDE it converges to a different process unless the noise is additive.
    :func:`solve` converts an Itô SDE first (:func:`kexue.stochastic.ito_to_stratonovich`, drift
    ``f - ½ g ∂g/∂x``). Strong order 1.0 for commutative noise (diagonal, scalar, additive), 0.5
    for general noise; weak order 1.0.
    """

    name = "heun"
    strong_order = 1.0
    weak_order = 1.0
    interpretation = "stratonovich"

    def strong_order_for(self, sde: SDE) -> float:
        return 0.5 if sde.noise == "general" else 1.0

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        if sde.noise == "general":
            def step_g(k, x, nk, out):
                tk, tn, hk, dw = t[k], t[k + 1], h[k], nk[0]
                fx, gx = f(tk, x), g(tk, x)
                xp = x + fx * hk + _gdw(gx, dw)
                y = x + (fx + f(tn, xp)) * (0.5 * hk) + _gdw(gx + g(tn, xp), dw) * 0.5
                return y if out is None else out.copy_(y)
            return step_g
        if not inplace:
            def step(k, x, nk, out):
                tk, tn, hk, dw = t[k], t[k + 1], h[k], nk[0]
                fx, gx = f(tk, x), g(tk, x)
                xp = x + fx * hk + gx * dw
                return x + (fx + f(tn, xp)) * (0.5 * hk) + (gx + g(tn, xp)) * (0.5 * dw)
            return step

        def step_(k, x, nk, out):
            tk, tn, hk, dw = t[k], t[k + 1], h[k], nk[0]
            fx = f(tk, x)
            gx = g(tk, x)
            torch.addcmul(x, gx, dw, out=out).add_(fx, alpha=hk)   # predictor x̃ in out
            gs = gx + g(tn, out)                                     # consumed before out is
            fs = fx + f(tn, out)                                     # overwritten below
            torch.addcmul(x, gs, dw, value=0.5, out=out)
            return out.add_(fs, alpha=0.5 * hk)
        return step_


class StratonovichMidpoint(Method):
    """Stratonovich midpoint rule (Kloeden & Platen 1992, §11.1; torchsde's ``midpoint``):

    ``x̃ = x + ½ f(t, x) h + ½ g(t, x) ΔW``,  ``x' = x + f(t + h/2, x̃) h + g(t + h/2, x̃) ΔW``.

    Stratonovich, like :class:`StratonovichHeun` (``solve`` converts an Itô SDE first). Strong
    order 1.0 for commutative noise (diagonal, scalar, additive), 0.5 for general noise; weak
    order 1.0. Every noise type.
    """

    name = "midpoint"
    strong_order = 1.0
    weak_order = 1.0
    interpretation = "stratonovich"

    def strong_order_for(self, sde: SDE) -> float:
        return 0.5 if sde.noise == "general" else 1.0

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        t_all = torch.stack(list(t))
        hs = torch.as_tensor(h, dtype=t_all.dtype, device=t_all.device)
        tm = list((t_all[:-1] + 0.5 * hs).unbind(0))                # midpoint times
        gdw = _gdw if sde.noise == "general" else torch.mul

        def step(k, x, nk, out):
            tk, hk, dw = t[k], h[k], nk[0]
            xm = x + f(tk, x) * (0.5 * hk) + gdw(g(tk, x), dw) * 0.5
            y = x + f(tm[k], xm) * hk + gdw(g(tm[k], xm), dw)
            if out is None:
                return y
            return out.copy_(y)
        return step


class SRA1(Method):
    """Rößler's SRA1 for additive noise, strong order 1.5 (Rößler 2010, SIAM J. Numer. Anal.
    48(3), Table 5.1). With ``I10 = ∫(W - W(t)) ds`` (``dZ``) over the step:

    ``H2 = x + ¾ f(t, x) h + (3/2) g(t+h) I10/h``,
    ``x' = x + [⅓ f(t, x) + ⅔ f(t + ¾h, H2)] h + g(t+h) (ΔW - I10/h) + g(t) I10/h``.

    Itô (= Stratonovich for additive noise). Requires ``noise="additive"``; ``(ΔW, I10)`` are
    drawn exactly as correlated Gaussians. Strong order 1.5, weak order 2.0 (deterministic
    order 2).
    """

    name = "sra1"
    strong_order = 1.5
    weak_order = 2.0
    levy_area = True

    def check(self, sde: SDE, d: int) -> None:
        if sde.noise != "additive":
            raise ValueError(
                f"method 'sra1' needs additive noise (diffusion g(t) independent of x); the SDE "
                f"has noise={sde.noise!r}. Use method='milstein' or 'euler', or build the SDE "
                "with noise='additive' if g does not depend on x."
            )

    def noise_terms(self, dW, dZ, h):
        return dW, dZ / h                                       # (n, batch, m) each

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        t_all = torch.stack(list(t))
        hs = torch.as_tensor(h, dtype=t_all.dtype, device=t_all.device)
        t34 = list((t_all[:-1] + 0.75 * hs).unbind(0))          # stage-2 drift times
        cache: list = [-1, None]                                 # g(t[k]) from the last step
        scratch = torch.empty_like(like) if inplace else None

        def g_pair(k, x):
            g0 = cache[1] if cache[0] == k else g(t[k], x)
            g1 = g(t[k + 1], x)
            cache[0], cache[1] = k + 1, g1
            return g0, g1

        if not inplace:
            def step(k, x, nk, out):
                hk, (dw, zh) = h[k], nk
                g0, g1 = g_pair(k, x)
                f1 = f(t[k], x)
                h2 = x + f1 * (0.75 * hk) + g1 * (1.5 * zh)
                f2 = f(t34[k], h2)
                return x + (f1 + 2.0 * f2) * (hk / 3.0) + g1 * (dw - zh) + g0 * zh
            return step

        def step_(k, x, nk, out):
            hk, (dw, zh) = h[k], nk
            g0, g1 = g_pair(k, x)
            f1 = f(t[k], x)
            torch.addcmul(x, g1, zh, value=1.5, out=scratch).add_(f1, alpha=0.75 * hk)  # H2
            f2 = f(t34[k], scratch)
            torch.addcmul(x, g1, dw, out=out)                    # x + g(t+h) ΔW
            out.addcmul_(g0 - g1, zh)                            # + (g(t) - g(t+h)) I10/h
            out.add_(f1, alpha=hk / 3.0)
            return out.add_(f2, alpha=2.0 * hk / 3.0)
        return step_


METHODS: dict[str, Method] = {m.name: m for m in (Euler(), Milstein(), StratonovichHeun(), SRA1(),
                                                   StratonovichMidpoint())}


def get_method(method: str | Method) -> Method:
    """The :class:`Method` for a name in ``METHODS`` (or the instance itself).

    Raises:
        ValueError: unknown name (the message lists the accepted ones).
        TypeError: neither a string nor a ``Method``.
    """
    if isinstance(method, Method):
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a string or a Method; got {type(method).__name__}")
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(
            f"unknown method {method!r}; accepted: {', '.join(METHODS)}"
        ) from None
