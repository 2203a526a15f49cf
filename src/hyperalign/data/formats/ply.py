"""PLY point clouds via plyfile: the 'vertex' element (x, y, z, optional colours and normals); faces are ignored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from hyperalign.atomic import atomic_path
from hyperalign.data.formats.cloud import PointCloud, PointCloudError, check_count, colours01, make_cloud

_COLOUR_NAMES = (("red", "green", "blue"), ("diffuse_red", "diffuse_green", "diffuse_blue"), ("r", "g", "b"))


def read_ply(path: Path, max_points: int) -> PointCloud:
    """Vertices of a PLY file, ASCII or binary; uint8 colours are divided by 255, float colours kept in [0, 1]."""
    try:
        ply = PlyData.read(str(path))
    except Exception as exc:  # plyfile raises PlyParseError, ValueError, struct/EOF errors for broken files
        raise PointCloudError(
            f"{path}: not a readable PLY file (expected a PLY header and a 'vertex' element; "
            f"truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc
    if "vertex" not in ply:
        raise PointCloudError(f"{path}: PLY file has no 'vertex' element; found {[e.name for e in ply.elements]}")
    data = ply["vertex"].data
    fields = set(data.dtype.names or ())
    missing = [axis for axis in "xyz" if axis not in fields]
    if missing:
        raise PointCloudError(f"{path}: vertex element lacks properties {missing}; found {sorted(fields)}")
    check_count(path, len(data), max_points)
    xyz = np.stack([data[axis] for axis in "xyz"], axis=1)
    rgb = None
    for names in _COLOUR_NAMES:
        if all(n in fields for n in names):
            rgb = np.stack([data[n] for n in names], axis=1)
            rgb = rgb / 255.0 if rgb.dtype == np.uint8 else colours01(path, rgb, f"vertex properties {names}")
            break
    normals = np.stack([data[n] for n in ("nx", "ny", "nz")], axis=1) if {"nx", "ny", "nz"} <= fields else None
    return make_cloud(path, xyz, rgb, normals)


def write_ply(path: Path, cloud: PointCloud) -> None:
    """Binary little-endian PLY: float32 x, y, z, uint8 red, green, blue (rounded), float32 nx, ny, nz."""
    fields: list[tuple[str, str]] = [("x", "f4"), ("y", "f4"), ("z", "f4")]
    if cloud.rgb is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    if cloud.normals is not None:
        fields += [("nx", "f4"), ("ny", "f4"), ("nz", "f4")]
    data = np.empty(len(cloud), dtype=fields)
    for i, axis in enumerate("xyz"):
        data[axis] = cloud.xyz[:, i]
    if cloud.rgb is not None:
        colours = np.round(cloud.rgb * 255.0).astype(np.uint8)
        for i, name in enumerate(("red", "green", "blue")):
            data[name] = colours[:, i]
    if cloud.normals is not None:
        for i, name in enumerate(("nx", "ny", "nz")):
            data[name] = cloud.normals[:, i]
    with atomic_path(path) as tmp:
        PlyData([PlyElement.describe(data, "vertex")], text=False, byte_order="<").write(str(tmp))
