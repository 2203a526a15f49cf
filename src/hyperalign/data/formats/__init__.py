"""Point cloud and mesh files: the in-memory :class:`PointCloud` (``cloud``), one reader/writer module per family
(``tables``: .npy/.npz/.h5/text, ``ply``, ``mesh``: .off/.obj and area-weighted surface sampling) and dispatch by
file extension (``io``)."""

from hyperalign.data.formats.io import (
    SUFFIXES,
    PointCloud,
    PointCloudError,
    normalize_unit_sphere,
    read_point_cloud,
    write_point_cloud,
)

__all__ = [
    "SUFFIXES",
    "PointCloud",
    "PointCloudError",
    "normalize_unit_sphere",
    "read_point_cloud",
    "write_point_cloud",
]
