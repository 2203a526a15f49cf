"""`hyperalign index build --backend milvus`, then `search`, `serve` and the HTTP API on that index, all giving what
the FAISS index of the same model gives (both are exact flat indexes)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.data.layout import load_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def milvus_index_dir(tiny_run, tiny_demo, milvus_uri, tmp_path_factory):
    out = tmp_path_factory.mktemp("milvus-index") / "ix"
    result = runner.invoke(
        app,
        ["index", "build", "--checkpoint", str(tiny_run), "--data", str(tiny_demo), "--out", str(out),
         "--backend", "milvus", "--uri", milvus_uri, "--collection", "tiny"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_build_records_the_backend(milvus_index_dir, milvus_uri, tiny_index):
    info = json.loads((milvus_index_dir / "index.json").read_text())
    assert info["backend"] == "milvus"
    for target in ("shapes", "captions"):
        meta = json.loads((milvus_index_dir / target / "meta.json").read_text())
        assert meta["store"] == {"backend": "milvus", "uri": milvus_uri, "collection": f"tiny_{target}"}
        assert not (milvus_index_dir / target / "vectors.npy").exists()  # the points live in the collection
    assert tiny_index.info["backend"] == "faiss"


def test_cli_search_equals_the_faiss_index(milvus_index_dir, tiny_index, tiny_demo):
    result = runner.invoke(app, ["search", "a round table", "-k", "5", "--index", str(milvus_index_dir), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["results"]
    want = tiny_index.search_text("a round table", 5)
    assert [r["id"] for r in found] == [h.id for h in want]
    np.testing.assert_allclose([r["distance"] for r in found], [h.distance for h in want], rtol=1e-5)
    np.testing.assert_allclose([r["generality"] for r in found], [h.generality for h in want], rtol=1e-5)

    cloud = tiny_demo / load_dataset(tiny_demo).items()[0].points
    shape = runner.invoke(app, ["search", "--shape", str(cloud), "-k", "3", "--index", str(milvus_index_dir), "--json"])
    assert shape.exit_code == 0, shape.output
    assert [r["id"] for r in json.loads(shape.stdout)["results"]] == [h.id for h in tiny_index.search_shape(cloud, 3)]


def test_api_serves_the_milvus_index(milvus_index_dir, tiny_index):
    from fastapi.testclient import TestClient

    from hyperalign.runtime.index import Index
    from hyperalign.serve import create_app

    index = Index.load(milvus_index_dir)
    try:
        with TestClient(create_app(index)) as client:
            health = client.get("/health").json()
            assert health["backend"] == "milvus" and health["items"] == len(tiny_index.items)
            body = client.post("/search/text", json={"query": "a vase", "k": 4, "target": "captions"}).json()
            assert [r["id"] for r in body["results"]] == [h.id for h in tiny_index.search_text("a vase", 4, "captions")]
            item_id = tiny_index.items[2].id
            tree = client.get(f"/hierarchy/{item_id}", params={"k": 3}).json()
            want = tiny_index.more_general(item_id, 3, strict=False)
            assert [r["id"] for r in tree["more_general"]] == [h.id for h in want]
            assert [r["id"] for r in tree["more_specific"]] == [h.id for h in tiny_index.more_specific(item_id, 3, strict=False)]
    finally:
        index.close()


def test_serve_command_loads_the_milvus_index(monkeypatch, milvus_index_dir):
    from hyperalign.serve import server

    calls = []
    monkeypatch.setattr(server, "run_server", lambda index, **kw: calls.append(index))
    result = runner.invoke(app, ["serve", "--index", str(milvus_index_dir)])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1 and calls[0].shapes.backend == "milvus" and calls[0].captions.backend == "milvus"
    calls[0].close()


def test_build_needs_a_uri_for_milvus(tiny_run, tmp_path):
    result = runner.invoke(app, ["index", "build", "--checkpoint", str(tiny_run), "--out", str(tmp_path / "x"), "--backend", "milvus"])
    assert result.exit_code == 2 and "--backend milvus needs --uri" in result.output
    result = runner.invoke(app, ["index", "build", "--checkpoint", str(tiny_run), "--out", str(tmp_path / "x"), "--backend", "qdrant"])
    assert result.exit_code == 2 and "expected faiss or milvus" in result.output
