"""The built-in demo dataset: the generator (``generator``), its shape catalogue with captions (``catalogue``) and
the primitive surface samplers the shapes are built from (``primitives``)."""

from hyperalign.data.demo.generator import REVISION, describe, make_demo

__all__ = ["REVISION", "describe", "make_demo"]
