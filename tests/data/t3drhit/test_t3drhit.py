"""T3DR-HIT: reading both layouts as the reference does, FPS, 9-channel preprocessing, conversion to the layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.data.layout import load_dataset
from hyperalign.data.t3drhit.converter import (
    T3DRHITError,
    convert_t3drhit,
    detect_source,
    farthest_point_sample,
    preprocess_9ch,
    read_entries,
)

ELEPHANT = {
    "train": {"chair_01": ["a wooden chair", "a chair with four legs"], "lamp_02": ["a desk lamp"],
              "sofa_03": ["a red sofa", "a two-seat couch", "a sofa"], "table_04": ["a round table"],
              "bed_05": ["a bed"], "ghost_06": ["a model without a point file"]},
    "test": {"vase_07": ["a blue vase", "a tall vase"], "stool_08": ["   ", "a bar stool"]},
}  # fmt: skip


def fps_reference(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """The reference implementation (``utils/fps.py``, ``fps_1``), used as the oracle."""
    distance = torch.ones(xyz.shape[0]) * 1e10
    centroids = torch.zeros(npoint, dtype=torch.long)
    farthest = torch.argmax(torch.sum((xyz - xyz.sum(0) / xyz.shape[0]) ** 2, dim=1))
    for i in range(npoint):
        centroids[i] = farthest
        distance = torch.min(distance, torch.sum((xyz - xyz[farthest].view(1, 3)) ** 2, -1))
        farthest = torch.argmax(distance)
    return centroids


def write_elephant(root: Path, n_big: int = 120) -> Path:
    """The Elephant layout: caption JSONs and ``pcd_normalize_{split}/<object>/model.txt`` (xyz + rgb 0-255)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for split, objects in ELEPHANT.items():
        (root / f"Elephant_caption_{split}.json").write_text(json.dumps({"result": objects}), encoding="utf-8")
        for k, name in enumerate(objects):
            if name.startswith("ghost"):
                continue
            n = n_big if name == "sofa_03" else 30 + k
            table = np.concatenate([rng.normal(size=(n, 3)), rng.integers(0, 256, size=(n, 3)), np.ones((n, 1))], 1)
            path = root / f"pcd_normalize_{split}" / name / "model.txt"
            path.parent.mkdir(parents=True)
            np.savetxt(path, table, fmt="%.6f", delimiter=" ")
    return root


def test_fps_matches_the_reference() -> None:
    xyz = np.random.default_rng(1).normal(size=(500, 3)).astype(np.float32)
    ours = farthest_point_sample(xyz, 64)
    np.testing.assert_array_equal(ours, fps_reference(torch.from_numpy(xyz), 64).numpy())
    assert len(set(ours.tolist())) == 64
    with pytest.raises(ValueError, match="n must be in"):
        farthest_point_sample(xyz, 501)


def test_preprocess_9ch_is_the_reference_formula() -> None:
    points = np.array([[0.0, 1.0, 5.0, 10, 20, 30], [2.0, 3.0, 5.0, 40, 50, 60], [1.0, 2.0, 5.0, 0, 0, 0]])
    out = preprocess_9ch(points)
    np.testing.assert_array_equal(out[:, :6], points)
    np.testing.assert_allclose(out[:, 6:], [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.5, 0.5, 0.0]])  # flat z: / 1e-8
    with pytest.raises(ValueError, match=r"\(N, >= 6\)"):
        preprocess_9ch(points[:, :3])


def test_elephant_conversion(tmp_path: Path) -> None:
    root = write_elephant(tmp_path / "t3d")
    assert detect_source(root) == "elephant"
    assert [e.key for e in read_entries(root, "elephant", "test")] == ["vase_07", "stool_08"]
    report = convert_t3drhit(root, tmp_path / "out", max_points=100, val_fraction=0.25, seed=0)
    assert [s["key"] for s in report["skipped"]] == ["ghost_06"] and "no such file" in report["skipped"][0]["reason"]
    assert report["items_per_split"] == {"train": 4, "val": 1, "test": 2}
    ds = load_dataset(tmp_path / "out")
    assert ds.index.levels == ["instance"] and ds.index.nodes == [] and ds.index.channels == 6
    sofa = next(item for item in ds.items() if item.id == "train/sofa_03")
    assert [r.text for r in ds.captions(sofa)] == ["a red sofa", "a two-seat couch", "a sofa"]  # multi-positive
    assert ds.captions(next(i for i in ds.items("test") if i.meta["key"] == "stool_08"))[0].text == "a bar stool"
    points = ds.load_points(sofa)
    assert points.shape == (100, 6) and sofa.meta["farthest_point_sampled"]
    raw = np.loadtxt(root / "pcd_normalize_train/sofa_03/model.txt")
    keep = fps_reference(torch.from_numpy(raw[:, :3]).float(), 100).numpy()
    np.testing.assert_allclose(points[:, :3], raw[keep, :3], rtol=1e-6)
    np.testing.assert_allclose(points[:, 3:], raw[keep, 3:6] / 255.0, rtol=1e-6)
    assert preprocess_9ch(points).shape == (100, 9)
    again = convert_t3drhit(root, tmp_path / "out2", max_points=100, val_fraction=0.25, seed=0)
    assert again["items_per_split"] == report["items_per_split"]
    assert [i.split for i in load_dataset(tmp_path / "out2").items()] == [i.split for i in ds.items()]


def test_s3dis_layout_keeps_rooms_whole(tmp_path: Path) -> None:
    root = tmp_path / "s3dis"
    for split, key in (("train", "Area_1_office_1"), ("train", "Area_2_hallway_3"), ("test", "Area_5_WC_1")):
        captions = root / f"S3DIS_{split}_captions.json"
        data = json.loads(captions.read_text()) if captions.exists() else {"result": {}}
        data["result"][key] = [f"the room {key}"]
        root.mkdir(exist_ok=True)
        captions.write_text(json.dumps(data), encoding="utf-8")
        path = root / f"S3DIS_{split}_pcds" / f"{key}.txt"
        path.parent.mkdir(exist_ok=True)
        np.savetxt(path, np.random.default_rng(2).uniform(0, 1, size=(150, 6)), delimiter=" ")
    report = convert_t3drhit(root, tmp_path / "out", max_points=100, val_fraction=0.0)
    assert report["source"] == "s3dis" and report["items_per_split"] == {"train": 2, "val": 0, "test": 1}
    ds = load_dataset(tmp_path / "out")
    assert all(len(ds.load_points(item)) == 150 for item in ds.items())  # no FPS for rooms, as in the reference


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(T3DRHITError, match="expected Elephant_caption_train.json or S3DIS_train_captions.json"):
        detect_source(tmp_path)
    (tmp_path / "Elephant_caption_train.json").write_text('{"objects": {}}', encoding="utf-8")
    with pytest.raises(T3DRHITError, match=r"Elephant_caption_train\.json: expected an object"):
        list(read_entries(tmp_path, "elephant", "train"))
    (tmp_path / "Elephant_caption_train.json").write_text('{"result": {"a": "one caption"}}', encoding="utf-8")
    with pytest.raises(T3DRHITError, match=r"result\['a'\]: expected a list of caption strings"):
        list(read_entries(tmp_path, "elephant", "train"))


def test_cli_converts_and_reports(tmp_path: Path) -> None:
    root = write_elephant(tmp_path / "t3d", n_big=40)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["data", "t3drhit", "--root", str(root), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert '"items_per_split"' in result.output and "1 object(s) skipped" in result.output
    assert (out / "conversion-report.json").is_file()
    bad = CliRunner().invoke(app, ["data", "t3drhit", "--root", str(tmp_path), "--out", str(out)])
    assert bad.exit_code == 2 and "cannot tell the T3DR-HIT layout" in bad.output
