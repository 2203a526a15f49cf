"""The recommended preset and its Euclidean twin train from config alone, log their terms, keep the frozen sentence
space on the text side, and load for inference (free text gets a finite embedding with a radius inside the configured
bounds, in the direction of its sentence embedding)."""

import pytest
import torch

import hyperalign
from hyperalign.config import load_config
from hyperalign.geometry import lorentz
from hyperalign.model.language import sentence_embedding
from hyperalign.train.loop import train


@pytest.mark.parametrize("preset", ["recommended", "recommended-eu"])
def test_recommended_presets_train_and_load(tiny_demo, tiny_overrides, tmp_path, preset):
    cfg = load_config(preset, tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1))
    assert cfg.model.language.anchor and cfg.loss.hierarchy.all_levels_contrastive
    record = train(cfg, tmp_path / "run", progress=False).history[-1]
    assert torch.isfinite(torch.tensor(record["loss"])) and "text_gate" not in record  # no context residual
    hyperbolic = preset == "recommended"
    assert ("radius_order_loss" in record) == hyperbolic and ("ordering_loss" in record) == hyperbolic
    weights = cfg.loss.weights()
    assert weights["intra_entailment_loss"] == weights["level_entailment_loss"] == 0.0  # logged, not trained
    retriever = hyperalign.load(tmp_path / "run")
    text = retriever.encode_text(["a comfortable place to sit", "a chair"])
    assert torch.isfinite(text).all()
    # the projection is frozen (identity at d = 384; here d = 32, a fixed orthogonal map) and nothing is added to it:
    # a caption's direction is its projected sentence embedding, after training too
    anchor = retriever.model.text_anchor
    assert not anchor.projection.weight.requires_grad and anchor.gate is None
    sentence = sentence_embedding(*retriever.tower(["a comfortable place to sit", "a chair"]))
    with torch.no_grad():
        assert torch.allclose(lorentz.cos_origin_angle(text, anchor.projection(sentence)), torch.ones(2), atol=1e-5)
    if hyperbolic:
        r = lorentz.dist0(text, retriever.model.space.c())
        low, high = cfg.model.language.text_radius
        assert bool(((r >= low - 1e-4) & (r <= high + 1e-4)).all())
