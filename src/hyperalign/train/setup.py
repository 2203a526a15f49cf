"""Build what a run needs from its config: the dataset, caption features, the model and the loss.

Shared by training, evaluation and inference so that each piece is built one way only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor, nn

from hyperalign.data.layout import Dataset, load_dataset
from hyperalign.encoders.text import TextFeatureCache, TextTower
from hyperalign.losses.base import Objective
from hyperalign.losses.registry import build_loss
from hyperalign.model.h2arn import H2ARN
from hyperalign.train.config import DemoDataConfig, TrainConfig


def demo_data_dir(cache_dir: str | Path, demo: DemoDataConfig) -> Path:
    """Where the built-in demo data for these settings lives (generated once, keyed by its settings and the
    generator's revision)."""
    from hyperalign.data.demo import REVISION

    settings = demo.model_dump() | {"revision": REVISION}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir).expanduser() / "demo-data" / key


def resolve_dataset(cfg: TrainConfig) -> Dataset:
    """The configured dataset; with ``data.path`` unset, the built-in demo (generated on first use)."""
    if cfg.data.path is not None:
        return load_dataset(Path(cfg.data.path).expanduser())
    from hyperalign.data.demo import make_demo

    d = cfg.data.demo
    root = demo_data_dir(cfg.cache_dir, d)
    if not (root / "index.json").is_file():
        make_demo(root, shapes_per_subtype=d.shapes_per_subtype, n_points=d.n_points, seed=d.seed, colour=d.colour)
    return load_dataset(root)


class CaptionFeatures:
    """Token features of the captions of a :class:`CaptionTable`, fetched by caption id.

    With a frozen tower every caption is run once through the on-disk cache and held as (T, L, D) + (T, L);
    with a trainable tower (``text.trainable``) each batch runs the tower, so gradients reach it.
    """

    def __init__(self, tower: TextTower, texts: list[str], cache: TextFeatureCache | None) -> None:
        self.tower = tower
        self.texts = texts
        self.dim = tower.dim
        self._tokens, self._mask = cache.get(texts) if cache is not None else (None, None)

    def batch(self, ids: Tensor | list[int]) -> tuple[Tensor, Tensor]:
        """Tokens (B, L, D) and mask (B, L) of captions ``ids``, trimmed to the longest of them."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if self._tokens is None:
            return self.tower([self.texts[i] for i in ids.tolist()])
        mask = self._mask[ids]
        length = int(mask.sum(dim=1).max())
        return self._tokens[ids, :length].float(), mask[:, :length]


def caption_features(cfg: TrainConfig, texts: list[str], tower: TextTower | None = None, progress: bool = True) -> CaptionFeatures:
    """Caption features for ``texts``: cached when the text tower is frozen, live when it trains."""
    tower = tower or TextTower(cfg.model.text)
    cache = None
    if not cfg.model.text.trainable:
        cache = TextFeatureCache(Path(cfg.cache_dir).expanduser() / "text-features", tower, progress=progress)
    return CaptionFeatures(tower, texts, cache)


class RunModules(nn.Module):
    """The trainable state of a run: the model and the loss (its temperature); saved together.

    ``forward`` embeds one batch of caption tokens and point clouds: it is what DistributedDataParallel wraps.
    """

    def __init__(self, model: H2ARN, loss: Objective) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, tokens: Tensor, mask: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.embed_text_tokens(tokens, mask)[0], self.model.embed_points(points)[0]


def build_modules(cfg: TrainConfig, text_dim: int, text_tower: TextTower | None = None) -> RunModules:
    """Model and loss, initialised from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    model = H2ARN(cfg.model, text_dim, text_tower if cfg.model.text.trainable else None)
    return RunModules(model, build_loss(cfg.loss, cfg.model.space.kind))
