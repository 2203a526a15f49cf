"""Pretrained models shipped inside the package, loadable offline by name (``hyperalign.load("h2arn-furniture")``).

Each model is a checkpoint directory ``hyperalign/pretrained/<name>/`` (``weights.safetensors`` + ``meta.json``, the
same files a training run writes) with its model card (``card.json``, rendered as ``README.md``): training data and
licences, preprocessing, the command and seed that trained it, and its metrics on each benchmark's test split.
The recipe is ``tools/pretrained.py`` in the source checkout. Nothing here imports torch.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

CARD = "card.json"
_FILES = ("weights.safetensors", "meta.json", CARD)


def _root() -> Path:
    return Path(str(resources.files("hyperalign") / "pretrained"))


def names() -> list[str]:
    """The shipped models' names, sorted."""
    return sorted(p.name for p in _root().iterdir() if p.is_dir() and all((p / f).is_file() for f in _FILES))


def is_name(text: str) -> bool:
    """Whether ``text`` looks like a model name rather than a path (no separator, no suffix, not '.' or '..')."""
    return bool(text) and "/" not in text and "\\" not in text and "." not in text


def path(name: str) -> Path:
    """The checkpoint directory of the shipped model ``name``; KeyError listing the known names otherwise."""
    if name not in names():
        raise KeyError(f"unknown pretrained model {name!r}; shipped models: {', '.join(names()) or '(none)'}")
    return _root() / name


def card(name: str) -> dict[str, Any]:
    """The model card of ``name`` (``card.json``)."""
    return json.loads((path(name) / CARD).read_text(encoding="utf-8"))
