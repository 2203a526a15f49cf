"""The language-anchored embedding (hyperalign.model.language): at initialisation the caption direction is the
sentence-transformers embedding, radii are bounded and set the distance from the origin, switches behave."""

import math

import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.model.h2arn import H2ARN, ModelConfig
from hyperalign.model.language import LanguageConfig, RadiusHead, sentence_embedding

TEXT_DIM = 16


def _model(**language) -> H2ARN:
    torch.manual_seed(0)
    cfg = ModelConfig.model_validate({
        "dim": TEXT_DIM, "points": {"kind": "pointnet", "in_channels": 3, "num_tokens": 4, "k": 4, "width": 8, "dim": 8},
        "context": {"heads": 2, "layers": 1, "dropout": 0.0}, "language": {"anchor": True, **language}})
    return H2ARN(cfg, TEXT_DIM).eval()


def _tokens():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(3, 5, TEXT_DIM, generator=g)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    return tokens.masked_fill(~mask[..., None], 0.0), mask


def test_sentence_embedding_is_normalised_masked_mean():
    tokens, mask = _tokens()
    s = sentence_embedding(tokens, mask)
    expected = torch.nn.functional.normalize(tokens[0, :3].mean(0), dim=0)
    assert torch.allclose(s[0], expected, atol=1e-6)
    assert torch.allclose(s.norm(dim=-1), torch.ones(3), atol=1e-6)


def test_text_is_the_sentence_space_at_init_with_radius_from_the_head():
    model = _model()
    tokens, mask = _tokens()
    text = model.embed_text_tokens(tokens, mask)
    c = model.space.c()
    assert torch.allclose(lorentz.dist0(text, c), torch.full((3,), 1.0), atol=1e-4)  # text_radius_init
    direction = torch.nn.functional.normalize(lorentz.logmap0(text, c), dim=-1)
    assert torch.allclose(direction, sentence_embedding(tokens, mask), atol=1e-5)


def test_gate_opens_the_context_branch_and_residual_off_skips_it():
    model = _model()
    tokens, mask = _tokens()
    with torch.no_grad():
        model.text_anchor.gate.fill_(5.0)
    gated = model.embed_text_tokens(tokens, mask)
    direction = torch.nn.functional.normalize(lorentz.logmap0(gated, model.space.c()), dim=-1)
    assert not torch.allclose(direction, sentence_embedding(tokens, mask), atol=1e-3)
    plain = _model(residual=False)
    assert plain.text_anchor.gate is None
    assert torch.isfinite(plain.embed_text_tokens(tokens, mask)).all()


def test_frozen_projection_has_no_gradient_and_trainable_one_does():
    for freeze in (True, False):
        model = _model(freeze_projection=freeze)
        tokens, mask = _tokens()
        model.embed_text_tokens(tokens, mask).sum().backward()
        assert model.text_anchor.projection.weight.requires_grad is (not freeze)
        assert torch.allclose(model.text_anchor.projection.weight, torch.eye(TEXT_DIM))


def test_points_get_bounded_radii_and_euclidean_twin_gives_unit_vectors():
    model = _model(point_radius=(0.5, 2.0), point_radius_init=1.2)
    pts = torch.randn(2, 32, 3)
    r = lorentz.dist0(model.embed_points(pts), model.space.c())
    assert torch.allclose(r, torch.full((2,), 1.2), atol=1e-4)
    cfg = ModelConfig.model_validate({"dim": TEXT_DIM, "points": {"kind": "pointnet", "in_channels": 3, "num_tokens": 4,
                                      "k": 4, "width": 8, "dim": 8}, "context": {"heads": 2, "layers": 1},
                                      "space": {"kind": "euclidean"}, "language": {"anchor": True}})
    eu = H2ARN(cfg, TEXT_DIM).eval()
    tokens, mask = _tokens()
    assert torch.allclose(eu.embed_text_tokens(tokens, mask).norm(dim=-1), torch.ones(3), atol=1e-5)


def test_radius_head_bounds_hold_for_extreme_inputs():
    head = RadiusHead(4, 8, (0.1, 3.0), 1.0)
    with torch.no_grad():
        head.mlp[-1].weight.fill_(1.0)
    with torch.no_grad():
        r = head(torch.tensor([[1e6] * 4, [-1e6] * 4, [0.0] * 4]))
    assert float(r.min()) >= 0.1 and float(r.max()) <= 3.0


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="text_radius"):
        LanguageConfig(text_radius=(0.5, 2.0), text_radius_init=3.0)
    with pytest.raises(ValueError, match="hetero"):
        ModelConfig.model_validate({"space": {"kind": "hetero"}, "language": {"anchor": True}})
    assert math.isclose(LanguageConfig().text_radius_init, 1.0)
