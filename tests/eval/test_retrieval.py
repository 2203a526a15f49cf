"""Retrieval metrics against brute-force Python references, chunking, tie handling and error paths."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from hyperalign.eval.retrieval import (
    average_precision,
    cross_modal_metrics,
    first_relevant_ranks,
    format_table,
    rank_metrics,
    relevance_matrix,
    retrieval_metrics,
)

KS = (1, 5, 10)


# ---------------------------------------------------------------- brute-force references (plain Python)


def _pessimistic_order(dist_row: list[float], rel_row: list[bool]) -> list[bool]:
    """Relevance flags in ranked order: ascending distance, irrelevant items first within ties."""
    return [r for _, r in sorted(zip(dist_row, rel_row), key=lambda pair: (pair[0], pair[1]))]


def ref_ranks(dist: torch.Tensor, relevant: torch.Tensor) -> list[int]:
    return [_pessimistic_order(d, r).index(True) + 1 for d, r in zip(dist.tolist(), relevant.tolist())]


def ref_metrics(ranks: list[int], ks=KS, prefix: str = "") -> dict[str, float]:
    out = {f"{prefix}R@{k}": sum(r <= k for r in ranks) / len(ranks) for k in ks}
    out[f"{prefix}MedR"] = float(statistics.median(ranks))
    out[f"{prefix}MeanR"] = sum(ranks) / len(ranks)
    out[f"{prefix}MRR"] = sum(1 / r for r in ranks) / len(ranks)
    return out


def ref_average_precision(dist: torch.Tensor, relevant: torch.Tensor) -> list[float]:
    aps = []
    for d, r in zip(dist.tolist(), relevant.tolist()):
        order = _pessimistic_order(d, r)
        hits, precisions = 0, []
        for position, hit in enumerate(order, start=1):
            if hit:
                hits += 1
                precisions.append(hits / position)
        aps.append(sum(precisions) / len(precisions))
    return aps


def random_relevance(gen: torch.Generator, n_queries: int, n_gallery: int, p: float = 0.2) -> torch.Tensor:
    """Random multi-positive relevance with at least one relevant item per query."""
    relevant = torch.rand(n_queries, n_gallery, generator=gen) < p
    forced = torch.randint(n_gallery, (n_queries,), generator=gen)
    relevant[torch.arange(n_queries), forced] = True
    return relevant


def random_dist(gen: torch.Generator, n_queries: int, n_gallery: int, integer: bool) -> torch.Tensor:
    if integer:  # few distinct values: many ties
        return torch.randint(0, 4, (n_queries, n_gallery), generator=gen).float()
    return torch.rand(n_queries, n_gallery, generator=gen, dtype=torch.float64)


def assert_metrics_close(got: dict[str, float], want: dict[str, float]) -> None:
    assert list(got) == list(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), key


CASES = [(seed, q, g, integer) for seed in range(6) for q, g in [(1, 1), (7, 3), (20, 15)] for integer in (False, True)]


# ---------------------------------------------------------------- ranks and metrics


@pytest.mark.parametrize("seed,n_queries,n_gallery,integer", CASES)
def test_ranks_and_metrics_match_brute_force(seed: int, n_queries: int, n_gallery: int, integer: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    dist = random_dist(gen, n_queries, n_gallery, integer)
    relevant = random_relevance(gen, n_queries, n_gallery, p=0.3)
    ranks = first_relevant_ranks(dist, relevant)
    assert ranks.dtype == torch.long and ranks.shape == (n_queries,)
    assert ranks.tolist() == ref_ranks(dist, relevant)
    assert_metrics_close(rank_metrics(ranks, KS, prefix="x_"), ref_metrics(ranks.tolist(), KS, prefix="x_"))


@pytest.mark.parametrize("seed,n_queries,n_gallery,integer", CASES)
def test_average_precision_matches_brute_force(seed: int, n_queries: int, n_gallery: int, integer: bool) -> None:
    gen = torch.Generator().manual_seed(100 + seed)
    dist = random_dist(gen, n_queries, n_gallery, integer)
    relevant = random_relevance(gen, n_queries, n_gallery, p=0.3)
    ap = average_precision(dist, relevant)
    assert ap.dtype == torch.float64 and ap.shape == (n_queries,)
    np.testing.assert_allclose(ap.numpy(), ref_average_precision(dist, relevant), rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_matches_sklearn_without_ties(seed: int) -> None:
    gen = torch.Generator().manual_seed(200 + seed)
    dist = torch.randn(12, 30, generator=gen, dtype=torch.float64)
    relevant = random_relevance(gen, 12, 30, p=0.25)
    ap = average_precision(dist, relevant)
    want = [average_precision_score(r, -d) for d, r in zip(dist.numpy(), relevant.numpy())]
    np.testing.assert_allclose(ap.numpy(), want, rtol=1e-12)


def test_ties_count_against_the_model() -> None:
    dist = torch.tensor([[1.0, 1.0, 1.0, 2.0], [0.5, 1.0, 1.0, 1.0]])
    relevant = torch.tensor([[False, True, False, False], [False, False, True, True]])
    assert first_relevant_ranks(dist, relevant).tolist() == [3, 3]
    # Row 0 order: irrelevant, irrelevant, relevant, irrelevant; row 1: irrelevant, irrelevant, relevant, relevant.
    np.testing.assert_allclose(average_precision(dist, relevant).numpy(), [1 / 3, (1 / 3 + 2 / 4) / 2])


def test_constant_distances_give_worst_case_ranks() -> None:
    gen = torch.Generator().manual_seed(3)
    relevant = random_relevance(gen, 25, 9, p=0.3)
    relevant[:, 0] = False
    relevant[torch.arange(25), 1 + torch.arange(25) % 8] = True
    ranks = first_relevant_ranks(torch.zeros(25, 9), relevant)
    assert ranks.tolist() == (1 + (~relevant).sum(dim=1)).tolist()
    assert rank_metrics(ranks)["R@1"] == 0.0


def test_integer_dtype_distances_are_accepted() -> None:
    dist = torch.tensor([[3, 1, 2], [0, 0, 5]])
    relevant = torch.tensor([[True, False, False], [False, True, False]])
    assert first_relevant_ranks(dist, relevant).tolist() == [3, 2]


def test_rank_metrics_median_is_mean_of_middle_pair() -> None:
    metrics = rank_metrics(torch.tensor([1, 2, 7, 10]), ks=(1, 2))
    mrr = (1 + 1 / 2 + 1 / 7 + 1 / 10) / 4
    assert metrics == {"R@1": 0.25, "R@2": 0.5, "MedR": 4.5, "MeanR": 5.0, "MRR": pytest.approx(mrr)}


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize("chunk_size", [1, 8, 36, 37, 1000])
def test_chunked_equals_full_matrix(chunk_size: int) -> None:
    gen = torch.Generator().manual_seed(11)
    queries, gallery = torch.randn(37, 4, generator=gen), torch.randn(23, 4, generator=gen)
    queries[5] = queries[6]  # duplicate rows and a rounded metric make ties across and within blocks
    relevant = random_relevance(gen, 37, 23, p=0.15)

    def distance(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return torch.cdist(q, g).round(decimals=1)

    calls: list[int] = []

    def spy(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        calls.append(q.shape[0])
        return distance(q, g)

    full = distance(queries, gallery)
    want = ref_metrics(ref_ranks(full, relevant), KS, prefix="p/")
    got = retrieval_metrics(queries, gallery, relevant, spy, chunk_size=chunk_size, prefix="p/")
    assert_metrics_close(got, want)
    assert_metrics_close(got, rank_metrics(first_relevant_ranks(full, relevant), KS, prefix="p/"))
    assert calls == [min(chunk_size, 37 - s) for s in range(0, 37, chunk_size)]


def test_chunked_errors_name_the_global_query_index() -> None:
    gen = torch.Generator().manual_seed(12)
    queries, gallery = torch.randn(37, 3, generator=gen), torch.randn(10, 3, generator=gen)
    relevant = random_relevance(gen, 37, 10)
    relevant[30] = False
    with pytest.raises(ValueError, match=r"query 30 has no relevant"):
        retrieval_metrics(queries, gallery, relevant, torch.cdist, chunk_size=8)
    relevant[30, 0] = True
    queries[33, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN at query 33"):
        retrieval_metrics(queries, gallery, relevant, torch.cdist, chunk_size=8)


def test_distance_with_wrong_output_shape_is_rejected() -> None:
    queries, gallery = torch.randn(5, 3), torch.randn(4, 3)
    relevant = torch.ones(5, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"distance returned shape \(4, 5\)"):
        retrieval_metrics(queries, gallery, relevant, lambda q, g: torch.cdist(g, q), chunk_size=8)


# ---------------------------------------------------------------- errors


def test_query_without_relevant_item_raises_with_its_index() -> None:
    relevant = torch.tensor([[True, False], [False, False], [False, True]])
    with pytest.raises(ValueError, match=r"query 1 has no relevant"):
        first_relevant_ranks(torch.rand(3, 2), relevant)
    with pytest.raises(ValueError, match=r"query 1 has no relevant"):
        average_precision(torch.rand(3, 2), relevant)


def test_nan_distance_raises() -> None:
    dist = torch.rand(3, 4)
    dist[2, 1] = float("nan")
    relevant = torch.ones(3, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"NaN at query 2, gallery item 1"):
        first_relevant_ranks(dist, relevant)
    with pytest.raises(ValueError, match="NaN"):
        average_precision(dist, relevant)


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(TypeError, match="torch.bool"):
        first_relevant_ranks(torch.rand(2, 2), torch.eye(2))
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        first_relevant_ranks(torch.rand(2, 3), torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="empty"):
        rank_metrics(torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="1-based"):
        rank_metrics(torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        rank_metrics(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="chunk_size"):
        everything = torch.ones(2, 2, dtype=torch.bool)
        retrieval_metrics(torch.rand(2, 2), torch.rand(2, 2), everything, torch.cdist, chunk_size=0)


# ---------------------------------------------------------------- cross-modal


def test_cross_modal_identity_is_perfect() -> None:
    emb = torch.eye(6)
    metrics = cross_modal_metrics(emb, emb.clone(), torch.eye(6, dtype=torch.bool), torch.cdist, chunk_size=4)
    for direction in ("t2s", "s2t"):
        assert metrics[f"{direction}_R@1"] == 1.0 and metrics[f"{direction}_MRR"] == 1.0
        assert metrics[f"{direction}_MedR"] == 1.0
    assert metrics["rsum"] == pytest.approx(600.0)
    assert (metrics["n_text"], metrics["n_shapes"]) == (6, 6)


def test_cross_modal_reversed_pairs_have_known_ranks() -> None:
    # Points 0..4 on a line; caption i belongs to shape 4 - i. Ranks (both ways) are 5, 4, 1, 4, 5.
    points = torch.arange(5, dtype=torch.float64).unsqueeze(1)
    text_to_shape = torch.eye(5, dtype=torch.bool).flip(1)
    metrics = cross_modal_metrics(points, points.clone(), text_to_shape, torch.cdist, chunk_size=2)
    for direction in ("t2s", "s2t"):
        assert_metrics_close(
            {k: v for k, v in metrics.items() if k.startswith(direction)},
            {f"{direction}_R@1": 0.2, f"{direction}_R@5": 1.0, f"{direction}_R@10": 1.0, f"{direction}_MedR": 4.0,
             f"{direction}_MeanR": 3.8, f"{direction}_MRR": (1 / 5 + 1 / 4 + 1 + 1 / 4 + 1 / 5) / 5},
        )
    assert metrics["rsum"] == pytest.approx(440.0)


def test_shape_query_is_correct_if_any_caption_is_retrieved() -> None:
    shapes = torch.tensor([[0.0], [10.0]])
    text = torch.tensor([[0.1], [20.0], [10.1], [9.0]])  # captions 0, 1 -> shape 0; 2, 3 -> shape 1
    text_to_shape = torch.tensor([[True, False], [True, False], [False, True], [False, True]])
    metrics = cross_modal_metrics(text, shapes, text_to_shape, torch.cdist, ks=(1, 2))
    assert metrics["t2s_R@1"] == 0.75 and metrics["t2s_R@2"] == 1.0  # caption 1 is nearer shape 1
    assert metrics["s2t_R@1"] == 1.0
    assert metrics["rsum"] == pytest.approx(100 * (0.75 + 1.0 + 1.0 + 1.0))
    assert (metrics["n_text"], metrics["n_shapes"]) == (4, 2)


@pytest.mark.parametrize("seed", range(3))
def test_rsum_is_sum_of_recalls_in_percent(seed: int) -> None:
    gen = torch.Generator().manual_seed(300 + seed)
    text, shapes = torch.randn(40, 3, generator=gen), torch.randn(15, 3, generator=gen)
    text_to_shape = torch.zeros(40, 15, dtype=torch.bool)
    text_to_shape[torch.arange(40), torch.arange(40) % 15] = True
    metrics = cross_modal_metrics(text, shapes, text_to_shape, torch.cdist, chunk_size=7)
    want = 100 * sum(metrics[f"{d}_R@{k}"] for d in ("t2s", "s2t") for k in KS)
    assert metrics["rsum"] == pytest.approx(want, rel=1e-12)
    t2s = ref_metrics(ref_ranks(torch.cdist(text, shapes), text_to_shape), KS, prefix="t2s_")
    s2t = ref_metrics(ref_ranks(torch.cdist(shapes, text), text_to_shape.T), KS, prefix="s2t_")
    assert_metrics_close({k: v for k, v in metrics.items() if k[:4] in ("t2s_", "s2t_")}, {**t2s, **s2t})


def test_shape_without_caption_raises() -> None:
    text_to_shape = torch.tensor([[True, False, False], [True, False, False]])
    with pytest.raises(ValueError, match="shape 1 has no caption"):
        cross_modal_metrics(torch.rand(2, 3), torch.rand(3, 3), text_to_shape, torch.cdist)


# ---------------------------------------------------------------- relevance and table


def test_relevance_matrix() -> None:
    gallery_ids = ["chair", "table", "chair", "lamp"]
    relevant = relevance_matrix([{"chair"}, ["lamp", "sofa"], {"table", "lamp"}, set()], gallery_ids)
    assert relevant.dtype == torch.bool
    assert relevant.tolist() == [
        [True, False, True, False],
        [False, False, False, True],
        [False, True, False, True],
        [False, False, False, False],
    ]
    with pytest.raises(TypeError, match=r"query_targets\[1\] is a str"):
        relevance_matrix([{"chair"}, "chair"], gallery_ids)


def test_format_table_lists_every_metric() -> None:
    metrics = cross_modal_metrics(torch.eye(3), torch.eye(3), torch.eye(3, dtype=torch.bool), torch.cdist)
    metrics["t2s_R@5"] = 0.123456
    table = format_table(metrics, title="demo / test")
    lines = table.splitlines()
    assert lines[0] == "demo / test"
    for key in metrics:
        assert any(line.split()[0] == key for line in lines[3:]), key
    assert "12.35%" in table and "100.00%" in table and "600.00" in table
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns
    assert format_table({"R@1": 0.5}).splitlines()[0].startswith("metric")
