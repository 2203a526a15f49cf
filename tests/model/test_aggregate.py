import math

import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.model.aggregate import ContributionAwarePool, MeanPool, masked_mean
from hyperalign.model.embed import EuclideanSpace, LorentzSpace


def _tokens(b=3, length=7, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(b, length, d, generator=g)
    mask = torch.ones(b, length, dtype=torch.bool)
    mask[0, 4:] = False
    if b > 2:
        mask[2, 1:] = False  # a single real token
    return tokens, mask


@pytest.mark.parametrize("geometry", ["lorentz", "euclidean"])
def test_weights_sum_to_one_and_ignore_padding(geometry):
    tokens, mask = _tokens()
    space = LorentzSpace(16) if geometry == "lorentz" else EuclideanSpace(16)
    pooled, w = ContributionAwarePool(geometry)(tokens, mask, space, "text")
    assert torch.allclose(w.sum(dim=1), torch.ones(3), atol=1e-6)
    assert torch.all(w[~mask] == 0)
    assert torch.all(w[mask] > 0)
    assert torch.allclose(w[2, 0], torch.tensor(1.0))
    assert pooled.shape == (3, 16)


@pytest.mark.parametrize("pool", [MeanPool(), ContributionAwarePool("lorentz"), ContributionAwarePool("euclidean")])
def test_padding_content_never_changes_the_output(pool):
    tokens, mask = _tokens()
    space = LorentzSpace(16) if getattr(pool, "geometry", "lorentz") == "lorentz" else EuclideanSpace(16)
    a, _ = pool(tokens, mask, space, "points")
    garbage = tokens.clone()
    garbage[~mask] = 1e3 * torch.randn(int((~mask).sum()), 16)
    b, _ = pool(garbage, mask, space, "points")
    assert torch.allclose(a, b, atol=1e-6)


def test_contribution_weights_follow_the_formula():
    """w_i = softmax(-d_L(expmap0(a t_i), expmap0(a mean)) / tau), pooled = sum w_i t_i (H2ARN Eqs. 6-9)."""
    tokens, mask = _tokens(b=1, length=5)
    mask[:] = True
    space = LorentzSpace(16, curvature_init=2.0)
    pool = ContributionAwarePool("lorentz", tau_init=0.5)
    pooled, w = pool(tokens, mask, space, "text")
    c, a = 2.0, 1 / math.sqrt(16)
    t = tokens[0].double()
    anchor = lorentz.expmap0(a * t.mean(0), c)
    d = lorentz.dist(lorentz.expmap0(a * t, c), anchor, c)
    w_ref = torch.softmax(-d / 0.5, dim=0)
    assert torch.allclose(w[0].double(), w_ref, atol=1e-5)
    assert torch.allclose(pooled[0].double(), (w_ref[:, None] * t).sum(0), atol=1e-5)


def test_outlier_token_gets_less_weight():
    tokens = torch.zeros(1, 4, 8)
    tokens[0, :3] = torch.randn(3, 8) * 0.1
    tokens[0, 3] = 20.0
    mask = torch.ones(1, 4, dtype=torch.bool)
    _, w = ContributionAwarePool("lorentz", tau_init=0.1)(tokens, mask, LorentzSpace(8), "text")
    assert w[0, 3] < w[0, :3].min()


def test_masked_mean_matches_manual():
    tokens, mask = _tokens()
    mean, _ = masked_mean(tokens, mask)
    assert torch.allclose(mean[0], tokens[0, :4].mean(0), atol=1e-6)
    assert torch.allclose(mean[2], tokens[2, 0], atol=1e-6)
