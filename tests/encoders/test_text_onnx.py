"""The frozen text tower by ONNX Runtime gives the transformers tower's token features (no transformers import)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

pytest.importorskip("onnxruntime")

from hyperalign.encoders.text import TextTower, TextTowerConfig  # noqa: E402
from hyperalign.encoders.text_onnx import export_text_onnx, onnx_file, onnx_text_tower  # noqa: E402

TEXTS = ["a chair", "an office chair on a five-legged star base with armrests, a tall back and a long description "
         "that runs well past the thirty-two token limit of the tower", "a vase"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx-cache")
    tower = TextTower(TextTowerConfig(max_tokens=32))
    path = export_text_onnx(tower, cache)
    return tower, cache, path


def test_onnx_features_match_the_transformers_tower(exported):
    tower, cache, path = exported
    assert path == onnx_file(cache, tower.model_id) and path.is_file()
    fast = onnx_text_tower(TextTowerConfig(max_tokens=32), cache)
    assert fast is not None and fast.model_id == tower.model_id and fast.dim == tower.dim
    (a, mask_a), (b, mask_b) = tower(TEXTS), fast(TEXTS)
    assert torch.equal(mask_a, mask_b) and a.shape == b.shape == (3, 32, tower.dim)
    assert torch.allclose(a, b, atol=1e-4)


def test_no_export_means_no_fast_tower_and_a_trainable_tower_is_never_exported(exported, tmp_path):
    tower, _, _ = exported
    assert onnx_text_tower(TextTowerConfig(max_tokens=32), tmp_path) is None
    assert onnx_text_tower(TextTowerConfig(max_tokens=16), exported[1]) is None  # another truncation: another id
    assert onnx_text_tower(TextTowerConfig(trainable=True), exported[1]) is None


def test_the_fast_tower_does_not_import_transformers(exported):
    _, cache, _ = exported
    code = ("import sys; from hyperalign.encoders.text import TextTowerConfig; "
            "from hyperalign.encoders.text_onnx import onnx_text_tower; "
            f"t = onnx_text_tower(TextTowerConfig(max_tokens=32), {str(cache)!r}); t(['a chair']); "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
