"""The KiCad component benchmark: 3D models of electronic parts (Debian ``kicad-packages3d``) captioned from the
footprint library (Debian ``kicad-footprints``), in the generic layout; see :mod:`hyperalign.data.kicad.convert`."""

from hyperalign.data.kicad.convert import ITEM_INDEX, LEVELS, NAME, REPORT, convert_kicad

__all__ = ["ITEM_INDEX", "LEVELS", "NAME", "REPORT", "convert_kicad"]
