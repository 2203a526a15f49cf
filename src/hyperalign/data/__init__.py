"""Data layer. Generic parts: the dataset layout (``layout``), caption/point pairs for training (``pairs``),
point cloud and mesh files (``formats``) and the WordNet noun hierarchy (``wordnet``). Each dataset is a subpackage
that writes the generic layout: ``demo`` (the built-in generator), ``sweethome3d`` and ``t3drhit`` (converters).

Submodules are imported explicitly; importing this package loads nothing heavy.
"""
