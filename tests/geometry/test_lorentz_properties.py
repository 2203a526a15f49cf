"""Property-based tests (hypothesis) of ``hyperalign.geometry.lorentz`` in float32 and float64.

Inputs: tangent vectors at the origin with norms log-uniform in [1e-6, 1e4] (plus exact zeros), curvatures
``c`` in [0.05, 20], dimension 2-6; points are ``expmap0`` of them. Every test runs in float32 and float64.

Tolerances and why:

* On the hyperboloid: ``|<x, x>_L + 1/c| <= 8 eps (x_0^2 + ||x~||^2)``, computed in float64 from the lifted
  coordinates. The right side is the rounding of storing ``x_0`` and ``x~`` in the dtype; near the origin it is
  ``16 eps / c`` (relative error 2e-6 in float32), far out no dtype can do better (``x_0^2 - ||x~||^2`` cancels).
* ``logmap0(expmap0(v)) == v``: normwise relative error <= 16 eps while ``sqrt(c) ||v|| <= sinh_cap(dtype)``
  (both maps are well conditioned: a relative error in ``x~`` maps back divided by ``asinh(s) sqrt(1 + s^2) / s >= 1``).
* dist symmetry <= 4 eps relative; ``d(x, x) <= 2 sqrt(tiny) max(1, 1/sqrt(c))`` (the norm and ``h`` floors that keep
  the gradient at ``x == y`` finite); ``pairwise_dist(x, x)`` within :func:`lorentz_reference.pairwise_dist_error_bound`.
* Triangle inequality up to ``16 eps * (sum of the three distances)`` plus the rounding slack of the three points
  (:func:`lorentz_reference.rounding_slack`): a point stored in a dtype is only known up to a relative perturbation
  of its coordinates, which moves it by at most ``(2/sqrt(c)) asinh(sqrt(c) 8 eps ||x~|| / 2)``; that is ~eps-sized
  near the origin and only large where the dtype cannot represent the point's direction (sqrt(c) d(o, x) > ~16 in
  float32). A strict version on well-represented points is in test_lorentz_oracle.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lorentz_reference import c_in, eps, pairwise_dist_error_bound, rounding_slack

from hyperalign.geometry import lorentz as L

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

DTYPES = st.sampled_from([torch.float32, torch.float64])
CURVATURES = st.floats(0.05, 20.0)
LOG_NORM_MIN, LOG_NORM_MAX = math.log(1e-6), math.log(1e4)


def _direction(draw, n: int) -> list[float]:
    d = draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n).filter(lambda v: sum(a * a for a in v) > 1e-4))
    s = math.sqrt(sum(a * a for a in d))
    return [a / s for a in d]


@st.composite
def tangent_batch(draw, rows: int, lo: float = LOG_NORM_MIN, hi: float = LOG_NORM_MAX, zeros: bool = True):
    """(rows, n) float64 tangent vectors with log-uniform norms in [e^lo, e^hi] (some rows exactly zero)."""
    n = draw(st.integers(2, 6))
    out = []
    for _ in range(rows):
        if zeros and draw(st.integers(0, 9)) == 0:
            out.append([0.0] * n)
            continue
        norm = math.exp(draw(st.floats(lo, hi)))
        out.append([norm * a for a in _direction(draw, n)])
    return torch.tensor(out, dtype=torch.float64)


@st.composite
def setting(draw, rows: int = 4, **kw):
    """(dtype, c, tangent vectors in dtype)."""
    dtype = draw(DTYPES)
    c = draw(CURVATURES)
    return dtype, c, draw(tangent_batch(rows, **kw)).to(dtype)


# ---------------------------------------------------------------------------- the maps


@SETTINGS
@given(setting(rows=6))
def test_expmap0_lies_on_hyperboloid(s):
    dtype, c, v = s
    x = L.expmap0(v, c)
    assert x.dtype == dtype and torch.isfinite(x).all()
    full = L.lift(x, c)
    assert full.dtype == dtype and (full[:, 0] > 0).all()
    f = full.double()
    form = -f[:, 0] ** 2 + (f[:, 1:] ** 2).sum(-1)
    scale = f[:, 0] ** 2 + (f[:, 1:] ** 2).sum(-1)
    err = (form + 1.0 / c_in(dtype, c)).abs()
    assert (err <= 8 * eps(dtype) * scale).all(), (err / scale).max()


@SETTINGS
@given(st.data())
def test_logmap0_inverts_expmap0_within_the_sinh_cap(data):
    dtype = data.draw(DTYPES)
    c = data.draw(CURVATURES)
    ce = c_in(dtype, c)
    # norms from 1e-6 up to 1e4 or the cap sqrt(c) ||v|| = sinh_cap, whichever is smaller
    hi = min(LOG_NORM_MAX, math.log(L.sinh_cap(dtype) / math.sqrt(ce)) - 1e-6)
    v = data.draw(tangent_batch(6, hi=hi)).to(dtype)
    back = L.logmap0(L.expmap0(v, c), c)
    assert back.dtype == dtype
    nz = v.double().norm(dim=-1) > 0
    err = (back.double() - v.double()).norm(dim=-1)[nz] / v.double().norm(dim=-1)[nz]
    assert (err <= 16 * eps(dtype)).all(), err.max()
    assert (back[~nz] == 0).all()


@SETTINGS
@given(st.data())
def test_expmap0_saturates_past_the_sinh_cap(data):
    dtype = data.draw(DTYPES)
    c = data.draw(CURVATURES)
    ce = c_in(dtype, c)
    cap = L.sinh_cap(dtype)
    lo = math.log(cap / math.sqrt(ce)) + 1e-3
    v = data.draw(tangent_batch(4, lo=lo, hi=max(lo + 1.0, math.log(1e6)), zeros=False)).to(dtype)
    x = L.expmap0(v, c)
    assert torch.isfinite(x).all() and torch.isfinite(L.lift(x, c)).all()
    # same direction as v
    cos = (x.double() * v.double()).sum(-1) / (x.double().norm(dim=-1) * v.double().norm(dim=-1))
    assert (cos >= 1 - 8 * eps(dtype)).all()
    # at the largest distance the cap allows: sqrt(c) d(o, x) = cap
    r = math.sqrt(ce) * L.dist0(x, c).double()
    assert ((r - cap).abs() <= 16 * eps(dtype) * cap).all(), r
    back = L.logmap0(x, c)
    assert torch.isfinite(back).all()
    assert ((math.sqrt(ce) * back.double().norm(dim=-1) - cap).abs() <= 16 * eps(dtype) * cap).all()
    # distances and inner products between saturated points stay finite
    assert torch.isfinite(L.dist(x, x.flip(0), c)).all()
    assert torch.isfinite(L.pairwise_dist(x, x, c)).all()
    assert torch.isfinite(L.inner(x, x.flip(0), c)).all()


# ---------------------------------------------------------------------------- distance axioms


@SETTINGS
@given(setting(rows=4), setting(rows=4))
def test_dist_symmetric_nonnegative_and_zero_on_the_diagonal(s1, s2):
    dtype, c, v = s1
    w = s2[2].to(dtype)
    if w.shape[-1] != v.shape[-1]:
        w = w[:, :1].expand_as(v).contiguous()
    x, y = L.expmap0(v, c), L.expmap0(w, c)
    dxy, dyx = L.dist(x, y, c), L.dist(y, x, c)
    assert torch.isfinite(dxy).all() and (dxy >= 0).all()
    assert ((dxy - dyx).abs() <= 4 * eps(dtype) * dxy).all()
    # d(x, x) is 0 up to the floors that keep the gradient at x == y finite (~sqrt(tiny))
    ce = c_in(dtype, c)
    dxx = L.dist(x, x, c)
    assert (dxx >= 0).all() and (dxx <= 2.02 * math.sqrt(torch.finfo(dtype).tiny) * max(1.0, 1.0 / math.sqrt(ce))).all()
    # pairwise_dist resolves distances near 0 only to ~2 sqrt(eps x_0 y_0) (rounding of <x, y>_L)
    diag = L.pairwise_dist(x, x, c).diagonal().double()
    assert (diag <= pairwise_dist_error_bound(x, x, ce).diagonal()).all()


@SETTINGS
@given(st.data())
def test_triangle_inequality(data):
    dtype = data.draw(DTYPES)
    c = data.draw(CURVATURES)
    v = data.draw(tangent_batch(9)).to(dtype)
    # three points per triangle; also a degenerate (collinear through the origin) triangle from one direction
    x, y, z = L.expmap0(v, c).reshape(3, 3, -1)
    t = data.draw(st.floats(0.0, 3.0))
    ray = torch.stack([v[0], (t * v[0].double()).to(dtype), (2 * t * v[0].double()).to(dtype)])
    x = torch.cat([x, L.expmap0(ray[:1], c)])
    y = torch.cat([y, L.expmap0(ray[1:2], c)])
    z = torch.cat([z, L.expmap0(ray[2:], c)])
    ce = c_in(dtype, c)
    dxy, dyz, dxz = L.dist(x, y, c).double(), L.dist(y, z, c).double(), L.dist(x, z, c).double()
    slack = rounding_slack(x, ce) + rounding_slack(y, ce) + rounding_slack(z, ce)
    tol = 16 * eps(dtype) * (dxy + dyz + dxz) + slack
    for a, b, far in [(dxy, dyz, dxz), (dxy, dxz, dyz), (dxz, dyz, dxy)]:
        assert (far <= a + b + tol).all(), (far - a - b - tol).max()


# ---------------------------------------------------------------------------- finiteness everywhere


def _all_functions():
    """name -> f(x, y, c) for every public function; x, y are space parts of points (tangents for expmap0)."""
    return {
        "time_component": lambda x, y, c: L.time_component(x, c),
        "inner": lambda x, y, c: L.inner(x, y, c),
        "lift": lambda x, y, c: L.lift(x, c),
        "project": lambda x, y, c: L.project(torch.cat([y[..., :1], x], dim=-1), c),
        "expmap0": lambda x, y, c: L.expmap0(x, c),
        "logmap0": lambda x, y, c: L.logmap0(x, c),
        "dist": lambda x, y, c: L.dist(x, y, c),
        "pairwise_inner": lambda x, y, c: L.pairwise_inner(x, y, c),
        "pairwise_dist": lambda x, y, c: L.pairwise_dist(x, y, c),
        "dist0": lambda x, y, c: L.dist0(x, c),
        "half_aperture": lambda x, y, c: L.half_aperture(x, c),
        "exterior_angle": lambda x, y, c: L.exterior_angle(x, y, c),
        "to_poincare": lambda x, y, c: L.to_poincare(x, c),
        "mips_query": lambda x, y, c: L.mips_query(x, c),
        "mips_database": lambda x, y, c: L.mips_database(x, c),
    }


FUNCTIONS = _all_functions()


@SETTINGS
@given(setting(rows=3))
def test_values_and_gradients_finite_including_degenerate_inputs(s):
    dtype, c, v = s
    n = v.shape[-1]
    pts = L.expmap0(v, c).detach()
    zero = torch.zeros(1, n, dtype=dtype)
    # rows: generic pairs, x == y, x at the origin, y at the origin, both at the origin
    x0 = torch.cat([pts, pts, zero.expand(3, n), pts, zero])
    y0 = torch.cat([pts.roll(1, 0), pts, pts, zero.expand(3, n), zero])
    for name, f in FUNCTIONS.items():
        x = x0.clone().requires_grad_(True)
        y = y0.clone().requires_grad_(True)
        ct = torch.tensor(c, dtype=dtype, requires_grad=True)
        out = f(x, y, ct)
        assert torch.isfinite(out).all(), name
        grads = torch.autograd.grad(out.sum(), [x, y, ct], allow_unused=True)
        for g in grads:
            assert g is None or torch.isfinite(g).all(), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("c", [1e-3, 0.05, 0.25, 1.0, 20.0, 1e3])
def test_values_and_gradients_finite_at_degenerate_inputs_for_small_and_large_c(c, dtype):
    """Deterministic companion of the property test: the origin, x == y, a point below the norm floor, and points
    near the sinh cap, for curvatures on both sides of 1 (a reciprocal squared in a backward pass overflows for c < 1)."""
    cap_point = torch.tensor([math.sinh(L.sinh_cap(dtype)) / math.sqrt(c) / 2, 0.0, 0.0], dtype=dtype)
    near_cap = cap_point * (1 - 2.0**-20)  # a few ulps from cap_point on the same ray: tiny h, huge s_x s_y
    x0 = torch.stack([torch.zeros(3, dtype=dtype), torch.tensor([0.3, -0.2, 1.0], dtype=dtype),
                      torch.tensor([1e-30, 0.0, 0.0], dtype=dtype), torch.zeros(3, dtype=dtype), cap_point, cap_point,
                      cap_point])
    y0 = torch.stack([torch.zeros(3, dtype=dtype), torch.tensor([0.3, -0.2, 1.0], dtype=dtype),
                      torch.tensor([1e-30, 0.0, 0.0], dtype=dtype), torch.tensor([0.3, -0.2, 1.0], dtype=dtype),
                      cap_point.roll(1), torch.zeros(3, dtype=dtype), near_cap])
    for name, f in FUNCTIONS.items():
        x = x0.clone().requires_grad_(True)
        y = y0.clone().requires_grad_(True)
        ct = torch.tensor(c, dtype=dtype, requires_grad=True)
        out = f(x, y, ct)
        assert torch.isfinite(out).all(), name
        for g in torch.autograd.grad(out.sum(), [x, y, ct], allow_unused=True):
            assert g is None or torch.isfinite(g).all(), name


def test_gradients_at_the_degenerate_points_have_the_right_values():
    x = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    d = L.dist(x, y, 0.7)
    gx, gy = torch.autograd.grad(d.sum(), [x, y])
    assert (gx == 0).all() and (gy == 0).all()  # sub-gradient 0 at x == y
    v = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda t: L.expmap0(t, 2.5), v).reshape(3, 3)
    assert torch.equal(jac, torch.eye(3, dtype=torch.float64))  # d expmap0 / dv at 0 is the identity
    jac = torch.autograd.functional.jacobian(lambda t: L.logmap0(t, 2.5), v).reshape(3, 3)
    assert torch.equal(jac, torch.eye(3, dtype=torch.float64))


# ---------------------------------------------------------------------------- lift, project, inner, dist0


@SETTINGS
@given(setting(rows=5), st.lists(st.floats(-1e3, 1e3), min_size=5, max_size=5))
def test_project_is_idempotent_and_lands_on_the_hyperboloid(s, times):
    dtype, c, v = s
    full = torch.cat([torch.tensor(times, dtype=dtype).unsqueeze(-1), v], dim=-1)  # arbitrary time component
    p = L.project(full, c)
    assert p.dtype == dtype
    assert torch.equal(p[:, 1:], v)
    assert torch.equal(L.project(p, c), p)
    assert torch.equal(p, L.lift(v, c))
    f = p.double()
    scale = f[:, 0] ** 2 + (f[:, 1:] ** 2).sum(-1)
    assert ((-f[:, 0] ** 2 + (f[:, 1:] ** 2).sum(-1) + 1 / c_in(dtype, c)).abs() <= 8 * eps(dtype) * scale).all()


@SETTINGS
@given(setting(rows=4), setting(rows=4))
def test_lift_time_component_inner_and_dist0_are_consistent(s1, s2):
    dtype, c, v = s1
    w = s2[2].to(dtype)
    if w.shape[-1] != v.shape[-1]:
        w = w[:, :1].expand_as(v).contiguous()
    x, y = L.expmap0(v, c), L.expmap0(w, c)
    ce = c_in(dtype, c)
    full_x, full_y = L.lift(x, c), L.lift(y, c)
    assert torch.equal(full_x[:, 0], L.time_component(x, c)) and torch.equal(full_x[:, 1:], x)
    # <x, y>_L from the lifted coordinates in float64, up to the rounding of the products it sums
    fx, fy = full_x.double(), full_y.double()
    minkowski = -fx[:, 0] * fy[:, 0] + (fx[:, 1:] * fy[:, 1:]).sum(-1)
    mags = fx[:, 0] * fy[:, 0] + (fx[:, 1:] * fy[:, 1:]).abs().sum(-1)
    ip = L.inner(x, y, c).double()
    assert ((ip - minkowski).abs() <= 8 * eps(dtype) * mags).all()
    assert (ip <= -1 / ce + 8 * eps(dtype) * mags).all()  # reverse Cauchy-Schwarz: <x, y>_L <= -1/c
    assert ((L.inner(x, x, c).double() + 1 / ce).abs() <= 8 * eps(dtype) * (fx**2).sum(-1)).all()
    pip = L.pairwise_inner(x, y, c).double().diagonal()
    assert ((pip - minkowski).abs() <= 8 * eps(dtype) * mags).all()
    # dist0 = d(origin, x) = ||logmap0(x)||, up to the sqrt(tiny) norm floor (dist0(origin) = sqrt(tiny), not 0)
    d0 = L.dist0(x, c).double()
    floor = 2.0 * math.sqrt(torch.finfo(dtype).tiny) * max(1.0, 1.0 / math.sqrt(ce))
    origin = torch.zeros_like(x)
    assert ((L.dist(origin, x, c).double() - d0).abs() <= 8 * eps(dtype) * d0 + floor).all()
    assert ((L.logmap0(x, c).double().norm(dim=-1) - d0).abs() <= 8 * eps(dtype) * d0 + floor).all()


def test_curvature_broadcasts_per_row():
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    cs = torch.tensor([0.05, 0.5, 1.0, 4.0, 20.0])
    for name, f in FUNCTIONS.items():
        if name.startswith("pairwise"):
            continue
        batched = f(x, y, cs)
        rows = torch.stack([f(x[i], y[i], cs[i]) for i in range(5)])
        torch.testing.assert_close(batched, rows, rtol=4 * eps(torch.float32), atol=0.0, msg=name)


# ---------------------------------------------------------------------------- dtypes and invalid curvature


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_half_precision_is_promoted_to_float32(name, half):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(4, 3, generator=gen)).to(half)
    y = (torch.randn(4, 3, generator=gen)).to(half)
    f = FUNCTIONS[name]
    out = f(x, y, 1.3)
    assert out.dtype == torch.float32, (name, out.dtype)
    assert torch.equal(out, f(x.float(), y.float(), 1.3))
    # a half-precision curvature tensor is promoted the same way
    assert f(x, y, torch.tensor(1.3, dtype=half)).dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64_are_kept(dtype):
    x = torch.randn(4, 3, dtype=dtype)
    for name, f in FUNCTIONS.items():
        assert f(x, x.flip(0), 0.5).dtype == dtype, name


def test_integer_input_is_rejected():
    with pytest.raises(TypeError):
        L.dist0(torch.ones(2, 3, dtype=torch.int64), 1.0)


BAD_CURVATURES = [0.0, -1.0, -0.0, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("bad", BAD_CURVATURES + ["tensor_with_zero", "tensor_with_nan"], ids=str)
def test_invalid_curvature_raises_value_error(name, bad, curvature_checks):
    x = torch.randn(3, 4)
    if bad == "tensor_with_zero":
        bad = torch.tensor([1.0, 0.0, 2.0])
    elif bad == "tensor_with_nan":
        bad = torch.tensor([1.0, math.nan, 2.0])
    with pytest.raises(ValueError, match="curvature"):
        FUNCTIONS[name](x, x.flip(0), bad)


@pytest.fixture
def curvature_checks():
    """Per-call validation of curvature tensors on (the debug switch), restored afterwards."""
    previous = L.check_curvature_tensors(True)
    yield
    L.check_curvature_tensors(previous)


def test_curvature_tensors_are_not_read_on_the_host_unless_checks_are_on(monkeypatch):
    x = torch.randn(3, 4)
    bad = torch.tensor(-1.0)
    previous = L.check_curvature_tensors(False)
    try:
        calls = []
        real_bool = torch.Tensor.__bool__
        monkeypatch.setattr(torch.Tensor, "__bool__", lambda t: calls.append(t) or real_bool(t))
        L.curvature_tensor(bad, x)  # no host read, so no error: tensors are trusted when checks are off
        assert calls == []
        L.check_curvature_tensors(True)
        with pytest.raises(ValueError, match="curvature"):
            L.curvature_tensor(bad, x)
        with pytest.raises(ValueError, match="curvature"):  # Python numbers are always checked
            L.check_curvature_tensors(False)
            L.curvature_tensor(-1.0, x)
    finally:
        L.check_curvature_tensors(previous)
