"""Hierarchy metrics on toy trees with known answers."""

import math

import pytest
import torch

from hyperalign.data.layout import Node
from hyperalign.eval.hierarchy import (
    PEP_POOLS,
    Tree,
    cut_label,
    depth_spearman,
    entailment_relations,
    exclude_top5_pool,
    hierarchical_classification,
    local_top5_pool,
    pep_metrics,
    pep_scores,
    tree_cuts,
)
from hyperalign.geometry import lorentz

# categories A, B; leaves A1, A2 (under A), B1, B2 (under B)
NODES = [
    Node(id="A", level="category", captions=["a"]),
    Node(id="B", level="category", captions=["b"]),
    Node(id="A1", parent="A", level="subtype", captions=["a1"]),
    Node(id="A2", parent="A", level="subtype", captions=["a2"]),
    Node(id="B1", parent="B", level="subtype", captions=["b1"]),
    Node(id="B2", parent="B", level="subtype", captions=["b2"]),
]
TREE = Tree.from_nodes(NODES)
CAPTION_NODES = ["A", "B", "A1", "A2", "B1", "B2"]


def _dist(nearest_category, nearest_leaf):
    """(S, 6) distances: 1 to every caption, 0.5 to the chosen category and 0.1 to the chosen leaf."""
    d = torch.ones(len(nearest_leaf), len(CAPTION_NODES))
    for s, (cat, leaf) in enumerate(zip(nearest_category, nearest_leaf)):
        d[s, CAPTION_NODES.index(cat)] = 0.5
        d[s, CAPTION_NODES.index(leaf)] = 0.1
    return d


def test_tree_helpers():
    assert TREE.internal() == ["A", "B"] and TREE.leaves() == ["A1", "A2", "B1", "B2"]
    assert TREE.path("B2") == ["B", "B2"]
    assert cut_label(TREE, "A1", frozenset({"A"})) == "A"
    assert cut_label(TREE, "B1", frozenset({"A"})) is None  # mapped to the (virtual) root
    assert cut_label(TREE, "A", frozenset({"A"})) == "A"


def test_la_hca_mta_on_toy_tree():
    items = ["A1", "A2", "B1", "B2"]
    # shape 0: all right; shape 1: leaf wrong (A1), category right; shape 2: leaf right, category wrong (A);
    # shape 3: leaf A1 (wrong, other category), category B (right)
    dist = _dist(["A", "A", "A", "B"], ["A1", "A1", "B1", "A1"])
    cuts = [frozenset(), frozenset({"A"}), frozenset({"A", "B"})]
    m = hierarchical_classification(dist, CAPTION_NODES, items, TREE, cuts)
    assert m["LA"] == 0.5
    assert m["HCA"] == 0.25
    # cut {}: everything maps to the root, 4/4; cut {A}: shape 3 (A1 -> A vs B2 -> root) wrong, 3/4; cut {A, B}: 3/4
    assert m["MTA"] == pytest.approx((1.0 + 0.75 + 0.75) / 3)


def test_ties_count_against_the_model():
    dist = torch.ones(1, len(CAPTION_NODES))  # every caption equally near
    m = hierarchical_classification(dist, CAPTION_NODES, ["A1"], TREE, [frozenset()])
    assert m["LA"] == 0.0 and m["HCA"] == 0.0 and m["MTA"] == 1.0


def test_nearest_caption_decides_for_nodes_with_several_captions():
    dist = torch.tensor([[1.0, 1.0, 0.9, 0.3, 1.0, 1.0, 0.2]])  # the second caption of A1 is the nearest of all
    m = hierarchical_classification(dist, [*CAPTION_NODES, "A1"], ["A1"], TREE, [frozenset()])
    assert m["LA"] == 1.0


def test_classification_input_errors():
    with pytest.raises(ValueError, match="expected"):
        hierarchical_classification(torch.ones(2, 6), CAPTION_NODES, ["A1"], TREE, [])
    with pytest.raises(ValueError, match="not in the tree"):
        hierarchical_classification(torch.ones(1, 6), CAPTION_NODES, ["Z"], TREE, [])


def test_tree_cuts_are_deterministic_and_follow_p():
    nodes = [Node(id=f"n{i}", level="category") for i in range(200)]
    nodes += [Node(id=f"l{i}", parent=f"n{i}", level="subtype") for i in range(200)]
    tree = Tree.from_nodes(nodes)
    cuts = tree_cuts(tree)
    assert len(cuts) == 25 and cuts == tree_cuts(tree) and cuts != tree_cuts(tree, seed=1)
    kept = [len(c) / 200 for c in cuts]
    for i, p in enumerate((0.1, 0.3, 0.5, 0.7, 0.9)):
        assert abs(sum(kept[5 * i : 5 * i + 5]) / 5 - (1 - p)) < 0.05
    assert all(c <= set(tree.internal()) for c in cuts)
    assert tree_cuts(tree, ps=(0.0, 1.0), per_p=1) == [frozenset(tree.internal()), frozenset()]


def test_entailment_relations_from_relevance():
    # captions: 0 "chair" (shapes 0, 1), 1 "armchair" (0), 2 "red armchair" (0), 3 "table" (2), 4 "seat" (0, 1)
    rel = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1], [1, 1, 0]], dtype=torch.bool)
    depth = [1, 2, 3, 1, 1]
    entails, unrelated = entailment_relations(rel, depth)
    caption_part = entails[:, :5]
    assert caption_part.nonzero().tolist() == [[0, 1], [0, 2], [1, 2], [4, 1], [4, 2]]
    assert torch.equal(entails[:, 5:], rel)
    assert unrelated[3].tolist() == [True, True, True, False, True] and not unrelated[0, 4]


def _chain_embedding():
    """Two categories on orthogonal rays; along each ray: category caption, sub-type caption, instance caption, shape
    at growing distance from the origin (perfect entailment)."""
    radii = [0.3, 1.0, 2.0, 3.0]
    text, shapes, rel, depth = [], [], [], []
    for direction in torch.eye(2, dtype=torch.float64):
        for level, r in enumerate(radii[:3]):
            text.append(lorentz.expmap0(r * direction, 1.0))
            depth.append(level + 1)
        shapes.append(lorentz.expmap0(radii[3] * direction, 1.0))
    for t in range(6):
        rel.append([t // 3 == s for s in range(2)])
    return torch.stack(text), torch.stack(shapes), torch.tensor(rel), depth


def test_pep_perfect_hierarchy_has_auc_one():
    text, shapes, rel, depth = _chain_embedding()
    entails, unrelated = entailment_relations(rel, depth)
    entities = torch.cat([text, shapes])
    for name, rule in PEP_POOLS.items():
        x, y, labels = rule(entails, unrelated, lorentz.pairwise_dist(text, text, 1.0), k=1)
        m = pep_metrics(pep_scores(entities, x, y, 1.0), labels)
        assert m["PEP_AUC"] == pytest.approx(1.0) and m["PEP_AP"] == pytest.approx(1.0), name
    # 6 positives per category (3 caption pairs + 3 caption->shape); exclude rule: + 12 reversed + (3 x 3 - 3) x 2
    x, y, labels = exclude_top5_pool(entails, unrelated, lorentz.pairwise_dist(text, text, 1.0), k=1)
    assert int(labels.sum()) == 12 and len(labels) == 12 + 12 + 12
    x, y, labels = local_top5_pool(entails, unrelated, lorentz.pairwise_dist(text, text, 1.0), k=1)
    assert len(labels) == 12 + 6  # one nearest unrelated caption per query


def test_pep_reversed_hierarchy_is_worse_than_chance():
    text, shapes, rel, depth = _chain_embedding()
    entails, unrelated = entailment_relations(rel, [4 - d for d in depth])  # call the specific captions generic
    entails = entails[:, :6]  # captions only: shapes stay the most specific
    x, y, labels = exclude_top5_pool(entails, unrelated, lorentz.pairwise_dist(text, text, 1.0), k=0)
    assert pep_metrics(pep_scores(text, x, y, 1.0), labels)["PEP_AUC"] < 0.5


def test_pep_metrics_by_hand():
    m = pep_metrics(torch.tensor([0.9, 0.5, 0.7, 0.3, 0.1]), torch.tensor([1, 1, 0, 0, 0]))
    assert m["PEP_AUC"] == pytest.approx(5 / 6)  # 0.5 loses to 0.7 only
    assert m["PEP_AP"] == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="positive and negative"):
        pep_metrics(torch.tensor([0.1, 0.2]), torch.tensor([1, 1]))


def test_depth_spearman():
    points = lorentz.expmap0(torch.tensor([[0.1, 0.0], [0.5, 0.1], [1.0, -0.2], [2.0, 0.0]]), 1.0)
    assert depth_spearman(points, [1, 2, 3, 4], 1.0) == pytest.approx(1.0)
    assert depth_spearman(points, [4, 3, 2, 1], 1.0) == pytest.approx(-1.0)
    assert math.isclose(depth_spearman(points, [1, 2, 2, 3], 1.0), 0.9486832980505138)
