"""Positive scalars learned through their logarithm and bounded explicitly (curvature, scale alpha, temperatures).

As in MERU (``meru/models.py``), the parameter is ``log(value)``; here the bound is applied in the forward pass
(``exp(clamp(log_value, log(low), log(high)))``) instead of by writing ``.data``, so the optimiser state is never
edited behind its back. Outside the bounds the gradient is zero; these parameters are excluded from weight decay
(see :func:`hyperalign.train.loop.param_groups`), so nothing pushes them further.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class BoundedLogScalar(nn.Module):
    """A positive scalar ``value = exp(clamp(log_value, log low, log high))``, optionally learnable."""

    def __init__(self, init: float, low: float, high: float, learnable: bool = True, name: str = "scalar") -> None:
        super().__init__()
        if not (0 < low <= init <= high < math.inf):
            raise ValueError(f"{name}: expected 0 < low <= init <= high < inf, got low={low}, init={init}, high={high}")
        self.name = name
        self.low = float(low)
        self.high = float(high)
        self.log_value = nn.Parameter(torch.tensor(math.log(init), dtype=torch.float32), requires_grad=learnable)

    def forward(self) -> Tensor:
        """The bounded value as a float32 0-d tensor (kept float32 under autocast)."""
        return self.log_value.float().clamp(math.log(self.low), math.log(self.high)).exp()

    def extra_repr(self) -> str:
        return f"name={self.name}, bounds=[{self.low:g}, {self.high:g}], learnable={self.log_value.requires_grad}"


class Curvature(BoundedLogScalar):
    """The curvature magnitude ``c`` of the Lorentz model (the space has curvature ``-c``), shared by towers, losses
    and the index. H2ARN: learnable, init 1.0, bounded to [0.1, 10]."""

    def __init__(self, init: float = 1.0, low: float = 0.1, high: float = 10.0, learnable: bool = True) -> None:
        super().__init__(init, low, high, learnable, name="curvature")
