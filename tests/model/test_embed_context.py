import math

import pytest
import torch

from hyperalign.model.context import ContextEncoder
from hyperalign.model.embed import EuclideanSpace, LorentzSpace
from hyperalign.model.scalars import BoundedLogScalar, Curvature


def _minkowski_norm_from_tangent(x: torch.Tensor, v: torch.Tensor, c: float) -> torch.Tensor:
    """``<x, x>_L`` of the full point ``[x_0, x~]`` whose time ``x_0 = cosh(sqrt(c) ||v||) / sqrt(c)`` comes from the
    tangent vector ``v`` the point was made from (float64), not from ``x~``: only a point that really is
    ``expmap0(v)`` gives ``-1/c``."""
    x0 = torch.cosh(math.sqrt(c) * v.double().norm(dim=-1)) / math.sqrt(c)
    return -x0**2 + (x.double() ** 2).sum(-1)


def test_lorentz_space_embeds_on_the_hyperboloid_in_float32():
    space = LorentzSpace(32)
    z = torch.randn(5, 32).bfloat16()
    x = space(z, "text")
    assert x.dtype == torch.float32
    c = space.c().item()
    v = space.tangent(z, "text")
    target = torch.full((5,), -1 / c, dtype=torch.float64)
    assert torch.allclose(_minkowski_norm_from_tangent(x, v, c), target, rtol=1e-5)
    # the check can fail: space parts 1 % off the hyperboloid point of v are caught
    assert not torch.allclose(_minkowski_norm_from_tangent(1.01 * x, v, c), target, rtol=1e-5)
    assert math.isclose(space.alpha["text"]().item(), 1 / math.sqrt(32), rel_tol=1e-6)


def test_bounded_scalar_clamps_in_forward_and_has_no_gradient_outside():
    s = BoundedLogScalar(1.0, 0.1, 10.0)
    with torch.no_grad():
        s.log_value.fill_(math.log(50.0))
    v = s()
    assert math.isclose(v.item(), 10.0, rel_tol=1e-6)
    v.backward()
    assert float(s.log_value.grad) == 0.0
    with pytest.raises(ValueError, match="low <= init <= high"):
        Curvature(init=20.0)


def test_euclidean_space_is_cosine():
    space = EuclideanSpace(8)
    x = space(torch.randn(4, 8), "text")
    y = space(torch.randn(3, 8), "points")
    assert torch.allclose(x.norm(dim=-1), torch.ones(4), atol=1e-6)
    assert torch.allclose(space.pairwise_distance(x, y), 1 - x @ y.T)


def test_context_encoder_padding_never_changes_real_tokens():
    torch.manual_seed(0)
    enc = ContextEncoder(12, 16, heads=4, layers=2, dropout=0.0).eval()
    tokens = torch.randn(1, 5, 12)
    mask = torch.ones(1, 5, dtype=torch.bool)
    padded = torch.cat([tokens, 100 * torch.randn(1, 3, 12)], dim=1)
    pmask = torch.cat([mask, torch.zeros(1, 3, dtype=torch.bool)], dim=1)
    a = enc(tokens, mask)
    b = enc(padded, pmask)[:, :5]
    assert torch.allclose(a, b, atol=1e-5)


def test_context_encoder_rejects_bad_input():
    enc = ContextEncoder(12, 16, heads=4, layers=1)
    with pytest.raises(ValueError, match="batch, length, dim"):
        enc(torch.randn(5, 12), torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="bool mask"):
        enc(torch.randn(2, 5, 12), torch.ones(2, 5))
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"rows \[1\] are all padding"):
        enc(torch.randn(2, 5, 12), mask)
    with pytest.raises(ValueError, match="divisible"):
        ContextEncoder(12, 10, heads=4, layers=1)
