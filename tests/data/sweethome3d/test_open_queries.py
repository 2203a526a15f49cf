"""Open-vocabulary queries from WordNet lemmas and catalogue tags, on the fixture WordNet and a tiny layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hyperalign.data.formats.io import PointCloud, write_point_cloud
from hyperalign.data.layout import LayoutIndex, load_dataset, write_dataset
from hyperalign.data.sweethome3d.open_queries import (
    OpenQueryError,
    build_open_queries,
    load_open_queries,
    name_part,
    normalise,
    write_open_queries,
)
from hyperalign.data.wordnet import WordNet

# (item id, name, category, synset or None, tags)
ITEMS = [
    ("armchair", "Armchair", "Office", "armchair.n.01", ["Seat", "Blend Swap"]),
    ("chair", "Chair", "Kitchen", "chair.n.01", []),
    ("table", "Table", "Kitchen", "table.n.02", ["4"]),
    ("shelf", "Shelf", "Office", "shelf.n.01", []),
    ("works", "Works plant", "Exterior", "plant.n.01", []),
    ("gizmo", "Gizmo", "Misc", None, ["Unit", "Zorblax"]),
]


@pytest.fixture(scope="module")
def wordnet(tiny_wordnet: Path) -> WordNet:
    return WordNet.load(tiny_wordnet)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("layout")
    nodes = [{"id": "seat", "level": "class", "captions": ["a seat, furniture for sitting on"]}]
    items = []
    for k, (iid, name, category, synset, tags) in enumerate(ITEMS):
        node = f"seat/{iid}"
        nodes.append({"id": node, "parent": "seat", "level": "name", "captions": [f"a {name.lower()}"]})
        write_point_cloud(root / f"pts/{iid}.npy", PointCloud(np.random.default_rng(k).normal(size=(8, 3))))
        items.append({"id": iid, "points": f"pts/{iid}.npy", "split": ("train", "test")[k % 2], "node": node,
                      "captions": [f"a {name.lower()}, {category.lower()}"],
                      "meta": {"name": name, "category": category, "tags": tags,
                               "wordnet": {"synset": synset, "gloss": "never read"}}})
    write_dataset(root, LayoutIndex.model_validate({"name": "tiny", "levels": ["class", "name", "instance"],
                                                    "nodes": nodes, "items": items}))
    return load_dataset(root)


def test_queries_are_lemmas_and_tags_the_templates_never_write(dataset, wordnet):
    qs = build_open_queries(dataset, wordnet, max_fraction=0.5)
    by_text = {q.text: q for q in qs.queries}
    # armchair/chair/table/shelf lemmas are the names' captions; "furniture", "artifact" describe > 3 of 6 items;
    # "Blend Swap" is a library tag, "4" a number, "Zorblax" not a WordNet noun.
    assert set(by_text) == {"seat", "unit", "plant", "works"}
    assert by_text["seat"].items == ("armchair", "chair")  # the chair's hypernym, below which the armchair lies
    assert {s["kind"] for s in by_text["seat"].sources} == {"hypernym", "tag"}
    assert by_text["unit"].items == ("gizmo",) and by_text["unit"].sources[0]["kind"] == "tag"
    assert by_text["works"].items == ("works",) and by_text["works"].sources[0] == {
        "kind": "synonym", "synset": "plant.n.01", "depth": 0, "names": ["Works plant"]}
    assert by_text["seat"].in_caption_words and not by_text["unit"].in_caption_words  # "a seat, furniture ..."
    assert qs.excluded["template_caption"] >= 4 and qs.excluded["too_broad"] >= 2
    captions = {normalise(c) for n in dataset.index.nodes for c in n.captions}
    assert not any(normalise(q.text) in captions for q in qs.queries)


def test_broader_limits_keep_more_and_depth_reaches_further(dataset, wordnet):
    wide = {q.text: q for q in build_open_queries(dataset, wordnet, max_fraction=1.0).queries}
    assert wide["furniture"].items == ("armchair", "chair", "table", "shelf")
    assert "piece of furniture" in wide and "artifact" in wide
    deep = {q.text for q in build_open_queries(dataset, wordnet, max_fraction=1.0, hypernym_depth=3).queries}
    assert "whole" in deep and "whole" not in wide


def test_no_gloss_text_reaches_the_query_file(dataset, wordnet, tmp_path):
    text = write_open_queries(tmp_path / "q.json", build_open_queries(dataset, wordnet, max_fraction=1.0)).read_text()
    data_noun = (wordnet.root / "data.noun").read_text().splitlines()
    glosses = [line.partition(" | ")[2].strip() for line in data_noun if " | " in line]
    assert len(glosses) > 10
    for gloss in glosses:
        assert gloss not in text
    assert "never read" not in text


def test_normalised_comparison_ignores_case_spacing_hyphens_possessives_and_articles():
    assert normalise("An Arm-chair") == normalise("armchair") == "armchair"
    assert normalise("baby's bed") == normalise("a Baby  bed")
    assert normalise("a") == "a" and normalise("the table") == "table" != normalise("tables")


def test_parts_are_seeded_by_name_and_held_out_needs_every_source_name_held_out(dataset, wordnet):
    names = [f"name {i}" for i in range(2000)]
    parts = [name_part(n, 0, 0.3) for n in names]
    assert parts == [name_part(n, 0, 0.3) for n in names]
    assert 0.26 < parts.count("held_out") / len(names) < 0.34
    assert parts != [name_part(n, 1, 0.3) for n in names]
    assert name_part("Coffee  table", 0, 0.3) == name_part("coffee table", 0, 0.3)
    for seed in range(6):
        for q in build_open_queries(dataset, wordnet, seed=seed, max_fraction=1.0).queries:
            source_names = {n for s in q.sources for n in s["names"]}
            held = all(name_part(n, seed, 0.5) == "held_out" for n in source_names)
            assert q.part == ("held_out" if held else "tuning")


def test_round_trip_and_errors_name_the_file_and_field(dataset, wordnet, tmp_path):
    qs = build_open_queries(dataset, wordnet, max_fraction=0.5)
    path = write_open_queries(tmp_path / "sub" / "q.json", qs)
    assert load_open_queries(path) == qs
    raw = json.loads(path.read_text())
    raw["queries"][1]["part"] = "training"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(OpenQueryError, match=r"bad\.json: queries\[1\]"):
        load_open_queries(bad)
    bad.write_text("{}")
    with pytest.raises(OpenQueryError, match=r"bad\.json: format"):
        load_open_queries(bad)
    with pytest.raises(OpenQueryError, match="cannot read"):
        load_open_queries(tmp_path / "missing.json")


def test_unknown_sense_names_the_item_and_field(dataset, wordnet, tmp_path):
    raw = dataset.index.model_dump()
    raw["items"][0]["meta"]["wordnet"]["synset"] = "chair.n.09"
    root = Path(tmp_path)
    for item in raw["items"]:
        write_point_cloud(root / item["points"], PointCloud(np.zeros((4, 3))))
    write_dataset(root, LayoutIndex.model_validate(raw))
    with pytest.raises(OpenQueryError, match=r"item 'armchair': meta\.wordnet\.synset"):
        build_open_queries(load_dataset(root), wordnet)
