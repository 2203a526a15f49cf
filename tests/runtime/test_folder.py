"""Searching a user's folder: recursive discovery, unreadable files reported, embeddings cached by content and by
model, upright reading, exact ranking."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import hyperalign
from hyperalign.cli import app
from hyperalign.data.formats import PointCloud, write_point_cloud
from hyperalign.data.layout import load_dataset
from hyperalign.runtime.folder import FolderError, FolderSearch, ShapeReader, up_rotation


@pytest.mark.parametrize("source", ["x", "y", "z"])
@pytest.mark.parametrize("target", ["x", "y", "z"])
def test_up_rotation_turns_the_source_axis_onto_the_target(source, target):
    r = up_rotation(source, target)
    e = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(r @ e["xyz".index(source)], e["xyz".index(target)], atol=1e-6)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-6)
    assert np.linalg.det(r) == pytest.approx(1.0)


@pytest.fixture
def retriever(tiny_run):
    return hyperalign.load(tiny_run)


@pytest.fixture
def shape_folder(tmp_path, tiny_demo) -> tuple[Path, list[str]]:
    """Six demo shapes in three formats and two nested folders, plus a broken file and a file of another kind."""
    dataset = load_dataset(tiny_demo)
    root = tmp_path / "my shapes"
    names = []
    for i, item in enumerate(dataset.items()[:6]):
        rel = Path("a" if i % 2 else "b/c") / f"{item.id}{['.ply', '.npy', '.xyz'][i % 3]}"
        pts = dataset.load_points(item)
        write_point_cloud(root / rel, PointCloud(pts[:, :3], pts[:, 3:6]))
        names.append(str(rel))
    (root / "broken.ply").write_text("ply\nformat ascii 1.0\nelement vertex 5\n")
    (root / "bad.txt").write_text("1 2 3\n4 5\n")  # starts like a point table: read, and reported as broken
    (root / "a" / "LICENSE.txt").write_text("Creative Commons Attribution\nline 2\n")  # prose: not a shape file
    return root, names


def test_folder_search_reports_unreadable_files_and_searches_the_rest(retriever, shape_folder, tmp_path):
    root, names = shape_folder
    found = FolderSearch(retriever, root, up_axis="z", cache_dir=tmp_path / "cache")
    assert sorted(found.index.files) == sorted(names)
    assert {path for path, _ in found.index.failures} == {"broken.ply", "bad.txt"}  # the licence is not listed
    assert all(reason for _, reason in found.index.failures)
    hits = found.search_text("a chair", k=100)
    assert [h.rank for h in hits] == list(range(1, len(names) + 1))  # k larger than the folder: the whole folder
    assert sorted(h.path for h in hits) == sorted(names)
    assert all(a.distance <= b.distance for a, b in zip(hits, hits[1:]))


def test_a_shape_finds_itself_first(retriever, shape_folder, tmp_path):
    root, names = shape_folder
    found = FolderSearch(retriever, root, up_axis="z", cache_dir=tmp_path / "cache")
    hits = found.search_shape(root / names[3], k=3)
    assert hits[0].path == names[3]
    assert hits[0].distance == pytest.approx(0.0, abs=2e-3)


def test_second_run_embeds_only_changed_files_and_another_model_rebuilds(retriever, shape_folder, tmp_path):
    root, names = shape_folder
    cache = tmp_path / "cache"
    first = FolderSearch(retriever, root, up_axis="z", cache_dir=cache)
    assert first.index.embedded == len(names)
    assert FolderSearch(retriever, root, up_axis="z", cache_dir=cache).index.embedded == 0
    shutil.copy(root / names[1], root / "a" / "copy.npy")  # same content: served from the cache
    pts = np.load(root / names[1])
    np.save(root / names[1], pts[::-1].copy() * 0.5)  # changed content: embedded again
    again = FolderSearch(retriever, root, up_axis="z", cache_dir=cache)
    assert again.index.embedded == 1 and len(again.index.files) == len(names) + 1
    other = FolderSearch(retriever, root, up_axis="z", xyz_only=True, cache_dir=cache)  # other settings
    assert other.index.embedded == len(names) + 1
    entries = next(cache.iterdir()) / "entries.json"
    meta = json.loads(entries.read_text())
    meta["fingerprint"]["model"] = "0" * 64  # a cache written by another model version
    entries.write_text(json.dumps(meta))
    assert FolderSearch(retriever, root, up_axis="z", xyz_only=True, cache_dir=cache).index.embedded == len(names) + 1


def test_a_lying_folder_read_with_its_up_axis_embeds_like_the_upright_one(retriever, tiny_demo, tmp_path):
    dataset = load_dataset(tiny_demo)  # the demo is z-up like the model's training data
    pts = dataset.load_points(dataset.items()[0])
    turned = pts.copy()
    turned[:, :3] = pts[:, :3] @ up_rotation("z", "x").T  # the same shape with x as its vertical axis
    write_point_cloud(tmp_path / "upright" / "s.npy", PointCloud(pts[:, :3], pts[:, 3:6]))
    write_point_cloud(tmp_path / "lying" / "s.npy", PointCloud(turned[:, :3], turned[:, 3:6]))
    upright = FolderSearch(retriever, tmp_path / "upright", up_axis="z", cache_dir=tmp_path / "c")
    lying = FolderSearch(retriever, tmp_path / "lying", up_axis="x", cache_dir=tmp_path / "c")
    wrong = FolderSearch(retriever, tmp_path / "lying", up_axis="z", xyz_only=False, cache_dir=tmp_path / "c2")
    torch.testing.assert_close(lying.index.embeddings, upright.index.embeddings, atol=1e-4, rtol=0)
    assert not torch.allclose(wrong.index.embeddings, upright.index.embeddings, atol=1e-3)
    reader = ShapeReader.for_model(retriever, "x")
    np.testing.assert_allclose(reader.read(tmp_path / "lying" / "s.npy")[:, :3], pts[:, :3], atol=1e-5)


def test_empty_and_missing_folders_are_clear_errors(retriever, tmp_path):
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    np.save(tmp_path / "empty" / ".hidden" / "x.npy", np.zeros((4, 3), np.float32))
    with pytest.raises(FolderError, match="no point cloud or mesh files"):
        FolderSearch(retriever, tmp_path / "empty", cache_dir=tmp_path / "c")
    with pytest.raises(FolderError, match="no such folder"):
        FolderSearch(retriever, tmp_path / "nope", cache_dir=tmp_path / "c")


def test_cli_search_in_a_folder(tiny_run, shape_folder, tmp_path):
    root, names = shape_folder
    args = ["search", "a round table", "--in", str(root), "--checkpoint", str(tiny_run), "--up-axis", "z",
            "--cache-dir", str(tmp_path / "cache"), "-k", "3", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    assert payload["query"] == "a round table" and len(payload["results"]) == 3
    assert {r["path"] for r in payload["results"]} <= set(names)
    assert "skipped broken.ply" in result.stderr
    bad = CliRunner().invoke(app, ["search", "a chair", "--in", str(root), "--checkpoint", str(tiny_run),
                                   "--up-axis", "w"])
    assert bad.exit_code == 2 and "--up-axis 'w'" in bad.output
