"""The package's layers, declared once here, and a walk over every module's imports (module level, inside functions,
under ``TYPE_CHECKING``) that fails on an import from a higher layer.

A module may import from its own layer and from layers below it. ``data`` sits below the model: datasets and point
formats know nothing of encoders or losses, while evaluation and the runtime read both. ``config`` (the run schema)
sits just above ``model`` and ``losses`` because it is composed of their sections; ``atomic`` and ``checkpoint`` are
the base both training and inference stand on. ``runtime`` (using a trained model) sits below ``train``, which may
use it; serving and plotting sit on top but still never import the trainer.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "hyperalign"
ROOT = "__init__"  # hyperalign/__init__.py: the version and the lazy ``hyperalign.load`` (runtime's)

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer)
    for layer in (
        {"atomic", "checkpoint"},
        {"geometry", "sampling"},
        {"data"},
        {"encoders", "model", "losses"},
        {"config"},
        {"eval", "index"},
        {"runtime", ROOT},
        {"train"},
        {"serve", "viz", "cli", "__main__"},
    )
)
# Imports the layer order alone would allow but that are still wrong: serving and plotting use a trained model,
# never the trainer; the search index is independent of datasets.
FORBIDDEN: frozenset[tuple[str, str]] = frozenset({("serve", "train"), ("viz", "train"), ("index", "data")})

RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    reason: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.reason}"


def package_of(module: str) -> str:
    """``hyperalign.runtime.index`` -> ``runtime``; the root package itself -> :data:`ROOT`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def imported_modules(tree: ast.AST, module: str, is_package: bool, is_module: Callable[[str], bool]) -> list[tuple[int, str]]:
    """Every ``hyperalign`` module an AST imports, anywhere in it, with its line. ``from a import b`` counts as
    importing ``a.b`` when that is a module, else ``a``; relative imports are resolved against ``module``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((node.lineno, full if is_module(full) else base))
    return [(line, name) for line, name in found if name == "hyperalign" or name.startswith("hyperalign.")]


def upward_imports(source: str, module: str, is_module: Callable[[str], bool], is_package: bool = False) -> list[Violation]:
    """The imports of ``module`` (its ``source``) that break :data:`LAYERS` or :data:`FORBIDDEN`."""
    here = package_of(module)
    if here not in RANK:
        return [Violation(module, 0, module, f"package {here!r} is in no layer; declare it in tests/test_layers.py")]
    out = []
    for line, target in imported_modules(ast.parse(source), module, is_package, is_module):
        there = package_of(target)
        if there == here:
            continue
        if there not in RANK:
            out.append(Violation(module, line, target, f"package {there!r} is in no layer"))
        elif RANK[there] > RANK[here]:
            out.append(Violation(module, line, target, f"{there!r} is in a higher layer than {here!r}"))
        elif (here, there) in FORBIDDEN:
            out.append(Violation(module, line, target, f"{here!r} must never import {there!r}"))
    return out


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def test_every_declared_package_exists():
    packages = {package_of(m) for m in MODULES}
    assert set(RANK) <= packages, sorted(set(RANK) - packages)


def test_no_module_imports_upward():
    violations = [
        v
        for name, path in MODULES.items()
        for v in upward_imports(path.read_text(encoding="utf-8"), name, MODULES.__contains__, path.name == "__init__.py")
    ]
    assert not violations, "\n".join(map(str, violations))


def test_the_walk_sees_every_kind_of_import():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import hyperalign.geometry.lorentz\n"
        "from hyperalign import checkpoint\n"
        "from hyperalign import __version__\n"
        "if TYPE_CHECKING:\n"
        "    from hyperalign.data.layout import Dataset\n"
        "def f():\n"
        "    from hyperalign.model.h2arn import H2ARN\n"
        "    from . import lorentz_index\n"
        "    from ..runtime import index\n"
    )
    found = imported_modules(ast.parse(source), "hyperalign.index.codec", False, MODULES.__contains__)
    assert [name for _, name in found] == [
        "hyperalign.geometry.lorentz", "hyperalign.checkpoint", "hyperalign", "hyperalign.data.layout",
        "hyperalign.model.h2arn", "hyperalign.index.lorentz_index", "hyperalign.runtime.index",
    ]


@pytest.mark.parametrize(
    "module, source, reason",
    [
        ("hyperalign.runtime.fake", "def load():\n    from hyperalign.train.loop import train\n", "higher layer"),
        ("hyperalign.eval.fake", "import hyperalign.runtime.loading\n", "higher layer"),
        ("hyperalign.eval.fake", "from hyperalign import runtime\n", "higher layer"),
        ("hyperalign.geometry.fake", "if True:\n    from hyperalign.data import layout\n", "higher layer"),
        ("hyperalign.index.fake", "from ..train import setup\n", "higher layer"),
        ("hyperalign.serve.fake", "from hyperalign.train.loop import train\n", "must never import"),
        ("hyperalign.index.fake", "from hyperalign.data.layout import Dataset\n", "must never import"),
        ("hyperalign.data.fake", "from hyperalign import __version__\n", "higher layer"),
        ("hyperalign.newpkg.fake", "import os\n", "in no layer"),
        ("hyperalign.model.fake", "from hyperalign.newpkg import thing\n", "in no layer"),
    ],
)
def test_the_checker_catches_a_wrong_import(module, source, reason):
    violations = upward_imports(source, module, MODULES.__contains__)
    assert len(violations) == 1 and reason in violations[0].reason, violations


def test_the_checker_allows_downward_and_same_layer_imports():
    source = (
        "from hyperalign.runtime.loading import load\n"
        "from hyperalign.index import LorentzIndex\n"
        "from hyperalign.config import TrainConfig\n"
        "from hyperalign.checkpoint import WEIGHTS\n"
        "from hyperalign.data.layout import Dataset\n"
        "def f():\n"
        "    from hyperalign import __version__\n"
    )
    assert upward_imports(source, "hyperalign.train.fake", MODULES.__contains__) == []
    assert upward_imports("from hyperalign.encoders.text import TextTower\n", "hyperalign.model.fake", MODULES.__contains__) == []


HEAVY = ("fastapi", "uvicorn", "matplotlib", "faiss")


def _modules_after(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_hyperalign_loads_no_serving_plotting_or_index_dependency():
    loaded = _modules_after(f"import hyperalign\nassert hyperalign.__file__.startswith({str(SRC)!r})")
    assert not [m for m in loaded if m.split(".")[0] in HEAVY], loaded
    assert [m for m in loaded if m.startswith("hyperalign")] == ["hyperalign"]


def test_cli_help_loads_no_serving_plotting_index_or_training_dependency():
    code = (
        "import sys\nsys.argv = ['hyperalign', '--help']\nfrom hyperalign.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert not [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith("hyperalign.train")], loaded
