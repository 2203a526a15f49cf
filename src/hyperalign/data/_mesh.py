"""Mesh formats (.off, .obj): surfaces are sampled area-weighted with trimesh; vertex-only files are read as points."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hyperalign.atomic import atomic_path
from hyperalign.data._cloud import PointCloud, PointCloudError, check_count, colours01, make_cloud

_OFF_HEADER = re.compile(r"(C?)(N?)OFF(\S*)")


def sample_mesh(
    path: Path, vertices: np.ndarray, faces: np.ndarray, vertex_rgb: np.ndarray | None, n: int, seed: int
) -> PointCloud:
    """``n`` area-weighted surface samples (seeded); colours interpolated from vertices, normals from faces."""
    import trimesh

    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)
    area = float(mesh.area)
    if not (np.isfinite(area) and area > 0.0):
        raise PointCloudError(f"{path}: the {len(faces)} faces have zero (or non-finite) total area; cannot sample")
    points, face_index, bary = trimesh.sample.sample_surface(mesh, n, seed=seed, return_barycentric=True)
    rgb = None
    if vertex_rgb is not None:
        rgb = np.clip(np.einsum("nk,nkc->nc", bary, vertex_rgb[faces[face_index]]), 0.0, 1.0)
    return make_cloud(path, points, rgb, mesh.face_normals[face_index])


def _triangulate(path: Path, polygons: list[list[int]], n_vertices: int) -> np.ndarray:
    """Fan-triangulate polygons given as vertex index lists; indices are checked against ``n_vertices``."""
    triangles = [(poly[0], poly[i], poly[i + 1]) for poly in polygons for i in range(1, len(poly) - 1)]
    faces = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise PointCloudError(f"{path}: a face refers to vertex {int(faces.max())}, but there are {n_vertices}")
    return faces


def read_off(path: Path, mesh_samples: int, seed: int, max_points: int) -> PointCloud:
    """[C][N]OFF: vertex rows ``x y z [nx ny nz] [r g b [a]]``; faces ``k i1 .. ik`` are sampled when present."""
    vertex_rows, face_rows, has_rgb, has_normals = _split_off(path)
    check_count(path, len(vertex_rows), max_points)
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
    return sample_mesh(path, table[:, :3], faces, rgb, mesh_samples, seed)


def _split_off(path: Path) -> tuple[list[list[str]], list[list[str]], bool, bool]:
    """Tokenised vertex and face lines of an OFF file, and whether vertices carry colours and normals."""
    try:
        lines = [ln.split("#", 1)[0].split() for ln in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as exc:
        raise PointCloudError(f"{path}: not a text OFF file: {exc}") from exc
    lines = [ln for ln in lines if ln]
    head = _OFF_HEADER.fullmatch(lines[0][0]) if lines else None
    if head is None:
        raise PointCloudError(f"{path}: expected an 'OFF' header line (OFF, COFF, NOFF or CNOFF)")
    counts = ([head[3]] if head[3] else []) + lines[0][1:]  # ModelNet writes "OFF490 518 0" on one line
    body = 1
    if not counts:
        counts, body = (lines[1] if len(lines) > 1 else []), 2
    try:
        n_vertices, n_faces = int(counts[0]), int(counts[1])
        if n_vertices < 0 or n_faces < 0:
            raise ValueError("negative count")
    except (IndexError, ValueError) as exc:
        raise PointCloudError(f"{path}: expected a counts line 'n_vertices n_faces n_edges'; got {counts}") from exc
    vertex_rows = lines[body : body + n_vertices]
    face_rows = lines[body + n_vertices : body + n_vertices + n_faces]
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


def read_obj(path: Path, mesh_samples: int, seed: int, max_points: int) -> PointCloud:
    """Faces sampled via trimesh (vertex colours interpolated); a file with only ``v`` lines is read as points."""
    import trimesh

    _check_obj_lines(path)
    try:
        mesh = trimesh.load(str(path), file_type="obj", force="mesh", process=False)
    except Exception as exc:  # trimesh raises assorted errors for malformed files
        raise PointCloudError(f"{path}: not a readable OBJ file: {type(exc).__name__}: {exc}") from exc
    faces = np.asarray(getattr(mesh, "faces", np.empty((0, 3))), dtype=np.int64)
    if len(faces) == 0:
        return _read_obj_vertices(path, max_points)
    check_count(path, mesh_samples, max_points)
    visual = getattr(mesh, "visual", None)
    rgb = None
    if getattr(visual, "kind", None) == "vertex":
        rgb = np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0
    return sample_mesh(path, np.asarray(mesh.vertices, dtype=np.float64), faces, rgb, mesh_samples, seed)


_OBJ_MIN_FIELDS = {"v": (3, "v x y z [r g b]"), "vn": (3, "vn x y z"), "vt": (1, "vt u [v [w]]"), "f": (3, "f i j k ...")}


def _check_obj_lines(path: Path) -> None:
    """Refuse short or non-numeric ``v`` / ``vn`` / ``vt`` / ``f`` lines (a truncated file) with the file and line."""
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                tokens = line.split("#", 1)[0].split()
                if not tokens or tokens[0] not in _OBJ_MIN_FIELDS:
                    continue
                need, form = _OBJ_MIN_FIELDS[tokens[0]]
                values = tokens[1:]
                try:
                    for value in values:
                        int(value.split("/", 1)[0]) if tokens[0] == "f" else float(value)
                except ValueError:
                    values = []
                if len(values) < need:
                    raise PointCloudError(
                        f"{path}, line {number}: {line.strip()[:60]!r}: expected an OBJ line {form!r} (is the file truncated?)"
                    )
    except UnicodeDecodeError as exc:
        raise PointCloudError(f"{path}: not a text OBJ file: {exc}") from exc


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
