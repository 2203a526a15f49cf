"""Hierarchy queries: cone membership, generality and order checked against the geometry functions directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.index import LorentzIndex
from hyperalign.index.hierarchy import generality, more_general, more_specific

C = 1.3
K = 0.1
OFFSET = 100  # ids are rows + OFFSET


@pytest.fixture(scope="module")
def chain():
    """A ray of points (origin outwards) plus scattered ones: inner points of the ray entail the outer ones."""
    rng = np.random.default_rng(0)
    direction = rng.normal(size=8)
    direction /= np.linalg.norm(direction)
    ray = np.stack([direction * r for r in (0.5, 1.0, 1.5, 2.0, 2.5)])
    scattered = rng.normal(size=(300, 8)) * 1.2
    points = lorentz.expmap0(torch.from_numpy(np.concatenate([ray, scattered])), C).numpy()
    index = LorentzIndex(8, C)
    index.add(points, ids=np.arange(len(points)) + OFFSET)
    return index, points


def _expected(points, row, k, direction, strict):
    """Rank every other point by (violation, distance) among those on the right side of the query's generality."""
    p = torch.from_numpy(points).double()
    q = p[row].expand_as(p)
    if direction == "specific":
        violation = lorentz.exterior_angle(q, p, C) - lorentz.half_aperture(q, C, K)
        side = lorentz.dist0(p, C) > lorentz.dist0(q, C)
    else:
        violation = lorentz.exterior_angle(p, q, C) - lorentz.half_aperture(p, C, K)
        side = lorentz.dist0(p, C) < lorentz.dist0(q, C)
    violation = violation.clamp_min(0).numpy()
    d = lorentz.dist(q, p, C).numpy()
    rows = [r for r in range(len(points)) if r != row and side[r] and (violation[r] == 0 or not strict)]
    rows.sort(key=lambda r: (violation[r], d[r], r))
    rows = rows[:k]
    return np.array(rows, dtype=np.int64) + OFFSET, d[rows], violation[rows]


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "near-misses"])
@pytest.mark.parametrize("direction", ["general", "specific"])
def test_cone_queries_match_the_geometry(chain, direction, strict):
    index, points = chain
    fn = more_general if direction == "general" else more_specific
    for row in (0, 2, 4, 10, 50):
        hits = fn(index, points[row : row + 1], 5, K, exclude=[row + OFFSET], strict=strict)
        want_ids, want_d, want_v = _expected(points, row, 5, direction, strict)
        n = len(want_ids)
        np.testing.assert_array_equal(hits.ids[0, :n], want_ids)
        assert (hits.ids[0, n:] == -1).all()
        np.testing.assert_allclose(hits.distances[0, :n], want_d, rtol=1e-6)
        np.testing.assert_allclose(hits.violations[0, :n], want_v, rtol=1e-5, atol=1e-7)
        if strict:
            assert (hits.violations[0, :n] == 0).all()
        else:
            assert n == 5 or direction == "general"  # near misses fill up the list when enough points qualify


def test_the_ray_is_ordered(chain):
    index, points = chain
    general = more_general(index, points[2:3], 5, K, exclude=[102]).ids[0]
    specific = more_specific(index, points[2:3], 5, K, exclude=[102]).ids[0]
    assert general[:2].tolist() == [101, 100]  # the inner ray points entail the middle one, nearest first
    assert specific[:2].tolist() == [103, 104]
    assert generality(index, [100, 102, 104]).tolist() == sorted(generality(index, [100, 102, 104]).tolist())


def test_cosine_index_has_no_cones():
    index = LorentzIndex(4, None)
    index.add(np.eye(4))
    with pytest.raises(ValueError, match="no entailment cones"):
        more_general(index, np.eye(4)[:1])
