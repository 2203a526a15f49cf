"""Pooling a contextual token sequence into one vector per item.

* :class:`MeanPool` — masked mean (the "w/o aggregation" ablation).
* :class:`ContributionAwarePool` — H2ARN's contribution-aware hyperbolic aggregation (Sec. "Contribution-aware
  hyperbolic aggregation", Eqs. 6-9): the masked mean of the tokens is the anchor; anchor and tokens are lifted to the
  hyperboloid with ``expmap0`` (after the modality's scale ``alpha``, so the distances live in the embedding space);
  each token's weight is ``w_i = softmax_i(-d_L(token_i, anchor) / tau_agg)`` over real tokens only (padding gets
  weight exactly 0); the pooled tangent vector is ``sum_i w_i t_i``, which the embedding space maps with ``expmap0``.
  With ``geometry="euclidean"`` the distance is the Euclidean one (the Eu+CA ablation). ``tau_agg`` is learned in
  log space and bounded.

Both return ``(pooled (B, d), weights (B, L))``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from hyperalign.geometry import lorentz
from hyperalign.model.embed import EmbeddingSpace, LorentzChart
from hyperalign.model.scalars import BoundedLogScalar


def masked_mean(tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Mean over real tokens and the uniform weights it used: (B, L, d), (B, L) -> (B, d), (B, L)."""
    w = mask.to(tokens.dtype)
    w = w / w.sum(dim=1, keepdim=True)
    return torch.einsum("bl,bld->bd", w, tokens), w


class MeanPool(nn.Module):
    def scalars(self) -> dict[str, Tensor]:
        """No learned scalars."""
        return {}

    def forward(self, tokens: Tensor, mask: Tensor, space: EmbeddingSpace, modality: str) -> tuple[Tensor, Tensor]:
        return masked_mean(tokens, mask)


class ContributionAwarePool(nn.Module):
    def __init__(
        self,
        geometry: Literal["lorentz", "euclidean"] = "lorentz",
        tau_init: float = 1.0,
        tau_bounds: tuple[float, float] = (0.01, 100.0),
        learn_tau: bool = True,
    ) -> None:
        super().__init__()
        self.geometry = geometry
        self.tau = BoundedLogScalar(tau_init, *tau_bounds, learnable=learn_tau, name="tau_agg")

    def scalars(self) -> dict[str, Tensor]:
        """Logged scalars: the aggregation temperature ``tau_agg``."""
        return {"tau_agg": self.tau()}

    def token_distances(self, tokens: Tensor, anchor: Tensor, space: EmbeddingSpace, modality: str) -> Tensor:
        """Distance of every token to the anchor, (B, L), in float32.

        One batched matrix-vector product per item (:func:`lorentz.pairwise_dist`), 4x cheaper forward + backward than
        the elementwise :func:`lorentz.dist` (``benchmarks/speed.py``); its absolute error near 0 (about
        ``2 sqrt(eps x_0 y_0)``, 3e-4 in float32) moves a weight by at most that over ``tau_agg``."""
        if self.geometry == "euclidean":
            return (tokens.float() - anchor.float().unsqueeze(1)).norm(dim=-1)
        if not isinstance(space, LorentzChart):
            raise TypeError(f"Lorentz aggregation needs a Lorentz space, got {type(space).__name__}")
        c = space.c()
        with torch.autocast(device_type=tokens.device.type, enabled=False):
            x = lorentz.expmap0(space.tangent(tokens, modality), c)
            a = lorentz.expmap0(space.tangent(anchor, modality), c)
            return lorentz.pairwise_dist(x, a.unsqueeze(1), c).squeeze(-1)

    def forward(self, tokens: Tensor, mask: Tensor, space: EmbeddingSpace, modality: str) -> tuple[Tensor, Tensor]:
        anchor, _ = masked_mean(tokens, mask)
        d = self.token_distances(tokens, anchor, space, modality)
        logits = (-d / self.tau()).masked_fill(~mask, float("-inf"))
        w = torch.softmax(logits, dim=1)
        return torch.einsum("bl,bld->bd", w.to(tokens.dtype), tokens), w
