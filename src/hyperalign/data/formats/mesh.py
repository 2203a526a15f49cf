"""Mesh formats (.off, .obj) and the area-weighted surface sampler every mesh in the project goes through.

Faces are sampled by :func:`sample_surface` (seeded, with an optional colour per point); vertex-only files are read
as points. OBJ files are parsed with trimesh as a scene (:func:`scene_parts`), so each part keeps its material: a
sample takes the diffuse texture, the vertex or face colour or the material colour of its part
(:func:`visual_colourer`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperalign.atomic import atomic_path
from hyperalign.data.formats.cloud import (
    PointCloud,
    PointCloudError,
    SizeLimitError,
    check_count,
    colours01,
    make_cloud,
)

_OFF_HEADER = re.compile(r"(C?)(N?)OFF(\S*)")
Colourer = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (triangle index (K,), barycentric (K, 3)) -> rgb (K, 3)
GREY = 0.5  # colour of parts without any material


@dataclass(frozen=True)
class SurfaceSample:
    """Points on a triangle mesh: where they are, which triangle each lies on, and where in it."""

    xyz: np.ndarray  # (n, 3) float64
    face: np.ndarray  # (n,) int64 triangle index
    bary: np.ndarray  # (n, 3) barycentric coordinates, rows sum to 1
    rgb: np.ndarray | None  # (n, 3) in [0, 1], when a colourer was given


def triangle_areas(corners: np.ndarray) -> np.ndarray:
    """Areas ``|(b - a) x (c - a)| / 2`` of ``(F, 3, 3)`` triangle corners ``(a, b, c)``."""
    return 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)


def sample_surface(
    vertices: np.ndarray,
    faces: np.ndarray,
    n: int,
    seed: int | np.random.SeedSequence,
    colour: Colourer | None = None,
) -> SurfaceSample:
    """``n`` points uniform on the surface of ``(V, 3)`` vertices and ``(F, 3)`` triangles, seeded.

    Triangle ``t`` is drawn with probability ``A_t / sum(A)``, ``A_t = |(b - a) x (c - a)| / 2`` (non-finite areas
    count as 0); then ``(u, v)`` uniform in the unit square, reflected to ``(1 - u, 1 - v)`` when ``u + v > 1``, gives
    the barycentric coordinates ``(1 - u - v, u, v)``. ``colour`` maps (triangles, barycentric) to rgb per point.
    Raises ValueError when the total area is zero.
    """
    corners = vertices[faces]
    area = triangle_areas(corners)
    area[~np.isfinite(area)] = 0.0
    if not area.sum() > 0.0:
        raise ValueError(f"the {len(faces)} triangles have zero total area")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(faces), size=n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    outside = u + v > 1.0
    u[outside], v[outside] = 1.0 - u[outside], 1.0 - v[outside]
    bary = np.stack([1.0 - u - v, u, v], axis=1)
    xyz = np.einsum("nk,nkc->nc", bary, corners[face])
    rgb = None if colour is None else np.clip(colour(face, bary), 0.0, 1.0)
    return SurfaceSample(xyz, face, bary, rgb)


def vertex_colourer(faces: np.ndarray, vertex_rgb: np.ndarray) -> Colourer:
    """Colours interpolated from the ``(V, 3)`` vertex colours with the barycentric coordinates."""
    return lambda face, bary: np.einsum("nk,nkc->nc", bary, vertex_rgb[faces[face]])


def visual_colourer(geometry: object, faces: np.ndarray) -> Colourer:
    """How to colour samples of one trimesh geometry with ``faces``: the material's diffuse texture at the
    interpolated texture coordinate when there is one (the texture alone, without the ``Kd`` factor), else vertex
    or face colours, else the material's diffuse colour (:data:`GREY` without a material)."""
    visual = getattr(geometry, "visual", None)
    kind = getattr(visual, "kind", None)
    if kind == "vertex":
        vertex_rgb = np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0  # type: ignore[union-attr]
        return vertex_colourer(faces, vertex_rgb)
    if kind == "face":
        face_rgb = np.asarray(visual.face_colors, dtype=np.float64)[:, :3] / 255.0  # type: ignore[union-attr]
        return lambda face, bary: face_rgb[face]
    material = getattr(visual, "material", None)
    if material is not None and hasattr(material, "to_simple"):  # PBR material
        material = material.to_simple()
    diffuse = getattr(material, "diffuse", None)
    base = np.full(3, GREY) if diffuse is None else np.asarray(diffuse, dtype=np.float64)[:3] / 255.0
    image = getattr(material, "image", None)
    uv = getattr(visual, "uv", None)
    if image is None or uv is None or len(uv) == 0:
        return lambda face, bary: np.broadcast_to(base, (len(face), 3))
    texels = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    uv = np.asarray(uv, dtype=np.float64)

    def texture(face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        st = np.einsum("nk,nkc->nc", bary, uv[faces[face]])
        st = np.where(np.isfinite(st), st, 0.0) % 1.0  # textures repeat outside [0, 1]
        h, w = texels.shape[:2]
        col = np.minimum((st[:, 0] * w).astype(np.int64), w - 1)
        row = np.minimum(((1.0 - st[:, 1]) * h).astype(np.int64), h - 1)  # v runs bottom-up, image rows top-down
        return texels[row, col]

    return texture


@dataclass(frozen=True)
class MeshPart:
    """One part of a scene: triangles with the scene transform applied, and how its surface samples are coloured."""

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    colour: Colourer


def scene_parts(scene: object) -> list[MeshPart]:
    """The triangle meshes of a trimesh scene, each placed by its node's transform with its own colour rule; lines
    and points (no faces) are left out."""
    parts = []
    for node in scene.graph.nodes_geometry:  # type: ignore[attr-defined]
        transform, name = scene.graph[node]  # type: ignore[attr-defined]
        geometry = scene.geometry[name]  # type: ignore[attr-defined]
        faces = np.asarray(getattr(geometry, "faces", np.empty((0, 3))), dtype=np.int64)
        if len(faces) == 0:
            continue
        vertices = np.asarray(geometry.vertices, dtype=np.float64) @ transform[:3, :3].T + transform[:3, 3]
        parts.append(MeshPart(vertices, faces, visual_colourer(geometry, faces)))
    return parts


def merge_parts(parts: list[MeshPart]) -> tuple[np.ndarray, np.ndarray, Colourer]:
    """One mesh of all ``parts`` (vertices, faces) and a colourer that asks each triangle's own part."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts])
    vertices = np.concatenate([p.vertices for p in parts])
    faces = np.concatenate([p.faces + offset for p, offset in zip(parts, offsets)])
    part_of_face = np.repeat(np.arange(len(parts)), [len(p.faces) for p in parts])
    starts = np.cumsum([0] + [len(p.faces) for p in parts])

    def colour(face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        rgb = np.empty((len(face), 3))
        for k, part in enumerate(parts):
            chosen = part_of_face[face] == k
            if chosen.any():
                rgb[chosen] = part.colour(face[chosen] - starts[k], bary[chosen])
        return rgb

    return vertices, faces, colour


def face_normals(vertices: np.ndarray, faces: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Unit normals ``(b - a) x (c - a) / |...|`` of the triangles ``face`` (all of positive area)."""
    a, b, c = (vertices[faces[face, k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    return normal / np.linalg.norm(normal, axis=1, keepdims=True)


def _sample_cloud(
    path: Path, vertices: np.ndarray, faces: np.ndarray, colour: Colourer | None, n: int, seed: int
) -> PointCloud:
    """``n`` surface samples as a cloud: colours from ``colour`` (none without), normals from the faces."""
    try:
        sample = sample_surface(vertices, faces, n, seed, colour)
    except ValueError as exc:
        raise PointCloudError(f"{path}: {exc}; cannot sample") from None
    return make_cloud(path, sample.xyz, sample.rgb, face_normals(vertices, faces, sample.face))


def _triangulate(path: Path, polygons: list[list[int]], n_vertices: int) -> np.ndarray:
    """Fan-triangulate polygons given as vertex index lists; indices are checked against ``n_vertices``."""
    triangles = [(poly[0], poly[i], poly[i + 1]) for poly in polygons for i in range(1, len(poly) - 1)]
    faces = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise PointCloudError(f"{path}: a face refers to vertex {int(faces.max())}, but there are {n_vertices}")
    return faces


def read_off(path: Path, mesh_samples: int, seed: int, max_points: int, max_faces: int) -> PointCloud:
    """[C][N]OFF: vertex rows ``x y z [nx ny nz] [r g b [a]]``; faces ``k i1 .. ik`` are sampled when present.

    The header's vertex and face counts are checked against ``max_points`` / ``max_faces`` before the body is read,
    so the work per file is bounded by the limits, not by the file."""
    vertex_rows, face_rows, has_rgb, has_normals = _split_off(path, max_points, max_faces)
    width = 3 + 3 * has_normals + 3 * has_rgb
    try:
        if any(len(row) < width for row in vertex_rows):
            raise ValueError(f"every vertex line needs at least {width} numbers")
        table = np.array([row[:width] for row in vertex_rows], dtype=np.float64)
        polygons = [[int(i) for i in row[1 : 1 + int(row[0])]] for row in face_rows]
        if any(len(poly) != int(row[0]) or len(poly) < 3 for poly, row in zip(polygons, face_rows)):
            raise ValueError("every face line needs 'k i1 .. ik' with k >= 3")
    except ValueError as exc:
        raise PointCloudError(f"{path}: malformed OFF body: {exc}") from exc
    normals = table[:, 3:6] if has_normals else None
    rgb = colours01(path, table[:, width - 3 : width], "vertex colours") if has_rgb else None
    if not polygons:
        return make_cloud(path, table[:, :3], rgb, normals)
    check_count(path, mesh_samples, max_points)
    faces = _triangulate(path, polygons, len(table))
    colour = None if rgb is None else vertex_colourer(faces, rgb)
    return _sample_cloud(path, table[:, :3], faces, colour, mesh_samples, seed)


def _split_off(path: Path, max_points: int, max_faces: int) -> tuple[list[list[str]], list[list[str]], bool, bool]:
    """Tokenised vertex and face lines of an OFF file, and whether vertices carry colours and normals; the header's
    counts are checked against the limits first, and only the lines they announce are tokenised."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = (tokens for tokens in (ln.split("#", 1)[0].split() for ln in file) if tokens)
            first = next(lines, None)
            head = _OFF_HEADER.fullmatch(first[0]) if first else None
            if first is None or head is None:
                raise PointCloudError(f"{path}: expected an 'OFF' header line (OFF, COFF, NOFF or CNOFF)")
            counts = ([head[3]] if head[3] else []) + first[1:]  # ModelNet writes "OFF490 518 0" on one line
            if not counts:
                counts = next(lines, [])
            try:
                n_vertices, n_faces = int(counts[0]), int(counts[1])
                if n_vertices < 0 or n_faces < 0:
                    raise ValueError("negative count")
            except (IndexError, ValueError) as exc:
                raise PointCloudError(
                    f"{path}: expected a counts line 'n_vertices n_faces n_edges'; got {counts}"
                ) from exc
            check_count(path, n_vertices, max_points)
            if n_faces > max_faces:
                raise SizeLimitError(path, "faces", n_faces, max_faces, "max_faces")
            vertex_rows = list(itertools.islice(lines, n_vertices))
            face_rows = list(itertools.islice(lines, n_faces))
    except UnicodeDecodeError as exc:
        raise PointCloudError(f"{path}: not a text OFF file: {exc}") from exc
    if len(vertex_rows) < n_vertices or len(face_rows) < n_faces:
        raise PointCloudError(
            f"{path}: truncated: the header promises {n_vertices} vertices and {n_faces} faces; "
            f"found {len(vertex_rows)} vertex and {len(face_rows)} face lines"
        )
    return vertex_rows, face_rows, bool(head[1]), bool(head[2])


def write_off(path: Path, cloud: PointCloud) -> None:
    """A vertex-only [C][N]OFF file; colours written as floats in [0, 1] with alpha 1."""
    blocks = [cloud.xyz]
    if cloud.normals is not None:
        blocks.append(cloud.normals)
    if cloud.rgb is not None:
        blocks += [cloud.rgb, np.ones((len(cloud), 1), dtype=np.float32)]
    header = f"{'C' if cloud.rgb is not None else ''}{'N' if cloud.normals is not None else ''}OFF\n{len(cloud)} 0 0"
    with atomic_path(path) as tmp:
        np.savetxt(tmp, np.concatenate(blocks, axis=1), fmt="%.9g", header=header, comments="")


def read_obj(path: Path, mesh_samples: int, seed: int, max_points: int, max_faces: int) -> PointCloud:
    """Parsed by trimesh as a scene (materials from the ``.mtl`` and textures beside the file), faces sampled by
    :func:`sample_surface`, each sample coloured by its part (:func:`visual_colourer`); a file without colour or
    material gives a cloud without colour; a file with only ``v`` lines is read as points."""
    import trimesh

    _check_obj_lines(path, max_points, max_faces)
    try:
        scene = trimesh.load(str(path), file_type="obj", force="scene", process=False)
    except Exception as exc:  # trimesh raises assorted errors for malformed files
        raise PointCloudError(f"{path}: not a readable OBJ file: {type(exc).__name__}: {exc}") from exc
    parts = scene_parts(scene)
    if not parts:
        return _read_obj_vertices(path, max_points)
    check_count(path, mesh_samples, max_points)
    vertices, faces, colour = merge_parts(parts)
    coloured = any(_has_colour(geometry) for geometry in scene.geometry.values())
    return _sample_cloud(path, vertices, faces, colour if coloured else None, mesh_samples, seed)


def _has_colour(geometry: object) -> bool:
    """Whether a trimesh geometry carries colour: vertex or face colours, a material or a texture."""
    visual = getattr(geometry, "visual", None)
    kind = getattr(visual, "kind", None)
    if kind in ("vertex", "face"):
        return True
    return kind == "texture" and getattr(visual, "material", None) is not None


# Fewest values each OBJ line kind needs, and its form for error messages.
_OBJ_MIN_FIELDS = {
    "v": (3, "v x y z [r g b]"), "vn": (3, "vn x y z"), "vt": (1, "vt u [v [w]]"), "f": (3, "f i j k ...")
}  # fmt: skip


def _check_obj_lines(path: Path, max_points: int, max_faces: int) -> None:
    """Refuse short or non-numeric ``v`` / ``vn`` / ``vt`` / ``f`` lines (a truncated file) with the file and line,
    and more ``v`` / ``f`` lines than ``max_points`` / ``max_faces``, before the mesh is built."""
    counts = {"v": 0, "f": 0}
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                tokens = line.split("#", 1)[0].split()
                if not tokens or tokens[0] not in _OBJ_MIN_FIELDS:
                    continue
                if tokens[0] in counts:
                    counts[tokens[0]] += 1
                need, form = _OBJ_MIN_FIELDS[tokens[0]]
                values = tokens[1:]
                try:
                    for value in values:
                        int(value.split("/", 1)[0]) if tokens[0] == "f" else float(value)
                except ValueError:
                    values = []
                if len(values) < need:
                    raise PointCloudError(
                        f"{path}, line {number}: {line.strip()[:60]!r}: expected an OBJ line {form!r} "
                        "(is the file truncated?)"
                    )
    except UnicodeDecodeError as exc:
        raise PointCloudError(f"{path}: not a text OBJ file: {exc}") from exc
    if counts["v"] > max_points:
        raise SizeLimitError(path, "points", counts["v"], max_points, "max_points")
    if counts["f"] > max_faces:
        raise SizeLimitError(path, "faces", counts["f"], max_faces, "max_faces")


def _read_obj_vertices(path: Path, max_points: int) -> PointCloud:
    """``v x y z [r g b]`` rows as points; ``vn`` rows become normals when there is one per vertex."""
    rows: dict[str, list[list[str]]] = {"v": [], "vn": []}
    try:
        with open(path, encoding="utf-8") as file:
            for line in file:
                tokens = line.split()
                if tokens and tokens[0] in rows:
                    rows[tokens[0]].append(tokens[1:])
    except UnicodeDecodeError as exc:
        raise PointCloudError(f"{path}: not a text OBJ file: {exc}") from exc
    if not rows["v"]:
        raise PointCloudError(f"{path}: no vertices ('v x y z' lines) and no faces found; expected an OBJ mesh")
    check_count(path, len(rows["v"]), max_points)
    width = 6 if all(len(r) >= 6 for r in rows["v"]) else 3
    try:
        table = np.array([r[:width] for r in rows["v"]], dtype=np.float64)
        normals = np.array([r[:3] for r in rows["vn"]], dtype=np.float64) if rows["vn"] else None
    except ValueError as exc:
        raise PointCloudError(f"{path}: malformed 'v'/'vn' line: {exc}") from exc
    if normals is not None and len(normals) != len(table):
        normals = None  # vn lines belong to faces that reference them, not to vertices
    rgb = colours01(path, table[:, 3:6], "vertex colours") if width == 6 else None
    return make_cloud(path, table[:, :3], rgb, normals)


def write_obj(path: Path, cloud: PointCloud) -> None:
    """A vertex-only OBJ: ``v x y z [r g b]`` (colours in [0, 1]), then one ``vn`` per vertex if normals exist."""
    v = cloud.xyz if cloud.rgb is None else np.concatenate([cloud.xyz, cloud.rgb], axis=1)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as file:
            np.savetxt(file, v, fmt="v" + " %.9g" * v.shape[1])
            if cloud.normals is not None:
                np.savetxt(file, cloud.normals, fmt="vn %.9g %.9g %.9g")
