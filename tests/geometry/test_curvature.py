"""The intermediate manifold: the discrepancy D, the golden-section search and the implicit-function gradient.

The references here solve ``F(c3) = dD_total/dc3 = 0`` by Newton's method in float64, which converges to machine
precision (the golden-section search, comparing function values, resolves the minimiser only to ~sqrt(eps)). The
unrolled Newton iteration, started from a point that depends on the curvatures, is differentiable end to end, so
autograd through it is an independent route to dc3*/dc. (Unrolling the golden-section search itself would not be:
its bracket is piecewise linear in the interval bounds and carries no information about F.)
"""

import math

import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.geometry.curvature import (
    curvature_discrepancy,
    golden_section,
    intermediate_curvature,
    rescale_radii,
    search_interval,
    total_discrepancy,
    transfer,
)

f64 = torch.float64


def _t(v, grad=False):
    return torch.tensor(v, dtype=f64, requires_grad=grad)


def _newton_root(c_p, c_t, r_p, r_t, steps=40):
    """c3 with F(c3) = 0 by Newton from the midpoint of the curvatures, differentiable (create_graph) throughout."""
    c3 = 0.5 * (c_p + c_t)
    for _ in range(steps):
        (F,) = torch.autograd.grad(total_discrepancy(c3, c_p, c_t, r_p, r_t), c3, create_graph=True)
        (dF,) = torch.autograd.grad(F, c3, create_graph=True)
        c3 = c3 - F / dF
    return c3


# interior cases: (c_p, c_t, raw r_p, raw r_t)
INTERIOR = [(0.8, 1.2, 1.0, 1.0), (0.5, 0.7, 2.0, 1.0), (3.0, 2.0, 1.1, 0.7), (5.0, 4.0, 1.0, 2.0), (1.0, 1.3, 1.0, 3.0)]


@pytest.mark.parametrize("c", [0.1, 0.5, 1.0, 3.0, 10.0])
@pytest.mark.parametrize("k", [1.2, 2.0, 5.0])
def test_discrepancy_is_minimised_at_its_own_curvature(c, k):
    r = k / math.sqrt(c)  # above the threshold 1/sqrt(c)
    grid = torch.linspace(0.5 * c, 2.0 * c, 3001, dtype=f64)
    values = curvature_discrepancy(grid, _t(c), _t(r))
    assert abs(float(grid[values.argmin()]) - c) <= float(grid[1] - grid[0])
    c3 = _t(c, grad=True)
    (d1,) = torch.autograd.grad(curvature_discrepancy(c3, _t(c), _t(r)), c3, create_graph=True)
    (d2,) = torch.autograd.grad(d1, c3)
    assert abs(d1.item()) < 1e-12 and d2.item() > 0


def test_printed_denominator_is_not_stationary_at_c():
    """The paper's printed form [-sqrt(c) + 2 sqrt(c3) cosh(...)] / (2 sqrt(c c3)) has dD/dc3 = 1/(4 c^1.5) at c3 = c,
    contradicting its Proposition 1; the code's form (ours) is stationary there."""
    c, r = _t(2.0), _t(1.5)
    c3 = _t(2.0, grad=True)
    printed = (-c.sqrt() + 2 * c3.sqrt() * torch.cosh((c3.sqrt() - c.sqrt()) * r)) / (2 * (c * c3).sqrt())
    (d,) = torch.autograd.grad(printed, c3)
    assert float(d) == pytest.approx(1 / (4 * 2.0**1.5), rel=1e-12)


def test_threshold_radius_makes_an_inflection():
    """At r = 1/sqrt(c) (where rescale_radii puts one of the two radii) d2D/dc3^2 vanishes at c3 = c."""
    c = _t(1.7)
    c3 = _t(1.7, grad=True)
    (d1,) = torch.autograd.grad(curvature_discrepancy(c3, c, c.rsqrt()), c3, create_graph=True)
    (d2,) = torch.autograd.grad(d1, c3)
    assert abs(d1.item()) < 1e-12 and abs(d2.item()) < 1e-12


def test_rescale_radii_keeps_ratio_and_thresholds():
    for raw_p, raw_t, c_p, c_t in [(1.3, 0.9, 0.5, 2.0), (0.2, 2.0, 1.0, 1.0), (5.0, 0.1, 3.0, 0.3)]:
        r_p, r_t = rescale_radii(_t(raw_p), _t(raw_t), _t(c_p), _t(c_t))
        ratio = min(max(raw_p / raw_t, 1 / 50), 50)
        assert float(r_p / r_t) == pytest.approx(ratio, rel=1e-12)
        assert float(r_p) >= 1 / math.sqrt(c_p) - 1e-12 and float(r_t) >= 1 / math.sqrt(c_t) - 1e-12
        assert min(float(r_p) * math.sqrt(c_p), float(r_t) * math.sqrt(c_t)) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(
    "f, lo, hi, x_star",
    [
        (lambda x: (x - 0.3721) ** 2 + 0.1 * (x - 0.3721) ** 4, 0.0, 2.0, 0.3721),
        (lambda x: math.cosh(3.0 * (x - 1.234)) + 0.5 * x, 0.0, 5.0, 1.234 - math.asinh(0.5 / 3.0) / 3.0),
        (lambda x: abs(x - 7.77), 0.0, 10.0, 7.77),
    ],
)
def test_golden_section_accuracy(f, lo, hi, x_star):
    assert abs(golden_section(f, lo, hi, tol=1e-6) - x_star) <= 1e-6


def test_golden_section_boundary_and_iteration_budget():
    assert golden_section(lambda x: x, 2.0, 3.0, tol=1e-6) - 2.0 <= 1e-6  # monotone: minimiser at lo
    calls = []
    x = golden_section(lambda x: calls.append(x) or (x - 0.5) ** 2, 0.0, 1.0, tol=1e-12, max_iter=10)
    assert len(calls) == 12  # two to start, one per step
    assert abs(x - 0.5) <= 0.5 * (math.sqrt(5) - 1) ** 10 / 2**10  # bracket after 10 shrinks by 1/phi
    with pytest.raises(ValueError, match="lo < hi"):
        golden_section(lambda x: x, 1.0, 1.0)


@pytest.mark.parametrize("case", INTERIOR)
def test_search_finds_the_stationary_point(case):
    c_p, c_t, raw_p, raw_t = (_t(v) for v in case)
    r_p, r_t = rescale_radii(raw_p, raw_t, c_p, c_t)
    lo, hi = search_interval(c_p, c_t)
    c3 = float(intermediate_curvature(c_p, c_t, r_p, r_t))
    assert lo < c3 < hi
    assert c3 == pytest.approx(float(_newton_root(_t(float(c_p), True), c_t, r_p, r_t).detach()), abs=1e-6)


def test_equal_curvatures_give_that_curvature():
    c = _t(1.5)
    r = 2.0 / c.sqrt()  # both terms strictly convex at c
    assert float(intermediate_curvature(c, c, r, r)) == pytest.approx(1.5, abs=1e-6)


@pytest.mark.parametrize("case", INTERIOR)
def test_ift_gradient_matches_finite_differences_and_unrolled_newton(case):
    c_p, c_t = _t(case[0], True), _t(case[1], True)
    r_p, r_t = rescale_radii(_t(case[2]), _t(case[3]), c_p, c_t)  # detached radii: constants for the gradient
    intermediate_curvature(c_p, c_t, r_p, r_t).backward()
    ift = torch.stack([c_p.grad, c_t.grad])

    a, b = _t(case[0], True), _t(case[1], True)
    unrolled = torch.stack(torch.autograd.grad(_newton_root(a, b, r_p, r_t), (a, b)))
    # the IFT is evaluated at the golden-section point, which resolves the minimiser to ~sqrt(eps) relative
    torch.testing.assert_close(ift, unrolled, rtol=1e-6, atol=1e-9)

    h = 1e-6
    def root(p, t):
        return float(_newton_root(_t(p, True), _t(t), r_p, r_t).detach())
    fd = torch.tensor([(root(case[0] + h, case[1]) - root(case[0] - h, case[1])) / (2 * h),
                       (root(case[0], case[1] + h) - root(case[0], case[1] - h)) / (2 * h)], dtype=f64)
    torch.testing.assert_close(ift, fd, rtol=1e-6, atol=1e-8)


def test_boundary_solution_passes_the_bounds_derivative():
    c_p, c_t = _t(0.5, True), _t(2.0, True)
    r_p, r_t = rescale_radii(_t(1.3), _t(0.9), c_p, c_t)
    c3 = intermediate_curvature(c_p, c_t, r_p, r_t)
    assert c3.detach().item() == 0.9 * 0.5  # D_total increases over the whole interval: the lower bound 0.9 min(c)
    c3.backward()
    assert (float(c_p.grad), float(c_t.grad)) == (pytest.approx(0.9), 0.0)
    h = 1e-6
    up = intermediate_curvature(_t(0.5 + h), _t(2.0), r_p, r_t)
    down = intermediate_curvature(_t(0.5 - h), _t(2.0), r_p, r_t)
    assert float((up - down) / (2 * h)) == pytest.approx(0.9, rel=1e-6)


def test_float32_curvatures_get_float32_result_and_gradients():
    c_p = torch.tensor(0.8, requires_grad=True)
    c_t = torch.tensor(1.2, requires_grad=True)
    r_p, r_t = rescale_radii(torch.tensor(1.0), torch.tensor(1.0), c_p, c_t)
    c3 = intermediate_curvature(c_p, c_t, r_p, r_t)
    c3.backward()
    assert c3.dtype == torch.float32 and c_p.grad.dtype == torch.float32 and torch.isfinite(c_t.grad)


def test_transfer_keeps_radius_and_inverts():
    torch.manual_seed(0)
    x = lorentz.expmap0(torch.randn(16, 5, dtype=f64), 0.7)
    y = transfer(x, 0.7, 2.5)
    torch.testing.assert_close(lorentz.dist0(y, 2.5), lorentz.dist0(x, 0.7), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(transfer(y, 2.5, 0.7), x, rtol=1e-12, atol=1e-12)
