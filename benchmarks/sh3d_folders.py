"""Folders a new user might point ``hyperalign search --in`` at, made from 20 Sweet Home 3D test items.

The items are test in both splits of the converted dataset (``/work/data/sh3d``), one per coarse class first, then
the next test items in index order. Three folders hold the same items:

- ``my-shapes/<id>.npy``: the converted point files (the catalogue's ``modelRotation`` and size applied);
- ``my-meshes/<id>/<model>.obj``: the model its ``.sh3f`` library (Debian ``sweethome3d-furniture``) ships, as one
  OBJ with a colour per vertex written by trimesh. The folder search reads OBJ geometry and vertex colours but not
  MTL materials or textures, so each vertex takes the colour the converter's rule gives its corner (diffuse texture
  at the texture coordinate, else vertex / face colour, else ``Kd``). Coordinates are the archive's as they are:
  no ``modelRotation``, no stretch to the catalogue size;
- ``my-meshes-shipped/<id>/``: the model's directory copied verbatim out of the archive (OBJ + MTL + textures),
  which the folder search reads without colour.

``correct`` for the query "a chair": the item's coarse class is ``seat`` (:data:`CHAIR_CLASSES`); the stricter
``chair.n.01`` flag says whether WordNet's hypernym chain of the item passes through chair.
"""

from __future__ import annotations

import json
import posixpath
import shutil
import zipfile
from pathlib import Path

import numpy as np

SH3D = Path("/work/data/sh3d")
FURNITURE = Path("/usr/share/sweethome3d/furniture")
CHAIR_CLASSES = ("seat",)
CHAIR_RULE = (f"correct = the item's coarse class is one of {', '.join(CHAIR_CLASSES)} (the catalogue class of chairs, "
              "armchairs, stools, sofas and benches); strict = its WordNet hypernym chain contains chair.n.01")


def chosen_items(n: int = 20, data: Path = SH3D) -> list[dict]:
    """``n`` items of ``data/index.json`` that are test in both splits, one per coarse class first."""
    names = json.loads((data / "index.json").read_text())["items"]
    items_split = {it["id"]: it["split"] for it in json.loads((data / "index-items.json").read_text())["items"]}
    test = [it for it in names if it["split"] == "test" and items_split[it["id"]] == "test"]
    test += [it for it in names if it["split"] == "test" and items_split[it["id"]] != "test"]
    chosen, seen = [], set()
    for it in test:
        cls = it["meta"].get("coarse_class")
        if cls not in seen or len(chosen) >= 12:
            chosen.append(it)
            seen.add(cls)
        if len(chosen) == n:
            break
    return chosen


def item_labels(items: list[dict]) -> dict[str, dict[str, object]]:
    """Per item id: coarse class, catalogue name, whether it counts as a chair (class rule and strict rule)."""
    return {
        it["id"]: {
            "class": it["meta"].get("coarse_class"),
            "name": it["meta"].get("name"),
            "chair": it["meta"].get("coarse_class") in CHAIR_CLASSES,
            "chair_strict": "chair.n.01" in it["meta"].get("wordnet", {}).get("chain", []),
        }
        for it in items
    }


def point_folder(work: Path, items: list[dict], data: Path = SH3D) -> Path:
    """``work/my-shapes/<id>.npy``: the converted point files of ``items``."""
    folder = work / "my-shapes"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for it in items:
            shutil.copyfile(data / it["points"], folder / f"{it['id']}.npy")
    return folder


def _archive(item: dict, furniture: Path) -> tuple[zipfile.ZipFile, str]:
    path = furniture / f"{item['meta']['library']}.sh3f"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such library; install the Debian package sweethome3d-furniture")
    return zipfile.ZipFile(path), item["meta"]["model"].lstrip("/")


def shipped_folder(work: Path, items: list[dict], furniture: Path = FURNITURE) -> Path:
    """``work/my-meshes-shipped/<id>/``: every file under each model's directory in its archive, byte for byte."""
    folder = work / "my-meshes-shipped"
    if folder.is_dir():
        return folder
    tmp = work / "my-meshes-shipped.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for it in items:
        archive, model = _archive(it, furniture)
        base = posixpath.dirname(model)
        with archive:
            for name in archive.namelist():
                if name.startswith(f"{base}/") and not name.endswith("/"):
                    target = tmp / it["id"] / name[len(base) + 1:]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
    tmp.rename(folder)
    return folder


def _vertex_colours(vertices: np.ndarray, faces: np.ndarray, colour) -> np.ndarray:
    """(V, 3) in [0, 1]: each vertex's colour at one face corner that uses it (grey for unused vertices)."""
    face_of = np.full(len(vertices), -1)
    corner_of = np.zeros(len(vertices), dtype=np.int64)
    for corner in range(3):
        face_of[faces[:, corner]] = np.arange(len(faces))
        corner_of[faces[:, corner]] = corner
    rgb = np.full((len(vertices), 3), 0.5)
    used = face_of >= 0
    bary = np.eye(3)[corner_of[used]]
    rgb[used] = np.clip(colour(face_of[used], bary), 0.0, 1.0)
    return rgb


def mesh_folder(work: Path, items: list[dict], furniture: Path = FURNITURE) -> Path:
    """``work/my-meshes/<id>/<model>.obj``: each shipped model as one OBJ with vertex colours (see module doc)."""
    import trimesh

    # The converter's OBJ reader: the scene's parts with their transforms applied, each with its colour rule.
    from hyperalign.data.formats.mesh import merge_parts
    from hyperalign.data.sweethome3d.mesh import load_parts

    folder = work / "my-meshes"
    if folder.is_dir():
        return folder
    tmp = work / "my-meshes.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    for it in items:
        archive, model = _archive(it, furniture)
        with archive:
            parts = load_parts(archive, model, f"{archive.filename}!{model}")
        vertices, faces, colour = merge_parts(parts)
        rgb = _vertex_colours(vertices, faces, colour)
        rgba = np.concatenate([np.round(rgb * 255), np.full((len(vertices), 1), 255)], axis=1)
        mesh = trimesh.Trimesh(vertices, faces, vertex_colors=rgba.astype(np.uint8), process=False)
        target = tmp / it["id"] / posixpath.basename(model)
        target.parent.mkdir(parents=True)
        mesh.export(target, file_type="obj", include_normals=False, include_color=True)
    tmp.rename(folder)
    return folder


def up_axis_check(items: list[dict], furniture: Path = FURNITURE) -> list[dict[str, object]]:
    """Per item: the archive model's bounding box proportions (x, y, z, each over the largest) next to the
    catalogue's (width, height, depth) ones, and which of the model's axes matches the catalogue height best
    (``up_match``: "y" means the model as shipped is y-up; ``ambiguous`` when another axis fits within 0.02, as for a
    cube); ``modelRotation`` shows which items Sweet Home 3D turns."""
    from hyperalign.data.sweethome3d.mesh import load_parts

    rows = []
    for it in items:
        archive, model = _archive(it, furniture)
        with archive:
            parts = load_parts(archive, model, f"{archive.filename}!{model}")
        xyz = np.concatenate([p.vertices for p in parts])
        extent = xyz.max(axis=0) - xyz.min(axis=0)
        size = it["meta"]["size_cm"]
        catalogue = np.array([size["width"], size["height"], size["depth"]])
        raw, cat = extent / extent.max(), catalogue / catalogue.max()
        # The model axis playing "height": the permutation of model axes onto (width, height, depth) that fits best.
        perms = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
        errors = {p: float(np.abs(raw[list(p)] - cat).sum()) for p in perms}
        best = min(perms, key=errors.__getitem__)
        rivals = {"xyz"[p[1]] for p in perms if errors[p] <= errors[best] + 0.02}  # axes fitting about as well
        rows.append({
            "id": it["id"], "model_rotation": it["meta"].get("model_rotation"),
            "model_extent_xyz": [round(float(v), 3) for v in raw],
            "catalogue_whd": [round(float(v), 3) for v in cat],
            "up_match": "xyz"[best[1]], "fit_error": round(errors[best], 3), "ambiguous": len(rivals) > 1,
        })
    return rows


def colour_check(folder: Path, items: list[dict], data: Path = SH3D) -> dict[str, float]:
    """Per item: the largest channel difference between the mean colour the folder search reads from its mesh in
    ``folder`` (vertex colours, interpolated) and the mean colour of its converted cloud (texture per sample)."""
    from hyperalign.data.formats import read_point_cloud

    gaps = {}
    for it in items:
        mesh = read_point_cloud(next((folder / it["id"]).glob("*.obj")))
        cloud = np.load(data / it["points"])
        rgb = mesh.rgb if mesh.rgb is not None else np.full_like(mesh.xyz, 0.5)
        gaps[it["id"]] = round(float(np.abs(rgb.mean(axis=0) - cloud[:, 3:6].mean(axis=0)).max()), 4)
    return gaps
