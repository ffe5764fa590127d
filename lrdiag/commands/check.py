"""`lrdiag check`: the config and data lints, without training."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrdiag.commands.common import ExitStatus, SafeHelp, echo_out, make_console, traceback_option
from lrdiag.errors import printable


@click.command("check", cls=SafeHelp)
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the lints as JSON, nothing else.")
@traceback_option
def check_command(config, as_json):
    """Name the config and data mistakes that look like learning-rate problems.

    Loads CONFIG and its data and runs the lints (output_loss_mismatch, unscaled_inputs,
    sum_reduction, saturated_init, dead_relu); nothing is trained, the init lints only look at
    the initial weights. grid_misses_boundary needs a sweep's verdicts: `lrdiag sweep` reports it.

    \b
    Example:
      lrdiag check configs/keras_question.yaml

    Exit 0 with no lint, 1 with any, 2 when the config or its data cannot be loaded.
    """
    from lrdiag import files, lints, terminal
    from lrdiag.config import load_config
    from lrdiag.data import load_dataset

    cfg = load_config(config)
    found = lints.check_config(cfg, load_dataset(cfg.data, cfg.model, file=str(config)))
    if as_json:
        doc = {"config": str(config), "warnings": [lint.to_dict() for lint in found]}
        echo_out(files.to_json_text(doc), nl=False)
    else:
        console = make_console()
        if found:
            terminal.render_warnings([lint.to_dict() for lint in found], console)
        else:
            console.print(f"{printable(config)}: no lint", markup=False)
    if found:
        sys.exit(ExitStatus.MATCHED)
