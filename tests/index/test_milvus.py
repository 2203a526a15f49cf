"""What only the Milvus backend (embedded milvus-lite) has: a collection outside the index directory, checked on
open, created only over a collection this tool made, and missing or changed collections refused by name."""

import json

import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.index import IndexFileError, LorentzIndex, StoreSpec


def _points(n, dim, c, seed, scale=0.6):
    g = torch.Generator().manual_seed(seed)
    return lorentz.expmap0(torch.randn(n, dim, generator=g, dtype=torch.float64) * scale, c).float()


@pytest.mark.parametrize("curvature", [0.5, 2.0, None])
def test_results_equal_the_exact_faiss_index(milvus_uri, curvature):
    dim, n = 16, 600
    data = _points(n, dim, curvature or 1.0, 0)
    queries = _points(25, dim, curvature or 1.0, 1)
    ids = np.arange(1000, 1000 + n)
    faiss_index = LorentzIndex(dim, curvature)
    faiss_index.add(data, ids)
    name = f"equal_{str(curvature).replace('.', '_')}"
    mv = LorentzIndex(dim, curvature, store=StoreSpec(backend="milvus", uri=milvus_uri, collection=name))
    mv.add(data, ids)
    assert len(mv) == n and mv.backend == "milvus"
    d1, i1 = faiss_index.search(queries, 10)
    d2, i2 = mv.search(queries, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-6, atol=1e-7)
    if curvature is not None:  # and both equal brute force
        brute = lorentz.dist(queries.double()[:, None], data.double()[None], curvature).numpy()
        np.testing.assert_array_equal(ids[np.argsort(brute, axis=1, kind="stable")[:, :10]], i2)
    np.testing.assert_array_equal(mv.get([1003, 1000]), faiss_index.get([1003, 1000]))
    np.testing.assert_array_equal(mv.ids, ids)
    mv.close()


def test_reopen_checks_the_collection(milvus_uri, tmp_path):
    store = StoreSpec(backend="milvus", uri=milvus_uri, collection="reopen")
    mv = LorentzIndex(8, 1.0, store=store)
    mv.add(_points(5, 8, 1.0, 0), np.arange(5))
    mv.save(tmp_path / "ix")
    mv.close()
    assert json.loads((tmp_path / "ix" / "meta.json").read_text())["store"] == store.model_dump()
    again = LorentzIndex.load(tmp_path / "ix", 1.0, 8)
    assert len(again) == 5
    with pytest.raises(ValueError, match=r"ids: \[0"):
        again.add(_points(1, 8, 1.0, 2), [0])
    d, i = again.search(_points(2, 8, 1.0, 3), 7)
    assert (i[:, 5:] == -1).all() and np.isinf(d[:, 5:]).all() and (i[:, :5] >= 0).all()
    again.close()
    # the collection itself records its space: a directory claiming another curvature is caught there too
    meta = json.loads((tmp_path / "ix" / "meta.json").read_text())
    (tmp_path / "ix" / "meta.json").write_text(json.dumps({**meta, "curvature": 2.0}))
    with pytest.raises(IndexFileError, match="collection 'reopen': curvature: the index was built for c=1.0"):
        LorentzIndex.load(tmp_path / "ix", 2.0, 8)
    (tmp_path / "ix" / "meta.json").write_text(json.dumps({**meta, "count": 6}))
    with pytest.raises(IndexFileError, match="holds 5 points"):
        LorentzIndex.load(tmp_path / "ix", 1.0, 8)
    (tmp_path / "ix" / "meta.json").write_text(json.dumps({**meta, "store": {**meta["store"], "collection": "gone"}}))
    with pytest.raises(IndexFileError, match="collection 'gone': no such collection"):
        LorentzIndex.load(tmp_path / "ix", 1.0, 8)


def test_create_replaces_only_its_own_collections(milvus_uri):
    from pymilvus import MilvusClient

    client = MilvusClient(milvus_uri)
    client.create_collection("foreign", dimension=4)
    with pytest.raises(IndexFileError, match="collection 'foreign': not a hyperalign collection"):
        LorentzIndex(3, 1.0, store=StoreSpec(backend="milvus", uri=milvus_uri, collection="foreign"))
    assert client.has_collection("foreign")
    client.close()
    store = StoreSpec(backend="milvus", uri=milvus_uri, collection="rebuilt")
    first = LorentzIndex(3, 1.0, store=store)
    first.add(np.zeros((4, 3)))
    first.close()
    second = LorentzIndex(3, 1.0, store=store)  # a rebuild starts from an empty collection
    assert len(second) == 0
    second.close()


def test_store_spec_is_checked(tmp_path):
    with pytest.raises(ValueError, match="needs a uri"):
        StoreSpec(backend="milvus", collection="x")
    with pytest.raises(ValueError, match="expected a milvus-lite file ending in .db"):
        StoreSpec(backend="milvus", uri=str(tmp_path / "x.txt"), collection="x")
    with pytest.raises(ValueError, match="only the milvus backend"):
        StoreSpec(uri="http://localhost:19530")
    with pytest.raises(ValueError, match="collection"):
        StoreSpec(backend="milvus", uri="http://localhost:19530", collection="has space")
    assert StoreSpec(backend="milvus", uri="rel.db", collection="c").resolved().uri == str((tmp_path.cwd() / "rel.db").resolve())
