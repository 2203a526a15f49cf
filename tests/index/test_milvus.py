"""The Milvus backend (embedded milvus-lite) returns exactly what the exact FAISS index returns on the same data."""

import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.index.lorentz_index import IndexFileError, LorentzIndex

pytest.importorskip("milvus_lite", reason="the Milvus backend test needs milvus-lite (pip install pymilvus milvus-lite)")

from hyperalign.index.milvus import MilvusLorentzIndex  # noqa: E402


def _points(n, dim, c, seed, scale=0.6):
    g = torch.Generator().manual_seed(seed)
    return lorentz.expmap0(torch.randn(n, dim, generator=g, dtype=torch.float64) * scale, c).float()


@pytest.mark.parametrize("curvature", [0.5, 2.0, None])
def test_results_equal_exact_faiss_index(tmp_path, curvature):
    dim, n = 16, 600
    data = _points(n, dim, curvature or 1.0, 0)
    queries = _points(25, dim, curvature or 1.0, 1)
    ids = np.arange(1000, 1000 + n)
    faiss_index = LorentzIndex(dim, curvature)
    faiss_index.add(data, ids)
    mv = MilvusLorentzIndex(str(tmp_path / "m.db"), "shapes", dim, curvature)
    mv.add(data, ids, metadata=[{"name": f"item-{i}"} for i in ids])
    assert len(mv) == n
    d1, i1 = faiss_index.search(queries, 10)
    d2, i2 = mv.search(queries, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-6, atol=1e-7)
    # and both equal brute force
    if curvature is not None:
        brute = lorentz.dist(queries.double()[:, None], data.double()[None], curvature).numpy()
        np.testing.assert_array_equal(ids[np.argsort(brute, axis=1, kind="stable")[:, :10]], i2)
    assert mv.metadata([1003, 1000]) == [{"name": "item-1003"}, {"name": "item-1000"}]
    mv.close()


def test_reopen_checks_curvature_and_width(tmp_path):
    uri = str(tmp_path / "m.db")
    mv = MilvusLorentzIndex(uri, "shapes", 8, 1.0)
    mv.add(_points(5, 8, 1.0, 0), np.arange(5))
    mv.close()
    again = MilvusLorentzIndex(uri, "shapes", 8, 1.0)
    assert len(again) == 5
    with pytest.raises(ValueError, match=r"ids: \[0"):
        again.add(_points(1, 8, 1.0, 2), [0])
    again.close()
    with pytest.raises(IndexFileError, match="curvature: built for c=1.0"):
        MilvusLorentzIndex(uri, "shapes", 8, 2.0)
    with pytest.raises(IndexFileError, match="width 8"):
        MilvusLorentzIndex(uri, "shapes", 9, 1.0)
    short = MilvusLorentzIndex(uri, "shapes", 8, 1.0)
    d, i = short.search(_points(2, 8, 1.0, 3), 7)
    assert (i[:, 5:] == -1).all() and np.isinf(d[:, 5:]).all() and (i[:, :5] >= 0).all()
    short.close()
