"""Farthest point sampling, shared by the point towers (token centres) and the dataset converters (reducing
large clouds): one implementation, in torch, vectorised over a batch of clouds."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_cloud", "farthest_point_sample"]


def check_cloud(x: Tensor, name: str, channels: int | None = None) -> None:
    """Raise ValueError unless ``x`` is ``(B, N, channels)`` (any width if None) with N >= 1."""
    ok = x.dim() == 3 and x.shape[1] >= 1 and (channels is None or x.shape[2] == channels)
    if not ok:
        width = "C" if channels is None else channels
        raise ValueError(f"{name}: expected shape (B, N, {width}) with N >= 1, got {tuple(x.shape)}")


def farthest_point_sample(xyz: Tensor, m: int, start: Tensor | None = None) -> Tensor:
    """Indices ``(B, m)`` of ``m`` points picked by farthest point sampling, in pick order.

    Pick ``s_0`` = ``start`` (default: the point farthest from the centroid, first index on ties), then
    ``s_t = argmax_i min_{u<t} ||x_i - x_{s_u}||^2`` (first index on ties), vectorised over the batch. Deterministic.
    If ``m > N`` the N-point order is repeated cyclically, ``s_t = s_{t mod N}``.

    xyz: ``(B, N, 3)``; start: ``(B,)`` integer indices or None.
    """
    check_cloud(xyz, "xyz", 3)
    if m < 1:
        raise ValueError(f"m: expected >= 1, got {m}")
    b, n, _ = xyz.shape
    rows = torch.arange(b, device=xyz.device)
    with torch.no_grad():
        xyz = xyz.detach()
        if start is None:
            start = (xyz - xyz.mean(dim=1, keepdim=True)).square().sum(-1).argmax(dim=1)
        elif start.shape != (b,) or start.dtype.is_floating_point or bool(((start < 0) | (start >= n)).any()):
            raise ValueError(
                f"start: expected ({b},) integer indices in [0, {n}), got shape {tuple(start.shape)} {start.dtype}"
            )
        steps = min(m, n)
        idx = torch.empty(b, steps, dtype=torch.long, device=xyz.device)
        nearest = torch.full((b, n), float("inf"), dtype=xyz.dtype, device=xyz.device)
        # one contiguous (B, N) plane per coordinate and preallocated buffers: the loop runs 3 + 3 in-place ops per
        # axis instead of a (B, N, 3) broadcast and a reduction over its short last axis (5x faster at N = 512, same
        # sums in the same order: ((dx^2 + dy^2) + dz^2))
        planes = xyz.permute(2, 0, 1).contiguous()
        dist, term = torch.empty_like(nearest), torch.empty_like(nearest)
        far = start.long()
        exporting = torch.onnx.is_in_onnx_export()  # ONNX graphs have no out= buffers: the same sums, out of place
        for step in range(steps):
            idx[:, step] = far
            picked = planes[:, rows, far]  # (3, B)
            if exporting:
                d = planes - picked[:, :, None]
                nearest = torch.minimum(nearest, (d[0].square() + d[1].square()) + d[2].square())
            else:
                torch.sub(planes[0], picked[0, :, None], out=dist).square_()
                for axis in (1, 2):
                    dist.add_(torch.sub(planes[axis], picked[axis, :, None], out=term).square_())
                torch.minimum(nearest, dist, out=nearest)
            far = nearest.argmax(dim=1)
        if m > n:
            idx = idx[:, torch.arange(m, device=xyz.device) % n]
    return idx
