"""Dynamic batching of concurrent text queries, as text-embedding servers (TEI, Triton) do.

Requests wait in a queue; one worker thread takes the first, gathers whatever else arrives within ``max_wait_ms``
(at most ``max_batch`` requests), embeds the distinct texts missing from a bounded LRU cache in one forward pass,
and searches the index once per (target, k) group of the batch. Each request gets the hits the unbatched
:meth:`Index.search_text` would give (the same embedding up to float rounding of the batched matrix products, the
same index search). Nothing here is unbounded: the queue waits for the worker, the batch and the cache have sizes.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from hyperalign.runtime.index import Hit, Index


@dataclass(frozen=True)
class BatchSettings:
    """Largest batch, longest wait for a batch to fill (ms), and query embeddings kept in the LRU cache."""

    max_batch: int = 64
    max_wait_ms: float = 4.0
    cache_size: int = 4096

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_wait_ms < 0 or self.cache_size < 0:
            raise ValueError(f"batch settings: max_batch >= 1, max_wait_ms >= 0, cache_size >= 0; got {self}")


@dataclass
class _Request:
    text: str
    k: int
    target: str
    future: Future[list[Hit]]


class EmbeddingCache:
    """Least-recently-used map from query text to its embedding (dim,), at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, text: str) -> np.ndarray | None:
        row = self._rows.get(text)
        if row is not None:
            self._rows.move_to_end(text)
        return row

    def put(self, text: str, row: np.ndarray) -> None:
        if self.size == 0:
            return
        self._rows[text] = row
        self._rows.move_to_end(text)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._rows)


class TextQueryBatcher:
    """Groups concurrent :meth:`search` calls into batched forward passes and index searches (see the module)."""

    def __init__(self, index: Index, settings: BatchSettings | None = None) -> None:
        self.index = index
        self.settings = settings or BatchSettings()
        self.cache = EmbeddingCache(self.settings.cache_size)
        self.batches = 0  # forward passes / search rounds run, for tests and monitoring
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, text: str, k: int, target: str = "shapes") -> Future[list[Hit]]:
        """Queue a text query; the future resolves to its hits (or the error the search raised)."""
        self._ensure_worker()
        request = _Request(text, k, target, Future())
        self._queue.put(request)
        return request.future

    async def search(self, text: str, k: int, target: str = "shapes") -> list[Hit]:
        """Await the hits of one text query, batched with whatever else is in flight."""
        return await asyncio.wrap_future(self.submit(text, k, target))

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="hyperalign-text-batcher", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.settings.max_wait_ms / 1000.0
            stop = False
            while len(batch) < self.settings.max_batch:
                try:
                    request = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if request is None:
                    stop = True
                    break
                batch.append(request)
            self._serve(batch)
            if stop:
                return

    def _serve(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        try:
            vectors = self._embed([r.text for r in live])
            groups: dict[tuple[str, int], list[int]] = {}
            for i, r in enumerate(live):
                groups.setdefault((r.target, r.k), []).append(i)
            for (target, k), members in groups.items():
                found = self.index.search_vectors(np.stack([vectors[live[i].text] for i in members]), k, target)
                for i, hits in zip(members, found):
                    live[i].future.set_result(hits)
            self.batches += 1
        except Exception as e:  # every waiting request learns why its search failed
            for r in live:
                if not r.future.done():
                    r.future.set_exception(e)

    def _embed(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Embeddings (dim,) of the distinct ``texts``: cached ones reused, the rest in one forward pass."""
        out: dict[str, np.ndarray] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            row = self.cache.get(text)
            if row is None:
                missing.append(text)
            else:
                out[text] = row
        if missing:
            for text, row in zip(missing, self.index.embed_texts(missing)):
                self.cache.put(text, row)
                out[text] = row
        return out
