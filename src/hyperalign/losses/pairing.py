"""Which (caption, shape) pairs of a training batch are positives.

* ``multi`` (H2ARN): ``positives[i, j]`` — caption ``i`` describes shape ``j``; "a chair" is a positive for every chair
  of the batch (multi-positive InfoNCE, and cones over every described shape).
* ``paired`` (CLIP, MERU Eq. 9, ARGENT, alignment across trees): only the pair a caption was drawn with, i.e.
  cross-entropy with labels ``arange(B)``; two chairs under one "a chair" caption are each other's negatives. The
  batch must be aligned (caption ``i`` was drawn for shape ``i``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Pairing = Literal["multi", "paired"]


def training_positives(positives: Tensor, pairing: Pairing) -> Tensor:
    """The (B, N) bool positives used by the losses: ``positives`` itself (``multi``) or the identity (``paired``)."""
    if pairing == "multi":
        return positives
    if pairing != "paired":
        raise ValueError(f"pairing must be 'multi' or 'paired', got {pairing!r}")
    if positives.shape[0] != positives.shape[1] or not bool(positives.diagonal().all()):
        raise ValueError(
            f"pairing 'paired' needs an aligned batch (caption i drawn for shape i); got positives of shape "
            f"{tuple(positives.shape)} whose diagonal is not all True"
        )
    return torch.eye(positives.shape[0], dtype=torch.bool, device=positives.device)
