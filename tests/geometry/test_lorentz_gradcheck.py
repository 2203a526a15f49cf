"""``torch.autograd.gradcheck`` (float64, analytic vs finite-difference Jacobians) of every differentiable function in
``hyperalign.geometry.lorentz``, with respect to the points *and* the curvature ``c`` (a float64 tensor that requires
grad: a scalar, and one curvature per row).

Inputs avoid the non-differentiable spots only: ``x != y`` (distance and angle have a cone singularity there),
``half_aperture``'s argument ``2K / (sqrt(c) ||x~||) < 1`` (clamped above), exterior angles away from 0 and pi
(``|sin|`` kinks there), ``||x~|| > 0`` for ``dist0`` (``|x~|`` kinks at 0). Points at the origin are included where the
function is smooth there (expmap0, logmap0, dist with the other point elsewhere, to_poincare, lift, inner).
"""

from __future__ import annotations

import math

import pytest
import torch
from lorentz_reference import points_at, unit_directions

from hyperalign.geometry import lorentz as L

N_DIM = 3


def _pts(gen: torch.Generator, radii, c: float) -> torch.Tensor:
    r = torch.as_tensor(radii, dtype=torch.float64)
    return points_at(unit_directions(gen, len(r), N_DIM), r, c)


def input_sets(c: float) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(int(100 * c) + 7)
    generic_x = _pts(g, [0.4, 1.0, 1.7, 2.5], c)
    generic_y = _pts(g, [0.9, 0.3, 2.2, 1.2], c)
    near_y = generic_x + 1e-3 / math.sqrt(c) * unit_directions(g, 4, N_DIM)
    far_x, far_y = _pts(g, [5.0, 6.0, 7.0, 8.0], c), _pts(g, [7.5, 4.0, 8.0, 6.5], c)
    ray_y = generic_x * torch.tensor([[1.7], [0.4], [3.0], [0.9]], dtype=torch.float64)  # same ray, x != y
    origin_x = torch.zeros(4, N_DIM, dtype=torch.float64)
    # far from the origin, y farther out near the ray of x: exterior angles away from 0 and pi
    cone_y = 3.0 * far_x + 0.5 * far_x.norm(dim=-1, keepdim=True) * unit_directions(g, 4, N_DIM)
    return {
        "far_cone": (far_x, cone_y),
        "generic": (generic_x, generic_y),
        "near": (generic_x, near_y),
        "far": (far_x, far_y),
        "ray": (generic_x, ray_y),
        "origin": (origin_x, generic_y),
    }


# name -> (function of (x, y, c), input sets it is differentiable on)
FUNCTIONS = {
    "dist": (lambda x, y, c: L.dist(x, y, c), ["generic", "near", "far", "ray", "origin"]),
    "pairwise_dist": (lambda x, y, c: L.pairwise_dist(x, y, c), ["generic", "far", "ray"]),
    "pairwise_inner": (lambda x, y, c: L.pairwise_inner(x, y, c), ["generic", "far", "origin"]),
    "inner": (lambda x, y, c: L.inner(x, y, c), ["generic", "near", "far", "origin"]),
    "expmap0": (lambda x, y, c: L.expmap0(y - x, c), ["generic", "near", "far", "origin"]),
    "logmap0": (lambda x, y, c: L.logmap0(x, c), ["generic", "far", "origin"]),
    "dist0": (lambda x, y, c: L.dist0(x, c), ["generic", "far"]),
    "half_aperture": (lambda x, y, c: L.half_aperture(x, c), ["generic", "far"]),
    "exterior_angle": (lambda x, y, c: L.exterior_angle(x, y, c), ["generic", "near", "far_cone"]),
    "to_poincare": (lambda x, y, c: L.to_poincare(x, c), ["generic", "far", "origin"]),
    "time_component": (lambda x, y, c: L.time_component(x, c), ["generic", "far", "origin"]),
    "lift": (lambda x, y, c: L.lift(x, c), ["generic", "origin"]),
    "project": (lambda x, y, c: L.project(torch.cat([y[..., :1], x], dim=-1), c), ["generic", "origin"]),
    "mips_database": (lambda x, y, c: L.mips_database(x, c), ["generic"]),
}

CASES = [(name, kind) for name, (_, kinds) in FUNCTIONS.items() for kind in kinds]


@pytest.mark.parametrize("c0", [0.05, 1.0, 20.0])
@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_gradcheck_points_and_scalar_curvature(name, kind, c0):
    f, _ = FUNCTIONS[name]
    x, y = input_sets(c0)[kind]
    if name == "half_aperture":
        assert (2 * 0.1 / (math.sqrt(c0) * x.norm(dim=-1)) < 1).all()
    if name == "exterior_angle":
        ext = L.exterior_angle(x, y, c0)
        assert ((ext > 1e-3) & (ext < math.pi - 1e-3)).all()
    x = x.clone().requires_grad_(True)
    y = y.clone().requires_grad_(True)
    c = torch.tensor(c0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, y, c), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name", ["dist", "expmap0", "logmap0", "dist0", "half_aperture", "exterior_angle", "to_poincare"])
def test_gradcheck_per_row_curvature(name):
    f, _ = FUNCTIONS[name]
    x, y = input_sets(1.0)["generic"]
    c = torch.tensor([20.0, 3.0, 0.7, 0.05], dtype=torch.float64, requires_grad=True)
    if name == "half_aperture":
        assert (2 * 0.1 / (c.detach().sqrt() * x.norm(dim=-1)) < 1).all()
    assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True), y.clone().requires_grad_(True), c), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_gradient_of_dist_at_the_origin_points_away_from_y():
    """d(x, y) at x = 0 has gradient -y~/||y~|| in x (the chart is Euclidean at the origin), despite the norm floor."""
    y = torch.tensor([[0.3, -1.2, 2.0], [5.0, 0.0, 0.0]], dtype=torch.float64)
    x = torch.zeros_like(y, requires_grad=True)
    for c in [0.05, 1.0, 20.0]:
        (g,) = torch.autograd.grad(L.dist(x, y, c).sum(), [x])
        torch.testing.assert_close(g, -y / y.norm(dim=-1, keepdim=True), rtol=1e-12, atol=1e-12)
