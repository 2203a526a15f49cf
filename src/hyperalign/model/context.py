"""Structural context encoder: a pre-LN transformer over one modality's token sequence (H2ARN Sec. "Structural
context encoder"; the paper's best setting is 64 heads, 6 layers, Table 4).

Tokens first go through a linear projection to the common width ``d``; padding positions are excluded from attention
with a key padding mask, so real tokens never see them.

Speed and memory (CPU, where the paper-scale step was measured; see ``benchmarks/speed.py``):

* Self-attention calls ``scaled_dot_product_attention`` on head views of one packed projection. With no dropout on
  the attention probabilities PyTorch takes its fused (flash) kernel, which never stores the ``B x H x L x L`` scores;
  attention-probability dropout forces its unfused math path on the CPU (scores plus a same-sized dropout mask kept
  for backward), so ``attention_dropout`` defaults to 0 while residual and feed-forward dropout stay at ``dropout``.
* No work on padding: with padding in the batch, the per-token layers (norms, projections, feed-forward; most of
  the cost) run on the real tokens only, packed as (T, d), and only attention sees the padded (B, L) layout; callers
  also trim a batch to its longest sequence (:meth:`hyperalign.runtime.features.CaptionFeatures.batch`). A mask without
  padding (point tokens) is not applied at all.
* ``checkpoint=True`` recomputes each block in the backward pass instead of storing its activations (about a third
  more compute, activation memory of one block instead of all).
* Without gradients and padding the blocks take ``nn.TransformerEncoderLayer``'s fused inference path.
"""

from __future__ import annotations

from collections.abc import Callable

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
    ``self_attn.dropout``. :meth:`forward_packed` runs the block on real tokens only."""

    def _attention(self, qkv: Tensor, mask: Tensor | None) -> Tensor:
        """(B, L, 3d) packed projections -> (B, L, d); ``mask`` (B, 1, 1, L): bool (True = attend) or additive."""
        attn = self.self_attn
        b, length, width = qkv.shape
        q, k, v = qkv.view(b, length, 3, attn.num_heads, width // (3 * attn.num_heads)).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=attn.dropout if self.training else 0.0)
        return out.transpose(1, 2).reshape(b, length, width // 3)  # a view: the kernel writes (B, L, H, d/H)

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None, is_causal: bool = False) -> Tensor:
        attn = self.self_attn
        # key_padding_mask arrives additive (0 / -inf, from the layer's forward); broadcast over heads and queries.
        mask = None if key_padding_mask is None else key_padding_mask.view(x.shape[0], 1, 1, x.shape[1])
        out = self._attention(F.linear(x, attn.in_proj_weight, attn.in_proj_bias), mask)
        return self.dropout1(attn.out_proj(out))

    def forward_packed(self, x: Tensor, index: Tensor, mask: Tensor) -> Tensor:
        """The block on the T real tokens ``x`` (T, d), at ``index`` into the flattened (B, L) layout of ``mask``
        (B, L, True = real): norms, projections and the feed-forward run on real tokens only; attention scatters
        q/k/v into the padded layout (zeros at padding, which the mask excludes) and gathers its real rows back."""
        attn = self.self_attn
        b, length = mask.shape
        qkv = F.linear(self.norm1(x), attn.in_proj_weight, attn.in_proj_bias)
        qkv = qkv.new_zeros(b * length, qkv.shape[1]).index_copy(0, index, qkv).view(b, length, -1)
        out = self._attention(qkv, mask.view(b, 1, 1, length)).flatten(0, 1)[index]
        x = x + self.dropout1(attn.out_proj(out))
        return x + self._ff_block(self.norm2(x))


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
        """``mask``: (B, L) bool, True = real token. Outputs at padding are zeros when the batch has padding (never
        computed); pool with the mask."""
        check_tokens(tokens, mask, self.name)
        layers = self.blocks.layers if self.blocks is not None else ()
        if bool(mask.all()):
            h = self.proj(tokens)
            for layer in layers:
                h = self._run(layer, h, None, None)
            return self.norm(h)
        index = mask.flatten().nonzero().squeeze(1)
        h = self.proj(tokens.flatten(0, 1)[index])
        for layer in layers:
            h = self._run(layer.forward_packed, h, index, mask)
        h = self.norm(h)
        return h.new_zeros(mask.numel(), h.shape[-1]).index_copy(0, index, h).view(*mask.shape, -1)

    def _run(self, fn: Callable[..., Tensor], *args: Tensor | None) -> Tensor:
        """``fn(*args)``, recomputed in backward instead of stored when ``checkpoint`` is set and gradients are on."""
        if self.checkpoint and torch.is_grad_enabled():
            return recompute(fn, *args, use_reentrant=False)
        return fn(*args)
