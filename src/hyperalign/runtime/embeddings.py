"""Write a split's shape and caption embeddings under a loaded model, optionally one shard of them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hyperalign.atomic import atomic_path, write_text_atomic
from hyperalign.data.pairs import CaptionTable, SplitView
from hyperalign.runtime.datasets import resolve_dataset
from hyperalign.runtime.loading import Retriever


def embed_split(
    retriever: Retriever, out: str | os.PathLike[str], split: str = "test", data: str | os.PathLike[str] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> Path:
    """Embed every shape and caption of ``split``; write ``out`` (.safetensors: ``shapes``, ``texts``) and a JSON
    sidecar ``out.json`` (shape ids, caption texts, curvature), both atomically.

    ``shard = (i, n)`` embeds only every n-th shape and caption starting at i, so n processes (one per shard, on one
    machine or many) embed a large collection in parallel; the sidecars name the shard.
    """
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: expected 0 <= i < n")
    from safetensors.torch import save_file

    dataset = resolve_dataset(retriever.cfg, data)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, split)
    texts = [table.texts[q] for q in view.query_ids][i::n]
    items = view.items[i::n]
    shapes = retriever.encode_points([dataset.load_points(it) for it in items])
    out = Path(out)
    with atomic_path(out) as tmp:
        save_file({"shapes": shapes.contiguous(), "texts": retriever.encode_text(texts).contiguous()}, str(tmp))
    sidecar = {
        "checkpoint": str(retriever.checkpoint), "split": split, "space": retriever.cfg.model.space.kind,
        "curvature": retriever.curvature(), "shard": [i, n], "shape_ids": [it.id for it in items], "texts": texts,
    }
    write_text_atomic(out.with_name(out.name + ".json"), json.dumps(sidecar, indent=2))
    return out
