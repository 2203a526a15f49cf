"""The search page in a real browser (Debian chromium driven by playwright): a text query renders ranked 3D views
matching the API, a click opens the detail viewer, a shape upload finds captions. Screenshot in the test's tmp dir."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
QUERY = "a tall chair with armrests"

# Pixels of a canvas that differ from the page's 3D background (#6b7785).
COUNT_INK = """canvas => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0);
  const d = ctx.getImageData(0, 0, copy.width, copy.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - 0x6b) + Math.abs(d[i + 1] - 0x77) + Math.abs(d[i + 2] - 0x85) > 40) n++;
  }
  return n;
}"""


@pytest.fixture(scope="module")
def server(tiny_index):
    import uvicorn

    from hyperalign.serve import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(tiny_index), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    sock.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_page_answers_text_and_shape_queries(server, tiny_index, tiny_demo, tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 960})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server}/")
            page.wait_for_function("document.getElementById('index-info').textContent.includes('shapes')")

            page.fill("#query", QUERY)
            page.select_option("#k", "5")
            page.click("#search-button")
            page.wait_for_selector("body[data-rendered]", timeout=30_000)
            shown = page.eval_on_selector_all("#results li.result", "els => els.map(e => e.dataset.id)")
            api = httpx.post(f"{server}/search/text", json={"query": QUERY, "k": 5}).json()
            assert shown == [r["id"] for r in api["results"]]
            ink = page.eval_on_selector_all("#results canvas", f"cs => cs.map({COUNT_INK})")
            assert len(ink) == 5 and min(ink) > 100, ink

            page.click("#results li.result >> nth=0")
            page.wait_for_selector(f"#viewer[data-item='{shown[0]}']")
            page.wait_for_function("!document.getElementById('more-general').textContent.includes('loading')")
            page.wait_for_timeout(300)  # a few animation frames
            assert page.eval_on_selector("#viewer", COUNT_INK) > 100
            captions = page.eval_on_selector_all("#detail-captions li", "els => els.map(e => e.textContent)")
            assert len(captions) == len(tiny_index.item(shown[0]).captions)
            page.screenshot(path=str(tmp_path / "search-page.png"), full_page=True)

            cloud = tiny_demo / tiny_index.items[4].points
            page.set_input_files("#shape-file", str(cloud))
            page.click("#shape-button")
            page.wait_for_selector("#caption-results li")
            found = page.eval_on_selector_all("#caption-results li", "els => els.map(e => e.dataset.id)")
            with open(cloud, "rb") as f:
                api = httpx.post(f"{server}/search/shape", files={"file": (cloud.name, f)}, data={"k": "5"}).json()
            assert found == [r["id"] for r in api["results"]]
            page.screenshot(path=str(tmp_path / "shape-upload.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
    assert (tmp_path / "search-page.png").stat().st_size > 10_000
