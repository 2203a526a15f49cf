"""Farthest point sampling against a naive reference; start points, cycling and input checks."""

from __future__ import annotations

import pytest
import torch

from hyperalign.sampling import farthest_point_sample


def cloud(b: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, n, 3, generator=torch.Generator().manual_seed(seed))


def naive_fps(xyz: torch.Tensor, m: int) -> list[list[int]]:
    """Reference FPS, one cloud at a time in plain Python over float64 points."""
    out = []
    for pts in xyz.double().tolist():
        centroid = [sum(p[d] for p in pts) / len(pts) for d in range(3)]
        sq = lambda a, b: sum((a[d] - b[d]) ** 2 for d in range(3))  # noqa: E731
        far = max(range(len(pts)), key=lambda i: (sq(pts[i], centroid), -i))
        picked, nearest = [], [float("inf")] * len(pts)
        for _ in range(m):
            picked.append(far)
            nearest = [min(nearest[i], sq(pts[i], pts[far])) for i in range(len(pts))]
            far = max(range(len(pts)), key=lambda i: (nearest[i], -i))
        out.append(picked)
    return out


def test_fps_matches_naive_reference():
    xyz = cloud(3, 40)
    assert farthest_point_sample(xyz, 12).tolist() == naive_fps(xyz, 12)


def test_fps_picks_the_cube_corners_first():
    corners = torch.tensor([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    inner = 0.5 * (torch.rand(20, 3, generator=torch.Generator().manual_seed(1)) - 0.5)
    xyz = torch.cat([inner[:10], corners, inner[10:]])[None]
    picked = farthest_point_sample(xyz, 8)[0]
    assert sorted(picked.tolist()) == list(range(10, 18))


def test_fps_start_and_cycling():
    xyz = cloud(2, 5)
    idx = farthest_point_sample(xyz, 12, start=torch.tensor([3, 0]))
    assert idx[:, 0].tolist() == [3, 0]
    assert all(sorted(row[:5]) == list(range(5)) for row in idx.tolist())
    assert torch.equal(idx[:, 5:10], idx[:, :5]) and torch.equal(idx[:, 10:], idx[:, :2])
    with pytest.raises(ValueError, match="start"):
        farthest_point_sample(xyz, 3, start=torch.tensor([5, 0]))
