"""From a dataset in the generic layout to what training and evaluation consume.

* :class:`CaptionTable` — every distinct caption text of the dataset, with a stable integer id and its level.
* :class:`SplitView` — the items of one split, the caption ids that describe each item (its ancestors' node captions
  and its own), and, for evaluation, the query set: every distinct caption of the split with the items it describes
  (multi-positive ground truth: a caption is correct on any item it describes).
* :class:`PairDataset` — training pairs (caption id, item, point cloud) for one epoch: each item once per epoch, with
  one caption drawn by choosing a level (uniformly, or by ``level_weights``) and then a caption of that level; seeded
  by (seed, epoch, index), so the draw does not depend on worker processes and a resumed run draws the same pairs.
  Each item also carries its hierarchy: one caption per level (``level_caption_ids``, from a separate seeded stream)
  and its tree node per level (``level_node_ids``), for losses over feature trees (:mod:`hyperalign.losses.hetero`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from hyperalign.data.layout import Dataset, Item


@dataclass
class CaptionTable:
    texts: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, text: str, level: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.texts)
            self.texts.append(text)
            self.levels.append(level)
        return self.index[text]

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> CaptionTable:
        table = cls()
        for item in dataset.items():
            for rec in dataset.captions(item):
                table.add(rec.text, rec.level)
        return table


@dataclass
class SplitView:
    """One split: items (in index order), caption ids per item, and the evaluation query set; ``levels`` (coarse to
    fine) and ``item_level_nodes[s][l]``, the index in ``dataset.index.nodes`` of item ``s``'s tree node at level
    ``l`` (-1 where it has none, and always at the last level, which belongs to the items themselves)."""

    split: str
    items: list[Item]
    item_captions: list[list[int]]
    query_ids: list[int]
    relevance: torch.Tensor  # (Q, S) bool: query caption q describes item s
    levels: list[str]
    item_level_nodes: list[list[int]]

    @classmethod
    def build(cls, dataset: Dataset, table: CaptionTable, split: str) -> SplitView:
        items = dataset.items(split)
        if not items:
            raise ValueError(f"{dataset.root}: split {split!r} has no items")
        item_captions = [[table.index[r.text] for r in dataset.captions(it)] for it in items]
        query_ids = sorted({cid for caps in item_captions for cid in caps})
        pos = {q: i for i, q in enumerate(query_ids)}
        rel = torch.zeros(len(query_ids), len(items), dtype=torch.bool)
        for s, caps in enumerate(item_captions):
            for cid in caps:
                rel[pos[cid], s] = True
        levels = list(dataset.index.levels)
        node_index = {node.id: n for n, node in enumerate(dataset.index.nodes)}
        item_level_nodes = []
        for it in items:
            row = [-1] * len(levels)
            for node in dataset.ancestors(it.node) if it.node is not None else []:
                row[levels.index(node.level)] = node_index[node.id]
            item_level_nodes.append(row)
        return cls(split, items, item_captions, query_ids, rel, levels, item_level_nodes)

    def positives(self, caption_ids: torch.Tensor, shape_ids: torch.Tensor) -> torch.Tensor:
        """``pos[i, j]``: caption ``caption_ids[i]`` describes item ``shape_ids[j]`` (positions in this view), the
        multi-positive ground truth of training: a caption is a positive for every shape it describes (its own, others
        of its instance text, and every shape under its node for category / sub-type captions). (B,), (N,) -> (B, N)."""
        if not hasattr(self, "_row"):
            row = torch.full((max(self.query_ids) + 1,), -1, dtype=torch.long)
            row[torch.tensor(self.query_ids)] = torch.arange(len(self.query_ids))
            self._row = row
        rows = self._row[caption_ids]
        if bool((rows < 0).any()):
            raise ValueError(f"caption ids {caption_ids[rows < 0].tolist()} do not describe any item of split {self.split!r}")
        return self.relevance[rows][:, shape_ids]


def resample_indices(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` indices into ``n`` points: a random subset without replacement when ``n >= m``, else all points plus
    random repeats (a cloud smaller than ``m`` keeps every point)."""
    if n >= m:
        return rng.choice(n, size=m, replace=False)
    return np.concatenate([np.arange(n), rng.choice(n, size=m - n, replace=True)])


def _augment(points: np.ndarray, rng: np.random.Generator, jitter: float, scale_range: tuple[float, float],
             rotate_up: bool, up_axis: int = 1) -> np.ndarray:
    """Random rotation about the up axis (index ``up_axis`` of xyz), anisotropic scaling and Gaussian jitter of the
    xyz channels."""
    out = points.copy()
    xyz = out[:, :3]
    if rotate_up:
        a = rng.uniform(0, 2 * np.pi)
        ca, sa = np.cos(a), np.sin(a)
        u, v = [axis for axis in range(3) if axis != up_axis]  # the horizontal plane, turned by a
        rot = np.eye(3, dtype=np.float32)
        rot[u, u], rot[u, v], rot[v, u], rot[v, v] = ca, sa, -sa, ca
        xyz = xyz @ rot.T
    xyz = xyz * rng.uniform(*scale_range, size=(1, 3)).astype(np.float32)
    if jitter > 0:
        xyz = xyz + rng.normal(0.0, jitter, size=xyz.shape).astype(np.float32)
    out[:, :3] = xyz
    return out


class PointStore:
    """All point clouds of a list of items held in memory as float32 arrays (N_i, C)."""

    def __init__(self, dataset: Dataset, items: list[Item]) -> None:
        self.clouds = [np.ascontiguousarray(dataset.load_points(it), dtype=np.float32) for it in items]

    def fixed(self, index: int, m: int) -> np.ndarray:
        """A deterministic ``m``-point sample of cloud ``index`` (for evaluation)."""
        cloud = self.clouds[index]
        return cloud[resample_indices(len(cloud), m, np.random.default_rng(index))]

    def batch(self, indices: list[int], m: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.fixed(i, m) for i in indices]))


class PairDataset(TorchDataset):
    """Training pairs for one epoch; call :meth:`set_epoch` before iterating."""

    def __init__(
        self,
        view: SplitView,
        table: CaptionTable,
        store: PointStore,
        *,
        points_per_cloud: int,
        seed: int,
        augment: bool = True,
        jitter: float = 0.01,
        scale_range: tuple[float, float] = (0.9, 1.1),
        rotate_up: bool = True,
        level_weights: dict[str, float] | None = None,
        up_axis: str = "y",
    ) -> None:
        self.view = view
        self.store = store
        self.m = points_per_cloud
        self.seed = seed
        self.augment = augment
        self.jitter = jitter
        self.scale_range = scale_range
        self.rotate_up = rotate_up
        self.up_axis = "xyz".index(up_axis)
        self.epoch = 0
        self._by_level: list[dict[str, list[int]]] = []
        for caps in view.item_captions:
            groups: dict[str, list[int]] = {}
            for cid in caps:
                groups.setdefault(table.levels[cid], []).append(cid)
            self._by_level.append(groups)
        # per item: its levels in sorted order and, when weighted, the probability of drawing each
        weights = level_weights or {}
        unknown = sorted(set(weights) - set(view.levels))
        if unknown:
            raise ValueError(f"data.level_weights: unknown level(s) {unknown}; this dataset's levels are {view.levels}")
        self._level_p: list[np.ndarray | None] = []
        for item, groups in zip(view.items, self._by_level):
            w = np.array([weights.get(lv, 1.0) for lv in sorted(groups)], dtype=np.float64)
            if weights and w.sum() == 0:
                raise ValueError(f"data.level_weights: every caption level of item {item.id!r} ({sorted(groups)}) has "
                                 "weight 0; give at least one of them a positive weight")
            self._level_p.append(w / w.sum() if weights else None)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.view.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        groups = self._by_level[i]
        p = self._level_p[i]
        level = sorted(groups)[rng.integers(len(groups)) if p is None else rng.choice(len(groups), p=p)]
        caption = groups[level][rng.integers(len(groups[level]))]
        cloud = self.store.clouds[i]
        pts = cloud[resample_indices(len(cloud), self.m, rng)]
        if self.augment:
            pts = _augment(pts, rng, self.jitter, self.scale_range, self.rotate_up, self.up_axis)
        # one caption per level from its own stream, so the draws above are those of a dataset without this field
        level_rng = np.random.default_rng([self.seed, self.epoch, i, 1])
        level_captions = [
            groups[lv][level_rng.integers(len(groups[lv]))] if lv in groups else -1 for lv in self.view.levels
        ]
        return {
            "points": torch.from_numpy(np.ascontiguousarray(pts, dtype=np.float32)),
            "caption_id": torch.tensor(caption, dtype=torch.long),
            "shape_id": torch.tensor(i, dtype=torch.long),
            "level_caption_ids": torch.tensor(level_captions, dtype=torch.long).reshape(len(self.view.levels)),
            "level_node_ids": torch.tensor(self.view.item_level_nodes[i], dtype=torch.long).reshape(len(self.view.levels)),
        }
