"""Pure tensor math for hyperbolic geometry: no nn.Module, no I/O, no datasets.

:mod:`~hyperalign.geometry.lorentz` (torch) holds every Lorentz formula; :mod:`~hyperalign.geometry.lorentz_numpy`
holds NumPy twins of the few a search needs. Submodules are imported on first use, so the NumPy twins do not pull
in torch.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["lorentz"]


def __getattr__(name: str) -> ModuleType:
    if name in ("lorentz", "lorentz_numpy", "curvature"):
        return importlib.import_module(f"hyperalign.geometry.{name}")
    raise AttributeError(f"module 'hyperalign.geometry' has no attribute {name!r}")
