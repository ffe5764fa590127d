"""Start-up: ``lrdiag --help`` and ``--version`` import no command, and nothing heavy.

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
