"""Point cloud files: read and write by extension, with every problem reported as a :class:`PointCloudError`.

Formats: .npy / .npz (N, 3|6|9) arrays, .ply (plyfile), .off and .obj meshes (surface sampled area-weighted and
seeded by :func:`hyperalign.data.formats.mesh.sample_surface`; vertex-only files read as points), .xyz / .txt /
.csv text, .h5 / .hdf5 (h5py).
Column order for arrays and text is xyz, then rgb, then normals; text headers and the npz / h5 writers name them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hyperalign.data.formats import mesh, ply, tables
from hyperalign.data.formats.cloud import PointCloud, PointCloudError

__all__ = [
    "SUFFIXES",
    "PointCloud",
    "PointCloudError",
    "normalize_unit_sphere",
    "read_point_cloud",
    "write_point_cloud",
]

_WRITERS: dict[str, Callable[[Path, PointCloud], None]] = {
    ".npy": tables.write_npy,
    ".npz": tables.write_npz,
    ".ply": ply.write_ply,
    ".off": mesh.write_off,
    ".obj": mesh.write_obj,
    ".xyz": tables.write_text,
    ".txt": tables.write_text,
    ".csv": tables.write_text,
    ".h5": tables.write_h5,
    ".hdf5": tables.write_h5,
}
SUFFIXES = tuple(_WRITERS)  # supported extensions, read and write


def read_point_cloud(
    path: str | os.PathLike[str],
    *,
    h5_dataset: str = "data",
    mesh_samples: int = 2048,
    seed: int = 0,
    max_points: int = 2_000_000,
) -> PointCloud:
    """Read a point cloud, choosing the format by extension (case-insensitive).

    ``h5_dataset`` names the HDF5 dataset; meshes with faces yield ``mesh_samples`` surface points drawn with
    ``seed``; files with more than ``max_points`` points are refused.
    """
    if mesh_samples < 1 or max_points < 1:
        raise ValueError(f"mesh_samples and max_points must be >= 1; got {mesh_samples} and {max_points}")
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise PointCloudError(f"{path}: no such file")
    if path.is_dir():
        raise PointCloudError(f"{path}: is a directory; expected a point cloud file")
    if suffix not in _WRITERS:
        raise PointCloudError(f"{path}: unknown extension '{path.suffix}'; supported: {', '.join(SUFFIXES)}")
    if path.stat().st_size == 0:
        raise PointCloudError(f"{path}: file is empty (0 bytes)")
    if suffix == ".npy":
        return tables.read_npy(path, max_points)
    if suffix == ".npz":
        return tables.read_npz(path, max_points)
    if suffix in (".h5", ".hdf5"):
        return tables.read_h5(path, h5_dataset, max_points)
    if suffix == ".ply":
        return ply.read_ply(path, max_points)
    if suffix == ".off":
        return mesh.read_off(path, mesh_samples, seed, max_points)
    if suffix == ".obj":
        return mesh.read_obj(path, mesh_samples, seed, max_points)
    return tables.read_text(path, max_points)


def write_point_cloud(path: str | os.PathLike[str], cloud: PointCloud) -> None:
    """Write ``cloud`` in the format given by the extension, atomically (temporary file, then rename).

    PLY stores colours as uint8, so they come back rounded to multiples of 1/255; other formats are exact.
    """
    if not isinstance(cloud, PointCloud):
        raise TypeError(f"cloud must be a PointCloud; got {type(cloud).__name__}")
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise PointCloudError(f"{path}: unknown extension '{path.suffix}'; supported: {', '.join(SUFFIXES)}")
    writer(path, cloud)


def normalize_unit_sphere(xyz: np.ndarray) -> np.ndarray:
    """Centre (N, 3) points at their centroid and scale so the farthest has norm 1.

    A single point or all-identical points are only centred (scale 1). Float input keeps its dtype, other input
    becomes float64; computed in float64.
    """
    arr = np.asarray(xyz)
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
        raise ValueError(f"xyz must have shape (N, 3) with N >= 1; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("xyz contains NaN/Inf values")
    out_dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
    if (arr == arr[0]).all():  # tested exactly: the rounded mean of equal points can differ from them
        return np.zeros(arr.shape, dtype=out_dtype)
    work = arr.astype(np.float64)
    work /= np.abs(work).max()  # to O(1) first: the mean cannot overflow nor the squares in the norm underflow
    centred = work - work.mean(axis=0)
    radius = np.linalg.norm(centred, axis=1).max()
    return (centred / radius if radius > 0.0 else centred).astype(out_dtype)
