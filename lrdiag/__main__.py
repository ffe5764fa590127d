"""``python -m lrdiag`` runs the command line."""

from lrdiag.cli import run

run()
