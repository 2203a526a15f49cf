"""Point towers: sampling and grouping against naive references, shapes, invariances, gradients, input checks."""

from __future__ import annotations

import pydantic
import pytest
import torch

import hyperalign.encoders.points as points_mod
from hyperalign.encoders.points import (
    PointTowerConfig,
    build_point_tower,
    gather_points,
    knn,
    neighbour_max,
)

KINDS = ["pointnet2", "dgcnn", "pointnet"]


def small_cfg(kind: str, in_channels: int = 3, **kw) -> PointTowerConfig:
    return PointTowerConfig(kind=kind, in_channels=in_channels, num_tokens=8, k=6, width=16, dim=24, **kw)


def cloud(b: int, n: int, c: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, n, c, generator=torch.Generator().manual_seed(seed))


# --- sampling and grouping -------------------------------------------------------------------------------------


def test_knn_matches_brute_force_also_in_blocks(monkeypatch):
    query, ref = cloud(2, 9, 5, seed=1), cloud(2, 30, 5, seed=2)
    exact = torch.cdist(query.double(), ref.double())
    want_d = exact.sort(dim=-1).values[..., :4]
    for chunk in (1 << 22, 30):  # one block; then one query row per block
        monkeypatch.setattr(points_mod, "_CHUNK_ELEMENTS", chunk)
        idx = knn(query, ref, 4)
        assert idx.shape == (2, 9, 4)
        torch.testing.assert_close(exact.gather(2, idx), want_d)
    with pytest.raises(ValueError, match="k: expected"):
        knn(query, ref, 31)


def test_gather_points_values_and_range_check():
    x = cloud(2, 6, 4)
    idx = torch.tensor([[[0, 5], [2, 2]], [[1, 3], [4, 0]]])
    out = gather_points(x, idx)
    assert out.shape == (2, 2, 2, 4)
    assert torch.equal(out[1, 0, 1], x[1, 3]) and torch.equal(out[0, 1, 0], x[0, 2])
    with pytest.raises(IndexError, match=r"\[0, 6\)"):
        gather_points(x, idx + 2)


def test_neighbour_max_matches_amax_values_and_gradients(monkeypatch):
    x = cloud(3, 20, 5).requires_grad_()
    idx = knn(x.detach()[:, :7], x.detach(), 4)
    weights = torch.randn(3, 7, 5)
    ref = gather_points(x, idx).amax(dim=2)
    (grad_ref,) = torch.autograd.grad((ref * weights).sum(), x)
    monkeypatch.setattr(points_mod, "_CHUNK_ELEMENTS", 1)  # one cloud per block
    out = neighbour_max(x, idx)
    (grad,) = torch.autograd.grad((out * weights).sum(), x)
    assert torch.equal(out, ref)
    torch.testing.assert_close(grad, grad_ref)


# --- towers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_channels", [3, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_tower_shapes(kind, in_channels):
    tower = build_point_tower(small_cfg(kind, in_channels))
    tokens = tower(cloud(2, 50, in_channels))
    assert tokens.shape == (2, 8, 24) and tokens.dtype == torch.float32
    assert torch.isfinite(tokens).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 4, 7])  # N < k = 6 or N < num_tokens = 8
def test_tower_handles_small_clouds(kind, n):
    tokens = build_point_tower(small_cfg(kind))(cloud(2, n))
    assert tokens.shape == (2, 8, 24) and torch.isfinite(tokens).all()


@pytest.mark.parametrize("kind", KINDS)
def test_tower_is_deterministic_and_batch_independent(kind):
    torch.manual_seed(0)
    tower = build_point_tower(small_cfg(kind, 6))
    x = cloud(3, 40, 6)
    out = tower(x)
    assert torch.equal(out, tower(x))
    torch.testing.assert_close(tower(x[1:2]), out[1:2], atol=1e-5, rtol=1e-5)
    tower.eval()
    torch.testing.assert_close(tower(x), out)


@pytest.mark.parametrize("kind", KINDS)
def test_tower_is_invariant_to_point_order(kind):
    torch.manual_seed(0)
    tower = build_point_tower(small_cfg(kind, 6))
    x = cloud(2, 60, 6)
    shuffled = x[:, torch.randperm(60, generator=torch.Generator().manual_seed(3))]
    torch.testing.assert_close(tower(shuffled), tower(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_every_parameter(kind):
    torch.manual_seed(0)
    tower = build_point_tower(small_cfg(kind, 6))
    x = cloud(2, 40, 6).requires_grad_()
    (tower(x) * torch.randn(2, 8, 24)).sum().backward()
    for name, p in tower.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("shape", "match"),
    [((2, 10), r"expected shape \(B, N, 3\) with N >= 1, got \(2, 10\)"), ((2, 10, 4), r"got \(2, 10, 4\)"),
     ((2, 0, 3), r"got \(2, 0, 3\)")],
)
def test_bad_shapes_are_refused(shape, match):
    with pytest.raises(ValueError, match=match):
        build_point_tower(small_cfg("pointnet"))(torch.zeros(shape))


def test_bad_values_and_configs_are_refused():
    tower = build_point_tower(small_cfg("pointnet"))
    x = cloud(1, 10)
    x[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        tower(x)
    with pytest.raises(TypeError, match="floating-point"):
        tower(torch.zeros(1, 10, 3, dtype=torch.long))
    with pytest.raises(pydantic.ValidationError, match="extra"):
        PointTowerConfig(kind="pointnet", depth=3)
    with pytest.raises(pydantic.ValidationError, match="kind"):
        PointTowerConfig(kind="pointmlp")


def test_box_tower_sees_only_the_bounding_box():
    """The size-only baseline: one token, a function of the box extents alone (not of point order, position,
    colour or the points inside the box)."""
    torch.manual_seed(0)
    tower = build_point_tower(small_cfg("box", in_channels=6))
    a = torch.rand(2, 50, 6)
    tokens = tower(a)
    assert tokens.shape == (2, 1, 24)
    moved = a.clone()
    moved[..., :3] += torch.tensor([0.3, -0.2, 0.1])  # translated
    moved[..., 3:] = torch.rand(2, 50, 3)  # other colours
    moved = moved[:, torch.randperm(50)]
    torch.testing.assert_close(tower(moved), tokens, rtol=1e-5, atol=1e-6)
    stretched = a.clone()
    stretched[..., 1] *= 2.0
    assert not torch.allclose(tower(stretched), tokens, atol=1e-4)
