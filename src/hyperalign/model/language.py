"""Language-anchored embedding: keep the pretrained sentence space on the text side and put the hierarchy level in
the radius.

* Text tangent vector ``v_t = r_t(s) * normalize(P s + g * z_ctx / sqrt(d))``: ``s`` is the frozen sentence
  embedding, pooled exactly as sentence-transformers pools all-MiniLM-L6-v2 (mean over the real tokens of the last
  hidden states, special tokens included, then L2-normalised; :func:`sentence_embedding`); ``P`` is a projection
  initialised to the identity when ``d`` equals the text width (else a norm-preserving orthogonal map; optionally
  frozen); ``z_ctx`` is the structural context encoder's contribution-aware pooled vector, added through a scalar
  gate ``g`` initialised to 0, so at initialisation the text side *is* the sentence space and training can only add
  to it (ReZero-style residual, Bachlechner et al. 2021; the frozen-text alignment of OpenShape / ULIP).
* Radius: ``r = r_min + (r_max - r_min) * sigmoid(MLP(x))`` (:class:`RadiusHead`), from ``s`` for text (so free text
  gets a radius too) and from the pooled point vector for shapes. In the Lorentz model ``d(o, expmap0(v)) = ||v||``
  at any curvature, so the head sets the distance from the origin directly; generic captions can sit near the origin
  (wide entailment cones) and specific ones further out, as in HyCoCLIP / ARGENT's norm-as-genericity.
* Shapes: ``v_p = r_p(z_p) * normalize(z_p)``.

The embedding space then maps tangent vectors with :meth:`from_tangent` (``expmap0(v, c)``, or ``v / ||v||`` in the
Euclidean twin, where the radius plays no part).
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn


class LanguageConfig(BaseModel):
    """Switches of the language-anchored embedding (config section ``model.language``; off by default)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    anchor: bool = Field(False, description="text direction = projected frozen sentence embedding (+ gated context "
                         "residual); radii from bounded heads")
    freeze_projection: bool = Field(False, description="keep the anchor projection P at its initialisation")
    residual: bool = Field(True, description="add the context encoder's pooled vector through a zero-initialised gate")
    text_radius: tuple[float, float] = Field((0.05, 3.0), description="bounds of the caption radius d(o, x)")
    text_radius_init: float = Field(1.0, gt=0, description="caption radius at initialisation")
    point_radius: tuple[float, float] = Field((0.05, 4.0), description="bounds of the shape radius d(o, x)")
    point_radius_init: float = Field(1.5, gt=0, description="shape radius at initialisation")
    radius_hidden: int = Field(64, ge=1, description="hidden width of the radius heads")

    @model_validator(mode="after")
    def _bounds(self) -> LanguageConfig:
        for name in ("text", "point"):
            lo, hi = getattr(self, f"{name}_radius")
            init = getattr(self, f"{name}_radius_init")
            if not 0 < lo < init < hi:
                raise ValueError(f"{name}_radius: expected 0 < min < {name}_radius_init < max, got "
                                 f"min={lo}, init={init}, max={hi}")
        return self


def sentence_embedding(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean of the real tokens' features, L2-normalised (sentence-transformers' all-MiniLM-L6-v2 pooling):
    (B, L, D), (B, L) -> (B, D), float32."""
    w = mask.to(torch.float32)
    mean = torch.einsum("bl,bld->bd", w, tokens.float()) / w.sum(dim=1, keepdim=True).clamp_min(1.0)
    return nn.functional.normalize(mean, dim=-1)


class RadiusHead(nn.Module):
    """``r(x) = r_min + (r_max - r_min) * sigmoid(MLP(LayerNorm(x)))``, a bounded positive radius per row:
    (B, D) -> (B, 1).

    The LayerNorm puts unit-norm sentence embeddings (components ~ 1/sqrt(D)) and pooled point vectors on one scale,
    so the head learns at the optimiser's step size; the output bias is set so that every input gives ``r_init`` at
    initialisation (the last layer's weights start at zero)."""

    def __init__(self, in_dim: int, hidden: int, bounds: tuple[float, float], init: float) -> None:
        super().__init__()
        self.low, self.high = float(bounds[0]), float(bounds[1])
        out = nn.Linear(hidden, 1)
        frac = (init - self.low) / (self.high - self.low)
        nn.init.zeros_(out.weight)
        nn.init.constant_(out.bias, math.log(frac / (1.0 - frac)))
        self.mlp = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), out)

    def forward(self, x: Tensor) -> Tensor:
        return self.low + (self.high - self.low) * torch.sigmoid(self.mlp(x.float()))


def _init_projection(layer: nn.Linear) -> None:
    """Identity when square, else a (semi-)orthogonal matrix: ``P s`` keeps the sentence space's angles."""
    with torch.no_grad():
        if layer.in_features == layer.out_features:
            layer.weight.copy_(torch.eye(layer.in_features))
        else:
            nn.init.orthogonal_(layer.weight)


class AnchoredText(nn.Module):
    """Text token features (+ the context branch's pooled vector) -> text tangent vectors (B, d)."""

    def __init__(self, text_dim: int, dim: int, cfg: LanguageConfig) -> None:
        super().__init__()
        self.dim = dim
        self.projection = nn.Linear(text_dim, dim, bias=False)
        _init_projection(self.projection)
        self.projection.requires_grad_(not cfg.freeze_projection)
        self.gate = nn.Parameter(torch.zeros(())) if cfg.residual else None
        self.radius = RadiusHead(text_dim, cfg.radius_hidden, cfg.text_radius, cfg.text_radius_init)

    def forward(self, tokens: Tensor, mask: Tensor, context: Tensor | None = None) -> Tensor:
        """``context``: the pooled context vector (B, d), required when the residual branch is on."""
        s = sentence_embedding(tokens, mask)
        u = self.projection(s)
        if self.gate is not None:
            if context is None:
                raise ValueError("the residual branch needs the pooled context vector")
            u = u + self.gate * context.float() / math.sqrt(self.dim)
        return self.radius(s) * nn.functional.normalize(u, dim=-1)


class RadialPoints(nn.Module):
    """Pooled point vectors (B, d) -> tangent vectors ``r_p(z) * z / ||z||``."""

    def __init__(self, dim: int, cfg: LanguageConfig) -> None:
        super().__init__()
        self.radius = RadiusHead(dim, cfg.radius_hidden, cfg.point_radius, cfg.point_radius_init)

    def forward(self, z: Tensor) -> Tensor:
        z = z.float()
        return self.radius(z) * nn.functional.normalize(z, dim=-1)
