"""The HTTP API: answers match the Index, and bad requests get 4xx with one clear message."""

from __future__ import annotations

import numpy as np
import pytest


def test_health_and_schema(client, tiny_index):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["items"] == len(tiny_index.items)
    assert health["space"] == "lorentz" and health["limits"]["max_k"] == 20
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search/text", "/search/shape", "/items/{item_id}", "/hierarchy/{item_id}", "/health"} <= set(paths)


def test_text_search_matches_the_index(client, tiny_index):
    body = client.post("/search/text", json={"query": "a round table", "k": 5}).json()
    expected = tiny_index.search_text("a round table", 5)
    assert [r["id"] for r in body["results"]] == [h.id for h in expected]
    assert [r["distance"] for r in body["results"]] == pytest.approx([h.distance for h in expected])
    captions = client.post("/search/text", json={"query": "a lamp", "k": 3, "target": "captions"}).json()
    assert [r["kind"] for r in captions["results"]] == ["caption"] * 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"query": "   "}, "query: must contain some non-whitespace text"),
        ({"query": "a", "k": 21}, "k: Input should be less than or equal to 20"),
        ({"query": "a", "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"query": "x" * 101}, "query: String should have at most 100 characters"),
        ({"query": "a", "target": "everything"}, "target: Input should be 'shapes' or 'captions'"),
        ({"k": 3}, "query: Field required"),
    ],
)
def test_text_search_rejects_bad_requests(client, payload, message):
    response = client.post("/search/text", json=payload)
    assert response.status_code == 422 and response.json()["detail"] == message


def test_invalid_json_is_422(client):
    response = client.post("/search/text", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"].startswith("request body: not valid JSON")


def test_items_are_bounded_and_validated(client, tiny_index):
    item = tiny_index.items[0]
    body = client.get(f"/items/{item.id}").json()
    assert body["id"] == item.id and body["license"] == "CC0-1.0"
    assert len(body["positions"]) == 3 * body["n_points"] and len(body["colors"]) == 3 * body["n_points"]
    assert [c["text"] for c in body["captions"]] == [c.text for c in item.captions]
    assert client.get("/items/no-such-item").status_code == 404
    for probe in ("/items/..%2F..%2Findex.json", "/items/../../etc/passwd", "/items/%2e%2e"):
        assert client.get(probe).status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_hierarchy_endpoint(client, tiny_index):
    item_id = tiny_index.items[0].id
    body = client.get(f"/hierarchy/{item_id}", params={"k": 3}).json()
    assert body["more_general"] == [h.__dict__ for h in tiny_index.more_general(item_id, 3, strict=False)]
    assert len(body["more_general"]) == 3 and len(body["more_specific"]) <= 3
    strict = client.get(f"/hierarchy/{item_id}", params={"k": 3, "strict": "true"}).json()
    assert all(h["cone_violation"] == 0 for h in strict["more_general"] + strict["more_specific"])
    assert client.get(f"/hierarchy/{item_id}", params={"k": 500}).status_code == 422
    assert client.get("/hierarchy/unknown").status_code == 404


def test_shape_upload_finds_captions(client, tiny_index, tiny_demo):
    item = tiny_index.items[2]
    data = (tiny_demo / item.points).read_bytes()
    body = client.post("/search/shape", files={"file": ("mine.npy", data)}, data={"k": "4"}).json()
    expected = tiny_index.search_shape(tiny_demo / item.points, 4)
    assert [r["id"] for r in body["results"]] == [h.id for h in expected]
    assert body["query"] == "mine.npy" and body["target"] == "captions"


def test_shape_upload_errors(client, tmp_path):
    unsupported = client.post("/search/shape", files={"file": ("x.h5", b"123")})
    assert unsupported.status_code == 415 and ".h5" in unsupported.json()["detail"]
    broken = client.post("/search/shape", files={"file": ("cloud.ply", b"not a ply")})
    assert broken.status_code == 422
    detail = broken.json()["detail"]
    assert detail.startswith("file 'cloud.ply': not a readable PLY file") and "/tmp" not in detail
    too_big = client.post("/search/shape", files={"file": ("big.npy", b"0" * 200_000)})
    assert too_big.status_code == 413 and "100000 bytes" in too_big.json()["detail"]


def test_unannounced_oversized_upload_is_413(client):
    """A chunked body without Content-Length is counted as it arrives."""
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.npy"\r\n\r\n'.encode()

    def chunks():
        yield head
        for _ in range(30):
            yield np.zeros(1000, np.float64).tobytes()

    response = client.post(
        "/search/shape", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 413


def test_serve_command_builds_a_missing_index_then_serves(monkeypatch, tmp_path, tiny_index):
    from typer.testing import CliRunner

    import hyperalign.serve.server as server
    from hyperalign.cli import app

    calls = []
    monkeypatch.setattr(server, "run_server", lambda index, **kw: calls.append((index, kw)))
    run = tiny_index.retriever.checkpoint
    out = tmp_path / "served-index"
    result = CliRunner().invoke(app, ["serve", "--index", str(out), "--checkpoint", str(run), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert (out / "index.json").is_file() and len(calls) == 1
    index, kw = calls[0]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8123 and kw["max_upload_bytes"] == 20_000_000
    assert len(index.items) == len(tiny_index.items)


def test_a_cosine_index_serves_search_but_no_hierarchy(euclidean_client):
    client, index = euclidean_client
    assert client.get("/health").json()["space"] == "cosine"
    body = client.post("/search/text", json={"query": "a vase", "k": 3}).json()
    assert [r["id"] for r in body["results"]] == [h.id for h in index.search_text("a vase", 3)]
    response = client.get(f"/hierarchy/{index.items[0].id}")
    assert response.status_code == 409 and "no entailment cones" in response.json()["detail"]
