"""Output directories under races, interrupts and full disks (issue 12, items 1 and 2).

A sweep claims its directory before training (a lock no second sweep can take), refuses a
directory holding any file it would write unless --force, and swaps its files in whole: a reader
never finds results.json beside another sweep's files. Ctrl-C or SIGTERM while training, judging
or writing keeps the results so far (exit 130 or 143); what a SIGKILL leaves is cleaned up by the
next sweep into the directory.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lrdiag.figures
import lrdiag.results
from lrdiag import outdir
from tests.test_cli import (
    BIN,
    PLOT_FILES,
    RESULT_FILES,
    one_line,
    read_doc,
    sweep,
    write_config,
)

SLOW = {"training": {"epochs": 400_000}}  # a few seconds or more: long enough to interrupt


def start_sweep(config: Path, *args) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.Popen(
        [str(BIN / "lrdiag"), "sweep", str(config), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(path: Path, seconds: float = 20.0) -> None:
    """Until ``path`` exists (the sweep has claimed its directory), then a moment more."""
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)


def finish(proc: subprocess.Popen, seconds: float = 60.0) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the sweep did not stop within {seconds} s: {err}")
    return proc.returncode, out, err


def leftovers(out: Path) -> list[str]:
    """What no finished sweep leaves: temporary files, staging directories, its lock."""
    return [
        n
        for n in os.listdir(out)
        if n.endswith(".tmp") or n.startswith(outdir.STAGING_PREFIX) or n == outdir.LOCK_NAME
    ]


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}


# --------------------------------------------------------------------------- item 1


def test_the_names_a_claim_guards_are_the_names_a_sweep_writes():
    find_files = {"find.json", "find.csv", "find.png"}  # lrdiag find: its own and a sweep's
    curves = {"curves.parquet", "curves.npz"}  # the curves as columns, past a size
    assert set(outdir.output_names()) == (
        RESULT_FILES | set(lrdiag.figures.ALL_NAMES) | find_files | curves
    )


def test_a_second_sweep_into_a_directory_in_use_is_refused(tmp_path):
    out = tmp_path / "out"
    first = start_sweep(write_config(tmp_path, name="first", **SLOW), "-o", out, "--no-plots")
    try:
        wait_for(out / outdir.LOCK_NAME)
        second = sweep(write_config(tmp_path, name="second"), "-o", out, "--no-plots", "--force")
        assert second.exit_code == 2, second.stderr
        assert "another lrdiag sweep" in one_line(second.stderr)
    finally:
        first.send_signal(signal.SIGINT)
    code, _, err = finish(first)
    assert code == 130, err
    assert read_doc(out)["config"]["name"] == "first"
    assert leftovers(out) == []


@pytest.mark.parametrize("name", ["report.md", "results.csv", "curves.png", "phase.png"])
def test_a_directory_holding_any_file_a_sweep_writes_needs_force(tmp_path, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(b"someone's file\n")
    refused = sweep(write_config(tmp_path), "-o", out)
    assert refused.exit_code == 2, refused.stderr
    assert "--force" in one_line(refused.stderr)
    assert os.listdir(out) == [name]
    assert (out / name).read_bytes() == b"someone's file\n"


# --------------------------------------------------------------------------- item 2


def test_ctrl_c_while_judging_writes_the_results_so_far(tmp_path, monkeypatch):
    real, calls = lrdiag.results.classify, [0]

    def interrupted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lrdiag.results, "classify", interrupted)
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path, sweep={"learning_rates": [0.01, 0.1, 0.5]}), "-o", out)
    assert result.exit_code == 130, result.stderr
    assert "interrupted" in one_line(result.stderr)
    doc = read_doc(out)
    assert doc["complete"] is False
    assert doc["runs"][0]["verdict"] is not None
    assert [r["verdict"] for r in doc["runs"][1:]] == [None, None]
    assert all("incomplete" in r["flags"] for r in doc["runs"][1:])
    # chunks/: what was trained, for --resume (lrdiag.chunks)
    assert RESULT_FILES | PLOT_FILES | {"chunks"} == set(os.listdir(out))


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left"), KeyboardInterrupt])
def test_force_never_leaves_new_results_beside_old_files(tmp_path, monkeypatch, failure):
    """A full disk, or a second Ctrl-C, while the plots are written: the old files stay."""
    out = tmp_path / "out"
    assert sweep(write_config(tmp_path), "-o", out).exit_code == 0
    before = snapshot(out)

    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(lrdiag.figures, "save_sweep_plots", broken)
    other = write_config(tmp_path, name="other", sweep={"learning_rates": [0.1]})
    result = sweep(other, "-o", out, "--force")
    assert result.exit_code == (2 if isinstance(failure, OSError) else 130), result.stderr
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_sigterm_while_training_writes_the_results_so_far_and_exits_143(tmp_path):
    out = tmp_path / "out"
    proc = start_sweep(write_config(tmp_path, **SLOW), "-o", out)
    wait_for(out / outdir.LOCK_NAME)
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == 143, err
    assert "interrupted" in err and "Traceback" not in err
    doc = read_doc(out)
    assert doc["complete"] is False
    assert RESULT_FILES | PLOT_FILES | {"chunks"} == set(os.listdir(out))  # chunks/: --resume


def test_what_a_sigkill_left_is_cleaned_up_by_the_next_sweep(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stray = out / f".results.json.{os.getpid()}.0badcafe.tmp"
    stray.write_text('{"half": ')
    unfinished = out / f"{outdir.STAGING_PREFIX}1-00000000"
    unfinished.mkdir()
    (unfinished / "results.csv").write_text("id\n")
    (out / outdir.LOCK_NAME).write_text("12345\n")  # its holder is gone: the lock is free
    result = sweep(write_config(tmp_path), "-o", out, "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert set(os.listdir(out)) == RESULT_FILES


def sealed_staging(out, files: dict) -> None:
    """What a sweep killed between sealing and committing leaves: a staging directory in
    ``out`` holding ``files`` (name -> bytes) and the mark that it is complete."""
    staging = out / f"{outdir.STAGING_PREFIX}1-00000000"
    staging.mkdir()
    for name, data in files.items():
        (staging / name).write_bytes(data)
    (staging / outdir.COMPLETE).write_bytes(b"")


def test_a_commit_cut_short_is_finished_by_the_next_claim(tmp_path):
    """SIGKILL between the renames: the sealed staging directory still holds the sweep."""
    out = tmp_path / "out"
    assert sweep(write_config(tmp_path), "-o", out, "--no-plots").exit_code == 0
    new = snapshot(out)
    sealed_staging(out, new)
    (out / "results.json").unlink()  # the commit's first step
    (out / "results.csv").write_text("an older sweep's csv\n")
    (out / "curves.png").write_bytes(b"an older sweep's plot")
    with outdir.claim(out, force=True) as held:
        assert held.notes
    assert snapshot(out) == new
    assert leftovers(out) == []


def test_an_unwritable_out_fails_before_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a directory\n")

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr("lrdiag.sweep.train", no_training)
    result = sweep(write_config(tmp_path), "-o", tmp_path / "file" / "out")
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_a_name_too_long_for_the_filesystem_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr("lrdiag.sweep.train", no_training)
    config = write_config(tmp_path)
    text = config.read_text() + f"name: {'n' * 300}\n"
    config.write_text(text)
    result = sweep(config)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX signals and locks")


def test_a_signal_while_claiming_lets_the_claim_finish_first(tmp_path, monkeypatch):
    """SIGTERM while a killed sweep's sealed files are being swapped in: the swap finishes, then
    the sweep stops (exit 143) without writing anything of its own."""
    out = tmp_path / "out"
    assert sweep(write_config(tmp_path, name="killed"), "-o", out, "--no-plots").exit_code == 0
    files = snapshot(out)
    sealed_staging(out, files)
    (out / "results.json").unlink()
    real = outdir.Claim.commit

    def signalled(self, staging):
        os.kill(os.getpid(), signal.SIGTERM)
        real(self, staging)

    monkeypatch.setattr(outdir.Claim, "commit", signalled)
    result = sweep(write_config(tmp_path, name="new"), "-o", out, "--force", "--no-plots")
    assert result.exit_code == 143, result.stderr
    assert snapshot(out) == files
    assert leftovers(out) == []
