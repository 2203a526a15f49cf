"""Coloured surface samples of a KiCad VRML model, read with PyMeshLab (MeshLab's VRML importer).

KiCad's ``.wrl`` files (exported by kicad StepUp) hold one ``IndexedFaceSet`` per part with a ``Material`` per part
(body, pins, marking); MeshLab merges them into one mesh whose vertices carry their material's diffuse colour. Points
are drawn area-weighted by the project's surface sampler, so each point takes the colour of its part. Coordinates are in
VRML units of 0.1 inch (2.54 mm), z up (the board plane is z = 0).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperalign.data.formats.cloud import PointCloud
from hyperalign.data.formats.io import normalize_unit_sphere, write_point_cloud
from hyperalign.data.formats.mesh import GREY, sample_surface, vertex_colourer

MM_PER_UNIT = 2.54


class ModelError(ValueError):
    """A model that cannot be sampled; the message names the model file and the reason."""


@dataclass(frozen=True)
class ModelStats:
    """What the conversion of one model measured: mesh size and the bounding box in millimetres."""

    vertices: int
    faces: int
    colours: int  # distinct vertex colours (about the number of materials)
    size_mm: tuple[float, float, float]


def convert_model(data: bytes, name: str, out: str, n_points: int, seed: int) -> ModelStats:
    """Read the VRML bytes of model ``name``, sample ``n_points`` coloured points (seeded), normalise them to the
    unit sphere and write them to ``out`` atomically; raise :class:`ModelError` for an unreadable or empty model."""
    vertices, faces, rgb = _read_vrml(data, name)
    if len(faces) == 0:
        raise ModelError(f"{name}: the model has no faces")
    colourer = vertex_colourer(faces, rgb) if rgb is not None else None
    try:
        sample = sample_surface(vertices, faces, n_points, seed, colourer)
    except ValueError as exc:
        raise ModelError(f"{name}: {exc}") from None
    colour = sample.rgb if sample.rgb is not None else np.full((n_points, 3), GREY)
    write_point_cloud(Path(out), PointCloud(normalize_unit_sphere(sample.xyz), colour))
    extent = (vertices.max(axis=0) - vertices.min(axis=0)) * MM_PER_UNIT
    colours = len(np.unique(rgb, axis=0)) if rgb is not None else 0
    size = (round(float(extent[0]), 3), round(float(extent[1]), 3), round(float(extent[2]), 3))
    return ModelStats(len(vertices), len(faces), colours, size)


def _read_vrml(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Vertices (V, 3) float64, triangles (F, 3) int64 and vertex colours (V, 3) in [0, 1] (None without colour)."""
    import pymeshlab

    with tempfile.TemporaryDirectory(prefix="hyperalign-wrl-") as tmp:
        path = os.path.join(tmp, "model.wrl")  # MeshLab picks the importer by the extension
        with open(path, "wb") as file:
            file.write(data)
        meshes = pymeshlab.MeshSet()
        try:
            meshes.load_new_mesh(path)
        except Exception as exc:  # PyMeshLab raises its own error types for unreadable files
            detail = " ".join(str(exc).replace(path, "").split())
            raise ModelError(f"{name}: MeshLab cannot read the VRML file ({detail})") from None
    mesh = meshes.current_mesh()
    vertices = np.asarray(mesh.vertex_matrix(), dtype=np.float64)
    faces = np.asarray(mesh.face_matrix(), dtype=np.int64)
    if len(vertices) and not np.isfinite(vertices).all():
        raise ModelError(f"{name}: vertex coordinates contain NaN/Inf")
    rgb = np.asarray(mesh.vertex_color_matrix(), dtype=np.float64)[:, :3] if mesh.has_vertex_color() else None
    return vertices, faces, rgb
