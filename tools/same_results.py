"""Check that two revisions write byte-identical results for every config in configs/.

    .venv/bin/python tools/same_results.py                 # main against the working tree
    .venv/bin/python tools/same_results.py REV_A REV_B     # two git revisions
    .venv/bin/python tools/same_results.py REV --save DIR  # keep REV's outputs in DIR
    .venv/bin/python tools/same_results.py --against DIR   # the working tree against kept outputs

A revision is exported with `git archive` into a temporary directory and run with this
interpreter (`python -m lrdiag.cli sweep CONFIG --out ... --no-plots --quiet`), so both sides use
the same NumPy and the same machine. The working tree is named `WORKTREE`. Both sides read the
same copy of BEFORE's configs/ (results.json names a data file by its absolute path, so the
configs must sit in one place). results.json holds no timing and no output directory (see
docs/architecture.md, results.py), so the files are compared whole, byte for byte: nothing is
masked. results.csv and report.md are compared the same way. Exit 0 when every file of every
config matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKTREE = "WORKTREE"
FILES = ("results.json", "results.csv", "report.md")


def configs(root: Path = ROOT) -> list[str]:
    """The configs the check runs: every YAML file directly in configs/, by name."""
    return sorted(path.name for path in (root / "configs").glob("*.yaml"))


def export(rev: str, into: Path) -> Path:
    """The tree of `rev` (or the working tree, for WORKTREE) as a directory to run from."""
    if rev == WORKTREE:
        return ROOT
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def copy_configs(tree: Path, into: Path) -> list[str]:
    """configs/ of `tree` copied to `into`/configs; the names of its YAML files."""
    shutil.copytree(tree / "configs", into / "configs", dirs_exist_ok=True)
    return configs(into)


def sweep_outputs(tree: Path, where: Path, names: list[str]) -> dict[str, bytes]:
    """The FILES of every config in `where`/configs, swept by the code in `tree`, by name.

    The outputs go to `where`/out/<config>/ (overwritten).
    """
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    found: dict[str, bytes] = {}
    for name in names:
        target = where / "out" / Path(name).stem
        done = subprocess.run(
            [sys.executable, "-m", "lrdiag.cli", "sweep", f"configs/{name}", "--out",
             str(target), "--force", "--no-plots", "--quiet"],
            cwd=where,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        if done.returncode != 0:  # this revision cannot sweep it: every file of it differs
            print(f"{name}: the sweep exited {done.returncode}: {done.stderr.strip()[-300:]}")
            continue
        found.update(kept_outputs(where, [name]))
    return found


def kept_outputs(where: Path, names: list[str]) -> dict[str, bytes]:
    """The FILES of every config as written to `where`/out, keyed "config/file"."""
    return {
        f"{name}/{file}": (where / "out" / Path(name).stem / file).read_bytes()
        for name in names
        for file in FILES
    }


def first_difference(one: bytes, other: bytes) -> int:
    """The index of the first byte where `one` and `other` differ (or the shorter's length)."""
    common = min(len(one), len(other))
    return next((i for i in range(common) if one[i] != other[i]), common)


def differences(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """One line per file that differs, or is missing on one side."""
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            lines.append(f"{name}: only on one side")
        elif before[name] != after[name]:
            lines.append(f"{name}: differs from byte {first_difference(before[name], after[name])}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", nargs="?", default="main", help="a git revision")
    parser.add_argument("after", nargs="?", default=WORKTREE, help="a git revision or WORKTREE")
    parser.add_argument("--save", type=Path, help="write BEFORE's outputs here, compare nothing")
    parser.add_argument("--against", type=Path, help="outputs kept by --save, in place of BEFORE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.against is not None:
            where = args.against.resolve()
            names = configs(where)
            before = kept_outputs(where, names)
        else:
            where = (args.save or work / "run").resolve()
            tree = export(args.before, work / "before")
            names = copy_configs(tree, where)
            if args.save is None:  # only the configs both revisions have can be compared
                theirs = set(configs(export(args.after, work / "after")))
                for name in sorted(set(names) - theirs):
                    print(f"{name}: only in {args.before}, not compared")
                names = [name for name in names if name in theirs]
            before = sweep_outputs(tree, where, names)
            if args.save is not None:
                print(f"{len(names)} configs at {args.before} saved in {args.save}")
                return 0
        after = sweep_outputs(export(args.after, work / "after"), where, names)
    lines = differences(before, after)
    expected = {f"{name}/{file}" for name in names for file in FILES}
    lines += [f"{key}: no sweep on either side" for key in sorted(expected - {*before, *after})]
    for line in lines:
        print(line)
    label = args.against or args.before
    total = len(names) * len(FILES)
    print(f"{total - len(lines)} of {total} files ({len(names)} configs x "
          f"{', '.join(FILES)}) byte-identical: {label} vs {args.after}")  # fmt: skip
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
