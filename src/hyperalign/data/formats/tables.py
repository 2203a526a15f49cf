"""Tabular point formats: .npy, .npz, .h5/.hdf5 arrays and .xyz/.txt/.csv text."""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from hyperalign.atomic import atomic_path
from hyperalign.data.formats.cloud import (
    ALIASES,
    PointCloud,
    PointCloudError,
    check_count,
    cloud_columns,
    cloud_from_columns,
)

_NUMERIC = "iuf"  # dtype kinds accepted as coordinates


def _check_array(path: Path, shape: tuple[int, ...], kind: str, what: str, max_points: int) -> None:
    if kind not in _NUMERIC:
        raise PointCloudError(f"{path}: {what} must hold numbers (int or float); got dtype kind '{kind}'")
    if len(shape) != 2:
        raise PointCloudError(f"{path}: {what} must have shape (N, C); got {shape}")
    check_count(path, shape[0], max_points)


def read_npy(path: Path, max_points: int) -> PointCloud:
    """An (N, 3|6|9) array: xyz, then rgb and/or normals (see ``cloud_from_columns``)."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise PointCloudError(f"{path}: not a readable .npy array (truncated or corrupt?): {exc}") from exc
    _check_array(path, arr.shape, arr.dtype.kind, "the array", max_points)
    return cloud_from_columns(path, np.array(arr))  # a copy: the cloud must not keep the file mapped


def write_npy(path: Path, cloud: PointCloud) -> None:
    table, names = cloud_columns(cloud)
    if cloud.normals is not None and cloud.rgb is None:
        raise PointCloudError(
            f"{path}: .npy cannot record that columns 4-6 are normals rather than colours; "
            "write .npz, .ply, .h5 or a text format instead"
        )
    with atomic_path(path) as tmp:
        np.save(tmp, table)


def read_npz(path: Path, max_points: int) -> PointCloud:
    """The array under key 'points' (column names from an optional 'columns' array), or the only array."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            key = "points" if "points" in keys else keys[0] if len(keys) == 1 else None
            arr = None if key is None else archive[key]
            names = [str(n) for n in archive["columns"]] if key == "points" and "columns" in keys else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise PointCloudError(f"{path}: not a readable .npz archive (truncated or corrupt?): {exc}") from exc
    if key is None or arr is None:
        raise PointCloudError(f"{path}: expected a key 'points' or a single array; found keys {keys}")
    _check_array(path, arr.shape, arr.dtype.kind, f"array '{key}'", max_points)
    return cloud_from_columns(path, arr, names)


def write_npz(path: Path, cloud: PointCloud) -> None:
    table, names = cloud_columns(cloud)
    with atomic_path(path) as tmp:
        np.savez(tmp, points=table, columns=np.array(names))


def read_h5(path: Path, dataset: str, max_points: int) -> PointCloud:
    """Dataset ``dataset`` of shape (N, C) or (1, N, C); column names from its optional 'columns' attribute."""
    import h5py

    try:
        file = h5py.File(path, "r")
    except OSError as exc:
        raise PointCloudError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {exc}") from exc
    with file:
        node = file.get(dataset)
        if not isinstance(node, h5py.Dataset):
            found: list[str] = []
            file.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
            raise PointCloudError(
                f"{path}: no dataset '{dataset}'; datasets in the file: {found}; choose one with h5_dataset=..."
            )
        shape = node.shape
        if len(shape) == 3 and shape[0] == 1:
            shape = shape[1:]
        elif len(shape) == 3:
            raise PointCloudError(
                f"{path}: dataset '{dataset}' has shape {node.shape}, i.e. {node.shape[0]} clouds; "
                "expected one cloud, (N, C) or (1, N, C)"
            )
        _check_array(path, shape, node.dtype.kind, f"dataset '{dataset}'", max_points)
        try:
            table = np.asarray(node[()]).reshape(shape)
        except OSError as exc:
            raise PointCloudError(f"{path}: dataset '{dataset}' cannot be read (truncated?): {exc}") from exc
        raw_names = node.attrs.get("columns")
    names = None if raw_names is None else [n.decode() if isinstance(n, bytes) else str(n) for n in raw_names]
    return cloud_from_columns(path, table, names)


def write_h5(path: Path, cloud: PointCloud) -> None:
    import h5py

    table, names = cloud_columns(cloud)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as file:
            file.create_dataset("data", data=table).attrs["columns"] = names


_SPLIT = re.compile(r"[,\s]+")


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _scan_header(path: Path) -> tuple[int, list[str] | None, str | None]:
    """Lines before the first data row, the column names they give (if any), and the data delimiter.

    A header is the first non-comment line made only of words, or a comment listing known column names
    (``# x y z`` or CloudCompare's ``//X,Y,Z,R,G,B``).
    """
    names: list[str] | None = None
    lines_seen = 0
    with open(path, encoding="utf-8") as file:
        for lines_seen, line in enumerate(file, start=1):
            text = line.strip()
            tokens = [t for t in _SPLIT.split(text.lstrip("#/").strip()) if t]
            if not tokens:
                continue
            if text.startswith(("#", "//")):
                if names is None and all(t.lower() in ALIASES for t in tokens):
                    names = tokens
                continue
            if all(_is_number(t) for t in tokens):
                return lines_seen - 1, names, ("," if "," in text else None)
            if names is None and not any(_is_number(t) for t in tokens):
                names = tokens
                continue
            raise PointCloudError(f"{path}: line {lines_seen}: expected a header or numbers; got {text[:80]!r}")
    return lines_seen, names, None


TEXT_SUFFIXES = (".xyz", ".txt", ".csv")


def looks_like_point_table(path: Path, probe_bytes: int = 4096) -> bool:
    """Whether a text file (.xyz / .txt / .csv) starts like a point table: its first line that is neither empty nor a
    comment is a row of numbers or a header made only of known column names (:data:`ALIASES`). A licence or a
    README beside the models does not; a malformed table does, so that reading it reports what is wrong."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            head = file.read(probe_bytes)
    except OSError:
        return True  # unreadable: let the reader report it
    for line in head.splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "//")):
            continue
        tokens = [t for t in _SPLIT.split(text) if t]
        return all(_is_number(t) for t in tokens) or all(t.lower() in ALIASES for t in tokens)
    return True  # empty or comments only: the reader reports "no points"


def read_text(path: Path, max_points: int) -> PointCloud:
    """Whitespace- or comma-separated rows, optional header line naming the columns (see ``cloud_from_columns``)."""
    try:
        skip, names, delimiter = _scan_header(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below as 0 points
            table = np.loadtxt(
                path,
                delimiter=delimiter,
                comments=("#", "//"),
                skiprows=skip,
                ndmin=2,
                max_rows=max_points + 1,
                encoding="utf-8",
            )
    except UnicodeDecodeError as exc:
        raise PointCloudError(f"{path}: not UTF-8 text: {exc}") from exc
    except PointCloudError:
        raise
    except ValueError as exc:
        raise PointCloudError(f"{path}: expected rows of numbers with the same number of columns: {exc}") from exc
    check_count(path, table.shape[0], max_points, exact=False)  # loadtxt stopped after max_points + 1 rows
    return cloud_from_columns(path, table, names, widths="text")


def write_text(path: Path, cloud: PointCloud) -> None:
    table, names = cloud_columns(cloud)
    delimiter = "," if path.suffix.lower() == ".csv" else " "
    with atomic_path(path) as tmp:
        np.savetxt(tmp, table, fmt="%.9g", delimiter=delimiter, header=delimiter.join(names), comments="")
