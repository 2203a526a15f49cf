"""Text queries on a saved index without torch: tokenizers and ONNX Runtime embed the query, NumPy and FAISS search.

When an index is saved with a model whose text tower is frozen and exported to ONNX
(:func:`hyperalign.encoders.text_onnx.export_text_onnx`), :meth:`Index.save <hyperalign.runtime.index.Index.save>`
also writes ``text-query/``: ``text.onnx``, the model's text side after the tower (context encoder, aggregation,
embedding; :func:`hyperalign.runtime.export.write_text_query`), and ``query.json`` naming the tower's ONNX file, its
``tokenizer.json``, the truncation length and the weights it was exported from. A query is then
``tokens -> tower (ONNX) -> text side (ONNX) -> point`` and a :class:`~hyperalign.index.numpy_search.NumpyIndex`
search of the saved shapes or captions: the same ids as the torch path (:meth:`Index.search_text`), distances equal
to float32 rounding. :func:`text_query_ready` says whether an index directory can be searched this way (files present,
FAISS backend, onnxruntime / tokenizers / faiss installed); the CLI falls back to the torch path otherwise.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from hyperalign.encoders.text_ort import OrtTokenFeatures
from hyperalign.index.files import IndexFileError, read_format_json
from hyperalign.index.numpy_search import NumpyIndex
from hyperalign.runtime.records import FORMAT, INFO_FILE, RECORDS_FILE, Hit, read_records

QUERY_DIR = "text-query"
QUERY_FILE = "query.json"
HEAD_FILE = "text.onnx"
QUERY_FORMAT = "hyperalign-text-query/1"
_MODULES = ("onnxruntime", "tokenizers", "faiss")


def query_manifest(query_dir: Path) -> dict[str, Any] | None:
    """The ``query.json`` of a ``text-query/`` directory when it and every file it names exist and the runtime
    libraries are installed, else None."""
    try:
        manifest = json.loads((query_dir / QUERY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != QUERY_FORMAT or not (query_dir / HEAD_FILE).is_file():
        return None
    if not all(Path(str(manifest.get(key, ""))).is_file() for key in ("tower", "tokenizer")):
        return None
    return manifest if all(importlib.util.find_spec(m) is not None for m in _MODULES) else None


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


class TextEmbedder:
    """A model's text side from a ``text-query/`` directory: ``embed(text) -> (1, dim)`` float32 by ONNX Runtime."""

    def __init__(self, query_dir: Path) -> None:
        import onnxruntime

        manifest = query_manifest(query_dir)
        if manifest is None:
            raise IndexFileError(f"{query_dir / QUERY_FILE}: missing, incomplete or not of format {QUERY_FORMAT!r}")
        self.manifest = manifest
        self.features = OrtTokenFeatures(manifest["tokenizer"], manifest["tower"], int(manifest["max_tokens"]))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.head = onnxruntime.InferenceSession(str(query_dir / HEAD_FILE), options, providers=["CPUExecutionProvider"])

    def embed(self, text: str) -> np.ndarray:
        """The model's point for one query text, (1, dim) float32."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("query text must be a non-empty string")
        tokens, mask = self.features([text])
        (point,) = self.head.run(["embedding"], {"tokens": tokens, "mask": mask})
        return point


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
        self.shapes = NumpyIndex(directory / "shapes")
        self.captions = NumpyIndex(directory / "captions")
        self.items, self.caption_records = read_records(directory / RECORDS_FILE)
        if len(self.items) != len(self.shapes) or len(self.caption_records) != len(self.captions):
            raise IndexFileError(
                f"{directory / RECORDS_FILE}: lists {len(self.items)} items and {len(self.caption_records)} captions, "
                f"but the indexes hold {len(self.shapes)} and {len(self.captions)}"
            )

    def embed_text(self, text: str) -> np.ndarray:
        """The model's point for one query text, (1, dim) float32."""
        return self.embedder.embed(text)

    def search_text(self, text: str, k: int = 10, target: str = "shapes") -> list[Hit]:
        """The ``k`` shapes (or captions) nearest to a text query, nearest first (as :meth:`Index.search_text`)."""
        if target not in ("shapes", "captions"):
            raise ValueError(f"target must be 'shapes' or 'captions'; got {target!r}")
        index = self.shapes if target == "shapes" else self.captions
        dist, ids = index.search(self.embed_text(text), k)
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
