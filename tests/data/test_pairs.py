"""Training pairs: the caption level of each pair is drawn uniformly or by ``data.level_weights``."""

from collections import Counter

import numpy as np
import pytest

from hyperalign.config import ConfigError, load_config
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import CaptionTable, PairDataset, PointStore, SplitView, _augment


def _pairs(tiny_demo, **kw):
    dataset = load_dataset(tiny_demo)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, "train")
    return table, PairDataset(view, table, PointStore(dataset, view.items), points_per_cloud=8, seed=0, **kw)


def _level_counts(table, pairs, epochs):
    counts = Counter()
    for epoch in range(epochs):
        pairs.set_epoch(epoch)
        counts.update(table.levels[int(pairs[i]["caption_id"])] for i in range(len(pairs)))
    return counts


def test_levels_are_drawn_uniformly_by_default(tiny_demo):
    table, pairs = _pairs(tiny_demo)
    counts = _level_counts(table, pairs, epochs=20)
    total = sum(counts.values())
    assert set(counts) == {"category", "subtype", "instance"}
    assert all(abs(n / total - 1 / 3) < 0.05 for n in counts.values()), counts


def test_level_weights_set_the_odds_of_each_level(tiny_demo):
    table, pairs = _pairs(tiny_demo, level_weights={"instance": 3.0})  # odds 1 : 1 : 3
    counts = _level_counts(table, pairs, epochs=20)
    total = sum(counts.values())
    assert abs(counts["instance"] / total - 0.6) < 0.05 and abs(counts["category"] / total - 0.2) < 0.05, counts
    table, only = _pairs(tiny_demo, level_weights={"category": 0.0, "subtype": 0.0})
    assert set(_level_counts(table, only, epochs=2)) == {"instance"}


def test_unknown_level_weight_is_an_error_naming_the_levels(tiny_demo):
    with pytest.raises(ValueError, match=r"data.level_weights: unknown level\(s\) \['room'\].*'category'"):
        _pairs(tiny_demo, level_weights={"room": 2.0})
    with pytest.raises(ValueError, match=r"every caption level of item '.+' \(\['category', 'instance', 'subtype'\]\)"):
        _pairs(tiny_demo, level_weights={"category": 0.0, "subtype": 0.0, "instance": 0.0})
    with pytest.raises(ConfigError, match="data.level_weights.instance"):
        load_config("h2arn-cpu", ["data.level_weights.instance=-1"])


@pytest.mark.parametrize("up", ["x", "y", "z"])
def test_rotation_turns_clouds_about_the_datasets_up_axis(up):
    axis = "xyz".index(up)
    cloud = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    out = _augment(cloud, np.random.default_rng(1), jitter=0.0, scale_range=(1.0, 1.0), rotate_up=True, up_axis=axis)
    flat = [a for a in range(3) if a != axis]
    assert np.array_equal(out[:, axis], cloud[:, axis]) and np.array_equal(out[:, 3:], cloud[:, 3:])
    assert not np.allclose(out[:, flat], cloud[:, flat])
    np.testing.assert_allclose(np.linalg.norm(out[:, flat], axis=1), np.linalg.norm(cloud[:, flat], axis=1), rtol=1e-5)


def test_demo_data_is_z_up_and_its_training_pairs_keep_heights(tiny_demo):
    dataset = load_dataset(tiny_demo)
    assert dataset.index.up_axis == "z"
    table, pairs = _pairs(tiny_demo, up_axis=dataset.index.up_axis)
    pairs.jitter, pairs.scale_range = 0.0, (1.0, 1.0)
    pairs.set_epoch(1)
    sample = pairs[0]["points"].numpy()
    heights = np.sort(pairs.store.clouds[0][:, 2])
    assert np.all(np.isin(sample[:, 2], heights))  # every height is one of the cloud's own: no tumbling
