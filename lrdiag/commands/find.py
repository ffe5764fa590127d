"""`lrdiag find`: the LR range test, then a short sweep that measures its answer."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrdiag.commands.common import (
    ExitStatus,
    SafeHelp,
    claimed,
    echo_out,
    fail_on_option,
    force_option,
    make_console,
    no_plots_option,
    sweep_verdicts,
    traceback_option,
    train_with_progress,
    wants_progress,
)
from lrdiag.errors import printable


def _find_lr_option(name: str, meaning: str):
    from lrdiag.config import GRID_MAX, GRID_MIN

    return click.option(
        name,
        type=click.FloatRange(GRID_MIN, GRID_MAX),
        metavar="LR",
        help=f"Override find.{meaning} from the config.",
    )


@click.command("find", cls=SafeHelp)
@click.argument("config", type=click.Path(path_type=Path))  # load_config explains a bad path
@click.option(
    "--out",
    "-o",
    metavar="DIR",
    help="Where to write find.json, find.csv, find.png and the sweep's files [default: "
    "lrdiag-out/<name>-find, or <name>-find-2, ...].",
)
@force_option
@click.option("--json", "as_json", is_flag=True, help="Print find.json to stdout, nothing else.")
@fail_on_option
@click.option("--no-sweep", is_flag=True, help="Only the range test: no sweep to measure it.")
@no_plots_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the output directory.")
@_find_lr_option("--min-lr", "min (the ramp's first learning rate)")
@_find_lr_option("--max-lr", "max (the ramp's end)")
@click.option(
    "--steps", type=click.IntRange(6, 100_000), help="Override find.steps from the config."
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    help="Override training.dtype from the config.",
)
@click.option("--max-memory", metavar="SIZE", help="Memory budget of the sweep, as for sweep.")
@traceback_option
def find_command(
    config, out, force, as_json, fail_on, no_sweep, no_plots, quiet, min_lr, max_lr, steps,
    dtype, max_memory,
):  # fmt: skip
    """Run the LR range test on CONFIG, then a short sweep that measures its answer.

    One run per init scale x seed, all at once: the learning rate grows exponentially each
    step from find.min to find.max (fastai's 1e-7 to 10 in 100 steps), the loss is smoothed
    (beta 0.98, bias corrected) and a run stops once it is over 4 x its best. The suggestions
    are fastai's (steep, valley, minimum, slide), with how much they move from seed to seed;
    the sweep around them finds the largest converging lr; for sgd, momentum and nesterov with
    a full batch the limit at init (2/lambda_max for sgd) is shown too.

    \b
    Example:
      lrdiag find configs/find.yaml --out results/find

    Writes find.json, find.csv, find.png and the sweep's results.json, results.csv,
    report.md and plots to --out. Exit 1 when a --fail-on verdict matched in the sweep.
    """
    import dataclasses

    from lrdiag import files, find, find_report, pipeline
    from lrdiag import sweep as engine
    from lrdiag.config import load_config
    from lrdiag.data import load_dataset

    cfg = load_config(config)
    f = cfg.find
    f = dataclasses.replace(
        f,
        min=f.min if min_lr is None else min_lr,
        max=f.max if max_lr is None else max_lr,
        steps=f.steps if steps is None else steps,
    )
    if not f.min < f.max:
        raise click.BadParameter(
            f"the ramp must go up: min {f.min:g} is not below max {f.max:g}",
            param_hint="--min-lr/--max-lr",
        )
    cfg = dataclasses.replace(cfg, find=f)
    if dtype:
        cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, dtype=dtype))
    budget = engine.parse_memory(max_memory) if max_memory else None
    for note in cfg.notes:
        click.echo(f"lrdiag: note: {printable(config)}: {printable(note)}", err=True)
    dataset = load_dataset(cfg.data, cfg.model, file=str(config))
    for note in dataset.notes:
        click.echo(f"lrdiag: note: {printable(cfg.data.path)}: {printable(note)}", err=True)

    from lrdiag.interrupt import Interrupts

    progress = wants_progress(quiet, as_json)

    def train(sweep_cfg, data, runs):
        return train_with_progress(sweep_cfg, data, runs, budget, progress)

    def write_find(staging):
        find_report.write_find(doc, staging)
        if not no_plots:
            from lrdiag import find_plot

            find_plot.save_find_plot(doc, staging)

    with Interrupts() as signals:
        with claimed(signals, out, f"{cfg.name}-find", force) as claim:
            for note in claim.notes:
                click.echo(f"lrdiag: note: {printable(claim.path)}: {printable(note)}", err=True)
            doc, sweep_doc = find.run(cfg, dataset, sweep=not no_sweep, train=train)
            with signals.deferred():  # a second signal abandons the write: the old files stay
                pipeline.write_outputs(
                    sweep_doc, claim, plots=not no_plots, hold=signals.held, extra=write_find
                )
        try:
            if as_json:
                echo_out(files.to_json_text(doc), nl=False)
            elif quiet:
                echo_out(str(claim.path))
            else:
                console = make_console()
                find_report.render_find(doc, console)
                console.print(
                    f"Results written to {printable(claim.path)}/", soft_wrap=True, markup=False
                )
        except KeyboardInterrupt:
            click.echo(
                f"lrdiag: interrupted; results written to {printable(claim.path)}/", err=True
            )
            sys.exit(signals.exit_code)
    if not doc["complete"] or signals.received():
        click.echo(
            f"lrdiag: interrupted; partial results written to {printable(claim.path)}/", err=True
        )
        sys.exit(signals.exit_code)
    if fail_on and sweep_doc and any(v in fail_on for v in sweep_verdicts(sweep_doc["runs"])):
        sys.exit(ExitStatus.MATCHED)
