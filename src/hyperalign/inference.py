"""Load a trained run for inference: captions and point clouds in, embedded points out.

``hyperalign.load(path)`` returns a :class:`Retriever` built from the checkpoint's own saved config and
preprocessing (point count, channels, text model), so what was trained is what is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hyperalign.data.formats import normalize_unit_sphere
from hyperalign.data.pairs import resample_indices
from hyperalign.encoders.text import TextTower
from hyperalign.train.checkpoint import CheckpointError, load_weights, read_meta, resolve_checkpoint
from hyperalign.train.config import ConfigError, TrainConfig, validate_config
from hyperalign.train.setup import RunModules, build_modules


class Retriever:
    """A trained model plus its text tower, in eval mode."""

    def __init__(self, checkpoint: Path, cfg: TrainConfig, run: RunModules, tower: TextTower, meta: dict) -> None:
        self.checkpoint = checkpoint
        self.cfg = cfg
        self.run = run.eval()
        self.model = run.model
        self.tower = tower
        self.meta = meta

    @property
    def points_per_cloud(self) -> int:
        return int(self.meta["preprocessing"]["points_per_cloud"])

    @property
    def channels(self) -> int:
        return int(self.meta["preprocessing"]["channels"])

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """Embed captions; (len(texts), n) float32."""
        out = []
        for start in range(0, len(texts), batch_size):
            tokens, mask = self.tower(list(texts[start : start + batch_size]))
            out.append(self.model.embed_text_tokens(tokens, mask)[0])
        return torch.cat(out) if out else torch.empty(0, self.model.cfg.dim)

    def prepare_cloud(self, points: np.ndarray, seed: int = 0) -> np.ndarray:
        """Normalise a raw (N, C >= channels) cloud to the unit sphere and resample it to the trained point count."""
        pts = np.asarray(points, dtype=np.float32)
        if pts.ndim != 2 or pts.shape[1] < 3:
            raise ValueError(f"expected a point cloud of shape (N, C) with C >= 3, got {pts.shape}")
        if pts.shape[1] < self.channels:
            grey = np.full((len(pts), self.channels - pts.shape[1]), 0.5, dtype=np.float32)
            pts = np.concatenate([pts, grey], axis=1)
        pts = pts[:, : self.channels].copy()
        pts[:, :3] = normalize_unit_sphere(pts[:, :3])
        return pts[resample_indices(len(pts), self.points_per_cloud, np.random.default_rng(seed))]

    @torch.no_grad()
    def encode_points(self, clouds: Sequence[np.ndarray] | Tensor, batch_size: int = 64) -> Tensor:
        """Embed point clouds (each (N, C)); (len(clouds), n) float32."""
        prepared = [self.prepare_cloud(np.asarray(c)) for c in clouds]
        out = []
        for start in range(0, len(prepared), batch_size):
            batch = torch.from_numpy(np.stack(prepared[start : start + batch_size]))
            out.append(self.model.embed_points(batch)[0])
        return torch.cat(out) if out else torch.empty(0, self.model.cfg.dim)

    def curvature(self) -> float | None:
        return self.model.space.c().item() if self.model.hyperbolic else None


def load(path: str | Path) -> Retriever:
    """Load a run directory (its best checkpoint) or a checkpoint directory for inference."""
    ckpt = resolve_checkpoint(Path(path))
    meta = read_meta(ckpt)
    try:
        cfg = validate_config(meta["config"], f"{ckpt}/meta.json")
        text_dim = int(meta["text_dim"])
    except (KeyError, ConfigError) as e:
        raise CheckpointError(f"{ckpt}: checkpoint metadata lacks a usable config ({e})") from None
    tower = TextTower(cfg.model.text)
    if tower.dim != text_dim:
        raise CheckpointError(f"{ckpt}: trained with text features of width {text_dim}, but {cfg.model.text.model!r} gives {tower.dim}")
    run = build_modules(cfg, text_dim, tower)
    load_weights(ckpt, run)
    return Retriever(ckpt, cfg, run, tower, meta)


def evaluate(
    retriever: Retriever, split: str = "test", data: str | Path | None = None, progress: bool = False, hierarchy: bool = False
) -> dict[str, float]:
    """Retrieval metrics of a loaded model on ``split`` of its training dataset (or of ``data``); with ``hierarchy``,
    also the hierarchy metrics (LA, HCA, MTA, PEP AUC / AP, depth-norm Spearman; :mod:`hyperalign.eval.hierarchy`)."""
    from hyperalign.data.layout import load_dataset
    from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
    from hyperalign.eval.evaluate import evaluate_view
    from hyperalign.train.setup import caption_features, resolve_dataset

    cfg = retriever.cfg
    dataset = load_dataset(Path(data)) if data is not None else resolve_dataset(cfg)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, split)
    features = caption_features(cfg, table.texts, retriever.tower, progress=progress)
    store = PointStore(dataset, view.items)
    metrics = evaluate_view(
        retriever.model, view, table, features, store,
        points_per_cloud=retriever.points_per_cloud, batch_size=cfg.eval.batch_size, chunk_size=cfg.eval.chunk_size,
        progress=progress,
    )
    if hierarchy:
        from hyperalign.eval.hierarchy import evaluate_hierarchy

        metrics |= evaluate_hierarchy(
            retriever.model, dataset, view, table, features, store,
            points_per_cloud=retriever.points_per_cloud, batch_size=cfg.eval.batch_size,
        )
    return metrics


def embed_split(
    retriever: Retriever, out: str | Path, split: str = "test", data: str | Path | None = None, shard: tuple[int, int] = (0, 1)
) -> Path:
    """Embed every shape and caption of ``split``; write ``out`` (.safetensors: ``shapes``, ``texts``) and a JSON
    sidecar ``out.json`` (shape ids, caption texts, curvature), both atomically.

    ``shard = (i, n)`` embeds only every n-th shape and caption starting at i, so n processes (one per shard, on one
    machine or many) embed a large collection in parallel; the sidecars name the shard.
    """
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: expected 0 <= i < n")
    import json

    from safetensors.torch import save_file

    from hyperalign.atomic import atomic_path, write_text_atomic
    from hyperalign.data.layout import load_dataset
    from hyperalign.data.pairs import CaptionTable, SplitView
    from hyperalign.train.setup import resolve_dataset

    dataset = load_dataset(Path(data)) if data is not None else resolve_dataset(retriever.cfg)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, split)
    texts = [table.texts[q] for q in view.query_ids][i::n]
    items = view.items[i::n]
    shapes = retriever.encode_points([dataset.load_points(it) for it in items])
    out = Path(out)
    with atomic_path(out) as tmp:
        save_file({"shapes": shapes.contiguous(), "texts": retriever.encode_text(texts).contiguous()}, str(tmp))
    sidecar = {
        "checkpoint": str(retriever.checkpoint), "split": split, "space": retriever.cfg.model.space.kind,
        "curvature": retriever.curvature(), "shard": [i, n], "shape_ids": [it.id for it in items], "texts": texts,
    }
    write_text_atomic(out.with_name(out.name + ".json"), json.dumps(sidecar, indent=2))
    return out
