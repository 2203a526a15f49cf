"""The demo generator: determinism, structure, captions, and geometric separability of sub-types."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hyperalign.data.demo import describe, make_demo
from hyperalign.data.demo.primitives import Box, Frustum, Sphere, Torus, sample_parts
from hyperalign.data.layout import Dataset, load_dataset

SMALL = {"shapes_per_subtype": 4, "n_points": 128}


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return load_dataset(make_demo(tmp_path_factory.mktemp("demo")))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    make_demo(tmp_path / "a", **SMALL)
    make_demo(tmp_path / "b", **SMALL)
    first = _files(tmp_path / "a")
    assert first == _files(tmp_path / "b")
    make_demo(tmp_path / "a", **SMALL)  # overwriting the same directory is idempotent
    assert _files(tmp_path / "a") == first
    make_demo(tmp_path / "c", seed=1, **SMALL)
    other = _files(tmp_path / "c")
    assert other["index.json"] != first["index.json"]
    assert all(other[name] != first[name] for name in first if name.endswith(".npy"))


def test_shape_k_does_not_depend_on_the_count(tmp_path: Path) -> None:
    a = load_dataset(make_demo(tmp_path / "a", shapes_per_subtype=3, n_points=64))
    b = load_dataset(make_demo(tmp_path / "b", shapes_per_subtype=5, n_points=64))
    for item in a.items():
        np.testing.assert_array_equal(a.load_points(item), b.load_points(item))


def test_structure(default_demo: Dataset) -> None:
    ds = default_demo
    assert ds.index.levels == ["category", "subtype", "instance"] and ds.index.channels == 6
    categories = [n for n in ds.index.nodes if n.level == "category"]
    subtypes = Counter(n.parent for n in ds.index.nodes if n.level == "subtype")
    assert len(categories) >= 6 and {"chair", "table", "lamp", "shelf", "vase", "stool"} <= {n.id for n in categories}
    assert all(subtypes[c.id] >= 3 for c in categories)
    for split in ("train", "val", "test"):
        assert {item.node for item in ds.items(split)} == set(subtypes_ids(ds)), split
    assert len(ds.items()) == 540
    for item in ds.items()[::7]:
        points = ds.load_points(item)
        assert points.shape == (1024, 6) and points.dtype == np.float32
        np.testing.assert_allclose(points[:, :3].mean(axis=0), 0.0, atol=1e-5)
        assert abs(np.linalg.norm(points[:, :3], axis=1).max() - 1.0) < 1e-5
        assert points[:, 3:].min() >= 0.0 and points[:, 3:].max() <= 1.0


def subtypes_ids(ds: Dataset) -> list[str]:
    return [n.id for n in ds.index.nodes if n.level == "subtype"]


def test_captions(default_demo: Dataset) -> None:
    ds = default_demo
    for node in ds.index.nodes:
        assert len(node.captions) >= 3 and len(set(node.captions)) == len(node.captions)
    instance = [text for item in ds.items() for text in item.captions]
    assert len(set(instance)) >= 0.8 * len(instance)  # unique-ish: attributes tell instances apart
    for item in ds.items():
        records = ds.captions(item)
        assert [r.level for r in records] == ["category"] * 3 + ["subtype"] * 3 + ["instance"] * 3
        assert len(set(item.captions)) == 3 and all(text.strip() for text in item.captions)
        assert item.meta["material"] in item.captions[0]  # "wood" in "wooden", colours as such
    lamp = next(item for item in ds.items() if item.node == "lamp/floor")
    assert lamp.meta["accent"] in lamp.captions[0]  # the shade colour is spelled out


def test_without_colour(tmp_path: Path) -> None:
    ds = load_dataset(make_demo(tmp_path, colour=False, **SMALL))
    assert ds.index.channels == 3 and ds.load_points(ds.items()[0]).shape == (128, 3)
    colours = ("wooden", "metal", "white", "black", "red", "blue", "green")
    for item in ds.items():
        assert not any(word in text.split() for text in item.captions for word in colours), item.captions


def test_describe(default_demo: Dataset) -> None:
    stats = describe(default_demo)
    assert stats["items"] == 540 and stats["tree_depth"] == 3
    assert stats["items_per_split"] == {"train": 396, "val": 72, "test": 72}
    assert stats["nodes_per_level"] == {"category": 6, "subtype": 18}
    assert stats["leaf_nodes_per_split"] == {"train": 18, "val": 18, "test": 18}
    assert stats["captions_per_level"] == {"category": 18, "subtype": 54, "instance": 1620}
    assert describe(default_demo.root) == stats


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shapes_per_subtype must be >= 3"):
        make_demo(tmp_path, shapes_per_subtype=2)
    with pytest.raises(ValueError, match="splits must be three positive fractions"):
        make_demo(tmp_path, splits=(0.8, 0.3, 0.1))
    with pytest.raises(ValueError, match="leave no training shape"):
        make_demo(tmp_path, shapes_per_subtype=4, splits=(0.1, 0.45, 0.45))
    assert not any(tmp_path.iterdir())


def _descriptor(points: np.ndarray) -> np.ndarray:
    """Sorted bounding-box extents and a radial histogram: blind to colour and orientation conventions."""
    xyz = points[:, :3]
    extents = np.sort(xyz.max(axis=0) - xyz.min(axis=0))
    radial = np.histogram(np.linalg.norm(xyz - xyz.mean(axis=0), axis=1), bins=8, range=(0.0, 1.0))[0]
    return np.concatenate([extents, radial / len(xyz)])


def test_subtypes_are_geometrically_separable(default_demo: Dataset) -> None:
    ds = default_demo
    train = [(_descriptor(ds.load_points(i)), i.node) for i in ds.items("train")]
    held = [(_descriptor(ds.load_points(i)), i.node) for i in ds.items("val") + ds.items("test")]
    labels = sorted({node for _, node in train})
    centroids = np.stack([np.mean([d for d, n in train if n == label], axis=0) for label in labels])
    predicted = [labels[int(np.argmin(np.linalg.norm(centroids - d, axis=1)))] for d, _ in held]
    accuracy = np.mean([p == n for p, (_, n) in zip(predicted, held)])
    assert accuracy > 0.6, f"nearest-centroid accuracy {accuracy:.2f} (chance {1 / len(labels):.2f})"


# ---- primitive samplers -------------------------------------------------------------------------------------


def test_primitives_sample_their_surfaces() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    box = Box((1, 2, 3), (2.0, 1.0, 0.5), yaw=math.pi / 2).sample(rng, n) - (1, 2, 3)
    local = np.abs(box)
    half = np.array([0.5, 1.0, 0.25])  # yaw pi/2 swaps the x and y extents
    assert np.all(local <= half + 1e-9) and np.all(np.isclose(local, half).any(axis=1))
    sphere = Sphere((0, 0, 1), 2.0, z_lo=0.0).sample(rng, n) - (0, 0, 1)
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 2.0)
    assert sphere[:, 2].min() >= 0.0
    torus = Torus((0, 0, 0), 1.0, 0.2).sample(rng, n)
    np.testing.assert_allclose((np.hypot(torus[:, 0], torus[:, 1]) - 1.0) ** 2 + torus[:, 2] ** 2, 0.04, atol=1e-9)
    cone = Frustum((0, 0, 0), (0, 0, 1), 1.0, 0.0, caps=(False, False)).sample(rng, n)
    np.testing.assert_allclose(np.hypot(cone[:, 0], cone[:, 1]), 1.0 - cone[:, 2], atol=1e-9)
    # uniform by area: half of a cone's lateral area lies below height 1 - 1/sqrt(2)
    assert abs(np.mean(cone[:, 2] < 1 - 1 / math.sqrt(2)) - 0.5) < 0.03


def test_parts_share_points_by_area() -> None:
    rng = np.random.default_rng(1)
    small, big = Box((0, 0, 0), (1, 1, 1)), Box((5, 0, 0), (2, 2, 2))  # areas 6 and 24
    points, part = sample_parts([small, big], 10_000, rng)
    assert points.shape == (10_000, 3) and abs(np.mean(part == 1) - 0.8) < 0.02
    assert np.all((points[:, 0] > 2.5) == (part == 1))
