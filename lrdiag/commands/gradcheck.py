"""`lrdiag gradcheck`: gradients against finite differences, for a config or a module."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrdiag.commands.common import ExitStatus, SafeHelp, echo_out, make_console, traceback_option

CONFIG_SUFFIXES = (".yaml", ".yml")


@click.command("gradcheck", cls=SafeHelp)
@click.argument("target", metavar="CONFIG|MODULE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--samples",
    "-n",
    type=click.IntRange(min=1),
    help="Entries probed per parameter; all of a smaller one, and always the entries with "
    "the largest gradients [default: 48].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seeds the sampled entries and the random directions of the whole-parameter check.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=1e6),
    metavar="SECONDS",
    help="Longest a MODULE's code may take per call (import, params, loss, grad), else exit 2 "
    "[default: 120].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON, nothing else.")
@traceback_option
def gradcheck_command(target, samples, seed, timeout, as_json):
    """Compare gradients with finite differences and name the bug.

    CONFIG (.yaml) checks lrdiag's own model for that config at the first run's initial
    weights; MODULE (.py) checks your code: it defines params (a dict of NumPy arrays, or a
    function returning one), loss(params) -> float and grad(params) -> dict with the same
    keys. Importing the module runs its top-level code.

    \b
    Examples:
      lrdiag gradcheck examples/my_model.py
      lrdiag gradcheck configs/quickstart.yaml --json

    Exit 0 when every parameter is ok, 1 when any is not, 2 when the module or config cannot
    be loaded or breaks the contract.
    """
    from lrdiag import files, terminal
    from lrdiag import gradcheck as checker

    options = {"seed": seed} if samples is None else {"seed": seed, "samples": samples}
    if target.suffix == ".py":
        limit = {} if timeout is None else {"timeout": timeout}
        result = checker.check_module(target, **limit, **options)
    elif target.suffix in CONFIG_SUFFIXES:
        from lrdiag.config import load_config

        result = checker.check_config(load_config(target), **options)
    else:
        raise click.BadParameter(
            f"{target}: expected a config (.yaml) or a Python module (.py)",
            param_hint="CONFIG|MODULE",
        )
    if as_json:
        echo_out(files.to_json_text(result.to_dict()), nl=False)
    else:
        terminal.render_gradcheck(result, make_console())
    if not result.ok:
        sys.exit(ExitStatus.MATCHED)
