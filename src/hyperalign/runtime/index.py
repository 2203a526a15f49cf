"""The search facade: a trained model plus Lorentz indexes of a dataset's shapes and captions.

``Index.build(checkpoint, data)`` embeds every shape and every distinct caption with the model
(:mod:`hyperalign.runtime.loading`) and indexes both (:class:`~hyperalign.index.lorentz_index.LorentzIndex`, on FAISS by
default or on Milvus: :class:`~hyperalign.index.store.StoreSpec`);
``search_text`` / ``search_shape`` embed a query the same way and return ranked :class:`Hit` s with exact
distances; ``more_general`` / ``more_specific`` follow entailment cones (:mod:`hyperalign.index.hierarchy`).

Saved as a directory: ``index.json`` (format, model checkpoint and the sha256 of its ``weights.safetensors``, space
and curvature, backend, dataset root), ``records.json`` (items and captions), ``shapes/`` and ``captions/`` (the
two indexes; on Milvus, the collections ``<collection>_shapes`` and ``<collection>_captions``) and, on FAISS with a
frozen ONNX-exported text tower, ``text-query/`` (text queries without torch: :mod:`hyperalign.runtime.text_search`),
written atomically;
loading opens the backend recorded there. ``Index.load`` refuses a model whose weights or curvature differ from those recorded.
Item ids are only ever looked up in the records; point files are read from the recorded dataset root, and only
at paths inside it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hyperalign.atomic import atomic_directory, json_field_equals
from hyperalign.checkpoint import weights_sha256
from hyperalign.index import hierarchy
from hyperalign.index.lorentz_index import IndexFileError, IndexSpec, LorentzIndex, StoreSpec, read_format_json
from hyperalign.runtime.records import FORMAT, INFO_FILE, RECORDS_FILE, CaptionRecord, Hit, ItemRecord, read_records
from hyperalign.runtime.text_search import QUERY_DIR

if TYPE_CHECKING:
    from hyperalign.data.layout import Dataset
    from hyperalign.runtime.folder import FolderSearch
    from hyperalign.runtime.loading import Retriever

AUTO_FLAT_LIMIT = 100_000  # "auto" picks an exact flat index up to this many points, HNSW above
Target = Literal["shapes", "captions"]


def _caption_vectors(retriever: Retriever, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
    """Embedded captions (len(texts), dim); a frozen text tower's token features come from the model's feature cache
    (``cache_dir``, shared with training), so captions a run has seen are not run through the tower again;
    ``progress`` shows the tower's pass over the captions not cached yet."""
    import torch

    from hyperalign.runtime.features import caption_features

    if retriever.cfg.model.text.trainable or not texts:
        return retriever.encode_text(texts, batch_size=batch_size).numpy()
    features = caption_features(retriever.cfg, texts, retriever.tower, progress=progress)
    with torch.no_grad():
        rows = [retriever.model.embed_text_tokens(*features.batch(list(range(s, min(s + batch_size, len(texts))))))
                for s in range(0, len(texts), batch_size)]
    return torch.cat(rows).numpy()


def _auto_spec(spec: IndexSpec | None, n: int) -> IndexSpec:
    return spec if spec is not None else IndexSpec(kind="flat" if n <= AUTO_FLAT_LIMIT else "hnsw")


def _target_store(store: StoreSpec | None, target: Target) -> StoreSpec:
    """Where one target's points live: FAISS files, or the Milvus collection ``<collection>_<target>``."""
    if store is None or store.backend == "faiss":
        return StoreSpec()
    return store.model_copy(update={"collection": f"{store.collection}_{target}"})


class Index:
    """Searchable shapes and captions of one dataset under one model. Build with :meth:`build`, or :meth:`load`."""

    def __init__(
        self,
        retriever: Retriever,
        shapes: LorentzIndex,
        captions: LorentzIndex,
        items: list[ItemRecord],
        caption_records: list[CaptionRecord],
        info: dict[str, Any],
    ) -> None:
        self.retriever = retriever
        self.shapes = shapes
        self.captions = captions
        self.items = items
        self.caption_records = caption_records
        self.info = info
        self._row = {item.id: i for i, item in enumerate(items)}
        self._lock = threading.Lock()  # the text tokenizer and the towers are not safe for concurrent calls

    # ------------------------------------------------------------------ build / save / load
    @classmethod
    def build(
        cls,
        checkpoint: str | os.PathLike[str] | Retriever,
        data: str | os.PathLike[str] | None = None,
        *,
        spec: IndexSpec | None = None,
        store: StoreSpec | None = None,
        splits: Sequence[str] | None = None,
        batch_size: int = 64,
        log: Callable[[str], None] | None = None,
        progress: bool = False,
    ) -> Index:
        """Embed and index a dataset's shapes (all splits unless ``splits``) and their distinct captions.

        ``checkpoint``: run or checkpoint directory, or a loaded :class:`Retriever`; ``data``: dataset directory
        (default: the one the model was trained on); ``spec``: index kind and parameters (default: exact flat up to
        100k points, HNSW above); ``store``: backend (default FAISS; Milvus collections are ``<collection>_shapes``
        and ``<collection>_captions``); ``progress``: progress bars while shapes and captions are embedded.
        """
        from tqdm.auto import tqdm

        from hyperalign.encoders.text import TextTower
        from hyperalign.encoders.text_onnx import export_text_onnx
        from hyperalign.runtime.datasets import resolve_dataset
        from hyperalign.runtime.loading import Retriever, load

        say = log or (lambda msg: None)
        retriever = checkpoint if isinstance(checkpoint, Retriever) else load(checkpoint)
        dataset = resolve_dataset(retriever.cfg, data)
        chosen = [it for it in dataset.items() if splits is None or it.split in splits]
        if not chosen:
            raise ValueError(f"{dataset.root}: no items in splits {list(splits or [])}")
        items = [_item_record(dataset, it) for it in chosen]
        distinct: dict[str, CaptionRecord] = {}
        for record in items:
            for caption in record.captions:
                distinct.setdefault(caption.text, caption)
        caption_records = list(distinct.values())
        say(f"embedding {len(items)} shapes and {len(caption_records)} captions with {retriever.checkpoint}")

        def batches(total: int, desc: str) -> Any:
            return tqdm(range(0, total, batch_size), desc=desc, unit="batch", disable=not progress, leave=False)

        shape_vecs = np.concatenate(
            [
                retriever.encode_points([dataset.load_points(it) for it in chosen[s : s + batch_size]]).numpy()
                for s in batches(len(chosen), "embedding shapes")
            ]
        )
        text_vecs = _caption_vectors(retriever, [c.text for c in caption_records], batch_size, progress)
        if isinstance(retriever.tower, TextTower):  # later searches run the frozen tower by ONNX Runtime
            export_text_onnx(retriever.tower, retriever.cfg.cache_dir)
        c = retriever.curvature()
        dim = shape_vecs.shape[1]
        shapes = LorentzIndex(dim, c, _auto_spec(spec, len(items)), _target_store(store, "shapes"))
        shapes.add(shape_vecs)
        captions = LorentzIndex(dim, c, _auto_spec(spec, len(caption_records)), _target_store(store, "captions"))
        captions.add(text_vecs)
        info = {
            "format": FORMAT,
            "checkpoint": str(Path(retriever.checkpoint).resolve()),
            "weights_sha256": weights_sha256(retriever.checkpoint),
            "space": shapes.space,
            "curvature": c,
            "dim": dim,
            "backend": shapes.backend,
            "aperture_K": float(retriever.cfg.loss.aperture_K),
            "dataset": dataset.index.name,
            "dataset_root": str(Path(dataset.root).resolve()),
            "channels": dataset.index.channels,
            "up_axis": dataset.index.up_axis,
            "splits": sorted({it.split for it in items}),
        }
        say(f"indexed: {shapes!r}, {captions!r}")
        return cls(retriever, shapes, captions, items, caption_records, info)

    @classmethod
    def from_folder(cls, found: FolderSearch) -> Index:
        """An in-memory index over a searched folder's shapes (:class:`~hyperalign.runtime.folder.FolderSearch`):
        one item per readable file (id and point path = its path relative to the folder), no captions."""
        retriever = found.retriever
        c, dim = retriever.curvature(), int(found.index.embeddings.shape[1])
        shapes = LorentzIndex(dim, c, IndexSpec(kind="flat"))
        shapes.add(found.index.embeddings.numpy())
        captions = LorentzIndex(dim, c, IndexSpec(kind="flat"))
        items = [ItemRecord(id=f, points=f, split="folder", node=None, captions=[]) for f in found.index.files]
        info = {
            "format": FORMAT, "checkpoint": str(Path(retriever.checkpoint).resolve()),
            "weights_sha256": retriever.weights_sha256(), "space": shapes.space, "curvature": c, "dim": dim,
            "backend": shapes.backend, "aperture_K": float(retriever.cfg.loss.aperture_K),
            "dataset": f"folder {found.root}", "dataset_root": str(found.root), "channels": retriever.channels,
            "splits": ["folder"],
        }
        return cls(retriever, shapes, captions, items, [], info)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index directory atomically; an existing index there is replaced, anything else refused.

        An index is recognised by the ``format`` field of its ``index.json``, which only this method writes: a
        dataset directory also holds an ``index.json`` and is never replaced."""
        directory = Path(directory)
        records = {"items": [asdict(it) for it in self.items], "captions": [asdict(c) for c in self.caption_records]}
        with atomic_directory(directory, lambda p: json_field_equals(p / INFO_FILE, "format", FORMAT)) as tmp:
            self.shapes.save(tmp / "shapes")
            self.captions.save(tmp / "captions")
            if self.shapes.backend == "faiss" and self.captions.backend == "faiss":
                from hyperalign.runtime.query_export import write_text_query

                write_text_query(self.retriever, tmp / QUERY_DIR)
            (tmp / RECORDS_FILE).write_text(json.dumps(records, ensure_ascii=False) + "\n", encoding="utf-8")
            (tmp / INFO_FILE).write_text(json.dumps(self.info, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], checkpoint: str | os.PathLike[str] | None = None) -> Index:
        """Load a saved index with the model it records (or ``checkpoint``, which must be that same model)."""
        from hyperalign.runtime.loading import load

        directory = Path(directory)
        info = _read_info(directory / INFO_FILE)
        retriever = load(checkpoint if checkpoint is not None else info["checkpoint"])
        found = weights_sha256(retriever.checkpoint)
        if found != info["weights_sha256"]:
            raise IndexFileError(
                f"{directory / INFO_FILE}: weights_sha256: the index was built with the model at {info['checkpoint']} "
                f"(weights sha256 {info['weights_sha256'][:12]}...), but {retriever.checkpoint} has weights sha256 "
                f"{found[:12]}...; rebuild it with `hyperalign index build --checkpoint {retriever.checkpoint}`"
            )
        c, dim = retriever.curvature(), int(info["dim"])
        shapes = LorentzIndex.load(directory / "shapes", c, dim)
        captions = LorentzIndex.load(directory / "captions", c, dim)
        items, caption_records = read_records(directory / RECORDS_FILE)
        if len(items) != len(shapes) or len(caption_records) != len(captions):
            raise IndexFileError(
                f"{directory / RECORDS_FILE}: lists {len(items)} items and {len(caption_records)} captions, but the "
                f"indexes hold {len(shapes)} and {len(captions)}"
            )
        return cls(retriever, shapes, captions, items, caption_records, info)

    def close(self) -> None:
        """Release the backends' connections (Milvus)."""
        self.shapes.close()
        self.captions.close()

    # ------------------------------------------------------------------ queries
    @property
    def up_axis(self) -> str:
        """The indexed clouds' vertical axis, ``"x"``, ``"y"`` or ``"z"`` (the dataset's ``up_axis``; indexes built
        before it was recorded read it from the dataset, default ``"y"``)."""
        if "up_axis" not in self.info:
            self.info["up_axis"] = _dataset_up_axis(Path(self.info["dataset_root"]))
        return str(self.info["up_axis"])

    @property
    def hyperbolic(self) -> bool:
        return self.shapes.curvature is not None

    def _target(self, target: str) -> LorentzIndex:
        if target == "shapes":
            return self.shapes
        if target == "captions":
            return self.captions
        raise ValueError(f"target must be 'shapes' or 'captions'; got {target!r}")

    def embed_text(self, text: str) -> np.ndarray:
        """The model's point for one query text, (1, dim)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("query text must be a non-empty string")
        with self._lock:
            return self.retriever.encode_text([text]).numpy()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """The model's points for several query texts in one forward pass, (len(texts), dim)."""
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("query text must be a non-empty string")
        with self._lock:
            return self.retriever.encode_text(list(texts)).numpy()

    def embed_shape(self, cloud: str | os.PathLike[str] | np.ndarray, max_points: int = 2_000_000) -> np.ndarray:
        """The model's point for one point cloud (a file path of at most ``max_points`` points, or an (N, 3|6)
        array), (1, dim)."""
        from hyperalign.data.formats import read_point_cloud

        if isinstance(cloud, (str, os.PathLike)):
            cloud = read_point_cloud(cloud, max_points=max_points).as_array(self.retriever.channels)
        with self._lock:
            return self.retriever.encode_points([np.asarray(cloud, dtype=np.float32)]).numpy()

    def search_vector(self, vector: np.ndarray, k: int = 10, target: Target = "shapes") -> list[Hit]:
        """Nearest stored shapes or captions to an embedded point (1, dim)."""
        return self.search_vectors(vector, k, target)[0]

    def search_vectors(self, vectors: np.ndarray, k: int = 10, target: Target = "shapes") -> list[list[Hit]]:
        """Nearest stored shapes or captions to each of several embedded points (Q, dim), in one index search."""
        index = self._target(target)
        dist, ids = index.search(vectors, k)
        return [self._hits(index, d, i) for d, i in zip(dist, ids)]

    def search_text(self, text: str, k: int = 10, target: Target = "shapes") -> list[Hit]:
        """The ``k`` shapes (or captions) nearest to a text query, nearest first."""
        return self.search_vector(self.embed_text(text), k, target)

    def search_shape(
        self,
        cloud: str | os.PathLike[str] | np.ndarray,
        k: int = 10,
        target: Target = "captions",
        max_points: int = 2_000_000,
    ) -> list[Hit]:
        """The ``k`` captions (or shapes) nearest to a point cloud (file or array), nearest first."""
        return self.search_vector(self.embed_shape(cloud, max_points), k, target)

    def item(self, item_id: str) -> ItemRecord:
        """The record of an indexed shape; ``KeyError`` if the id is not in the index."""
        try:
            return self.items[self._row[item_id]]
        except KeyError:
            raise KeyError(f"no item {item_id!r} in this index") from None

    def item_points(self, item_id: str, max_points: int = 4096, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
        """xyz (M, 3) and rgb (M, 3) or None of an indexed shape, at most ``max_points`` (a seeded subsample)."""
        from hyperalign.data.formats import read_point_cloud

        record = self.item(item_id)
        root = Path(self.info["dataset_root"]).resolve()
        path = (root / record.points).resolve()
        if not path.is_relative_to(root):
            raise IndexFileError(f"{self.info['dataset_root']}: item {item_id!r} points outside the dataset root")
        cloud = read_point_cloud(path)
        keep = np.arange(len(cloud))
        if len(keep) > max_points:
            keep = np.sort(np.random.default_rng(seed).choice(len(keep), size=max_points, replace=False))
        return cloud.xyz[keep], None if cloud.rgb is None else cloud.rgb[keep]

    def more_general(self, item_id: str, k: int = 5, strict: bool = True) -> list[Hit]:
        """Captions and shapes nearer the origin whose entailment cone contains the item, nearest first; with
        ``strict=False`` the nearest misses follow, ranked by cone violation (Lorentz indexes only)."""
        return self._cone(item_id, k, strict, hierarchy.more_general)

    def more_specific(self, item_id: str, k: int = 5, strict: bool = True) -> list[Hit]:
        """Captions and shapes farther from the origin inside the item's entailment cone, nearest first; ``strict``
        as in :meth:`more_general`."""
        return self._cone(item_id, k, strict, hierarchy.more_specific)

    def _cone(self, item_id: str, k: int, strict: bool, fn: Callable[..., hierarchy.ConeHits]) -> list[Hit]:
        row = self._row.get(item_id)
        if row is None:
            raise KeyError(f"no item {item_id!r} in this index")
        query = self.shapes.get([row])
        K = self.info["aperture_K"]
        found = []
        for index, exclude in ((self.captions, None), (self.shapes, [row])):
            hits = fn(index, query, k, K, exclude=exclude, strict=strict)
            found += [
                (float(v), float(d), index, int(i))
                for v, d, i in zip(hits.violations[0], hits.distances[0], hits.ids[0])
                if i >= 0
            ]
        found.sort(key=lambda hit: hit[:2])
        return [
            replace(self._hit(rank, index, i, d), cone_violation=v)
            for rank, (v, d, index, i) in enumerate(found[:k], 1)
        ]

    def _hits(self, index: LorentzIndex, dist: np.ndarray, ids: np.ndarray) -> list[Hit]:
        found = ids[ids >= 0]
        general = hierarchy.generality(index, found) if index.curvature is not None and len(found) else None
        return [
            self._hit(rank, index, int(i), float(d), None if general is None else float(general[rank - 1]))
            for rank, (d, i) in enumerate(zip(dist[: len(found)], found), 1)
        ]

    def _hit(self, rank: int, index: LorentzIndex, i: int, distance: float, general: float | None = None) -> Hit:
        if general is None and index.curvature is not None:
            general = float(hierarchy.generality(index, [i])[0])
        if index is self.shapes:
            item = self.items[i]
            return Hit(rank, "shape", item.id, distance, item.title, None, general)
        caption = self.caption_records[i]
        return Hit(rank, "caption", f"caption:{i}", distance, caption.text, caption.level, general)


def _item_record(dataset: Dataset, item: Any) -> ItemRecord:
    meta = dict(item.meta)
    return ItemRecord(
        id=item.id,
        points=item.points,
        split=item.split,
        node=item.node,
        captions=[CaptionRecord(c.text, c.level) for c in dataset.captions(item)],
        license=_text_or_none(meta.get("license")),
        creator=_text_or_none(meta.get("creator")),
        meta=meta,
    )


def _dataset_up_axis(root: Path) -> str:
    """``up_axis`` of the dataset's ``index.json`` ("y" when the file or the field is missing or unreadable)."""
    try:
        axis = json.loads((root / "index.json").read_text(encoding="utf-8")).get("up_axis", "y")
    except (OSError, ValueError, AttributeError):
        return "y"
    return axis if axis in ("x", "y", "z") else "y"


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_info(path: Path) -> dict[str, Any]:
    info = read_format_json(path, FORMAT, "`hyperalign index build`")
    for key in ("checkpoint", "weights_sha256", "dim", "aperture_K", "dataset_root"):
        if key not in info:
            raise IndexFileError(f"{path}: {key}: missing")
    return info
