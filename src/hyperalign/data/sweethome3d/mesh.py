"""Coloured surface samples of a Sweet Home 3D model: an OBJ (+ MTL, textures) inside a ``.sh3f`` zip archive.

The model is placed as Sweet Home 3D places it: ``modelRotation`` (a row-major 3x3 matrix) is applied to the model's
coordinates, then each axis is stretched so the bounding box measures the catalogue's width x height x depth along
x, y, z (y is up). Points are drawn area-weighted with a fixed seed; each takes the colour of its material's diffuse
texture at the interpolated texture coordinate when there is one (the texture alone: the ``Kd`` factor that
exporters write next to a texture is not applied), else the vertex or face colour, else the material's ``Kd``.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperalign.data.formats.cloud import PointCloud
from hyperalign.data.formats.mesh import MeshPart, merge_parts, sample_surface, scene_parts


class ModelError(ValueError):
    """A model that cannot be sampled; the message names the archive, the model and the reason."""


@dataclass(frozen=True)
class ModelSample:
    """Surface points of a model (in model units) and the per-axis scale that fitted it to the catalogue size."""

    cloud: PointCloud
    scale: np.ndarray  # (3,): x, y, z factors; all 1 without a size

    @property
    def stretch(self) -> float:
        """How much the fit distorted the model: largest over smallest axis scale (1 = proportions kept)."""
        return float(self.scale.max() / self.scale.min())


def sample_model(
    archive: zipfile.ZipFile,
    model: str,
    n: int,
    seed: int | np.random.SeedSequence,
    *,
    rotation: Sequence[float] | None = None,
    size: tuple[float, float, float] | None = None,
) -> ModelSample:
    """``n`` coloured surface points of ``model`` (a path inside ``archive``), placed but not normalised.

    ``rotation`` holds the nine numbers of ``modelRotation``; ``size`` the catalogue's (width, height, depth).
    """
    where = f"{archive.filename}!{model}"
    parts = load_parts(archive, model.lstrip("/"), where)
    if not parts:
        raise ModelError(f"{where}: the model has no triangles")
    vertices, faces, colour = merge_parts(parts)
    vertices, scale = _place(vertices, rotation, size, where)
    try:
        sample = sample_surface(vertices, faces, n, seed, colour)
    except ValueError as exc:
        raise ModelError(f"{where}: {exc}") from None
    return ModelSample(PointCloud(sample.xyz, sample.rgb), scale)


def load_parts(archive: zipfile.ZipFile, model: str, where: str) -> list[MeshPart]:
    """The parts of the OBJ ``model`` inside ``archive`` (materials and textures resolved in the archive), each with its
    scene transform applied and its colour rule; ``where`` names the model in errors (:class:`ModelError`)."""
    import trimesh

    try:
        data = archive.read(model)
    except KeyError:
        raise ModelError(f"{where}: no such file in the archive") from None
    try:
        scene = trimesh.load(
            io.BytesIO(data), file_type="obj", resolver=_ZipResolver(archive, posixpath.dirname(model)),
            force="scene", process=False,
        )  # fmt: skip
    except Exception as exc:  # trimesh raises assorted errors for malformed files
        raise ModelError(f"{where}: not a readable OBJ model ({type(exc).__name__}: {exc})") from None
    return scene_parts(scene)


def _place(
    vertices: np.ndarray, rotation: Sequence[float] | None, size: tuple[float, float, float] | None, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``modelRotation``, then scale each axis so the bounding box has the catalogue size (a flat axis,
    e.g. of a rug, keeps scale 1); return the vertices and the three scale factors."""
    if not np.isfinite(vertices).all():
        raise ModelError(f"{where}: vertex coordinates contain NaN/Inf")
    if rotation is not None:
        vertices = vertices @ np.asarray(rotation, dtype=np.float64).reshape(3, 3).T
    extent = vertices.max(axis=0) - vertices.min(axis=0)
    flat = extent <= 1e-9 * float(extent.max())
    if flat.all():
        raise ModelError(f"{where}: all vertices coincide")
    scale = np.ones(3)
    if size is not None:
        scale = np.where(flat, 1.0, np.asarray(size, dtype=np.float64) / np.where(flat, 1.0, extent))
    return vertices * scale, scale


class _ZipResolver:
    """Lets trimesh read the MTL and texture files of a model from the directory ``base`` of a zip archive."""

    def __init__(self, archive: zipfile.ZipFile, base: str) -> None:
        self.archive = archive
        self.base = base

    def _resolve(self, name: str) -> str:
        wanted = posixpath.normpath(posixpath.join(self.base, name.replace("\\", "/")))
        names = self.archive.NameToInfo
        if wanted in names:
            return wanted
        # Exporters often write absolute or differently-cased texture paths: match the file name in the directory.
        leaf = posixpath.basename(wanted).lower()
        for candidate in names:
            if posixpath.dirname(candidate) == self.base and posixpath.basename(candidate).lower() == leaf:
                return candidate
        raise KeyError(name)

    def get(self, name: str) -> bytes:
        return self.archive.read(self._resolve(name))

    def __getitem__(self, name: str) -> bytes:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        try:
            self._resolve(name)
        except KeyError:
            return False
        return True

    def keys(self) -> list[str]:
        prefix = f"{self.base}/" if self.base else ""
        return [n[len(prefix) :] for n in self.archive.namelist() if n.startswith(prefix) and not n.endswith("/")]

    def write(self, name: str, data: bytes) -> None:
        raise NotImplementedError("the archive is read-only")

    def namespaced(self, namespace: str) -> _ZipResolver:
        return _ZipResolver(self.archive, posixpath.join(self.base, namespace))
