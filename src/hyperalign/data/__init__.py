"""Data layer: point cloud formats (``io``), the generic dataset layout (``layout``) and the demo generator (``demo``).

Submodules are imported explicitly; importing this package loads nothing heavy.
"""
