"""The naive baseline of ``speed.py``: the H2ARN reference's unfused attention, with hyperalign's parameters.

The reference (liwrui/H2ARN ``model.py``) stacks ``nn.TransformerEncoderLayer`` blocks with dropout 0.1 and pads
every caption to 77 tokens; in training that attention materialises the ``B x H x L x L`` scores, their softmax and a
dropout mask of the same size. :class:`NaiveBlock` writes that computation out,
``dropout(softmax(Q K^T / sqrt(d_h) + mask)) V``, and :class:`NaiveContextEncoder` stacks it like
:class:`hyperalign.model.context.ContextEncoder` (same parameters and state-dict keys, so weights move between the
two), running every padded position. Only the benchmark and ``tests/perf`` use this module.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


class NaiveBlock(nn.TransformerEncoderLayer):
    """Pre-LN block with explicit attention scores; always the unfused path, also without gradients."""

    def forward(
        self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None, is_causal: bool = False
    ) -> Tensor:
        x = src + self._sa_block(self.norm1(src), None, src_key_padding_mask)
        return x + self._ff_block(self.norm2(x))

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool = False) -> Tensor:
        attn = self.self_attn
        b, length, dim = x.shape
        head_dim = dim // attn.num_heads
        q, k, v = (
            t.reshape(b, length, attn.num_heads, head_dim).transpose(1, 2)
            for t in F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim)  # (B, H, L, L), kept for backward
        if key_padding_mask is not None:  # bool, True = padding
            scores = scores.masked_fill(key_padding_mask.view(b, 1, 1, length), float("-inf"))
        probs = F.dropout(scores.softmax(dim=-1), attn.dropout, self.training)
        out = (probs @ v).transpose(1, 2).reshape(b, length, dim)
        return self.dropout1(attn.out_proj(out))


class NaiveContextEncoder(nn.Module):
    """``ContextEncoder``'s parameters with :class:`NaiveBlock` blocks; attention dropout = ``dropout`` (reference)."""

    def __init__(self, in_dim: int, dim: int, heads: int, layers: int, ff_mult: int = 4, dropout: float = 0.1) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        block = NaiveBlock(dim, heads, ff_mult * dim, dropout, "gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B, L, in), (B, L) bool (True = real) -> (B, L, d); every position runs, padding only masked."""
        h = self.proj(tokens)
        for layer in self.blocks.layers:
            h = layer(h, src_key_padding_mask=~mask)
        return self.norm(h)
