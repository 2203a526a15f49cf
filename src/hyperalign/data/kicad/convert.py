"""Conversion of the KiCad component libraries into the generic layout: one item per 3D model, described by every
footprint that uses it.

Tree levels, coarse to fine: ``library`` (``Package_SO``) > ``family`` (SOIC) > ``variant`` (SOIC-8) > ``instance``
(the footprints' own descriptions; a model shared by several footprints has one caption per distinct description,
so every one of them is a correct answer). The item sits under the family and variant of its main footprint (the
one named like the model, else the first). ``index.json`` holds a family-disjoint split (all items of a family on
one side, 70 / 10 / 20 within each library; the zero-shot protocol) and ``index-items.json`` an item split
stratified by library; both are seeded. Points: ``points/<Library>/<Model>.npy``, xyz + rgb, unit sphere, z up.

Models are sampled in worker processes while the package archive streams past, each cloud written atomically; a
cache file records what is done and what failed, so a rerun converts only what is missing and, when nothing is,
never opens the 379 MB archive. Every skipped footprint or model is listed in ``conversion-report.json`` with its
file and the reason.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from hyperalign.atomic import write_text_atomic
from hyperalign.data.kicad import sources
from hyperalign.data.kicad import text as txt
from hyperalign.data.kicad.footprints import Footprint, FootprintError, parse_footprint
from hyperalign.data.kicad.mesh import ModelStats, convert_model
from hyperalign.data.layout import Dataset, Item, LayoutIndex, Node, write_dataset
from hyperalign.data.splits import group_split, item_split

NAME = "kicad"
LEVELS = ("library", "family", "variant", "instance")
ITEM_INDEX = "index-items.json"
REPORT = "conversion-report.json"
CACHE = ".kicad-conversion-cache.json"
README = "README.md"
DEFAULT_DEBS = Path("hyperalign-data/debs")
LICENSE = "CC-BY-SA-4.0 WITH KiCad-libraries-exception"
LICENSE_NOTE = (
    "KiCad libraries, CC-BY-SA 4.0 with an exception: designs that use the library data (and files generated from "
    "them) need not be shared under the licence; redistributing the libraries or parts of them as a collection "
    "falls under CC-BY-SA 4.0 (https://www.kicad.org/libraries/license/)"
)
IN_FLIGHT_PER_WORKER = 4
# PyMeshLab's VRML importer never returns part of what it allocates (about 7x the file's size, measured; neither
# MeshSet.clear() nor malloc_trim gives it back: one worker reached 2.2 GB over a full run), so a worker is replaced
# after this many models. On the 100 largest models: 0.64 -> 0.32 GB per worker; a process start costs about 0.35 s.
MODELS_PER_WORKER = 20
CACHE_EVERY = 100
GENERIC_TAG_SHARE = 0.1


@dataclass
class _Model:
    key: str  # "<Library>.3dshapes/<Model>.wrl"
    footprints: list[Footprint] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)

    @property
    def item_id(self) -> str:
        folder, name = self.key.split("/")
        return f"{folder.removesuffix('.3dshapes')}/{name.removesuffix('.wrl')}"

    @property
    def main(self) -> Footprint:
        stem = self.key.split("/")[1].removesuffix(".wrl")
        return next((f for f in self.footprints if f.name == stem), self.footprints[0])


def convert_kicad(
    out_dir: str | os.PathLike[str],
    *,
    deb: Path | None = None,
    footprints: Path | None = None,
    debs_dir: Path = DEFAULT_DEBS,
    download: bool = False,
    n_points: int = 2048,
    seed: int = 0,
    limit: int | None = None,
    workers: int = 2,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Convert the KiCad 3D models into ``out_dir``; return the report (also written as JSON).

    ``deb`` / ``footprints``: the ``kicad-packages3d`` / ``kicad-footprints`` source, a ``.deb`` or a directory
    (default: the installed copy, else the newest ``<package>_*.deb`` in ``debs_dir``, fetched there with
    ``apt-get download`` when ``download`` is set). ``limit`` converts only the first N models (sorted by path).
    The run fails only when no model converts.
    """
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1; got {n_points}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None; got {limit}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    started = time.perf_counter()
    out = Path(out_dir)
    fp_source, model_source = _sources(deb, footprints, debs_dir, download)
    failures: list[dict[str, str]] = []
    models = _read_footprints(fp_source, failures)
    settings = {"points": n_points, "seed": seed}
    cache = _Cache.load(out / CACHE, settings, sources.identity(model_source))
    wanted = sorted(models)[:limit] if limit is not None else sorted(models)
    todo = [key for key in wanted if key not in cache.done or not (out / _points(models[key])).is_file()]
    todo = [key for key in todo if key not in cache.failed]
    if cache.listing is not None:
        todo = [key for key in todo if key in cache.listing]
    converted_now = 0
    if todo or cache.listing is None and limit is None:
        converted_now = _convert(model_source, out, models, todo, cache, settings, workers, progress, failures,
                                 complete_listing=limit is None)  # fmt: skip
    cache.save()
    failures += [{"model": k, "reason": r} for k, r in sorted(cache.failed.items()) if k in set(wanted)]
    if cache.listing is not None:
        absent = [k for k in wanted if k not in cache.listing]
        failures += [{"file": f.file, "model": k, "reason": "model absent: the package has no such .wrl file"}
                     for k in absent for f in models[k].footprints]  # fmt: skip
        if limit is None:
            failures += [{"model": k, "reason": "unreferenced: no footprint with a descr uses this model"}
                         for k in sorted(cache.listing - set(models))]  # fmt: skip
    done = [models[k] for k in wanted if k in cache.done and (out / _points(models[k])).is_file()]
    if not done:
        first = failures[0]["reason"] if failures else "no footprint references a 3D model"
        raise ValueError(f"{model_source}: no model could be converted; first failure: {first}")
    by_family, by_item = _indexes(done, cache, n_points, seed)
    write_dataset(out, by_family)
    _write_index(out / ITEM_INDEX, by_item)
    report = {
        "source": {"footprints": str(fp_source), "models": str(model_source)},
        "settings": {**settings, "limit": limit, "workers": workers},
        "items_converted": len(done),
        "models_converted_this_run": converted_now,
        "failures_by_reason": dict(Counter(_reason_kind(f["reason"]) for f in failures).most_common()),
        "statistics": _statistics(by_family, by_item),
        "seconds": round(time.perf_counter() - started, 1),
        "failures": failures,
    }
    write_text_atomic(out / REPORT, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(out / README, _readme(report))
    if log is not None and failures:
        log(f"{len(failures)} footprint(s) or model(s) skipped; reasons in {out / REPORT}")
    return report


def _sources(deb: Path | None, footprints: Path | None, debs_dir: Path, download: bool) -> tuple[Path, Path]:
    missing = [
        package
        for package, given, installed in (
            (sources.FOOTPRINT_PACKAGE, footprints, sources.INSTALLED_FOOTPRINTS),
            (sources.MODEL_PACKAGE, deb, sources.INSTALLED_MODELS),
        )
        if given is None and not installed.is_dir() and not any(debs_dir.glob(f"{package}_*.deb"))
    ]
    if download and missing:
        sources.download(tuple(missing), debs_dir)
    return (
        sources.locate(sources.FOOTPRINT_PACKAGE, footprints, debs_dir, sources.INSTALLED_FOOTPRINTS),
        sources.locate(sources.MODEL_PACKAGE, deb, debs_dir, sources.INSTALLED_MODELS),
    )


def _read_footprints(source: Path, failures: list[dict[str, str]]) -> dict[str, _Model]:
    """Models by key, each with the footprints that use it and have a non-empty cleaned descr."""
    models: dict[str, _Model] = {}
    for rel, data in sources.members(source, sources.FOOTPRINT_PACKAGE, ".kicad_mod"):
        try:
            footprint = parse_footprint(data or b"", rel)
        except FootprintError as exc:
            failures.append({"file": rel, "reason": f"unreadable footprint: {exc}"})
            continue
        if not footprint.models:
            continue
        caption = txt.instance_caption(footprint.descr, footprint.tags)
        if not caption:
            reason = "empty descr and tags" if not footprint.descr else "descr only links, no tags"
            failures.append({"file": rel, "reason": f"{reason} (descr {footprint.descr!r})"})
            continue
        for key in footprint.models:
            model = models.setdefault(key, _Model(key))
            model.footprints.append(footprint)
            if caption not in model.captions:
                model.captions.append(caption)
    return models


def _points(model: _Model) -> str:
    return f"points/{model.item_id}.npy"


@dataclass
class _Cache:
    """What earlier runs into the same directory did: converted models (with their statistics), failed models and
    the list of models in the package; tied to the sampling settings and to the package file."""

    path: Path
    settings: dict[str, Any]
    source: dict[str, Any]
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    listing: set[str] | None = None

    @classmethod
    def load(cls, path: Path, settings: dict[str, Any], source: dict[str, Any]) -> _Cache:
        if not path.is_file():
            return cls(path, settings, source)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: unreadable conversion cache ({exc}); move it away to convert afresh") from None
        if raw.get("settings") != settings:
            raise ValueError(
                f"{path}: the points in {path.parent} were sampled with {raw.get('settings')}, not {settings}; "
                "use another output directory"
            )
        same_source = raw.get("source") == source
        listing = raw.get("listing") if same_source else None
        return cls(path, settings, source, done=raw.get("done", {}),
                   failed=raw.get("failed", {}) if same_source else {},
                   listing=set(listing) if listing is not None else None)  # fmt: skip

    def save(self) -> None:
        data = {"settings": self.settings, "source": self.source, "done": self.done, "failed": self.failed,
                "listing": sorted(self.listing) if self.listing is not None else None}  # fmt: skip
        write_text_atomic(self.path, json.dumps(data, ensure_ascii=False) + "\n")


def _convert(
    source: Path,
    out: Path,
    models: dict[str, _Model],
    todo: list[str],
    cache: _Cache,
    settings: dict[str, Any],
    workers: int,
    progress: bool,
    failures: list[dict[str, str]],
    *,
    complete_listing: bool,
) -> int:
    """Stream the model source, sampling the ``todo`` models in ``workers`` processes; returns how many converted.

    The stream stops early once every model is in when the full listing is not needed. A corrupt archive ends the
    stream with a reported failure; models converted before it are kept.
    """
    remaining = set(todo)
    listing: set[str] = set()
    converted = 0
    bar = _bar(len(todo) if cache.listing is not None else None, progress)  # unknown: the package may lack some
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    pool = worker_pool(workers)
    pending: dict[Future[ModelStats], str] = {}

    def collect(block: bool) -> None:
        nonlocal converted
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED) if block else (
            [f for f in pending if f.done()], None)  # fmt: skip
        for future in finished:
            key = pending.pop(future)
            if future.cancelled():
                continue
            try:
                cache.done[key] = asdict(future.result())
                converted += 1
            except Exception as exc:  # one bad model must not end the run: any failure is reported and skipped
                cache.failed[key] = f"unreadable model: {' '.join(str(exc).split())}"
            bar.update(1)
            if (converted + len(cache.failed)) % CACHE_EVERY == 0:
                cache.save()

    complete = False
    try:
        for rel, data in sources.members(source, sources.MODEL_PACKAGE, ".wrl", remaining.__contains__):
            listing.add(rel)
            if data is not None:
                remaining.discard(rel)
                model = models[rel]
                target = out / _points(model)
                target.parent.mkdir(parents=True, exist_ok=True)
                item_seed = int(
                    np.random.SeedSequence([settings["seed"], zlib.crc32(rel.encode())]).generate_state(1)[0]
                )
                future = pool.submit(convert_model, data, rel, str(target), settings["points"], item_seed)
                pending[future] = rel
                while len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    collect(block=True)
                collect(block=False)
            if not remaining and not complete_listing:
                break
        else:
            complete = True
    except sources.SourceError as exc:
        failures.append({"file": str(source), "reason": f"corrupt or unreadable package: {exc}"})
    except BaseException:  # interrupted: drop queued models, keep those being sampled, save the cache, re-raise
        for future in pending:
            future.cancel()
        raise
    finally:
        while pending:
            collect(block=True)
        pool.shutdown()
        bar.close()
        cache.save()
    if complete:
        cache.listing = listing
    return converted


def worker_pool(workers: int, models_per_worker: int = MODELS_PER_WORKER) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each replaced after ``models_per_worker`` tasks (memory the VRML reader keeps
    is returned when its process ends)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                               max_tasks_per_child=models_per_worker)  # fmt: skip


def _bar(total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="sampling models", unit="model", disable=not enabled)


def _indexes(done: list[_Model], cache: _Cache, n_points: int, seed: int) -> tuple[LayoutIndex, LayoutIndex]:
    """The family-split and item-split indexes: same tree and items, different splits."""
    by_library: dict[str, list[Footprint]] = defaultdict(list)
    by_family: dict[tuple[str, str], list[Footprint]] = defaultdict(list)
    for model in done:
        for footprint in model.footprints:
            by_library[footprint.library].append(footprint)
        by_family[(model.main.library, txt.family_key(model.main.name))].append(model.main)
    generic = _generic_tag_words(by_library)
    nodes: dict[str, Node] = {}
    items = []
    for model in done:
        main = model.main
        family, variant = txt.family_key(main.name), txt.variant_key(main.name)
        library_id = main.library
        family_id = f"{library_id}/{family}"
        variant_id = f"{family_id}/{variant}"
        if library_id not in nodes:
            tags = [f.tags for f in by_library[library_id]]
            caption = txt.library_caption(library_id, tags, generic)
            nodes[library_id] = Node(id=library_id, level="library", captions=[caption])
        if family_id not in nodes:
            descrs = [txt.clean_descr(f.descr) for f in by_family[(library_id, family)]]
            caption = txt.family_caption(family, library_id, descrs)
            nodes[family_id] = Node(id=family_id, parent=library_id, level="family", captions=[caption])
        if variant_id not in nodes:
            caption = txt.variant_caption(variant, family, library_id)
            nodes[variant_id] = Node(id=variant_id, parent=family_id, level="variant", captions=[caption])
        meta = _meta(model, cache.done[model.key], n_points, seed)
        items.append(Item(id=model.item_id, points=_points(model), split="train", node=variant_id,
                          captions=model.captions, meta=meta))  # fmt: skip
    libraries = [item.node.split("/")[0] for item in items if item.node]
    families = [item.node.rpartition("/")[0] for item in items if item.node]
    by_family_split = group_split(families, libraries, seed)
    by_item_split = item_split(libraries, seed)
    node_list = list(nodes.values())
    return (
        LayoutIndex(name=NAME, levels=list(LEVELS), channels=6, up_axis="z", nodes=node_list,
                    items=[it.model_copy(update={"split": s}) for it, s in zip(items, by_family_split)]),
        LayoutIndex(name=f"{NAME}-items", levels=list(LEVELS), channels=6, up_axis="z", nodes=node_list,
                    items=[it.model_copy(update={"split": s}) for it, s in zip(items, by_item_split)]),
    )  # fmt: skip


def _generic_tag_words(by_library: dict[str, list[Footprint]]) -> frozenset[str]:
    """Tag words (case-folded) used in at least :data:`GENERIC_TAG_SHARE` of the libraries: too common to tell a
    library apart ("pin", "pitch", "series")."""
    counts = Counter(
        w for fps in by_library.values() for w in {w.casefold() for f in fps for w in txt.tag_words(f.tags)}
    )
    return frozenset(w for w, n in counts.items() if n >= GENERIC_TAG_SHARE * len(by_library) and len(by_library) > 4)


def _meta(model: _Model, stats: dict[str, Any], n_points: int, seed: int) -> dict[str, Any]:
    main = model.main
    return {
        "model": model.key,
        "library": main.library,
        "family": txt.family_key(main.name),
        "variant": txt.variant_key(main.name),
        "footprints": [f.file for f in model.footprints],
        "descr": [f.descr for f in model.footprints],
        "tags": [f.tags for f in model.footprints],
        "license": LICENSE,
        "license_note": LICENSE_NOTE,
        "size_mm": stats.get("size_mm"),
        "mesh_vertices": stats.get("vertices"),
        "mesh_faces": stats.get("faces"),
        "mesh_colours": stats.get("colours"),
        "points": n_points,
        "seed": seed,
        "up_axis": "z",
    }


def _write_index(path: Path, index: LayoutIndex) -> None:
    """Validate ``index`` against the files beside ``path`` and write it atomically (any index file name)."""
    data = index.model_dump(mode="json")
    Dataset(path.parent, LayoutIndex.model_validate(data), source=path)
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _reason_kind(reason: str) -> str:
    return reason.split(":")[0].split(" (")[0]


def _statistics(by_family: LayoutIndex, by_item: LayoutIndex) -> dict[str, Any]:
    """Counts for the report: items, nodes and captions per level, depth, multi-positive items, split sizes."""
    captions: dict[str, list[str]] = {level: [] for level in by_family.levels}
    for node in by_family.nodes:
        captions[node.level] += node.captions
    instance = [c for item in by_family.items for c in item.captions]
    captions[by_family.levels[-1]] += instance
    return {
        "items": len(by_family.items),
        "points_per_item": by_family.items[0].meta.get("points"),
        "nodes_per_level": {lv: sum(n.level == lv for n in by_family.nodes) for lv in by_family.levels[:-1]},
        "tree_depth": len(by_family.levels),
        "captions_per_level": {lv: len(texts) for lv, texts in captions.items()},
        "distinct_captions_per_level": {lv: len(set(texts)) for lv, texts in captions.items()},
        "items_with_several_instance_captions": sum(len(item.captions) > 1 for item in by_family.items),
        "items_with_several_footprints": sum(len(item.meta["footprints"]) > 1 for item in by_family.items),
        "family_split": _split_counts(by_family, "family"),
        "item_split": _split_counts(by_item, "family"),
    }


def _split_counts(index: LayoutIndex, group: str) -> dict[str, Any]:
    counts = Counter(item.split for item in index.items)
    train = {(item.meta["library"], item.meta[group]) for item in index.items if item.split == "train"}
    out: dict[str, Any] = {split: counts.get(split, 0) for split in ("train", "val", "test")}
    for split in ("val", "test"):
        members = [item for item in index.items if item.split == split]
        unseen = sum((item.meta["library"], item.meta[group]) not in train for item in members)
        out[f"{split}_items_with_unseen_{group}"] = unseen
    return out


def _readme(report: dict[str, Any]) -> str:
    stats = report["statistics"]
    nodes = stats["nodes_per_level"]
    fam, it = stats["family_split"], stats["item_split"]
    return f"""# KiCad 3D component models (hyperalign layout)

Converted by `hyperalign data kicad` from the Debian packages `kicad-packages3d` (the 3D models, VRML `.wrl`) and
`kicad-footprints` (descriptions and tags), sources: `{report["source"]["models"]}`, `{report["source"]["footprints"]}`.

- {stats["items"]} items, one per 3D model, {stats["points_per_item"]} points each (xyz + rgb, unit sphere, z up;
  the model's size in millimetres is in each item's `meta.size_mm`).
- Levels: library ({nodes["library"]}) > family ({nodes["family"]}) > variant ({nodes["variant"]}) > instance (the
  footprints' descriptions and tags without links and generator notes).
- `index.json`: family-disjoint split (train {fam["train"]}, val {fam["val"]}, test {fam["test"]});
  `index-items.json`: item split (train {it["train"]}, val {it["val"]}, test {it["test"]}).
- `conversion-report.json`: settings, statistics and every skipped footprint or model with the reason.

## Licence

The KiCad libraries are licensed under CC-BY-SA 4.0 with an exception: to the extent that electronic designs using
the library data are adapted material, the copyright holders waive article 3 of the licence for those designs and
files generated from them. The exception does not apply to redistributing the libraries, or parts of them, as a
collection: this converted dataset is such a collection and stays under CC-BY-SA 4.0 (attribution: the KiCad
library contributors, https://gitlab.com/kicad/libraries). Each item's `meta.license` says `{LICENSE}`.
"""
