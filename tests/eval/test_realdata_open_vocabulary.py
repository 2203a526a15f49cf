"""The Sweet Home 3D protocol's open-vocabulary levels and the frozen-MiniLM text-only reference, on a tiny layout."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hyperalign.data.formats.io import PointCloud, write_point_cloud
from hyperalign.data.layout import LayoutIndex, load_dataset, write_dataset
from hyperalign.data.sweethome3d.open_queries import OpenQuery, OpenQuerySet
from hyperalign.encoders.text import TextTower, TextTowerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import realdata

NAMES = [("sofa", "Sofa", "Living room"), ("lamp", "Lamp", "Bedroom"), ("bed", "Bed", "Bedroom"),
         ("desk", "Desk", "Office")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sh3d-like")
    nodes, items = [{"id": "furniture", "level": "class", "captions": ["a piece of furniture"]}], []
    for k, (key, name, category) in enumerate(NAMES):
        for split in ("train", "test"):
            iid = f"{key}-{split}"
            write_point_cloud(root / f"pts/{iid}.npy", PointCloud(np.random.default_rng(k).normal(size=(8, 3))))
            items.append({"id": iid, "points": f"pts/{iid}.npy", "split": split, "node": f"furniture/{key}/r",
                          "captions": [f"a {key} for the {category.lower()}, {split}"],
                          "meta": {"name": name, "category": category}})
        nodes += [{"id": f"furniture/{key}", "parent": "furniture", "level": "name", "captions": [f"a {key}"]},
                  {"id": f"furniture/{key}/r", "parent": f"furniture/{key}", "level": "room",
                   "captions": [f"a {key} for the {category.lower()}"]}]
    write_dataset(root, LayoutIndex.model_validate({"name": "x", "levels": ["class", "name", "room", "instance"],
                                                    "nodes": nodes, "items": items}))
    return load_dataset(root)


QUERIES = OpenQuerySet("x", {}, {}, (
    OpenQuery("couch", "tuning", ("sofa-train", "sofa-test"), (), False),
    OpenQuery("bedside light", "held_out", ("lamp-test",), (), False),
    OpenQuery("work table", "held_out", ("desk-train",), (), False),  # no test item: not a test query
))


def test_open_levels_hold_the_queries_with_test_items(dataset):
    p = realdata.Protocol.build(dataset, open_queries=QUERIES)
    test_ids = [it.id for it in p.items]
    assert p.queries["open_tuning"] == ["couch"] and p.queries["open_held_out"] == ["bedside light"]
    assert p.relevance["open_tuning"][0].tolist() == [i == "sofa-test" for i in test_ids]
    assert p.relevance["open_held_out"][0].tolist() == [i == "lamp-test" for i in test_ids]
    assert "open_tuning" not in realdata.Protocol.build(dataset).queries


def test_open_metrics_score_the_ranking(dataset):
    p = realdata.Protocol.build(dataset, open_queries=QUERIES)
    perfect = {lv: (~rel).double() for lv, rel in p.relevance.items()} | {"room_query": (~p.room_relevance).double()}
    m = realdata.protocol_metrics(p, perfect)
    assert (m["open_tune_R@1"], m["open_held_R@1"], m["open_held_R@10"], m["open_held_queries"]) == (1.0, 1.0, 1.0, 1.0)
    worst = dict(perfect, open_held_out=p.relevance["open_held_out"].double())  # the described item ranked last
    assert realdata.protocol_metrics(p, worst)["open_held_R@1"] == 0.0


def test_text_only_reference_finds_items_by_their_own_captions(dataset):
    tower = TextTower(TextTowerConfig(model="minilm", max_tokens=128))
    emb = realdata.sentence_embeddings(tower, ["a sofa", "a couch", "a bed"])
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2])  # the words carry meaning
    p = realdata.Protocol.build(dataset, open_queries=QUERIES)
    m = realdata.text_only_metrics(p, dataset, tower)
    assert m["name_R@1"] == 1.0 and m["inst_t2s_R@1"] == 1.0  # the query is one of the item's captions
    assert m["open_tune_R@1"] == 1.0  # "couch" is nearest to the sofa's captions
