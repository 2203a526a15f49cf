"""Hierarchy metrics for any dataset with a known caption tree: taxonomy classification, probabilistic entailment
(PEP) and how well distance from the origin follows depth.

**Hierarchical classification** (zero-shot): each shape is classified by the nearest caption of the tree's nodes
(a node's distance is that of its nearest caption), at every level of the tree.

* ``LA`` — leaf accuracy: the nearest class node (the nodes that hold items, and the tree's leaves) is the shape's
  own node.
* ``HCA`` — hierarchical consistent accuracy: the leaf decision and, at every level on the shape's path, the nearest
  node of that level are all correct.
* ``MTA`` — mean tree-cut accuracy over 25 fixed, seeded tree-cuts (:func:`tree_cuts`): each internal node is kept
  with probability ``1 - p``, ``p`` in {0.1, 0.3, 0.5, 0.7, 0.9}, 5 cuts each, the (virtual) root always kept; the
  predicted and the true leaf are both mapped to their deepest kept ancestor (:func:`cut_label`), and the prediction
  is correct when the two agree.

Ties count against the model (as in :mod:`hyperalign.eval.retrieval`): a true node tied with another is not chosen.
Nodes without a caption in the evaluated caption table cannot be predicted.

**Probabilistic entailment protocol** (after ARGENT; its exact pool rules are not published — this is the documented
reconstruction): ``p(x entails y) = 1 - ext(x, y) / pi`` for captions ``x`` and captions or shapes ``y``; AUC-ROC and
average precision (scikit-learn) over the pairs of a pool rule (:data:`PEP_POOLS`, swappable):

* positives (every rule): generic -> specific pairs within one hierarchy chain, i.e. ``x`` entails ``y`` when ``y``
  is a shape ``x`` describes, or a caption of a finer level describing only shapes that ``x`` describes
  (category caption -> sub-type caption -> instance caption -> shape);
* ``exclude_top5`` (default): negatives are the reversed pairs ``(y, x)`` and, for each query caption, the captions
  of unrelated shapes (no shape in common), except the query's 5 nearest of those, left out as ambiguous;
* ``local_top5`` (the paper's wording, "a local candidate pool of the ground truth plus the top-5 most similar
  captions"): the positives plus each query's 5 nearest unrelated captions as negatives.

**Depth vs. norm**: the Spearman correlation between tree depth (category captions 1, ..., instance captions
``len(levels)``, shapes ``len(levels) + 1``) and geodesic distance from the origin; positive when generic items lie
nearer the origin.

PEP and the depth correlation need a hyperbolic space; for a Euclidean model only LA / HCA / MTA are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from hyperalign.data.layout import Dataset, Node
from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
from hyperalign.eval.evaluate import TokenSource, embed_caption_ids, embed_store
from hyperalign.geometry import lorentz

__all__ = [
    "Tree",
    "tree_cuts",
    "cut_label",
    "hierarchical_classification",
    "entailment_relations",
    "exclude_top5_pool",
    "local_top5_pool",
    "PEP_POOLS",
    "pep_scores",
    "pep_metrics",
    "depth_spearman",
    "evaluate_hierarchy",
]

CUT_PS = (0.1, 0.3, 0.5, 0.7, 0.9)
CUTS_PER_P = 5


@dataclass(frozen=True)
class Tree:
    """A caption tree: ``parent`` of every node (None: a child of the virtual root) and its ``level``."""

    parent: dict[str, str | None]
    level: dict[str, str]

    @classmethod
    def from_nodes(cls, nodes: Sequence[Node]) -> Tree:
        return cls({n.id: n.parent for n in nodes}, {n.id: n.level for n in nodes})

    def path(self, node: str) -> list[str]:
        """Nodes from the top of the tree down to ``node``, both included (the virtual root is not listed)."""
        chain = [node]
        while self.parent[chain[-1]] is not None:
            chain.append(self.parent[chain[-1]])
        return chain[::-1]

    def internal(self) -> list[str]:
        """Nodes with at least one child, sorted by id."""
        return sorted({p for p in self.parent.values() if p is not None})

    def leaves(self) -> list[str]:
        has_child = set(self.internal())
        return sorted(n for n in self.parent if n not in has_child)


def tree_cuts(tree: Tree, ps: Sequence[float] = CUT_PS, per_p: int = CUTS_PER_P, seed: int = 0) -> list[frozenset[str]]:
    """``len(ps) * per_p`` tree-cuts, each the set of kept internal nodes: node kept with probability ``1 - p``.

    Deterministic: cut ``k`` of ``ps[i]`` draws one uniform number per internal node (sorted by id) from
    ``numpy.random.default_rng([seed, i, k])``.
    """
    internal = tree.internal()
    cuts = []
    for i, p in enumerate(ps):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"tree-cut probability must lie in [0, 1], got {p}")
        for k in range(per_p):
            draws = np.random.default_rng([seed, i, k]).random(len(internal))
            cuts.append(frozenset(n for n, u in zip(internal, draws) if u < 1.0 - p))
    return cuts


def cut_label(tree: Tree, node: str, kept: frozenset[str]) -> str | None:
    """The deepest kept node on the path to ``node`` (``node`` itself if it is internal and kept; leaves are never
    kept); ``None`` for the virtual root."""
    for ancestor in reversed(tree.path(node)):
        if ancestor in kept:
            return ancestor
    return None


def _node_distances(dist: Tensor, caption_nodes: Sequence[str], nodes: list[str]) -> Tensor:
    """(S, T) shape-to-caption distances -> (S, len(nodes)) distance to each node's nearest caption (inf: none)."""
    out = torch.full((dist.shape[0], len(nodes)), math.inf, dtype=torch.float64)
    col = {n: i for i, n in enumerate(nodes)}
    for t, node in enumerate(caption_nodes):
        if node in col:
            j = col[node]
            out[:, j] = torch.minimum(out[:, j], dist[:, t].double())
    return out


def _predict(scores: Tensor, truth: Tensor) -> Tensor:
    """Argmin of each row of ``scores`` (S, N), ties broken against the true column ``truth`` (S,) (-1: none)."""
    tied = scores == scores.min(dim=1, keepdim=True).values
    tied_other = tied.clone()
    rows = torch.arange(len(truth))
    has_truth = truth >= 0
    tied_other[rows[has_truth], truth[has_truth]] = False
    pick_other = tied_other.any(dim=1)
    return torch.where(pick_other, tied_other.int().argmax(dim=1), tied.int().argmax(dim=1))


def hierarchical_classification(
    dist: Tensor, caption_nodes: Sequence[str], item_nodes: Sequence[str], tree: Tree, cuts: Sequence[frozenset[str]]
) -> dict[str, float]:
    """``LA``, ``HCA``, ``MTA`` (fractions) of shapes classified by node captions.

    ``dist`` (S, T): distance of each shape to each node caption; ``caption_nodes`` (T,): the node of each caption;
    ``item_nodes`` (S,): each shape's own node; ``cuts``: kept internal nodes per tree-cut (:func:`tree_cuts`).
    """
    if dist.shape != (len(item_nodes), len(caption_nodes)):
        raise ValueError(
            f"dist has shape {tuple(dist.shape)}; expected (shapes, captions) = ({len(item_nodes)}, {len(caption_nodes)})"
        )
    unknown = sorted({n for n in [*item_nodes, *caption_nodes] if n not in tree.parent})
    if unknown:
        raise ValueError(f"nodes {unknown[:5]} are not in the tree")
    classes = sorted(set(item_nodes) | set(tree.leaves()))
    scores = _node_distances(dist, caption_nodes, classes)
    truth = torch.tensor([classes.index(n) for n in item_nodes])
    pred = [classes[i] for i in _predict(scores, truth).tolist()]
    leaf_ok = np.array([p == t for p, t in zip(pred, item_nodes)])

    consistent = leaf_ok.copy()
    for level in dict.fromkeys(tree.level.values()):
        members = sorted(n for n, lv in tree.level.items() if lv == level)
        on_path = [next((a for a in tree.path(n) if tree.level[a] == level), None) for n in item_nodes]
        rows = [s for s, a in enumerate(on_path) if a is not None]
        if not rows:
            continue
        level_scores = _node_distances(dist[rows], caption_nodes, members)
        level_truth = torch.tensor([members.index(on_path[s]) for s in rows])
        level_pred = _predict(level_scores, level_truth)
        consistent[rows] &= (level_pred == level_truth).numpy()

    cut_acc = [np.mean([cut_label(tree, p, kept) == cut_label(tree, t, kept) for p, t in zip(pred, item_nodes)])
               for kept in cuts]
    return {"LA": float(leaf_ok.mean()), "HCA": float(consistent.mean()), "MTA": float(np.mean(cut_acc))}


def entailment_relations(relevance: Tensor, caption_depth: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Ground-truth entailment among Q captions and S shapes from the caption-describes-shape relation.

    ``relevance`` (Q, S) bool, ``caption_depth`` (Q,) level rank (coarse = small). Returns ``entails`` (Q, Q + S):
    caption ``x`` entails caption ``y`` (coarser, and every shape of ``y`` is a shape of ``x``) or shape ``Q + s``
    (``x`` describes it); and ``unrelated`` (Q, Q): the two captions describe no shape in common.
    """
    rel = relevance.double()
    missing = (1.0 - rel) @ rel.T  # [x, y]: shapes of y that x does not describe
    depth = torch.as_tensor(list(caption_depth))
    coarser = depth[:, None] < depth[None, :]
    has_shapes = relevance.any(dim=1)
    entails_captions = (missing == 0) & coarser & has_shapes[None, :]
    unrelated = (rel @ rel.T) == 0
    return torch.cat([entails_captions, relevance], dim=1), unrelated


PoolRule = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]


def _nearest_unrelated(unrelated: Tensor, caption_dist: Tensor, k: int) -> Tensor:
    """(Q, Q) bool: each query's ``k`` nearest unrelated captions (fewer when it has fewer)."""
    masked = torch.where(unrelated, caption_dist.double(), math.inf)
    k = min(k, masked.shape[1])
    order = masked.argsort(dim=1, stable=True)[:, :k]
    near = torch.zeros_like(unrelated)
    near.scatter_(1, order, True)
    return near & unrelated


def _pairs(mask: Tensor, label: int, col_offset: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    x, y = mask.nonzero(as_tuple=True)
    return x, y + col_offset, torch.full_like(x, label)


def _concat(*parts: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def exclude_top5_pool(entails: Tensor, unrelated: Tensor, caption_dist: Tensor, k: int = 5) -> tuple[Tensor, Tensor, Tensor]:
    """Positives, reversed pairs and unrelated captions minus each query's ``k`` nearest (see module doc).

    Returns entity indices ``(x, y, label)``: captions are ``0..Q-1``, shapes ``Q..Q+S-1``.
    """
    pos = _pairs(entails, 1)
    reversed_ = (pos[1], pos[0], torch.zeros_like(pos[2]))
    others = _pairs(unrelated & ~_nearest_unrelated(unrelated, caption_dist, k), 0)
    return _concat(pos, reversed_, others)


def local_top5_pool(entails: Tensor, unrelated: Tensor, caption_dist: Tensor, k: int = 5) -> tuple[Tensor, Tensor, Tensor]:
    """Positives plus each query's ``k`` nearest unrelated captions as negatives (see module doc)."""
    return _concat(_pairs(entails, 1), _pairs(_nearest_unrelated(unrelated, caption_dist, k), 0))


PEP_POOLS: dict[str, PoolRule] = {"exclude_top5": exclude_top5_pool, "local_top5": local_top5_pool}


def pep_scores(entities: Tensor, x: Tensor, y: Tensor, c: Tensor | float, chunk_size: int = 65536) -> Tensor:
    """``p(x entails y) = 1 - ext(e_x, e_y) / pi`` for entity index pairs; ``entities`` (E, n) Lorentz points.

    Pairs are scored ``chunk_size`` at a time, so memory stays bounded for pools of millions of pairs."""
    scores = [entities.new_zeros(0)]
    for s in range(0, len(x), chunk_size):
        ext = lorentz.exterior_angle(entities[x[s : s + chunk_size]], entities[y[s : s + chunk_size]], c)
        scores.append(1.0 - ext / math.pi)
    return torch.cat(scores)


def pep_metrics(scores: Tensor, labels: Tensor) -> dict[str, float]:
    """AUC-ROC and average precision of entailment scores (scikit-learn)."""
    try:
        from sklearn.metrics import average_precision_score, roc_auc_score
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("PEP metrics need scikit-learn: pip install scikit-learn") from e
    y = labels.cpu().numpy()
    if y.min() == y.max():
        raise ValueError(f"PEP needs positive and negative pairs; all {len(y)} pairs have label {int(y[0])}")
    s = scores.detach().double().cpu().numpy()
    return {"PEP_AUC": float(roc_auc_score(y, s)), "PEP_AP": float(average_precision_score(y, s)), "PEP_pairs": int(len(y))}


def depth_spearman(points: Tensor, depths: Sequence[int], c: Tensor | float) -> float:
    """Spearman correlation between ``depths`` and the distance from the origin of ``points`` (E, n) (scipy)."""
    try:
        from scipy.stats import spearmanr
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the depth-norm correlation needs scipy: pip install scipy") from e

    radius = lorentz.dist0(points, c).detach().double().cpu().numpy()
    return float(spearmanr(np.asarray(depths), radius).statistic)


@torch.no_grad()
def evaluate_hierarchy(
    model: torch.nn.Module,
    dataset: Dataset,
    view: SplitView,
    table: CaptionTable,
    features: TokenSource,
    store: PointStore,
    *,
    points_per_cloud: int,
    batch_size: int = 128,
    seed: int = 0,
    pool: str = "exclude_top5",
    pep: bool = True,
) -> dict[str, float]:
    """LA / HCA / MTA of ``view``'s shapes against every node caption of ``table``, and (hyperbolic models) PEP
    AUC / AP and the depth-norm Spearman correlation over the split's captions and shapes. ``pep=False`` skips PEP,
    whose pool grows with the square of the split's captions (about 6 million pairs for 2,400 captions)."""
    if pool not in PEP_POOLS:
        raise ValueError(f"unknown PEP pool rule {pool!r}; choose from {sorted(PEP_POOLS)}")
    tree = Tree.from_nodes(dataset.index.nodes)
    node_caps = [(table.index[t], n.id) for n in dataset.index.nodes for t in n.captions if t in table.index]
    items = [(s, it.node) for s, it in enumerate(view.items) if it.node is not None]
    if not node_caps or not items:
        raise ValueError(f"{dataset.root}: hierarchy metrics need a caption tree and items attached to it")
    was_training = model.training
    model.eval()
    try:
        shapes = embed_store(model, store, points_per_cloud, batch_size).cpu()
        node_text = embed_caption_ids(model, features, [cid for cid, _ in node_caps], batch_size).cpu()
        text = embed_caption_ids(model, features, view.query_ids, batch_size).cpu()
    finally:
        model.train(was_training)
    rows = torch.tensor([s for s, _ in items])
    metrics = hierarchical_classification(
        model.pairwise_distance(shapes[rows], node_text), [n for _, n in node_caps], [n for _, n in items], tree,
        tree_cuts(tree, seed=seed),
    )
    if not getattr(model, "hyperbolic", False):
        return metrics
    c = model.space.c().detach().cpu()
    depth = [view.levels.index(table.levels[q]) + 1 for q in view.query_ids]
    entities = torch.cat([text, shapes])
    if pep:
        entails, unrelated = entailment_relations(view.relevance, depth)
        x, y, labels = PEP_POOLS[pool](entails, unrelated, model.pairwise_distance(text, text))
        metrics.update(pep_metrics(pep_scores(entities, x, y, c), labels))
    metrics["depth_spearman"] = depth_spearman(entities, depth + [len(view.levels) + 1] * len(shapes), c)
    return metrics
