"""Load a trained run for inference: captions and point clouds in, embedded points out.

``hyperalign.load(path)`` returns a :class:`Retriever` built from the checkpoint's own saved config and
preprocessing (point count, channels, text model), so what was trained is what is served. Only the model is built
and only its tensors (``model.`` in ``weights.safetensors``) are read, each name and shape checked; the loss and the
optimiser state stay on disk.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from hyperalign.checkpoint import (
    MODEL_PREFIX,
    CheckpointError,
    load_weights,
    read_meta,
    recorded_up_axis,
    resolve_checkpoint,
    weights_sha256,
)
from hyperalign.config import ConfigError, TrainConfig, validate_config
from hyperalign.data.formats import normalize_unit_sphere
from hyperalign.data.pairs import resample_indices
from hyperalign.encoders.text import TextTower, TokenTower
from hyperalign.encoders.text_onnx import onnx_text_tower
from hyperalign.model.embed import LorentzChart
from hyperalign.model.h2arn import H2ARN


def build_model(cfg: TrainConfig, text_dim: int, text_tower: TextTower | None = None) -> H2ARN:
    """The model of ``cfg``, initialised from ``cfg.seed``; it holds ``text_tower`` only when the tower trains."""
    torch.manual_seed(cfg.seed)
    return H2ARN(cfg.model, text_dim, text_tower if cfg.model.text.trainable else None)


class Retriever:
    """A trained model plus its text tower, in eval mode."""

    def __init__(self, checkpoint: Path, cfg: TrainConfig, model: H2ARN, tower: TokenTower, meta: dict) -> None:
        self.checkpoint = checkpoint
        self.cfg = cfg
        self.model = model.eval()
        self.tower = tower
        self.meta = meta

    @property
    def points_per_cloud(self) -> int:
        return int(self.meta["preprocessing"]["points_per_cloud"])

    @property
    def channels(self) -> int:
        return int(self.meta["preprocessing"]["channels"])

    @property
    def up_axis(self) -> Literal["x", "y", "z"]:
        """The vertical axis of the clouds the model was trained on (:func:`~hyperalign.checkpoint.recorded_up_axis`)."""
        return recorded_up_axis(self.meta)  # type: ignore[return-value]

    def weights_sha256(self) -> str:
        """sha256 of the weights file: what caches and indexes built with this model record."""
        return weights_sha256(self.checkpoint)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> Tensor:
        """Embed captions; (len(texts), n) float32."""
        out = []
        for start in range(0, len(texts), batch_size):
            tokens, mask = self.tower(list(texts[start : start + batch_size]))
            out.append(self.model.embed_text_tokens(tokens, mask))
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
            out.append(self.model.embed_points(batch))
        return torch.cat(out) if out else torch.empty(0, self.model.cfg.dim)

    def curvature(self) -> float | None:
        """The curvature magnitude ``c`` of the model's Lorentz space (the chart's), None for a Euclidean model."""
        space = self.model.space
        return float(space.c().detach()) if isinstance(space, LorentzChart) else None


def load(path: str | os.PathLike[str]) -> Retriever:
    """Load a run directory (its best checkpoint) or a checkpoint directory for inference: the model alone, its
    tensors read strictly (every name and shape under ``model.``)."""
    ckpt = resolve_checkpoint(Path(path))
    meta = read_meta(ckpt)
    try:
        cfg = validate_config(meta["config"], f"{ckpt}/meta.json")
        text_dim = int(meta["text_dim"])
    except (KeyError, ConfigError) as e:
        raise CheckpointError(f"{ckpt}: checkpoint metadata lacks a usable config ({e})") from None
    tower = onnx_text_tower(cfg.model.text, cfg.cache_dir) or TextTower(cfg.model.text)
    if tower.dim != text_dim:
        raise CheckpointError(f"{ckpt}: trained with text features of width {text_dim}, but {cfg.model.text.model!r} gives {tower.dim}")
    model = build_model(cfg, text_dim, tower if isinstance(tower, TextTower) else None)
    load_weights(ckpt, model, prefix=MODEL_PREFIX)
    return Retriever(ckpt, cfg, model, tower, meta)
