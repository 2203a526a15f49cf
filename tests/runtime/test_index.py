"""The Index facade and the `index build` / `search` commands on a tiny trained model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.data.layout import load_dataset
from hyperalign.geometry import lorentz
from hyperalign.index import IndexFileError
from hyperalign.runtime.index import Index


def test_build_covers_every_shape_and_caption(tiny_index, tiny_demo):
    dataset = load_dataset(tiny_demo)
    assert [it.id for it in tiny_index.items] == [it.id for it in dataset.items()]
    texts = {rec.text for it in dataset.items() for rec in dataset.captions(it)}
    assert {c.text for c in tiny_index.caption_records} == texts
    assert len(tiny_index.captions) == len(texts)
    info = tiny_index.info
    assert info["space"] == "lorentz" and info["curvature"] == pytest.approx(tiny_index.retriever.curvature())
    assert len(info["weights_sha256"]) == 64
    record = tiny_index.item(dataset.items()[0].id)
    assert record.license == "CC0-1.0" and record.points.startswith("points/")


def test_search_text_equals_brute_force_over_the_model(tiny_index):
    query = "a tall chair with armrests"
    hits = tiny_index.search_text(query, k=7)
    r = tiny_index.retriever
    q = r.encode_text([query]).double()
    shapes = torch.from_numpy(tiny_index.shapes.vectors.astype(np.float64))
    d = lorentz.dist(q, shapes, r.curvature()).numpy()
    order = np.argsort(d, kind="stable")[:7]
    assert [h.id for h in hits] == [tiny_index.items[i].id for i in order]
    np.testing.assert_allclose([h.distance for h in hits], d[order], rtol=1e-5)
    assert [h.rank for h in hits] == list(range(1, 8)) and all(h.kind == "shape" for h in hits)


def test_search_shape_finds_captions_and_its_own_shape(tiny_index, tiny_demo):
    item = tiny_index.items[3]
    hits = tiny_index.search_shape(tiny_demo / item.points, k=5)
    assert len(hits) == 5 and all(h.kind == "caption" and h.id.startswith("caption:") for h in hits)
    assert all(h.level in ("category", "subtype", "instance") for h in hits)
    same = tiny_index.search_shape(tiny_demo / item.points, k=1, target="shapes")
    assert same[0].id == item.id and same[0].distance < 1e-3


def test_hierarchy_hits_are_inside_the_cones(tiny_index):
    item_id = tiny_index.items[0].id
    c, K = tiny_index.shapes.curvature, tiny_index.info["aperture_K"]
    x = torch.from_numpy(tiny_index.shapes.get([0]).astype(np.float64))
    for hit in tiny_index.more_general(item_id, k=5):
        y = _vector(tiny_index, hit)
        assert float(lorentz.exterior_angle(y, x, c)) <= float(lorentz.half_aperture(y, c, K))
        assert hit.cone_violation == 0 and float(lorentz.dist0(y, c)) < float(lorentz.dist0(x, c))
    for hit in tiny_index.more_specific(item_id, k=5):
        y = _vector(tiny_index, hit)
        assert float(lorentz.exterior_angle(x, y, c)) <= float(lorentz.half_aperture(x, c, K))
    loose = tiny_index.more_general(item_id, k=5, strict=False)
    assert len(loose) == 5 and [h.cone_violation for h in loose] == sorted(h.cone_violation for h in loose)
    for hit in loose:
        y = _vector(tiny_index, hit)
        gap = float(lorentz.exterior_angle(y, x, c) - lorentz.half_aperture(y, c, K))
        assert hit.cone_violation == pytest.approx(max(gap, 0.0), abs=1e-5)


def _vector(index, hit):
    if hit.kind == "caption":
        return torch.from_numpy(index.captions.get([int(hit.id.split(":")[1])]).astype(np.float64))
    return torch.from_numpy(index.shapes.get([[it.id for it in index.items].index(hit.id)]).astype(np.float64))


def test_item_points_are_bounded(tiny_index):
    xyz, rgb = tiny_index.item_points(tiny_index.items[0].id, max_points=50)
    assert xyz.shape == (50, 3) and rgb is not None and rgb.shape == (50, 3)
    with pytest.raises(KeyError, match="no item 'missing'"):
        tiny_index.item("missing")


def test_load_refuses_another_model(tiny_index_path, tiny_run, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(tiny_index_path, copy)
    other = tmp_path / "other-run"
    shutil.copytree(tiny_run / "best", other)
    weights = load_file(other / "weights.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name] + 1e-3  # a different model of the same architecture
    save_file(weights, other / "weights.safetensors")
    with pytest.raises(IndexFileError, match=r"index.json: weights_sha256: the index was built with the model"):
        Index.load(copy, checkpoint=other)
    info = json.loads((copy / "index.json").read_text())
    (copy / "shapes" / "meta.json").write_text(
        (copy / "shapes" / "meta.json").read_text().replace(str(info["curvature"]), "2.5")
    )
    with pytest.raises(IndexFileError, match="curvature: the index was built for c=2.5"):
        Index.load(copy)


def test_cli_build_and_search(tiny_run, tiny_demo, tmp_path):
    runner = CliRunner()
    out = tmp_path / "ix"
    result = runner.invoke(
        app, ["index", "build", "--checkpoint", str(tiny_run), "--data", str(tiny_demo), "--out", str(out), "--kind", "hnsw"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "shapes" / "meta.json").read_text())["spec"]["kind"] == "hnsw"

    result = runner.invoke(app, ["search", "a round table", "-k", "3", "--index", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["query"] == "query 'a round table'" and len(payload["results"]) == 3

    table = runner.invoke(app, ["search", "a round table", "-k", "3", "--index", str(out)])
    assert table.exit_code == 0 and payload["results"][0]["id"] in table.stdout

    cloud = tiny_demo / load_dataset(tiny_demo).items()[0].points
    shape = runner.invoke(app, ["search", "--shape", str(cloud), "-k", "2", "--index", str(out), "--json"])
    assert shape.exit_code == 0, shape.output
    assert [r["kind"] for r in json.loads(shape.stdout)["results"]] == ["caption", "caption"]


def test_cli_errors_are_one_line(tiny_run, tmp_path):
    runner = CliRunner()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("x")
    result = runner.invoke(app, ["index", "build", "--checkpoint", str(tiny_run), "--out", str(tmp_path / "notes")])
    assert result.exit_code == 2 and "refusing to replace" in result.output
    result = runner.invoke(app, ["search", "x", "--index", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "index.json: no such file" in result.output
    result = runner.invoke(app, ["search", "--index", str(tmp_path)])
    assert result.exit_code == 2 and "exactly one" in result.output


def test_a_euclidean_model_gets_a_cosine_index(tiny_euclidean_index, tmp_path):
    index = tiny_euclidean_index
    assert index.info["space"] == "cosine" and index.info["curvature"] is None and not index.hyperbolic
    hits = index.search_text("a lamp", k=5)
    q = index.retriever.encode_text(["a lamp"]).double()
    d = (1.0 - q @ torch.from_numpy(index.shapes.vectors.astype(np.float64)).T).numpy()[0]
    order = np.argsort(d, kind="stable")[:5]
    assert [h.id for h in hits] == [index.items[i].id for i in order]
    assert all(h.generality is None for h in hits)
    with pytest.raises(ValueError, match="no entailment cones"):
        index.more_general(index.items[0].id)
    index.save(tmp_path / "eu")
    assert [h.id for h in Index.load(tmp_path / "eu").search_text("a lamp", k=5)] == [h.id for h in hits]
