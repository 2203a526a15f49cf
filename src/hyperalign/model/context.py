"""Structural context encoder: a pre-LN transformer over one modality's token sequence (H2ARN Sec. "Structural
context encoder"; the paper's best setting is 8 heads, 4 layers).

Tokens first go through a linear projection to the common width ``d``; padding positions are excluded from attention
with a key padding mask, so real tokens never see them.

Speed and memory (CPU, where the paper-scale step was measured; see ``benchmarks/speed.py``):

* Self-attention calls ``scaled_dot_product_attention`` on head views of one packed projection. With no dropout on
  the attention probabilities PyTorch takes its fused (flash) kernel, which never stores the ``B x H x L x L`` scores;
  attention-probability dropout forces its unfused math path on the CPU (scores plus a same-sized dropout mask kept
  for backward), so ``attention_dropout`` defaults to 0 while residual and feed-forward dropout stay at ``dropout``.
* A mask without padding is not applied at all (point tokens). Callers trim a batch to its longest sequence
  (:meth:`hyperalign.train.setup.CaptionFeatures.batch`, :class:`hyperalign.encoders.text.TextTower`).
* ``checkpoint=True`` recomputes each block in the backward pass instead of storing its activations (about a third
  more compute, activation memory of one block instead of all).
* Without gradients (evaluation) the blocks take ``nn.TransformerEncoderLayer``'s fused inference path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as recompute


def check_tokens(tokens: Tensor, mask: Tensor, name: str) -> None:
    """Raise a ValueError naming ``name`` unless tokens are (B, L, D) and mask is (B, L) bool with a real token per row."""
    if tokens.dim() != 3:
        raise ValueError(f"{name}: expected tokens of shape (batch, length, dim), got {tuple(tokens.shape)}")
    if mask.shape != tokens.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(
            f"{name}: expected a bool mask of shape {tuple(tokens.shape[:2])} (True = real token), "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    if not bool(mask.any(dim=1).all()):
        raise ValueError(f"{name}: every sequence needs at least one real token; rows {mask.any(dim=1).logical_not().nonzero().flatten().tolist()} are all padding")


class EncoderBlock(nn.TransformerEncoderLayer):
    """``nn.TransformerEncoderLayer`` (pre-LN, batch first, GELU; same parameters and state-dict keys) whose
    self-attention runs ``scaled_dot_product_attention`` on (B, H, L, d/H) views of the packed q/k/v projection,
    without the (L, B, d) transposes and copies of ``nn.MultiheadAttention``; attention dropout is
    ``self_attn.dropout``."""

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool = False) -> Tensor:
        attn = self.self_attn
        b, length, dim = x.shape
        qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(b, length, 3, attn.num_heads, dim // attn.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        # key_padding_mask arrives additive (0 / -inf, from the layer's forward); broadcast over heads and queries.
        bias = None if key_padding_mask is None else key_padding_mask.view(b, 1, 1, length)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=attn.dropout if self.training else 0.0)
        return self.dropout1(attn.out_proj(out.transpose(1, 2).reshape(b, length, dim)))


class ContextEncoder(nn.Module):
    """``Linear(in_dim -> d)`` then ``layers`` pre-LN transformer blocks and a final LayerNorm; (B, L, in) -> (B, L, d)."""

    def __init__(
        self,
        in_dim: int,
        dim: int,
        heads: int,
        layers: int,
        ff_mult: int = 4,
        dropout: float = 0.1,
        name: str = "context",
        attention_dropout: float = 0.0,
        checkpoint: bool = False,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"{name}: dim {dim} must be divisible by heads {heads}")
        self.name = name
        self.checkpoint = checkpoint
        self.proj = nn.Linear(in_dim, dim)
        layer = EncoderBlock(
            dim, heads, dim_feedforward=ff_mult * dim, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        layer.self_attn.dropout = attention_dropout
        # The container is kept for its state-dict layout (blocks.layers.<i>.*); forward loops over its layers.
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers > 0 else None
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """``mask``: (B, L) bool, True = real token. Padding outputs are defined but meaningless; pool with the mask."""
        check_tokens(tokens, mask, self.name)
        h = self.proj(tokens)
        pad = None if bool(mask.all()) else ~mask
        for layer in self.blocks.layers if self.blocks is not None else ():
            if self.checkpoint and torch.is_grad_enabled():
                h = recompute(layer, h, None, pad, use_reentrant=False)
            else:
                h = layer(h, src_key_padding_mask=pad)
        return self.norm(h)
