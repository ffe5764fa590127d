"""`lrdiag merge`: the shards of `lrdiag sweep --shard K/N` written as one sweep's results."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrdiag.commands.common import (
    ExitStatus,
    SafeHelp,
    ci_reports,
    claimed,
    fail_on_option,
    force_option,
    junit_option,
    no_plots_option,
    results_json_option,
    sweep_reports,
    sweep_verdicts,
    traceback_option,
)
from lrdiag.commands.sweep import curves_option, print_sweep
from lrdiag.errors import LrdiagError, printable


@click.command("merge", cls=SafeHelp)
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    metavar="DIR",
    help="Where to write the merged results and plots [default: lrdiag-out/<name>, or "
    "<name>-2, ...].",
)
@force_option
@results_json_option
@fail_on_option
@junit_option
@no_plots_option
@click.option(
    "--quiet", "-q", is_flag=True, help="Print only the output directory: no table or summary."
)
@curves_option
@traceback_option
def merge_command(dirs, out, force, as_json, fail_on, junit, no_plots, quiet, curves):
    """Merge the shards of lrdiag sweep --shard K/N into the results of one sweep.

    \b
    Example:
      lrdiag merge shard-1 shard-2 shard-3 --out results --fail-on diverging

    DIRS are the shards' output directories. Checks that they come from one config and data
    and cover the grid exactly once (else exit 2), then writes results.json, results.csv,
    report.md and the plots as one sweep of the whole grid would. Exit 1 when a --fail-on
    verdict matched.
    """
    from lrdiag import pipeline, shards
    from lrdiag.interrupt import Interrupts

    merged = shards.merge(list(dirs))
    for d in dirs:
        if out is not None and Path(out).resolve() == d.resolve():
            raise LrdiagError(
                f"--out: {printable(str(d))} is one of the shards given: the merge would "
                "overwrite its results; pick another --out"
            )
    doc = pipeline.merged_document(merged)
    with Interrupts() as signals:
        with claimed(signals, out, merged.cfg.name, force) as claim:
            with signals.deferred():  # a second signal abandons the write: the old files stay
                pipeline.write_outputs(
                    doc, claim, plots=not no_plots, hold=signals.held, curves=curves
                )
        try:
            print_sweep(doc, claim.path, merged.result, len(merged.runs), as_json=as_json,
                        quiet=quiet)  # fmt: skip
            ci_reports(junit, *sweep_reports(doc, fail_on, merged.result.seconds))
        except KeyboardInterrupt:
            click.echo(
                f"lrdiag: interrupted; results written to {printable(claim.path)}/", err=True
            )
            sys.exit(signals.exit_code)
    if fail_on and any(v in fail_on for v in sweep_verdicts(doc["runs"])):
        sys.exit(ExitStatus.MATCHED)
