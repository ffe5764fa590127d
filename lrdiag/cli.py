"""Command line: thin click commands, and the one place that maps errors to exit codes.

Exit codes: 0 done; 1 a ``--fail-on`` verdict matched (or a check failed); 2 a bad command
line, config, data or input file, or an experiment too large for memory (one line on stderr, no
traceback unless ``--traceback``); 3 an internal error; 130 interrupted by Ctrl-C (SIGINT), 143
by SIGTERM (a sweep writes the results so far, marked incomplete).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from enum import IntEnum
from pathlib import Path

import click

from lrdiag import __version__
from lrdiag.errors import LrdiagError, printable
from lrdiag.interrupt import Terminated


class ExitStatus(IntEnum):
    """lrdiag's exit codes (see the module docstring)."""

    OK = 0
    MATCHED = 1  # a --fail-on verdict matched, a lint fired, a gradient check failed
    USAGE = 2  # a bad command line, config, data or input file, or too little memory
    INTERNAL = 3  # a bug in lrdiag
    INTERRUPTED = 130  # 128 + SIGINT (Ctrl-C)
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by a broken pipe
    TERMINATED = 143  # 128 + SIGTERM


_TRACEBACK = "lrdiag.traceback"


def _show_help(ctx: click.Context, _param, value: bool) -> None:
    """click's --help, for a reader of stdout that may leave early (``lrdiag --help | head``):
    click's own exits 1 then, the code of a --fail-on match."""
    if value and not ctx.resilient_parsing:
        echo_out(ctx.get_help(), color=ctx.color)
        ctx.exit()


def _show_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        echo_out(f"lrdiag, version {__version__}", color=ctx.color)
        ctx.exit()


class _SafeHelp(click.Command):
    """A command whose --help survives a closed stdout (``_show_help``)."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = _show_help
        return option


class _Command(_SafeHelp, click.Command):
    pass


class _Lrdiag(_SafeHelp, click.Group):
    """A click group that turns exceptions into one-line messages and exit codes."""

    command_class = _Command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:
            # One line, like every exit-2 message (click's own is a usage block over four lines),
            # and never click's generic exit 1, which CI reads as a verdict.
            click.echo(f"lrdiag: error: {_one_line(exc.format_message())}{_hint(exc)}", err=True)
            ctx.exit(ExitStatus.USAGE)
        except LrdiagError as exc:
            _fail(ctx, ExitStatus.USAGE, f"lrdiag: error: {_one_line(exc)}")
        except Terminated:
            click.echo("lrdiag: terminated", err=True)
            ctx.exit(ExitStatus.TERMINATED)
        except KeyboardInterrupt:
            click.echo("lrdiag: interrupted", err=True)
            ctx.exit(ExitStatus.INTERRUPTED)
        except BrokenPipeError:  # stdout's reader left (| head) where a command did not expect it
            _stdout_gone()
            ctx.exit(ExitStatus.BROKEN_PIPE)
        except OSError as exc:  # the machine's, not ours: stdout on a full disk, a vanished file
            message = _one_line(exc)
            if exc.filename is None:  # a stream, stdout or stderr, that cannot take more
                _stdout_gone()
                message = f"cannot write its output: {exc.strerror or message}"
            _fail(ctx, ExitStatus.USAGE, f"lrdiag: error: {message}")
        except MemoryError:  # an experiment too large for this machine: the input's size
            _fail(
                ctx,
                ExitStatus.USAGE,
                "lrdiag: error: out of memory: the experiment is too large for this machine "
                "(fewer runs, epochs or samples; `lrdiag sweep CONFIG --dry-run` shows its size)",
            )
        except Exception as exc:  # a bug of ours, not the user's
            _fail(
                ctx,
                ExitStatus.INTERNAL,
                f"lrdiag: internal error: {type(exc).__name__}: {_one_line(exc)} "
                "(a bug in lrdiag: please report it; --traceback shows where)",
            )


def _hint(exc: click.ClickException) -> str:
    """Where a usage error's command explains itself."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        return f" (see '{exc.ctx.command_path} --help')"
    return ""


def _stdout_gone() -> None:
    """The reader of stdout has gone (``lrdiag ... | head``): point stdout at /dev/null, so later
    writes and the flush at exit succeed silently. The command can then finish (its files are
    written) and exit with its own code rather than one the broken pipe picked."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test capturing stdout)
        pass


def echo_out(text: str, *, nl: bool = True, color: bool | None = None) -> None:
    """``click.echo`` to stdout that lets its reader go away (see ``_stdout_gone``)."""
    try:
        click.echo(text, nl=nl, color=color)
    except BrokenPipeError:
        _stdout_gone()


def _one_line(message: BaseException | str) -> str:
    """A message (or an exception's) on one line: it may span lines; the contract is one."""
    lines = (line.strip() for line in str(message).splitlines())
    return printable(" ".join(line for line in lines if line) or type(message).__name__)


def _fail(ctx: click.Context, code: int, message: str):
    """Print ``message`` (after the traceback when --traceback is given) and exit with ``code``:
    the traceback is for reading, the exit code still tells CI what kind of failure it was
    (an uncaught exception would exit 1, the code of a --fail-on match)."""
    if ctx.meta.get(_TRACEBACK):
        click.echo(traceback.format_exc().rstrip("\n"), err=True)
    click.echo(message, err=True)
    ctx.exit(code)


def _set_traceback(ctx: click.Context, _param, value: bool) -> bool:
    ctx.meta[_TRACEBACK] = value
    return value


traceback_option = click.option(
    "--traceback",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_traceback,
    help="Show the full Python traceback on errors.",
)


def _verdict_list(ctx, _param, value: str | None) -> tuple[str, ...]:
    from lrdiag.classify import VERDICTS

    if not value:
        return ()
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [v for v in names if v not in VERDICTS]
    if bad:
        raise click.BadParameter(f"unknown verdict {bad[0]!r}; choose from {', '.join(VERDICTS)}")
    return names


fail_on_option = click.option(
    "--fail-on",
    metavar="VERDICT[,VERDICT]",
    callback=_verdict_list,
    help="Exit 1 if any curve, training or validation, gets one of these verdicts, e.g. "
    "diverging,oscillating.",
)


junit_option = click.option(
    "--junit",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a JUnit XML report to FILE for CI test dashboards: a test case per run or "
    "curve, failures for the --fail-on matches.",
)


def _ci_reports(junit, suites, markdown: str, matched: list, config_file=None) -> None:
    """--junit FILE, and under GitHub Actions the job summary ($GITHUB_STEP_SUMMARY) and an
    ::error annotation per --fail-on match (on stderr, which the runner reads too)."""
    from lrdiag import github
    from lrdiag import junit as junit_xml

    if junit is not None:
        from lrdiag.files import atomic_write_text

        try:
            atomic_write_text(junit, junit_xml.to_xml(suites))
        except OSError as exc:
            raise LrdiagError(f"cannot write the JUnit report {junit}: {exc.strerror}") from None
    if not github.active():
        return
    summary = github.summary_file()
    if summary is not None:
        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown + "\n")
        except OSError as exc:
            raise LrdiagError(
                f"cannot write $GITHUB_STEP_SUMMARY {summary}: {exc.strerror}"
            ) from None
    for line in github.match_annotations(matched, config_file=config_file):
        click.echo(line, err=True)


def _sweep_verdicts(runs) -> list:
    """Every verdict a sweep printed, for --fail-on: each run's, and its validation curve's
    (as ``lrdiag classify`` counts every curve of a log, validation curves included)."""
    return [v for run in runs for v in (run["verdict"], (run.get("val") or {}).get("verdict"))]


def make_console(*, stderr: bool = False):
    """terminal.make_console, which lets stdout's reader go away (see ``_stdout_gone``)."""
    from lrdiag import terminal

    return terminal.make_console(stderr=stderr, on_broken_pipe=None if stderr else _stdout_gone)


@click.group(cls=_Lrdiag, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    "-V",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli():
    """Why does my loss go up, jump around or stall when I change the learning rate?

    \b
    lrdiag trains every learning rate x init scale x seed of an experiment at once,
    says for each run whether it is converging, oscillating, diverging or plateaued
    and why, and saves plots and machine-readable results.

    \b
    Quick start:
      lrdiag sweep configs/quickstart.yaml
      lrdiag sweep my.yaml --json --fail-on diverging > results.json
    """


# --------------------------------------------------------------------------- sweep


def _default_out(name: str) -> Path:
    """Create and return ``lrdiag-out/<name>``, or the first of ``<name>-2``, ``<name>-3``, ...
    that does not exist yet. Creating it claims it, so two sweeps running at once never pick
    the same directory."""
    base = Path("lrdiag-out")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LrdiagError(f"cannot create the output directory {base}: {exc.strerror}") from None
    candidate, n = base / name, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = base / f"{name}-{n}"
        except OSError as exc:
            raise LrdiagError(f"cannot create the output directory {candidate}: {exc}") from None


def _claimed(signals, out: str | None, name: str, force: bool):
    """``_claim_out`` whole: a signal meanwhile (a killed sweep's files may be being swapped in)
    takes effect once the claim is made, which is then given up."""
    with signals.held():
        claim = _claim_out(out, name, force)
    if signals.received():
        claim.release()
        raise Terminated if signals.exit_code == ExitStatus.TERMINATED else KeyboardInterrupt
    return claim


def _claim_out(out: str | None, name: str, force: bool):
    """The output directory, claimed before training (``outdir.claim``): an explicit ``--out``,
    else a fresh default directory."""
    from lrdiag import outdir

    if out is None:
        return outdir.claim(_default_out(name), force=False, fresh=True)
    return outdir.claim(out, force=force)


@cli.command("sweep")
@click.argument("config", type=click.Path(path_type=Path))  # load_config explains a bad path
@click.option(
    "--out",
    "-o",
    metavar="DIR",
    help="Where to write results and plots [default: lrdiag-out/<name>, or <name>-2, ...].",
)
@click.option("--force", is_flag=True, help="Overwrite results already in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print results.json to stdout, nothing else.")
@fail_on_option
@junit_option
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
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
    "--dry-run", is_flag=True, help="Show grid size, memory estimate and chunks; train nothing."
)
@click.option(
    "--save-init",
    metavar="DIR",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each seed's initial weights to DIR/init_seed<seed>.npz (W1, b1, ...: what "
    "init: {scheme: file} reads) before training.",
)
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
):
    """Train every run of the experiment in CONFIG and judge each one.

    \b
    Example:
      lrdiag sweep configs/tanh_spike.yaml --out results/tanh --fail-on diverging

    Writes results.json, results.csv, report.md and the plots curves.png,
    final_loss_vs_lr.png, phase.png (and sharpness.png when stability.track_every tracks it) to
    --out. Exit 1 when a --fail-on verdict matched.
    """
    from lrdiag import pipeline
    from lrdiag.sweep import parse_memory

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
        _print_plan(cfg, dataset, plan, as_json)
        return

    from lrdiag.interrupt import Interrupts
    from lrdiag.sweep import expand_grid

    # The handlers stay until the command ends: a signal while the report prints (the results
    # are written by then) stops the printing with 130 / 143, as one while training does.
    with Interrupts() as signals:
        with _claimed(signals, out, cfg.name, force) as claim:
            for note in claim.notes:
                click.echo(f"lrdiag: note: {printable(claim.path)}: {printable(note)}", err=True)
            runs = expand_grid(cfg)
            # the progress bar moves the cursor with escape codes: none with NO_COLOR
            plain = bool(os.environ.get("NO_COLOR"))
            interactive = not (quiet or as_json or plain) and sys.stderr.isatty()
            result = _train_with_progress(cfg, dataset, runs, budget, interactive)
            doc = pipeline.judge(cfg, dataset, runs, result)
            with signals.deferred():  # a second signal abandons the write: the old files stay
                pipeline.write_outputs(doc, claim, plots=not no_plots, hold=signals.held)
        try:
            _print_sweep(doc, claim.path, result, len(runs), as_json=as_json, quiet=quiet)
            # still under the handlers: a signal while these import and write exits 130 / 143
            from lrdiag import github
            from lrdiag import junit as junit_xml
            from lrdiag.markdown import markdown_summary

            _ci_reports(
                junit,
                [junit_xml.sweep_suite(doc, fail_on, result.seconds)],
                markdown_summary(doc),
                github.verdict_matches(doc["runs"], fail_on),
                config,
            )
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
    if fail_on and any(v in fail_on for v in _sweep_verdicts(doc["runs"])):
        sys.exit(ExitStatus.MATCHED)


def _print_sweep(doc, out_dir, result, n_runs: int, *, as_json: bool, quiet: bool) -> None:
    """The sweep's stdout: its results document (--json), its directory (--quiet), or the
    report and where the files went."""
    from lrdiag import files, terminal

    if as_json:
        echo_out(files.to_json_text(doc), nl=False)
    elif quiet:  # the one thing a script needs: where the results are (dir=$(lrdiag ... -q))
        echo_out(str(out_dir))
    else:
        console = make_console()
        timing = {
            "train_seconds": result.seconds,
            "sharpness_seconds": result.sharpness_seconds,
            "n_runs": n_runs,
        }
        terminal.render_sweep({**doc, "timing": timing}, console)
        # a path is printed whole (never wrapped) and literally (brackets are not markup)
        console.print(f"Results written to {printable(out_dir)}/", soft_wrap=True, markup=False)


def _train_with_progress(cfg, dataset, runs, budget, interactive):
    """pipeline.train, with a progress bar on stderr when ``interactive``."""
    from lrdiag import pipeline, terminal

    if not interactive:
        return pipeline.train(cfg, dataset, runs, max_memory=budget)
    total = len(runs) * cfg.training.epochs
    with terminal.training_progress(len(runs), total, make_console(stderr=True)) as advance:
        return pipeline.train(cfg, dataset, runs, max_memory=budget, progress=advance)


def _print_plan(cfg, dataset, plan, as_json: bool) -> None:
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
    echo_out("dry run: nothing trained")


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


# --------------------------------------------------------------------------- find


def _find_lr_option(name: str, meaning: str):
    from lrdiag.config import GRID_MAX, GRID_MIN

    return click.option(
        name,
        type=click.FloatRange(GRID_MIN, GRID_MAX),
        metavar="LR",
        help=f"Override find.{meaning} from the config.",
    )


@cli.command("find")
@click.argument("config", type=click.Path(path_type=Path))  # load_config explains a bad path
@click.option(
    "--out",
    "-o",
    metavar="DIR",
    help="Where to write find.json, find.csv, find.png and the sweep's files [default: "
    "lrdiag-out/<name>-find, or <name>-find-2, ...].",
)
@click.option("--force", is_flag=True, help="Overwrite results already in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print find.json to stdout, nothing else.")
@fail_on_option
@click.option("--no-sweep", is_flag=True, help="Only the range test: no sweep to measure it.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
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
def find_lr(
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

    plain = bool(os.environ.get("NO_COLOR"))
    interactive = not (quiet or as_json or plain) and sys.stderr.isatty()

    def train(sweep_cfg, data, runs):
        return _train_with_progress(sweep_cfg, data, runs, budget, interactive)

    def write_find(staging):
        find_report.write_find(doc, staging)
        if not no_plots:
            from lrdiag import find_plot

            find_plot.save_find_plot(doc, staging)

    with Interrupts() as signals:
        with _claimed(signals, out, f"{cfg.name}-find", force) as claim:
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
    if fail_on and sweep_doc and any(v in fail_on for v in _sweep_verdicts(sweep_doc["runs"])):
        sys.exit(ExitStatus.MATCHED)


# --------------------------------------------------------------------------- gradcheck

CONFIG_SUFFIXES = (".yaml", ".yml")


@cli.command("gradcheck")
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


@cli.command("check")
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


# --------------------------------------------------------------------------- classify

# --loss: lrdiag's names (classify.LOSS_NAMES), and the Keras / PyTorch names people type.
LOSS_ALIASES = {
    "bce": "bce",
    "binary_crossentropy": "bce",
    "binary_cross_entropy": "bce",
    "cross_entropy": "cross_entropy",
    "crossentropy": "cross_entropy",
    "ce": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "mse": "mse",
    "mean_squared_error": "mse",
}


def _loss_name(_ctx, _param, value: str | None) -> str | None:
    if value is None:
        return None
    name = LOSS_ALIASES.get(value.strip().lower().replace("-", "_"))
    if name is None:
        raise click.BadParameter(
            f"unknown loss {value!r}; choose from bce, cross_entropy, mse "
            "(Keras names such as categorical_crossentropy work too)"
        )
    return name


@cli.command("classify")
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
@click.option(
    "--column",
    "-c",
    "columns",
    multiple=True,
    metavar="NAME",
    help="Judge this column (repeatable) [default: every column whose name contains 'loss', "
    "else the one numeric column that is not an epoch/step/time column].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON, nothing else.")
@fail_on_option
@junit_option
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take the thresholds from this YAML file's classify: section (a sweep config, or a "
    "file with only that section) [default: built in; a results.json's own].",
)
@click.option(
    "--classes",
    "-k",
    type=click.IntRange(min=2),
    metavar="K",
    help="Number of classes: a cross-entropy loss flat near ln K is stuck_at_chance.",
)
@click.option(
    "--loss",
    "loss_name",
    metavar="NAME",
    callback=_loss_name,
    help="The loss: bce, cross_entropy or mse (Keras names work too), for stuck_at_chance "
    "and progress towards 0 [default: unknown; a results.json's own].",
)
@click.option(
    "--full-batch",
    is_flag=True,
    help="The curves come from full-batch gradient descent (no sampling noise): sustained "
    "swings are oscillation however irregular [default: off; a results.json's own].",
)
@traceback_option
def classify_logs(
    files, columns, as_json, fail_on, junit, config_file, classes, loss_name, full_batch
):
    """Judge the loss curves in log files the way the sweep judges its runs.

    \b
    FILE is read by its content, whatever its name (- reads stdin):
      CSV with a header  Keras CSVLogger, Lightning metrics.csv, TensorBoard export
      JSON               a list of numbers; {"loss": [...], ...} (Keras history);
                         records [{"step": 1, "loss": 0.7}, ...]; an lrdiag
                         results.json (every run re-judged)
      plain text         one number a line (# comments and blank lines skipped)
      printed output     Keras's console output (Epoch 1/10, progress bars); one
                         line an epoch: Epoch [1/50], Train Loss: 0.1, Val Loss: 0.2;
                         PyTorch's CIFAR-10 tutorial: [1,  2000] loss: 2.014;
                         Hugging Face Trainer's dicts: {'loss': 0.52, 'epoch': 0.5}
    nan and inf (any spelling) are non-finite values; an empty cell or NA is a missing one.
    Validation curves (val_loss, ...) are judged with their training curve. A log whose
    epoch (or step) column goes back was appended to after a restart: each run is judged
    on its own, named 'loss (run 3 of 4, lines 22-31)' (file lines; JSON records from 0),
    the last run first. A column with one value is not a curve. A --column that is not a
    loss says so on stderr: accuracy-like metrics are judged negated, a learning rate as
    is. An accuracy column that contradicts its cross-entropy loss is a note.

    \b
    Examples:
      lrdiag classify training.csv
      lrdiag classify lightning_logs/version_0/metrics.csv --column val_loss
      lrdiag classify history.json --loss cross_entropy --classes 10
      lrdiag classify lrdiag-out/quickstart/results.json --config strict.yaml
      tail -n 500 losses.txt | lrdiag classify - --fail-on diverging

    --json prints {"file", "format", "loss", "classes", "runs", "notes", "curves":
    [{"name", "column", "run", "negated", "verdict", "reason", "flags", "metrics",
    "train_curve", "x"}]} for one FILE ("runs": how many runs the log was split into;
    "notes": what stderr said; "run": null or {"index", "of", "first", "last", "unit"};
    "negated": a higher-is-better column read upside down; "x": the epoch, step or line
    column the reason's positions come from), and {"files": [...]} of those for several.
    Exit 1 when a --fail-on verdict matched (any curve: validation curves and every run
    included), 2 when a file cannot be read (nothing is printed then).
    """
    from lrdiag import logs, terminal
    from lrdiag.config import load_thresholds
    from lrdiag.files import to_json_text

    if files.count("-") > 1:
        raise click.BadParameter("- (stdin) can be read once", param_hint="FILE")
    if classes is not None and (loss_name == "mse" or (loss_name == "bce" and classes != 2)):
        raise click.BadParameter(
            f"--classes {classes} does not go with --loss {loss_name} "
            "(a chance loss is ln K for cross_entropy, ln 2 for bce)",
            param_hint="--classes",
        )
    thresholds = load_thresholds(config_file) if config_file is not None else None
    read = []
    for file in files:
        if file == "-":
            with click.open_file("-", "rb") as stdin:
                if stdin.isatty():
                    click.echo(
                        "lrdiag: reading a loss log from the terminal; end with Ctrl-D", err=True
                    )
                data = logs.read_capped(stdin, logs.STDIN)
            read.append(logs.parse_log(data, logs.STDIN, columns=columns))
        else:
            read.append(logs.read_log(file, columns=columns))
    docs = [
        logs.judge(log, thresholds, n_classes=classes, loss_name=loss_name, full_batch=full_batch)
        for log in read
    ]
    for doc in docs:
        for note in doc["notes"]:
            click.echo(f"lrdiag: note: {printable(doc['file'])}: {printable(note)}", err=True)
    if as_json:
        echo_out(to_json_text(docs[0] if len(docs) == 1 else {"files": docs}), nl=False)
    else:
        console = make_console()
        for i, doc in enumerate(docs):
            if i:
                console.print()
            terminal.render_classify(doc, console)
    from lrdiag import github
    from lrdiag import junit as junit_xml

    matched = github.curve_matches(docs, fail_on)
    _ci_reports(
        junit, junit_xml.classify_suites(docs, fail_on), github.classify_markdown(docs), matched
    )
    if matched:
        sys.exit(ExitStatus.MATCHED)


# --------------------------------------------------------------------------- compare


def _change_list(_ctx, _param, value: str | None) -> tuple[str, ...]:
    from lrdiag.compare import FAIL_ON

    names = tuple(v.strip() for v in (value or "").split(",") if v.strip())
    bad = [v for v in names if v not in FAIL_ON]
    if bad:
        raise click.BadParameter(f"unknown change {bad[0]!r}; choose from {', '.join(FAIL_ON)}")
    return names


@cli.command("compare")
@click.argument("before", metavar="BEFORE")
@click.argument("after", metavar="AFTER")
@click.option(
    "--fail-on",
    metavar="CHANGE[,CHANGE]",
    callback=_change_list,
    help="Exit 1 if any of these changes is found: boundary-down, new-divergence, verdict-change.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0, max=1),
    default=0.1,
    show_default=True,
    help="List final losses that moved by more than this share of the larger of the two.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON, nothing else.")
@click.option("--markdown", is_flag=True, help="Print the comparison as Markdown, nothing else.")
@junit_option
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The config AFTER was swept from: GitHub annotations point at its learning rates.",
)
@traceback_option
def compare_cmd(before, after, fail_on, tolerance, as_json, markdown, junit, config_file):
    """Compare two sweeps of the same grid: did the stability boundary move?

    BEFORE and AFTER are results directories or results.json files (e.g. main's and a pull
    request's). Per init scale (and any other axis the sweep varies): the learning rate the
    runs are stable up to, the largest converging lr, the bracket and the predicted critical
    lr, before and after; then the verdicts that changed run by run, and the final losses that
    moved by more than --tolerance. A grid that only partly overlaps is compared on the
    overlap, with a note; an axis with one value on each side (init.scales: [1] before, [3]
    after) is compared across.

    \b
    Examples:
      lrdiag compare main-results/ lrdiag-out/quickstart --fail-on boundary-down
      lrdiag compare before.json after.json --markdown > comment.md

    Exit 1 when a --fail-on change was found, 2 when a file cannot be read or the grids have
    no run in common (the message names what differs).
    """
    from lrdiag import compare, compare_report, files

    if as_json and markdown:
        raise click.BadParameter("choose one of --json and --markdown", param_hint="--markdown")
    doc = compare.compare(compare.load(before), compare.load(after), tolerance=tolerance)
    matched = compare.matches(doc, fail_on)
    if as_json:
        echo_out(
            files.to_json_text({**doc, "fail_on": list(fail_on), "matched": matched}), nl=False
        )
    elif markdown:
        echo_out(compare_report.markdown_compare(doc, matched), nl=False)
    else:
        compare_report.render_compare(doc, matched, make_console())
    from lrdiag import junit as junit_xml

    _ci_reports(
        junit,
        [junit_xml.compare_suite(doc, matched)],
        compare_report.markdown_compare(doc, matched),
        matched,
        config_file,
    )
    if matched:
        sys.exit(ExitStatus.MATCHED)


# --------------------------------------------------------------------------- schema


@cli.command("schema")
@click.argument("name", type=click.Choice(["config", "results", "compare"]))
@traceback_option
def schema_cmd(name):
    """Print the JSON Schema (draft 2020-12) of a config file, results.json or compare --json.

    \b
    Examples:
      lrdiag schema config > lrdiag-config.schema.json
      lrdiag schema results > results.schema.json

    Point the YAML language server at the config schema with a first line
    `# yaml-language-server: $schema=lrdiag-config.schema.json` and editors complete and
    check the keys as you type.
    """
    from lrdiag import files
    from lrdiag.schema import SCHEMAS

    echo_out(files.to_json_text(SCHEMAS[name]()), nl=False)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Errors inside a command are handled by ``_Lrdiag.invoke``;
    here are those before it: an unknown option of lrdiag itself (one line, exit 2, as inside
    a command), plain ``lrdiag`` (the help, exit 2) and Ctrl-C while the command line is parsed
    (exit 130; click's standalone mode would print "Aborted!" and exit 1, the code of a
    --fail-on match)."""
    for name in ("stdout", "stderr"):  # started with the stream closed (2>&-): print nowhere
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    # SIGTERM outside a command's own handlers (before they are set, after they are restored,
    # while the results print or the process exits) ends with 143 too, never a kill by signal.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = cli.main(args=argv, prog_name="lrdiag", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lrdiag: interrupted", err=True)
        sys.exit(ExitStatus.INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as exc:  # plain `lrdiag`: the help
        exc.show()
        sys.exit(ExitStatus.USAGE)
    except click.ClickException as exc:  # one line, as inside a command (see _Lrdiag.invoke)
        click.echo(f"lrdiag: error: {_one_line(exc.format_message())}{_hint(exc)}", err=True)
        sys.exit(ExitStatus.USAGE)
    _flush_stdout()
    sys.exit(code if isinstance(code, int) else ExitStatus.OK)


def _terminated(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def _flush_stdout() -> None:
    """Flush stdout before exiting, so that a write it cannot take (stdout on /dev/full, a full
    disk) is exit 2 with one line, not Python's exit 120 at shutdown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()
    except OSError as exc:
        _stdout_gone()
        click.echo(f"lrdiag: error: cannot write to stdout: {_one_line(exc)}", err=True)
        sys.exit(ExitStatus.USAGE)


if __name__ == "__main__":  # pragma: no cover
    main()
