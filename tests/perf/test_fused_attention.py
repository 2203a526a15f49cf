"""The fused context encoder computes the reference's attention: outputs and gradients against the naive baseline
of ``benchmarks/_naive_attention.py`` (explicit scores, every padded position run), against stock
``nn.TransformerEncoderLayer`` (the previous implementation, whose checkpoints must still load), with activation
checkpointing, and on the fused kernel. Batches with padding take the packed path (real tokens only)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from hyperalign.model.context import ContextEncoder

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _naive_attention import NaiveContextEncoder  # noqa: E402

# float32 tolerance: the fused kernel sums in another order (online softmax), so outputs of order 1 differ by a few
# ulps per layer; float64 shows the two compute the same function.
TOLERANCE = {torch.float32: 2e-5, torch.float64: 1e-12}


def _inputs(dtype: torch.dtype, b: int = 4, length: int = 9, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(b, length, d, generator=g, dtype=dtype)
    mask = torch.ones(b, length, dtype=torch.bool)
    mask[0, 5:] = False
    mask[1, 1:] = False  # one real token
    mask[2, 8:] = False
    return tokens, mask


def _pair(dtype: torch.dtype, dropout: float = 0.0) -> tuple[ContextEncoder, NaiveContextEncoder]:
    torch.manual_seed(0)
    fused = ContextEncoder(12, 32, heads=8, layers=2, ff_mult=2, dropout=dropout).to(dtype)
    naive = NaiveContextEncoder(12, 32, heads=8, layers=2, ff_mult=2, dropout=dropout).to(dtype)
    naive.load_state_dict(fused.state_dict())
    return fused, naive


def _loss_and_grads(encoder: nn.Module, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    out = encoder(tokens, mask)
    weights = torch.linspace(-1, 1, out[mask].numel(), dtype=out.dtype).view_as(out[mask])
    loss = (out[mask] * weights).sum()
    grads = torch.autograd.grad(loss, list(encoder.parameters()))
    return out[mask], list(grads)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_matches_naive_attention_in_training(dtype):
    fused, naive = _pair(dtype)
    tokens, mask = _inputs(dtype)
    out_f, grads_f = _loss_and_grads(fused.train(), tokens, mask)
    out_n, grads_n = _loss_and_grads(naive.train(), tokens, mask)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(out_f, out_n, rtol=tol, atol=tol)
    for gf, gn in zip(grads_f, grads_n):
        torch.testing.assert_close(gf, gn, rtol=tol, atol=tol)


@pytest.mark.parametrize("padding", [True, False])
def test_inference_paths_match_naive_attention(padding):
    """With padding: the packed path; without: nn.TransformerEncoderLayer's fused inference path."""
    fused, naive = _pair(torch.float32)
    tokens, mask = _inputs(torch.float32)
    if not padding:
        mask = torch.ones_like(mask)
    with torch.no_grad():
        a = fused.eval()(tokens, mask)
        b = naive.eval()(tokens, mask)
    torch.testing.assert_close(a[mask], b[mask], rtol=2e-5, atol=2e-5)
    assert torch.all(a[~mask] == 0)  # padding is never computed


def test_same_function_and_state_dict_as_stock_transformer_layers():
    torch.manual_seed(0)
    fused = ContextEncoder(12, 32, heads=8, layers=2, ff_mult=2, dropout=0.0).train()
    stock_layer = nn.TransformerEncoderLayer(32, 8, 64, 0.0, "gelu", batch_first=True, norm_first=True)
    stock = nn.TransformerEncoder(stock_layer, 2, enable_nested_tensor=False).train()
    stock.load_state_dict(fused.blocks.state_dict(), strict=True)
    tokens, mask = _inputs(torch.float32)
    expected = fused.norm(stock(fused.proj(tokens), src_key_padding_mask=~mask))
    torch.testing.assert_close(fused(tokens, mask)[mask], expected[mask], rtol=2e-5, atol=2e-5)


def test_activation_checkpointing_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = ContextEncoder(12, 32, heads=8, layers=2, ff_mult=2, dropout=0.1, attention_dropout=0.1).train()
    recomputed = ContextEncoder(12, 32, heads=8, layers=2, ff_mult=2, dropout=0.1, attention_dropout=0.1, checkpoint=True).train()
    recomputed.load_state_dict(plain.state_dict())
    tokens, mask = _inputs(torch.float32)
    torch.manual_seed(1)
    out_p, grads_p = _loss_and_grads(plain, tokens, mask)
    torch.manual_seed(1)
    out_r, grads_r = _loss_and_grads(recomputed, tokens, mask)  # same dropout masks: the RNG state is replayed
    assert torch.equal(out_p, out_r)
    for gp, gr in zip(grads_p, grads_r):
        torch.testing.assert_close(gp, gr, rtol=1e-6, atol=1e-7)


def _ops(encoder: ContextEncoder, tokens: torch.Tensor, mask: torch.Tensor) -> set[str]:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        encoder(tokens, mask).sum().backward()
    return {event.key for event in prof.key_averages()}


def test_training_takes_the_fused_kernel_unless_attention_dropout_is_set():
    tokens, mask = _inputs(torch.float32)
    torch.manual_seed(0)
    fused = _ops(ContextEncoder(12, 32, heads=8, layers=1, dropout=0.1).train(), tokens, mask)
    assert any("flash_attention" in op for op in fused)
    assert "aten::_softmax" not in fused  # no materialised attention probabilities
    unfused = _ops(ContextEncoder(12, 32, heads=8, layers=1, dropout=0.1, attention_dropout=0.1).train(), tokens, mask)
    assert "aten::_softmax" in unfused
