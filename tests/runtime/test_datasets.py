"""Which dataset a run reads: an explicit directory, else the config's ``data.path``, else the built-in demo."""

from __future__ import annotations

from hyperalign.config import load_config
from hyperalign.runtime.datasets import demo_data_dir, resolve_dataset


def test_an_explicit_directory_wins_over_the_config(tiny_demo, tmp_path):
    cfg = load_config("h2arn-cpu", [f"data.path={tmp_path / 'not-there'}"])
    assert resolve_dataset(cfg, tiny_demo).root == tiny_demo
    assert resolve_dataset(cfg, str(tiny_demo)).root == tiny_demo


def test_the_config_path_is_used_without_an_explicit_one(tiny_demo):
    cfg = load_config("h2arn-cpu", [f"data.path={tiny_demo}"])
    assert resolve_dataset(cfg).root == tiny_demo


def test_without_any_path_the_demo_is_generated_once_under_the_cache(tmp_path):
    cfg = load_config(
        "h2arn-cpu", [f"cache_dir={tmp_path}", "data.demo.shapes_per_subtype=3", "data.demo.n_points=16"]
    )
    root = demo_data_dir(cfg.cache_dir, cfg.data.demo)
    assert root.parent == tmp_path / "demo-data" and not root.exists()
    first = resolve_dataset(cfg)
    assert first.root == root and (root / "index.json").is_file()
    stamp = (root / "index.json").stat().st_mtime_ns
    assert resolve_dataset(cfg).root == root and (root / "index.json").stat().st_mtime_ns == stamp
