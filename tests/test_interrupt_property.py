"""A property over signals (issue 12's acceptance): a sweep interrupted at a random moment by
SIGINT or SIGTERM leaves its output directory either as it was or holding one complete,
self-consistent set of its own files, never a mix; a directory with results is never touched
without --force. Beside an unfinished sweep, chunks/ (issue 18: what was trained, for --resume)
holds whole chunks only, and goes once a sweep is complete.

Each example runs the real entry point in a subprocess on a tiny config (about two seconds from
start to finish) and signals it after a random delay: during start-up, training, judging or
writing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrdiag import chunks, outdir
from lrdiag.files import CHUNKS_NAME
from tests.test_cli import BIN, PLOT_FILES, RESULT_FILES, TINY, sweep, write_config

NEW = {**TINY, "training": {**TINY["training"], "epochs": 2000}}


@pytest.fixture(scope="module")
def old_results(tmp_path_factory) -> Path:
    """The files of an earlier sweep, named 'old', to copy into an output directory."""
    base = tmp_path_factory.mktemp("old")
    out = base / "out"
    assert sweep(write_config(base, name="old"), "-o", out).exit_code == 0
    return out


def snapshot(path: Path) -> dict[str, bytes] | None:
    """The directory's files; chunks/ (what was trained, for --resume) is checked apart."""
    if not path.exists():
        return None
    return {p.name: p.read_bytes() for p in path.iterdir() if p.name != CHUNKS_NAME}


def check_chunks(out: Path, code: int, now: dict[str, bytes] | None) -> None:
    """chunks/ stays only beside an unfinished sweep, and holds only whole chunks."""
    if not (out / CHUNKS_NAME).exists():
        return
    store = chunks.Store.read(out)
    for lo, hi in store.done():
        assert len(store.load(lo, hi).loss) == hi - lo
    names = {p.name for p in (out / CHUNKS_NAME).iterdir()}
    assert names == {chunks.MANIFEST_NAME} | {chunks.chunk_name(*s) for s in store.done()}
    finished = now and "results.json" in now and json.loads(now["results.json"])["complete"]
    assert not finished or code != 0


def check_self_consistent(files: dict[str, bytes], name: str) -> dict:
    """One sweep's complete set of files: results.json, its CSV and report, its plots."""
    assert RESULT_FILES <= set(files), sorted(files)
    doc = json.loads(files["results.json"])
    assert doc["config"]["name"] == name
    rows = list(csv.DictReader(files["results.csv"].decode().splitlines()))
    assert [int(r["id"]) for r in rows] == [r["id"] for r in doc["runs"]]
    assert [r["verdict"] or "" for r in rows] == [r["verdict"] or "" for r in doc["runs"]]
    assert f"## lrdiag: {name}" in files["report.md"].decode()
    assert set(files) in (RESULT_FILES, RESULT_FILES | PLOT_FILES), sorted(files)
    return doc


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    signum=st.sampled_from([signal.SIGINT, signal.SIGTERM]),
    delay=st.floats(0.0, 3.0),
    before=st.sampled_from(["absent", "empty", "old", "old --force"]),
)
def test_an_interrupted_sweep_leaves_nothing_new_or_one_whole_sweep(
    tmp_path_factory, old_results, signum, delay, before
):
    tmp = tmp_path_factory.mktemp("signal")
    out = tmp / "out"
    if before == "empty":
        out.mkdir()
    elif before.startswith("old"):
        shutil.copytree(old_results, out)
    was = snapshot(out)
    config = write_config(tmp, NEW, name="new")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    force = ["--force"] if before.endswith("--force") else []
    proc = subprocess.Popen(
        [str(BIN / "lrdiag"), "sweep", str(config), "-o", str(out), *force],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    time.sleep(delay)
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the sweep did not stop within 60 s of the signal")
    err = err.decode(errors="replace")
    code = proc.returncode
    now = snapshot(out)
    check_chunks(out, code, now)

    assert code != 3, err[-2000:]  # never "a bug in lrdiag"
    if before == "old":  # never touched without --force
        assert now == was
        return
    if now is None or now == was or now == {}:  # nothing new: any moment, even Python's start-up
        return
    # -signum: killed by the signal itself, which a shell reports as 128 + signum too. Python
    # restores the default handlers while the interpreter shuts down, so a signal in those last
    # milliseconds (long under load) ends the process so, after its files were complete.
    assert code in (0, 128 + signum, -signum), err[-2000:]
    assert not [n for n in now if n.endswith(".tmp") or n.startswith(outdir.STAGING_PREFIX)]
    assert outdir.LOCK_NAME not in now
    doc = check_self_consistent(now, "new")
    # complete unless the signal came before judging ended (while writing, the write finishes)
    assert doc["complete"] or code != 0, err[-2000:]


SIGNAL_WHILE_PRINTING = """
import os, signal, sys
from lrdiag import terminal

def render(*args, **kwargs):  # the report is printing when the signal comes
    os.kill(os.getpid(), signal.{name})

terminal.render_sweep = render
from lrdiag.cli import main
sys.argv = ["lrdiag", "sweep", sys.argv[1], "-o", sys.argv[2]]
main()
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_report_prints_exits_with_its_code(tmp_path, name):
    """The results are written before the report prints; a signal then stops the printing and
    exits 143 (SIGTERM) or 130 (SIGINT). The handlers were gone by then: SIGTERM killed the
    process (-15, the property test above caught it now and then)."""
    config = write_config(tmp_path, NEW, name="new")
    out = tmp_path / "out"
    code = SIGNAL_WHILE_PRINTING.replace("{name}", name)
    proc = subprocess.run(
        [str(BIN / "python"), "-c", code, str(config), str(out)],
        capture_output=True,
        timeout=120,
    )
    signum = getattr(signal, name)
    assert proc.returncode == 128 + signum, proc.stderr.decode()[-2000:]
    assert b"interrupted; results written to" in proc.stderr
    check_self_consistent(snapshot(out), "new")
