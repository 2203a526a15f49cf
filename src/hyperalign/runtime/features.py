"""Caption token features for training and inference: cached when the text tower is frozen, live when it trains."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from hyperalign.config import TrainConfig
from hyperalign.encoders.text import TextFeatureCache, TextTower


class CaptionFeatures:
    """Token features of the captions of a :class:`CaptionTable`, fetched by caption id.

    With a frozen tower every caption is run once through the on-disk cache and held as (T, L, D) + (T, L);
    with a trainable tower (``text.trainable``) each batch runs the tower, so gradients reach it.
    """

    def __init__(self, tower: TextTower, texts: list[str], cache: TextFeatureCache | None) -> None:
        self.tower = tower
        self.texts = texts
        self.dim = tower.dim
        self._tokens: Tensor | None = None
        self._mask: Tensor | None = None
        if cache is not None:
            self._tokens, self._mask = cache.get(texts)

    def batch(self, ids: Tensor | list[int]) -> tuple[Tensor, Tensor]:
        """Tokens (B, L, D) and mask (B, L) of captions ``ids``, trimmed to the longest of them."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if self._tokens is None or self._mask is None:
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
