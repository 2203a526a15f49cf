"""The recommended preset and its Euclidean twin train from config alone, log their chain terms, and load for
inference (free text gets a finite embedding with a radius inside the configured bounds)."""

import pytest
import torch

import hyperalign
from hyperalign.config import load_config
from hyperalign.geometry import lorentz
from hyperalign.train.loop import train


@pytest.mark.parametrize("preset", ["recommended", "recommended-eu"])
def test_recommended_presets_train_and_load(tiny_demo, tiny_overrides, tmp_path, preset):
    cfg = load_config(preset, tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1))
    assert cfg.model.language.anchor and cfg.loss.hierarchy.all_levels_contrastive
    record = train(cfg, tmp_path / "run", progress=False).history[-1]
    assert torch.isfinite(torch.tensor(record["loss"])) and "text_gate" in record
    hyperbolic = preset == "recommended"
    for term in ("intra_entailment_loss", "level_entailment_loss", "radius_order_loss"):
        assert (term in record) == hyperbolic
    retriever = hyperalign.load(tmp_path / "run")
    text = retriever.encode_text(["a comfortable place to sit", "a chair"])
    assert torch.isfinite(text).all()
    if hyperbolic:
        r = lorentz.dist0(text, retriever.model.space.c())
        low, high = cfg.model.language.text_radius
        assert bool(((r >= low - 1e-4) & (r <= high + 1e-4)).all())
