"""The Lorentz (hyperboloid) model: the one home of every hyperbolic formula in hyperalign.

Representation (used everywhere in the package):

* The hyperboloid of curvature ``-c`` (``c > 0``) is ``{x in R^{n+1} : <x, x>_L = -1/c, x_0 > 0}`` with the
  Minkowski inner product ``<x, y>_L = -x_0 y_0 + sum_i x_i y_i``. The origin is ``(1/sqrt(c), 0, ..., 0)``.
* Functions take and return **space components only** (the last axis, size ``n``), as MERU does; the time component is
  derived, ``x_0 = sqrt(1/c + ||x~||^2)`` (:func:`time_component`). Points are therefore always exactly on the
  hyperboloid; nothing drifts off it.
* Where full ambient coordinates are needed (projection, search indexes) they are **time-first**: ``[x_0, x~]``
  (:func:`lift`, :func:`project`, :func:`mips_query`, :func:`mips_database`).
* Tangent vectors at the origin are space-only too (their time component is 0).
* ``c`` is a tensor (learnable), a Python float is accepted; it broadcasts against the batch dimensions.

Dtypes: half-precision inputs (float16, bfloat16) are promoted to float32 before any hyperbolic arithmetic; float32
and float64 are kept. Every clamp below is derived from ``torch.finfo`` of the working dtype, with a comment on what
it prevents.

Sources: Nickel & Kiela, "Learning Continuous Hierarchies in the Lorentz Model" (ICML 2018) for the model;
Desai et al., "Hyperbolic Image-Text Representations" (MERU, ICML 2023), Sec. 3 and Eqs. 1-8 for the exponential map,
distance, half-aperture and exterior angle; Ganea et al., "Hyperbolic Entailment Cones" (ICML 2018) for cones;
H2ARN (AAAI 2026), Eqs. 5-12, which uses the same formulas.
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

__all__ = [
    "as_float",
    "check_curvature_tensors",
    "curvature_tensor",
    "time_component",
    "inner",
    "lift",
    "project",
    "expmap0",
    "logmap0",
    "dist",
    "pairwise_inner",
    "pairwise_dist",
    "dist0",
    "half_aperture",
    "exterior_angle",
    "to_poincare",
    "mips_query",
    "mips_database",
    "sinh_cap",
]


def as_float(x: Tensor) -> Tensor:
    """Promote half-precision tensors to float32; float32 and float64 pass through unchanged.

    Hyperbolic arithmetic (sinh, acosh, differences of large times) is not meaningful in 10 or 7 mantissa bits.
    """
    if not torch.is_floating_point(x):
        raise TypeError(f"expected a floating-point tensor, got dtype {x.dtype}")
    if x.dtype in (torch.float16, torch.bfloat16):
        return x.float()
    return x


_CHECK_CURVATURE_TENSORS = os.environ.get("HYPERALIGN_CHECK_CURVATURE", "0") not in ("", "0")


def check_curvature_tensors(enabled: bool) -> bool:
    """Turn the per-call validation of curvature *tensors* on or off (debugging); returns the previous setting.

    Off by default: a check reads the tensor on the host (a device synchronisation) on every call, and nested calls
    would repeat it. The curvatures the package passes are valid by construction
    (:class:`~hyperalign.model.scalars.BoundedLogScalar` is ``exp`` of a clamp between validated positive bounds;
    indexes validate theirs when built). The environment variable ``HYPERALIGN_CHECK_CURVATURE=1`` turns it on at
    import.
    """
    global _CHECK_CURVATURE_TENSORS
    previous, _CHECK_CURVATURE_TENSORS = _CHECK_CURVATURE_TENSORS, bool(enabled)
    return previous


def _invalid_curvature(c: object) -> ValueError:
    return ValueError(f"curvature c must be finite and > 0 (the space has curvature -c); got {c}")


def curvature_tensor(c: Tensor | float, like: Tensor) -> Tensor:
    """``c`` as a tensor of ``like``'s dtype and device.

    A Python number is checked on every call (finite and > 0: no device involved). A tensor is checked only while
    :func:`check_curvature_tensors` is on (every value finite and > 0), since the check synchronises with the device.
    """
    if not torch.is_tensor(c):
        if not (math.isfinite(c) and c > 0):
            raise _invalid_curvature(c)
        return torch.as_tensor(c, dtype=like.dtype, device=like.device)
    c_t = c.to(dtype=like.dtype, device=like.device)
    if _CHECK_CURVATURE_TENSORS and not torch.jit.is_tracing() and c_t.numel() > 0:
        if not bool(torch.isfinite(c_t).all()) or not bool((c_t > 0).all()):
            raise _invalid_curvature(c_t.detach().cpu())
    return c_t


def _prepare(x: Tensor, c: Tensor | float) -> tuple[Tensor, Tensor]:
    x = as_float(x)
    return x, curvature_tensor(c, x)


def _tiny(x: Tensor) -> float:
    # Smallest positive normal number of the dtype: a floor for squared norms so sqrt() and its gradient stay finite.
    return torch.finfo(x.dtype).tiny


def _eps(x: Tensor) -> float:
    return torch.finfo(x.dtype).eps


def _safe_norm(x: Tensor, keepdim: bool = False) -> Tensor:
    """Euclidean norm over the last axis, floored at sqrt(tiny) so that 1/||x|| and the gradient at 0 are finite.

    Below the floor the gradient is zero (clamp), which is the right sub-gradient at the origin.
    """
    sq = (x * x).sum(dim=-1, keepdim=keepdim)
    return sq.clamp_min(_tiny(x)).sqrt()


def sinh_cap(dtype: torch.dtype) -> float:
    """Largest sinh argument ``u`` used by :func:`expmap0` for ``dtype``.

    ``expmap0`` produces space norms ``sinh(u)/sqrt(c)`` whose squares are summed and multiplied by c again in
    :func:`inner` and :func:`time_component`; ``sinh(u)^2 ~ e^{2u}/4`` must stay a factor 1e6 below ``finfo.max``
    so that those sums and products do not overflow. float32: u <= 38.1 (distance from the origin up to 38.1/sqrt(c));
    float64: u <= 348.6. MERU caps at asinh(2^15) ~ 11.1, which would make points farther than 11/sqrt(c) from the
    origin unreachable; this cap only prevents overflow.
    """
    return 0.5 * (math.log(torch.finfo(dtype).max) - math.log(1e6) + math.log(4.0))


def time_component(x: Tensor, c: Tensor | float) -> Tensor:
    """Time component of hyperboloid points given by their space part.

    ``x_0 = sqrt(1/c + ||x~||^2)`` (MERU Eq. 3). Shapes: ``x`` (..., n), ``c`` broadcastable to (...); returns (...).
    """
    x, c = _prepare(x, c)
    return torch.sqrt(1.0 / c + (x * x).sum(dim=-1))


def inner(x: Tensor, y: Tensor, c: Tensor | float) -> Tensor:
    """Minkowski inner product ``<x, y>_L = <x~, y~> - x_0 y_0`` of hyperboloid points (space parts ``x``, ``y``).

    Shapes broadcast: (..., n) and (..., n) -> (...). Always <= -1/c; equal to -1/c iff x == y.
    """
    x, c = _prepare(x, c)
    y = as_float(y).to(x.dtype)
    return (x * y).sum(dim=-1) - time_component(x, c) * time_component(y, c)


def lift(x: Tensor, c: Tensor | float) -> Tensor:
    """Full time-first ambient coordinates ``[x_0, x~]`` of the point with space part ``x``; (..., n) -> (..., n+1)."""
    x, c = _prepare(x, c)
    return torch.cat([time_component(x, c).unsqueeze(-1), x], dim=-1)


def project(x_full: Tensor, c: Tensor | float) -> Tensor:
    """Project ambient time-first vectors onto the hyperboloid: keep the space part, recompute ``x_0``.

    ``proj(x) = [sqrt(1/c + ||x~||^2), x~]`` — the closest hyperboloid point sharing the space part (as geoopt's
    ``Lorentz.projx``). Shapes (..., n+1) -> (..., n+1).
    """
    return lift(x_full[..., 1:], c)


def expmap0(v: Tensor, c: Tensor | float) -> Tensor:
    """Exponential map at the origin: tangent vector ``v`` (space part, (..., n)) -> hyperboloid point (space part).

    ``x~ = sinh(sqrt(c) ||v||) / (sqrt(c) ||v||) * v`` (MERU Eq. 5, H2ARN Eq. 5). The sinh argument is capped at
    :func:`sinh_cap` of the dtype so that tangent norms up to 1e4 (and beyond) stay finite; past the cap the point
    stays on the ray of ``v`` at the largest representable distance. Finite gradients at ``v = 0`` (value ``I``).
    """
    v, c = _prepare(v, c)
    sqrt_c = c.sqrt().unsqueeze(-1)
    norm = _safe_norm(v, keepdim=True)
    u = (sqrt_c * norm).clamp_max(sinh_cap(v.dtype))
    return torch.sinh(u) / (sqrt_c * norm) * v


def logmap0(x: Tensor, c: Tensor | float) -> Tensor:
    """Logarithmic map at the origin, the inverse of :func:`expmap0`; space parts (..., n) -> tangent (..., n).

    ``v = asinh(sqrt(c) ||x~||) / (sqrt(c) ||x~||) * x~`` (MERU Eq. 6 written with asinh, which is exact for small
    norms where ``acosh(sqrt(c) x_0)`` loses all digits). Finite gradients at ``x = 0``.
    """
    x, c = _prepare(x, c)
    sqrt_c = c.sqrt().unsqueeze(-1)
    norm = _safe_norm(x, keepdim=True)
    return torch.asinh(sqrt_c * norm) / (sqrt_c * norm) * x


def _half_z_minus_1(x: Tensor, y: Tensor, c: Tensor) -> Tensor:
    """``h = (z - 1) / 2`` with ``z = -c <x, y>_L = cosh(sqrt(c) d(x, y))``, free of cancellation near and far.

    The hyperbolic law of cosines with ``s = sqrt(c) ||x~|| = sinh(sqrt(c) r)`` (``r``: distance from the origin),
    ``Delta = sqrt(c) (r_x - r_y)`` and unit directions ``u, v``:
    ``h = sinh^2(Delta / 2) + s_x s_y ||u - v||^2 / 4``, a sum of non-negative terms. Each term is formed from
    differences of the inputs, never of large nearly equal numbers:
    ``||x~|| - ||y~|| = <x~ - y~, x~ + y~> / (||x~|| + ||y~||)``,
    ``Delta = asinh((s_x - s_y)(s_x + s_y) / (s_x sqrt(1 + s_y^2) + s_y sqrt(1 + s_x^2)))`` and
    ``||u - v||^2 / 2 = 1 - cos(theta) = sin^2(theta) / (1 + cos(theta))`` (for ``cos(theta) > 0``; else
    ``1 - cos(theta)`` directly), with the roles of ``x`` and ``y`` chosen so that ``||x~|| >= ||y~||`` and
    ``sin(theta) = ||p_perp|| / ||y~||``, ``p_perp`` the component orthogonal to ``x~`` of the shorter of ``y~`` and
    ``x~ - y~`` (the same vector up to sign; projecting the shorter one keeps nearby points' digits). ``p_perp`` is
    exactly 0 for points on one ray, where forming ``u - v`` leaves a rounding residue ``eps`` that ``s_x s_y`` turns
    into an O(1) error far from the origin.
    The naive ``h = (-c<x, y>_L - 1)/2`` loses every digit for nearby points, and the Minkowski chord
    ``||x~ - y~||^2 - (x_0 - y_0)^2`` loses them for far points on one ray; this form keeps relative accuracy for both.
    """
    sqrt_c = c.sqrt()
    nx = _safe_norm(x)
    ny = _safe_norm(y)
    swap = (ny > nx).unsqueeze(-1)
    x, y = torch.where(swap, y, x), torch.where(swap, x, y)
    nx, ny = torch.maximum(nx, ny), torch.minimum(nx, ny)
    diff = x - y
    dn = (diff * (x + y)).sum(dim=-1) / (nx + ny)
    sx, sy = sqrt_c * nx, sqrt_c * ny
    delta = torch.asinh(sqrt_c * dn * (sx + sy) / (sx * torch.sqrt(1.0 + sy * sy) + sy * torch.sqrt(1.0 + sx * sx)))
    u = x / nx.unsqueeze(-1)
    shorter = torch.where((diff * diff).sum(dim=-1, keepdim=True) < (y * y).sum(dim=-1, keepdim=True), diff, y)
    sin_vec = (shorter - (shorter * u).sum(dim=-1, keepdim=True) * u) / ny.unsqueeze(-1)  # |sin_vec| = sin(theta)
    cos = (u * (y / ny.unsqueeze(-1))).sum(dim=-1)
    # s_x s_y sin^2 / (2 (1 + cos)) with sqrt(s_x s_y) inside the square: for nearly equal far points dh is large and
    # s_x s_y ~ 1e32 (float32, near the sinh cap); their product in the backward pass overflows (inf * 0 = nan).
    scaled = (0.5 * sx * sy / (1.0 + cos.clamp_min(0.0))).sqrt().unsqueeze(-1) * sin_vec
    # strict cos > 0: at cos = 0, in particular a point at the origin (sin_vec = 0 with zero gradient), 1 - cos carries
    # the gradient of the linear term -c<x~, y~>/2, which makes d(x, y) differentiable at x = 0 (gradient -y~/||y~||).
    angular = torch.where(cos > 0, (scaled * scaled).sum(dim=-1), 0.5 * sx * sy * (1.0 - cos))
    return torch.sinh(0.5 * delta).square() + angular


def dist(x: Tensor, y: Tensor, c: Tensor | float) -> Tensor:
    """Geodesic distance between hyperboloid points (space parts), broadcasting (..., n), (..., n) -> (...).

    ``d(x, y) = acosh(-c <x, y>_L) / sqrt(c) = (2 / sqrt(c)) asinh(sqrt((z - 1) / 2))`` with ``z = -c <x, y>_L``
    (MERU Eq. 4; the asinh form is the same quantity). ``(z - 1)/2`` comes from the law of cosines
    (:func:`_half_z_minus_1`), so the distance is accurate to a few ulps relative for nearby points (1e-6 apart) and
    far ones (distance 50) alike, and the gradient at ``x == y`` is finite (zero).
    """
    x, c = _prepare(x, c)
    y = as_float(y).to(x.dtype)
    x, y = torch.broadcast_tensors(x, y)
    h = _half_z_minus_1(x, y, c).clamp_min(_tiny(x))
    return 2.0 / c.sqrt() * torch.asinh(h.sqrt())


def pairwise_inner(x: Tensor, y: Tensor, c: Tensor | float) -> Tensor:
    """All Minkowski inner products between ``x`` (..., B, n) and ``y`` (..., N, n) with one (batched) matrix
    product; returns (..., B, N).

    ``<x_i, y_j>_L = x~_i . y~_j - x_{i,0} y_{j,0}``.
    """
    x, c = _prepare(x, c)
    y = as_float(y).to(x.dtype)
    return x @ y.transpose(-1, -2) - time_component(x, c).unsqueeze(-1) * time_component(y, c).unsqueeze(-2)


def pairwise_dist(x: Tensor, y: Tensor, c: Tensor | float) -> Tensor:
    """All geodesic distances between ``x`` (..., B, n) and ``y`` (..., N, n) via one (batched) matrix product;
    returns (..., B, N).

    ``d_ij = (2 / sqrt(c)) asinh(sqrt(c/2) sqrt(-<x_i, y_j>_L - 1/c))`` — :func:`dist`'s asinh form with
    ``||x - y||_L^2 = -2/c - 2<x, y>_L``. Through the matrix product the absolute error of ``z = -c<x, y>_L`` is
    about ``eps * c x_0 y_0``, so small distances are resolved only to about ``2 sqrt(eps x_0 y_0)`` (3e-4 in float32
    at the origin, growing with the distance from it, e.g. 7.5e-4 at ``sqrt(c) d(o, x) = 1.9``). This is the fast path
    for ranking (ranking by this matrix equals ranking by ``-<x, y>_L``); :func:`dist` is the accurate one, and
    indexes re-rank with it.
    """
    x, c = _prepare(x, c)
    sqrt_c = c.sqrt()
    half_chord_sq = (-pairwise_inner(x, y, c) - 1.0 / c).clamp_min(_tiny(x))
    return 2.0 / sqrt_c * torch.asinh((0.5 * c * half_chord_sq).sqrt())


def dist0(x: Tensor, c: Tensor | float) -> Tensor:
    """Distance from the origin, ``d(o, x) = asinh(sqrt(c) ||x~||) / sqrt(c)``; (..., n) -> (...)."""
    x, c = _prepare(x, c)
    sqrt_c = c.sqrt()
    return torch.asinh(sqrt_c * _safe_norm(x)) / sqrt_c


def cos_origin_angle(x: Tensor, y: Tensor) -> Tensor:
    """Cosine of the angle at the origin between the geodesics ``o -> x`` and ``o -> y``, (..., n) -> (...).

    ``cos(angle xoy) = <x~, y~> / (||x~|| ||y~||)``: ``logmap0`` only rescales the space part, so the space parts are
    the tangent directions at ``o`` at every curvature (and for unit vectors of a Euclidean twin it is their cosine).
    Norms are floored at ``sqrt(tiny)``: a point at the origin has no direction and gives 0 with finite gradients.
    """
    x = as_float(x)
    y = as_float(y).to(x.dtype)
    return (x * y).sum(dim=-1) / (_safe_norm(x) * _safe_norm(y))


def _acos_asin_margin(x: Tensor) -> float:
    # asin/acos have infinite slope at +-1; keep arguments 4 ulps inside so gradients stay finite
    # (about 1/sqrt(8 eps) = 1e3 in float32). MERU's 1 - 1e-8 is exactly 1 in float32 and does not help.
    return 4.0 * _eps(x)


def half_aperture(x: Tensor, c: Tensor | float, K: float = 0.1) -> Tensor:
    """Half-aperture of the entailment cone at ``x`` (space part), (..., n) -> (...), in radians.

    ``aper(x) = asin(2K / (sqrt(c) ||x~||))`` (MERU Eq. 7, H2ARN Eq. 11, from Ganea et al. 2018), ``K = 0.1``. The
    argument is clamped to ``[0, 1 - 4 eps]``: points within ``2K/sqrt(c)`` of the axis get the widest cone
    (aperture ~ pi/2) with finite gradients.
    """
    x, c = _prepare(x, c)
    margin = _acos_asin_margin(x)
    # Clamp the denominator, not the argument: at the origin 2K / (sqrt(c) sqrt(tiny)) ~ 1e18 and the gradient of the
    # division multiplies by its square, which overflows for c < 1 (0 * inf = nan even where the clamp is active).
    # sqrt(c) ||x~|| >= 2K / (1 - margin) is the same clamp of the argument at 1 - margin.
    den = (c.sqrt() * _safe_norm(x)).clamp_min(2.0 * K / (1.0 - margin))
    return torch.asin((2.0 * K / den).clamp(max=1.0 - margin))


def exterior_angle(x: Tensor, y: Tensor, c: Tensor | float) -> Tensor:
    """Exterior angle at ``x`` between the ray from the origin through ``x`` and the geodesic from ``x`` to ``y``.

    ``ext(x, y) = acos[(y_0 + c <x, y>_L x_0) / (||x~|| sqrt((c <x, y>_L)^2 - 1))]`` (MERU Eq. 8, H2ARN Eq. 12).
    ``y`` lies in the entailment cone of ``x`` iff ``ext(x, y) <= half_aperture(x)``. Shapes broadcast
    (..., n) -> (...); result in [0, pi].

    Evaluated as ``atan2(sin, cos)`` of two quantities with the common positive factor
    ``||x~|| x_0 sinh(sqrt(c) d(x, y))`` removed, each free of cancellation and of overflow:

    * cos part, MERU's numerator with ``z = -c<x, y>_L`` divided by ``x_0``: ``(y_0 - z x_0) / x_0 =
      (y_0 - x_0) / x_0 - (z - 1)``, where ``y_0 - x_0 = <y~ - x~, y~ + x~> / (x_0 + y_0)`` and ``z - 1`` comes from
      :func:`_half_z_minus_1`;
    * sin part, from the hyperbolic law of sines in the triangle (origin, x, y), ``sin(ext) = sinh(sqrt(c) d(o, y))
      sin(theta) / sinh(sqrt(c) d(x, y))`` (e.g. Ratcliffe, "Foundations of Hyperbolic Manifolds", Sec. 3.5):
      ``sqrt(c) (||x~|| / x_0) ||y~_perp||`` with ``y~_perp`` the component of ``y~`` orthogonal to ``x~`` (equal to
      that of ``y~ - x~``; the shorter of the two is projected, so nearby points keep their digits).

    The ``acos`` form loses half the digits near 0 and pi and, with the clamp its gradient needs, cannot go below
    ``sqrt(8 eps)`` ~ 1e-3 rad in float32, more than the half-aperture of every point farther than ``6/sqrt(c)``
    from the origin; its numerator ``z x_0`` also overflows float32 for points near the sinh cap. ``atan2`` has no
    floor (on a ray through the origin the result is ~``eps sqrt(c) ||x~||``, the effect of rounding ``x~``'s
    direction), and its gradient is finite except at ``sin = cos = 0`` (``x == y``, or both points at the origin),
    where the angle is undefined: where both parts are below ``sqrt(tiny)`` it returns pi/2 (as ``acos(0)`` did) with
    zero gradient.
    """
    x, c = _prepare(x, c)
    y = as_float(y).to(x.dtype)
    x, y = torch.broadcast_tensors(x, y)
    tiny = _tiny(x)
    x0 = time_component(x, c)
    y0 = time_component(y, c)
    nx = _safe_norm(x)
    diff = y - x
    cos_part = (diff * (y + x)).sum(dim=-1) / ((x0 + y0) * x0) - 2.0 * _half_z_minus_1(x, y, c)
    u = x / nx.unsqueeze(-1)
    shorter = torch.where((diff * diff).sum(dim=-1, keepdim=True) < (y * y).sum(dim=-1, keepdim=True), diff, y)
    perp = shorter - (shorter * u).sum(dim=-1, keepdim=True) * u
    perp_sq = (perp * perp).sum(dim=-1)
    ratio = nx / x0  # tanh(sqrt(c) d(o, x)), in (0, 1)
    # floor at tiny: sqrt() has an infinite slope at 0 (y on the ray of x); below it the gradient is zero.
    sin_part = c.sqrt() * ratio * perp_sq.clamp_min(tiny).sqrt()
    # atan2's gradient divides by sin^2 + cos^2: where both parts are below sqrt(tiny) (x == y, points closer than
    # ~sqrt(tiny), both at the origin) the angle is undefined and that square underflows; substitute (1, 0) there and
    # return pi/2 with zero gradient. The test uses sin^2 before the floor above (which alone can exceed sqrt(tiny)).
    defined = (cos_part.abs() > math.sqrt(tiny)) | (c * ratio * ratio * perp_sq > tiny)
    # atan2 is scale invariant: dividing both parts by their (detached) larger magnitude changes neither the value nor
    # the gradient, and keeps sin^2 + cos^2 in atan2's backward within [1, 2] (|cos part| reaches z ~ 1e32 in float32
    # for points near the sinh cap; its square overflows).
    scale = torch.where(defined, torch.maximum(sin_part, cos_part.abs()).detach(), 1.0)
    angle = torch.atan2(torch.where(defined, sin_part, 1.0) / scale, torch.where(defined, cos_part, 0.0) / scale)
    return torch.where(defined, angle, 0.5 * math.pi)


def to_poincare(x: Tensor, c: Tensor | float) -> Tensor:
    """Map hyperboloid points (space parts, (..., n)) to the Poincare ball of radius ``1/sqrt(c)``, (..., n).

    ``p = x~ / (1 + sqrt(c) x_0)`` (the stereographic projection from ``(-1/sqrt(c), 0)``; Nickel & Kiela 2018, Eq. 11
    for c = 1).
    """
    x, c = _prepare(x, c)
    return x / (1.0 + c.sqrt() * time_component(x, c)).unsqueeze(-1)


def mips_query(x: Tensor, c: Tensor | float) -> Tensor:
    """Query side of the exact reduction of Lorentz nearest neighbour to maximum inner product search.

    ``q -> [q_0, q~]`` (time-first). With :func:`mips_database` ``y -> [-y_0, y~]`` the Euclidean inner product equals
    ``<q, y>_L``, and since ``d = acosh(-c <q, y>_L)/sqrt(c)`` is decreasing in ``<q, y>_L``, the largest inner products
    are exactly the nearest points. (..., n) -> (..., n+1).
    """
    return lift(x, c)


def mips_database(y: Tensor, c: Tensor | float) -> Tensor:
    """Database side of the MIPS reduction: ``y -> [-y_0, y~]`` (time-first); see :func:`mips_query`."""
    full = lift(y, c)
    return torch.cat([-full[..., :1], full[..., 1:]], dim=-1)
