import pytest

from hyperalign.data.demo import make_demo


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """A small demo dataset: 6+ categories x 3+ sub-types x 3 shapes of 128 points."""
    root = tmp_path_factory.mktemp("tiny-demo")
    make_demo(root, shapes_per_subtype=3, n_points=128, seed=0)
    return root


@pytest.fixture
def tiny_overrides():
    """Config overrides for a seconds-long CPU run on ``tiny_demo``."""
    return _tiny_overrides


def _tiny_overrides(data_dir, cache_dir, epochs=3):
    return [
        f"data.path={data_dir}",
        f"cache_dir={cache_dir}",
        "data.points_per_cloud=64",
        "model.dim=32",
        "model.points.num_tokens=8",
        "model.points.k=8",
        "model.points.width=16",
        "model.points.dim=32",
        "model.context.heads=2",
        "model.context.layers=1",
        f"optim.epochs={epochs}",
        "optim.batch_size=16",
        "eval.every=1",
    ]
