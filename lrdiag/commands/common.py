"""What several commands share: exit codes, the one-line error helpers, shared options,
the console, the output directory's claim and the CI reports.

Nothing here imports rich, NumPy or matplotlib at module level: ``lrdiag --help`` loads this
module (for ``SafeHelp``) and must stay light.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path

import click

from lrdiag.errors import LrdiagError, printable
from lrdiag.interrupt import Terminated


class ExitStatus(IntEnum):
    """lrdiag's exit codes (see lrdiag.cli's docstring)."""

    OK = 0
    MATCHED = 1  # a --fail-on verdict matched, a lint fired, a gradient check failed
    USAGE = 2  # a bad command line, config, data or input file, or too little memory
    INTERNAL = 3  # a bug in lrdiag
    INTERRUPTED = 130  # 128 + SIGINT (Ctrl-C)
    BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by a broken pipe
    TERMINATED = 143  # 128 + SIGTERM


TRACEBACK = "lrdiag.traceback"


# --------------------------------------------------------------------------- errors and stdout


def show_help(ctx: click.Context, _param, value: bool) -> None:
    """click's --help, for a reader of stdout that may leave early (``lrdiag --help | head``):
    click's own exits 1 then, the code of a --fail-on match."""
    if value and not ctx.resilient_parsing:
        echo_out(ctx.get_help(), color=ctx.color)
        ctx.exit()


class SafeHelp(click.Command):
    """A command whose --help survives a closed stdout (``show_help``)."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = show_help
        return option


def hint(exc: click.ClickException) -> str:
    """Where a usage error's command explains itself."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        return f" (see '{exc.ctx.command_path} --help')"
    return ""


def stdout_gone() -> None:
    """The reader of stdout has gone (``lrdiag ... | head``): point stdout at /dev/null, so later
    writes and the flush at exit succeed silently. The command can then finish (its files are
    written) and exit with its own code rather than one the broken pipe picked."""
    _to_devnull(sys.stdout)


def _to_devnull(stream) -> None:
    """Point ``stream``'s file descriptor at /dev/null: what it still holds is written there."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test capturing the stream)
        pass


def echo_err(message: str, *, color: bool | None = None) -> None:
    """``click.echo`` to stderr that goes on when stderr cannot take the message (a full disk,
    its reader gone): stderr then points at /dev/null, and the exit code alone says what
    happened (an OSError let out of here would exit 1, the code of a --fail-on match)."""
    try:
        click.echo(message, err=True, color=color)
    except OSError:
        _to_devnull(sys.stderr)


def echo_out(text: str, *, nl: bool = True, color: bool | None = None) -> None:
    """``click.echo`` to stdout that lets its reader go away (see ``stdout_gone``)."""
    try:
        click.echo(text, nl=nl, color=color)
    except BrokenPipeError:
        stdout_gone()


def one_line(message: BaseException | str) -> str:
    """A message (or an exception's) on one line: it may span lines; the contract is one."""
    lines = (line.strip() for line in str(message).splitlines())
    return printable(" ".join(line for line in lines if line) or type(message).__name__)


def fail(ctx: click.Context, code: int, message: str):
    """Print ``message`` (after the traceback when --traceback is given) and exit with ``code``:
    the traceback is for reading, the exit code still tells CI what kind of failure it was
    (an uncaught exception would exit 1, the code of a --fail-on match)."""
    if ctx.meta.get(TRACEBACK):
        echo_err(traceback.format_exc().rstrip("\n"))
    echo_err(message)
    ctx.exit(code)


def make_console(*, stderr: bool = False):
    """terminal.make_console, which lets stdout's reader go away (see ``stdout_gone``)."""
    from lrdiag import terminal

    return terminal.make_console(stderr=stderr, on_broken_pipe=None if stderr else stdout_gone)


# --------------------------------------------------------------------------- shared options


def _set_traceback(ctx: click.Context, _param, value: bool) -> bool:
    ctx.meta[TRACEBACK] = value
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


force_option = click.option("--force", is_flag=True, help="Overwrite results already in --out.")
no_plots_option = click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
results_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print results.json to stdout, nothing else."
)


# --------------------------------------------------------------------------- CI reports


def ci_reports(
    junit, suites: Callable[[], list], markdown: Callable[[], str], matched: list, config_file=None
) -> None:
    """--junit FILE, and under GitHub Actions the job summary ($GITHUB_STEP_SUMMARY) and an
    ::error annotation per --fail-on match (on stderr, which the runner reads too).
    ``suites()`` and ``markdown()`` make the JUnit suites and the summary, called only when
    wanted: a sweep without --junit outside GitHub Actions builds neither (nor loads XML)."""
    from lrdiag import github

    if junit is not None:
        from lrdiag import junit as junit_xml
        from lrdiag.files import atomic_write_text

        try:
            atomic_write_text(junit, junit_xml.to_xml(suites()))
        except OSError as exc:
            raise LrdiagError(f"cannot write the JUnit report {junit}: {exc.strerror}") from None
    if not github.active():
        return
    summary = github.summary_file()
    if summary is not None:
        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown() + "\n")
        except OSError as exc:
            raise LrdiagError(
                f"cannot write $GITHUB_STEP_SUMMARY {summary}: {exc.strerror}"
            ) from None
    for line in github.match_annotations(matched, config_file=config_file):
        click.echo(line, err=True)


def sweep_reports(doc, fail_on, seconds: float) -> tuple[Callable, Callable, list]:
    """``ci_reports``' JUnit suites, Markdown summary (both made when called) and --fail-on
    matches of a sweep's results document (sweep, merge)."""
    from lrdiag import github

    def suites() -> list:
        from lrdiag import junit as junit_xml

        return [junit_xml.sweep_suite(doc, fail_on, seconds)]

    def markdown() -> str:
        from lrdiag.markdown import markdown_summary

        return markdown_summary(doc)

    return suites, markdown, github.verdict_matches(doc["runs"], fail_on)


def sweep_verdicts(runs) -> list:
    """Every verdict a sweep printed, for --fail-on: each run's, and its validation curve's
    (as ``lrdiag classify`` counts every curve of a log, validation curves included)."""
    return [v for run in runs for v in (run["verdict"], (run.get("val") or {}).get("verdict"))]


# --------------------------------------------------------------------------- training runs


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


def claimed(signals, out: str | None, name: str, force: bool):
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


def wants_progress(quiet: bool, as_json: bool) -> bool:
    """Whether to draw a progress bar on stderr: a terminal, no --quiet or --json, and colour
    allowed (the bar moves the cursor with escape codes: none with NO_COLOR)."""
    plain = bool(os.environ.get("NO_COLOR"))
    return not (quiet or as_json or plain) and sys.stderr.isatty()


def train_with_progress(cfg, dataset, runs, budget, interactive: bool):
    """pipeline.train, with a progress bar on stderr when ``interactive`` (rich is imported
    only then)."""
    from lrdiag import pipeline

    if not interactive:
        return pipeline.train(cfg, dataset, runs, max_memory=budget)
    from lrdiag import terminal

    total = len(runs) * cfg.training.epochs
    with terminal.training_progress(len(runs), total, make_console(stderr=True)) as advance:
        return pipeline.train(cfg, dataset, runs, max_memory=budget, progress=advance)
