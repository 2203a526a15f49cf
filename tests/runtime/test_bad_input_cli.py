"""Every class of bad input at the command line: exit code 2, one clear message naming the file or field and what
was expected, no traceback, and no partial output left behind."""

import json
import shutil

import numpy as np
import pytest
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from hyperalign.cli import app

runner = CliRunner()


def _fail(args, *needles):
    res = runner.invoke(app, args)
    out = res.output
    assert res.exit_code == 2, (res.exit_code, out, res.exception)
    assert "Traceback" not in out
    for needle in needles:
        assert needle in out, (needle, out)
    return out


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


POINT_CASES = {
    "missing file": (lambda d: d / "nope.ply", ["nope.ply"]),
    "empty file": (lambda d: _write(d / "empty.ply", b""), ["empty.ply", "empty"]),
    "truncated PLY": (
        lambda d: _write(d / "cut.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 100\n"
                         b"property float x\nproperty float y\nproperty float z\nend_header\n" + b"\0" * 40),
        ["cut.ply"],
    ),
    "corrupt OFF": (lambda d: _write(d / "bad.off", b"OFF\n3 1 0\n0 0 0\n1 1\n"), ["bad.off"]),
    "corrupt OBJ": (lambda d: _write(d / "bad.obj", b"v 0 0 zero\nf 1 2 9\n"), ["bad.obj"]),
    "truncated NPY": (lambda d: _write(d / "cut.npy", np.lib.format.magic(1, 0) + b"\x46\x00{'descr': '<f4', 'fortran_order"), ["cut.npy"]),
    "corrupt H5": (lambda d: _write(d / "bad.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 20), ["bad.h5"]),
    "NaN coordinates": (lambda d: _save_npy(d / "nan.npy", np.array([[0, 0, np.nan], [1, 1, 1]], np.float32)), ["nan.npy", "NaN"]),
    "wrong channels": (lambda d: _save_npy(d / "four.npy", np.zeros((10, 4), np.float32)), ["four.npy", "channels"]),
    "zero points": (lambda d: _save_npy(d / "zero.npy", np.zeros((0, 3), np.float32)), ["zero.npy", "0 points"]),
    "10 million points": (lambda d: _save_npy(d / "huge.npy", np.zeros((10_000_000, 3), np.float32)), ["huge.npy", "limit"]),
}


def _save_npy(path, arr):
    np.save(path, arr)
    return path


@pytest.mark.parametrize("case", list(POINT_CASES))
def test_bad_point_cloud_files(case, tiny_index_path, tmp_path):
    make, needles = POINT_CASES[case]
    path = make(tmp_path)
    out = _fail(["search", "--shape", str(path), "--index", str(tiny_index_path)], *needles)
    assert out.strip().startswith("error:") and out.count("\n") <= 2, out


@pytest.mark.parametrize("text, needle", [("", "empty"), ("   \t", "empty"), ("bad \udcff bytes", "UTF-8")])
def test_bad_caption_text(text, needle, tiny_index_path):
    _fail(["search", text, "--index", str(tiny_index_path)], needle)


def test_caption_far_over_the_token_limit_is_truncated_as_documented(tiny_index_path):
    res = runner.invoke(app, ["search", "a chair " * 2000, "--index", str(tiny_index_path), "--json", "-k", "3"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output[res.output.index("{"):])["results"]) == 3


def _dataset_copy(tiny_demo, tmp_path, edit):
    root = tmp_path / "data"
    shutil.copytree(tiny_demo, root)
    index = json.loads((root / "index.json").read_text())
    edit(index)
    (root / "index.json").write_text(json.dumps(index))
    return root


@pytest.mark.parametrize(
    "edit, needles",
    [
        (lambda ix: ix["items"][0].pop("split"), ["index.json", "items[0]", "split"]),
        (lambda ix: ix["items"][1].update(node="no/such/node"), ["index.json", "no/such/node"]),
        (lambda ix: ix["items"][2].update(id=ix["items"][3]["id"]), ["index.json", "duplicate"]),
    ],
    ids=["missing key", "dangling reference", "duplicate id"],
)
def test_bad_dataset_index(edit, needles, tiny_demo, tmp_path):
    data = _dataset_copy(tiny_demo, tmp_path, edit)
    run = tmp_path / "run"
    _fail(["train", "--config", "h2arn-cpu", "--run-dir", str(run), "--data", str(data), "--no-progress"], *needles)
    assert not (run / "checkpoints").exists()


@pytest.mark.parametrize(
    "text, needle", [("model: {context: {layerz: 2}}", "model.context.layerz"), ("optim: {epochs: many}", "optim.epochs")]
)
def test_bad_config(text, needle, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("base: h2arn-cpu\n" + text + "\n")
    _fail(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "run")], "c.yaml", needle)
    assert not (tmp_path / "run").exists()


def test_checkpoint_from_another_architecture(tiny_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_run / "best", other)
    meta = json.loads((other / "meta.json").read_text())
    meta["config"]["model"]["dim"] = 48
    meta["config"]["model"]["points"]["dim"] = 48
    (other / "meta.json").write_text(json.dumps(meta))
    _fail(["embed", "--checkpoint", str(other), "--out", str(tmp_path / "e.safetensors")], "weights.safetensors", "shape mismatch")
    assert not list(tmp_path.glob("e.safetensors*"))


def test_truncated_checkpoint(tiny_run, tmp_path):
    cut = tmp_path / "cut"
    shutil.copytree(tiny_run / "best", cut)
    w = cut / "weights.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    _fail(["eval", "--checkpoint", str(cut), "--json", str(tmp_path / "m.json")], "weights.safetensors", "truncated or corrupt")
    assert not (tmp_path / "m.json").exists()


def test_index_built_for_another_model(tiny_run, tiny_index_path, tmp_path):
    other = tmp_path / "other-run"
    shutil.copytree(tiny_run / "best", other)
    weights = load_file(str(other / "weights.safetensors"))
    name = next(iter(weights))
    weights[name] = weights[name] + 1.0
    save_file(weights, str(other / "weights.safetensors"))
    _fail(["search", "a chair", "--index", str(tiny_index_path), "--checkpoint", str(other)], "index")
