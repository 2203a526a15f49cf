"""Pure tensor math for hyperbolic geometry: no nn.Module, no I/O, no datasets."""

from hyperalign.geometry import lorentz

__all__ = ["lorentz"]
