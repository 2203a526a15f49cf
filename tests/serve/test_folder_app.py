"""The page and API over a user's folder (``serve --in``): an in-memory index of the folder's files, no captions."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperalign.data.formats import PointCloud, write_point_cloud
from hyperalign.data.layout import load_dataset


@pytest.fixture(scope="module")
def folder_client(tmp_path_factory, tiny_demo, tiny_run_path):
    from fastapi.testclient import TestClient

    import hyperalign
    from hyperalign.runtime.folder import FolderSearch
    from hyperalign.runtime.index import Index
    from hyperalign.serve import create_app

    dataset = load_dataset(tiny_demo)
    root = tmp_path_factory.mktemp("served") / "my shapes"
    names = []
    for i, item in enumerate(dataset.items()[:5]):
        rel = Path("nested" if i % 2 else ".") / f"{item.id}.ply"
        pts = dataset.load_points(item)
        write_point_cloud(root / rel, PointCloud(pts[:, :3], pts[:, 3:6]))
        names.append(str(Path(rel)))
    retriever = hyperalign.load(tiny_run_path)
    found = FolderSearch(retriever, root, up_axis="z", cache_dir=tmp_path_factory.mktemp("cache"))
    index = Index.from_folder(found)
    with TestClient(create_app(index)) as client:
        yield client, found, sorted(names)


def test_the_folder_index_ranks_like_folder_search(folder_client):
    client, found, names = folder_client
    health = client.get("/health").json()
    assert health["items"] == len(names) and health["captions"] == 0
    body = client.post("/search/text", json={"query": "a chair", "k": 10, "target": "shapes"}).json()
    served = [(r["id"], round(r["distance"], 4)) for r in body["results"]]
    direct = [(h.path, round(h.distance, 4)) for h in found.search_text("a chair", 10)]
    assert served == direct and sorted(i for i, _ in served) == names


def test_items_with_nested_paths_are_served_with_their_points(folder_client):
    client, _, names = folder_client
    nested = next(n for n in names if "/" in n)
    item = client.get(f"/items/{nested}").json()
    assert item["id"] == nested and item["n_points"] > 0 and len(item["positions"]) == 3 * item["n_points"]
    assert client.get("/items/no-such-file.ply").status_code == 404
    captions = client.post("/search/text", json={"query": "a chair", "k": 3, "target": "captions"}).json()
    assert captions["results"] == []  # a folder has no captions
