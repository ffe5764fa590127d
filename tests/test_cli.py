"""The command line, end to end: `lrdiag sweep` on tiny configs written to tmp_path.

Checked against the contract in docs/commands.md and issue 2, not against the code's own output:
exit codes (0 done, 1 --fail-on matched, 2 bad input, 3 internal error, 130 interrupted), the
files written and the documented keys of results.json (read with a strict JSON parser), one-line
error messages naming the file and the dotted key, output directories that never lose results,
and plain output off a terminal. Most tests use click's CliRunner; a few run the installed
entry point in a subprocess where the real process (exit code, stdout vs stderr, a terminal)
is the point.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import lrdiag
import lrdiag.model
import lrdiag.sweep
from lrdiag.classify import VERDICTS
from lrdiag.cli import cli

RESULT_FILES = {"results.json", "results.csv", "report.md"}
PLOT_FILES = {"curves.png", "final_loss_vs_lr.png", "phase.png"}
RUN_KEYS = {
    "id", "learning_rate", "init_scale", "seed", "verdict", "reason", "flags", "metrics",
    "loss", "val_loss", "val", "sharpness",  # sharpness: tracked history or null (issue 5)
}  # fmt: skip
DOC_KEYS = {"schema_version", "lrdiag_version", "config", "runs", "summary"}

# A tiny classifier: 2 learning rates, neither diverges (checked where it matters).
TINY = {
    "data": {"kind": "moons", "n_samples": 24, "seed": 0},
    "model": {"hidden": [4], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
    "init": {"scheme": "xavier", "scales": [1.0]},
    "training": {"epochs": 6, "seeds": [0], "dtype": "float32"},
    "sweep": {"learning_rates": [0.01, 0.5]},
}
# Linear regression where lr 1e6 overflows to inf within a few steps; 25% held out.
DIVERGING = {
    "data": {"kind": "linear", "n_samples": 16, "n_features": 2, "validation_split": 0.25},
    "model": {"hidden": [], "output": "identity", "loss": "mse"},
    "init": {"scheme": "xavier"},
    "training": {"epochs": 8, "seeds": [0]},
    "sweep": {"learning_rates": [0.01, 1e6]},
}
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    for var in ("NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)


def write_config(directory: Path, cfg: dict | None = None, name: str = "tiny", **sections) -> Path:
    """Write ``cfg`` (default TINY) with ``sections`` merged into it key by key."""
    doc = {k: dict(v) for k, v in (cfg or TINY).items()}
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def strict_loads(text: str):
    """json.loads that rejects NaN and Infinity, as jq and other strict parsers do."""

    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def sweep(*args, env=None):
    """Invoke ``lrdiag sweep ARGS`` in-process; stdout and stderr are captured separately."""
    argv = ["sweep", *(str(a) for a in args)]
    return CliRunner().invoke(cli, argv, env=env, catch_exceptions=False)


def read_doc(out: Path) -> dict:
    return strict_loads((out / "results.json").read_text(encoding="utf-8"))


def one_line(text: str) -> str:
    """The single line of ``text`` (fails when there are more)."""
    lines = text.strip("\n").split("\n")
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]


def run_process(*argv, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(kwargs.pop("env", {}))
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=60, **kwargs
    )


# --------------------------------------------------------------------------- files


def test_sweep_writes_every_documented_file_and_key(tmp_path):
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path), "--out", out)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert f"Results written to {out}" in result.stdout
    assert set(os.listdir(out)) == RESULT_FILES | PLOT_FILES  # and no temporary file left
    for name in PLOT_FILES:
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    doc = read_doc(out)
    assert DOC_KEYS <= set(doc)
    assert doc["lrdiag_version"] == lrdiag.__version__
    assert doc["complete"] is True
    assert doc["config"]["name"] == "tiny"
    assert doc["config"]["sweep"]["learning_rates"] == [0.01, 0.5]
    assert len(doc["runs"]) == 2
    for run in doc["runs"]:
        assert set(run) == RUN_KEYS
        assert run["verdict"] in VERDICTS
        assert run["reason"] and isinstance(run["flags"], list)
        assert len(run["loss"]) == TINY["training"]["epochs"] + 1
        assert run["val_loss"] is None and run["val"] is None  # no validation split
    assert {r["learning_rate"] for r in doc["runs"]} == {0.01, 0.5}

    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text(encoding="utf-8"))))
    assert [float(r["learning_rate"]) for r in rows] == [r["learning_rate"] for r in doc["runs"]]
    assert [r["verdict"] for r in rows] == [r["verdict"] for r in doc["runs"]]
    assert "tiny" in (out / "report.md").read_text(encoding="utf-8")


def test_no_plots_writes_no_png(tmp_path):
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path), "--out", out, "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert set(os.listdir(out)) == RESULT_FILES


def test_a_diverged_run_has_nulls_after_its_diverged_epoch(tmp_path):
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path, DIVERGING, "div"), "--out", out, "--no-plots")
    assert result.exit_code == 0, result.stderr
    text = (out / "results.json").read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    doc = strict_loads(text)
    stable, blown = sorted(doc["runs"], key=lambda r: r["learning_rate"])
    E = DIVERGING["training"]["epochs"]

    d = blown["metrics"]["diverged_epoch"]
    assert blown["verdict"] == "diverging"
    assert isinstance(d, int) and 1 <= d <= E
    for curve in (blown["loss"], blown["val_loss"]):
        assert len(curve) == E + 1
        assert all(isinstance(x, float) for x in curve[:d]), curve
        assert curve[d:] == [None] * (E + 1 - d)

    assert stable["metrics"].get("diverged_epoch") is None
    assert all(isinstance(x, float) for x in stable["loss"] + stable["val_loss"])
    assert stable["val"]["verdict"] in VERDICTS


# --------------------------------------------------------------------------- --json, --fail-on


def test_json_prints_the_results_document_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path), "--out", out, "--json", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert strict_loads(result.stdout) == read_doc(out)
    assert result.stdout == (out / "results.json").read_text(encoding="utf-8")


def test_json_from_the_real_entry_point_with_fail_on(tmp_path):
    """A real process, stdout and stderr apart (not a terminal): stdout is one JSON document,
    stderr has no progress bar, and a diverging run with --fail-on diverging exits 1."""
    config = write_config(tmp_path, DIVERGING, "div")
    out = tmp_path / "out"
    proc = run_process(
        BIN / "lrdiag", "sweep", config, "--out", out, "--json", "--fail-on", "diverging",
        "--no-plots",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    doc = strict_loads(proc.stdout)
    assert "diverging" in {r["verdict"] for r in doc["runs"]}
    assert doc == read_doc(out)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_reader_that_leaves_early_changes_no_exit_code(tmp_path, as_json):
    """`lrdiag sweep ... | head -1`: stdout's pipe is closed before anything is written. rich
    would exit 1 (a --fail-on match) and click.echo raise (an internal error, 3)."""
    out = tmp_path / "out"
    argv = [BIN / "lrdiag", "sweep", write_config(tmp_path), "-o", out, "--no-plots"]
    argv += ["--fail-on", "diverging"] + (["--json"] if as_json else [])
    proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()
    assert read_doc(out)["complete"] is True


@pytest.mark.parametrize("command", ["classify", "gradcheck"])
@pytest.mark.parametrize("as_json", [False, True])
def test_a_reader_that_leaves_early_does_not_mask_a_failure(tmp_path, command, as_json):
    """`lrdiag classify ... --fail-on diverging | head -1` and a gradcheck that finds a bug,
    stdout closed before anything is written: still exit 1, silently."""
    if command == "classify":
        log = tmp_path / "losses.txt"
        log.write_text("\n".join(str(0.5 * 2.0**k) for k in range(12)) + "\nnan\n")
        argv = ["classify", log, "--fail-on", "diverging"]
    else:
        argv = ["gradcheck", Path(__file__).parent / "data" / "gradcheck" / "sign_flipped.py"]
    argv = [BIN / "lrdiag", *argv] + (["--json"] if as_json else [])
    proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 1
    assert proc.stderr.read() == b""
    proc.stderr.close()


def test_help_to_a_reader_that_leaves_early_exits_0(tmp_path):
    """`lrdiag --help | head -1`, and the reader gone before the help is written."""
    for argv in (["--help"], ["sweep", "--help"], ["--version"]):
        proc = subprocess.Popen(
            [str(BIN / "lrdiag"), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0, argv
        assert proc.stderr.read() == b"", argv
        proc.stderr.close()


def test_fail_on_exits_1_only_when_a_run_matches(tmp_path):
    div = write_config(tmp_path, DIVERGING, "div")
    tiny = write_config(tmp_path)
    matched = sweep(div, "-o", tmp_path / "a", "--no-plots", "--fail-on", "oscillating,diverging")
    assert matched.exit_code == 1, matched.stderr

    clean = sweep(tiny, "-o", tmp_path / "b", "--no-plots", "--fail-on", "diverging")
    assert "diverging" not in {r["verdict"] for r in read_doc(tmp_path / "b")["runs"]}
    assert clean.exit_code == 0, clean.stderr
    assert sweep(tiny, "-o", tmp_path / "c", "--no-plots").exit_code == 0  # no --fail-on


@pytest.mark.parametrize("value", ["bogus", "diverging,bogus"])
def test_fail_on_an_unknown_verdict_is_a_usage_error(tmp_path, value):
    result = sweep(write_config(tmp_path), "--fail-on", value, "-o", tmp_path / "out")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert line.startswith("lrdiag: error: ") and "--fail-on" in line and "bogus" in line
    assert all(v in line for v in VERDICTS)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- bad input


BAD_CONFIGS = {
    # name: (config text, or None for no file, or "dir" for a directory; expected in message)
    "unknown_key": ("model: {hiden: [4]}\n", ["model.hiden", "did you mean 'hidden'"]),
    "wrong_type": ("training: {epochs: ten}\n", ["training.epochs", "'ten'"]),
    "out_of_range": ("data: {validation_split: 1.5}\n", ["data.validation_split", "1.5"]),
    "nested_key": (
        "sweep: {learning_rates: {min: 1.0, max: 0.1, num: 3}}\n",
        ["sweep.learning_rates.min"],
    ),
    "bad_pair": (
        "model: {output: softmax, loss: bce}\n",
        ["model.loss", "softmax", "sigmoid+bce", "softmax+cross_entropy"],
    ),
    "yaml_syntax": ("model: [\n  hidden: 4\n", ["invalid YAML", "line "]),
    "missing_file": (None, ["not found"]),
    "directory": ("dir", ["directory"]),
    "data_file_missing": ("data: {kind: file, path: nope.npz}\n", ["data.path", "nope.npz"]),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_a_bad_config_is_one_line_naming_file_and_key(tmp_path, monkeypatch, case):
    text, expected = BAD_CONFIGS[case]
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bad.yaml"
    if text == "dir":
        config.mkdir()
    elif text is not None:
        config.write_text(text, encoding="utf-8")
    result = sweep(config)
    assert result.exit_code == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith("lrdiag: error: ")
    assert str(config) in line
    for fragment in expected:
        assert fragment in line
    assert result.stdout == ""
    assert not (tmp_path / "lrdiag-out").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("data.npz", b"not a zip\n", "not an .npz archive"),
        ("data.npz", "npy", "not an .npz archive"),  # np.load would return an array
        ("data.csv", b"a,b,label\n1,2,0\n3,x,1\n", "'x' is not a finite number"),
    ],
)  # fmt: skip
def test_a_bad_data_file_is_one_line_naming_it(tmp_path, name, content, expected):
    if content == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.zeros((4, 3)))
        content = buffer.getvalue()
    (tmp_path / name).write_bytes(content)
    config = tmp_path / "cfg.yaml"
    config.write_text(f"data: {{kind: file, path: {name}}}\nmodel: {{hidden: []}}\n")
    result = sweep(config, "-o", tmp_path / "out")
    assert result.exit_code == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith("lrdiag: error: ") and name in line and expected in line


def test_traceback_flag_shows_the_traceback_and_keeps_the_exit_code(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model: {hiden: [4]}\n", encoding="utf-8")
    result = sweep(config, "--traceback")
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("lrdiag: error: ")


def test_traceback_from_python_dash_m_exits_2_not_1(tmp_path):
    """An uncaught exception would exit 1, which CI reads as a --fail-on match."""
    config = tmp_path / "bad.yaml"
    config.write_text("training: {epochs: 0}\n", encoding="utf-8")
    proc = run_process(sys.executable, "-m", "lrdiag", "sweep", config, "--traceback")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert "training.epochs" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("size", ["nonsense", "0", "-5MB"])
def test_a_bad_max_memory_is_a_usage_error(tmp_path, size):
    result = sweep(write_config(tmp_path), "--max-memory", size, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert size in one_line(result.stderr)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- output directories


def test_default_out_never_overwrites_earlier_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path)
    first = None
    for expected in ("tiny", "tiny-2", "tiny-3"):
        result = sweep(config, "--no-plots")
        assert result.exit_code == 0, result.stderr
        assert f"lrdiag-out/{expected}/" in result.stdout
        assert (tmp_path / "lrdiag-out" / expected / "results.json").is_file()
        first = first or (tmp_path / "lrdiag-out/tiny/results.json").read_bytes()
    assert sorted(os.listdir(tmp_path / "lrdiag-out")) == ["tiny", "tiny-2", "tiny-3"]
    assert (tmp_path / "lrdiag-out/tiny/results.json").read_bytes() == first


def test_default_out_under_a_file_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lrdiag-out").write_text("mine\n")
    result = sweep(write_config(tmp_path), "--no-plots")
    assert result.exit_code == 2, result.stderr
    assert "lrdiag-out" in one_line(result.stderr)
    assert (tmp_path / "lrdiag-out").read_text() == "mine\n"


def test_explicit_out_with_results_needs_force(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert sweep(write_config(tmp_path), "-o", out, "--no-plots").exit_code == 0
    for name in PLOT_FILES:  # stand-ins for the plots of that sweep
        (out / name).write_bytes(b"old plot")
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    with monkeypatch.context() as m:
        m.setattr(lrdiag.sweep, "train", no_training)
        refused = sweep(write_config(tmp_path, name="other"), "-o", out)
    assert refused.exit_code == 2
    assert "--force" in one_line(refused.stderr)
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before

    other = write_config(tmp_path, name="other", sweep={"learning_rates": [0.1]})
    forced = sweep(other, "-o", out, "--force", "--no-plots")
    assert forced.exit_code == 0, forced.stderr
    doc = read_doc(out)
    assert doc["config"]["name"] == "other"
    assert [r["learning_rate"] for r in doc["runs"]] == [0.1]
    # the old plots showed the old sweep: --no-plots removes them rather than keep them stale
    assert set(os.listdir(out)) == RESULT_FILES


def test_out_that_is_a_file_is_a_usage_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("precious\n")
    result = sweep(write_config(tmp_path), "-o", target, "--force")
    assert result.exit_code == 2
    assert "not a directory" in one_line(result.stderr)
    assert target.read_text() == "precious\n"


def test_an_existing_out_without_results_is_used(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    assert sweep(write_config(tmp_path), "-o", out, "--no-plots").exit_code == 0
    assert (out / "notes.txt").read_text() == "keep me\n"
    assert RESULT_FILES <= set(os.listdir(out))


# --------------------------------------------------------------------------- dry run, memory


def test_dry_run_trains_nothing_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("a dry run trained")

    monkeypatch.setattr(lrdiag.sweep, "train", no_training)
    config = write_config(tmp_path, training={"seeds": [0, 1]})
    result = sweep(config, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "4 runs" in result.stdout
    assert "memory" in result.stdout and "chunk" in result.stdout
    assert "nothing trained" in result.stdout

    as_json = sweep(config, "--dry-run", "--json", "--max-memory", "1KB")
    assert as_json.exit_code == 0, as_json.stderr
    plan = strict_loads(as_json.stdout)
    assert plan["n_runs"] == 4
    assert plan["chunk_size"] == 1 and plan["n_chunks"] == 4  # 1 KB holds less than one run
    assert plan["grid"] == {"learning_rates": 2, "init_scales": 1, "seeds": 2}
    assert os.listdir(tmp_path) == ["tiny.yaml"]


def test_dry_run_of_a_huge_grid_counts_runs_without_building_them(tmp_path, monkeypatch):
    """10^8 runs: a dry run says how many and plans them, without a Run object each (building
    them took over a minute and ran out of memory: exit 3, 'a bug in lrdiag')."""

    def no_grid(*args, **kwargs):
        raise AssertionError("a dry run built the grid")

    monkeypatch.setattr(lrdiag.sweep, "expand_grid", no_grid)
    config = write_config(
        tmp_path,
        sweep={"learning_rates": {"min": 1e-6, "max": 10.0, "num": 100_000}},
        init={"scales": [float(s) for s in range(1, 11)]},
        training={"seeds": list(range(100))},
    )
    result = sweep(config, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    plan = strict_loads(result.stdout)
    assert plan["n_runs"] == 100_000 * 10 * 100
    assert plan["chunk_size"] * plan["n_chunks"] >= plan["n_runs"]


def test_dry_run_counts_in_words_with_the_right_plurals(tmp_path):
    config = write_config(tmp_path, sweep={"learning_rates": [0.1]}, training={"epochs": 1})
    result = sweep(config, "--dry-run")
    assert result.exit_code == 0, result.stderr
    first, second = result.stdout.splitlines()[:2]
    assert "1 run = 1 learning rate x 1 init scale x 1 seed, 1 epoch on" in first
    assert second.endswith("1 chunk of up to 1 run")
    assert "(s)" not in result.stdout


def test_a_budget_below_one_run_is_warned_about_and_still_trains(tmp_path):
    """A chunk holds at least one run, so such a budget is exceeded: say so, by how much."""
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path), "-o", out, "--no-plots", "--max-memory", "1KB")
    assert result.exit_code == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("lrdiag: warning: the memory budget (1000 B) is less than training")
    assert "one run at a time" in line and "working arrays" in line
    assert read_doc(out)["complete"] is True
    roomy = sweep(write_config(tmp_path), "-o", tmp_path / "b", "--no-plots")
    assert roomy.exit_code == 0 and roomy.stderr == ""


def test_one_run_per_chunk_gives_the_same_results(tmp_path):
    config = write_config(
        tmp_path,
        training={"seeds": [0, 1], "dtype": "float64", "batch_size": 8},
        sweep={"learning_rates": [0.01, 0.3, 3.0]},
    )
    a, b = tmp_path / "a", tmp_path / "b"
    assert sweep(config, "-o", a, "--no-plots").exit_code == 0
    assert sweep(config, "-o", b, "--no-plots", "--max-memory", "1KB").exit_code == 0
    runs_a, runs_b = read_doc(a)["runs"], read_doc(b)["runs"]
    assert [r["verdict"] for r in runs_a] == [r["verdict"] for r in runs_b]
    for ra, rb in zip(runs_a, runs_b, strict=True):
        assert ra["loss"] == pytest.approx(rb["loss"], rel=1e-10, abs=0)


def test_dtype_option_is_recorded_in_results(tmp_path):
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path), "-o", out, "--dtype", "float64", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert read_doc(out)["config"]["training"]["dtype"] == "float64"
    assert sweep(write_config(tmp_path), "--dtype", "float16").exit_code == 2


# --------------------------------------------------------------------------- determinism


def test_same_config_twice_gives_an_identical_results_json(tmp_path):
    """results.json holds no timing and no output path, so two runs are byte-identical."""
    config = write_config(
        tmp_path,
        data={"validation_split": 0.25},
        training={"seeds": [0, 1], "batch_size": 5},
        sweep={"learning_rates": [0.01, 0.3, 30.0]},
    )
    a, b = tmp_path / "a", tmp_path / "b"
    assert sweep(config, "-o", a, "--no-plots").exit_code == 0
    assert sweep(config, "-o", b, "--no-plots").exit_code == 0
    text = (a / "results.json").read_text(encoding="utf-8")
    assert text == (b / "results.json").read_text(encoding="utf-8")
    assert "seconds" not in text and str(a) not in text
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    assert (a / "report.md").read_bytes() == (b / "report.md").read_bytes()


# --------------------------------------------------------------------------- interrupts, bugs


def _interrupt_after(monkeypatch, calls: int, action) -> None:
    """Make lrdiag.model.loss_and_grads call ``action()`` on its ``calls``-th call."""
    real = lrdiag.model.loss_and_grads
    count, lock = [0], threading.Lock()

    def patched(*args, **kwargs):
        with lock:
            count[0] += 1
            fire = count[0] == calls
        if fire:
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(lrdiag.model, "loss_and_grads", patched)


def _check_partial_results(result, out: Path, epochs: int) -> None:
    assert result.exit_code == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert "interrupted" in one_line(result.stderr)
    doc = read_doc(out)
    assert doc["complete"] is False
    runs = doc["runs"]
    assert any(r["verdict"] is None and "incomplete" in r["flags"] for r in runs)
    assert all(len(r["loss"]) == epochs + 1 for r in runs)


def test_ctrl_c_in_training_writes_partial_results_and_exits_130(tmp_path, monkeypatch):
    def raise_interrupt():
        raise KeyboardInterrupt

    _interrupt_after(monkeypatch, 3, raise_interrupt)
    config = write_config(tmp_path, training={"epochs": 50})
    out = tmp_path / "out"
    result = sweep(config, "-o", out)  # with plots: they must cope with unjudged runs
    _check_partial_results(result, out, 50)
    assert PLOT_FILES <= set(os.listdir(out))


def test_ctrl_c_with_json_still_prints_one_document(tmp_path, monkeypatch):
    def raise_interrupt():
        raise KeyboardInterrupt

    _interrupt_after(monkeypatch, 3, raise_interrupt)
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path, training={"epochs": 50}), "-o", out, "--json",
                   "--no-plots", "--fail-on", "plateaued")  # fmt: skip
    _check_partial_results(result, out, 50)  # 130 wins over --fail-on
    assert strict_loads(result.stdout) == read_doc(out)


def test_a_real_sigint_during_training_writes_partial_results(tmp_path, monkeypatch):
    """SIGINT reaches the main thread (waiting for the training threads), as Ctrl-C does."""

    def send_sigint():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # hold this run until the main thread has asked the workers to stop

    _interrupt_after(monkeypatch, 3, send_sigint)
    config = write_config(tmp_path, training={"epochs": 50})
    out = tmp_path / "out"
    result = sweep(config, "-o", out, "--no-plots")
    _check_partial_results(result, out, 50)


def test_ctrl_c_while_the_command_line_is_parsed_exits_130(monkeypatch, capsys):
    """Before any command runs (click alone would print "Aborted!" and exit 1)."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "parse_args", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        lrdiag.cli.main(["sweep", "x.yaml"])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err.strip() == "lrdiag: interrupted"  # after click's newline


@pytest.mark.parametrize(
    "argv, code, text",
    [
        (["--bogus"], 2, "lrdiag: error: No such option '--bogus'. (see 'lrdiag --help')\n"),
        (["swep"], 2, "lrdiag: error: No such command 'swep'. Did you mean 'sweep'?"),
        (["--version"], 0, ""),
    ],
)
def test_the_entry_point_exit_codes(argv, code, text):
    """The real entry point (not CliRunner): errors before a command are one line, exit 2."""
    proc = run_process(BIN / "lrdiag", *argv)
    assert proc.returncode == code
    assert proc.stderr.startswith(text) and proc.stderr.count("\n") == (1 if text else 0)
    if argv == ["--version"]:
        assert proc.stdout == f"lrdiag, version {lrdiag.__version__}\n"


@pytest.mark.parametrize("traceback", [False, True])
def test_an_internal_error_exits_3_in_one_line(tmp_path, monkeypatch, traceback):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nwith a second line")

    monkeypatch.setattr(lrdiag.results, "document", broken)
    args = ["--traceback"] if traceback else []
    result = sweep(write_config(tmp_path), "-o", tmp_path / "out", *args)
    assert result.exit_code == 3
    last = result.stderr.strip().splitlines()[-1]
    assert "internal error" in last and "RuntimeError: boom with a second line" in last
    if traceback:
        assert "Traceback (most recent call last)" in result.stderr
    else:
        assert one_line(result.stderr) == last


def test_labels_counted_from_1_are_noted_on_stderr(tmp_path):
    """Labels 1..3 train 4 outputs: said on stderr (stdout stays the JSON document)."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.normal(size=(30, 2)), y=1 + np.arange(30) % 3)
    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {kind: file, path: d.npz}\n"
        "model: {hidden: [4], output: softmax, loss: cross_entropy}\n"
        "training: {epochs: 2}\nsweep: {learning_rates: [0.1]}\n"
    )
    result = sweep(config, "-o", tmp_path / "out", "--json", "--no-plots")
    assert result.exit_code == 0, result.stderr
    assert strict_loads(result.stdout)["runs"][0]["verdict"]
    (line,) = result.stderr.splitlines()
    assert line.startswith("lrdiag: note: ") and "d.npz" in line and "class 0 never occurs" in line


def test_running_out_of_memory_is_the_input_s_size_not_a_bug(tmp_path, monkeypatch):
    """A grid too large for the machine (MemoryError building or writing it) is exit 2 with
    what to do, not exit 3 'a bug in lrdiag'."""

    def too_large(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(lrdiag.results, "document", too_large)
    result = sweep(write_config(tmp_path), "-o", tmp_path / "out")
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert line.startswith("lrdiag: error: out of memory") and "--dry-run" in line


# --------------------------------------------------------------------------- terminal output


def test_quiet_prints_only_the_directory_and_writes_everything(tmp_path):
    out = tmp_path / "out"
    result = sweep(write_config(tmp_path), "-o", out, "--quiet", "--no-plots")
    assert result.exit_code == 0
    assert result.stdout == f"{out}\n" and result.stderr == ""
    assert set(os.listdir(out)) == RESULT_FILES


def test_quiet_names_the_default_directory_it_picked(tmp_path, monkeypatch):
    """Without --out the directory is lrdiag-out/<name>, then <name>-2: -q says which."""
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path)
    first = sweep(config, "-q", "--no-plots")
    second = sweep(config, "-q", "--no-plots")
    assert first.exit_code == second.exit_code == 0
    name = config.stem
    assert first.stdout == str(Path("lrdiag-out") / name) + "\n"
    assert second.stdout == str(Path("lrdiag-out") / f"{name}-2") + "\n"
    assert (Path(second.stdout.strip()) / "results.json").is_file()


def test_output_off_a_terminal_has_no_escape_codes(tmp_path):
    result = sweep(write_config(tmp_path), "-o", tmp_path / "out", "--no-plots")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and result.stderr == ""
    assert "converging" in result.stdout or "plateaued" in result.stdout


def test_no_color_means_no_escape_codes_even_on_a_terminal(tmp_path):
    config = write_config(tmp_path)
    # FORCE_COLOR makes rich treat the captured stdout as a terminal: styled ...
    styled = sweep(config, "-o", tmp_path / "a", "--no-plots", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in styled.stdout
    # ... unless NO_COLOR is set: then plain text, not even bold
    plain = sweep(
        config, "-o", tmp_path / "b", "--no-plots", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}
    )
    assert plain.exit_code == 0
    assert "\x1b" not in plain.stdout


def read_terminal(master: int) -> bytes:
    """Everything a child wrote to the pseudo-terminal whose master end is ``master``, until it
    closed it; the master end is closed after."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_no_color_on_a_real_terminal(tmp_path):
    import pty

    config = write_config(tmp_path)
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update(NO_COLOR="1", COLUMNS="100")
    argv = [BIN / "lrdiag", "sweep", config, "-o", tmp_path / "out", "--no-plots"]
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    output = read_terminal(master)
    assert proc.wait(timeout=60) == 0
    stdout = output.decode()
    assert "Results written to" in stdout
    assert "\x1b" not in stdout
    assert proc.stderr.read() == b""  # stderr is not a terminal: no progress bar
    proc.stderr.close()


def test_version_and_help():
    runner = CliRunner()
    version = runner.invoke(cli, ["--version"])
    assert version.exit_code == 0
    assert lrdiag.__version__ in version.stdout
    helped = runner.invoke(cli, ["sweep", "--help"])
    assert helped.exit_code == 0
    assert "Example" in helped.stdout and "lrdiag sweep configs/" in helped.stdout
    for option in ("--out", "--json", "--fail-on", "--dry-run", "--max-memory", "--traceback"):
        assert option in helped.stdout
    for argv in (["sweep", "--bogus"], ["sweep"], ["sweep", "x.yaml", "--dtype", "f16"]):
        result = runner.invoke(cli, argv, prog_name="lrdiag")
        assert result.exit_code == 2  # a usage error: one line, like every exit 2
        assert one_line(result.stderr).startswith("lrdiag: error: ")
        assert "lrdiag sweep --help" in result.stderr


def test_python_dash_m_version():
    proc = run_process(sys.executable, "-m", "lrdiag", "--version")
    assert proc.returncode == 0
    assert lrdiag.__version__ in proc.stdout
