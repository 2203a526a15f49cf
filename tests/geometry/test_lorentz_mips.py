"""The exact reduction of Lorentz nearest-neighbour search to maximum inner product search (MIPS).

``mips_query(q) . mips_database(y) = q_0 (-y_0) + <q~, y~> = <q, y>_L``, and ``d = acosh(-c <q, y>_L) / sqrt(c)`` is
decreasing in ``<q, y>_L``: the top-k by inner product are the k nearest points. Checked against brute force in
float64 (``dist`` pointwise and ``pairwise_dist``): same ids in the same order. Test data is checked to have no
near-ties among the first k + 1 neighbours (relative gap > 1e-9), so equal order is a fair requirement; exact
duplicates in the database are tested separately (same set of distances, tied ids interchangeable).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lorentz_reference import points_at, unit_directions

from hyperalign.geometry import lorentz as L

K = 10


def _cloud(gen: torch.Generator, n: int, dim: int, c: float, hi: float) -> torch.Tensor:
    r = torch.empty(n, dtype=torch.float64).uniform_(0.0, hi, generator=gen)
    return points_at(unit_directions(gen, n, dim), r, c)


def _brute_force(q: torch.Tensor, db: torch.Tensor, c: float, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    d = L.dist(q.unsqueeze(1), db.unsqueeze(0), c)
    d_sorted, ids = torch.sort(d, dim=1, stable=True)
    return ids[:, :k], d_sorted[:, : k + 1]


def _mips_topk(q: torch.Tensor, db: torch.Tensor, c: float, k: int) -> torch.Tensor:
    scores = L.mips_query(q, c) @ L.mips_database(db, c).T
    return scores.topk(k, dim=1, largest=True, sorted=True).indices


@pytest.mark.parametrize("c", [0.05, 0.5, 1.0, 5.0, 20.0])
@pytest.mark.parametrize("spread", [2.0, 6.0])
def test_mips_top_k_equals_brute_force_nearest_neighbours(c, spread):
    g = torch.Generator().manual_seed(int(1000 * c + spread))
    q = _cloud(g, 16, 8, c, spread)
    db = _cloud(g, 400, 8, c, spread)
    ref_ids, ref_d = _brute_force(q, db, c, K)
    gaps = (ref_d[:, 1:] - ref_d[:, :-1]) / ref_d[:, 1:]
    assert gaps.min() > 1e-9, "test data has near-ties; regenerate"
    assert torch.equal(_mips_topk(q, db, c, K), ref_ids)
    assert torch.equal(L.pairwise_dist(q, db, c).topk(K, dim=1, largest=False, sorted=True).indices, ref_ids)
    # the reduction is the Minkowski inner product, exactly as pairwise_inner computes it (up to rounding)
    scores = L.mips_query(q, c) @ L.mips_database(db, c).T
    torch.testing.assert_close(scores, L.pairwise_inner(q, db, c), rtol=1e-12, atol=1e-12 / c)
    # and the distances follow from the scores
    near = ref_ids[:, 0]
    s_best = scores.gather(1, near.unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(torch.acosh(-c * s_best) / math.sqrt(c), ref_d[:, 0], rtol=1e-6, atol=1e-6)


def test_mips_shapes_and_time_first_layout():
    x = torch.randn(5, 3, dtype=torch.float64)
    qf, df = L.mips_query(x, 2.0), L.mips_database(x, 2.0)
    assert qf.shape == df.shape == (5, 4)
    torch.testing.assert_close(qf[:, 0], L.time_component(x, 2.0), rtol=0, atol=0)
    torch.testing.assert_close(df[:, 0], -L.time_component(x, 2.0), rtol=0, atol=0)
    assert torch.equal(qf[:, 1:], x) and torch.equal(df[:, 1:], x)
    # the self inner product is -1/c: every point is its own nearest neighbour
    torch.testing.assert_close((qf * df).sum(-1), torch.full((5,), -0.5, dtype=torch.float64), rtol=1e-12, atol=0)


def test_mips_with_exact_duplicates_returns_the_tied_ids_in_some_order():
    g = torch.Generator().manual_seed(11)
    c = 1.0
    db = _cloud(g, 50, 4, c, 3.0)
    db = torch.cat([db, db[:5]])  # ids i and 50 + i are the same point
    q = db[:5] + 1e-3 * unit_directions(g, 5, 4)
    top2 = _mips_topk(q, db, c, 2)
    for i in range(5):
        assert set(top2[i].tolist()) == {i, 50 + i}


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    c=st.floats(0.05, 20.0),
    spread=st.floats(0.1, 8.0),
    seed=st.integers(0, 2**31 - 1),
    dim=st.integers(2, 6),
)
def test_mips_nearest_neighbour_property(c, spread, seed, dim):
    g = torch.Generator().manual_seed(seed)
    q = _cloud(g, 4, dim, c, spread)
    db = _cloud(g, 64, dim, c, spread)
    ref_ids, ref_d = _brute_force(q, db, c, 3)
    clear = ((ref_d[:, 1:] - ref_d[:, :-1]) / ref_d[:, 1:]).min(dim=1).values > 1e-9
    assert torch.equal(_mips_topk(q, db, c, 3)[clear], ref_ids[clear])
