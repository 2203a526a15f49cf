"""The generic dataset layout: loading, tree queries, writing, and one test per validation error."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hyperalign.data.formats import PointCloud, write_point_cloud
from hyperalign.data.layout import (
    CaptionRecord,
    Dataset,
    LayoutError,
    LayoutIndex,
    load_dataset,
    write_dataset,
)

RAW: dict[str, Any] = {
    "name": "tiny",
    "levels": ["category", "subtype", "instance"],
    "nodes": [
        {"id": "chair", "level": "category", "captions": ["a chair", "a seat"]},
        {"id": "chair/arm", "parent": "chair", "level": "subtype", "captions": ["an armchair"]},
        {"id": "lamp", "level": "category"},
    ],
    "items": [
        {"id": "a", "points": "pts/a.npy", "split": "train", "node": "chair/arm", "captions": ["a red armchair"]},
        {"id": "b", "points": "pts/b.npy", "split": "val", "node": "chair"},
        {"id": "c", "points": "pts/c.npy", "split": "test", "captions": ["something"], "meta": {"license": "CC0"}},
        {"id": "d", "points": "pts/a.npy", "split": "train", "node": "lamp", "captions": ["a lamp"]},
    ],
}


def _make(root: Path, raw: dict[str, Any] = RAW) -> Path:
    for name in ("a", "b", "c"):
        write_point_cloud(root / "pts" / f"{name}.npy", PointCloud(np.full((5, 3), float(ord(name)))))
    path = root / "index.json"
    path.write_text(json.dumps(raw))
    return path


def test_tree_queries(tmp_path: Path) -> None:
    ds = load_dataset(_make(tmp_path))
    a, b, c, d = ds.items()
    assert [n.id for n in ds.ancestors("chair/arm")] == ["chair", "chair/arm"]
    assert [n.id for n in ds.ancestors("chair")] == ["chair"]
    assert ds.captions(a) == [
        CaptionRecord("a chair", "category", "chair"),
        CaptionRecord("a seat", "category", "chair"),
        CaptionRecord("an armchair", "subtype", "chair/arm"),
        CaptionRecord("a red armchair", "instance", None),
    ]
    assert [r.text for r in ds.captions(b)] == ["a chair", "a seat"]
    assert ds.captions(c) == [CaptionRecord("something", "instance", None)]
    assert ds.captions(d) == [CaptionRecord("a lamp", "instance", None)]  # node "lamp" has no captions
    assert [i.id for i in ds.items("train")] == ["a", "d"] and [i.id for i in ds.items("test")] == ["c"]
    assert ds.node("chair/arm").parent == "chair"
    with pytest.raises(KeyError, match="no node 'sofa'"):
        ds.node("sofa")
    with pytest.raises(ValueError, match="split must be one of"):
        ds.items("training")
    assert c.meta == {"license": "CC0"} and ds.index.channels == 3


def test_points_and_paths(tmp_path: Path) -> None:
    index_path = _make(tmp_path)
    assert load_dataset(tmp_path).index == load_dataset(index_path).index  # the directory or the index file
    ds = load_dataset(index_path)
    a = ds.items()[0]
    assert ds.points_path(a) == tmp_path / "pts" / "a.npy"
    points = ds.load_points(a)
    assert points.shape == (5, 3) and points.dtype == np.float32
    six = Dataset(tmp_path, ds.index.model_copy(update={"channels": 6}))
    np.testing.assert_array_equal(six.load_points(a)[:, 3:], 0.5)  # no colour in the file: grey


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    _make(tmp_path)
    index = LayoutIndex.model_validate(RAW)
    path = write_dataset(tmp_path, index)
    assert path == tmp_path / "index.json"
    assert load_dataset(path).index == index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json", "pts"]  # no temporary file left
    bad = index.model_copy(deep=True)
    bad.items[0].points = "pts/missing.npy"  # models are mutable: writing re-validates
    with pytest.raises(LayoutError, match=r"items\[0\] \(id 'a'\)\.points: 'pts/missing.npy': no such file"):
        write_dataset(tmp_path, bad)
    assert load_dataset(path).index == index  # the failed write left the old index in place


def _edit(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    change(raw)
    return raw


CASES: list[tuple[str, Any, list[str]]] = [
    ("missing key", lambda r: r["items"][1].pop("split"), ["items[1] (id 'b').split", "Field required"]),
    ("missing name", lambda r: r.pop("name"), ["name: Field required"]),
    ("wrong type", lambda r: r["items"][0].update(captions="a chair"), ["items[0] (id 'a').captions", "valid list"]),
    ("wrong type channels", lambda r: r.update(channels="3"), ["channels", "valid integer"]),
    ("bad channels", lambda r: r.update(channels=4), ["channels", "must be 3 (xyz) or 6"]),
    ("bad split", lambda r: r["items"][2].update(split="dev"), ["items[2] (id 'c').split", "'train', 'val' or 'test'"]),
    ("extra key", lambda r: r["nodes"][0].update(colour="red"), ["nodes[0] (id 'chair').colour", "Extra inputs"]),
    ("not an object", lambda r: r["items"].append([1, 2]), ["items[4]", "valid dictionary"]),
    ("no items", lambda r: r.update(items=[]), ["items", "at least 1 item"]),
    ("duplicate levels", lambda r: r.update(levels=["a", "a"]), ["levels", "distinct"]),
    ("duplicate item", lambda r: r["items"][3].update(id="a"), ["items[3] (id 'a').id: duplicate of items[0]"]),
    ("duplicate node", lambda r: r["nodes"][2].update(id="chair"), ["nodes[2] (id 'chair').id: duplicate of nodes[0]"]),
    ("dangling parent", lambda r: r["nodes"][1].update(parent="seat"),
        ["nodes[1] (id 'chair/arm').parent", "unknown node 'seat'"]),
    ("dangling node", lambda r: r["items"][0].update(node="sofa"), ["items[0] (id 'a').node: unknown node 'sofa'"]),
    ("cycle", lambda r: r["nodes"][0].update(parent="chair/arm"),
        ["parent: the tree has a cycle", "chair -> chair/arm -> chair"]),
    ("self parent", lambda r: r["nodes"][2].update(parent="lamp"),
        ["nodes[2] (id 'lamp').parent", "cycle lamp -> lamp"]),
    ("unknown level", lambda r: r["nodes"][0].update(level="kind"),
        ["nodes[0] (id 'chair').level: 'kind' is not a tree level"]),
    ("instance level node", lambda r: r["nodes"][2].update(level="instance"),
        ["nodes[2] (id 'lamp').level", "belongs to items"]),
    ("level order", lambda r: r["nodes"][1].update(level="category"),
        ["nodes[1] (id 'chair/arm').level", "finer than its parent"]),
    ("empty caption", lambda r: r["items"][0]["captions"].append(""),
        ["items[0] (id 'a').captions[1]", "empty or whitespace"]),
    ("blank caption", lambda r: r["nodes"][1]["captions"].insert(0, " \t"),
        ["nodes[1] (id 'chair/arm').captions[0]", "whitespace"]),
    ("blank id", lambda r: r["items"][2].update(id="  "), ["items[2] (id '  ').id", "empty or whitespace"]),
    ("absolute path", lambda r: r["items"][2].update(points="/etc/c.npy"), ["items[2] (id 'c').points", "is absolute"]),
    ("escaping path", lambda r: r["items"][2].update(points="pts/../../c.npy"),
        ["items[2] (id 'c').points", "leaves the dataset root"]),
    ("missing file", lambda r: r["items"][2].update(points="pts/z.npy"),
        ["items[2] (id 'c').points: 'pts/z.npy': no such file"]),
    ("no caption", lambda r: r["items"][3].update(captions=[]),
        ["items[3] (id 'd').captions: the item has no caption"]),
    ("no caption, no node", lambda r: r["items"][2].pop("captions"),
        ["items[2] (id 'c').captions: the item has no caption"]),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_errors_name_file_id_and_field(tmp_path: Path, change: Any, expected: list[str]) -> None:
    path = _make(tmp_path, _edit(change))
    with pytest.raises(LayoutError) as info:
        load_dataset(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message, f"{message!r} lacks {part!r}"


def test_unreadable_index_files(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"nowhere: no such file; expected a dataset directory holding index\.json"):
        load_dataset(tmp_path / "nowhere")
    path = tmp_path / "index.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(LayoutError, match=r"index\.json: not UTF-8"):
        load_dataset(path)
    path.write_text('{"name": "x",\n "levels": [}')
    with pytest.raises(LayoutError, match=r"index\.json: invalid JSON at line 2, column 13"):
        load_dataset(tmp_path)
    path.write_text("[]")
    with pytest.raises(LayoutError, match=r"\(top level\): Input should be a valid dictionary"):
        load_dataset(tmp_path)


def test_many_problems_are_reported_together(tmp_path: Path) -> None:
    raw = _edit(lambda r: [item.update(points=f"pts/none{i}.npy") for i, item in enumerate(r["items"])])
    with pytest.raises(LayoutError) as info:
        load_dataset(_make(tmp_path, raw))
    assert str(info.value).count("no such file") == 4
