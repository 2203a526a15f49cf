"""The ``hyperalign`` command line: one entry point, thin subcommands that call the library.

User errors (bad config, missing or corrupt file, mismatched checkpoint) print one ``error:`` line naming the file and
the field, and exit with code 2; no traceback.
"""

from __future__ import annotations

import functools
import json
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
)
data_app = typer.Typer(help="Make or convert datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors() -> tuple[type[BaseException], ...]:
    from hyperalign.data.io import PointCloudError
    from hyperalign.data.layout import LayoutError
    from hyperalign.train.checkpoint import CheckpointError
    from hyperalign.train.config import ConfigError

    return (ConfigError, CheckpointError, LayoutError, PointCloudError, FileNotFoundError, ValueError)


def friendly_errors(fn: F) -> F:
    """Turn the library's user-facing errors into one ``error:`` line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _user_errors() as e:
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


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def _print_metrics(metrics: dict[str, float], title: str, json_out: Path | None) -> None:
    from hyperalign.eval.retrieval import format_table

    typer.echo(format_table(metrics, title=title))
    if json_out is not None:
        from hyperalign.train.checkpoint import atomic_write_text

        atomic_write_text(json_out, json.dumps(metrics, indent=2))
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


@app.command()
def presets() -> None:
    """List the shipped configuration presets."""
    from hyperalign.train.config import list_presets

    typer.echo("\n".join(list_presets()))


@app.command()
@friendly_errors
def train(
    config: str = typer.Option("h2arn-cpu", "--config", "-c", help="Preset name or YAML file."),
    run_dir: Path = typer.Option(
        Path("runs/h2arn-cpu"), "--run-dir", help="Run directory (checkpoints, metrics, resolved config)."
    ),
    data: Path | None = typer.Option(None, help="Dataset directory; overrides data.path."),
    set_: list[str] = typer.Option([], "--set", help="Override a field: --set optim.lr=1e-3 (repeatable)."),
    resume: bool = typer.Option(True, help="Continue from the run's latest checkpoint if there is one."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Train a model from a config; model selection on the validation split."""
    from hyperalign.train import distributed
    from hyperalign.train.config import load_config
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
) -> None:
    """Retrieval metrics (R@1/5/10 both ways, Rsum, MedR, MRR; per caption level) on a split."""
    import hyperalign
    from hyperalign.inference import evaluate

    retriever = hyperalign.load(checkpoint)
    metrics = evaluate(retriever, split, data, hierarchy=hierarchy)
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
    import hyperalign
    from hyperalign.inference import embed_split

    try:
        i, n = (int(v) for v in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard {shard!r}: expected i/n, e.g. 0/4") from None
    written = embed_split(hyperalign.load(checkpoint), out, split, data, (i, n))
    _say(f"embeddings written to {written}")


@app.command()
@friendly_errors
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Directory for the demo data and run."),
    epochs: int | None = typer.Option(None, min=1, help="Override the preset's epoch count."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Make the demo data, train the CPU preset, evaluate on the test split and run example text queries."""
    from hyperalign.demo_run import run_demo

    t0 = time.perf_counter()
    report = run_demo(out, epochs=epochs, progress=progress, log=_say)
    from hyperalign.eval.retrieval import format_table

    typer.echo(format_table(report["test"], title="test split (demo data)"))
    for query, hits in report["queries"].items():
        typer.echo(f"\nquery: {query!r}")
        for rank, hit in enumerate(hits, 1):
            typer.echo(f"  {rank}. {hit['id']:<24} d={hit['distance']:.3f}  {hit['caption']}")
    typer.echo(f"\ndemo finished in {time.perf_counter() - t0:.0f} s; run directory: {report['run_dir']}")

