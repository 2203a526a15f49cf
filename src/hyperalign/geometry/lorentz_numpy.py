"""NumPy twins of the :mod:`hyperalign.geometry.lorentz` formulas a search needs, for code paths that do not import
torch (answering a text query from a saved index).

Each function mirrors the torch function of the same name operation for operation (same formula, same dtype
handling: float32 and float64 kept, half precision promoted to float32; same clamps from ``finfo`` of the working
dtype; ``c`` is cast to the working dtype first, as :func:`lorentz.curvature_tensor` does); see that function for the formula and its source. ``tests/geometry/test_lorentz_numpy.py`` checks that both
agree to a few ulps, near and far from the origin, in float32 and float64. ``c`` is a positive Python float.
"""

from __future__ import annotations

import math

import numpy as np


def as_float(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 (half precision promoted) or float64; as :func:`lorentz.as_float`."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"expected a floating-point array, got dtype {x.dtype}")
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _check(c: float) -> float:
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"curvature c must be finite and > 0 (the space has curvature -c); got {c}")
    return float(c)


def _safe_norm(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    sq = (x * x).sum(axis=-1, keepdims=keepdims)
    return np.sqrt(np.maximum(sq, np.finfo(x.dtype).tiny))


def time_component(x: np.ndarray, c: float) -> np.ndarray:
    """``x_0 = sqrt(1/c + ||x~||^2)`` (MERU Eq. 3); (..., n) -> (...)."""
    x, c = as_float(x), _check(c)
    return np.sqrt(x.dtype.type(1.0) / x.dtype.type(c) + (x * x).sum(axis=-1))


def mips_query(x: np.ndarray, c: float) -> np.ndarray:
    """``q -> [q_0, q~]`` (time-first), the query side of the MIPS reduction; (..., n) -> (..., n+1)."""
    x = as_float(x)
    return np.concatenate([time_component(x, c)[..., None], x], axis=-1)


def _half_z_minus_1(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    """``(z - 1) / 2`` with ``z = -c <x, y>_L``, by the law of cosines (see :func:`lorentz._half_z_minus_1`)."""
    one = x.dtype.type(1.0)
    sqrt_c = np.sqrt(x.dtype.type(c))
    nx = _safe_norm(x)
    ny = _safe_norm(y)
    swap = (ny > nx)[..., None]
    x, y = np.where(swap, y, x), np.where(swap, x, y)
    nx, ny = np.maximum(nx, ny), np.minimum(nx, ny)
    diff = x - y
    dn = (diff * (x + y)).sum(axis=-1) / (nx + ny)
    sx, sy = sqrt_c * nx, sqrt_c * ny
    delta = np.arcsinh(sqrt_c * dn * (sx + sy) / (sx * np.sqrt(one + sy * sy) + sy * np.sqrt(one + sx * sx)))
    u = x / nx[..., None]
    shorter = np.where((diff * diff).sum(axis=-1, keepdims=True) < (y * y).sum(axis=-1, keepdims=True), diff, y)
    sin_vec = (shorter - (shorter * u).sum(axis=-1, keepdims=True) * u) / ny[..., None]
    cos = (u * (y / ny[..., None])).sum(axis=-1)
    scaled = np.sqrt(x.dtype.type(0.5) * sx * sy / (one + np.maximum(cos, 0)))[..., None] * sin_vec
    angular = np.where(cos > 0, (scaled * scaled).sum(axis=-1), x.dtype.type(0.5) * sx * sy * (one - cos))
    return np.square(np.sinh(x.dtype.type(0.5) * delta)) + angular


def dist(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    """Geodesic distance ``(2 / sqrt(c)) asinh(sqrt((z - 1) / 2))`` (MERU Eq. 4); (..., n), (..., n) -> (...)."""
    x, c = as_float(x), _check(c)
    y = as_float(y).astype(x.dtype)
    x, y = np.broadcast_arrays(x, y)
    h = np.maximum(_half_z_minus_1(x, y, c), np.finfo(x.dtype).tiny)
    return x.dtype.type(2.0) / np.sqrt(x.dtype.type(c)) * np.arcsinh(np.sqrt(h))


def dist0(x: np.ndarray, c: float) -> np.ndarray:
    """Distance from the origin, ``asinh(sqrt(c) ||x~||) / sqrt(c)``; (..., n) -> (...)."""
    x, c = as_float(x), _check(c)
    sqrt_c = np.sqrt(x.dtype.type(c))
    return np.arcsinh(sqrt_c * _safe_norm(x)) / sqrt_c


def pairwise_inner(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    """All Minkowski inner products ``x~_i . y~_j - x_{i,0} y_{j,0}`` by one matrix product; (B, n), (N, n) -> (B, N)."""
    x, c = as_float(x), _check(c)
    y = as_float(y).astype(x.dtype)
    return x @ np.swapaxes(y, -1, -2) - time_component(x, c)[..., :, None] * time_component(y, c)[..., None, :]


def pairwise_dist(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    """All geodesic distances ``(2 / sqrt(c)) asinh(sqrt(c/2) sqrt(-<x_i, y_j>_L - 1/c))`` (the fast ranking form of
    :func:`lorentz.pairwise_dist`); (B, n), (N, n) -> (B, N)."""
    x, c = as_float(x), _check(c)
    c_t = x.dtype.type(c)
    half_chord_sq = np.maximum(-pairwise_inner(x, y, c) - x.dtype.type(1.0) / c_t, np.finfo(x.dtype).tiny)
    return x.dtype.type(2.0) / np.sqrt(c_t) * np.arcsinh(np.sqrt(x.dtype.type(0.5) * c_t * half_chord_sq))
