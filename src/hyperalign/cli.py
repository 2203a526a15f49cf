"""The ``hyperalign`` command line: one entry point, thin subcommands that call the library.

User errors (bad config, missing or corrupt file, mismatched checkpoint) print one ``error:`` line naming the file and
the field, and exit with code 2; no traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from hyperalign import __version__

app = typer.Typer(
    name="hyperalign",
    help="Hierarchical text <-> 3D point cloud retrieval in hyperbolic (Lorentz) space.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help and usage errors: importing rich costs about 0.5 s per call
)
data_app = typer.Typer(help="Make or convert datasets.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")

F = TypeVar("F", bound=Callable[..., Any])


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is one of the library's user-facing errors: ConfigError, CheckpointError, LayoutError,
    PointCloudError, IndexFileError, ... all derive from ValueError (or FileNotFoundError), so a usage error imports
    none of the modules that define them; a diverged run (``NonFiniteLossError``, a FloatingPointError) is checked
    against the trainer's class only when one occurs."""
    if isinstance(error, (FileNotFoundError, ValueError)):
        return True
    if isinstance(error, FloatingPointError):
        from hyperalign.train.loop import NonFiniteLossError

        return isinstance(error, NonFiniteLossError)
    return False


def friendly_errors(fn: F) -> F:
    """Turn the library's user-facing errors into one ``error:`` line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if not is_user_error(e):
                raise
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hyperalign {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Train, evaluate and serve hyperbolic text <-> point cloud retrieval models."""


def _require(extra: str, *modules: str) -> None:
    """Fail with an install hint (not an ImportError traceback) when an optional dependency is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"this command needs {', '.join(missing)}: pip install 'hyperalign[{extra}]'")


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def _print_metrics(metrics: dict[str, float], title: str, json_out: Path | None) -> None:
    from hyperalign.eval.retrieval import format_table

    typer.echo(format_table(metrics, title=title))
    if json_out is not None:
        from hyperalign.atomic import write_text_atomic

        write_text_atomic(json_out, json.dumps(metrics, indent=2))
        _say(f"metrics written to {json_out}")


@data_app.command("make-demo")
@friendly_errors
def make_demo_cmd(
    out: Path = typer.Option(Path("hyperalign-data/demo"), help="Output dataset directory."),
    shapes_per_subtype: int = typer.Option(30, min=3, help="Shapes generated per sub-type."),
    points: int = typer.Option(1024, min=16, help="Points per shape."),
    seed: int = typer.Option(0, help="Random seed (the data is a pure function of the settings)."),
) -> None:
    """Generate the built-in hierarchical shape-caption dataset (generic layout)."""
    from hyperalign.data.demo import describe, make_demo
    from hyperalign.data.layout import load_dataset

    index = make_demo(out, shapes_per_subtype=shapes_per_subtype, n_points=points, seed=seed)
    typer.echo(json.dumps(describe(load_dataset(index)), indent=2))
    _say(f"dataset written to {index.parent}")


@data_app.command("sweethome3d")
@friendly_errors
def sweethome3d_cmd(
    out: Path = typer.Option(Path("hyperalign-data/sweethome3d"), help="Output dataset directory."),
    root: Path = typer.Option(
        Path("/usr/share/sweethome3d/furniture"), help="Directory of *.sh3f libraries (Debian sweethome3d-furniture)."
    ),
    wordnet: Path = typer.Option(Path("/usr/share/wordnet"), help="WordNet 3.0 directory (Debian wordnet-base)."),
    points: int = typer.Option(2048, min=16, help="Surface points sampled per item."),
    seed: int = typer.Option(0, help="Seed of the point sampling and of both splits."),
    limit: int | None = typer.Option(None, min=1, help="Convert only the first N items (quick runs)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Real furniture benchmark: Sweet Home 3D meshes + WordNet hierarchy, name-disjoint and item splits."""
    from collections import Counter

    from hyperalign.data.sweethome3d import ITEM_INDEX, REPORT, convert_sweethome3d

    report = convert_sweethome3d(
        out, root=root, wordnet=wordnet, n_points=points, seed=seed, limit=limit, progress=progress, log=_say
    )
    typer.echo(json.dumps(report["statistics"], indent=2, ensure_ascii=False))
    reasons = Counter(f["reason"].split(":")[0] for f in report["failures"]).most_common(5)
    _say(f"{report['items_converted']} items converted, {report['items_failed']} failed {dict(reasons) or ''}")
    _say(f"dataset written to {out} (index.json: name split, {ITEM_INDEX}: item split; report: {REPORT}) "
         f"in {report['seconds']:.0f} s")  # fmt: skip


@data_app.command("kicad")
@friendly_errors
def kicad_cmd(
    out: Path = typer.Option(Path("hyperalign-data/kicad"), help="Output dataset directory."),
    deb: Path | None = typer.Option(
        None, help="kicad-packages3d .deb or 3dmodels folder (default: installed copy, else in --debs-dir)."
    ),
    footprints: Path | None = typer.Option(
        None, help="kicad-footprints .deb or footprints folder (default: installed copy, else in --debs-dir)."
    ),
    debs_dir: Path = typer.Option(Path("hyperalign-data/debs"), help="Where to look for (and download) the .deb files."),
    download: bool = typer.Option(False, help="apt-get download missing packages into --debs-dir (402 MB)."),
    points: int = typer.Option(2048, min=16, help="Surface points sampled per item."),
    seed: int = typer.Option(0, help="Seed of the point sampling and of both splits."),
    limit: int | None = typer.Option(None, min=1, help="Convert only the first N models (quick runs)."),
    workers: int = typer.Option(2, min=1, help="Processes sampling models."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """KiCad 3D component models captioned from the footprint library: family-disjoint and item splits."""
    import signal

    from hyperalign.data.kicad import ITEM_INDEX, REPORT, convert_kicad

    _require("kicad", "pymeshlab")

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)  # a terminated run saves what it did and stops its workers
    try:
        report = convert_kicad(
            out, deb=deb, footprints=footprints, debs_dir=debs_dir, download=download, n_points=points, seed=seed,
            limit=limit, workers=workers, progress=progress, log=_say,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(json.dumps(report["statistics"], indent=2, ensure_ascii=False))
    _say(f"{report['items_converted']} items ({report['models_converted_this_run']} converted now), "
         f"skipped: {report['failures_by_reason'] or 'none'}")
    _say(f"dataset written to {out} (index.json: family split, {ITEM_INDEX}: item split; report: {REPORT}) "
         f"in {report['seconds']:.0f} s")  # fmt: skip


@data_app.command("t3drhit")
@friendly_errors
def t3drhit_cmd(
    root: Path = typer.Option(..., help="T3DR-HIT directory (Elephant_caption_*.json or S3DIS_*_captions.json)."),
    out: Path = typer.Option(..., help="Output dataset directory."),
    source: str | None = typer.Option(None, help="elephant or s3dis (default: detected from the files)."),
    max_points: int = typer.Option(10_000, min=1, help="Elephant clouds above this are reduced by FPS."),
    val_fraction: float = typer.Option(0.1, min=0.0, max=0.99, help="Share of train objects moved to val."),
    seed: int = typer.Option(0, help="Seed of the validation carve-out."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Convert the paper's T3DR-HIT data to the generic layout (6 channels; 9-channel input derived at load)."""
    from hyperalign.data.t3drhit import convert_t3drhit

    report = convert_t3drhit(
        root, out, source=source, max_points=max_points, val_fraction=val_fraction, seed=seed,  # type: ignore[arg-type]
        progress=progress, log=_say,
    )  # fmt: skip
    typer.echo(json.dumps({k: v for k, v in report.items() if k != "skipped"}, indent=2))
    _say(f"dataset written to {out}; {len(report['skipped'])} object(s) skipped")


@app.command()
def presets() -> None:
    """List the shipped configuration presets, each with its one-line description."""
    from hyperalign.config import list_presets, preset_description

    names = list_presets()
    width = max(len(n) for n in names)
    typer.echo("\n".join(f"{n:<{width}}  {preset_description(n)}" for n in names))


@app.command("pretrained")
def pretrained_cmd(
    json_out: bool = typer.Option(False, "--json", help="Print the model cards as JSON."),
) -> None:
    """List the pretrained models shipped with the package (use a name as --checkpoint or hyperalign.load(name))."""
    from hyperalign import pretrained

    cards = [pretrained.card(name) for name in pretrained.names()]
    if json_out:
        typer.echo(json.dumps(cards, indent=2))
        return
    if not cards:
        typer.echo("no pretrained models in this installation")
    for card in cards:
        counts = "; ".join(
            f"{source} " + ", ".join(f"{n} {split}" for split, n in by_split.items())
            for source, by_split in card["training_data"]["counts"].items()
        )
        typer.echo(f"{card['name']}: {card['summary']}")
        typer.echo(f"  trained on: {counts} (no test items of any benchmark split)")
        for m in card["test_metrics"].values():
            typer.echo(f"  test, {m['benchmark']}: text->shape R@1 {m['t2s_R@1']:.3f}, R@10 {m['t2s_R@10']:.3f}, "
                       f"Rsum {m['rsum']:.1f}")
        typer.echo(f"  card: {pretrained.path(card['name']) / 'README.md'}")


@app.command()
@friendly_errors
def train(
    config: str = typer.Option("recommended", "--config", "-c", help="Preset name or YAML file."),
    run_dir: Path = typer.Option(
        Path("runs/recommended"), "--run-dir", help="Run directory (checkpoints, metrics, resolved config)."
    ),
    data: Path | None = typer.Option(None, help="Dataset directory; overrides data.path."),
    set_: list[str] = typer.Option([], "--set", help="Override a field: --set optim.lr=1e-3 (repeatable)."),
    resume: bool = typer.Option(True, help="Continue from the run's latest checkpoint if there is one."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train a model from a config; model selection on the validation split."""
    from hyperalign.config import load_config
    from hyperalign.train import distributed
    from hyperalign.train.loop import train as run_training

    overrides = list(set_) + ([f"data.path={data}"] if data is not None else [])
    cfg = load_config(config, overrides)
    try:
        result = run_training(cfg, run_dir, resume=resume, progress=progress, log=_say)
        if distributed.is_main():
            _say(f"best checkpoint: {result.best_checkpoint} (val {cfg.eval.select_metric} {result.best_metric:.2f})")
    finally:
        distributed.shutdown()


@app.command("eval")
@friendly_errors
def eval_cmd(
    checkpoint: Path = typer.Option(..., help="Run directory (uses its best checkpoint) or checkpoint directory."),
    split: str = typer.Option("test", help="Split to evaluate: train, val or test."),
    data: Path | None = typer.Option(None, help="Dataset directory (default: the one the model was trained on)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the metrics as JSON here."),
    hierarchy: bool = typer.Option(False, help="Also hierarchy metrics: LA, HCA, MTA, PEP AUC/AP, depth-norm Spearman."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Retrieval metrics (R@1/5/10 both ways, Rsum, MedR, MRR; per caption level) on a split."""
    import hyperalign
    from hyperalign.runtime.evaluation import evaluate

    retriever = hyperalign.load(checkpoint)
    if progress:
        _say(f"evaluating {retriever.checkpoint} on the {split} split")
    metrics = evaluate(retriever, split, data, progress=progress, hierarchy=hierarchy)
    _print_metrics(metrics, f"{split} split — {retriever.checkpoint}", json_out)


@app.command()
@friendly_errors
def embed(
    checkpoint: Path = typer.Option(..., help="Run directory or checkpoint directory."),
    out: Path = typer.Option(..., help="Output .safetensors file with text and shape embeddings."),
    split: str = typer.Option("test", help="Split whose shapes and captions are embedded."),
    data: Path | None = typer.Option(None, help="Dataset directory (default: the one the model was trained on)."),
    shard: str = typer.Option("0/1", help="Embed shard i of n (every n-th item from i), e.g. --shard 1/4."),
) -> None:
    """Embed a split's shapes and captions; writes embeddings plus a JSON sidecar of ids and texts."""
    try:
        i, n = (int(v) for v in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard {shard!r}: expected i/n, e.g. 0/4") from None
    import hyperalign
    from hyperalign.runtime.embeddings import embed_split

    written = embed_split(hyperalign.load(checkpoint), out, split, data, (i, n))
    _say(f"embeddings written to {written}")


@app.command()
@friendly_errors
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Directory for the demo data and run."),
    epochs: int | None = typer.Option(None, min=1, help="Override the preset's epoch count."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    pretrained: str = typer.Option(
        "h2arn-furniture", help="Shipped model to fine-tune on the demo data (`hyperalign pretrained`); "
        "'none' trains the h2arn-cpu preset from scratch (about 40 epochs)."),
) -> None:
    """Make the demo data, fine-tune a shipped model on it (a few epochs), evaluate on the test split, run example
    text queries and build the search index."""
    _say("hyperalign demo: loading libraries (torch, transformers) ...")
    from hyperalign.config import TrainConfig
    from hyperalign.runtime.demo import run_demo
    from hyperalign.train.loop import train as run_training

    def train_run(cfg: TrainConfig, run_dir: Path) -> Path:
        return run_training(cfg, run_dir, progress=progress, log=_say).run_dir

    t0 = time.perf_counter()
    report = run_demo(out, train_run, epochs=epochs, log=_say, pretrained=None if pretrained == "none" else pretrained)
    from hyperalign.eval.retrieval import format_table

    typer.echo(format_table(report["test"], title="test split (demo data)"))
    for query, hits in report["queries"].items():
        check = report["query_checks"][query]
        verdict = ", ".join(f"{k.removeprefix('right_')} {'right' if v else 'WRONG'}" for k, v in check.items()
                            if k.startswith("right_"))
        typer.echo(f"\nquery: {query!r} ({check['level']} level, {check['node']}) -> top result: {verdict}")
        for rank, hit in enumerate(hits, 1):
            typer.echo(f"  {rank}. {hit['id']:<24} d={hit['distance']:.3f}  {hit['caption']}")
    typer.echo(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; run directory: {report['run_dir']}")



@app.command()
@friendly_errors
def plot(
    checkpoint: Path = typer.Option(..., help="Run directory (uses its best checkpoint) or checkpoint directory."),
    out: Path = typer.Option(Path("plots"), help="Directory for the PNG files."),
    split: str = typer.Option("test", help="Split whose captions and shapes are plotted."),
    data: Path | None = typer.Option(None, help="Dataset directory (default: the one the model was trained on)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Poincare-disk projection (colour = category, size = depth) and norm-vs-depth histograms, as PNG."""
    _require("viz", "matplotlib")
    import hyperalign
    from hyperalign.viz.plots import plot_run

    for path in plot_run(hyperalign.load(checkpoint), out, split, data, progress=progress):
        _say(f"plot written to {path}")


# ---------------------------------------------------------------------------------------------- search
index_app = typer.Typer(help="Build hyperbolic search indexes of a dataset's shapes and captions.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(index_app, name="index")


def _index_spec(kind: str, hnsw_m: int, ef_construction: int, ef_search: int, nlist: int | None, nprobe: int) -> Any:
    from hyperalign.index import IndexSpec

    if kind == "auto":
        return None
    if kind not in ("flat", "hnsw", "ivf"):
        raise ValueError(f"--kind: expected flat, hnsw, ivf or auto; got {kind!r}")
    return IndexSpec(
        kind=kind, hnsw_m=hnsw_m, ef_construction=ef_construction, ef_search=ef_search, nlist=nlist, nprobe=nprobe
    )


@index_app.command("build")
@friendly_errors
def index_build(
    checkpoint: Path = typer.Option(..., help="Run directory (uses its best checkpoint) or checkpoint directory."),
    data: Path | None = typer.Option(None, help="Dataset directory (default: the one the model was trained on)."),
    out: Path | None = typer.Option(None, help="Index directory to write (default: <checkpoint>/index)."),
    split: list[str] = typer.Option([], help="Index only these splits (repeatable; default: all)."),
    kind: str = typer.Option("auto", help="flat (exact), hnsw, ivf, or auto (flat up to 100k points, else hnsw)."),
    hnsw_m: int = typer.Option(32, min=4, help="HNSW links per node."),
    ef_construction: int = typer.Option(80, min=8, help="HNSW build-time candidate list."),
    ef_search: int = typer.Option(64, min=1, help="HNSW search-time candidate list."),
    nlist: int | None = typer.Option(None, min=1, help="IVF cells (default: about 4 sqrt(N))."),
    nprobe: int = typer.Option(16, min=1, help="IVF cells visited per query."),
    backend: str = typer.Option("faiss", help="faiss (files in the index directory) or milvus (collections at --uri)."),
    uri: str | None = typer.Option(None, help="Milvus: a milvus-lite .db file or http://host:19530 (token: $MILVUS_TOKEN)."),
    collection: str = typer.Option("hyperalign", help="Milvus: collection name prefix (<prefix>_shapes, <prefix>_captions)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Embed a dataset's shapes and captions with a model and save a search index."""
    if backend not in ("faiss", "milvus"):
        raise ValueError(f"--backend: expected faiss or milvus; got {backend!r}")
    if backend == "milvus" and uri is None:
        raise ValueError("--backend milvus needs --uri (a milvus-lite .db file or http://host:19530)")
    if backend == "milvus":
        _require("milvus", "pymilvus")
    if backend == "faiss" and uri is not None:
        raise ValueError("--uri: only --backend milvus stores its points at a uri")
    from hyperalign.index import StoreSpec
    from hyperalign.runtime.index import Index

    store = StoreSpec(backend="milvus", uri=uri, collection=collection) if backend == "milvus" else None
    spec = _index_spec(kind, hnsw_m, ef_construction, ef_search, nlist, nprobe)
    index = Index.build(checkpoint, data, spec=spec, store=store, splits=split or None, log=_say, progress=progress)
    try:
        written = index.save(out if out is not None else checkpoint / "index")
    finally:
        index.close()
    _say(f"index written to {written}")


def _print_hits(hits: list[Any], title: str, as_json: bool, query: dict[str, str] | None = None) -> None:
    """A table under ``title``, or JSON: the ``query`` fields (the text, or the shape file) and the results."""
    from dataclasses import asdict

    if as_json:
        typer.echo(json.dumps({**(query or {}), "results": [asdict(h) for h in hits]}, indent=2))
        return
    typer.echo(title)
    if not hits:
        typer.echo("  (no results)")
        return
    width = max([len(h.id) for h in hits] + [2])
    typer.echo(f"  {'#':>3}  {'id':<{width}}  {'distance':>8}  {'d(o,x)':>6}  text")
    for h in hits:
        general = f"{h.generality:6.3f}" if h.generality is not None else f"{'-':>6}"
        level = f"[{h.level}] " if h.level else ""
        typer.echo(f"  {h.rank:>3}  {h.id:<{width}}  {h.distance:8.4f}  {general}  {level}{h.text}")


@app.command()
@friendly_errors
def search(
    query: str | None = typer.Argument(None, help="Text query, e.g. \"a tall chair with armrests\"."),
    shape: Path | None = typer.Option(None, "--shape", help="Query with a point cloud file instead of text."),
    index: Path = typer.Option(Path("runs/demo/index"), help="Index directory (from `hyperalign index build`)."),
    k: int = typer.Option(10, "-k", "--k", min=1, help="Number of results."),
    target: str | None = typer.Option(None, help="shapes or captions (default: shapes for text, captions for --shape)."),
    checkpoint: Path | None = typer.Option(None, help="Model to use (default: the one the index records; with --in: the shipped h2arn-furniture, or h2arn-furniture-xyz with --xyz-only)."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    folder: Path | None = typer.Option(
        None, "--in", help="Search your own folder of point clouds / meshes (recursively) instead of an index."
    ),
    up_axis: str = typer.Option("y", help="With --in: the vertical axis of the folder's shapes (x, y or z)."),
    xyz_only: bool = typer.Option(False, "--xyz-only", help="With --in: ignore colours (for uncoloured scans)."),
    cache_dir: Path | None = typer.Option(None, help="With --in: where embeddings are cached (default ~/.cache)."),
    max_points: int = typer.Option(2_000_000, "--max-points", min=1, help="Largest --shape file read, in points."),
    progress: bool | None = typer.Option(
        None, help="Say what is being loaded and searched, on stderr (default: when stderr is a terminal)."
    ),
) -> None:
    """Search an index (or a folder, with --in) with a text query or a point cloud; prints a table or JSON."""
    if (query is None) == (shape is None):
        raise ValueError("give either a text QUERY or --shape FILE (exactly one)")
    if folder is not None:
        _search_folder(folder, query, shape, k, checkpoint, up_axis, xyz_only, cache_dir, json_out)
        return
    from hyperalign.runtime.text_search import TextSearch, text_query_ready

    step = _say if (progress if progress is not None else sys.stderr.isatty()) else (lambda msg: None)
    t0 = time.perf_counter()
    step(f"loading the index {index} and its model...")
    if shape is None and checkpoint is None and text_query_ready(index):
        loaded: Any = TextSearch(index)  # the index's own ONNX graphs and FAISS: no torch
    else:
        from hyperalign.runtime.index import Index

        loaded = Index.load(index, checkpoint)
    step(f"loaded {len(loaded.shapes)} shapes and {len(loaded.captions)} captions in {time.perf_counter() - t0:.1f} s; "
         f"searching...")  # fmt: skip
    try:
        if shape is not None:
            hits = _search_shape(loaded, shape, k, target or "captions", max_points)
        else:
            hits = loaded.search_text(query, k, target or "shapes")
    finally:
        loaded.close()
    if shape is not None:
        _print_hits(hits, f"shape {shape}", json_out, {"shape": str(shape)})
    else:
        _print_hits(hits, f"query {query!r}", json_out, {"query": query})


def _search_shape(loaded: Any, shape: Path, k: int, target: str, max_points: int) -> list[Any]:
    """``loaded.search_shape``, with a cloud over ``max_points`` reported as the option to raise."""
    from hyperalign.data.formats import PointCloudError, SizeLimitError

    try:
        return loaded.search_shape(shape, k, target, max_points=max_points)
    except SizeLimitError as e:
        if e.option != "max_points":
            raise
        count = e.count if e.count is not None else "more"
        raise PointCloudError(
            f"{e.path}: {count} points exceed the limit of --max-points {e.limit}; "
            f"pass a larger --max-points{f' (e.g. --max-points {e.count})' if e.count else ''} to read it"
        ) from None


def _axis(value: str, option: str) -> Any:
    if value not in ("x", "y", "z"):
        raise ValueError(f"{option} {value!r}: expected x, y or z")
    return value


DEFAULT_MODEL = {False: "h2arn-furniture", True: "h2arn-furniture-xyz"}  # shipped models (`hyperalign pretrained`)


def _model_or_default(checkpoint: Path | None, xyz_only: bool) -> Path:
    """``checkpoint``, else the shipped model for coloured (or, with ``xyz_only``, uncoloured) shapes."""
    if checkpoint is not None:
        return checkpoint
    _say(f"model: {DEFAULT_MODEL[xyz_only]} (shipped; --checkpoint picks another)")
    return Path(DEFAULT_MODEL[xyz_only])


def _folder_search(
    folder: Path, checkpoint: Path | None, up_axis: str, xyz_only: bool, cache_dir: Path | None
) -> Any:
    """Embed ``folder`` (cached) with the model of ``checkpoint``; reports unreadable files."""
    from tqdm.auto import tqdm

    import hyperalign
    from hyperalign.runtime.folder import FolderSearch

    found = FolderSearch(
        hyperalign.load(_model_or_default(checkpoint, xyz_only)), folder, up_axis=_axis(up_axis, "--up-axis"), xyz_only=xyz_only,
        cache_dir=cache_dir, progress=lambda files: tqdm(files, desc="embedding", disable=not files, leave=False),
    )
    index = found.index
    for path, reason in index.failures:
        typer.echo(f"skipped {path}: {reason}", err=True)
    _say(f"{len(index.files)} shapes in {index.root} ({index.embedded} embedded now, the rest cached)")
    return found


def _search_folder(
    folder: Path, query: str | None, shape: Path | None, k: int, checkpoint: Path | None, up_axis: str,
    xyz_only: bool, cache_dir: Path | None, as_json: bool,
) -> None:
    model = _model_or_default(checkpoint, xyz_only)
    found: Any = None
    if shape is None:  # an unchanged, already embedded folder answers text without torch
        from hyperalign.runtime.folder_text import FolderTextSearch

        found = FolderTextSearch.open(folder, model, up_axis=_axis(up_axis, "--up-axis"), xyz_only=xyz_only,
                                      cache_dir=cache_dir)  # fmt: skip
        if found is not None:
            _say(f"{len(found.files)} shapes in {found.root} (0 embedded now, the rest cached)")
    if found is None:
        found = _folder_search(folder, model, up_axis, xyz_only, cache_dir)
    hits = found.search_shape(shape, k) if shape is not None else found.search_text(query or "", k)
    title = str(shape) if shape is not None else query or ""
    if as_json:
        from dataclasses import asdict

        typer.echo(json.dumps({"query": title, "folder": str(found.root), "results": [asdict(h) for h in hits]}, indent=2))
        return
    typer.echo(f"{title!r} in {found.root}")
    for h in hits:
        typer.echo(f"  {h.rank:>3}  {h.distance:8.4f}  {h.path}")


@app.command()
@friendly_errors
def classify(
    shapes: Path = typer.Argument(..., help="A point cloud / mesh file, or a folder of them (recursively)."),
    labels: str | None = typer.Option(None, help="Comma-separated labels, e.g. \"chair,table,lamp\"."),
    labels_file: Path | None = typer.Option(None, help="A text file of labels, one per line (or comma-separated)."),
    checkpoint: Path | None = typer.Option(
        None, help="Run directory, checkpoint directory or shipped model (default: h2arn-furniture, or "
        "h2arn-furniture-xyz with --xyz-only)."),
    template: str = typer.Option("{a} {label}", help="Prompt for each label; {a} is its indefinite article."),
    k: int = typer.Option(5, "-k", "--k", min=1, help="Labels to show per shape."),
    up_axis: str = typer.Option("y", help="The vertical axis of the shapes (x, y or z)."),
    xyz_only: bool = typer.Option(False, "--xyz-only", help="Ignore colours."),
    cache_dir: Path | None = typer.Option(None, help="For a folder: where embeddings are cached."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Zero-shot classification: rank labels for each shape by the model's distance to "a <label>"."""
    from hyperalign.runtime.classify import label_distances, parse_labels, rank_labels

    if (labels is None) == (labels_file is None):
        raise ValueError("give the labels with either --labels or --labels-file (exactly one)")
    if labels_file is not None:
        try:
            labels = labels_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"--labels-file {labels_file}: cannot read it as UTF-8 text ({e})") from None
    names = parse_labels(labels or "")
    if shapes.is_dir():
        found = _folder_search(shapes, checkpoint, up_axis, xyz_only, cache_dir)
        files, embedded, retriever = found.index.files, found.index.embeddings, found.retriever
    else:
        import hyperalign
        from hyperalign.runtime.folder import ShapeReader

        retriever = hyperalign.load(_model_or_default(checkpoint, xyz_only))
        reader = ShapeReader.for_model(retriever, _axis(up_axis, "--up-axis"), xyz_only)
        files, embedded = [str(shapes)], retriever.encode_points([reader.read(shapes)])
    ranked = rank_labels(label_distances(retriever, embedded, names, template), names, k)
    if json_out:
        rows = [{"file": f, "labels": [{"label": s.label, "distance": s.distance} for s in r]} for f, r in zip(files, ranked)]
        typer.echo(json.dumps({"labels": names, "template": template, "results": rows}, indent=2))
        return
    for f, r in zip(files, ranked):
        typer.echo(f"{f}: " + ", ".join(f"{s.label} ({s.distance:.3f})" for s in r))


@app.command()
@friendly_errors
def serve(
    index: Path = typer.Option(Path("runs/demo/index"), help="Index directory to serve."),
    checkpoint: Path | None = typer.Option(None, help="If --index does not exist yet, build it from this run first."),
    data: Path | None = typer.Option(None, help="Dataset for that build (default: the run's own)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port."),
    max_upload_mb: float = typer.Option(20.0, min=0.001, help="Largest point cloud upload accepted, in MB."),
    folder: Path | None = typer.Option(
        None, "--in", help="Serve your own folder of point clouds / meshes (recursively; embedded with a shipped "
        "model unless --checkpoint names one, cached) instead of an index."),
    up_axis: str = typer.Option("y", help="With --in: the vertical axis of the folder's shapes (x, y or z)."),
    xyz_only: bool = typer.Option(False, "--xyz-only", help="With --in: ignore colours (for uncoloured scans)."),
    cache_dir: Path | None = typer.Option(None, help="With --in: where embeddings are cached (default ~/.cache)."),
    batching: bool = typer.Option(True, help="Batch concurrent text queries into one forward pass (--no-batching: "
                                  "each query alone)."),
    max_batch: int = typer.Option(64, min=1, help="Most text queries per batch."),
    max_wait_ms: float = typer.Option(4.0, min=0.0, help="Longest wait for a batch to fill, in ms."),
) -> None:
    """Serve the search page and HTTP API (FastAPI + uvicorn) for an index, or for a folder with --in."""
    _require("serve", "fastapi", "uvicorn", "multipart")
    if folder is not None and data is not None:
        raise ValueError("--data builds an index of a dataset; --in serves a folder: give one of them")
    from hyperalign.runtime.index import Index
    from hyperalign.serve import BatchSettings
    from hyperalign.serve.server import run_server

    if folder is not None:
        loaded = Index.from_folder(_folder_search(folder, checkpoint, up_axis, xyz_only, cache_dir))
    else:
        if not (index / "index.json").is_file() and checkpoint is not None:
            _say(f"{index} has no index yet: building it from {checkpoint}")
            Index.build(checkpoint, data, log=_say, progress=True).save(index)
        loaded = Index.load(index)
    settings = BatchSettings(max_batch=max_batch, max_wait_ms=max_wait_ms) if batching else None
    max_upload = int(max_upload_mb * 1_000_000)
    run_server(loaded, host=host, port=port, max_upload_bytes=max_upload, batching=settings, log=_say)


@app.command()
@friendly_errors
def export(
    checkpoint: Path = typer.Option(..., help="Run directory or checkpoint directory."),
    onnx: Path = typer.Option(..., help="Output directory: points.onnx, text.onnx and export.json."),
) -> None:
    """Export the point side and the text side (after the frozen text tower) as ONNX graphs, float32."""
    _require("onnx", "onnx")
    import hyperalign
    from hyperalign.runtime.export import export_onnx

    written = export_onnx(hyperalign.load(checkpoint), onnx)
    _say(f"ONNX export written to {written} (points.onnx, text.onnx, export.json)")


bench_app = typer.Typer(help="Benchmarks that ship with the source checkout.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(bench_app, name="bench")


def _checkout_containing(package_dir: Path) -> Path | None:
    """The nearest ancestor of ``package_dir`` whose ``pyproject.toml`` declares the project ``hyperalign``, if any."""
    import tomllib

    for parent in package_dir.parents:
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file():
            try:
                project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return None
            return parent if project.get("name") == "hyperalign" else None
    return None


def _source_checkout() -> Path:
    """The source checkout whose ``benchmarks/`` the ``bench`` commands run: ``HYPERALIGN_SOURCE`` when set; else the
    checkout the running package was imported from (an ancestor whose ``pyproject.toml`` names the project
    ``hyperalign``); else the directory of an editable install (``pip install -e``), read from the distribution's
    ``direct_url.json`` (PEP 610). A regular install ships no benchmarks: the error says what to do."""
    import importlib.metadata
    import os
    from urllib.parse import unquote, urlparse

    import hyperalign

    if os.environ.get("HYPERALIGN_SOURCE"):
        return Path(os.environ["HYPERALIGN_SOURCE"]).expanduser()
    checkout = _checkout_containing(Path(hyperalign.__file__).resolve().parent)
    if checkout is not None:
        return checkout
    try:
        direct = json.loads(importlib.metadata.distribution("hyperalign").read_text("direct_url.json") or "{}")
    except importlib.metadata.PackageNotFoundError:
        direct = {}
    url = urlparse(direct.get("url", ""))
    if url.scheme != "file" or not direct.get("dir_info", {}).get("editable"):
        raise FileNotFoundError(
            "hyperalign bench runs the benchmarks of a source checkout, and this is not an editable install: "
            "clone the repository and `pip install -e .` there, or set HYPERALIGN_SOURCE to the checkout"
        )
    return Path(unquote(url.path))


def _run_benchmark_script(name: str, args: list[str]) -> None:
    """Run ``benchmarks/<name>.py``'s ``main(args)`` from the source checkout (:func:`_source_checkout`)."""
    import importlib.util
    import sys

    script = _source_checkout() / "benchmarks" / f"{name}.py"
    if not script.is_file():
        raise FileNotFoundError(f"{script}: no such benchmark (is HYPERALIGN_SOURCE or the editable install a checkout of hyperalign?)")
    spec = importlib.util.spec_from_file_location(f"hyperalign_{name}_benchmark", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    module.main(args)


@bench_app.command("speed", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@friendly_errors
def bench_speed(ctx: typer.Context) -> None:
    """Step time, memory and evaluation speed at paper scale and at the CPU preset (benchmarks/speed.py).

    Writes benchmarks/results/speed.json and speed.md. Extra options go to the script: --out, --scales, --steps,
    --eval-n, --blockwise-blocks, ... (python benchmarks/speed.py --help).
    """
    _run_benchmark_script("speed", list(ctx.args))


@bench_app.command("realdata", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@friendly_errors
def bench_realdata(ctx: typer.Context) -> None:
    """Real-data benchmark (Sweet Home 3D or KiCad): H2ARN, its ablations and baselines, both splits, 3 seeds
    (benchmarks/realdata.py).

    Needs the dataset of `hyperalign data sweethome3d` (default hyperalign-data/sweethome3d) or of `hyperalign data
    kicad` (--data). Writes benchmarks/results/realdata.json and realdata.md (realdata-kicad.* for KiCad). Extra
    options go to the script: --data, --splits, --seeds,
    --variants, --epochs, --set, ... (python benchmarks/realdata.py --help).
    """
    _run_benchmark_script("realdata", list(ctx.args))
