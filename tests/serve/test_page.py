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


# Bounding box (width, height) in canvas pixels of what differs from the 3D background.
INK_BOX = """canvas => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0);
  const d = ctx.getImageData(0, 0, copy.width, copy.height).data;
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let y = 0; y < copy.height; y++) for (let x = 0; x < copy.width; x++) {
    const i = 4 * (y * copy.width + x);
    if (Math.abs(d[i] - 0x6b) + Math.abs(d[i + 1] - 0x77) + Math.abs(d[i + 2] - 0x85) > 40) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  return [x1 - x0 + 1, y1 - y0 + 1];
}"""


def _tall_items(index) -> set[str]:
    """Items at least 2.5 times taller (along the dataset's up axis, z for the demo) than wide."""
    import numpy as np

    from hyperalign.data.layout import load_dataset

    dataset = load_dataset(index.info["dataset_root"])
    up = "xyz".index(dataset.index.up_axis)
    tall = set()
    for item in dataset.items():
        extent = np.ptp(dataset.load_points(item)[:, :3], axis=0)
        if extent[up] > 2.5 * max(extent[a] for a in range(3) if a != up):
            tall.add(item.id)
    return tall


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_z_up_clouds_are_drawn_upright(server, tiny_index, tmp_path):
    """Probe: the viewer drew z-up data (the demo) lying on its side; tall lamps and bottles must look tall."""
    tall = _tall_items(tiny_index)
    assert tiny_index.up_axis == "z" and len(tall) >= 4
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 960})
            page.goto(f"{server}/?q=a+tall+floor+lamp")
            page.wait_for_function("document.body.dataset.upAxis === 'z'")
            page.select_option("#k", "50")
            page.click("#search-button")
            page.wait_for_function("document.body.dataset.rendered && document.querySelectorAll('#results li').length == 50")
            page.wait_for_selector("body[data-rendered]", timeout=30_000)
            cards = page.eval_on_selector_all("#results li.result", "els => els.map(e => e.dataset.id)")
            boxes = page.eval_on_selector_all("#results canvas", f"cs => cs.map({INK_BOX})")
            shown = {i: box for i, box in zip(cards, boxes) if i in tall}
            assert len(shown) >= 3, (cards, tall)
            for item_id, (width, height) in shown.items():
                assert height > 1.3 * width, (item_id, width, height)
            lamp = next(i for i in shown if i.startswith("lamp"))
            page.click(f"#results li.result[data-id='{lamp}']")
            page.wait_for_selector(f"#viewer[data-item='{lamp}']")
            page.wait_for_timeout(300)
            width, height = page.eval_on_selector("#viewer", INK_BOX)
            assert height > 1.3 * width, (width, height)
            page.screenshot(path=str(tmp_path / "upright.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_shape_upload_shows_captions_right_below_and_clears_the_detail(server, tiny_index, tiny_demo):
    """Probe: after a shape upload the caption list appeared below a ~450 px gap and the detail pane kept showing
    the previously opened item."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 960})
            page.goto(f"{server}/")
            page.wait_for_function("document.body.dataset.upAxis")
            page.fill("#query", QUERY)
            page.click("#search-button")
            page.wait_for_selector("body[data-rendered]", timeout=30_000)
            page.click("#results li.result >> nth=0")
            page.wait_for_selector("#viewer[data-item]")
            page.set_input_files("#shape-file", str(tiny_demo / tiny_index.items[4].points))
            page.click("#shape-button")
            page.wait_for_selector("#caption-results li")
            title = page.eval_on_selector("#results-title", "e => e.getBoundingClientRect().bottom")
            first = page.eval_on_selector("#caption-results li", "e => e.getBoundingClientRect().top")
            assert 0 <= first - title < 60, (title, first)
            assert page.eval_on_selector("#detail", "e => e.hidden")
            assert page.eval_on_selector("#viewer", "e => e.dataset.item === undefined")
        finally:
            browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_docs_render_with_the_network_blocked(server):
    """Probe: /docs loaded Swagger UI from a CDN and stayed blank offline."""
    outside: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_this_server)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent)")
            assert {"/search/text", "/search/shape", "/health"} <= {p.replace("\u200b", "") for p in paths}, paths
            assert outside == [] and errors == []
        finally:
            browser.close()
