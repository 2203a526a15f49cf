"""The HTTP API under hostile or heavy input, and the batched text path. Probe cases covered here:

- ``POST /search/text`` read bodies of any size (4 concurrent 100 MB bodies grew the server by 0.75 GB): every
  endpoint's body is bounded now;
- a 16 MB OFF upload (under the byte cap) took 9 s and 1.1 GB, four at once 3.0 GB: vertices and faces are counted
  before parsing, and uploads beyond ``max_heavy_requests`` at once get 503 with ``Retry-After``;
- ``/docs`` loaded Swagger UI from a CDN: its assets are served from the package.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from hyperalign.serve import BatchSettings, Limits, create_app

QUERIES = ["a chair", "a tall floor lamp", "a round table", "a vase", "an office chair on a star base", "a bookcase",
           "a stool with three legs", "a desk lamp", "a wide armchair", "a coffee table"]  # fmt: skip


@pytest.mark.parametrize("path", ["/search/text", "/health", "/items/x", "/openapi.json", "/hierarchy/x"])
def test_every_request_body_is_bounded(client, path):
    big = b"{" + b" " * 200_000 + b"}"
    response = client.post(path, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413, (path, response.status_code)
    assert "request body too large: the limit is 64000 bytes" in response.json()["detail"]


def test_an_unannounced_oversized_text_query_is_413(client):
    def chunks():
        yield b'{"query": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    response = client.post("/search/text", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_a_mesh_upload_is_bounded_before_it_is_parsed(tiny_index):
    limits = Limits(max_upload_bytes=5_000_000, max_upload_faces=1000, max_upload_points=5000)
    with TestClient(create_app(tiny_index, limits)) as c:
        faces = "OFF\n3 100000 0\n0 0 0\n1 0 0\n0 1 0\n" + "3 0 1 2\n" * 100_000
        response = c.post("/search/shape", files={"file": ("big.off", faces.encode())})
        assert response.status_code == 413
        assert response.json()["detail"] == "file 'big.off': 100000 faces; the limit for uploads is 1000 faces"
        vertices = "OFF\n6000 0 0\n" + "0 0 1\n" * 6000
        response = c.post("/search/shape", files={"file": ("many.off", vertices.encode())})
        assert response.status_code == 413 and "6000 points; the limit for uploads is 5000 points" in response.text
        ok = "OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n"
        assert c.post("/search/shape", files={"file": ("ok.off", ok.encode())}).status_code == 200


def test_uploads_beyond_the_concurrency_bound_get_503_with_retry_after(tiny_index, tiny_demo, monkeypatch):
    import hyperalign.serve.app as app_module

    entered, release = threading.Event(), threading.Event()
    real = app_module._read_upload

    def slow_read(*args):
        entered.set()
        release.wait(20)
        return real(*args)

    monkeypatch.setattr(app_module, "_read_upload", slow_read)
    cloud = (tiny_demo / tiny_index.items[0].points).read_bytes()
    with TestClient(create_app(tiny_index, Limits(max_heavy_requests=1))) as c:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(c.post, "/search/shape", files={"file": ("a.npy", cloud)})
            assert entered.wait(20)
            busy = c.post("/search/shape", files={"file": ("b.npy", cloud)})
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert "busy" in busy.json()["detail"]
            assert c.post("/search/text", json={"query": "a chair"}).status_code == 200  # text is not held up
            release.set()
            assert first.result(30).status_code == 200
        assert c.post("/search/shape", files={"file": ("c.npy", cloud)}).status_code == 200


def test_docs_are_served_from_the_package(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text and "http://" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/vendor/swagger-ui/{asset}" in page.text
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_batched_text_search_equals_the_unbatched_path(tiny_index):
    batched = create_app(tiny_index, batching=BatchSettings(max_batch=8, max_wait_ms=50))
    with TestClient(batched) as c, TestClient(create_app(tiny_index, batching=None)) as plain:
        payloads = [{"query": q, "k": 3 + i % 4, "target": "captions" if i % 3 == 0 else "shapes"}
                    for i, q in enumerate(QUERIES * 2)]  # fmt: skip
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda p: c.post("/search/text", json=p).json(), payloads))
        want = [plain.post("/search/text", json=p).json() for p in payloads]
        batcher = batched.state.batcher
        assert batcher.batches < len(payloads)  # some requests shared a forward pass
        assert len(batcher.cache) == len(QUERIES)
    for g, w in zip(got, want):
        assert g["query"] == w["query"]
        assert [r["id"] for r in g["results"]] == [r["id"] for r in w["results"]]
        assert [r["distance"] for r in g["results"]] == pytest.approx([r["distance"] for r in w["results"]], abs=1e-5)


def test_the_embedding_cache_is_a_bounded_lru():
    import numpy as np

    from hyperalign.serve.batching import EmbeddingCache

    cache = EmbeddingCache(2)
    cache.put("a", np.zeros(2))
    cache.put("b", np.ones(2))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", np.ones(2))
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2


def test_a_failing_batch_reports_the_error_to_every_request(tiny_index, monkeypatch):
    from hyperalign.serve.batching import TextQueryBatcher

    batcher = TextQueryBatcher(tiny_index, BatchSettings(max_wait_ms=20))
    monkeypatch.setattr(tiny_index, "embed_texts", lambda texts: (_ for _ in ()).throw(RuntimeError("boom")))
    futures = [batcher.submit(q, 3) for q in QUERIES[:3]]
    for f in futures:
        with pytest.raises(RuntimeError, match="boom"):
            f.result(10)
    batcher.close()


@pytest.mark.slow
def test_batched_server_returns_the_unbatched_results_under_concurrency(tiny_index):
    """50 clients at once against a real uvicorn server, 400 text queries over 40 texts (so batches mix texts,
    targets and k, and the cache is hit): every answer equals the unbatched path's."""
    import socket
    import time

    import httpx
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(tiny_index), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    texts = [f"{q} {n}" if n else q for q in QUERIES for n in range(4)]
    payloads = [{"query": texts[i % len(texts)], "k": 5 + i % 3, "target": ("shapes", "captions")[i % 2]}
                for i in range(400)]  # fmt: skip
    try:
        with httpx.Client(base_url=base, timeout=60) as http, ThreadPoolExecutor(50) as pool:
            got = list(pool.map(lambda p: http.post("/search/text", json=p).json(), payloads))
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    with TestClient(create_app(tiny_index, batching=None)) as plain:
        want = {(p["query"], p["k"], p["target"]): plain.post("/search/text", json=p).json() for p in payloads}
    for p, g in zip(payloads, got):
        w = want[(p["query"], p["k"], p["target"])]
        assert [r["id"] for r in g["results"]] == [r["id"] for r in w["results"]], p
        assert [r["distance"] for r in g["results"]] == pytest.approx([r["distance"] for r in w["results"]], abs=1e-5)
