"""The ``hyperalign`` command line: one entry point, thin subcommands that call the library."""

from __future__ import annotations

import typer

from hyperalign import __version__

app = typer.Typer(
    name="hyperalign",
    help="Hierarchical text <-> 3D point cloud retrieval in hyperbolic (Lorentz) space.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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
