"""The terminal output the pages show is what the commands print now (docs/transcripts.py).

Each page's transcripts run in order in a temporary directory of their own (``NO_COLOR=1``,
``COLUMNS=100``); a stale one fails with the current output, which
``python docs/transcripts.py --update`` writes into the page.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

from lrdiag import cli

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    """docs/transcripts.py as a module (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("transcripts", ROOT / "docs" / "transcripts.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


transcripts = load_script()
WITH_TRANSCRIPTS = [page for page in transcripts.pages() if transcripts.transcripts(page)[0]]


def test_the_pages_that_show_output_have_transcripts():
    names = {page.name for page in WITH_TRANSCRIPTS}
    assert {"README.md", "tutorial.md", "commands.md", "sharpness.md", "gradcheck.md"} <= names


@pytest.mark.parametrize("page", WITH_TRANSCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_transcript_is_what_the_command_prints(page):
    found, _ = transcripts.transcripts(page)
    uses_jq = any("| jq" in c.line for t in found for c in t.commands)
    if uses_jq and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    stale = [o for o in transcripts.check_page(page) if not o.ok]
    text = page.read_text(encoding="utf-8")
    diffs = [
        "".join(
            difflib.unified_diff(
                text[o.transcript.start : o.transcript.end].splitlines(keepends=True),
                o.shown().splitlines(keepends=True),
                "shown",
                "printed now",
            )
        )
        for o in stale
    ]
    assert not stale, "stale (python docs/transcripts.py --update):\n" + "\n".join(diffs)


def readme_examples() -> list[str]:
    """The command lines of the README's ```` ```sh ```` blocks that run lrdiag."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.startswith("lrdiag ")]


def test_the_readme_shows_an_example_of_every_command():
    shown = {line.split()[1] for line in readme_examples()}
    assert shown == set(cli.cli.commands), "one example per command"


def test_every_example_of_the_readme_runs(tmp_path):
    """Valid as shown, in order in one directory (a later example may read what an earlier one
    wrote): done (0) or a verdict, lint or gradient problem (1), never an error."""
    workdir = transcripts.workspace(tmp_path)
    for line in readme_examples():
        output, status = transcripts.run(line, workdir, 0)
        assert status in (0, 1), f"{line} exited {status}:\n{output}"
        assert "lrdiag: error" not in output, line


# --------------------------------------------------------------------------- the matching


def test_a_transcript_is_read_as_commands_and_their_output():
    body = "$ cat > a.csv <<'EOF'\nloss\n$ 1\nEOF\n$ echo $?\n0\n$ true\n"
    (write, status, quiet) = transcripts.parse(body)
    assert write == transcripts.Command("cat > a.csv <<'EOF'\nloss\n$ 1\nEOF", "")
    assert status == transcripts.Command("echo $?", "0")
    assert quiet == transcripts.Command("true", "")


def test_output_must_match_line_for_line():
    assert transcripts.matches("a\nb", "a\nb")
    assert not transcripts.matches("a\nb", "a\nc")
    assert not transcripts.matches("a\nb", "a\nb\nc")
    assert not transcripts.matches("a b", "a  b")


def test_an_ellipsis_line_stands_for_any_lines():
    assert transcripts.matches("a\n  ...\nz", "a\nb\nc\nz")
    assert transcripts.matches("a\n...\nz", "a\nz")
    assert not transcripts.matches("a\n...\nz", "a\nb\ny")


def test_a_sweep_headline_is_compared_without_its_timings():
    shown = "q: 2 runs (2 learning rates x 1 init scale x 1 seed), sgd, 9 epochs, trained in\n"
    shown += "0.0195 s, sharpness 0.0133 s\n+---+"
    now = "q: 2 runs (2 learning rates x 1 init scale x 1 seed), sgd, 9 epochs, trained in 1.5 s,\n"
    now += "sharpness 12.25 s\n+---+"
    assert transcripts.matches(shown, now)
    assert not transcripts.matches(shown, now.replace("9 epochs", "8 epochs"))
    assert not transcripts.matches(shown, now.replace("+---+", "+--+"))


def test_the_commands_run_in_one_directory_with_the_last_status(tmp_path):
    output, status = transcripts.run("printf 'x' > f; exit 3", tmp_path, 0)
    assert (output, status) == ("", 3)
    assert transcripts.run("echo $?; cat f", tmp_path, status) == ("3\nx", 0)
    assert transcripts.run("echo oops >&2", tmp_path, 0) == ("oops", 0)
