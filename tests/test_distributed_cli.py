"""`lrdiag sweep --resume / --shard / --curves` and `lrdiag merge` from the command line (issue 18).

The library's behaviour is tested in test_chunks.py, test_dask.py and test_curvestore.py; here,
the real entry point: a sweep killed with SIGKILL and resumed, shards merged, and each refusal
as exit 2 with one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from click.testing import CliRunner

from lrdiag.cli import cli
from lrdiag.files import JSON_NAME
from tests.test_chunks import ROOT, budget_for, write_config
from tests.test_cli import BIN, one_line


def lrdiag(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_a_sweep_killed_midway_resumes_to_the_results_of_an_uninterrupted_one(tmp_path):
    config = write_config(tmp_path, training__epochs=300)
    budget = budget_for(config, 6)
    whole = lrdiag("sweep", config, "--out", tmp_path / "whole", "--no-plots", "-q",
                   "--max-memory", budget)  # fmt: skip
    assert whole.exit_code == 0, whole.output
    out = tmp_path / "killed"
    argv = [BIN / "lrdiag", "sweep", config, "--out", out, "--no-plots", "-q",
            "--max-memory", str(budget)]  # fmt: skip
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 120
    try:
        while not list((out / "chunks").glob("runs-*.npz")):
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / JSON_NAME).exists(), "killed after it finished: the test proves nothing"
    refused = lrdiag("sweep", config, "--out", out, "--no-plots", "--max-memory", budget)
    assert refused.exit_code == 2
    assert "--resume to finish it" in one_line(refused.stderr)
    resumed = lrdiag("sweep", config, "--out", out, "--no-plots", "-q", "--max-memory", budget,
                     "--resume")  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert "lrdiag: note: resumed: " in resumed.stderr
    assert (out / JSON_NAME).read_bytes() == (tmp_path / "whole" / JSON_NAME).read_bytes()
    assert not (out / "chunks").exists()


def test_resume_refuses_a_changed_config_in_one_line(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "chunks").mkdir()
    (out / "chunks" / "manifest.json").write_text(json.dumps({"config_hash": "0" * 24}))
    result = lrdiag("sweep", config, "--out", out, "--no-plots", "--resume")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "another config or data" in line and "0" * 24 in line


def test_three_shards_merge_into_the_whole_sweep_and_bad_sets_are_refused(tmp_path):
    config = write_config(tmp_path)
    for k in (1, 2, 3):
        shard = lrdiag("sweep", config, "--shard", f"{k}/3", "--out", tmp_path / f"s{k}",
                       "--no-plots", "-q")  # fmt: skip
        assert shard.exit_code == 0, shard.output
        assert f"shard {k}/3: runs " in shard.stderr
        assert json.loads((tmp_path / f"s{k}" / JSON_NAME).read_text())["shard"]["of"] == 3
    whole = lrdiag("sweep", config, "--out", tmp_path / "whole", "--no-plots", "-q")
    merged = lrdiag("merge", *(tmp_path / f"s{k}" for k in (3, 1, 2)), "--out", tmp_path / "m",
                    "--no-plots", "--fail-on", "diverging")  # fmt: skip
    assert whole.exit_code == 0 and merged.exit_code == 1  # the grid reaches lr 300
    assert (tmp_path / "m" / JSON_NAME).read_bytes() == (
        tmp_path / "whole" / JSON_NAME
    ).read_bytes()
    assert "diverging" in merged.stdout  # the report, as a sweep prints it
    other = write_config(tmp_path, name="other", training__epochs=29)
    lrdiag("sweep", other, "--shard", "2/3", "--out", tmp_path / "o2", "--no-plots", "-q")
    for dirs, says in [
        (["s1", "s3"], "are in no shard given"),
        (["s1", "s2", "s3", "s2"], "are in both"),
        (["s1", "o2", "s3"], "another config or data"),
    ]:
        result = lrdiag("merge", *(tmp_path / d for d in dirs), "--out", tmp_path / "bad")
        assert result.exit_code == 2, result.output
        assert says in one_line(result.stderr)
    assert not (tmp_path / "bad").exists()
    bad = lrdiag("sweep", config, "--shard", "4/3")
    assert bad.exit_code == 2 and "1 <= K <= N" in one_line(bad.stderr)


def test_curves_as_columns_from_the_command_line(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "out"
    result = lrdiag("sweep", config, "--out", out, "--no-plots", "-q", "--curves", "npz")
    assert result.exit_code == 0, result.output
    doc = json.loads((out / JSON_NAME).read_text())
    assert doc["curves"] == {"file": "curves.npz", "format": "npz"}
    assert all(r["loss"] is None for r in doc["runs"])
    inline = lrdiag("sweep", config, "--out", tmp_path / "json", "--no-plots", "-q")
    assert inline.exit_code == 0, inline.output
    columnar = json.loads(lrdiag("classify", out, "--json").stdout)
    judged = json.loads(lrdiag("classify", tmp_path / "json", "--json").stdout)
    assert len(columnar["curves"]) == len(doc["runs"])
    assert columnar["curves"] == judged["curves"]  # the same curves, the same verdicts


def test_a_scheduler_that_cannot_be_reached_is_one_line(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    env = {**os.environ, "LRDIAG_SCHEDULER": "local:0"}
    result = subprocess.run(
        [BIN / "lrdiag", "sweep", config, "--out", tmp_path / "out", "--no-plots"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "local:N needs N >= 1" in one_line(result.stderr)


def test_resume_on_a_finished_sweep_does_not_overwrite_its_results_without_force(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    out = tmp_path / "out"
    first = lrdiag("sweep", config, "--out", out, "--no-plots", "-q")
    assert first.exit_code == 0, first.output
    before = (out / JSON_NAME).read_bytes()
    other = write_config(tmp_path, name="other", training__epochs=4)
    result = lrdiag("sweep", other, "--out", out, "--no-plots", "-q", "--resume")
    assert result.exit_code == 2, result.output
    assert "already holds results" in one_line(result.stderr)
    assert (out / JSON_NAME).read_bytes() == before


def test_merge_refuses_an_out_that_is_one_of_its_shards_even_with_force(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    for k in (1, 2):
        shard = lrdiag("sweep", config, "--shard", f"{k}/2", "--out", tmp_path / f"s{k}",
                       "--no-plots", "-q")  # fmt: skip
        assert shard.exit_code == 0, shard.output
    before = (tmp_path / "s1" / JSON_NAME).read_bytes()
    result = lrdiag("merge", tmp_path / "s1", tmp_path / "s2", "--out", tmp_path / "s1",
                    "--no-plots", "-q", "--force")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "is one of the shards" in one_line(result.stderr)
    assert (tmp_path / "s1" / JSON_NAME).read_bytes() == before


def test_merge_says_what_is_wrong_with_a_directory_that_is_not_a_shard(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    whole = lrdiag("sweep", config, "--out", tmp_path / "whole", "--no-plots", "-q")
    assert whole.exit_code == 0, whole.output
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for name, says in [
        ("whole", "whole: not a shard"),
        ("empty", "empty: not a shard"),
        ("file.txt", "file.txt: not a directory"),
        ("missing", "missing: no such directory"),
    ]:
        result = lrdiag("merge", tmp_path / name, "--out", tmp_path / "m")
        assert result.exit_code == 2, result.output
        assert says in one_line(result.stderr)
        assert "cannot read" not in result.stderr


def test_a_directory_with_results_and_chunks_points_to_resume_not_only_force(tmp_path):
    # What Ctrl-C leaves: the partial results and the chunks finished so far (here, a shard's).
    config = write_config(tmp_path, training__epochs=3)
    out = tmp_path / "out"
    shard = lrdiag("sweep", config, "--shard", "1/2", "--out", out, "--no-plots", "-q")
    assert shard.exit_code == 0, shard.output
    again = lrdiag("sweep", config, "--out", out, "--no-plots", "-q")
    assert again.exit_code == 2
    line = one_line(again.stderr)
    assert "--resume" in line and "--force" in line
    resumed = lrdiag("sweep", config, "--out", out, "--no-plots", "-q", "--resume")
    assert resumed.exit_code == 0, resumed.output
    whole = lrdiag("sweep", config, "--out", tmp_path / "whole", "--no-plots", "-q")
    assert whole.exit_code == 0, whole.output
    assert (out / JSON_NAME).read_bytes() == (tmp_path / "whole" / JSON_NAME).read_bytes()


def test_resume_without_out_is_refused_rather_than_a_fresh_sweep(tmp_path, monkeypatch):
    config = write_config(tmp_path, training__epochs=3)
    monkeypatch.chdir(tmp_path)  # where a default lrdiag-out/ would go
    result = CliRunner().invoke(cli, ["sweep", str(config), "--resume", "--no-plots"])
    assert result.exit_code == 2, result.output
    assert "--resume needs --out" in one_line(result.stderr)


def test_merge_names_a_killed_shard_as_unfinished(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    for k in (1, 2):
        shard = lrdiag("sweep", config, "--shard", f"{k}/2", "--out", tmp_path / f"s{k}",
                       "--no-plots", "-q")  # fmt: skip
        assert shard.exit_code == 0, shard.output
    (tmp_path / "s1" / JSON_NAME).unlink()  # as a kill before the results leaves it: chunks/
    result = lrdiag("merge", tmp_path / "s1", tmp_path / "s2", "--out", tmp_path / "m")
    assert result.exit_code == 2, result.output
    assert "s1 is an unfinished sweep" in one_line(result.stderr)
    assert "--resume" in result.stderr


def test_merge_names_shards_of_two_different_splits(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    for k, n in [(1, 2), (2, 3)]:
        shard = lrdiag("sweep", config, "--shard", f"{k}/{n}", "--out", tmp_path / f"s{k}of{n}",
                       "--no-plots", "-q")  # fmt: skip
        assert shard.exit_code == 0, shard.output
    result = lrdiag("merge", tmp_path / "s1of2", tmp_path / "s2of3", "--out", tmp_path / "m")
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert "shard 1/2" in line and "shard 2/3" in line


def test_resume_refuses_to_turn_one_shard_into_another(tmp_path):
    # A shard's directory keeps its chunks (for merge), so --resume is allowed on it; asking it
    # for another shard must not replace the shard's results with the other's. (Without
    # --shard it grows into the whole grid: test_a_directory_with_results_and_chunks_...)
    config = write_config(tmp_path, training__epochs=3)
    first = lrdiag("sweep", config, "--shard", "1/2", "--out", tmp_path / "s1", "--no-plots", "-q")
    assert first.exit_code == 0, first.output
    before = (tmp_path / "s1" / JSON_NAME).read_bytes()
    for wrong in (["--shard", "2/2"], ["--shard", "1/3"]):
        result = lrdiag("sweep", config, *wrong, "--out", tmp_path / "s1", "--resume",
                        "--no-plots", "-q")  # fmt: skip
        assert result.exit_code == 2, (wrong, result.output)
        assert "holds shard 1/2, not " in one_line(result.stderr)
        assert (tmp_path / "s1" / JSON_NAME).read_bytes() == before
    again = lrdiag("sweep", config, "--shard", "1/2", "--out", tmp_path / "s1", "--resume",
                   "--no-plots", "-q")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "s1" / JSON_NAME).read_text())["shard"]["index"] == 1


def test_a_dry_run_checks_the_scheduler_address_too(tmp_path, monkeypatch):
    config = write_config(tmp_path, training__epochs=3)
    bad = lrdiag("sweep", config, "--dry-run", "--scheduler", "garbage")
    assert bad.exit_code == 2
    assert "expected a scheduler address (tcp://host:8786) or local:N" in one_line(bad.stderr)
    monkeypatch.setenv("LRDIAG_SCHEDULER", "local:0")
    from_env = lrdiag("sweep", config, "--dry-run")
    assert from_env.exit_code == 2
    assert "local:N needs N >= 1" in one_line(from_env.stderr)
    monkeypatch.setenv("LRDIAG_SCHEDULER", "local:2")
    assert lrdiag("sweep", config, "--dry-run").exit_code == 0


def test_a_dry_run_with_resume_says_what_the_resume_would_train(tmp_path):
    """Shard 1/2 of a grid cut into chunks keeps its chunks; one is then lost. A dry run with
    --resume (the whole grid) counts the chunks on disk, and the real --resume then reads back
    exactly those (its own note says how many); a finished sweep and an empty directory are
    named as what they are."""
    config = write_config(tmp_path, training__epochs=3)
    budget = budget_for(config, 6)
    out = tmp_path / "out"
    shard = lrdiag("sweep", config, "--out", out, "--no-plots", "-q", "--max-memory", budget,
                   "--shard", "1/2")  # fmt: skip
    assert shard.exit_code == 0, shard.output
    files = sorted((out / "chunks").glob("runs-*.npz"))
    assert len(files) >= 2
    files[0].unlink()  # a chunk lost: one fewer to read back
    spans = [tuple(int(n) for n in f.stem.split("-")[1:]) for f in files[1:]]
    dry = lrdiag("sweep", config, "--out", out, "--max-memory", budget, "--resume", "--dry-run",
                 "--json")  # fmt: skip
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)["resume"]
    assert plan["state"] == "partial" and plan["runs"] == 48
    assert plan["done_chunks"] == len(spans)
    assert plan["done_runs"] == sum(b - a for a, b in spans)
    text = lrdiag("sweep", config, "--out", out, "--max-memory", budget, "--resume", "--dry-run")
    left = 48 - plan["done_runs"]
    assert f"resume: {len(spans)} of {plan['chunks']} chunks done" in text.stdout
    assert f"{left} runs left to train" in text.stdout
    resumed = lrdiag("sweep", config, "--out", out, "--no-plots", "-q", "--max-memory", budget,
                     "--resume")  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert f"resumed: {len(spans)} chunks of {plan['chunks']} already trained" in resumed.stderr
    finished = lrdiag("sweep", config, "--out", out, "--resume", "--dry-run")
    assert "holds a finished sweep's results" in finished.stdout
    empty = lrdiag("sweep", config, "--out", tmp_path / "none", "--resume", "--dry-run")
    assert "nothing to resume" in empty.stdout and "all 48 runs would train" in empty.stdout
