"""The NumPy twins (:mod:`hyperalign.geometry.lorentz_numpy`) give what :mod:`hyperalign.geometry.lorentz` gives, to
a few ulps, in float32 and float64: random points from the origin out to distance 30, nearby pairs, pairs on one
ray, antipodal pairs and the origin, several curvatures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.geometry import lorentz_numpy as lnp


def _pairs(dtype: np.dtype, c: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of shape (5 * 64, 16): random, nearby (1e-4 apart), on one ray, the origin and a point, antipodal."""
    rng = np.random.default_rng(seed)
    n, d = 64, 16
    radii = rng.uniform(0.0, 30.0, size=(n, 1)) / np.sqrt(c)
    v = rng.normal(size=(n, d))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    x = np.sinh(np.sqrt(c) * radii) / np.sqrt(c) * v
    y = np.sinh(np.sqrt(c) * rng.uniform(0.0, 30.0, size=(n, 1)) / np.sqrt(c)) / np.sqrt(c) * rng.normal(size=(n, d))
    near = x + 1e-4 * np.abs(x).max(axis=1, keepdims=True) * rng.normal(size=(n, d))
    # on one ray, within distance 5 of the origin (farther out, rounding the common direction leaves a residue that
    # s_x s_y amplifies, in torch and NumPy alike, so the two round differently)
    inner = np.sinh(np.sqrt(c) * radii / 6.0) / np.sqrt(c) * v
    ray = inner * rng.uniform(0.2, 3.0, size=(n, 1))
    xs = np.concatenate([x, x, inner, np.zeros_like(x), x])
    ys = np.concatenate([y, near, ray, y, -x])
    return xs.astype(dtype), ys.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [0.1, 1.0, 2.7])
def test_numpy_formulas_equal_the_torch_ones(dtype, c):
    x, y = _pairs(np.dtype(dtype), c)
    eps = np.finfo(dtype).eps
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    checks = {
        "time_component": (lnp.time_component(x, c), lorentz.time_component(tx, c)),
        "mips_query": (lnp.mips_query(x, c), lorentz.mips_query(tx, c)),
        "dist": (lnp.dist(x, y, c), lorentz.dist(tx, ty, c)),
        "dist0": (lnp.dist0(y, c), lorentz.dist0(ty, c)),
    }
    for name, (got, want) in checks.items():
        assert got.dtype == dtype, name
        np.testing.assert_allclose(got, want.numpy(), rtol=16 * eps, atol=0, err_msg=name)


def test_numpy_dist_broadcasts_like_torch():
    x, y = _pairs(np.dtype(np.float32), 1.0)
    got = lnp.dist(x[:4, None, :], y[None, :7, :], 1.0)
    want = lorentz.dist(torch.from_numpy(x[:4, None, :]), torch.from_numpy(y[None, :7, :]), 1.0).numpy()
    assert got.shape == (4, 7)
    np.testing.assert_allclose(got, want, rtol=16 * np.finfo(np.float32).eps, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_pairwise_distances_equal_the_torch_ones(dtype):
    """The matrix form: equal up to the matrix product's rounding, which sums in another order (absolute error of
    ``-c<x, y>_L`` about ``eps c x_0 y_0``)."""
    x, y = _pairs(np.dtype(dtype), 1.0)
    x, y = x[:64] / 4, y[:48] / 4  # within distance ~27 of the origin
    got = lnp.pairwise_dist(x, y, 1.0)
    want = lorentz.pairwise_dist(torch.from_numpy(x), torch.from_numpy(y), 1.0).numpy()
    assert got.shape == (64, 48) and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=0)
    inner = lnp.pairwise_inner(x, y, 1.0)
    np.testing.assert_allclose(inner, lorentz.pairwise_inner(torch.from_numpy(x), torch.from_numpy(y), 1.0).numpy(),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)  # fmt: skip


def test_numpy_formulas_refuse_bad_curvature_and_integers():
    with pytest.raises(ValueError, match="curvature"):
        lnp.dist0(np.ones((1, 2), np.float32), 0.0)
    with pytest.raises(TypeError, match="floating-point"):
        lnp.dist0(np.ones((1, 2), np.int64), 1.0)
