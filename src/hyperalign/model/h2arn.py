"""H2ARN (AAAI 2026): per-modality structural context encoders, contribution-aware hyperbolic aggregation and a
Lorentz embedding with learnable curvature, on top of a text tower (token features) and a point cloud tower.

The model maps inputs to embedded points and nothing else: losses live in :mod:`hyperalign.losses`, metrics in
:mod:`hyperalign.eval`. Its ablations (Table 3) and the Euclidean twins are configurations of the same class:
``aggregation.kind = "mean"`` (w/o aggregation) and ``space.kind = "euclidean"`` (Eu+MP, Eu+CA).

A frozen text tower is not part of this module: its token features come from a cache
(:class:`hyperalign.encoders.text.TextFeatureCache`) and the model starts at the projection. A trainable text tower
(``text.trainable``) is held as the submodule ``text_tower`` and saved with the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from hyperalign.encoders.points import PointTowerConfig, build_point_tower
from hyperalign.encoders.text import TextTower, TextTowerConfig
from hyperalign.model.aggregate import ContributionAwarePool, MeanPool
from hyperalign.model.context import ContextEncoder
from hyperalign.model.embed import EuclideanSpace, HeteroLorentzSpace, LorentzSpace
from hyperalign.model.space_kind import SpaceKind, is_hyperbolic


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContextConfig(_Strict):
    """The structural context encoders. ``dropout`` acts on the residual and feed-forward paths;
    ``attention_dropout`` on the attention weights (default 0: nonzero values leave PyTorch's fused attention kernel
    and make a step 12 % (CPU preset) to 58 % (paper scale) slower, ``benchmarks/results/speed.md``);
    ``checkpoint`` recomputes each block in the backward pass (activation checkpointing: 3.4x less peak memory at
    the paper's batch 256, for one more forward)."""

    heads: int = Field(8, ge=1)
    layers: int = Field(4, ge=0)
    ff_mult: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    attention_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    checkpoint: bool = False


class AggregationConfig(_Strict):
    kind: Literal["contribution", "mean"] = "contribution"
    tau_init: float = Field(1.0, gt=0)
    tau_min: float = Field(0.01, gt=0)
    tau_max: float = Field(100.0, gt=0)
    learn_tau: bool = True


class SpaceConfig(_Strict):
    """The embedding space: ``lorentz`` (one learnable curvature, H2ARN / MERU / ARGENT), ``hetero`` (learnable
    text and point curvatures, each bounded to [curvature_min, curvature_max], compared on an intermediate
    manifold) or ``euclidean`` (the ablations)."""

    kind: SpaceKind = "lorentz"
    curvature_init: float = Field(1.0, gt=0)
    curvature_min: float = Field(0.1, gt=0)
    curvature_max: float = Field(10.0, gt=0)
    learn_curvature: bool = True
    alpha_init: float | None = Field(None, gt=0, description="scale alpha at init; None = 1/sqrt(dim)")
    alpha_max: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> SpaceConfig:
        if not self.curvature_min <= self.curvature_init <= self.curvature_max:
            raise ValueError(
                f"curvature_init {self.curvature_init} must lie in [curvature_min {self.curvature_min}, "
                f"curvature_max {self.curvature_max}]"
            )
        return self


class ModelConfig(_Strict):
    dim: int = Field(256, ge=8, description="common width d of both context encoders and the embedding")
    text: TextTowerConfig = TextTowerConfig()
    points: PointTowerConfig = PointTowerConfig()
    context: ContextConfig = ContextConfig()
    aggregation: AggregationConfig = AggregationConfig()
    space: SpaceConfig = SpaceConfig()


class H2ARN(nn.Module):
    """Text token features and point clouds -> embedded points in a shared Lorentz (or Euclidean) space."""

    def __init__(self, cfg: ModelConfig, text_dim: int, text_tower: TextTower | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.text_dim = text_dim
        if cfg.text.trainable:
            if text_tower is None:
                raise ValueError("model.text.trainable is true: pass the TextTower to train with the model")
            self.text_tower = text_tower
        ctx = cfg.context
        self.text_context = ContextEncoder(
            text_dim, cfg.dim, ctx.heads, ctx.layers, ctx.ff_mult, ctx.dropout, "text",
            attention_dropout=ctx.attention_dropout, checkpoint=ctx.checkpoint,
        )
        self.point_tower = build_point_tower(cfg.points)
        self.point_context = ContextEncoder(
            cfg.points.dim, cfg.dim, ctx.heads, ctx.layers, ctx.ff_mult, ctx.dropout, "points",
            attention_dropout=ctx.attention_dropout, checkpoint=ctx.checkpoint,
        )
        s = cfg.space
        self.space: LorentzSpace | HeteroLorentzSpace | EuclideanSpace
        if s.kind == "euclidean":
            self.space = EuclideanSpace(cfg.dim)
        else:
            space_cls = HeteroLorentzSpace if s.kind == "hetero" else LorentzSpace
            self.space = space_cls(
                cfg.dim, s.curvature_init, (s.curvature_min, s.curvature_max), s.learn_curvature, s.alpha_init, s.alpha_max
            )
        self.text_pool = self._make_pool(cfg)
        self.point_pool = self._make_pool(cfg)

    @staticmethod
    def _make_pool(cfg: ModelConfig) -> MeanPool | ContributionAwarePool:
        a = cfg.aggregation
        if a.kind == "mean":
            return MeanPool()
        return ContributionAwarePool(
            "lorentz" if is_hyperbolic(cfg.space.kind) else "euclidean", a.tau_init, (a.tau_min, a.tau_max), a.learn_tau
        )

    @property
    def hyperbolic(self) -> bool:
        return is_hyperbolic(self.cfg.space.kind)

    def scalars(self) -> dict[str, Tensor]:
        """The model's learned scalars by logged name: the space's (curvatures, scales), then each pool's, suffixed
        with its modality (``tau_agg_text``)."""
        out = dict(self.space.scalars())
        for m, pool in (("text", self.text_pool), ("points", self.point_pool)):
            out.update({f"{k}_{m}": v for k, v in pool.scalars().items()})
        return out

    def _pool_text(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.text_pool(self.text_context(tokens, mask), mask, self.space, "text")

    def _pool_points(self, points: Tensor) -> tuple[Tensor, Tensor]:
        tokens = self.point_tower(points)
        return self._pool_point_tokens(tokens, tokens.new_ones(tokens.shape[:2], dtype=torch.bool))

    def embed_text_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """Text token features (B, L, text_dim) + mask (B, L, True = real) -> embedded points (B, d)."""
        return self.space(self._pool_text(tokens, mask)[0], "text")

    def text_token_weights(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """Each token's weight in its caption's aggregate (B, L): rows sum to 1, padding gets 0."""
        return self._pool_text(tokens, mask)[1]

    def embed_texts(self, texts: Sequence[str]) -> Tensor:
        """Raw captions through the trainable text tower (only when ``text.trainable``) -> embedded points (B, d)."""
        if not hasattr(self, "text_tower"):
            raise RuntimeError("this model has a frozen text tower: embed cached token features with embed_text_tokens")
        return self.embed_text_tokens(*self.text_tower(texts))

    def _pool_point_tokens(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return self.point_pool(self.point_context(tokens, mask), mask, self.space, "points")

    def embed_points(self, points: Tensor) -> Tensor:
        """Point clouds (B, N, C) -> embedded points (B, d)."""
        return self.space(self._pool_points(points)[0], "points")

    def embed_point_tokens(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """Point-tower tokens (B, L_p, points.dim) + mask (B, L_p) -> embedded points (B, d): the model after its point
        tower (as :meth:`embed_text_tokens` after the text tower)."""
        return self.space(self._pool_point_tokens(tokens, mask)[0], "points")

    def point_token_weights(self, points: Tensor) -> Tensor:
        """Each point token's weight in its cloud's aggregate (B, L_p): rows sum to 1."""
        return self._pool_points(points)[1]

    def pairwise_distance(self, text: Tensor, points: Tensor) -> Tensor:
        return self.space.pairwise_distance(text, points)
