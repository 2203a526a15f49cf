"""Text queries on an already embedded folder without torch (:mod:`hyperalign.runtime.folder_text`): the same files
in the same order as the torch path, distances within 1e-5; anything not cached for this model and these settings
(a new or changed file, an unreadable one, another up axis) takes the torch path; the CLI's second search of a folder
imports neither torch nor transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import hyperalign
from hyperalign.cli import app
from hyperalign.data.formats import PointCloud, write_point_cloud
from hyperalign.data.layout import load_dataset
from hyperalign.runtime.folder import FolderSearch
from hyperalign.runtime.folder_text import FolderTextSearch

pytest.importorskip("onnxruntime")
QUERIES = ["a round table", "a tall lamp with a shade", "chair", "a wooden cabinet with two doors"]
SRC = Path(__file__).resolve().parents[2] / "src"
SH3D = Path("/work/data/sh3d")


@pytest.fixture
def folder(tmp_path, tiny_demo) -> Path:
    """Eight demo shapes in three formats and two nested folders."""
    dataset = load_dataset(tiny_demo)
    root = tmp_path / "my shapes"
    for i, item in enumerate(dataset.items()[:8]):
        pts = dataset.load_points(item)
        rel = Path("a" if i % 2 else "b/c") / f"{item.id}{['.ply', '.npy', '.xyz'][i % 3]}"
        write_point_cloud(root / rel, PointCloud(pts[:, :3], pts[:, 3:6]))
    return root


def _same(fast, slow):
    assert [h.path for h in fast] == [h.path for h in slow]
    np.testing.assert_allclose([h.distance for h in fast], [h.distance for h in slow], rtol=0, atol=1e-5)


def test_a_cached_folder_answers_text_as_the_torch_path_does(tiny_run, folder, tmp_path):
    cache = tmp_path / "cache"
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=cache) is None  # nothing embedded yet
    slow = FolderSearch(hyperalign.load(tiny_run), folder, cache_dir=cache)
    fast = FolderTextSearch.open(folder, tiny_run, cache_dir=cache)
    assert fast is not None and sorted(fast.files) == sorted(slow.index.files)
    for query in QUERIES:
        _same(fast.search_text(query, 5), slow.search_text(query, 5))
        _same(fast.search_text(query, 100), slow.search_text(query, 100))


def test_anything_not_cached_takes_the_torch_path(tiny_run, folder, tmp_path, tiny_demo):
    cache = tmp_path / "cache"
    FolderSearch(hyperalign.load(tiny_run), folder, cache_dir=cache)
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=cache) is not None
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=cache, up_axis="z") is None  # other reader settings
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=cache, xyz_only=True) is None
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=tmp_path / "elsewhere") is None
    (folder / "broken.ply").write_text("ply\nformat ascii 1.0\nelement vertex 5\n")
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=cache) is None  # never embedded: reported by torch
    (folder / "broken.ply").unlink()
    changed = sorted(folder.rglob("*.npy"))[0]
    np.save(changed, np.load(changed)[::-1].copy())
    assert FolderTextSearch.open(folder, tiny_run, cache_dir=cache) is None


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines() if line.startswith("import time:")}


def test_cli_second_folder_search_imports_neither_torch_nor_transformers(tiny_run, folder, tmp_path):
    args = ["search", "a round table", "--in", str(folder), "--checkpoint", str(tiny_run), "--cache-dir",
            str(tmp_path / "cache"), "-k", "4", "--json"]  # fmt: skip
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    env = dict(os.environ, PYTHONPATH=str(SRC), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    again = subprocess.run([sys.executable, "-X", "importtime", "-m", "hyperalign", *args], env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    imported = _imported(again.stderr)
    assert "hyperalign" in imported and "onnxruntime" in imported
    assert "torch" not in imported and "transformers" not in imported
    slow, fast = json.loads(first.stdout)["results"], json.loads(again.stdout)["results"]
    assert [r["path"] for r in fast] == [r["path"] for r in slow]
    np.testing.assert_allclose([r["distance"] for r in fast], [r["distance"] for r in slow], rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(not (SH3D / "index.json").is_file(), reason="needs the converted Sweet Home 3D data")
def test_shipped_model_on_sweet_home_3d_items_answers_as_the_torch_path_does(tmp_path):
    items = json.loads((SH3D / "index.json").read_text())["items"][:24]
    root = tmp_path / "sh3d"
    root.mkdir()
    for it in items:
        (root / f"{it['id']}.npy").write_bytes((SH3D / it["points"]).read_bytes())
    cache = tmp_path / "cache"
    slow = FolderSearch(hyperalign.load("h2arn-furniture"), root, cache_dir=cache)
    fast = FolderTextSearch.open(root, "h2arn-furniture", cache_dir=cache)
    assert fast is not None
    for query in ["a chair", "a round dining table", "a tall lamp", "a bed", "a sofa", "a kitchen sink"]:
        _same(fast.search_text(query, 24), slow.search_text(query, 24))
