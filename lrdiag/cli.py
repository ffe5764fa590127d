"""Command line: the click group, and the one place that maps errors to exit codes.

The commands live in lrdiag.commands, one module each, imported only when one runs; this module
stays light, so ``lrdiag --help`` and ``--version`` load neither NumPy, rich nor matplotlib.
``ExitStatus`` is defined in lrdiag.commands.common (the commands exit with it).

Exit codes: 0 done; 1 a ``--fail-on`` verdict matched (or a check failed); 2 a bad command
line, config, data or input file, or an experiment too large for memory (one line on stderr, no
traceback unless ``--traceback``); 3 an internal error; 130 interrupted by Ctrl-C (SIGINT), 143
by SIGTERM (a sweep writes the results so far, marked incomplete).
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from typing import NoReturn

import click

from lrdiag import __version__
from lrdiag.commands.common import (
    ExitStatus,
    SafeHelp,
    echo_err,
    echo_out,
    fail,
    hint,
    one_line,
    stdout_gone,
)
from lrdiag.errors import LrdiagError
from lrdiag.interrupt import Terminated

__all__ = ["COMMANDS", "ExitStatus", "cli", "main", "run"]  # ExitStatus: lrdiag.cli's, as before

# Each command: its module lrdiag.commands.<name> defines <name>_command; beside it, the first
# sentence of its help, which `lrdiag --help` lists without importing the module (a test checks
# these against the commands' own help).
COMMANDS: dict[str, str] = {
    "check": "Name the config and data mistakes that look like learning-rate problems.",
    "classify": "Judge the loss curves in log files the way the sweep judges its runs.",
    "compare": "Compare two sweeps of the same grid: did the stability boundary move?",
    "find": "Run the LR range test on CONFIG, then a short sweep that measures its answer.",
    "gradcheck": "Compare gradients with finite differences and name the bug.",
    "merge": "Merge the shards of lrdiag sweep --shard K/N into the results of one sweep.",
    "schema": "Print the JSON Schema (draft 2020-12) of a config file, results.json or compare "
    "--json.",
    "sweep": "Train every run of the experiment in CONFIG and judge each one.",
}


class _LazyCommands(Mapping[str, click.Command]):
    """The group's commands by name, each module imported when its command is first looked up
    (to run it, or to show its help): ``lrdiag --help`` and ``--version`` import none."""

    def __getitem__(self, name: str) -> click.Command:
        if name not in COMMANDS:
            raise KeyError(name)
        module = importlib.import_module(f"lrdiag.commands.{name}")
        command: click.Command = getattr(module, f"{name}_command")
        return command

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


def _show_version(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        echo_out(f"lrdiag, version {__version__}", color=ctx.color)
        ctx.exit()


class _Lrdiag(SafeHelp, click.Group):
    """A click group that turns exceptions into one-line messages and exit codes."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing under "Commands", from COMMANDS' sentences: no command is imported."""
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [
            (name, click.Command(name, help=COMMANDS[name]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except click.ClickException as exc:
            # One line, like every exit-2 message (click's own is a usage block over four lines),
            # and never click's generic exit 1, which CI reads as a verdict.
            echo_err(f"lrdiag: error: {one_line(exc.format_message())}{hint(exc)}")
            ctx.exit(ExitStatus.USAGE)
        except LrdiagError as exc:
            fail(ctx, ExitStatus.USAGE, f"lrdiag: error: {one_line(exc)}")
        except Terminated:
            echo_err("lrdiag: terminated")
            ctx.exit(ExitStatus.TERMINATED)
        except KeyboardInterrupt:
            echo_err("lrdiag: interrupted")
            ctx.exit(ExitStatus.INTERRUPTED)
        except BrokenPipeError:  # stdout's reader left (| head) where a command did not expect it
            stdout_gone()
            ctx.exit(ExitStatus.BROKEN_PIPE)
        except OSError as exc:  # the machine's, not ours: stdout on a full disk, a vanished file
            message = one_line(exc)
            if exc.filename is None:  # a stream, stdout or stderr, that cannot take more
                stdout_gone()
                message = f"cannot write its output: {exc.strerror or message}"
            fail(ctx, ExitStatus.USAGE, f"lrdiag: error: {message}")
        except MemoryError:  # an experiment too large for this machine: the input's size
            fail(
                ctx,
                ExitStatus.USAGE,
                "lrdiag: error: out of memory: the experiment is too large for this machine "
                "(fewer runs, epochs or samples; `lrdiag sweep CONFIG --dry-run` shows its size)",
            )
        except Exception as exc:  # a bug of ours, not the user's
            fail(
                ctx,
                ExitStatus.INTERNAL,
                f"lrdiag: internal error: {type(exc).__name__}: {one_line(exc)} "
                "(a bug in lrdiag: please report it; --traceback shows where)",
            )


@click.group(
    cls=_Lrdiag,
    commands=_LazyCommands(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Errors inside a command are handled by ``_Lrdiag.invoke``;
    here are those before it: an unknown option of lrdiag itself (one line, exit 2, as inside
    a command), plain ``lrdiag`` (the help, exit 2) and Ctrl-C while the command line is parsed
    (exit 130; click's standalone mode would print "Aborted!" and exit 1, the code of a
    --fail-on match)."""
    # Started with a stream closed (<&-, 2>&-): read nothing from it, print nowhere.
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
    # SIGTERM outside a command's own handlers (before they are set, after they are restored,
    # while the results print or the process exits) ends with 143 too, never a kill by signal.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = cli.main(args=argv, prog_name="lrdiag", standalone_mode=False)
    except click.exceptions.Abort:
        echo_err("lrdiag: interrupted")
        sys.exit(ExitStatus.INTERRUPTED)
    except click.exceptions.NoArgsIsHelpError as exc:  # plain `lrdiag`: the help
        echo_err(exc.format_message(), color=exc.ctx.color)
        sys.exit(ExitStatus.USAGE)
    except click.ClickException as exc:  # one line, as inside a command (see _Lrdiag.invoke)
        echo_err(f"lrdiag: error: {one_line(exc.format_message())}{hint(exc)}")
        sys.exit(ExitStatus.USAGE)
    _flush_stdout()
    sys.exit(code if isinstance(code, int) else ExitStatus.OK)


def run() -> NoReturn:
    """The ``lrdiag`` script and ``python -m lrdiag``: ``main``, then the process ends without
    tearing the interpreter down (``_end_now``). ``main`` itself exits as usual (it raises
    SystemExit), for a caller that goes on after it."""
    code: list[int] = []  # main's exit code, once it has exited with one
    if _no_exit_handlers():  # else one registered first (coverage, say) would be skipped
        atexit.register(_end_now, code)  # so it runs after every handler the command registers
    try:
        main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code.append(exc.code or 0)
        signal.signal(signal.SIGTERM, _terminated_exiting)
        raise
    raise SystemExit(ExitStatus.OK)  # pragma: no cover - main always exits


# Loaded when a user's own Python file runs in the process (lrdiag gradcheck MODULE.py): a file
# it left open is flushed only by Python's teardown, which then must happen.
USER_CODE = "lrdiag.gradcheck.usermodule"


def _no_exit_handlers() -> bool:
    """Whether no exit handler is registered yet (CPython counts them; elsewhere: unknown)."""
    count = getattr(atexit, "_ncallbacks", None)
    return count is not None and count() == 0


def _end_now(code: list[int]) -> None:
    """The last exit handler: once Python has joined the command's threads and run the other
    exit handlers, end the process with ``os._exit`` instead of finalizing the interpreter,
    which frees every object and module one by one and stops NumPy's BLAS threads (30-200 ms
    after a sweep: docs/performance.md). Nothing is lost: the files lrdiag writes are closed
    (and fsynced) by then, and stdout, stderr and C's stdio buffers are flushed here. Python
    exits as usual when main ended without an exit code (an uncaught exception), a stream
    cannot be flushed (Python then reports it), NumPy was never loaded (a light command: its
    teardown is short) or a user's code ran (``USER_CODE``)."""
    if not code or "numpy" not in sys.modules or USER_CODE in sys.modules:
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        import ctypes  # loaded by NumPy already

        ctypes.CDLL(None).fflush(None)  # what C's exit() flushes (an extension's printf)
    except (OSError, ValueError, TypeError, AttributeError):  # no C library to ask (Windows)
        return
    os._exit(code[0])


def _terminated(signum: int, _frame) -> None:
    raise SystemExit(128 + signum)


def _terminated_exiting(signum: int, _frame) -> None:
    """SIGTERM once main has exited, while Python joins threads and runs the exit handlers,
    where an exception is printed and ignored (the exit code would stay main's): main's output
    is flushed already, so the process ends here, with 143."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a write it interrupted
            pass
    os._exit(128 + signum)


def _flush_stdout() -> None:
    """Flush stdout before exiting, so that a write it cannot take (stdout on /dev/full, a full
    disk) is exit 2 with one line, not Python's exit 120 at shutdown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_gone()
    except OSError as exc:
        stdout_gone()
        echo_err(f"lrdiag: error: cannot write to stdout: {one_line(exc)}")
        sys.exit(ExitStatus.USAGE)


if __name__ == "__main__":  # pragma: no cover
    main()
