"""`lrdiag sweep`: train every run of a config, judge each, write and print the results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lrdiag.commands.common import (
    ExitStatus,
    SafeHelp,
    ci_reports,
    claimed,
    echo_out,
    fail_on_option,
    force_option,
    junit_option,
    make_console,
    no_plots_option,
    results_json_option,
    sweep_reports,
    sweep_verdicts,
    traceback_option,
    wants_progress,
)
from lrdiag.errors import LrdiagError, printable

curves_option = click.option(
    "--curves",
    type=click.Choice(["auto", "json", "parquet", "npz"]),
    default="auto",
    show_default=True,
    help="Where the loss curves go: results.json (json), or a columnar file beside it, one row "
    "per run and epoch (parquet needs pyarrow; npz); auto: a file past 50 MB of curves.",
)


def _shard(_ctx, _param, value):
    """--shard K/N as (K, N)."""
    if value is None:
        return None
    from lrdiag.shards import parse_shard

    try:
        return parse_shard(value)
    except LrdiagError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--shard {value!r}: ")) from None


def _scheduler(_ctx, _param, value):
    """--scheduler (or $LRDIAG_SCHEDULER) checked for its form before anything runs, so a dry
    run says a mistyped address too (whether it answers is known only when training starts)."""
    if not value:
        return None
    from lrdiag.executor import parse_scheduler

    try:
        parse_scheduler(value)
    except LrdiagError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"--scheduler {value!r}: ")) from None
    return value


@click.command("sweep", cls=SafeHelp)
@click.argument("config", type=click.Path(path_type=Path))  # load_config explains a bad path
@click.option(
    "--out",
    "-o",
    metavar="DIR",
    help="Where to write results and plots [default: lrdiag-out/<name>, or <name>-2, ...].",
)
@force_option
@results_json_option
@fail_on_option
@junit_option
@no_plots_option
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print only the output directory: no table, summary or progress bar.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    help="Override training.dtype from the config.",
)
@click.option(
    "--max-memory",
    metavar="SIZE",
    help="Memory budget for training, e.g. 256MB, 2GB: runs that do not fit at once are "
    "trained in chunks [default: 2GiB].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show grid size, memory estimate and chunks (and, with --resume, those already done); "
    "train nothing.",
)
@click.option(
    "--save-init",
    metavar="DIR",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each seed's initial weights to DIR/init_seed<seed>.npz (W1, b1, ...: what "
    "init: {scheme: file} reads) before training.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Finish the sweep in --out: train only the chunks not in --out/chunks/ (refused when "
    "the config or data changed).",
)
@click.option(
    "--shard",
    metavar="K/N",
    callback=_shard,
    help="Train only the K-th of N slices of the grid (balanced by cost); lrdiag merge joins "
    "the shards' directories.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="LRDIAG_SCHEDULER",
    show_envvar=True,
    callback=_scheduler,
    help="Train the chunks on a Dask cluster: tcp://host:8786, or local:N for N worker "
    "processes on this machine (pip install 'lrdiag[dask]').",
)
@curves_option
@traceback_option
def sweep_command(
    config,
    out,
    force,
    as_json,
    fail_on,
    junit,
    no_plots,
    quiet,
    dtype,
    max_memory,
    dry_run,
    save_init,
    resume,
    shard,
    scheduler,
    curves,
):
    """Train every run of the experiment in CONFIG and judge each one.

    \b
    Example:
      lrdiag sweep configs/tanh_spike.yaml --out results/tanh --fail-on diverging

    Writes results.json, results.csv, report.md and the plots curves.png,
    final_loss_vs_lr.png, phase.png (and sharpness.png when stability.track_every tracks it) to
    --out, and each finished chunk of runs to --out/chunks/ until the sweep is whole
    (--resume finishes a sweep cut short). Exit 1 when a --fail-on verdict matched.
    """
    from lrdiag import pipeline
    from lrdiag.files import CHUNKS_NAME
    from lrdiag.sweep import parse_memory

    if resume and out is None:  # a fresh default directory would hold nothing to resume
        raise LrdiagError("--resume needs --out DIR: the directory of the sweep to finish")
    cfg = pipeline.configure(config, dtype=dtype)
    budget = parse_memory(max_memory) if max_memory else None
    for note in cfg.notes:
        click.echo(f"lrdiag: note: {printable(config)}: {printable(note)}", err=True)
    dataset = pipeline.load_data(cfg, config)
    for note in dataset.notes:
        click.echo(f"lrdiag: note: {printable(cfg.data.path)}: {printable(note)}", err=True)
    plan = pipeline.make_plan(cfg, dataset, budget)
    if plan.peak_bytes > plan.max_memory:
        click.echo(
            f"lrdiag: warning: the memory budget ({_size(plan.max_memory)}) is less than "
            f"training one run at a time needs (~{_size(plan.peak_bytes)}: "
            f"{_size(plan.bytes_per_run)} for its weights, gradients and optimizer state, "
            f"{_size(plan.fixed_bytes)} for working arrays and every run's loss history); "
            "training one run at a time anyway",
            err=True,
        )
    if save_init is not None:
        from lrdiag import sweep as engine
        from lrdiag import weights

        try:
            written = weights.save_init(
                engine.initial_weights(cfg, engine.input_shape(dataset), dataset.Y.shape[1]),
                save_init,
            )
        except OSError as e:
            raise LrdiagError(
                f"--save-init {printable(str(save_init))}: {e.strerror or e}"
            ) from None
        if not (quiet or as_json):
            click.echo(
                f"lrdiag: initial weights written to {printable(str(written[0].parent))}/", err=True
            )
    if dry_run:
        resumed = None
        if resume:  # out is given: checked above
            resumed = pipeline.resume_plan(cfg, dataset, out, max_memory=budget, shard=shard)
        _print_plan(cfg, dataset, plan, as_json, resumed, out)
        return

    from lrdiag.interrupt import Interrupts

    # The handlers stay until the command ends: a signal while the report prints (the results
    # are written by then) stops the printing with 130 / 143, as one while training does.
    with Interrupts() as signals:
        unfinished = out is not None and (Path(out) / CHUNKS_NAME).is_dir()
        if unfinished and not (force or resume):  # say so before "already holds results"
            raise LrdiagError(
                f"--out: {printable(str(out))} holds the chunks of a sweep ({CHUNKS_NAME}/): "
                "pass --resume to finish it, --force to start over, or pick another --out"
            )
        replace = force if out is None else pipeline.may_replace(out, force=force, resume=resume)
        with claimed(signals, out, cfg.name, replace) as claim:
            if junit is not None and not junit.parent.is_dir():  # --out may have just made it
                raise LrdiagError(
                    f"--junit: {printable(str(junit))}: no directory "
                    f"{printable(str(junit.parent))} to write the report in"
                )
            for note in claim.notes:
                click.echo(f"lrdiag: note: {printable(claim.path)}: {printable(note)}", err=True)
            how = {"resume": resume, "force": force, "shard": shard, "scheduler": scheduler}
            swept = _train(cfg, dataset, claim.path, budget, wants_progress(quiet, as_json), how)
            result, runs = swept.outcome.result, swept.runs
            _chunk_notes(swept, claim.path)
            doc = pipeline.chunked_document(cfg, dataset, swept)
            with signals.deferred():  # a second signal abandons the write: the old files stay
                pipeline.write_outputs(
                    doc, claim, plots=not no_plots, hold=signals.held, curves=curves
                )
                pipeline.finish_chunks(swept, doc)
        try:
            print_sweep(doc, claim.path, result, len(runs), as_json=as_json, quiet=quiet)
            # still under the handlers: a signal while these import and write exits 130 / 143
            ci_reports(junit, *sweep_reports(doc, fail_on, result.seconds), config)
        except KeyboardInterrupt:
            click.echo(
                f"lrdiag: interrupted; results written to {printable(claim.path)}/", err=True
            )
            sys.exit(signals.exit_code)
    out_dir = claim.path
    if not doc["complete"] or signals.received():
        click.echo(
            f"lrdiag: interrupted; partial results written to {printable(out_dir)}/", err=True
        )
        sys.exit(signals.exit_code)
    if fail_on and any(v in fail_on for v in sweep_verdicts(doc["runs"])):
        sys.exit(ExitStatus.MATCHED)


def _train(cfg, dataset, out_dir, budget, interactive: bool, how: dict):
    """pipeline.train_in_chunks, with a progress bar on stderr when ``interactive`` (rich is
    imported only then)."""
    from lrdiag import pipeline

    if not interactive:
        return pipeline.train_in_chunks(cfg, dataset, out_dir, max_memory=budget, **how)
    from lrdiag import terminal

    lo, hi = pipeline.sweep_span(cfg, dataset, how["shard"])
    total = (hi - lo) * cfg.training.epochs
    with terminal.training_progress(hi - lo, total, make_console(stderr=True)) as advance:
        return pipeline.train_in_chunks(
            cfg, dataset, out_dir, max_memory=budget, progress=advance, **how
        )


def _chunk_notes(swept, out_dir) -> None:
    """What a resumed, sharded or Dask sweep did beside training, on stderr."""
    from lrdiag.formatting import plural

    o, where = swept.outcome, printable(str(out_dir))
    if o.reused:
        click.echo(
            f"lrdiag: note: resumed: {plural(o.reused, 'chunk')} of {o.reused + o.trained} "
            f"already trained in {where}/chunks/",
            err=True,
        )
    if o.retries:
        click.echo(
            f"lrdiag: note: {plural(o.retries, 'chunk')} trained again after a Dask worker died",
            err=True,
        )
    if swept.shard is not None:
        (k, n), (lo, hi) = swept.shard, swept.span
        click.echo(
            f"lrdiag: note: shard {k}/{n}: runs {lo} to {hi - 1}; lrdiag merge joins the "
            "shards' directories",
            err=True,
        )


def print_sweep(doc, out_dir, result, n_runs: int, *, as_json: bool, quiet: bool) -> None:
    """The sweep's stdout: its results document (--json), its directory (--quiet), or the
    report and where the files went. rich (lrdiag.terminal) is imported only to print the
    report: --json and --quiet do without it."""
    if as_json:
        from lrdiag import files

        echo_out(files.to_json_text(doc), nl=False)
    elif quiet:  # the one thing a script needs: where the results are (dir=$(lrdiag ... -q))
        echo_out(str(out_dir))
    else:
        from lrdiag import terminal

        console = make_console()
        timing = {
            "train_seconds": result.seconds,
            "sharpness_seconds": result.sharpness_seconds,
            "n_runs": n_runs,
        }
        terminal.render_sweep({**doc, "timing": timing}, console)
        # a path is printed whole (never wrapped) and literally (brackets are not markup)
        console.print(f"Results written to {printable(out_dir)}/", soft_wrap=True, markup=False)


def _print_plan(cfg, dataset, plan, as_json: bool, resumed=None, out=None) -> None:
    from lrdiag.sweep import axes as engine_axes

    info = {
        "name": cfg.name,
        "n_runs": plan.n_runs,
        "grid": {
            "learning_rates": len(cfg.sweep.learning_rates),
            "init_scales": len(cfg.init.scales),
            "seeds": len(cfg.training.seeds),
            **{name: len(values) for name, values in engine_axes(cfg)},
        },
        "n_train": int(len(dataset.X)),
        "n_val": 0 if dataset.X_val is None else int(len(dataset.X_val)),
        "epochs": cfg.training.epochs,
        "bytes_per_run": plan.bytes_per_run,
        "chunk_size": plan.chunk_size,
        "n_chunks": plan.n_chunks,
        "peak_bytes": plan.peak_bytes,
        "max_memory": plan.max_memory,
        "results_bytes": _results_bytes(plan.n_runs, cfg.training.epochs, dataset.X_val),
        "data_bytes": _data_bytes(dataset),
    }
    if resumed is not None:
        info["resume"] = resumed
    if as_json:
        echo_out(json.dumps(info, indent=2))
        return
    from lrdiag.formatting import plural

    g = info["grid"]
    echo_out(
        f"{cfg.name}: {plural(plan.n_runs, 'run')} = {plural(g['learning_rates'], 'learning rate')}"
        f" x {plural(g['init_scales'], 'init scale')} x {plural(g['seeds'], 'seed')}"
        + "".join(f" x {g[name]} {name.replace('_', ' ')}" for name, _ in engine_axes(cfg))
        + ", "
        f"{plural(cfg.training.epochs, 'epoch')} on {plural(info['n_train'], 'sample')}"
    )
    echo_out(
        f"memory: ~{_size(plan.bytes_per_run)} per run, ~{_size(plan.peak_bytes)} at peak "
        f"(budget {_size(plan.max_memory)}); {plural(plan.n_chunks, 'chunk')} of up to "
        f"{plural(min(plan.chunk_size, plan.n_runs), 'run')}"
    )
    echo_out(
        f"not in the budget: the data as loaded (~{_size(info['data_bytes'])}), judging and "
        f"writing the results (results.json ~{_size(info['results_bytes'])}; a few times that "
        f"in memory)"
    )
    if resumed is not None:
        echo_out(_resume_line(resumed, printable(str(out))))
    echo_out("dry run: nothing trained")


def _resume_line(r: dict, out: str) -> str:
    """What --resume would do in ``out`` (``pipeline.resume_plan``), in one line."""
    from lrdiag.formatting import plural

    if r["state"] == "partial":
        left = r["runs"] - r["done_runs"]
        return (
            f"resume: {r['done_chunks']} of {plural(r['chunks'], 'chunk')} done in {out}/ "
            f"({r['done_runs']} of {plural(r['runs'], 'run')}): "
            + (f"{plural(left, 'run')} left to train" if left else "nothing left to train")
        )
    if r["state"] == "other":
        return (
            f"resume: refused: {out}/ holds chunks of another config or data (--force starts over)"
        )
    if r["state"] == "finished":
        return f"resume: refused: {out}/ holds a finished sweep's results (--force starts over)"
    return f"resume: nothing to resume in {out}/: all {plural(r['runs'], 'run')} would train"


def _data_bytes(dataset) -> int:
    """Bytes of the loaded data's arrays (training and validation inputs and targets): what
    loading cost, held for the whole sweep beside the budget."""
    arrays = (dataset.X, dataset.Y, dataset.X_val, dataset.Y_val)
    return int(sum(a.nbytes for a in arrays if a is not None))


# Bytes results.json spends on one loss value (a line "        0.6931471805599453,"): it holds
# every run's training (and validation) curve, kept in memory beside the budget while written.
RESULTS_BYTES_PER_VALUE = 40


def _results_bytes(n_runs: int, epochs: int, X_val) -> int:
    curves = 1 if X_val is None or len(X_val) == 0 else 2
    return RESULTS_BYTES_PER_VALUE * n_runs * (epochs + 1) * curves


def _size(n: int) -> str:
    """A size in bytes for people: 1000 B, 3.8 KiB, 12.5 MiB, 2.00 GiB."""
    if n < 1024:
        return f"{n} B"
    if n < 2**20:
        return f"{n / 2**10:.1f} KiB"
    return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"
