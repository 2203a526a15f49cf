"""hyperalign: hierarchical cross-modal retrieval (text <-> 3D point clouds) in hyperbolic (Lorentz) space.

``import hyperalign`` loads only the geometry core; training, serving and plotting dependencies are imported by the
functions that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
