"""Structural context encoder: a pre-LN transformer over one modality's token sequence (H2ARN Sec. "Structural
context encoder"; the paper's best setting is 8 heads, 4 layers).

Tokens first go through a linear projection to the common width ``d``; padding positions are excluded from attention
with a key padding mask, so real tokens never see them. Uses ``nn.TransformerEncoderLayer`` (``norm_first=True``),
whose attention is PyTorch's fused ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


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


class ContextEncoder(nn.Module):
    """``Linear(in_dim -> d)`` then ``layers`` pre-LN transformer blocks and a final LayerNorm; (B, L, in) -> (B, L, d)."""

    def __init__(
        self, in_dim: int, dim: int, heads: int, layers: int, ff_mult: int = 4, dropout: float = 0.1, name: str = "context"
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"{name}: dim {dim} must be divisible by heads {heads}")
        self.name = name
        self.proj = nn.Linear(in_dim, dim)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=ff_mult * dim, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers > 0 else None
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """``mask``: (B, L) bool, True = real token. Padding outputs are defined but meaningless; pool with the mask."""
        check_tokens(tokens, mask, self.name)
        h = self.proj(tokens)
        if self.blocks is not None:
            h = self.blocks(h, src_key_padding_mask=~mask)
        return self.norm(h)
