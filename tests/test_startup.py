"""Start-up: ``lrdiag --help`` and ``--version`` import no command, and nothing heavy; exit:
the script ends a command that loaded NumPy without tearing Python down, and loses nothing.

The group lists its commands from ``cli.COMMANDS`` without importing them; the table is checked
here against each command's own help. What a fresh interpreter loads is read from its
``sys.modules`` as it exits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import lrdiag
from lrdiag import cli

COMMANDS_DIR = Path(cli.__file__).parent / "commands"
# What start-up must not load: NumPy, matplotlib, and the parts of rich that draw.
HEAVY = ("numpy", "matplotlib", "rich.console", "rich.table", "rich.progress")


def test_the_table_names_every_command_module():
    modules = {p.stem for p in COMMANDS_DIR.glob("*.py")} - {"__init__", "common"}
    assert set(cli.COMMANDS) == modules


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
@pytest.mark.parametrize("limit", [20, 45, 74, 200])
def test_the_listed_help_is_the_commands_own(name, limit):
    command = cli.cli.commands[name]
    assert command.name == name
    listed = click.Command(name, help=cli.COMMANDS[name]).get_short_help_str(limit)
    assert listed == command.get_short_help_str(limit)


def test_the_group_help_lists_every_command_with_its_sentence():
    text = CliRunner().invoke(cli.cli, ["--help"], terminal_width=200).output
    listing = text.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing] == sorted(cli.COMMANDS)
    for line in listing:
        name, sentence = line.split(maxsplit=1)
        assert sentence == cli.COMMANDS[name]


def loaded(code: str) -> set[str]:
    """Every module in sys.modules when a fresh interpreter running ``code`` exits."""
    wrapper = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('\\nMODULES ' + json.dumps(sorted("
        "sys.modules)) + '\\n'))\n" + code
    )
    run = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    line = run.stderr.rsplit("MODULES ", 1)[1]
    return set(json.loads(line))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_loads_nothing_heavy():
    modules = loaded("import lrdiag.cli")
    assert "lrdiag.cli" in modules
    assert heavy(modules) == []
    assert [m for m in modules if m.startswith("lrdiag.commands.")] == ["lrdiag.commands.common"]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_load_no_command_and_nothing_heavy(argv):
    modules = loaded(f"from lrdiag.cli import main\nmain({argv!r})")
    assert "click" in modules and "lrdiag.cli" in modules  # it ran
    assert heavy(modules) == []
    assert "rich" not in modules and "yaml" not in modules
    assert [m for m in modules if m.startswith("lrdiag.commands.")] == ["lrdiag.commands.common"]


def test_a_commands_help_loads_its_module_but_no_matplotlib():
    modules = loaded("from lrdiag.cli import main\nmain(['sweep', '--help'])")
    assert "lrdiag.commands.sweep" in modules
    assert not any(m == "matplotlib" or m.startswith("matplotlib.") for m in modules)
    assert heavy(modules) == []


def test_the_check_sees_a_heavy_import():
    """The check itself: a module that loads NumPy is seen."""
    assert heavy(loaded("import lrdiag.formatting")) != []


# --------------------------------------------------------------------------- exit

QUICKSTART = Path(cli.__file__).parents[1] / "configs" / "quickstart.yaml"
# A fresh interpreter running the command line through ``entry``: an object whose __del__
# reports the interpreter's teardown, and an exit handler registered during the command (as
# logging or concurrent.futures register theirs) or, with ``early``, before it.
EXIT_PROBE = """
import atexit, sys
from lrdiag import cli
class Probe:
    def __del__(self):
        sys.stderr.write("torn down\\n")
probe = Probe()
if {early}:
    atexit.register(lambda: sys.stderr.write("early handler ran\\n"))
inner = cli.main
def main():
    atexit.register(lambda: sys.stderr.write("exit handler ran\\n"))
    inner()
cli.main = main
sys.argv = ["lrdiag", *{argv!r}]
cli.{entry}()
"""


def run_probe(argv: list[str], entry: str = "run", early: bool = False):
    code = EXIT_PROBE.format(argv=[str(a) for a in argv], entry=entry, early=early)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_script_ends_a_sweep_without_tearing_python_down_and_loses_nothing(tmp_path):
    """``run`` (the script, python -m lrdiag) after a sweep: the exit code of --fail-on, the
    whole results document on stdout (a pipe: the flush at the end counts), the command's exit
    handlers run, and no interpreter teardown (the probe's __del__ never runs)."""
    out = tmp_path / "out"
    argv = ["sweep", QUICKSTART, "-o", out, "--no-plots", "--json", "--fail-on", "converging"]
    done = run_probe(argv)
    assert done.returncode == 1, done.stderr  # quickstart has converging runs: a match
    doc = json.loads(done.stdout)
    assert doc == json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert "exit handler ran" in done.stderr
    assert "torn down" not in done.stderr


@pytest.mark.parametrize("how", ["main", "early handler", "light command", "user code"])
def test_python_exits_as_usual_where_ending_at_once_could_lose_something(tmp_path, how):
    """``main`` (a caller goes on after it), an exit handler registered before the command
    (coverage, say: it runs after the command's), a command that never loaded NumPy and one
    that ran a user's Python file (gradcheck) end with Python's own teardown; the probe sees
    it, so the tests of the fast end can fail."""
    sweep = ["sweep", QUICKSTART, "-o", tmp_path / "out", "--no-plots", "--quiet"]
    code = 0
    if how == "main":
        done = run_probe(sweep, entry="main")
    elif how == "early handler":
        done = run_probe(sweep, early=True)
        assert "early handler ran" in done.stderr
    elif how == "light command":
        done = run_probe(["--version"])
        assert done.stdout == f"lrdiag, version {lrdiag.__version__}\n"
    else:
        user_file = Path(__file__).parent / "data" / "gradcheck" / "sign_flipped.py"
        done, code = run_probe(["gradcheck", user_file]), 1  # it finds the bug
    assert done.returncode == code, done.stderr
    assert "exit handler ran" in done.stderr
    assert "torn down" in done.stderr


def test_the_script_ends_an_error_at_once_with_its_message_and_exit_code(tmp_path):
    """A data file that is missing: the error is found after NumPy is loaded."""
    config = tmp_path / "bad.yaml"
    text = QUICKSTART.read_text(encoding="utf-8")
    config.write_text(text.replace("kind: moons", "kind: file\n  path: missing.npz", 1))
    done = run_probe(["sweep", config, "-o", tmp_path / "out", "--no-plots"])
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lrdiag: error: ") and "missing.npz" in done.stderr
    assert "torn down" not in done.stderr


def test_sigterm_while_the_script_exits_is_exit_143_without_a_traceback(tmp_path):
    """SIGTERM after the command, while the exit handlers run (one registered during the
    command sends it): 143, as documented, not main's 0 with Python's "Exception ignored in
    atexit callback" and a traceback."""
    probe = """
import atexit, os, signal, sys, time
from lrdiag import cli
inner = cli.main
def main():
    atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(5)))
    inner()
cli.main = main
sys.argv = ["lrdiag", *{argv!r}]
cli.run()
"""
    argv = ["sweep", QUICKSTART, "-o", tmp_path / "out", "--no-plots", "--json"]
    code = probe.format(argv=[str(a) for a in argv])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout) == json.loads((tmp_path / "out" / "results.json").read_text())
