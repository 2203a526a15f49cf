"""Which dataset a run reads: a directory given on the command line, the config's ``data.path``, or the built-in demo
data (generated on first use under ``cache_dir``)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from hyperalign.config import DemoDataConfig, TrainConfig
from hyperalign.data.layout import Dataset, load_dataset


def demo_data_dir(cache_dir: str | Path, demo: DemoDataConfig) -> Path:
    """Where the built-in demo data for these settings lives (generated once, keyed by its settings and the
    generator's revision)."""
    from hyperalign.data.demo import REVISION

    settings = demo.model_dump() | {"revision": REVISION}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir).expanduser() / "demo-data" / key


def resolve_dataset(cfg: TrainConfig, path: str | os.PathLike[str] | None = None) -> Dataset:
    """The dataset at ``path`` when given, else the configured one; with ``data.path`` unset too, the built-in demo
    (generated on first use)."""
    if path is not None:
        return load_dataset(Path(path))
    if cfg.data.path is not None:
        return load_dataset(Path(cfg.data.path).expanduser())
    from hyperalign.data.demo import make_demo

    d = cfg.data.demo
    root = demo_data_dir(cfg.cache_dir, d)
    if not (root / "index.json").is_file():
        make_demo(root, shapes_per_subtype=d.shapes_per_subtype, n_points=d.n_points, seed=d.seed, colour=d.colour)
    return load_dataset(root)
