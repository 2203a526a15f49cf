"""The in-memory point cloud, its error type, and how columns of a table become one.

Format readers build clouds through :func:`cloud_from_columns` / :func:`make_cloud`, so every check (shape,
finiteness, colour range, point count) lives here once and every error names the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

GREY = 0.5  # colour used by ``as_array(6)`` for clouds without rgb
COLUMNS = ("x", "y", "z", "red", "green", "blue", "nx", "ny", "nz")  # canonical column names, as written

# Header / attribute spellings accepted for each canonical column.
ALIASES = {
    **{name: name for name in COLUMNS},
    "r": "red", "g": "green", "b": "blue",
    "diffuse_red": "red", "diffuse_green": "green", "diffuse_blue": "blue",
    "normal_x": "nx", "normal_y": "ny", "normal_z": "nz",
    "normalx": "nx", "normaly": "ny", "normalz": "nz",
}  # fmt: skip


class PointCloudError(ValueError):
    """A point cloud file that cannot be read or written; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class PointCloud:
    """Points with optional colours and normals, all (N, 3) float32, N >= 1.

    Inputs are coerced to contiguous float32 (lists, NumPy, CPU torch tensors); ``xyz`` must be finite,
    ``rgb`` finite and in [0, 1], ``normals`` finite. Violations raise ``ValueError``.
    """

    xyz: np.ndarray
    rgb: np.ndarray | None = None
    normals: np.ndarray | None = None

    def __post_init__(self) -> None:
        xyz = _as_n3("xyz", self.xyz)
        if len(xyz) == 0:
            raise ValueError("the cloud has 0 points")
        object.__setattr__(self, "xyz", xyz)
        for name in ("rgb", "normals"):
            value = getattr(self, name)
            if value is not None:
                arr = _as_n3(name, value)
                if len(arr) != len(xyz):
                    raise ValueError(f"{name} has {len(arr)} rows but xyz has {len(xyz)}")
                object.__setattr__(self, name, arr)
        if self.rgb is not None and (self.rgb.min() < 0.0 or self.rgb.max() > 1.0):
            raise ValueError(f"rgb must lie in [0, 1]; found [{self.rgb.min():g}, {self.rgb.max():g}]")

    def __len__(self) -> int:
        return len(self.xyz)

    def as_array(self, channels: int) -> np.ndarray:
        """(N, channels) float32: 3 -> xyz, 6 -> xyz + rgb (grey 0.5 when the cloud has no colour)."""
        if channels == 3:
            return self.xyz.copy()
        if channels == 6:
            rgb = self.rgb if self.rgb is not None else np.full_like(self.xyz, GREY)
            return np.concatenate([self.xyz, rgb], axis=1)
        raise ValueError(f"channels must be 3 (xyz) or 6 (xyz+rgb); got {channels!r}")


def _as_n3(name: str, value: object) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3); got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} rows with NaN/Inf values (first at row {int(np.argmax(bad))})")
    return arr


def make_cloud(
    path: str | os.PathLike[str], xyz: np.ndarray, rgb: np.ndarray | None = None, normals: np.ndarray | None = None
) -> PointCloud:
    """Build a :class:`PointCloud`, turning its ``ValueError`` into a :class:`PointCloudError` naming ``path``."""
    try:
        return PointCloud(xyz, rgb, normals)
    except ValueError as exc:
        raise PointCloudError(f"{path}: {exc}") from exc


def check_count(path: str | os.PathLike[str], n: int, max_points: int, *, exact: bool = True) -> None:
    """Refuse empty clouds and clouds above ``max_points`` (a guard against loading huge files by mistake).

    ``exact=False`` when reading stopped early, so ``n`` is only a lower bound.
    """
    if n == 0:
        raise PointCloudError(f"{path}: contains 0 points")
    if n > max_points:
        count, example = (f"{n} points", f" (e.g. max_points={n})") if exact else ("more points", "")
        raise PointCloudError(
            f"{path}: {count} exceed the limit of max_points={max_points}; "
            f"pass a larger max_points to read_point_cloud{example} to read it"
        )


def colours01(path: str | os.PathLike[str], values: np.ndarray, what: str) -> np.ndarray:
    """Colours in [0, 1], or integer-valued in [0, 255] (then divided by 255); anything else is refused."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise PointCloudError(f"{path}: {what} contain NaN/Inf values")
    kind = _kind(values)
    if kind == "rgb01":
        return values
    if kind == "rgb255":
        return values / 255.0
    raise PointCloudError(
        f"{path}: {what} must be colours in [0, 1] or integers in [0, 255]; "
        f"found values in [{values.min():g}, {values.max():g}]"
    )


def _kind(block: np.ndarray, normals_first: bool = False) -> Literal["rgb01", "rgb255", "normals"] | None:
    """Classify three unnamed columns: colours (either scale), else unit normals; None if neither.

    ``normals_first`` tries unit normals first (used for columns 7-9 once columns 4-6 were colours).
    """
    block = np.asarray(block, dtype=np.float64)
    if not np.isfinite(block).all():
        return None
    unit = bool(np.abs(np.linalg.norm(block, axis=1) - 1.0).max() < 1e-3)
    if normals_first and unit:
        return "normals"
    lo, hi = block.min(), block.max()
    if lo >= 0.0 and hi <= 1.0:
        return "rgb01"
    if lo >= 0.0 and hi <= 255.0 and np.array_equal(block, np.round(block)):
        return "rgb255"
    return "normals" if unit else None


def cloud_from_columns(
    path: str | os.PathLike[str],
    table: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    widths: Literal["array", "text"] = "array",
) -> PointCloud:
    """Turn an (N, C) table into a cloud, by column ``names`` when known, else by position.

    Named columns may be spelled as in :data:`ALIASES`; unknown names are ignored. Unnamed: the first three
    columns are xyz; columns 4-6 (and 7-9) are colours if they lie in [0, 1] or are integers in [0, 255], normals
    if every row has unit length (after colours in 4-6, unit rows in 7-9 are normals). ``widths="array"`` allows C in {3, 6, 9}; ``"text"`` allows 3 or >= 6 and
    ignores columns beyond the ones it can interpret.
    """
    table = np.asarray(table)
    if table.ndim != 2:
        raise PointCloudError(f"{path}: expected a 2-D table of points (N, C); got shape {table.shape}")
    if names is not None:
        return _by_names(path, table, [str(n) for n in names])
    n_cols = table.shape[1]
    allowed = n_cols in (3, 6, 9) if widths == "array" else n_cols == 3 or n_cols >= 6
    if not allowed:
        expected = "3, 6 or 9" if widths == "array" else "3 or at least 6"
        raise PointCloudError(
            f"{path}: expected {expected} channels (xyz, then rgb and/or normals); got {n_cols} per point"
        )
    parts: dict[str, np.ndarray] = {}
    for start in (3, 6):
        if n_cols < start + 3:
            break
        block = table[:, start : start + 3]
        kind = _kind(block, normals_first="rgb" in parts)
        role = None if kind is None else ("normals" if kind == "normals" else "rgb")
        if role is None or role in parts:
            if start == 6 and widths == "text":
                break  # extra text columns (intensity, labels, ...) are ignored
            raise PointCloudError(
                f"{path}: columns {start + 1}-{start + 3} are neither colours (in [0, 1] or integers in [0, 255]) "
                f"nor unit-length normals{' (or repeat columns 4-6)' if start == 6 else ''}; "
                "name the columns (x y z red green blue nx ny nz) in a header or use .ply"
            )
        parts[role] = block / 255.0 if kind == "rgb255" else block
    return make_cloud(path, table[:, :3], parts.get("rgb"), parts.get("normals"))


def _by_names(path: str | os.PathLike[str], table: np.ndarray, names: list[str]) -> PointCloud:
    if len(names) != table.shape[1]:
        raise PointCloudError(f"{path}: {len(names)} column names {names} for {table.shape[1]} columns")
    index = {}
    for i, name in enumerate(names):
        canon = ALIASES.get(name.strip().lower())
        if canon is not None:
            index.setdefault(canon, i)

    def group(cols: tuple[str, str, str]) -> np.ndarray | None:
        present = [c for c in cols if c in index]
        if not present:
            return None
        if len(present) < 3:
            raise PointCloudError(f"{path}: columns {names} name only {present} of {list(cols)}")
        return table[:, [index[c] for c in cols]]

    xyz = group(("x", "y", "z"))
    if xyz is None:
        raise PointCloudError(f"{path}: columns {names} include no x, y, z")
    rgb = group(("red", "green", "blue"))
    if rgb is not None:
        rgb = colours01(path, rgb, "columns red, green, blue")
    return make_cloud(path, xyz, rgb, group(("nx", "ny", "nz")))


def cloud_columns(cloud: PointCloud) -> tuple[np.ndarray, list[str]]:
    """The (N, C) float32 table and canonical column names used by the array and text writers."""
    blocks, names = [cloud.xyz], list(COLUMNS[:3])
    if cloud.rgb is not None:
        blocks.append(cloud.rgb)
        names += COLUMNS[3:6]
    if cloud.normals is not None:
        blocks.append(cloud.normals)
        names += COLUMNS[6:9]
    return np.concatenate(blocks, axis=1), names
