"""Point towers: a point cloud ``(B, N, C)`` -> a token sequence ``(B, L_p, dim)``, every token valid.

Columns 0-2 of a cloud are xyz and drive all geometry (sampling, grouping); columns 3.. (e.g. rgb) are extra
per-point features. Token centres are chosen by farthest point sampling (FPS) and each token summarises the
``k`` nearest points around its centre, so a tower is invariant to the order of the input points.

Kinds (``PointTowerConfig.kind``):

* ``"pointnet2"`` -- PointNet++ set abstraction (Qi et al., NeurIPS 2017), with kNN groups instead of ball query:
  FPS to ``min(4 L_p, N)`` centres, then to ``L_p``; each group's ``[x_j - c_i, f_j]`` goes through a shared MLP and
  is max-pooled; a positional MLP of the centre xyz is added before the output projection.
* ``"dgcnn"`` -- EdgeConv layers on a dynamic kNN graph (Wang et al., TOG 2019, Eq. 8; the tokeniser H2ARN uses),
  then per-point features max-pooled over the kNN groups of ``L_p`` FPS centres.
* ``"pointnet"`` -- a shared per-point MLP (Qi et al., CVPR 2017), max-pooled over the same groups.
* ``"box"`` -- a baseline that sees only the cloud's axis-aligned bounding-box extents (an MLP on
  ``max - min`` per axis): one token, whatever ``num_tokens`` says. It measures how far size and proportions alone go
  (the size-only baseline; Sweet Home 3D clouds keep their proportions).

Normalisation is per-point LayerNorm rather than BatchNorm, so a cloud's tokens do not depend on its batch-mates
and train and eval modes compute the same function. Nothing in a forward pass is random.

Clouds with fewer points than tokens repeat their FPS order cyclically
(:func:`hyperalign.sampling.farthest_point_sample`); groups use ``min(k, N)`` neighbours.
"""

from __future__ import annotations

import abc
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from hyperalign.sampling import check_cloud, farthest_point_sample

__all__ = [
    "PointTowerConfig",
    "knn",
    "gather_points",
    "neighbour_max",
    "PointTokenizer",
    "build_point_tower",
]

# Elements in one transient no-grad block (pairwise distances, gathered neighbours): 2^22 float32 = 16 MB, small
# enough to stay cache-friendly (faster than 2^24 on CPU).
# Bounds memory at N = 2048, B = 64, where a full (B, N, N) distance matrix would take 1 GB.
_CHUNK_ELEMENTS = 1 << 22


class PointTowerConfig(BaseModel):
    """Point tower settings (config section ``points``).

    ``in_channels``: 3 = xyz, 6 = xyz + rgb (extra columns are features; xyz always drives the geometry).
    ``num_tokens``: L_p, tokens per cloud (H2ARN uses 100). ``k``: neighbours per group and per EdgeConv.
    ``width``: internal feature width. ``dim``: output token width.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["pointnet2", "dgcnn", "pointnet", "box"] = "pointnet2"
    in_channels: int = Field(3, ge=3)
    num_tokens: int = Field(32, ge=1)
    k: int = Field(16, ge=1)
    width: int = Field(128, ge=2)
    dim: int = Field(256, ge=1)


def knn(query: Tensor, ref: Tensor, k: int) -> Tensor:
    """Indices ``(B, M, k)`` of the ``k`` nearest ``ref`` points to each query, nearest first.

    Squared Euclidean distance in any width D (xyz or feature space): ``||r||^2 - 2 q.r`` (the ``||q||^2`` term does
    not change a row's order). Computed without grad, in blocks of query rows of at most ``_CHUNK_ELEMENTS``
    distances. A query that is also in ``ref`` is its own nearest neighbour (up to rounding).
query ``(B, M, D)``, ref ``(B, N, D)``.
    """
    check_cloud(query, "query")
    check_cloud(ref, "ref")
    if query.shape[0] != ref.shape[0] or query.shape[2] != ref.shape[2]:
        shapes = f"{tuple(query.shape)}, {tuple(ref.shape)}"
        raise ValueError(f"query, ref: expected (B, M, D) and (B, N, D), got {shapes}")
    b, m, _ = query.shape
    n = ref.shape[1]
    if not 1 <= k <= n:
        raise ValueError(f"k: expected 1 <= k <= N = {n}, got {k}")
    with torch.no_grad():
        query, ref = query.detach(), ref.detach()
        ref_t = ref.transpose(1, 2)
        ref_sq = ref.square().sum(-1)[:, None, :]
        rows = max(1, _CHUNK_ELEMENTS // (b * n))
        blocks = [
            torch.baddbmm(ref_sq, query[:, i : i + rows], ref_t, alpha=-2.0).topk(k, dim=-1, largest=False).indices
            for i in range(0, m, rows)
        ]
    return torch.cat(blocks, dim=1)


def gather_points(x: Tensor, idx: Tensor) -> Tensor:
    """Rows of ``x`` ``(B, N, C)`` picked by ``idx`` ``(B, ...)``: ``out[b, ...] = x[b, idx[b, ...]]``, ``(B, ..., C)``.

    Differentiable in ``x``; raises IndexError for indices outside ``[0, N)``.
    """
    check_cloud(x, "x")
    b, n, c = x.shape
    if idx.dim() < 1 or idx.shape[0] != b:
        raise ValueError(f"idx: expected shape ({b}, ...), got {tuple(idx.shape)}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(f"idx: expected indices in [0, {n}), got range [{int(idx.min())}, {int(idx.max())}]")
    flat = idx.reshape(b, -1) + torch.arange(b, device=idx.device)[:, None] * n
    return x.reshape(b * n, c)[flat.reshape(-1)].reshape(*idx.shape, c)


def neighbour_max(x: Tensor, idx: Tensor) -> Tensor:
    """``out[b, i, c] = max_{j in idx[b, i]} x[b, j, c]``: features ``(B, N, C)`` max-pooled over groups ``(B, M, k)``.

    The winners are found without grad in batch blocks, then gathered, so autograd keeps a ``(B, M, C)`` index
    instead of the ``(B, M, k, C)`` neighbour tensor; the gradient is the usual max subgradient (first winner).
    """
    check_cloud(x, "x")
    b, _, c = x.shape
    m, k = idx.shape[1:]
    winners = torch.empty(b, m, c, dtype=torch.long, device=x.device)
    step = max(1, _CHUNK_ELEMENTS // max(1, m * k * c))
    with torch.no_grad():
        for s in range(0, b, step):
            block = idx[s : s + step]
            winners[s : s + step] = block.gather(2, gather_points(x[s : s + step].detach(), block).max(dim=2).indices)
    return x.gather(1, winners)


def _mlp(*sizes: int) -> nn.Sequential:
    """Shared MLP: (Linear, LayerNorm, ReLU) per consecutive pair of ``sizes``, applied on the last axis."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(c_in, c_out), nn.LayerNorm(c_out), nn.ReLU()]
    return nn.Sequential(*layers)


class PointTokenizer(nn.Module, abc.ABC):
    """Base point tower: ``forward(points (B, N, in_channels)) -> tokens (B, num_tokens, dim)``, all valid.

    Checks the input, casts it to the parameters' dtype, and hands xyz ``(B, N, 3)`` and extra features
    ``(B, N, in_channels - 3)`` to ``_encode``, which subclasses implement.
    """

    def __init__(self, cfg: PointTowerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_tokens = cfg.num_tokens
        self.dim = cfg.dim

    def forward(self, points: Tensor) -> Tensor:
        if not isinstance(points, Tensor) or not points.dtype.is_floating_point:
            raise TypeError(f"points: expected a floating-point tensor, got {getattr(points, 'dtype', type(points))}")
        check_cloud(points, "points", self.cfg.in_channels)
        if not bool(torch.isfinite(points).all()):
            raise ValueError("points: expected finite values, got NaN or inf")
        points = points.to(next(self.parameters()).dtype)
        return self._encode(points[..., :3], points[..., 3:])

    @abc.abstractmethod
    def _encode(self, xyz: Tensor, feats: Tensor) -> Tensor:
        """Tokens (B, num_tokens, dim) from xyz (B, N, 3) and extra per-point features (B, N, in_channels - 3)."""

    def _groups(self, xyz: Tensor, m: int) -> tuple[Tensor, Tensor]:
        """FPS ``m`` centres of ``xyz`` ``(B, N, 3)`` and their ``min(k, N)`` nearest points.

        Returns centre xyz ``(B, m, 3)`` and group indices ``(B, m, min(k, N))`` into ``xyz``.
        """
        centres = gather_points(xyz, farthest_point_sample(xyz, m))
        return centres, knn(centres, xyz, min(self.cfg.k, xyz.shape[1]))


class PointNet2Tokenizer(PointTokenizer):
    """PointNet++ set abstraction, two stages: ``min(4 L_p, N)`` then ``L_p`` centres (see module docstring)."""

    def __init__(self, cfg: PointTowerConfig) -> None:
        super().__init__(cfg)
        w = cfg.width
        self.sa1 = _mlp(cfg.in_channels, w // 2, w)  # input: relative xyz (3) + features (in_channels - 3)
        self.sa2 = _mlp(3 + w, w, w)
        self.pos = nn.Sequential(nn.Linear(3, w), nn.ReLU(), nn.Linear(w, w))
        self.out = nn.Linear(w, cfg.dim)

    def _abstract(self, mlp: nn.Module, xyz: Tensor, feats: Tensor, m: int) -> tuple[Tensor, Tensor]:
        """One set abstraction: ``f'_i = max_{j in kNN(c_i)} MLP([x_j - c_i, f_j])``; returns centres and ``f'``."""
        centres, groups = self._groups(xyz, m)
        rel = gather_points(xyz, groups) - centres[:, :, None]
        return centres, mlp(torch.cat([rel, gather_points(feats, groups)], dim=-1)).amax(dim=2)

    def _encode(self, xyz: Tensor, feats: Tensor) -> Tensor:
        xyz1, feats1 = self._abstract(self.sa1, xyz, feats, min(4 * self.num_tokens, xyz.shape[1]))
        xyz2, feats2 = self._abstract(self.sa2, xyz1, feats1, self.num_tokens)
        return self.out(feats2 + self.pos(xyz2))


class EdgeConv(nn.Module):
    """EdgeConv with the asymmetric edge function (Wang et al. 2019, Eq. 8), normalised after the max.

    ``x'_i = LeakyReLU(LN(phi x_i + max_{j in kNN(i)} theta (x_j - x_i)))``. Because theta is linear,
    ``max_j theta (x_j - x_i) = max_j theta x_j - theta x_i``, so no ``(B, N, k, C)`` edge tensor is kept for autograd
    (:func:`neighbour_max`).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.theta = nn.Linear(c_in, c_out, bias=False)
        self.phi = nn.Linear(c_in, c_out)
        self.norm = nn.LayerNorm(c_out)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, graph: Tensor) -> Tensor:
        """x ``(B, N, c_in)``, graph ``(B, N, k)`` neighbour indices -> ``(B, N, c_out)``."""
        t = self.theta(x)
        return self.act(self.norm(self.phi(x) - t + neighbour_max(t, graph)))


class DGCNNTokenizer(PointTokenizer):
    """DGCNN: EdgeConv widths ``(w/2, w/2, w)``, first graph on xyz, then on the previous layer's features
    (dynamic graph); the three outputs are concatenated, fused per point to ``w``, and max-pooled over the kNN
    groups of ``L_p`` FPS centres."""

    def __init__(self, cfg: PointTowerConfig) -> None:
        super().__init__(cfg)
        h, w = cfg.width // 2, cfg.width
        self.convs = nn.ModuleList([EdgeConv(cfg.in_channels, h), EdgeConv(h, h), EdgeConv(h, w)])
        self.fuse = nn.Sequential(nn.Linear(2 * h + w, w), nn.LayerNorm(w), nn.LeakyReLU(0.2))
        self.out = nn.Linear(w, cfg.dim)

    def _encode(self, xyz: Tensor, feats: Tensor) -> Tensor:
        k = min(self.cfg.k, xyz.shape[1])
        x, graph, outs = torch.cat([xyz, feats], dim=-1), knn(xyz, xyz, k), []
        for i, conv in enumerate(self.convs):
            if i > 0:
                graph = knn(x, x, k)
            x = conv(x, graph)
            outs.append(x)
        per_point = self.fuse(torch.cat(outs, dim=-1))
        _, groups = self._groups(xyz, self.num_tokens)
        return self.out(neighbour_max(per_point, groups))


class PointNetTokenizer(PointTokenizer):
    """PointNet: shared per-point MLP ``in_channels -> w/2 -> w``, max-pooled over the kNN groups of ``L_p`` FPS
    centres, then a linear map to ``dim``."""

    def __init__(self, cfg: PointTowerConfig) -> None:
        super().__init__(cfg)
        self.mlp = _mlp(cfg.in_channels, cfg.width // 2, cfg.width)
        self.out = nn.Linear(cfg.width, cfg.dim)

    def _encode(self, xyz: Tensor, feats: Tensor) -> Tensor:
        per_point = self.mlp(torch.cat([xyz, feats], dim=-1))
        _, groups = self._groups(xyz, self.num_tokens)
        return self.out(neighbour_max(per_point, groups))


class BoxTokenizer(PointTokenizer):
    """Size-only baseline: the bounding-box extents ``max_j x_j - min_j x_j`` (3,) through an MLP
    ``3 -> w -> w`` and a linear map to ``dim``; one token per cloud. Colour and shape detail are ignored."""

    def __init__(self, cfg: PointTowerConfig) -> None:
        super().__init__(cfg)
        self.num_tokens = 1
        self.mlp = _mlp(3, cfg.width, cfg.width)
        self.out = nn.Linear(cfg.width, cfg.dim)

    def _encode(self, xyz: Tensor, feats: Tensor) -> Tensor:
        extents = xyz.amax(dim=1) - xyz.amin(dim=1)
        return self.out(self.mlp(extents)).unsqueeze(1)


_TOWERS: dict[str, type[PointTokenizer]] = {
    "pointnet2": PointNet2Tokenizer,
    "dgcnn": DGCNNTokenizer,
    "pointnet": PointNetTokenizer,
    "box": BoxTokenizer,
}


def build_point_tower(cfg: PointTowerConfig) -> PointTokenizer:
    """The point tower named by ``cfg.kind``, freshly initialised."""
    return _TOWERS[cfg.kind](cfg)
