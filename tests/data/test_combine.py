"""Combining datasets: prefixed ids, strictest split over several indexes, one up axis, copied point files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hyperalign.atomic import RefusedOverwriteError
from hyperalign.data.combine import Source, combine_datasets, strictest_split, up_rotation
from hyperalign.data.layout import LayoutError, LayoutIndex, load_dataset, write_dataset


def _dataset(root: Path, name: str, up_axis: str, levels: list[str], splits: list[str], channels: int = 3,
             index_name: str = "index.json") -> Path:
    (root / "points").mkdir(parents=True, exist_ok=True)
    tree = levels[:-1]
    nodes, parent = [], None
    for level in tree:
        node_id = f"{parent}/{level}" if parent else level
        nodes.append({"id": node_id, "parent": parent, "level": level, "captions": [f"a {level}"]})
        parent = node_id
    items = []
    for i, split in enumerate(splits):
        pts = np.zeros((8, channels), dtype=np.float32)
        pts[:, "xyz".index(up_axis)] = np.arange(8)  # a vertical line along the up axis
        np.save(root / "points" / f"s{i}.npy", pts)
        items.append({"id": f"s{i}", "points": f"points/s{i}.npy", "split": split, "node": parent,
                      "captions": [f"shape {i}"]})
    index = LayoutIndex.model_validate({"name": name, "levels": levels, "channels": channels, "up_axis": up_axis,
                                        "nodes": nodes, "items": items})
    path = write_dataset(root, index)
    if index_name != "index.json":
        path = path.rename(root / index_name)
    return path


def test_strictest_split():
    assert strictest_split(["train", "train"]) == "train"
    assert strictest_split(["train", "val"]) == "val"
    assert strictest_split(["val", "test"]) == "test"
    assert strictest_split(["test", "train"]) == "test"


@pytest.mark.parametrize("source,target", [("x", "y"), ("y", "z"), ("z", "y"), ("z", "x"), ("y", "y")])
def test_up_rotation_is_proper_and_maps_the_axis(source, target):
    r = up_rotation(source, target)
    e = np.eye(3)
    assert np.allclose(r @ e["xyz".index(source)], e["xyz".index(target)])
    assert np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(r @ r.T, np.eye(3), atol=1e-6)


def test_combine_prefixes_ids_keeps_splits_and_turns_clouds_upright(tmp_path):
    _dataset(tmp_path / "a", "a", "z", ["category", "subtype", "instance"], ["train", "val", "test"], channels=6)
    second = _dataset(tmp_path / "b", "b", "y", ["class", "name", "room", "instance"], ["train", "val", "test", "train"],
                      index_name="index-items.json")
    first = _dataset(tmp_path / "b", "b", "y", ["class", "name", "room", "instance"], ["train", "train", "train", "test"])
    out = combine_datasets([Source("a", (tmp_path / "a",)), Source("b", (first, second))], tmp_path / "all")
    ds = load_dataset(out)
    assert ds.index.up_axis == "y" and ds.index.channels == 6
    assert ds.index.levels == ["category/class", "subtype/name", "room", "instance"]
    splits = {it.id: it.split for it in ds.items()}
    assert splits == {"a:s0": "train", "a:s1": "val", "a:s2": "test",
                      "b:s0": "train", "b:s1": "val", "b:s2": "test", "b:s3": "test"}
    item = next(it for it in ds.items() if it.id == "a:s2")
    assert item.node == "a:category/subtype" and item.meta["source_id"] == "s2"
    pts = ds.load_points(item)
    assert pts.shape == (8, 6)
    assert np.allclose(pts[:, 1], np.arange(8)) and np.allclose(pts[:, [0, 2]], 0, atol=1e-6)  # z-up became y-up
    grey = ds.load_points(next(it for it in ds.items() if it.id == "b:s0"))
    assert np.allclose(grey[:, 3:], 0.5)  # xyz-only source widened with grey
    assert [c.text for c in ds.captions(item)] == ["a category", "a subtype", "shape 2"]


def test_training_only_combination_drops_test_items(tmp_path):
    _dataset(tmp_path / "a", "a", "y", ["category", "instance"], ["train", "val", "test"])
    out = combine_datasets([Source("a", (tmp_path / "a",), splits=("train", "val"))], tmp_path / "all")
    assert sorted(it.id for it in load_dataset(out).items()) == ["a:s0", "a:s1"]


def test_combine_refuses_to_replace_an_unrelated_directory_and_mismatched_indexes(tmp_path):
    _dataset(tmp_path / "a", "a", "y", ["category", "instance"], ["train", "test"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RefusedOverwriteError):
        combine_datasets([Source("a", (tmp_path / "a",))], tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    out = combine_datasets([Source("a", (tmp_path / "a",))], tmp_path / "all")
    combine_datasets([Source("a", (tmp_path / "a",))], tmp_path / "all")  # its own output is replaced
    assert load_dataset(out).index.name == "combined"
    other = _dataset(tmp_path / "c", "c", "y", ["category", "instance"], ["train"])
    with pytest.raises(LayoutError, match="must list the same items"):
        combine_datasets([Source("a", (tmp_path / "a", other))], tmp_path / "bad")
    with pytest.raises(ValueError, match="distinct"):
        combine_datasets([Source("a", (tmp_path / "a",)), Source("a", (tmp_path / "a",))], tmp_path / "bad")
    assert json.loads((tmp_path / "all" / "index.json").read_text())["format"] == "hyperalign-layout/1"


def test_one_dataset_turned_upright_keeps_its_ids_without_prefixes(tmp_path):
    _dataset(tmp_path / "a", "a", "z", ["category", "subtype", "instance"], ["train", "val", "test"])
    ds = load_dataset(combine_datasets([Source("a", (tmp_path / "a",))], tmp_path / "up", prefix_ids=False))
    assert [it.id for it in ds.items()] == ["s0", "s1", "s2"] and ds.items()[0].node == "category/subtype"
    assert ds.index.name == "combined" and ds.index.levels == ["category", "subtype", "instance"]
    assert np.allclose(ds.load_points(ds.items()[0])[:, 1], np.arange(8))
