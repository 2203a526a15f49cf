"""Text queries on a saved index without torch: tokenizers and ONNX Runtime embed the query and compute every
distance, FAISS proposes candidates, NumPy orders them.

When an index is saved with a model whose text tower is frozen and exported to ONNX
(:func:`hyperalign.encoders.text_onnx.export_text_onnx`), :meth:`Index.save <hyperalign.runtime.index.Index.save>`
also writes ``text-query/`` (:func:`hyperalign.runtime.query_export.write_text_query`): the model's text side after
the tower and the search's distances as ONNX graphs traced from the torch path's own functions, and ``query.json``
naming the tower's ONNX file, its ``tokenizer.json``, the truncation length and the weights they were exported from.
A query is then ``tokens -> tower (ONNX) -> text side (ONNX) -> point and search form``, and a
:class:`~hyperalign.index.numpy_search.NumpyIndex` search of the saved shapes or captions that re-ranks with
``rerank.onnx``: the same ids as the torch path (:meth:`Index.search_text`), distances equal to float32 rounding.
:func:`text_query_ready` says whether an index directory can be searched this way (files present, FAISS backend,
onnxruntime / tokenizers / faiss installed); the CLI falls back to the torch path otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hyperalign.encoders.text_ort import OrtTokenFeatures
from hyperalign.index.files import IndexFileError, read_format_json
from hyperalign.index.numpy_search import NumpyIndex
from hyperalign.runtime.records import FORMAT, INFO_FILE, RECORDS_FILE, Hit, read_records

QUERY_DIR = "text-query"
QUERY_FILE = "query.json"
HEAD_FILE = "text.onnx"
RERANK_FILE = "rerank.onnx"
PAIRWISE_FILE = "pairwise.onnx"
GENERALITY_FILE = "generality.onnx"
QUERY_FORMAT = "hyperalign-text-query/2"
_MODULES = ("onnxruntime", "tokenizers", "faiss")


def query_manifest(query_dir: Path) -> dict[str, Any] | None:
    """The ``query.json`` of a ``text-query/`` directory when it and every file it names exist and the runtime
    libraries are installed, else None."""
    try:
        manifest = json.loads((query_dir / QUERY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != QUERY_FORMAT:
        return None
    graphs = (HEAD_FILE, RERANK_FILE, PAIRWISE_FILE) + ((GENERALITY_FILE,) if manifest.get("curvature") else ())
    if not all((query_dir / g).is_file() for g in graphs):
        return None
    if not all(Path(str(manifest.get(key, ""))).is_file() for key in ("tower", "tokenizer")):
        return None
    return manifest if all(importlib.util.find_spec(m) is not None for m in _MODULES) else None


def is_text_query_dir(path: Path) -> bool:
    """True when ``path`` holds a ``query.json`` of any version of this format (what a rewrite may replace)."""
    try:
        found = json.loads((path / QUERY_FILE).read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(found, str) and found.startswith(QUERY_FORMAT.split("/")[0] + "/")


def session(path: Path) -> Any:
    """An ONNX Runtime session of the graph in ``path``, on one CPU thread."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def text_query_ready(directory: str | Path) -> bool:
    """True when the index in ``directory`` answers text queries without torch: its ``text-query/`` files and the
    tower's ONNX file and tokenizer exist, both targets are FAISS indexes, and the runtime libraries are installed."""
    directory = Path(directory)
    if query_manifest(directory / QUERY_DIR) is None:
        return False
    for target in ("shapes", "captions"):
        try:
            meta = json.loads((directory / target / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(meta, dict) or (meta.get("store") or {}).get("backend", "faiss") != "faiss":
            return False
    return True


class QueryForms(NamedTuple):
    """A text query as the model embeds it, ``point`` (1, d), as an index compares it, ``query`` (1, d), and as an
    inner-product index is searched with it, ``search`` (1, width); float32."""

    point: np.ndarray
    query: np.ndarray
    search: np.ndarray


class TextEmbedder:
    """A model's text side from a ``text-query/`` directory: ``embed(text)`` gives its :class:`QueryForms`."""

    def __init__(self, query_dir: Path) -> None:
        manifest = query_manifest(query_dir)
        if manifest is None:
            raise IndexFileError(f"{query_dir / QUERY_FILE}: missing, incomplete or not of format {QUERY_FORMAT!r}")
        self.manifest = manifest
        self.features = OrtTokenFeatures(manifest["tokenizer"], manifest["tower"], int(manifest["max_tokens"]))
        self.head = session(query_dir / HEAD_FILE)

    def embed(self, text: str) -> QueryForms:
        """The model's point for one query text and its forms in an index."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("query text must be a non-empty string")
        tokens, mask = self.features([text])
        return QueryForms(*self.head.run(["embedding", "query", "search"], {"tokens": tokens, "mask": mask}))


class TextSearch:
    """A saved index answering text queries with ONNX Runtime and NumPy (see the module docstring)."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.info = read_format_json(directory / INFO_FILE, FORMAT, "`hyperalign index build`")
        self.embedder = TextEmbedder(directory / QUERY_DIR)
        if self.embedder.manifest.get("weights_sha256") != self.info.get("weights_sha256"):
            raise IndexFileError(
                f"{directory / QUERY_DIR / QUERY_FILE}: weights_sha256: the text query files belong to another model "
                f"than {INFO_FILE}"
            )
        query_dir = directory / QUERY_DIR
        rerank = session(query_dir / RERANK_FILE)
        general: Any = session(query_dir / GENERALITY_FILE) if self.embedder.manifest.get("curvature") else None

        def exact(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
            return rerank.run(["distance"], {"query": query, "candidates": candidates})[0]

        def origin_distance(points: np.ndarray) -> np.ndarray:
            return general.run(["generality"], {"points": points})[0]

        generality = None if general is None else origin_distance
        self.shapes = NumpyIndex(directory / "shapes", exact, generality)
        self.captions = NumpyIndex(directory / "captions", exact, generality)
        c = self.embedder.manifest.get("curvature")
        for index in (self.shapes, self.captions):
            if (index.curvature is None) != (c is None) or not math.isclose(index.curvature or 0.0, c or 0.0, rel_tol=1e-6):
                raise IndexFileError(
                    f"{query_dir / QUERY_FILE}: curvature: the text query files compute with c={c!r}, but the index "
                    f"holds c={index.curvature!r}"
                )
        self.items, self.caption_records = read_records(directory / RECORDS_FILE)
        if len(self.items) != len(self.shapes) or len(self.caption_records) != len(self.captions):
            raise IndexFileError(
                f"{directory / RECORDS_FILE}: lists {len(self.items)} items and {len(self.caption_records)} captions, "
                f"but the indexes hold {len(self.shapes)} and {len(self.captions)}"
            )

    def embed_text(self, text: str) -> np.ndarray:
        """The model's point for one query text, (1, dim) float32."""
        return self.embedder.embed(text).point

    def search_text(self, text: str, k: int = 10, target: str = "shapes") -> list[Hit]:
        """The ``k`` shapes (or captions) nearest to a text query, nearest first (as :meth:`Index.search_text`)."""
        if target not in ("shapes", "captions"):
            raise ValueError(f"target must be 'shapes' or 'captions'; got {target!r}")
        index = self.shapes if target == "shapes" else self.captions
        forms = self.embedder.embed(text)
        dist, ids = index.search(forms.query, forms.search, k)
        found = ids[0][ids[0] >= 0]
        general = index.generality(found) if index.curvature is not None and len(found) else None
        hits = []
        for rank, (d, i) in enumerate(zip(dist[0][: len(found)], found), 1):
            g = None if general is None else float(general[rank - 1])
            if target == "shapes":
                item = self.items[int(i)]
                hits.append(Hit(rank, "shape", item.id, float(d), item.title, None, g))
            else:
                caption = self.caption_records[int(i)]
                hits.append(Hit(rank, "caption", f"caption:{int(i)}", float(d), caption.text, caption.level, g))
        return hits

    def close(self) -> None:
        """Nothing to release (everything is in memory); for symmetry with :meth:`Index.close`."""
