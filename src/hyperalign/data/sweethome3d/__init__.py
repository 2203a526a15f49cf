"""The Sweet Home 3D furniture benchmark: the converter (``converter``) and its parts: ``.properties`` parsing
(``properties``), furniture libraries (``catalog``), coloured model sampling (``mesh``), WordNet classes
(``classes``) and caption text (``text``)."""

from hyperalign.data.sweethome3d.converter import DEFAULT_ROOT, ITEM_INDEX, REPORT, convert_sweethome3d

__all__ = ["DEFAULT_ROOT", "ITEM_INDEX", "REPORT", "convert_sweethome3d"]
