"""Run the terminal transcripts of the docs and check them: ``python docs/transcripts.py``.

A transcript is a ```` ```text ```` block of a Markdown page whose first line starts with ``$ ``:
each ``$ `` line is a command (with the lines of a ``<<'EOF'`` heredoc), the lines after it its
output. Every page's transcripts run in order in one temporary directory of their own, which sees
the repository's ``configs/``, ``examples/`` and ``tests/`` (so one block can read the files an
earlier block wrote), through ``bash`` with ``NO_COLOR=1`` and ``COLUMNS=100``, stderr merged into
stdout, and the ``lrdiag`` of this Python first on ``PATH``. A fenced block just after a line
``<!-- file: NAME -->`` is written to NAME in that directory first.

The output must be what the command prints now, but for these:

- a line ``...`` (alone, indented or not) stands for any number of lines;
- a sweep's headline (``NAME: N runs (...) ... trained in 0.3 s, sharpness 0.1 s``, wrapped over
  lines) is compared with its timings left out, as they vary from run to run.

    python docs/transcripts.py               # check every page, print what differs
    python docs/transcripts.py --update      # write the current output into the pages
    python docs/transcripts.py docs/x.md     # only these pages

``--update`` keeps a transcript that still matches as it is (its timings and ``...`` too).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {"NO_COLOR": "1", "COLUMNS": "100"}  # plain text, 100 columns: what the pages show
SHARED = ("configs", "examples", "tests")  # what a transcript may read from the repository
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_MARK = re.compile(r"<!-- file: ([\w./-]+) -->\n+$")
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
HEADLINE = re.compile(r"^\S+: \d+ runs? \(")
TIMINGS = re.compile(r", trained in [\d.e+-]+ s(, sharpness [\d.e+-]+ s)?")


@dataclasses.dataclass(frozen=True)
class Command:
    line: str  # as shown, without the "$ "
    expected: str  # the output shown under it (lines joined by "\n", no final newline)


@dataclasses.dataclass(frozen=True)
class Transcript:
    page: Path
    start: int  # character offsets of the block's body in the page's text
    end: int
    commands: tuple[Command, ...]


def pages() -> list[Path]:
    """The Markdown pages that may hold transcripts: README.md and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def parse(body: str) -> tuple[Command, ...]:
    """The commands of one transcript block and the output shown under each."""
    lines = body.rstrip("\n").split("\n")
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"output before the first command: {lines[i]!r}")
        command = [lines[i][2:]]
        i += 1
        heredoc = HEREDOC.search(command[0])
        if heredoc:
            while i < len(lines):
                command.append(lines[i])
                i += 1
                if command[-1] == heredoc.group(1):
                    break
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append(Command("\n".join(command), "\n".join(output)))
    return tuple(commands)


def transcripts(page: Path) -> tuple[list[Transcript], dict[str, str]]:
    """The page's transcripts, and the files its ``<!-- file: NAME -->`` blocks give."""
    text = page.read_text(encoding="utf-8")
    found, files = [], {}
    for match in FENCE.finditer(text):
        lang, body = match.group(1), match.group(2)
        mark = FILE_MARK.search(text, 0, match.start())
        if mark and mark.end() == match.start():
            files[mark.group(1)] = body
        elif lang == "text" and body.startswith("$ "):
            found.append(Transcript(page, match.start(2), match.end(2), parse(body)))
    return found, files


def normalise(text: str) -> str:
    """A sweep's headline on one line, without its timings."""
    out: list[str] = []
    lines = iter(text.split("\n"))
    for line in lines:
        if HEADLINE.match(line):
            parts = [line]
            for more in lines:
                if more.startswith("+") or not more.strip():
                    break
                parts.append(more)
            else:
                more = None
            out.append(TIMINGS.sub("", " ".join(p.strip() for p in parts)))
            if more is not None:
                out.append(more)
        else:
            out.append(line)
    return "\n".join(out)


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is the output ``expected`` shows (``...`` lines match any lines)."""
    pattern = []
    for line in normalise(expected).split("\n"):
        pattern.append(r"(?:.*\n)*?" if line.strip() == "..." else re.escape(line) + r"\n")
    return re.fullmatch("".join(pattern), normalise(actual) + "\n") is not None


def run(command: str, workdir: Path, last_status: int) -> tuple[str, int]:
    """Run one command in ``workdir`` as a shell would; its output and exit status."""
    env = {**os.environ, **ENV}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(
        ["bash", "-c", f"(exit {last_status}); {command}"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return proc.stdout.rstrip("\n"), proc.returncode


@dataclasses.dataclass(frozen=True)
class Outcome:
    transcript: Transcript
    actual: tuple[str, ...]  # each command's output now

    @property
    def ok(self) -> bool:
        pairs = zip(self.transcript.commands, self.actual, strict=True)
        return all(matches(c.expected, a) for c, a in pairs)

    def shown(self) -> str:
        """The block's body as it should read now."""
        if self.ok:
            text = self.transcript.page.read_text(encoding="utf-8")
            return text[self.transcript.start : self.transcript.end]
        parts = []
        for command, actual in zip(self.transcript.commands, self.actual, strict=True):
            keep = matches(command.expected, actual)
            parts.append(f"$ {command.line}\n" + (command.expected if keep else actual))
        return "\n".join(p.rstrip("\n") for p in parts) + "\n"


def workspace(workdir: Path) -> Path:
    """``workdir``, where the repository's ``configs/``, ``examples/`` and ``tests/`` are seen."""
    for name in SHARED:
        (workdir / name).symlink_to(ROOT / name, target_is_directory=True)
    return workdir


def check_page(page: Path) -> list[Outcome]:
    """Run every transcript of ``page``, in order, in a temporary directory of its own."""
    found, files = transcripts(page)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="lrdiag-transcripts-") as tmp:
        workdir = workspace(Path(tmp))
        for name, body in files.items():
            (workdir / name).write_text(body, encoding="utf-8")
        status = 0
        for transcript in found:
            actual = []
            for command in transcript.commands:
                output, status = run(command.line, workdir, status)
                actual.append(output)
            outcomes.append(Outcome(transcript, tuple(actual)))
    return outcomes


def update(page: Path, outcomes: list[Outcome]) -> bool:
    """Write the current output of the page's stale transcripts into it; whether any was."""
    text = page.read_text(encoding="utf-8")
    stale = [o for o in outcomes if not o.ok]
    for outcome in sorted(stale, key=lambda o: -o.transcript.start):
        t = outcome.transcript
        text = text[: t.start] + outcome.shown() + text[t.end :]
    if stale:
        page.write_text(text, encoding="utf-8")
    return bool(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="default: README.md and docs/*.md")
    parser.add_argument("--update", action="store_true", help="write the current output")
    args = parser.parse_args(argv)
    stale = 0
    for page in [p.resolve() for p in args.pages] or pages():
        outcomes = check_page(page)
        for outcome in outcomes:
            if outcome.ok:
                continue
            stale += 1
            where = page.relative_to(ROOT)
            print(f"--- {where}: {outcome.transcript.commands[0].line.splitlines()[0]}")
            print(outcome.shown())
        if args.update:
            update(page, outcomes)
    print(f"{stale} stale transcript(s)" + (" updated" if args.update and stale else ""))
    return 1 if stale and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())
