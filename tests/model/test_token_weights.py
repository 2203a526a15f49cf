"""H2ARN's embedding methods return points only; the aggregation's token weights come from their own methods."""

import pytest
import torch

from hyperalign.model.h2arn import H2ARN, ModelConfig

TEXT_DIM = 24


def _model(aggregation: str) -> H2ARN:
    torch.manual_seed(0)
    cfg = ModelConfig.model_validate(
        {
            "dim": 16,
            "points": {"kind": "pointnet2", "in_channels": 3, "num_tokens": 4, "k": 4, "width": 8, "dim": 16},
            "context": {"heads": 2, "layers": 1, "dropout": 0.0},
            "aggregation": {"kind": aggregation},
        }
    )
    return H2ARN(cfg, TEXT_DIM).eval()


@pytest.mark.parametrize("aggregation", ["contribution", "mean"])
@torch.no_grad()
def test_text_weights_are_the_ones_the_embedding_pools_with(aggregation):
    model = _model(aggregation)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(3, 5, TEXT_DIM, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    points = model.embed_text_tokens(tokens, mask)
    weights = model.text_token_weights(tokens, mask)
    assert points.shape == (3, 16) and weights.shape == (3, 5)
    assert torch.allclose(weights.sum(dim=1), torch.ones(3), atol=1e-6)
    assert bool((weights[~mask] == 0).all()) and bool((weights[mask] > 0).all())
    pooled = torch.einsum("bl,bld->bd", weights, model.text_context(tokens, mask))
    assert torch.allclose(model.space(pooled, "text"), points, atol=1e-6)


@torch.no_grad()
def test_point_weights_are_the_ones_the_embedding_pools_with():
    model = _model("contribution")
    clouds = torch.randn(2, 32, 3, generator=torch.Generator().manual_seed(2))
    points = model.embed_points(clouds)
    weights = model.point_token_weights(clouds)
    assert points.shape == (2, 16) and weights.shape == (2, 4)
    assert torch.allclose(weights.sum(dim=1), torch.ones(2), atol=1e-6)
    assert not torch.allclose(weights, torch.full_like(weights, 0.25))  # contribution-aware, not the mean
