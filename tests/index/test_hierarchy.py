"""Hierarchy queries: cone membership and order checked against the geometry functions directly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.index import LorentzIndex
from hyperalign.index.hierarchy import generality, more_general, more_specific

C = 1.3
K = 0.1


@pytest.fixture(scope="module")
def chain():
    """A ray of points (origin outwards) plus scattered ones: inner points of the ray entail the outer ones."""
    rng = np.random.default_rng(0)
    direction = rng.normal(size=8)
    direction /= np.linalg.norm(direction)
    ray = np.stack([direction * r for r in (0.5, 1.0, 1.5, 2.0, 2.5)])
    scattered = rng.normal(size=(300, 8)) * 1.2
    tangent = torch.from_numpy(np.concatenate([ray, scattered]))
    points = lorentz.expmap0(tangent, C).numpy()
    index = LorentzIndex(8, C)
    index.add(points, ids=np.arange(len(points)) + 100)
    return index, points


def _expected(points, query, k, direction):
    p = torch.from_numpy(points).double()
    q = torch.from_numpy(query).double().expand_as(p)
    if direction == "specific":
        inside = lorentz.exterior_angle(q, p, C) <= lorentz.half_aperture(q, C, K)
    else:
        inside = lorentz.exterior_angle(p, q, C) <= lorentz.half_aperture(p, C, K)
    d = lorentz.dist(q, p, C).numpy()
    rows = [r for r in np.argsort(d, kind="stable") if inside[r]][:k]
    return [r + 100 for r in rows], d[rows]


@pytest.mark.parametrize("direction", ["general", "specific"])
def test_cone_queries_match_the_geometry(chain, direction):
    index, points = chain
    fn = more_general if direction == "general" else more_specific
    for row in (0, 2, 4, 10, 50):
        dist, ids = fn(index, points[row : row + 1], 5, K, exclude=[row + 100])
        want_ids, want_d = _expected(np.delete(points, row, 0), points[row : row + 1], 5, direction)
        want_ids = [i if i - 100 < row else i + 1 for i in want_ids]  # undo the deletion's shift
        got = [i for i in ids[0] if i >= 0]
        assert got == want_ids
        np.testing.assert_allclose(dist[0, : len(got)], want_d, rtol=1e-6)
        assert (ids[0, len(got) :] == -1).all()


def test_the_ray_is_ordered(chain):
    index, points = chain
    _, general = more_general(index, points[2:3], 5, K, exclude=[102])
    _, specific = more_specific(index, points[2:3], 5, K, exclude=[102])
    assert {101, 100} <= set(general[0].tolist())  # the inner ray points entail the middle one
    assert {103, 104} <= set(specific[0].tolist())
    assert generality(index, [100, 102, 104]).tolist() == sorted(generality(index, [100, 102, 104]).tolist())


def test_cosine_index_has_no_cones():
    index = LorentzIndex(4, None)
    index.add(np.eye(4))
    with pytest.raises(ValueError, match="no entailment cones"):
        more_general(index, np.eye(4)[:1])
