"""Reading a saved index without torch: its error type, its JSON metadata, its arrays and FAISS file, and the
final ordering of re-ranked candidates. Shared by the torch-based :class:`~hyperalign.index.lorentz_index.LorentzIndex`
and the NumPy query path (:mod:`hyperalign.index.numpy_search`), so both read and order alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

INDEX_FORMAT = "hyperalign-lorentz-index/1"  # the ``format`` of a saved index's meta.json
META_FILE = "meta.json"


class IndexFileError(ValueError):
    """A missing, corrupt or mismatched index; the message names the file (or collection) and the field."""


def faiss_module() -> Any:
    """The ``faiss`` module, imported on first use."""
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("hyperalign.index needs FAISS: pip install faiss-cpu") from e
    return faiss


def read_format_json(path: Path, fmt: str, written_by: str) -> dict[str, Any]:
    """The JSON mapping in ``path`` whose ``format`` is ``fmt``; :class:`IndexFileError` naming the file when it is
    missing (``written_by`` says what writes it), corrupt or of another format."""
    if not path.is_file():
        raise IndexFileError(f"{path}: no such file; expected an index directory written by {written_by}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IndexFileError(f"{path}: corrupt index metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise IndexFileError(f"{path}: format: expected {fmt!r}, got {found!r}")
    return meta


def load_array(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """The ``.npy`` array in ``path``, which must have ``dtype`` and ``shape`` (as the index metadata says)."""
    if not path.is_file():
        raise IndexFileError(f"{path}: missing; the index directory is incomplete")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IndexFileError(f"{path}: truncated or corrupt array file ({e})") from None
    if arr.dtype != dtype or arr.shape != shape:
        raise IndexFileError(f"{path}: expected {np.dtype(dtype)} {shape} as meta.json says, got {arr.dtype} {arr.shape}")
    return arr


def read_faiss(path: Path, width: int, count: int) -> Any:
    """The FAISS inner-product index in ``path``, holding ``count`` vectors of width ``width``."""
    faiss = faiss_module()
    try:
        loaded = faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexFileError(f"{path}: truncated or corrupt FAISS index ({str(e).splitlines()[0]})") from None
    if loaded.d != width or loaded.ntotal != count:
        raise IndexFileError(f"{path}: holds {loaded.ntotal} vectors of width {loaded.d}; meta.json says {count} of width {width}")
    if loaded.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexFileError(f"{path}: metric: expected inner product, got FAISS metric {loaded.metric_type}")
    return loaded


def nearest_candidates(d: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest exact distances ``d`` (Q, k') of each query's candidate ids (Q, k'; ``-1`` = none), ties
    by id: distances (Q, k) float32 ascending and ids (Q, k) int64, ``inf`` / ``-1`` where fewer exist."""
    n_q = candidates.shape[0]
    dist = np.full((n_q, k), np.inf, dtype=np.float32)
    ids = np.full((n_q, k), -1, dtype=np.int64)
    if n_q == 0 or candidates.shape[1] == 0:
        return dist, ids
    found = candidates >= 0
    d = np.where(found, d, np.float32(np.inf)).astype(np.float32)
    order_ids = np.where(found, candidates, np.iinfo(np.int64).max)
    order = np.lexsort((order_ids, d))[:, :k]
    top_d = np.take_along_axis(d, order, axis=1)
    top_ids = np.take_along_axis(order_ids, order, axis=1)
    m = top_d.shape[1]
    dist[:, :m] = top_d
    ids[:, :m] = np.where(np.isfinite(top_d), top_ids, -1)
    return dist, ids
