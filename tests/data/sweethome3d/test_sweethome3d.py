"""Sweet Home 3D furniture: .properties parsing, a small .sh3f library written here, conversion to the layout."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.data.layout import LayoutError, load_dataset
from hyperalign.data.sweethome3d.catalog import read_library
from hyperalign.data.sweethome3d.classes import ClassResolver, CoarseClass
from hyperalign.data.sweethome3d.converter import (
    DEFAULT_ROOT,
    ITEM_INDEX,
    REPORT,
    convert_sweethome3d,
)
from hyperalign.data.sweethome3d.mesh import ModelError, sample_model
from hyperalign.data.sweethome3d.properties import PropertiesError, parse_properties
from hyperalign.data.wordnet import DEFAULT_ROOT as WORDNET_ROOT
from hyperalign.data.wordnet import WordNet

CATALOG = (
    "# PluginFurnitureCatalog.properties\n"
    "! written by the test\n"
    "id=Fixture#lib\n"
    "license=Creative Commons Attribution 3.0 license\n"
    "\n"
    "id#1=Fixture#armchair\n"
    "name#1=Office armchair\n"
    "category#1=Office\n"
    "tags#1=Blend Swap, Seat, Adjustable\n"
    "creator#1=Ren\\u00e9 \\\n"
    "    Dupont\n"
    "model#1=/fixture/armchair/armchair.obj\n"
    "width#1=60\ndepth#1=40\nheight#1=100\n"
    "modelRotation#1=1 0 0 0 0 1 0 -1 0\n"
    "\n"
    "id#2=Fixture#shelves\n"
    "name#2=Shelves\n"
    "category#2=Living room\n"
    "tags#2=Storage\n"
    "license#2=Public domain\n"
    "model#2=/fixture/shelves/shelves.obj\n"
    "width#2=80\ndepth#2=30\nheight#2=120\n"
    "\n"
    "id#3=Fixture#broken\nname#3=Table\ncategory#3=Office\nmodel#3=/fixture/missing/missing.obj\n"
    "width#3=10\ndepth#3=10\nheight#3=10\n"
    "\n"
    "id#4=Fixture#sizeless\nname#4=Chair\ncategory#4=Office\nmodel#4=/fixture/x.obj\nwidth#4=wide\n"
)
TRANSLATION = "name#1=Fauteuil de bureau\ncategory#1=Bureau\ntags#1=Si\xe8ge\nname#2=\\u00c9tag\\u00e8res\n"
CLASSES = (
    CoarseClass("seat", "a seat", "a seat, furniture for sitting on", ("seat.n.01",)),
    CoarseClass("table", "a table", "a table or desk", ("table.n.02",)),
)


def box_obj(size: tuple[float, float, float], material: str, uv: bool) -> str:
    """An axis-aligned box from the origin to ``size``: 8 vertices, 12 triangles, one material."""
    corners = [(x, y, z) for x in (0, size[0]) for y in (0, size[1]) for z in (0, size[2])]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = [f"mtllib {material}.mtl", *(f"v {x} {y} {z}" for x, y, z in corners)]
    lines += ["vt 0.25 0.75"] if uv else []
    lines.append(f"usemtl {material}")
    for a, b, c, d in quads:
        for tri in ((a, b, c), (a, c, d)):
            lines.append("f " + " ".join(f"{i + 1}/1" if uv else str(i + 1) for i in tri))
    return "\n".join(lines) + "\n"


def write_library(path: Path) -> Path:
    """A two-item library (plus a broken and an invalid entry): a red box and a textured green box."""
    texture = io.BytesIO()
    Image.new("RGB", (2, 2), (0, 255, 0)).save(texture, format="PNG")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PluginFurnitureCatalog.properties", CATALOG.encode("iso-8859-1"))
        archive.writestr("PluginFurnitureCatalog_fr.properties", TRANSLATION.encode("iso-8859-1"))
        archive.writestr("LICENSE.TXT", "Creative Commons Attribution 3.0")
        archive.writestr("fixture/armchair/armchair.obj", box_obj((1.0, 2.0, 3.0), "red", uv=False))
        archive.writestr("fixture/armchair/red.mtl", "newmtl red\nKd 1 0 0\n")
        archive.writestr("fixture/shelves/shelves.obj", box_obj((4.0, 6.0, 1.5), "wood", uv=True))
        archive.writestr("fixture/shelves/wood.mtl", "newmtl wood\nKd 0.3 0.3 0.3\nmap_Kd texture.png\n")
        archive.writestr("fixture/shelves/texture.png", texture.getvalue())
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sh3f")
    write_library(root / "Fixture.sh3f")
    return root


@pytest.fixture(scope="module")
def converted(
    library: Path, tiny_wordnet: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    wordnet = WordNet.load(tiny_wordnet)
    out = tmp_path_factory.mktemp("out")
    resolver = ClassResolver(wordnet, CLASSES, overrides={})
    return out, convert_sweethome3d(out, root=library, resolver=resolver, n_points=256)


def test_properties_parsing() -> None:
    text = (
        "# comment\n  ! comment too\n"
        "a=1\n"
        "b : two words \n"
        "c   spaced\n"
        "key\\ with\\=odd\\:chars = v\n"
        "tab=x\\ty\\nz\n"
        "long=first \\\n   second\\\\\n"
        "eur=50\\u20ac\n"
        "emoji=\\ud83d\\ude00\n"
        "empty\n"
        "a=again\n"
    )
    assert parse_properties(text) == {
        "a": "again",  # a later duplicate wins, as in Java
        "b": "two words ",
        "c": "spaced",
        "key with=odd:chars": "v",
        "tab": "x\ty\nz",
        "long": "first second\\",
        "eur": "50€",
        "emoji": "😀",
        "empty": "",
    }
    assert parse_properties("name=Si\xe8ge\n".encode("iso-8859-1")) == {"name": "Siège"}  # not UTF-8: Latin-1
    assert parse_properties("name=Siège\n".encode()) == {"name": "Siège"}
    with pytest.raises(PropertiesError, match=r"cat\.properties: line 2: malformed \\uXXXX"):
        parse_properties("ok=1\nbad=\\u12g4\n", "cat.properties")


def test_read_library_fields_licences_and_translations(library: Path) -> None:
    items, failures = read_library(library / "Fixture.sh3f")
    assert [item.name for item in items] == ["Office armchair", "Shelves", "Table"]
    armchair, shelves = items[0], items[1]
    assert armchair.creator == "René Dupont"
    assert armchair.tags == ("Blend Swap", "Seat", "Adjustable")
    assert (armchair.width, armchair.depth, armchair.height) == (60.0, 40.0, 100.0)
    assert armchair.model_rotation == (1, 0, 0, 0, 0, 1, 0, -1, 0)
    assert (armchair.license, armchair.license_id) == ("Creative Commons Attribution 3.0 license", "CC-BY-3.0")
    assert (shelves.license, shelves.license_id) == ("Public domain", "CC0-1.0")
    assert armchair.translations == {"fr": {"name": "Fauteuil de bureau", "category": "Bureau"}}
    assert shelves.translations == {"fr": {"name": "Étagères"}}
    assert len(failures) == 1 and failures[0][0] == "Fixture#4"
    assert "'width#4' = 'wide' is not a number" in failures[0][1]


def test_sample_model_rotation_size_colours_and_seed(library: Path) -> None:
    with zipfile.ZipFile(library / "Fixture.sh3f") as archive:
        rotated = sample_model(archive, "/fixture/armchair/armchair.obj", 500, 0, rotation=(1, 0, 0, 0, 0, 1, 0, -1, 0))
        extent = np.ptp(rotated.cloud.xyz, axis=0)
        np.testing.assert_allclose(extent, (1.0, 3.0, 2.0), atol=0.05)  # rows of the matrix: y' = z, z' = -y
        assert rotated.stretch == 1.0
        fitted = sample_model(archive, "/fixture/armchair/armchair.obj", 500, 0,
                              rotation=(1, 0, 0, 0, 0, 1, 0, -1, 0), size=(60.0, 100.0, 40.0))  # fmt: skip
        np.testing.assert_allclose(np.ptp(fitted.cloud.xyz, axis=0), (60.0, 100.0, 40.0), rtol=0.03)
        np.testing.assert_allclose(fitted.scale, (60.0, 100.0 / 3.0, 20.0))
        np.testing.assert_array_equal(fitted.cloud.rgb, np.tile([1.0, 0.0, 0.0], (500, 1)))  # Kd of the material
        textured = sample_model(archive, "/fixture/shelves/shelves.obj", 200, 7)
        np.testing.assert_array_equal(textured.cloud.rgb, np.tile([0.0, 1.0, 0.0], (200, 1)))  # texture, not Kd
        again = sample_model(archive, "/fixture/shelves/shelves.obj", 200, 7)
        np.testing.assert_array_equal(textured.cloud.xyz, again.cloud.xyz)
        with pytest.raises(ModelError, match=r"Fixture\.sh3f!/fixture/missing\.obj: no such file in the archive"):
            sample_model(archive, "/fixture/missing.obj", 10, 0)


def test_conversion_writes_two_indexes_over_shared_points(converted: tuple[Path, dict]) -> None:
    out, report = converted
    assert (report["items_converted"], report["items_failed"]) == (2, 2)
    reasons = {f["id"]: f["reason"] for f in report["failures"]}
    assert "no such file in the archive" in reasons["Fixture#broken"] and "width#4" in reasons["Fixture#4"]
    assert json.loads((out / REPORT).read_text(encoding="utf-8"))["items_converted"] == 2
    by_name, by_item = load_dataset(out), load_dataset(out / ITEM_INDEX)
    assert by_item.root == out and [i.points for i in by_item.items()] == [i.points for i in by_name.items()]
    assert by_name.index.levels == ["class", "name", "room", "instance"]
    armchair = by_name.items()[0]
    assert [(r.level, r.text) for r in by_name.captions(armchair)] == [
        ("class", "a seat, furniture for sitting on"),
        ("name", "an office armchair"),
        ("room", "an office armchair for the office"),
        ("instance", "an office armchair, a seat, adjustable"),
    ]
    shelves = by_item.items()[1]
    assert [r.level for r in by_item.captions(shelves)] == ["class", "name", "room", "instance"]
    assert by_item.captions(shelves)[0].text == "an everyday object"  # no class in this tiny WordNet
    meta = armchair.meta
    assert (meta["creator"], meta["license"], meta["library"]) == ("René Dupont", "CC-BY-3.0", "Fixture")
    assert meta["wordnet"]["chain"][:3] == ["armchair.n.01", "chair.n.01", "seat.n.01"]
    assert "gloss" not in meta["wordnet"]  # WordNet glosses are reserved for an independent evaluation
    assert meta["translations"]["fr"]["name"] == "Fauteuil de bureau" and meta["size_cm"]["height"] == 100.0
    points = by_name.load_points(armchair)
    assert points.shape == (256, 6)
    assert np.linalg.norm(points[:, :3], axis=1).max() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(np.ptp(points[:, :3], axis=0) / np.ptp(points[:, 1]), (0.6, 1.0, 0.4), rtol=0.05)
    stats = report["statistics"]
    assert stats["tree_depth"] == 4 and stats["captions_per_level"]["instance"] == 2
    assert stats["captions_on_several_levels"] == []


def test_no_wordnet_gloss_reaches_the_converted_dataset(converted: tuple[Path, dict]) -> None:
    from tests.data.conftest import SYNSETS

    root, _ = converted
    written = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.glob("*.json")))
    glosses = [entry[3] for entry in SYNSETS.values()]
    assert len(glosses) > 5 and not [g for g in glosses if g in written]


def test_converted_layout_errors_name_the_index_file(converted: tuple[Path, dict]) -> None:
    out, _ = converted
    data = json.loads((out / ITEM_INDEX).read_text(encoding="utf-8"))
    data["items"][1]["points"] = "../outside.npy"
    data["nodes"][-1]["parent"] = "no-such-node"
    broken = out / "index-broken.json"  # beside the points: paths resolve relative to the index file
    try:
        broken.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(LayoutError, match=r"(?s)index-broken\.json.*\.parent: unknown node 'no-such-node'"):
            load_dataset(broken)
        data["nodes"][-1]["parent"] = data["nodes"][-2]["parent"]
        broken.write_text(json.dumps(data), encoding="utf-8")
        leaves = r"items\[1\] \(id 'Fixture-shelves'\)\.points: '\.\./outside\.npy' leaves the dataset root"
        with pytest.raises(LayoutError, match=leaves):
            load_dataset(broken)
    finally:
        broken.unlink(missing_ok=True)


def test_cli_reports_missing_libraries(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "sweethome3d", "--root", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no Sweet Home 3D furniture libraries" in result.output and "sweethome3d-furniture" in result.output


real = pytest.mark.skipif(
    not (any(DEFAULT_ROOT.glob("*.sh3f")) and (WORDNET_ROOT / "data.noun").is_file()),
    reason=f"needs Debian packages sweethome3d-furniture ({DEFAULT_ROOT}) and wordnet-base ({WORDNET_ROOT})",
)


@pytest.mark.slow
@real
def test_real_catalogue_names_resolve() -> None:
    resolver = ClassResolver(WordNet.load())
    items = [item for path in sorted(DEFAULT_ROOT.glob("*.sh3f")) for item in read_library(path)[0]]
    assert len(items) >= 800
    senses = [resolver.resolve(item.name, item.category, item.tags) for item in items]
    matched = Counter(sense.match for sense in senses)
    assert matched["none"] <= 20 and matched["phrase"] + matched["head"] >= 600
    assert Counter(sense.coarse.id for sense in senses)["seat"] >= 80


@pytest.mark.slow
@real
def test_real_cli_conversion_quick(tmp_path: Path) -> None:
    out = tmp_path / "sh3d"
    result = CliRunner().invoke(
        app, ["data", "sweethome3d", "--out", str(out), "--limit", "12", "--points", "64", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert '"tree_depth": 4' in result.output and "12 items converted, 0 failed" in result.output
    assert len(load_dataset(out / ITEM_INDEX).items()) == 12
