"""The generic dataset layout: a directory holding ``index.json`` and point files, validated at load.

``index.json`` (:class:`LayoutIndex`) lists ``levels`` from coarse to fine (the last is the items' own instance
level), a caption tree of :class:`Node` s, and :class:`Item` s pointing at point files relative to the root.
``up_axis`` names the clouds' vertical axis (default "y", as in Sweet Home 3D; the demo data is "z"):
training's random rotation turns the clouds about it.
Every problem is reported as one :class:`LayoutError` naming the index file, the item or node id and the field.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from hyperalign.atomic import write_text_atomic
from hyperalign.data.formats import read_point_cloud

FORMAT = "hyperalign-layout/1"
INDEX_NAME = "index.json"
SPLITS = ("train", "val", "test")


class LayoutError(ValueError):
    """An invalid dataset index; the message names the index file, the item/node id and the field."""


def _non_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty or whitespace-only")
    return text


NonBlank = Annotated[str, AfterValidator(_non_blank)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Node(_Strict):
    """A node of the caption hierarchy, e.g. ``chair`` (level category) > ``chair/armchair`` (level subtype)."""

    id: NonBlank
    parent: str | None = None
    level: str
    captions: list[NonBlank] = []


class Item(_Strict):
    """One shape: its point file (relative to the root), split, deepest tree node and its own captions."""

    id: NonBlank
    points: NonBlank
    split: Literal["train", "val", "test"]
    node: str | None = None
    captions: list[NonBlank] = []
    meta: dict[str, Any] = {}


class LayoutIndex(_Strict):
    """The content of ``index.json``."""

    format: Literal["hyperalign-layout/1"] = FORMAT
    name: NonBlank
    levels: list[NonBlank]
    channels: int = Field(3, strict=True)
    up_axis: Literal["x", "y", "z"] = "y"
    nodes: list[Node] = []
    items: list[Item] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _levels_unique(cls, levels: list[str]) -> list[str]:
        if not levels:
            raise ValueError("needs at least one level (the last one is the instance level)")
        if len(set(levels)) != len(levels):
            raise ValueError("levels must be distinct")
        return levels

    @field_validator("channels")
    @classmethod
    def _channels_known(cls, channels: int) -> int:
        if channels not in (3, 6):
            raise ValueError("must be 3 (xyz) or 6 (xyz+rgb)")
        return channels


@dataclass(frozen=True)
class CaptionRecord:
    """A caption with its granularity; ``node`` is None for the item's own (instance-level) caption."""

    text: str
    level: str
    node: str | None


class Dataset:
    """A validated layout rooted at ``root``; construction runs every cross-check (see :func:`load_dataset`)."""

    def __init__(self, root: str | os.PathLike[str], index: LayoutIndex, *, source: Path | None = None) -> None:
        self.root = Path(root)
        self.index = index
        _cross_check(index, self.root, source or self.root / INDEX_NAME)
        self._nodes = {node.id: node for node in index.nodes}

    def __repr__(self) -> str:
        return f"Dataset(name={self.index.name!r}, root={str(self.root)!r}, items={len(self.index.items)})"

    def items(self, split: str | None = None) -> list[Item]:
        """All items, or those of one split ('train', 'val', 'test')."""
        if split is None:
            return list(self.index.items)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None; got {split!r}")
        return [item for item in self.index.items if item.split == split]

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id``."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"dataset {self.index.name!r} has no node {node_id!r}") from None

    def ancestors(self, node_id: str) -> list[Node]:
        """The path from the tree root down to ``node_id``, both included."""
        chain = [self.node(node_id)]
        while chain[-1].parent is not None:
            chain.append(self._nodes[chain[-1].parent])
        return chain[::-1]

    def captions(self, item: Item) -> list[CaptionRecord]:
        """Node captions from coarse to fine along the item's ancestry, then the item's own captions."""
        records = []
        if item.node is not None:
            for node in self.ancestors(item.node):
                records += [CaptionRecord(text, node.level, node.id) for text in node.captions]
        records += [CaptionRecord(text, self.index.levels[-1], None) for text in item.captions]
        return records

    def points_path(self, item: Item) -> Path:
        """The item's point file, ``root / item.points`` (relative to the working directory if ``root`` is)."""
        return self.root / item.points

    def load_points(self, item: Item) -> np.ndarray:
        """(N, channels) float32 points of ``item``; 6 channels give grey for files without colour."""
        return read_point_cloud(self.points_path(item)).as_array(self.index.channels)


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Load and validate a dataset from its directory or its ``index.json``."""
    path = Path(path)
    index_path = path / INDEX_NAME if path.is_dir() else path
    if not index_path.is_file():
        raise LayoutError(f"{index_path}: no such file; expected a dataset directory holding {INDEX_NAME}")
    try:
        raw = json.loads(index_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LayoutError(f"{index_path}: not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise LayoutError(f"{index_path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    return Dataset(index_path.parent, _parse(raw, index_path), source=index_path)


def write_dataset(root: str | os.PathLike[str], index: LayoutIndex) -> Path:
    """Validate ``index`` against the files under ``root`` and write ``root/index.json`` atomically.

    Point files must exist already (write them first), so a written index never points at missing files.
    """
    root = Path(root)
    index_path = root / INDEX_NAME
    data = index.model_dump(mode="json")
    Dataset(root, _parse(data, index_path), source=index_path)  # re-parse: models may have been mutated
    write_text_atomic(index_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return index_path


def _parse(raw: Any, source: Path) -> LayoutIndex:
    try:
        return LayoutIndex.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe_error(err, raw) for err in exc.errors()]
        raise LayoutError(_report(source, lines)) from None


def _report(source: Path, problems: list[str], limit: int = 20) -> str:
    shown = problems[:limit] + ([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])
    return f"{source}: invalid dataset index:\n" + "\n".join(f"  - {p}" for p in shown)


def _describe_error(err: Any, raw: Any) -> str:
    """``items[3] (id 'x').captions[0]: <message> (got <input>)`` for one pydantic error."""
    loc = err["loc"]
    where = ""
    for i, part in enumerate(loc):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        if i == 1 and loc[0] in ("items", "nodes") and isinstance(part, int):
            where += _id_note(raw, loc[0], part)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] != "missing":
        message += f" (got {_short(err.get('input'))})"
    return f"{where or '(top level)'}: {message}"


def _id_note(raw: Any, key: str, position: int) -> str:
    try:
        entry = raw[key][position]
        return f" (id {entry['id']!r})" if isinstance(entry.get("id"), str) else ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cross_check(index: LayoutIndex, root: Path, source: Path) -> None:
    """Checks across fields: ids, references, tree shape and levels, point paths, captions; raises LayoutError."""
    problems = _check_ids(index)
    if not problems:
        problems = _check_tree(index)
    if not problems:
        problems = _check_items(index, root)
    if problems:
        raise LayoutError(_report(source, problems))


def _check_ids(index: LayoutIndex) -> list[str]:
    problems = []
    for key, entries in (("nodes", index.nodes), ("items", index.items)):
        first: dict[str, int] = {}
        for i, entry in enumerate(entries):
            if entry.id in first:
                problems.append(f"{key}[{i}] (id {entry.id!r}).id: duplicate of {key}[{first[entry.id]}]")
            first.setdefault(entry.id, i)
    return problems


def _check_tree(index: LayoutIndex) -> list[str]:
    nodes = {node.id: (i, node) for i, node in enumerate(index.nodes)}
    rank = {level: r for r, level in enumerate(index.levels)}
    problems = []
    for i, node in enumerate(index.nodes):
        where = f"nodes[{i}] (id {node.id!r})"
        if node.level not in rank or rank[node.level] == len(index.levels) - 1:
            problems.append(
                f"{where}.level: {node.level!r} is not a tree level; expected one of {index.levels[:-1]} "
                f"(the last level, {index.levels[-1]!r}, belongs to items)"
            )
        if node.parent is not None and node.parent not in nodes:
            problems.append(f"{where}.parent: unknown node {node.parent!r}")
    if problems:
        return problems
    for i, node in enumerate(index.nodes):
        seen = [node.id]
        parent = node.parent
        while parent is not None and parent not in seen:
            seen.append(parent)
            parent = nodes[parent][1].parent
        if parent is not None:
            cycle = " -> ".join(seen[seen.index(parent) :] + [parent])
            problems.append(f"nodes[{i}] (id {node.id!r}).parent: the tree has a cycle {cycle}")
            return problems
        if node.parent is not None and rank[nodes[node.parent][1].level] >= rank[node.level]:
            parent_level = nodes[node.parent][1].level
            problems.append(
                f"nodes[{i}] (id {node.id!r}).level: {node.level!r} must be finer than its parent's "
                f"level {parent_level!r} (levels run coarse to fine: {index.levels})"
            )
    return problems


def _check_items(index: LayoutIndex, root: Path) -> list[str]:
    nodes = {node.id: node for node in index.nodes}
    problems = []
    for i, item in enumerate(index.items):
        where = f"items[{i}] (id {item.id!r})"
        problem = _path_problem(item.points, root)
        if problem:
            problems.append(f"{where}.points: {problem}")
        if item.node is not None and item.node not in nodes:
            problems.append(f"{where}.node: unknown node {item.node!r}")
            continue
        if not item.captions and not _tree_has_caption(nodes, item.node):
            problems.append(f"{where}.captions: the item has no caption, neither its own nor from its node")
    return problems


def _path_problem(points: str, root: Path) -> str | None:
    if PurePosixPath(points).is_absolute() or PureWindowsPath(points).drive or points.startswith("\\"):
        return f"{points!r} is absolute; expected a path relative to the dataset root"
    if posixpath.normpath(points.replace("\\", "/")).split("/")[0] == "..":
        return f"{points!r} leaves the dataset root ('..'); expected a path inside it"
    if not (root / points).is_file():
        return f"{points!r}: no such file under {root}"
    return None


def _tree_has_caption(nodes: dict[str, Node], node_id: str | None) -> bool:
    while node_id is not None:
        if nodes[node_id].captions:
            return True
        node_id = nodes[node_id].parent
    return False
