"""``python -m hyperalign`` runs the command line."""

from hyperalign.cli import app

app(prog_name="hyperalign")
