"""Which library reads KiCad's 3D models fastest and most faithfully: PyMeshLab and VTK on the VRML files, OCP
(OpenCASCADE) on the STEP files of the same models.

    python benchmarks/kicad_readers.py --kicad-data hyperalign-data/kicad --debs-dir hyperalign-data/debs
        [--models 60] [--work /tmp/kicad-readers] [--out benchmarks/results]

``--models`` models of the converted dataset are chosen evenly over its items (sorted by id); their ``.wrl`` and
``.step`` files are taken from the ``kicad-packages3d`` .deb in one streamed pass. Each reader turns a file into
triangles in millimetres (VRML units are 2.54 mm) and colours where it has them:

* ``pymeshlab``: MeshLab's VRML importer, as ``hyperalign data kicad`` uses it (vertex colours from the materials);
* ``vtk``: ``vtkVRMLImporter``, every actor's triangles in world coordinates with its material's diffuse colour;
* ``ocp``: ``STEPControl_Reader`` and ``BRepMesh_IncrementalMesh`` (linear deflection 0.01 mm, angular 0.5 rad) on
  the STEP file; no colour (STEP colours live in the XDE document layer, not read here).

Per reader: models read, seconds per model (wall, one process, median and total), triangles, and faithfulness
against the STEP geometry (the exact CAD model the VRML was exported from): the symmetric Chamfer distance between
2,048 area-weighted samples of each (the project's sampler, seed 0), divided by the diagonal of the STEP model's
bounding box, and the ratio of surface areas. The ``ocp`` row's Chamfer distance is that of the STEP surface against
itself sampled with seed 1: the floor that sampling alone gives. Missing libraries are reported, not fatal (``pip install vtk
cadquery-ocp``). Writes ``kicad_readers.json`` and ``kicad_readers.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hyperalign.atomic import write_text_atomic
from hyperalign.data.formats.mesh import sample_surface, triangle_areas
from hyperalign.data.kicad.sources import members
from hyperalign.data.layout import load_dataset

MM_PER_VRML_UNIT = 2.54
Mesh = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # vertices (V, 3) mm, faces (F, 3), rgb (V, 3) or None


def read_pymeshlab(path: Path) -> Mesh:
    import pymeshlab

    meshes = pymeshlab.MeshSet()
    meshes.load_new_mesh(str(path))
    mesh = meshes.current_mesh()
    rgb = np.asarray(mesh.vertex_color_matrix())[:, :3] if mesh.has_vertex_color() else None
    return np.asarray(mesh.vertex_matrix()) * MM_PER_VRML_UNIT, np.asarray(mesh.face_matrix(), dtype=np.int64), rgb


def read_vtk(path: Path) -> Mesh:
    import vtk
    from vtk.util.numpy_support import vtk_to_numpy

    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    importer = vtk.vtkVRMLImporter()
    importer.SetFileName(str(path))
    importer.SetRenderWindow(window)
    importer.Update()
    vertices, faces, colours, offset = [], [], [], 0
    actors = importer.GetRenderer().GetActors()
    actors.InitTraversal()
    for _ in range(actors.GetNumberOfItems()):
        actor = actors.GetNextActor()
        if actor.GetMapper() is None:  # the importer also makes actors for nodes without geometry
            continue
        transform = vtk.vtkTransform()
        transform.SetMatrix(actor.GetMatrix())
        placed = vtk.vtkTransformFilter()
        placed.SetInputConnection(actor.GetMapper().GetInputConnection(0, 0))
        placed.SetTransform(transform)
        triangles = vtk.vtkTriangleFilter()
        triangles.SetInputConnection(placed.GetOutputPort())
        triangles.Update()
        poly = triangles.GetOutput()
        if poly.GetNumberOfPolys() == 0:
            continue
        points = vtk_to_numpy(poly.GetPoints().GetData()).astype(np.float64)
        cells = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).reshape(-1, 3).astype(np.int64)
        vertices.append(points * MM_PER_VRML_UNIT)
        faces.append(cells + offset)
        colours.append(np.tile(actor.GetProperty().GetDiffuseColor(), (len(points), 1)))
        offset += len(points)
    if not faces:
        raise ValueError("no triangles")
    return np.concatenate(vertices), np.concatenate(faces), np.concatenate(colours)


def read_ocp(path: Path) -> Mesh:
    from OCP.BRep import BRep_Tool
    from OCP.BRepMesh import BRepMesh_IncrementalMesh
    from OCP.IFSelect import IFSelect_RetDone
    from OCP.STEPControl import STEPControl_Reader
    from OCP.TopAbs import TopAbs_FACE, TopAbs_REVERSED
    from OCP.TopExp import TopExp_Explorer
    from OCP.TopLoc import TopLoc_Location
    from OCP.TopoDS import TopoDS

    reader = STEPControl_Reader()
    if reader.ReadFile(str(path)) != IFSelect_RetDone:
        raise ValueError("STEP reader failed")
    reader.TransferRoots()
    shape = reader.OneShape()
    BRepMesh_IncrementalMesh(shape, 0.01, False, 0.5, True)
    vertices, faces, offset = [], [], 0
    explorer = TopExp_Explorer(shape, TopAbs_FACE)
    while explorer.More():
        face = TopoDS.Face(explorer.Current())
        location = TopLoc_Location()
        mesh = BRep_Tool.Triangulation_s(face, location)
        if mesh is not None:
            trsf = location.Transformation()
            points = np.array([[p.X(), p.Y(), p.Z()] for p in
                               (mesh.Node(i).Transformed(trsf) for i in range(1, mesh.NbNodes() + 1))])
            tris = np.array([mesh.Triangle(i).Get() for i in range(1, mesh.NbTriangles() + 1)], dtype=np.int64) - 1
            if face.Orientation() == TopAbs_REVERSED:
                tris = tris[:, ::-1]
            vertices.append(points)
            faces.append(tris + offset)
            offset += len(points)
        explorer.Next()
    if not faces:
        raise ValueError("no triangles")
    return np.concatenate(vertices), np.concatenate(faces), None


READERS: dict[str, tuple[str, Callable[[Path], Mesh]]] = {
    "pymeshlab": (".wrl", read_pymeshlab), "vtk": (".wrl", read_vtk), "ocp": (".step", read_ocp),
}
MODULES = {"pymeshlab": "pymeshlab", "vtk": "vtk", "ocp": "OCP"}


def chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance: mean nearest-neighbour distance from a to b and from b to a, averaged."""
    from scipy.spatial import cKDTree

    return float((cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean()) / 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kicad-data", type=Path, required=True, help="converted dataset (hyperalign data kicad)")
    parser.add_argument("--debs-dir", type=Path, required=True, help="folder with kicad-packages3d_*.deb")
    parser.add_argument("--models", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "kicad-readers")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    items = sorted(load_dataset(args.kicad_data / "index.json").items(), key=lambda it: it.id)
    step = max(1, len(items) // args.models)
    chosen = [it.meta["model"].removesuffix(".wrl") for it in items[::step][: args.models]]
    wanted = {f"{m}{suffix}" for m in chosen for suffix in (".wrl", ".step")}
    debs = sorted(args.debs_dir.glob("kicad-packages3d_*.deb"))
    if not debs:
        sys.exit(f"{args.debs_dir}: no kicad-packages3d_*.deb")
    missing = {name for name in wanted if not (args.work / name).is_file()}
    if missing:
        for rel, data in members(debs[0], "kicad-packages3d", "", lambda rel: rel in missing):
            if data is not None:
                (args.work / rel).parent.mkdir(parents=True, exist_ok=True)
                (args.work / rel).write_bytes(data)
    available = {}
    for name, module in MODULES.items():
        try:
            __import__(module)
            available[name] = None
        except ImportError as exc:
            available[name] = f"not installed ({exc})"
    rows = []
    for model in chosen:
        row: dict[str, object] = {"model": model}
        samples = {}
        for name, (suffix, read) in READERS.items():
            path = args.work / f"{model}{suffix}"
            if available[name] or not path.is_file():
                row[name] = {"error": available[name] or f"{path.name} not in the package"}
                continue
            start = time.perf_counter()
            try:
                vertices, faces, rgb = read(path)
            except Exception as exc:  # each library raises its own errors; the comparison records them
                row[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                continue
            seconds = time.perf_counter() - start
            faces = faces[np.linalg.norm(np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]],
                                                  vertices[faces[:, 2]] - vertices[faces[:, 0]]), axis=1) > 0]
            samples[name] = sample_surface(vertices, faces, 2048, 0).xyz
            if name == "ocp":  # the same surface sampled again: the Chamfer distance two samplings give anyway
                samples["ocp-resampled"] = sample_surface(vertices, faces, 2048, 1).xyz
            row[name] = {"seconds": seconds, "triangles": int(len(faces)), "area_mm2": float(triangle_areas(vertices[faces]).sum()),
                         "colours": int(len(np.unique(np.round(rgb, 3), axis=0))) if rgb is not None else 0}
        if "ocp" in samples:
            ref = samples["ocp"]
            diagonal = float(np.linalg.norm(ref.max(axis=0) - ref.min(axis=0)))
            for name in ("pymeshlab", "vtk", "ocp"):
                if name in samples:
                    other = samples["ocp-resampled"] if name == "ocp" else samples[name]
                    row[name]["chamfer_rel"] = chamfer(other, ref) / diagonal
                    row[name]["area_ratio"] = row[name]["area_mm2"] / row["ocp"]["area_mm2"]
        rows.append(row)
        print(model, {k: ("ok" if isinstance(v, dict) and "error" not in v else v) for k, v in row.items()
                      if k != "model"}, flush=True)
    given = sys.argv[1:] if argv is None else argv
    result = {"command": "python benchmarks/kicad_readers.py " + " ".join(given), "libraries": available,
              "cpu": os.cpu_count(), "loadavg": os.getloadavg(), "rows": rows, "summary": summarise(rows)}
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "kicad_readers.json", json.dumps(result, indent=1))
    write_text_atomic(args.out / "kicad_readers.md", markdown(result))
    print(markdown(result))


def summarise(rows: list[dict]) -> dict[str, dict[str, object]]:
    out = {}
    for name in READERS:
        done = [r[name] for r in rows if isinstance(r.get(name), dict) and "error" not in r[name]]
        failed = [r[name]["error"] for r in rows if isinstance(r.get(name), dict) and "error" in r[name]]
        entry: dict[str, object] = {"read": len(done), "failed": len(failed), "failures": failed[:5]}
        if done:
            entry |= {"median_s": statistics.median(d["seconds"] for d in done),
                      "total_s": sum(d["seconds"] for d in done),
                      "median_triangles": statistics.median(d["triangles"] for d in done),
                      "with_colour": sum(d["colours"] > 0 for d in done)}
            compared = [d for d in done if "chamfer_rel" in d]
            if compared:
                entry |= {"compared_with_step": len(compared),
                          "median_chamfer_rel": statistics.median(d["chamfer_rel"] for d in compared),
                          "max_chamfer_rel": max(d["chamfer_rel"] for d in compared),
                          "median_area_ratio": statistics.median(d["area_ratio"] for d in compared)}
        out[name] = entry
    return out


def markdown(result: dict) -> str:
    lines = ["# KiCad models: which reader", "", f"Command: `{result['command']}`; load average at the end "
             f"{tuple(round(v, 1) for v in result['loadavg'])} on {result['cpu']} cores (one process).", "",
             "| reader | file | read | failed | median s / model | total s | median triangles | with colour | "
             "Chamfer / STEP diagonal, median (max) | area / STEP area, median |", "|---" * 10 + "|"]
    for name, s in result["summary"].items():
        cells = [name, READERS[name][0], s["read"], s["failed"]]
        if s["read"]:
            cells += [f"{s['median_s']:.3f}", f"{s['total_s']:.1f}", f"{s['median_triangles']:.0f}", s["with_colour"]]
            cells += ([f"{s['median_chamfer_rel']:.4f} ({s['max_chamfer_rel']:.4f})", f"{s['median_area_ratio']:.3f}"]
                      if "median_chamfer_rel" in s else ["-", "-"])
        else:
            cells += ["-"] * 6
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    for name, s in result["summary"].items():
        if s["failures"]:
            lines += ["", f"{name} failures (first 5): " + "; ".join(f"`{f}`" for f in s["failures"])]
    missing = {k: v for k, v in result["libraries"].items() if v}
    if missing:
        lines += ["", "Not measured: " + "; ".join(f"{k} {v}" for k, v in missing.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
