"""Open-vocabulary queries for a WordNet-annotated dataset (Sweet Home 3D): real words the caption templates never
produce, each with the items it describes.

Sources, per item: the lemmas of the WordNet sense its name resolved to (``meta.wordnet.synset``; synonyms such as
"couch" for a sofa), the lemmas of the senses up to ``hypernym_depth`` hypernym steps above it (along every path:
"seat" for a chair) and the catalogue's tags (``meta.tags``) that WordNet knows as nouns. Only lemma names and
the hypernym structure are read; WordNet glosses and example sentences are never used.

A query describes every item whose sense is, or lies below, a sense the query's string came from, and every item
carrying the tag; queries are merged by their normalised text (lower case, words only, no leading article). Dropped:
texts equal, once normalised (:func:`normalise`: case, spacing, hyphens, possessives and a leading article
ignored), to a caption or room query the dataset's templates produce (so "arm-chair" goes: the templates write
"an armchair"), and texts describing more than ``max_fraction`` of the items ("furniture").

Each item name falls, by a seeded hash, into the ``tuning`` or the ``held_out`` part; a query is held out when every
name it was derived from is held out, else it is a tuning query. The held-out part is for reporting only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperalign.atomic import write_text_atomic
from hyperalign.data.layout import Dataset
from hyperalign.data.sweethome3d.classes import IGNORED_TAGS
from hyperalign.data.sweethome3d.text import room_query
from hyperalign.data.wordnet import Synset, WordNet

FORMAT = "hyperalign-open-queries/1"
PARTS = ("tuning", "held_out")
_ARTICLES = ("a", "an", "the")


class OpenQueryError(ValueError):
    """A query file or dataset that cannot be used; the message names the file or item and the field."""


@dataclass(frozen=True)
class OpenQuery:
    """One query: its text, part, the ids of the items it describes and where its words came from."""

    text: str
    part: str
    items: tuple[str, ...]
    sources: tuple[dict[str, Any], ...]
    in_caption_words: bool  # the words occur inside some template caption (as a phrase, not the whole caption)


@dataclass(frozen=True)
class OpenQuerySet:
    """The queries of one dataset with the settings and counts that made them."""

    dataset: str
    settings: dict[str, Any]
    excluded: dict[str, int]
    queries: tuple[OpenQuery, ...] = field(default_factory=tuple)

    def part(self, name: str) -> list[OpenQuery]:
        if name not in PARTS:
            raise ValueError(f"part must be one of {PARTS}; got {name!r}")
        return [q for q in self.queries if q.part == name]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "dataset": self.dataset, "settings": self.settings, "excluded": self.excluded,
                "counts": {p: len(self.part(p)) for p in PARTS},
                "queries": [{"text": q.text, "part": q.part, "items": list(q.items), "sources": list(q.sources),
                             "in_caption_words": q.in_caption_words} for q in self.queries]}


def normalise(text: str) -> str:
    """Comparison form, blind to case, spacing, hyphens and possessives: the lower-case letters and digits after a
    leading article, joined ("A Step-ladder" and "stepladder" -> "stepladder"; "baby's bed" -> "babybed")."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"'s\b", "", text.lower()))
    if len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return "".join(words)


def _words(text: str) -> str:
    """Word form for phrase containment: lower-case words, possessives dropped, single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", re.sub(r"'s\b", "", text.lower())))


def name_part(name: str, seed: int, held_out_fraction: float) -> str:
    """``held_out`` if ``sha256(f"{seed}:{normalised name}")`` read as a fraction of 2^256 is below the fraction."""
    digest = hashlib.sha256(f"{seed}:{normalise(name)}".encode()).digest()
    return "held_out" if int.from_bytes(digest, "big") / 2**256 < held_out_fraction else "tuning"


def template_texts(dataset: Dataset) -> list[str]:
    """Captions of every node and item, and the room queries of every item category."""
    texts = [c for node in dataset.index.nodes for c in node.captions]
    texts += [c for item in dataset.index.items for c in item.captions]
    categories = sorted({c for item in dataset.index.items if isinstance(c := item.meta.get("category"), str)})
    return texts + [room_query(c) for c in categories]


def build_open_queries(
    dataset: Dataset,
    wordnet: WordNet,
    *,
    seed: int = 0,
    held_out_fraction: float = 0.5,
    hypernym_depth: int = 1,
    max_fraction: float = 0.1,
) -> OpenQuerySet:
    """The open-vocabulary queries of ``dataset`` (items need ``meta.name``; ``meta.wordnet.synset`` and
    ``meta.tags`` where present); see the module docstring for the rules."""
    if not 0.0 < held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in (0, 1); got {held_out_fraction}")
    if hypernym_depth < 0 or not 0.0 < max_fraction <= 1.0:
        raise ValueError(f"need hypernym_depth >= 0 and max_fraction in (0, 1]; got {hypernym_depth}, {max_fraction}")
    items = dataset.index.items
    senses = {item.id: _item_sense(item.id, item.meta, wordnet) for item in items}
    below = {iid: {s.offset for s in wordnet.ancestors(sense)} if sense else set() for iid, sense in senses.items()}
    # normalised text -> display text, source synset offsets, tag-bearing item ids, source names, provenance
    found: dict[str, dict[str, Any]] = {}

    def note(text: str, name: str, source: dict[str, Any], offset: int | None = None,
             item_id: str | None = None) -> None:
        key = normalise(text)
        if not key:
            return
        entry = found.setdefault(key, {"text": text, "synsets": set(), "tagged": set(), "names": set(), "sources": {}})
        entry["names"].add(name)
        if offset is not None:
            entry["synsets"].add(offset)
        if item_id is not None:
            entry["tagged"].add(item_id)
        entry["sources"].setdefault(tuple(sorted(source.items())), set()).add(name)

    for item in items:
        name, sense = _item_name(item.id, item.meta), senses[item.id]
        if sense is not None:
            for depth, synset in _hypernym_levels(sense, wordnet, hypernym_depth):
                kind = "synonym" if depth == 0 else "hypernym"
                for lemma in synset.lemmas:
                    note(lemma.replace("_", " "), name, {"kind": kind, "synset": wordnet.name(synset), "depth": depth},
                         offset=synset.offset)
        for tag in _tags(item.id, item.meta):
            if tag.lower() not in IGNORED_TAGS and not tag.isdigit() and wordnet.lemmas(tag):
                note(tag.lower(), name, {"kind": "tag", "tag": tag}, item_id=item.id)

    texts = template_texts(dataset)
    templates, template_words = {normalise(t) for t in texts}, [f" {_words(t)} " for t in texts]
    limit = max_fraction * len(items)
    excluded = {"template_caption": 0, "too_broad": 0}
    queries = []
    for key, entry in sorted(found.items()):
        described = [it.id for it in items if below[it.id] & entry["synsets"] or it.id in entry["tagged"]]
        if key in templates:
            excluded["template_caption"] += 1
            continue
        if len(described) > limit:
            excluded["too_broad"] += 1
            continue
        parts = {name_part(n, seed, held_out_fraction) for n in entry["names"]}
        sources = tuple({**dict(k), "names": sorted(v)} for k, v in sorted(entry["sources"].items()))
        padded = f" {_words(entry['text'])} "
        queries.append(OpenQuery(entry["text"], "held_out" if parts == {"held_out"} else "tuning", tuple(described),
                                 sources, any(padded in t for t in template_words)))
    settings = {"seed": seed, "held_out_fraction": held_out_fraction, "hypernym_depth": hypernym_depth,
                "max_fraction": max_fraction, "wordnet": str(wordnet.root), "source": str(dataset.root),
                "items": len(items)}
    return OpenQuerySet(dataset.index.name, settings, excluded, tuple(queries))


def write_open_queries(path: str | os.PathLike[str], queries: OpenQuerySet) -> Path:
    """Write the query set as JSON (atomically); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(queries.to_json(), indent=1, ensure_ascii=False) + "\n")
    return path


def load_open_queries(path: str | os.PathLike[str]) -> OpenQuerySet:
    """Read a query file written by :func:`write_open_queries`; errors name the file and the field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise OpenQueryError(f"{path}: cannot read JSON: {e}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise OpenQueryError(f"{path}: format: expected {FORMAT!r}, got {raw.get('format') if isinstance(raw, dict) else raw!r}")
    queries = []
    for i, q in enumerate(raw.get("queries", [])):
        try:
            text, part, items = q["text"], q["part"], q["items"]
            if not isinstance(text, str) or not text.strip() or part not in PARTS or not items:
                raise ValueError(f"expected a non-blank text, part in {PARTS} and at least one item")
            queries.append(OpenQuery(text, part, tuple(map(str, items)), tuple(q.get("sources", ())),
                                     bool(q.get("in_caption_words", False))))
        except (KeyError, TypeError, ValueError) as e:
            raise OpenQueryError(f"{path}: queries[{i}]: {e}") from None
    return OpenQuerySet(str(raw.get("dataset", "")), dict(raw.get("settings", {})), dict(raw.get("excluded", {})),
                        tuple(queries))


def _item_name(item_id: str, meta: dict[str, Any]) -> str:
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise OpenQueryError(f"item {item_id!r}: meta.name: expected the catalogue name, got {name!r}")
    return name


def _item_sense(item_id: str, meta: dict[str, Any], wordnet: WordNet) -> Synset | None:
    info = meta.get("wordnet") or {}
    name = info.get("synset") if isinstance(info, dict) else None
    if name is None:
        return None
    try:
        return wordnet.sense(name)
    except KeyError as e:
        raise OpenQueryError(f"item {item_id!r}: meta.wordnet.synset: {e.args[0]}") from None


def _tags(item_id: str, meta: dict[str, Any]) -> Iterable[str]:
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise OpenQueryError(f"item {item_id!r}: meta.tags: expected a list of strings, got {tags!r}")
    return [t.strip() for t in tags if t.strip()]


def _hypernym_levels(sense: Synset, wordnet: WordNet, depth: int) -> list[tuple[int, Synset]]:
    """``(steps, synset)`` for the sense itself (0) and every synset up to ``depth`` hypernym steps above it."""
    out, level, seen = [(0, sense)], [sense], {sense.offset}
    for step in range(1, depth + 1):
        level = [wordnet.synset(o) for o in dict.fromkeys(o for s in level for o in s.hypernyms) if o not in seen]
        seen |= {s.offset for s in level}
        out += [(step, s) for s in level]
    return out
