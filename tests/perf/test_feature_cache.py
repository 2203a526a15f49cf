"""Frozen text tower: the tower runs only to fill the feature cache, never in a training epoch, and cached features
give the same losses as running the tower on every batch."""

from __future__ import annotations

import inspect

import torch

from hyperalign.config import load_config
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import CaptionTable, SplitView
from hyperalign.encoders.text import TextTower
from hyperalign.runtime.features import CaptionFeatures, caption_features
from hyperalign.train import loop
from hyperalign.train.setup import build_modules


def _count_tower_calls(monkeypatch) -> dict[str, int]:
    """Patch TextTower.forward to count calls per phase: "setup" or "epoch <k>" (that epoch's training steps)."""
    calls: dict[str, int] = {}
    phase = ["setup"]
    forward, train_epoch = TextTower.forward, loop._train_epoch

    def counted(self, texts):
        calls[phase[0]] = calls.get(phase[0], 0) + 1
        return forward(self, texts)

    def tagged(*args, **kwargs):
        phase[0] = f"epoch {inspect.signature(train_epoch).bind(*args, **kwargs).arguments['epoch']}"
        try:
            return train_epoch(*args, **kwargs)
        finally:
            phase[0] = "between epochs"

    monkeypatch.setattr(TextTower, "forward", counted)
    monkeypatch.setattr(loop, "_train_epoch", tagged)
    return calls


def test_frozen_tower_runs_only_to_fill_the_cache(tiny_demo, tiny_overrides, tmp_path, monkeypatch):
    calls = _count_tower_calls(monkeypatch)
    cfg = load_config("h2arn-cpu", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=2))
    loop.train(cfg, tmp_path / "first", progress=False)
    assert calls.get("setup", 0) > 0  # the cache was filled before the first epoch
    assert set(calls) == {"setup"}  # no call in either epoch, nor in validation between them
    calls.clear()
    one_epoch = load_config("h2arn-cpu", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1))
    loop.train(one_epoch, tmp_path / "second", progress=False)
    assert calls == {}  # a warm cache: no tower call at all


def test_cached_and_uncached_features_give_the_same_loss(tiny_demo, tiny_overrides, tmp_path):
    cfg = load_config("h2arn-cpu", tiny_overrides(tiny_demo, tmp_path / "cache"))
    dataset = load_dataset(tiny_demo)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, "train")
    cached = caption_features(cfg, table.texts, progress=False)
    uncached = CaptionFeatures(cached.tower, table.texts, cache=None)
    run = build_modules(cfg, cached.dim).eval()
    ids = torch.tensor([view.item_captions[i][-1] for i in range(8)])
    shapes = torch.arange(8)
    points = run.model.embed_points(torch.randn(8, cfg.data.points_per_cloud, cfg.data.channels, generator=torch.Generator().manual_seed(0)))
    positives = view.positives(ids, shapes)
    losses = []
    for features in (cached, uncached):
        tokens, mask = features.batch(ids)
        text = run.model.embed_text_tokens(tokens, mask)
        losses.append(loop.weighted_total(run.loss(text, points, positives, run.model.space).terms, cfg.loss.weights()))
    a, b = cached.batch(ids), uncached.batch(ids)
    assert torch.equal(a[1], b[1])  # the same trimmed mask
    torch.testing.assert_close(a[0], b[0], rtol=1e-5, atol=1e-5)  # the tower on a different batch: rounding only
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)
