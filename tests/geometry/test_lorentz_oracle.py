"""``hyperalign.geometry.lorentz`` against independent oracles: geoopt, mpmath textbook formulas, float64, geometry.

References (see ``lorentz_reference.py``): the textbook formulas evaluated in mpmath from the exact input values
(the true values at those inputs), the same formulas in naive float64, and geoopt 0.5's ``Lorentz`` manifold.

geoopt's convention: full time-first coordinates on ``<x, x>_L = -k``, i.e. a hyperboloid of radius ``sqrt(k)`` and
curvature ``-1/k`` (its ``k`` is not the curvature), with ``d = sqrt(k) acosh(-<x, y>_L / k)``. Ours is
``<x, x>_L = -1/c``: radius ``1/sqrt(c)``. So ``Lorentz(k=1/c)`` holds exactly our lifted points and its distances
equal ours; for any other ``k``, scaling full coordinates by ``sqrt(k c)`` maps our hyperboloid onto geoopt's and
multiplies every distance by ``sqrt(k c)`` (the ratio of the radii). Both are checked.

Error bounds, float32 results against the true values (and against our float64 functions at the same inputs), and
float64 results against the true values; ``u = sqrt(c) ||v||``, ``s = sqrt(c) ||x~||``, ``eps`` of the dtype:

==================  ====================================  ==================  =========================================
function            float32                               float64             why
==================  ====================================  ==================  =========================================
time_component,     1e-5 relative                         1e-12 relative      condition number <= 1: a relative input
dist0, logmap0,                                                               error eps gives at most eps out
to_poincare, lift
expmap0             max(16 eps, 2 (1 + u) eps) relative,  same (<= 1.6e-13)   condition number of sinh(u)/u v is ~u
                    which is <= 1e-5 (u <= 38.1)                              (u <= 38.1 in float32, 348.6 in float64)
dist                1e-5 relative (16 eps on one ray)     1e-12 (16 eps)      on points the dtype represents: any
                                                                              distance for pairs < ~12/sqrt(c) from the
                                                                              origin, any radius on one exact ray,
                                                                              nearby (1e-6) and far (50) pairs
inner               8 eps (x_0 y_0 + |x~||y~|) absolute   same                rounding of the products summed; relative
                                                                              error grows as x_0 y_0 / |<x, y>_L|
pairwise_dist       1e-5 rel + pairwise_dist_error_bound  1e-12 rel + same    ``<x, y>_L`` through a matrix product: abs
                                                                              error ~ eps x_0 y_0 (documented), e.g.
                                                                              2 sqrt(eps x_0 y_0) at zero distance
half_aperture       1e-5 rel for 2K/s <= 0.99;            1e-12 rel + same    asin' = 1/sqrt(1 - a^2): a relative error
                    else 8 eps a / sqrt(1 - a^2) abs;                         eps in a is amplified near a = 1; the
                    asin(1 - 4 eps) in the clamp                              clamp is documented (finite gradient)
exterior_angle      1e-5 rad absolute for s >= 0.1        1e-12 rad           the cos part has relative error ~eps/s
                    (generic pairs); near a ray:                              (the angle is undefined at the origin);
                    1e-5 + 8 eps cosh(sqrt(c) d(o, x))                        near the ray beyond x, rounding x~ by eps
                                                                              tilts the true angle by ~eps cosh(r)
==================  ====================================  ==================  =========================================

geoopt (float64 only; its own accuracy is the limit): 1e-12 relative for points with ``sqrt(c) d >= 1e-3``
(geoopt's ``arcosh`` clamps ``x^2 - 1 >= 1e-15`` and loses ``eps z / (z - 1)`` to cancellation, so it is no
oracle for nearby points, which the mpmath reference covers) and tangent norms ``>= 1e-3`` (geoopt clamps squared
Minkowski norms at 1e-8).
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

with warnings.catch_warnings():
    # geoopt 0.5 decorates its functions with torch.jit.script, which torch 2.13 deprecates (one warning each)
    warnings.simplefilter("ignore", DeprecationWarning)
    import geoopt
    from geoopt.manifolds.lorentz import math as gmath
from lorentz_reference import (
    K_APERTURE,
    c_in,
    eps,
    f64_dist,
    f64_exterior_angle,
    mp_dist,
    mp_dist0,
    mp_expmap0,
    mp_exterior_angle,
    mp_half_aperture,
    mp_inner,
    mp_logmap0,
    mp_pairwise_dist,
    mp_poincare_dist,
    mp_time,
    mp_to_poincare,
    pairwise_dist_error_bound,
    points_at,
    rel_err,
    unit_directions,
)

from hyperalign.geometry import lorentz as L

CURVATURES = [0.05, 0.3, 1.0, 4.0, 20.0]
DTYPES = [torch.float32, torch.float64]
REL = {torch.float32: 1e-5, torch.float64: 1e-12}
N_DIM = 6


def _gen(*key: float) -> torch.Generator:
    return torch.Generator().manual_seed(int(1e6 * sum((i + 1) * k for i, k in enumerate(key))) % (2**31))


def generic_points(c: float, b: int = 48, lo: float = 0.1, hi: float = 12.0, seed: float = 0.0) -> torch.Tensor:
    """(b, N_DIM) float64 points at sqrt(c) d(o, x) uniform in [lo, hi], uniformly random directions."""
    g = _gen(c, seed, 1.0)
    r = torch.empty(b, dtype=torch.float64).uniform_(lo, hi, generator=g)
    return points_at(unit_directions(g, b, N_DIM), r, c)


def generic_tangents(c: float, b: int = 48, seed: float = 0.0) -> torch.Tensor:
    """(b, N_DIM) float64 tangent vectors with norms log-uniform in [1e-6, 1e4]."""
    g = _gen(c, seed, 2.0)
    lognorm = torch.empty(b, dtype=torch.float64).uniform_(math.log(1e-6), math.log(1e4), generator=g)
    return unit_directions(g, b, N_DIM) * lognorm.exp().unsqueeze(-1)


# ================================================================================ geoopt


@pytest.mark.parametrize("c", CURVATURES)
def test_agrees_with_geoopt_lorentz_with_k_equal_to_one_over_c(c):
    man = geoopt.manifolds.Lorentz(k=torch.tensor(1.0 / c, dtype=torch.float64))
    x, y = generic_points(c, seed=1.0), generic_points(c, seed=2.0)
    X, Y = L.lift(x, c), L.lift(y, c)
    # geoopt's membership test is absolute (|<X, X>_L + k| <= atol + rtol k): only meaningful near the origin
    ok, reason = man.check_point_on_manifold(L.lift(generic_points(c, hi=2.0), c), explain=True, atol=0, rtol=1e-12)
    assert ok, reason
    # projection: the same map (keep the space part, recompute the time component)
    junk_time = torch.randn(x.shape[0], 1, dtype=torch.float64, generator=_gen(c, 3.0))
    torch.testing.assert_close(L.project(torch.cat([junk_time, x], -1), c), man.projx(torch.cat([junk_time, x], -1)), rtol=1e-15, atol=0)
    # Minkowski inner product and distances
    torch.testing.assert_close(L.inner(x, y, c), gmath.inner(X, Y), rtol=1e-13, atol=0)
    separated = math.sqrt(c) * mp_dist(x, y, c) >= 1e-3
    assert separated.all()
    assert rel_err(L.dist(x, y, c), man.dist(X, Y)).max() <= 1e-12
    assert rel_err(L.pairwise_dist(x, y, c), man.dist(X.unsqueeze(1), Y.unsqueeze(0))).max() <= 1e-12
    assert rel_err(L.dist0(x, c), man.dist0(X)).max() <= 1e-12
    # exp / log at the origin: geoopt takes and returns full tangent vectors at its origin (time component 0)
    v = generic_tangents(c, seed=4.0)
    v = v[v.norm(dim=-1) >= 1e-3]
    v = v[math.sqrt(c) * v.norm(dim=-1) <= 30.0]
    assert len(v) > 10
    V = torch.cat([torch.zeros(len(v), 1, dtype=torch.float64), v], -1)
    G = man.expmap0(V)
    assert rel_err(L.expmap0(v, c), G[:, 1:], vector=True).max() <= 1e-12
    assert rel_err(L.lift(L.expmap0(v, c), c), G, vector=True).max() <= 1e-12
    back = man.logmap0(X)
    assert back[:, 0].abs().max() <= 1e-10 * back.norm(dim=-1).max()
    assert rel_err(L.logmap0(x, c), back[:, 1:], vector=True).max() <= 1e-12


@pytest.mark.parametrize("k", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("c", [0.05, 1.0, 20.0])
def test_geoopt_distances_scale_with_the_radius(c, k):
    """geoopt's hyperboloid of radius sqrt(k) is ours (radius 1/sqrt(c)) scaled by sqrt(k c)."""
    man = geoopt.manifolds.Lorentz(k=torch.tensor(k, dtype=torch.float64))
    x, y = generic_points(c, seed=5.0), generic_points(c, seed=6.0)
    scale = math.sqrt(k * c)
    X, Y = scale * L.lift(x, c), scale * L.lift(y, c)
    ok, reason = man.check_point_on_manifold(scale * L.lift(generic_points(c, hi=2.0), c), explain=True, atol=0, rtol=1e-12)
    assert ok, reason
    assert rel_err(man.dist(X, Y), scale * L.dist(x, y, c)).max() <= 1e-12
    assert rel_err(man.dist0(X), scale * L.dist0(x, c)).max() <= 1e-12


# ================================================================================ float32 / float64 / mpmath


def _check(name: str, ours32, ours64_same, ours64, ref32, ref64, bound32, bound64):
    """|float32 - true| <= bound32, |float32 - our float64 at the same inputs| <= bound32 + that float64's own error,
    |float64 - true| <= bound64 (all in float64)."""
    e32 = (ours32.double() - ref32).abs()
    e32_64 = (ours32.double() - ours64_same.double()).abs()
    e64 = (ours64 - ref64).abs()
    assert (e32 <= bound32).all(), (name, "float32 vs true", (e32 - bound32).max())
    assert (e32_64 <= bound32 + (ours64_same.double() - ref32).abs()).all(), (name, "float32 vs float64")
    assert (e64 <= bound64).all(), (name, "float64 vs true", (e64 - bound64).max())


def scalar_cases():
    """name -> (f(x, y, c), mpmath reference(x, y, c), bound kind for :func:`_bound`)."""
    return {
        "time_component": (lambda x, y, c: L.time_component(x, c), lambda x, y, c: mp_time(x, c), None),
        "dist0": (lambda x, y, c: L.dist0(x, c), lambda x, y, c: mp_dist0(x, c), None),
        "dist": (lambda x, y, c: L.dist(x, y, c), mp_dist, None),
        "inner": (lambda x, y, c: L.inner(x, y, c), mp_inner, "inner"),
        "half_aperture": (lambda x, y, c: L.half_aperture(x, c), lambda x, y, c: mp_half_aperture(x, c), "aperture"),
        "exterior_angle": (lambda x, y, c: L.exterior_angle(x, y, c), mp_exterior_angle, "angle"),
    }


def _bound(kind, dtype, x, y, ref, c):
    e, rel = eps(dtype), REL[dtype]
    xd, yd = x.double(), y.double()
    if kind is None:
        return rel * ref.abs()
    if kind == "inner":
        x0 = torch.sqrt(1 / c + (xd * xd).sum(-1))
        y0 = torch.sqrt(1 / c + (yd * yd).sum(-1))
        return 8 * e * (x0 * y0 + xd.norm(dim=-1) * yd.norm(dim=-1))
    if kind == "aperture":
        a = 2 * K_APERTURE / (math.sqrt(c) * xd.norm(dim=-1))
        cond = a / torch.sqrt((1 - a * a).clamp_min(8 * e))
        return rel * ref.abs() + 8 * e * cond
    if kind == "angle":
        return torch.full_like(ref, rel)
    raise AssertionError(kind)


SCALAR = list(scalar_cases())


@pytest.mark.parametrize("c", CURVATURES)
@pytest.mark.parametrize("name", SCALAR)
def test_scalar_functions_against_mpmath_and_float64(name, c):
    f, ref_fn, kind = scalar_cases()[name]
    x64, y64 = generic_points(c, seed=7.0), generic_points(c, seed=8.0)
    if name == "half_aperture":  # include points inside the clamp radius and near it
        x64 = torch.cat([x64, points_at(unit_directions(_gen(c, 9.0), 8, N_DIM), torch.linspace(0.01, 0.3, 8, dtype=torch.float64), c)])
        y64 = torch.cat([y64, y64[:8]])
    x32, y32 = x64.float(), y64.float()
    c32, c64 = c_in(torch.float32, c), c_in(torch.float64, c)
    ref32, ref64 = ref_fn(x32, y32, c32), ref_fn(x64, y64, c64)
    b32 = _bound(kind, torch.float32, x32, y32, ref32, c32)
    b64 = _bound(kind, torch.float64, x64, y64, ref64, c64)
    ours32, ours64_same, ours64 = f(x32, y32, c), f(x32.double(), y32.double(), c32), f(x64, y64, c)
    if name == "half_aperture":  # inside the clamp the value is asin(1 - 4 eps) by design
        for ours, x, dtype, ref, _b in [(ours32, x32, torch.float32, ref32, b32), (ours64, x64, torch.float64, ref64, b64)]:
            clamped = 2 * K_APERTURE / (math.sqrt(c_in(dtype, c)) * x.double().norm(dim=-1)) > 1 - 4 * eps(dtype)
            assert clamped.any()
            torch.testing.assert_close(ours[clamped].double(), torch.full_like(ref[clamped], math.asin(1 - 4 * eps(dtype))), rtol=2 * eps(dtype), atol=0)
            ref[clamped] = ours[clamped].double()
        # float64's clamp is at 1 - 4 eps64, float32's at 1 - 4 eps32: compare only outside both
        clamped64 = torch.isclose(ours64_same, torch.tensor(math.asin(1 - 4 * eps(torch.float64)), dtype=torch.float64))
        ours64_same = torch.where(clamped64, ours32.double(), ours64_same)
    _check(name, ours32, ours64_same, ours64, ref32, ref64, b32, b64)


@pytest.mark.parametrize("c", CURVATURES)
def test_vector_functions_against_mpmath_and_float64(c):
    c32, c64 = c_in(torch.float32, c), c_in(torch.float64, c)
    # expmap0: tangent norms 1e-6 .. 1e4, the reference capped like the implementation
    v64 = generic_tangents(c, seed=10.0)
    v32 = v64.float()
    for dtype, v, cc in [(torch.float32, v32, c32), (torch.float64, v64, c64)]:
        cap = L.sinh_cap(dtype)
        ref = mp_expmap0(v, cc, cap=cap)
        u = (math.sqrt(cc) * v.double().norm(dim=-1)).clamp_max(cap)
        bound = torch.maximum(torch.full_like(u, 16 * eps(dtype)), 2 * (1 + u) * eps(dtype))
        if dtype == torch.float32:
            assert (bound <= 1e-5).all()
        err = rel_err(L.expmap0(v, c), ref, vector=True)
        nz = v.double().norm(dim=-1) > 0
        assert (err[nz] <= bound[nz]).all(), (err / bound).max()
    # logmap0 and to_poincare at generic points
    x64 = generic_points(c, seed=11.0, lo=0.0, hi=30.0)
    x32 = x64.float()
    for f, ref_fn in [(L.logmap0, mp_logmap0), (L.to_poincare, mp_to_poincare), (L.lift, None)]:
        for dtype, x, cc in [(torch.float32, x32, c32), (torch.float64, x64, c64)]:
            if ref_fn is None:
                ref = torch.cat([mp_time(x, cc).unsqueeze(-1), x.double()], -1)
            else:
                ref = ref_fn(x, cc)
            assert rel_err(f(x, c), ref, vector=True).max() <= REL[dtype], f.__name__
        assert rel_err(f(x32, c), f(x32.double(), c32), vector=True).max() <= REL[torch.float32]


@pytest.mark.parametrize("c", CURVATURES)
def test_pairwise_dist_against_mpmath_within_its_documented_accuracy(c):
    for dtype in DTYPES:
        cc = c_in(dtype, c)
        x = generic_points(c, b=10, seed=12.0, hi=8.0).to(dtype)
        y = torch.cat([generic_points(c, b=10, seed=13.0, hi=8.0), x.double()[:3], x.double()[:3] * (1 + 1e-4)]).to(dtype)
        ref = mp_pairwise_dist(x, y, cc)
        bound = REL[dtype] * ref + pairwise_dist_error_bound(x, y, cc)
        err = (L.pairwise_dist(x, y, c).double() - ref).abs()
        assert (err <= bound).all(), (err - bound).max()
        # consistent with the pointwise dist wherever the matrix product is well conditioned
        pointwise = L.dist(x.unsqueeze(1), y.unsqueeze(0), c).double()
        assert ((L.pairwise_dist(x, y, c).double() - pointwise).abs() <= 2 * bound).all()


# ================================================================================ dist in float32: near, far, rays


def _rel32(x, y, c):
    return rel_err(L.dist(x, y, c), mp_dist(x, y, c_in(torch.float32, c)))


@pytest.mark.parametrize("c", CURVATURES)
def test_dist_float32_nearby_points_1e6_apart(c):
    g = _gen(c, 14.0)
    r = torch.tensor([0.0, 0.05, 0.3, 1.0, 2.0, 2.5], dtype=torch.float64).repeat_interleave(8)
    x = points_at(unit_directions(g, len(r), N_DIM), r, c)
    # displacement 1e-6 in a random direction (in space coordinates), then both rounded to float32
    y = x + 1e-6 * unit_directions(g, len(r), N_DIM)
    x32, y32 = x.float(), y.float()
    moved = (x32 != y32).any(-1)
    assert moved.all()
    ref = mp_dist(x32, y32, c_in(torch.float32, c))
    assert (ref > 1e-7).all() and (ref < 1e-5).all()
    assert _rel32(x32, y32, c).max() <= 1e-5
    # x == y bit for bit: zero up to the gradient floor
    floor = 2.02 * math.sqrt(torch.finfo(torch.float32).tiny) * max(1.0, 1.0 / math.sqrt(c_in(torch.float32, c)))
    assert (L.dist(x32, x32, c) <= floor).all()


def test_dist_float32_far_points_distance_50():
    g = _gen(15.0)
    cases = []
    for c in [0.25, 1.0, 4.0]:
        s = math.sqrt(c)
        # two points 25/sqrt(c) from the origin in random directions: d ~ 50/sqrt(c) - O(1)
        cases.append((points_at(unit_directions(g, 16, N_DIM), 25.0, c), points_at(unit_directions(g, 16, N_DIM), 25.0, c), c))
        # one near the origin, one 50/sqrt(c) away in a random direction (float32 cap is 38.1: use c = 0.25 for 50)
        far = min(50.0 * s, 36.0)
        cases.append((points_at(unit_directions(g, 16, N_DIM), 0.5, c), points_at(unit_directions(g, 16, N_DIM), far, c), c))
        # diametrically opposite
        u = unit_directions(g, 16, N_DIM)
        cases.append((points_at(u, 20.0, c), points_at(-u, 20.0, c), c))
    hit_50 = False
    for x, y, c in cases:
        x32, y32 = x.float(), y.float()
        ref = mp_dist(x32, y32, c_in(torch.float32, c))
        hit_50 |= bool(((ref - 50).abs() < 5).any())
        assert _rel32(x32, y32, c).max() <= 1e-5, c
    assert hit_50


@pytest.mark.parametrize("c", [0.05, 0.25, 1.0, 20.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dist_along_one_ray_is_the_difference_of_radii(c, dtype):
    """Points on one exact ray through the origin: d = |r_x - r_y| at any radius, in both dtypes (the Minkowski
    chord ``||x~ - y~||^2 - (x_0 - y_0)^2`` and ``acosh(-c<x, y>_L)`` lose all digits here far from the origin)."""
    cap = L.sinh_cap(dtype)
    cc = c_in(dtype, c)
    radii = torch.tensor([0.0, 1e-3, 0.5, 1.0, 3.0, 8.0, 15.0, 20.0, 30.0, 38.0], dtype=torch.float64)
    radii = radii[radii <= cap]
    axis = torch.zeros(len(radii), N_DIM, dtype=torch.float64)
    axis[:, 2] = 1.0  # an axis direction: every stored point is exactly on the ray
    pts = points_at(axis, radii, cc).to(dtype)
    x, y = pts.unsqueeze(1).expand(-1, len(radii), -1), pts.unsqueeze(0).expand(len(radii), -1, -1)
    true_r = torch.asinh(math.sqrt(cc) * pts.double()[:, 2]) / math.sqrt(cc)  # exact radii of the stored points
    ref = (true_r.unsqueeze(1) - true_r.unsqueeze(0)).abs()
    d = L.dist(x, y, c).double()
    off = ~torch.eye(len(radii), dtype=torch.bool)
    assert (rel_err(d[off], ref[off]) <= 16 * eps(dtype)).all(), rel_err(d[off], ref[off]).max()
    # additivity along the ray (the triangle inequality is an equality here)
    i, j, k = 1, len(radii) // 2, len(radii) - 1
    assert abs(float(d[i, k] - d[i, j] - d[j, k])) <= 8 * eps(dtype) * float(d[i, k])


@pytest.mark.parametrize("c", [0.3, 4.0])
def test_triangle_inequality_strict_on_well_represented_points(c):
    for dtype in DTYPES:
        pts = generic_points(c, b=30, seed=16.0, hi=10.0).to(dtype)
        x, y, z = pts[:10], pts[10:20], pts[20:]
        dxy, dyz, dxz = (L.dist(a, b, c).double() for a, b in [(x, y), (y, z), (x, z)])
        assert (dxz <= dxy + dyz + REL[dtype] * (dxy + dyz)).all()


def test_dist_agrees_with_the_textbook_float64_formula_where_that_is_accurate():
    for c in CURVATURES:
        x, y = generic_points(c, seed=17.0), generic_points(c, seed=18.0)
        naive = f64_dist(x, y, c)
        assert rel_err(L.dist(x, y, c), naive).max() <= 1e-12
        # and it shows why it is not used: 1e-6 apart it has lost ~half the digits, ours has not
        near = x + 1e-6 * unit_directions(_gen(c, 19.0), len(x), N_DIM)
        truth = mp_dist(x, near, c)
        assert rel_err(L.dist(x, near, c), truth).max() <= 1e-12
        assert rel_err(f64_dist(x, near, c), truth).max() > 1e-9


# ================================================================================ cones: aperture and exterior angle


def _geodesic_from(x: torch.Tensor, c: float, phi: float, t: float, gen: torch.Generator) -> torch.Tensor:
    """Space parts (float64) of exp_x(t w) where w is the unit tangent at x making the angle ``phi`` with the outward
    radial direction (the continuation of the geodesic from the origin through x). Built from the full-coordinate
    formulas, independent of hyperalign: exp_X(v) = cosh(sqrt(c) t) X + sinh(sqrt(c) t) / sqrt(c) w, |w|_L = 1."""
    s = math.sqrt(c)
    x0 = torch.sqrt(1 / c + (x * x).sum(-1, keepdim=True))
    X = torch.cat([x0, x], -1)
    origin = torch.zeros_like(X)
    origin[:, 0] = 1 / s

    def mink(a, b):
        return -a[:, :1] * b[:, :1] + (a[:, 1:] * b[:, 1:]).sum(-1, keepdim=True)

    r = -(origin + c * mink(X, origin) * X)  # -(projection of the origin onto T_X): points away from the origin
    r = r / mink(r, r).sqrt()
    e = torch.randn(x.shape, dtype=torch.float64, generator=gen)
    e = e - (e * x).sum(-1, keepdim=True) / (x * x).sum(-1, keepdim=True) * x  # Euclidean-orthogonal to x~
    E = torch.cat([torch.zeros_like(x0), e / e.norm(dim=-1, keepdim=True)], -1)  # tangent at X, Minkowski-unit, _|_ r
    w = math.cos(phi) * r + math.sin(phi) * E
    Y = math.cosh(s * t) * X + math.sinh(s * t) / s * w
    return Y[:, 1:]


@pytest.mark.parametrize("c", [0.05, 1.0, 20.0])
def test_exterior_angle_is_the_angle_of_the_geodesic_at_x(c):
    g = _gen(c, 20.0)
    x = points_at(unit_directions(g, 6, N_DIM), torch.tensor([0.2, 0.5, 1.0, 2.0, 4.0, 6.0], dtype=torch.float64), c)
    for phi in [1e-3, 0.1, 0.5, 1.0, math.pi / 2, 2.0, 3.0, math.pi - 1e-3]:
        for t in [1e-3, 0.3, 2.0]:
            y = _geodesic_from(x, c, phi, t / math.sqrt(c), g)
            ext = L.exterior_angle(x, y, c)
            assert (ext - phi).abs().max() <= 1e-9, (phi, t, ext)
            # MERU's formula (mpmath) on the same points
            assert (mp_exterior_angle(x, y, c) - phi).abs().max() <= 1e-9
            # float32: against MERU's formula on the rounded inputs. For y nearly on the ray beyond x the true angle
            # moves by ~eps cosh(sqrt(c) d(o, x)) when x's coordinates move by eps (its direction is only known that
            # well), so the bound grows with the distance from the origin: 1e-5 + 8 eps cosh(r).
            x32, y32 = x.float(), y.float()
            r = torch.asinh(math.sqrt(c) * x32.double().norm(dim=-1))
            bound = 1e-5 + 8 * eps(torch.float32) * torch.cosh(r)
            err = (L.exterior_angle(x32, y32, c).double() - mp_exterior_angle(x32, y32, c_in(torch.float32, c))).abs()
            assert (err <= bound).all(), (phi, t, err.max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("c", [0.05, 1.0, 20.0])
def test_exterior_angle_on_the_ray_is_0_beyond_x_and_pi_before_it(dtype, c):
    """Exact rays (integer directions scaled by factors exact in binary): ext ~ 0 beyond x, ~ pi before it, within
    ``16 eps (1 + s)``, ``s = sqrt(c) ||x~||`` (rounding x~'s direction tilts the ray by eps, which moves the angle by
    ~ eps s; the old acos form could not go below sqrt(8 eps) ~ 1e-3). Beyond x the points are in its cone wherever
    that bound is below the aperture (~0.2/s): up to s ~ 300 in float32, including apertures < 1e-3; on an axis, where
    rounding cannot tilt the ray, for every s."""
    base = torch.tensor([[3.0, 4.0, 12.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, -5.0, 0.0, 2.0]], dtype=torch.float64)
    on_axis = torch.tensor([False, True, False])
    narrow_cone_checked = False
    s_max = math.sinh(L.sinh_cap(dtype))  # the farthest points expmap0 produces (the representable range)

    def representable(p):
        return bool((math.sqrt(c_in(dtype, c)) * p.double().norm(dim=-1) <= s_max).all())

    for scale in [2.0**-8, 2.0**-2, 1.0, 2.0**4, 2.0**12, 2.0**40]:
        x = (base * scale).to(dtype)
        if not representable(x):
            continue
        s = math.sqrt(c_in(dtype, c)) * x.double().norm(dim=-1)
        tol = 16 * eps(dtype) * (1 + s)
        aper = L.half_aperture(x, c).double()
        for t in [1.0 + 2.0**-10, 1.5, 2.0, 8.0, 2.0**20]:
            y = (base * scale * t).to(dtype)
            if not representable(y):
                continue
            ext = L.exterior_angle(x, y, c).double()
            assert (ext <= tol).all(), (scale, t, ext)
            checkable = (tol < aper) | on_axis
            assert (ext <= aper)[checkable].all(), (scale, t)  # in the cone, however narrow
            narrow_cone_checked |= bool((checkable & (aper < 1e-3)).any())
        for t in [0.0, 2.0**-20, 0.25, 0.5, 0.75, 1.0 - 2.0**-10]:
            y = (base * scale * t).to(dtype)
            ext = L.exterior_angle(x, y, c).double()
            assert (math.pi - ext <= tol).all(), (scale, t)
            assert (ext > aper).all()
    assert narrow_cone_checked


@pytest.mark.parametrize("c", [0.05, 1.0, 20.0])
def test_cone_membership_matches_the_geodesic_angle(c):
    """y = exp_x(t w_phi) is in the cone of x iff phi <= half_aperture(x), also for far points whose aperture is
    below 1e-3 (float32's old acos floor) and in float32."""
    g = _gen(c, 21.0)
    radii = torch.tensor([0.3, 1.0, 3.0, 6.0, 8.0, 10.0], dtype=torch.float64)
    x = points_at(unit_directions(g, len(radii), N_DIM), radii, c)
    aper = L.half_aperture(x, c)
    torch.testing.assert_close(aper, mp_half_aperture(x, c), rtol=1e-12, atol=0)
    assert (aper < 1e-3).any()
    for dtype in DTYPES:
        for factor, inside in [(0.5, True), (0.9, True), (1.1, False), (2.0, False)]:
            for i in range(len(radii)):
                phi = float(aper[i]) * factor
                y = _geodesic_from(x[i : i + 1], c, phi, 1.0 / math.sqrt(c), g)
                xi, yi = x[i : i + 1].to(dtype), y.to(dtype)
                if dtype == torch.float32 and radii[i] > 6.0:
                    continue  # float32 cannot place y within 0.1 * aper (< 1e-4 rad) of the cone boundary here
                assert bool(L.exterior_angle(xi, yi, c) <= L.half_aperture(xi, c)) == inside, (dtype, i, factor)


def test_exterior_angle_agrees_with_merus_float64_formula_away_from_0_and_pi():
    for c in CURVATURES:
        x, y = generic_points(c, seed=22.0), generic_points(c, seed=23.0, lo=0.0)
        ref = f64_exterior_angle(x, y, c)
        ok = torch.sin(ref) > 0.1
        assert ok.sum() > 5
        assert (L.exterior_angle(x, y, c) - ref)[ok].abs().max() <= 1e-12


def test_half_aperture_is_decreasing_and_bounded():
    for dtype in DTYPES:
        r = torch.logspace(-4, 1.5, 200, dtype=torch.float64)
        x = torch.zeros(200, 3, dtype=torch.float64)
        x[:, 0] = torch.sinh(r)
        a = L.half_aperture(x.to(dtype), 1.0)
        assert (a > 0).all() and (a < math.pi / 2).all()
        assert (a[1:] <= a[:-1]).all()
        # at the origin: the widest cone
        assert float(L.half_aperture(torch.zeros(1, 3, dtype=dtype), 1.0)) == pytest.approx(math.asin(1 - 4 * eps(dtype)), rel=2 * eps(dtype))
        wide = L.half_aperture(x.to(dtype), 1.0, K=0.2)
        unclamped = 0.4 / x[:, 0] < 0.5
        assert unclamped.any() and (wide[unclamped] > a[unclamped]).all()


# ================================================================================ Poincare ball


@pytest.mark.parametrize("c", CURVATURES)
def test_to_poincare_lies_in_the_ball_and_preserves_distances(c):
    for dtype, strict_up_to in [(torch.float32, 15.0), (torch.float64, 30.0)]:
        radii = torch.linspace(0.0, 38.0, 77, dtype=torch.float64)
        x = points_at(unit_directions(_gen(c, 24.0), len(radii), N_DIM), radii, c).to(dtype)
        p = L.to_poincare(x, c)
        assert p.dtype == dtype
        cc = c_in(dtype, c)
        norm = math.sqrt(cc) * p.double().norm(dim=-1)
        assert (norm[radii <= strict_up_to] < 1).all()
        assert (norm <= 1 + 4 * eps(dtype)).all()
        # along the direction of x~, at radius tanh(r / 2) / sqrt(c) (r = sqrt(c) d(o, x))
        true_r = torch.asinh(math.sqrt(cc) * x.double().norm(dim=-1))
        assert rel_err(norm[radii > 0], torch.tanh(true_r / 2)[radii > 0]).max() <= REL[dtype]
    # Poincare distance (Moebius form, mpmath) of the images = Lorentz distance
    x, y = generic_points(c, b=24, seed=25.0, hi=8.0), generic_points(c, b=24, seed=26.0, hi=8.0)
    p, q = L.to_poincare(x, c), L.to_poincare(y, c)
    assert rel_err(mp_poincare_dist(p, q, c), L.dist(x, y, c)).max() <= 1e-9
    # ... and the equivalent acosh form in float64: acosh(1 + 2c|p - q|^2 / ((1 - c|p|^2)(1 - c|q|^2))) / sqrt(c)
    arg = 1 + 2 * c * ((p - q) ** 2).sum(-1) / ((1 - c * (p * p).sum(-1)) * (1 - c * (q * q).sum(-1)))
    assert rel_err(torch.acosh(arg) / math.sqrt(c), L.dist(x, y, c)).max() <= 1e-9
