"""hyperalign: hierarchical cross-modal retrieval (text <-> 3D point clouds) in hyperbolic (Lorentz) space.

``import hyperalign`` loads only the geometry core; training, serving and plotting dependencies are imported by the
functions that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]


def load(path):  # noqa: ANN001, ANN201 - thin lazy re-export
    """Load a trained run or checkpoint for inference (see :func:`hyperalign.runtime.loading.load`)."""
    from hyperalign.runtime.loading import load as _load

    return _load(path)


__all__ += ["load"]
