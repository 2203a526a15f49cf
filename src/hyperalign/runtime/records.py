"""What an index directory records besides its vectors, readable without torch: the file names and format of the
search facade's index directory (:class:`hyperalign.runtime.index.Index`), the indexed items and captions
(``records.json``) and the :class:`Hit` a search returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hyperalign.index.files import IndexFileError

FORMAT = "hyperalign-index/1"
INFO_FILE = "index.json"
RECORDS_FILE = "records.json"


@dataclass(frozen=True)
class CaptionRecord:
    """A distinct caption text and its granularity level (coarse levels describe many shapes)."""

    text: str
    level: str


@dataclass(frozen=True)
class ItemRecord:
    """An indexed shape: dataset id, point file relative to the dataset root, split, tree node, captions (coarse to
    fine, with levels), and licence / creator from the item's metadata (None when absent)."""

    id: str
    points: str
    split: str
    node: str | None
    captions: list[CaptionRecord]
    license: str | None = None
    creator: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The finest caption: what the page and tables show for this shape."""
        return self.captions[-1].text if self.captions else self.id


@dataclass(frozen=True)
class Hit:
    """One ranked result. ``id``: the item id (shapes) or ``caption:<n>`` (captions); ``distance``: exact distance to
    the query (Lorentz, or ``1 - cos``); ``generality``: distance from the origin (Lorentz only; smaller = more
    general); ``cone_violation``: for hierarchy results, radians outside the entailment cone (0 = inside)."""

    rank: int
    kind: Literal["shape", "caption"]
    id: str
    distance: float
    text: str
    level: str | None
    generality: float | None
    cone_violation: float | None = None


def read_records(path: Path) -> tuple[list[ItemRecord], list[CaptionRecord]]:
    """The items and distinct captions of an index's ``records.json``; :class:`IndexFileError` naming the file."""
    if not path.is_file():
        raise IndexFileError(f"{path}: missing; the index directory is incomplete")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        items = [
            ItemRecord(**{**it, "captions": [CaptionRecord(**c) for c in it["captions"]]}) for it in raw["items"]
        ]
        captions = [CaptionRecord(**c) for c in raw["captions"]]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise IndexFileError(f"{path}: corrupt item records ({type(e).__name__}: {e})") from None
    return items, captions
