"""Heterogeneous curvatures: the intermediate manifold between a text and a point cloud hyperbolic space.

Source: Wu et al., "Modality Alignment across Trees on Heterogeneous Hyperbolic Manifolds" (arXiv 2510.27391), as
implemented in the authors' public code. Each modality lives on its own Lorentz model (text on curvature ``-c_t``,
point clouds on ``-c_p``); the two are compared on an intermediate manifold of curvature ``-c3*`` chosen to minimise
the sum of the two "KL distances"

    D(c3; c, r) = [-sqrt(c) + 2 sqrt(c3) cosh((sqrt(c3) - sqrt(c)) r)] / (2 sqrt(c) c3)

between the manifold ``c3`` and a modality's manifold ``c`` whose tree nodes lie at radius ``r`` from the origin.
This is the authors' code's form. The printed paper's denominator ``2 sqrt(c c3)`` contradicts its own Proposition 1
(that ``D`` is minimised at ``c3 = c``): with it ``dD/dc3 = 1/(4 c^{3/2}) != 0`` at ``c3 = c``. With the code's form
``dD/dc3 = 0`` at ``c3 = c`` and ``d2D/ds2 = r^2/c - 1/c^2`` (``s = sqrt(c3)``), a minimum as soon as
``r > 1/sqrt(c)``; :func:`rescale_radii` keeps both radii at or above that threshold. ``D`` is not convex on the whole
half-line (it tends to ``-inf`` as ``c3 -> 0``), so the search is confined to :func:`search_interval`.

The minimiser ``c3* = argmin_{c3 in [lo, hi]} D(c3; c_p, r_p) + D(c3; c_t, r_t)`` is found by golden-section search
without a graph; its gradient comes from the implicit function theorem (:class:`IntermediateCurvature`). Points are
moved between manifolds through the tangent space at the origin (:func:`transfer`), all with the formulas of
:mod:`hyperalign.geometry.lorentz`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from hyperalign.geometry import lorentz

__all__ = [
    "curvature_discrepancy",
    "total_discrepancy",
    "rescale_radii",
    "search_interval",
    "golden_section",
    "IntermediateCurvature",
    "intermediate_curvature",
    "transfer",
]

_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # 1/phi, the golden-section shrink factor per step
# Bounds of the raw radius ratio r_p / r_t. The rescaled radii reach (ratio / sqrt(c)); with curvatures within a
# factor 100 of each other the cosh argument in D stays below ~500 over the search interval, under float64's
# overflow at 710. Real batch ratios are O(1).
_RATIO_BOUNDS = (1.0 / 50.0, 50.0)


def curvature_discrepancy(c3: Tensor | float, c: Tensor | float, r: Tensor | float) -> Tensor:
    """``D(c3; c, r) = [-sqrt(c) + 2 sqrt(c3) cosh((sqrt(c3) - sqrt(c)) r)] / (2 sqrt(c) c3)`` (authors' code).

    ``c3, c > 0`` curvature magnitudes, ``r >= 0`` a radius; tensors broadcast. Minimised over ``c3`` at ``c3 = c``
    when ``r > 1/sqrt(c)``.
    """
    c3, c, r = (torch.as_tensor(v, dtype=torch.float64) if not torch.is_tensor(v) else v for v in (c3, c, r))
    s3, s = c3.sqrt(), c.sqrt()
    return (-s + 2.0 * s3 * torch.cosh((s3 - s) * r)) / (2.0 * s * c3)


def total_discrepancy(c3: Tensor | float, c_p: Tensor, c_t: Tensor, r_p: Tensor, r_t: Tensor) -> Tensor:
    """``D(c3; c_p, r_p) + D(c3; c_t, r_t)``, the objective whose minimiser is the intermediate curvature."""
    return curvature_discrepancy(c3, c_p, r_p) + curvature_discrepancy(c3, c_t, r_t)


def rescale_radii(r_p: Tensor, r_t: Tensor, c_p: Tensor, c_t: Tensor) -> tuple[Tensor, Tensor]:
    """Rescale raw radii as the authors' code does, keeping their ratio:

    ``r_p' = max(1/sqrt(c_p), (r_p / r_t) / sqrt(c_t))``, ``r_t' = r_p' r_t / r_p``. Then ``r_p' >= 1/sqrt(c_p)``
    and ``r_t' >= 1/sqrt(c_t)``, so each ``D`` term has its minimum at its own curvature. The ratio is clamped to
    [1/50, 50] (see ``_RATIO_BOUNDS``). Everything here is detached: the radii are batch statistics, constants for
    the curvature gradient.
    """
    r_p, r_t, c_p, c_t = (v.detach().double() for v in (r_p, r_t, c_p, c_t))
    tiny = torch.finfo(torch.float64).tiny
    ratio = (r_p / r_t.clamp_min(tiny)).clamp(*_RATIO_BOUNDS)
    new_p = torch.maximum(c_p.rsqrt(), ratio / c_t.sqrt())
    return new_p, new_p / ratio


def search_interval(c_p: Tensor | float, c_t: Tensor | float) -> tuple[float, float]:
    """``[0.9 min(c_p, c_t), 1.1 max(c_p, c_t)]``, the interval searched for ``c3*`` (authors' code)."""
    lo, hi = sorted((float(c_p), float(c_t)))
    return 0.9 * lo, 1.1 * hi


def golden_section(
    f: Callable[[float], Tensor | float], lo: float, hi: float, tol: float = 1e-6, max_iter: int = 100
) -> float:
    """Minimiser of a unimodal ``f`` on ``[lo, hi]`` by golden-section search.

    The bracket shrinks by ``1/phi`` per step, one new evaluation each, until its width is at most ``tol`` or after
    ``max_iter`` steps; returns the bracket's midpoint (within ``tol/2`` of the minimiser for unimodal ``f``). ``f``
    may return a Python float or a 0-d CPU tensor (compared as is, never converted).
    """
    if not lo < hi:
        raise ValueError(f"golden_section: expected lo < hi, got [{lo}, {hi}]")
    a, b = lo, hi
    x1, x2 = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    f1, f2 = f(x1), f(x2)
    for _ in range(max_iter):
        if b - a <= tol:
            break
        if f1 <= f2:  # the minimiser lies in [a, x2]
            b, x2, f2 = x2, x1, f1
            x1 = b - _INV_PHI * (b - a)
            f1 = f(x1)
        else:  # in [x1, b]
            a, x1, f1 = x1, x2, f2
            x2 = a + _INV_PHI * (b - a)
            f2 = f(x2)
    return 0.5 * (a + b)


class IntermediateCurvature(torch.autograd.Function):
    """``c3* = argmin_{c3 in [lo, hi]} D(c3; c_p, r_p) + D(c3; c_t, r_t)`` with implicit-function gradients.

    Forward: golden-section search in float64 on :func:`search_interval`, no graph, on CPU scalars (the four inputs
    are copied to the host once per call). Backward, with
    ``F(c3; c_p, c_t) = dD_total/dc3`` (zero at an interior minimiser): ``dc3*/dc_k = -(dF/dc_k) / (dF/dc3)``, the
    second derivatives taken by autograd in float64. A minimiser on the interval boundary (within ``tol``) is snapped
    to it, and its gradient is the bound's own: 0.9 to the smaller curvature at ``lo``, 1.1 to the larger at ``hi``
    (the authors' code passes 1 there and, in its fallback branch, uses one curvature for both bounds; we pass the
    derivative of the returned value, so finite differences agree everywhere). A degenerate minimum
    (``dF/dc3 <= 0``) passes no gradient. The radii get none (they are detached batch statistics).
    """

    @staticmethod
    def forward(ctx, c_p: Tensor, c_t: Tensor, r_p: Tensor, r_t: Tensor, tol: float, max_iter: int) -> Tensor:
        cp, ct, rp, rt = torch.stack([v.detach().double() for v in (c_p, c_t, r_p, r_t)]).cpu().unbind()
        lo, hi = search_interval(cp, ct)
        with torch.no_grad():
            c3 = golden_section(lambda x: total_discrepancy(x, cp, ct, rp, rt), lo, hi, tol, max_iter)
        side = "lo" if c3 - lo <= tol else "hi" if hi - c3 <= tol else "interior"
        c3 = {"lo": lo, "hi": hi}.get(side, c3)
        ctx.save_for_backward(cp, ct, rp, rt)
        ctx.c3, ctx.side = c3, side
        return torch.tensor(c3, dtype=c_p.dtype, device=c_p.device)

    @staticmethod
    def backward(ctx, grad: Tensor):
        cp, ct, rp, rt = ctx.saved_tensors
        if ctx.side != "interior":
            smaller_is_p = bool(cp <= ct)
            factor, to_p = (0.9, smaller_is_p) if ctx.side == "lo" else (1.1, not smaller_is_p)
            d_p, d_t = (factor, 0.0) if to_p else (0.0, factor)
        else:
            with torch.enable_grad():
                c3 = torch.tensor(ctx.c3, dtype=torch.float64, requires_grad=True)
                cp_, ct_ = cp.clone().requires_grad_(), ct.clone().requires_grad_()
                (F,) = torch.autograd.grad(total_discrepancy(c3, cp_, ct_, rp, rt), c3, create_graph=True)
                F_c3, F_p, F_t = torch.autograd.grad(F, (c3, cp_, ct_))
            if float(F_c3) <= 0.0:
                d_p = d_t = 0.0
            else:
                d_p, d_t = float(-F_p / F_c3), float(-F_t / F_c3)
        return grad * d_p, grad * d_t, None, None, None, None


def intermediate_curvature(
    c_p: Tensor, c_t: Tensor, r_p: Tensor, r_t: Tensor, tol: float = 1e-6, max_iter: int = 100
) -> Tensor:
    """The intermediate curvature ``c3*`` (0-d tensor of ``c_p``'s dtype) for curvatures ``c_p``, ``c_t`` (0-d, may
    require grad) and **already rescaled** radii ``r_p``, ``r_t`` (:func:`rescale_radii`); see
    :class:`IntermediateCurvature`."""
    return IntermediateCurvature.apply(c_p, c_t, r_p, r_t, tol, max_iter)


def transfer(x: Tensor, c_from: Tensor | float, c_to: Tensor | float) -> Tensor:
    """Move points (space parts, (..., n)) from curvature ``-c_from`` to ``-c_to`` through the origin's tangent space.

    ``expmap0(logmap0(x, c_from), c_to)``: distances from the origin and directions are kept (the tangent vector is
    shared); exact inverse of the transfer back.
    """
    return lorentz.expmap0(lorentz.logmap0(x, c_from), c_to)
