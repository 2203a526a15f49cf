"""Independent references for the Lorentz-model tests (not a test module; imported by ``test_lorentz_*.py``).

* ``mp_*``: the textbook formulas (MERU Eqs. 3-8, Nickel & Kiela 2018, Ganea et al. 2018) evaluated in mpmath from
  the *exact* values of the float32/float64 inputs, with ``40 + 2 log10(largest magnitude)`` significant digits (the
  cancellation in ``x_0 y_0 - <x~, y~>`` loses at most twice the magnitude's digits), so they are the true values of
  the functions at those inputs.
* ``f64_*``: the same textbook formulas in plain float64 torch, as a second, naive reference.
* point generators that place points at a prescribed distance from the origin without using ``hyperalign``.
* error measures and the rounding slack of a stored point.

Nothing here imports ``hyperalign.geometry.lorentz``: the references must not share code with what they check.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import mpmath
import torch

MP = mpmath.mp

K_APERTURE = 0.1  # MERU's / H2ARN's cone constant, the default of half_aperture


# ------------------------------------------------------------------ helpers


def c_in(dtype: torch.dtype, c: float) -> float:
    """The curvature the library actually uses for ``dtype``: ``c`` rounded to that dtype (float32 for half inputs)."""
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    return float(torch.tensor(c, dtype=dtype))


def eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def _rows(t: torch.Tensor) -> list[list]:
    """Rows of a (B, n) tensor as lists of mpf, exactly (float32 and float64 values are exact Python floats)."""
    return [[MP.mpf(v) for v in row] for row in t.detach().to(torch.float64).reshape(-1, t.shape[-1]).tolist()]


def _cs(c: float | Sequence[float], b: int) -> list:
    if isinstance(c, (int, float)):
        return [MP.mpf(c)] * b
    assert len(c) == b
    return [MP.mpf(v) for v in c]


def _sq(v: list) -> object:
    return MP.fsum(a * a for a in v)


def _dot(u: list, v: list) -> object:
    return MP.fsum(a * b for a, b in zip(u, v))


def _out(vals: list, like_shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    return torch.tensor([float(v) for v in vals], dtype=torch.float64).reshape(like_shape)


def _out_vec(rows: list[list], shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    return torch.tensor([[float(v) for v in r] for r in rows], dtype=torch.float64).reshape(shape)


# ------------------------------------------------------------------ mpmath textbook formulas


def _exact(fn):
    """Run ``fn`` with enough digits that no cancellation survives: 40 + 2 log10 of the largest input magnitude
    (coordinates, 1/c)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        big = 1.0
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, torch.Tensor):
                if a.numel():
                    big = max(big, float(a.detach().double().abs().max()))
            elif isinstance(a, (int, float)) and a > 0 and math.isfinite(a):
                big = max(big, 1.0 / a)
            elif isinstance(a, (list, tuple)):
                big = max([big] + [1.0 / v for v in a if v > 0])
        with MP.workdps(40 + 2 * math.ceil(math.log10(big) + 1)):
            return fn(*args, **kwargs)

    return wrapper


@_exact
def mp_time(x: torch.Tensor, c) -> torch.Tensor:
    """x_0 = sqrt(1/c + ||x~||^2) (MERU Eq. 3)."""
    xs = _rows(x)
    cs = _cs(c, len(xs))
    return _out([MP.sqrt(1 / ci + _sq(xi)) for xi, ci in zip(xs, cs)], x.shape[:-1])


def _inner_rows(xi, yi, ci):
    x0 = MP.sqrt(1 / ci + _sq(xi))
    y0 = MP.sqrt(1 / ci + _sq(yi))
    return _dot(xi, yi) - x0 * y0, x0, y0


@_exact
def mp_inner(x: torch.Tensor, y: torch.Tensor, c) -> torch.Tensor:
    """<x, y>_L = <x~, y~> - x_0 y_0."""
    xs, ys = _rows(x), _rows(y)
    cs = _cs(c, len(xs))
    return _out([_inner_rows(a, b, ci)[0] for a, b, ci in zip(xs, ys, cs)], x.shape[:-1])


@_exact
def mp_dist(x: torch.Tensor, y: torch.Tensor, c) -> torch.Tensor:
    """d = acosh(-c <x, y>_L) / sqrt(c) (MERU Eq. 4), rows of x against rows of y."""
    xs, ys = _rows(x), _rows(y)
    cs = _cs(c, len(xs))
    out = []
    for a, b, ci in zip(xs, ys, cs):
        z = -ci * _inner_rows(a, b, ci)[0]
        out.append(MP.acosh(max(z, MP.mpf(1))) / MP.sqrt(ci))
    return _out(out, x.shape[:-1])


@_exact
def mp_pairwise_dist(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    xs, ys = _rows(x), _rows(y)
    ci = MP.mpf(c)
    out = []
    for a in xs:
        for b in ys:
            z = -ci * _inner_rows(a, b, ci)[0]
            out.append(MP.acosh(max(z, MP.mpf(1))) / MP.sqrt(ci))
    return _out(out, (len(xs), len(ys)))


@_exact
def mp_pairwise_h(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """h = -<x, y>_L - 1/c >= 0 for all pairs (B, N): ``(z - 1)/c``, half the squared Minkowski chord."""
    xs, ys = _rows(x), _rows(y)
    ci = MP.mpf(c)
    out = [max(-_inner_rows(a, b, ci)[0] - 1 / ci, MP.mpf(0)) for a in xs for b in ys]
    return _out(out, (len(xs), len(ys)))


@_exact
def mp_dist0(x: torch.Tensor, c) -> torch.Tensor:
    """d(o, x) = acosh(sqrt(c) x_0) / sqrt(c) = asinh(sqrt(c) ||x~||) / sqrt(c)."""
    xs = _rows(x)
    cs = _cs(c, len(xs))
    return _out([MP.asinh(MP.sqrt(ci) * MP.sqrt(_sq(a))) / MP.sqrt(ci) for a, ci in zip(xs, cs)], x.shape[:-1])


@_exact
def mp_expmap0(v: torch.Tensor, c, cap: float = math.inf) -> torch.Tensor:
    """x~ = sinh(sqrt(c) ||v||) / (sqrt(c) ||v||) v (MERU Eq. 5), with the sinh argument capped at ``cap``."""
    vs = _rows(v)
    cs = _cs(c, len(vs))
    rows = []
    for a, ci in zip(vs, cs):
        nrm = MP.sqrt(_sq(a))
        if nrm == 0:
            rows.append([MP.mpf(0)] * len(a))
            continue
        u = MP.sqrt(ci) * nrm
        scale = MP.sinh(min(u, MP.mpf(cap))) / u
        rows.append([scale * ai for ai in a])
    return _out_vec(rows, v.shape)


@_exact
def mp_logmap0(x: torch.Tensor, c) -> torch.Tensor:
    """v = acosh(sqrt(c) x_0) / (sqrt(c) ||x~||) x~ (MERU Eq. 6)."""
    xs = _rows(x)
    cs = _cs(c, len(xs))
    rows = []
    for a, ci in zip(xs, cs):
        nrm = MP.sqrt(_sq(a))
        if nrm == 0:
            rows.append([MP.mpf(0)] * len(a))
            continue
        x0 = MP.sqrt(1 / ci + nrm**2)
        scale = MP.acosh(MP.sqrt(ci) * x0) / (MP.sqrt(ci) * nrm)
        rows.append([scale * ai for ai in a])
    return _out_vec(rows, x.shape)


@_exact
def mp_half_aperture(x: torch.Tensor, c, k: float = K_APERTURE) -> torch.Tensor:
    """aper(x) = asin(2K / (sqrt(c) ||x~||)) (MERU Eq. 7); pi/2 where the argument exceeds 1."""
    xs = _rows(x)
    cs = _cs(c, len(xs))
    out = []
    for a, ci in zip(xs, cs):
        arg = 2 * MP.mpf(k) / (MP.sqrt(ci) * MP.sqrt(_sq(a)))
        out.append(MP.asin(min(arg, MP.mpf(1))))
    return _out(out, x.shape[:-1])


@_exact
def mp_exterior_angle(x: torch.Tensor, y: torch.Tensor, c) -> torch.Tensor:
    """ext(x, y) = acos[(y_0 + c<x,y>_L x_0) / (||x~|| sqrt((c<x,y>_L)^2 - 1))] (MERU Eq. 8)."""
    xs, ys = _rows(x), _rows(y)
    cs = _cs(c, len(xs))
    out = []
    for a, b, ci in zip(xs, ys, cs):
        inn, x0, y0 = _inner_rows(a, b, ci)
        cos = (y0 + ci * inn * x0) / (MP.sqrt(_sq(a)) * MP.sqrt((ci * inn) ** 2 - 1))
        out.append(MP.acos(max(min(cos, MP.mpf(1)), MP.mpf(-1))))
    return _out(out, x.shape[:-1])


@_exact
def mp_to_poincare(x: torch.Tensor, c) -> torch.Tensor:
    """p = x~ / (1 + sqrt(c) x_0) (Nickel & Kiela 2018, Eq. 11, scaled to curvature -c)."""
    xs = _rows(x)
    cs = _cs(c, len(xs))
    rows = []
    for a, ci in zip(xs, cs):
        x0 = MP.sqrt(1 / ci + _sq(a))
        rows.append([ai / (1 + MP.sqrt(ci) * x0) for ai in a])
    return _out_vec(rows, x.shape)


@_exact
def mp_poincare_dist(p: torch.Tensor, q: torch.Tensor, c) -> torch.Tensor:
    """Poincare-ball distance (2/sqrt(c)) artanh(sqrt(c) ||(-p) (+)_c q||) with Moebius addition
    ``a (+)_c b = ((1 + 2c<a,b> + c||b||^2) a + (1 - c||a||^2) b) / (1 + 2c<a,b> + c^2 ||a||^2 ||b||^2)``
    (Ganea, Becigneul & Hofmann, "Hyperbolic Neural Networks", NeurIPS 2018, Eq. 2 and Sec. 2.2)."""
    ps, qs = _rows(p), _rows(q)
    cs = _cs(c, len(ps))
    out = []
    for a, b, ci in zip(ps, qs, cs):
        a = [-ai for ai in a]
        ab, aa, bb = _dot(a, b), _sq(a), _sq(b)
        den = 1 + 2 * ci * ab + ci**2 * aa * bb
        m = [((1 + 2 * ci * ab + ci * bb) * ai + (1 - ci * aa) * bi) / den for ai, bi in zip(a, b)]
        out.append(2 / MP.sqrt(ci) * MP.atanh(MP.sqrt(ci) * MP.sqrt(_sq(m))))
    return _out(out, p.shape[:-1])


# ------------------------------------------------------------------ naive float64 textbook formulas


def f64_time(x: torch.Tensor, c: float) -> torch.Tensor:
    x = x.double()
    return torch.sqrt(1.0 / c + (x * x).sum(-1))


def f64_inner(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    x, y = x.double(), y.double()
    return (x * y).sum(-1) - f64_time(x, c) * f64_time(y, c)


def f64_dist(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """acosh(-c<x,y>_L)/sqrt(c) in float64: loses digits for nearby points, fine for well separated ones."""
    return torch.acosh((-c * f64_inner(x, y, c)).clamp_min(1.0)) / math.sqrt(c)


def f64_exterior_angle(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """MERU's formula verbatim in float64."""
    x, y = x.double(), y.double()
    inn = f64_inner(x, y, c)
    cos = (f64_time(y, c) + c * inn * f64_time(x, c)) / (x.norm(dim=-1) * torch.sqrt((c * inn) ** 2 - 1))
    return torch.acos(cos.clamp(-1.0, 1.0))


# ------------------------------------------------------------------ point generators (independent of hyperalign)


def unit_directions(gen: torch.Generator, b: int, n: int) -> torch.Tensor:
    d = torch.randn(b, n, generator=gen, dtype=torch.float64)
    return d / d.norm(dim=-1, keepdim=True)


def points_at(direction: torch.Tensor, scaled_radius: torch.Tensor | float, c: float) -> torch.Tensor:
    """Space parts (float64) of the points at distance ``scaled_radius / sqrt(c)`` from the origin along
    ``direction`` (unit rows): ``x~ = sinh(r) / sqrt(c) * direction``."""
    r = torch.as_tensor(scaled_radius, dtype=torch.float64)
    if r.dim() > 0:
        r = r.unsqueeze(-1)
    return torch.sinh(r) / math.sqrt(c) * direction


# ------------------------------------------------------------------ error measures


def rel_err(value: torch.Tensor, ref: torch.Tensor, vector: bool = False) -> torch.Tensor:
    """Relative error in float64: |value - ref| / |ref| per element, or normwise over the last axis (``vector``)."""
    value, ref = value.double(), ref.double()
    if vector:
        return (value - ref).norm(dim=-1) / ref.norm(dim=-1)
    return (value - ref).abs() / ref.abs()


def rounding_slack(x: torch.Tensor, c: float, factor: float = 8.0) -> torch.Tensor:
    """Largest distance by which perturbing every coordinate of the stored point ``x`` by ``factor * eps`` (relative)
    can move it on the hyperboloid.

    On the hyperboloid parametrised by its space part, ``ds^2 = ||dx~||^2 - dx_0^2 <= ||dx~||^2``, so a perturbation
    ``e`` of the space part has Minkowski chord ``<= ||e||`` and moves the point at most
    ``(2/sqrt(c)) asinh(sqrt(c) ||e|| / 2)``. With ``||e|| = factor * eps * ||x~||`` this is the backward-error
    tolerance of any distance computed from ``x`` in ``x.dtype``: it is ~ ``factor * eps * ||x~||`` near the origin and
    grows to ``(2/sqrt(c)) log(sqrt(c) factor eps ||x~||)`` far from it, where a float32 point's direction is itself
    uncertain (sqrt(c) d(o, x) > -log(eps) ~ 16).
    """
    e = factor * eps(x.dtype) * x.double().norm(dim=-1)
    return 2.0 / math.sqrt(c) * torch.asinh(0.5 * math.sqrt(c) * e)


def pairwise_dist_error_bound(x: torch.Tensor, y: torch.Tensor, c: float, k: float = 8.0) -> torch.Tensor:
    """Error bound (B, N) of a distance computed through the Minkowski inner product ``h = -<x, y>_L - 1/c``.

    Rounding the products summed in ``<x, y>_L = <x~, y~> - x_0 y_0`` perturbs ``h`` by up to
    ``dh = k eps (x_0 y_0 + ||x~|| ||y~||)``; the bound is ``g(h + dh) - g(h)`` with
    ``g(h) = (2/sqrt(c)) asinh(sqrt(c h / 2))`` evaluated in float64 at the true ``h``. It is
    ``~ 2 sqrt(k eps x_0 y_0)`` at zero distance (``sqrt(eps)/sqrt(c)`` at the origin, growing as
    ``cosh(sqrt(c) d(o, x))``) and ``~ k eps c x_0 y_0 / (sqrt(c) sinh(sqrt(c) d))`` otherwise.
    """
    e = eps(x.dtype)
    xd, yd = x.double(), y.double()
    x0 = torch.sqrt(1.0 / c + (xd * xd).sum(-1))
    y0 = torch.sqrt(1.0 / c + (yd * yd).sum(-1))
    mags = x0[:, None] * y0[None, :] + xd.norm(dim=-1)[:, None] * yd.norm(dim=-1)[None, :]
    h = mp_pairwise_h(x, y, c)  # the true h

    def g(t: torch.Tensor) -> torch.Tensor:
        return 2.0 / math.sqrt(c) * torch.asinh(torch.sqrt(c * t / 2.0))

    return g(h + k * e * mags) - g(h)
