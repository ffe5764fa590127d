"""`lrdiag find` end to end (CliRunner), against the contract of `lrdiag sweep`: exit codes (0
done, 1 --fail-on matched in the sweep, 2 bad input in one line), the files written, strict
JSON, --quiet, --no-sweep, an --out that holds results; and on linear regression the report
shows the suggestions beside the exact limit 2 / lambda_max (from numpy.linalg here)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from lrdiag.cli import cli
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset

FIND_FILES = {"find.json", "find.csv", "find.png"}
SWEEP_FILES = {"results.json", "results.csv", "report.md", "curves.png", "phase.png"}
LINREG = {
    "name": "linreg",
    "data": {"kind": "linear", "n_samples": 200, "n_features": 5, "noise": 0.1},
    "model": {"hidden": [], "output": "identity", "loss": "mse"},
    "training": {"epochs": 40, "seeds": [0, 1], "dtype": "float64"},
    "find": {"steps": 60, "sweep_per_decade": 3},
}


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    for var in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "160")


def write(directory: Path, cfg: dict = LINREG, **sections) -> Path:
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    path = directory / "find.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def find(*args):
    return CliRunner().invoke(cli, ["find", *(str(a) for a in args)], catch_exceptions=False)


def strict_loads(text: str):
    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def exact_limit() -> float:
    cfg = config_from_dict({k: v for k, v in LINREG.items() if k != "name"})
    ds = load_dataset(cfg.data, cfg.model)
    Xt = np.column_stack([ds.X, np.ones(len(ds.X))])
    return 2.0 / float(np.linalg.eigvalsh(2.0 / len(Xt) * Xt.T @ Xt).max())


def test_find_writes_its_files_and_the_sweeps_and_reports_guess_beside_answer(tmp_path):
    out = tmp_path / "out"
    result = find(write(tmp_path), "--out", out)
    assert result.exit_code == 0, result.output + result.stderr
    assert FIND_FILES | SWEEP_FILES <= {p.name for p in out.iterdir()}
    doc = strict_loads((out / "find.json").read_text(encoding="utf-8"))
    limit = exact_limit()
    (scale,) = doc["per_scale"]
    assert scale["critical_lr"] == pytest.approx(limit, rel=1e-4)
    for name in ("steep", "valley", "minimum", "slide"):
        assert scale["suggestions"][name]["max"] < limit
    lo, hi = scale["bracket"]
    assert lo < limit < hi and scale["largest_converging_lr"] == lo
    text = result.output
    assert f"{limit:.3g}" in text and "2/lambda_max at init (predicted)" in text
    assert "largest converging (measured)" in text and f"{lo:.3g}" in text
    assert f"{scale['suggestions']['steep']['median']:.3g}" in text
    # the sweep's results are the sweep's: its grid is the one find.json names
    results = strict_loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["config"]["sweep"]["learning_rates"] == doc["sweep"]["learning_rates"]
    assert results["summary"]["per_scale"][0]["bracket"] == [lo, hi]
    # find.csv holds each run's recorded steps: lr, loss and smoothed loss
    rows = list(csv.DictReader(io.StringIO((out / "find.csv").read_text(encoding="utf-8"))))
    assert len(rows) == sum(r["steps_done"] for r in doc["runs"])
    first = rows[0]
    assert float(first["lr"]) == doc["lrs"][0] and float(first["smoothed_loss"]) == pytest.approx(
        doc["runs"][0]["smoothed"][0]
    )


def test_json_prints_find_json_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    result = find(write(tmp_path), "--out", out, "--json", "--no-plots")
    assert result.exit_code == 0
    assert strict_loads(result.stdout) == strict_loads((out / "find.json").read_text("utf-8"))
    assert not any(p.suffix == ".png" for p in out.iterdir())


def test_quiet_prints_the_directory_and_no_sweep_writes_only_find_files(tmp_path):
    out = tmp_path / "out"
    result = find(write(tmp_path), "--out", out, "-q", "--no-sweep")
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == FIND_FILES
    doc = strict_loads((out / "find.json").read_text("utf-8"))
    assert doc["sweep"] is None and doc["per_scale"][0]["bracket"] is None


def test_default_out_is_name_find_and_is_never_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path)
    assert find(config, "-q", "--no-sweep").stdout.strip() == str(Path("lrdiag-out/linreg-find"))
    second = find(config, "-q", "--no-sweep").stdout.strip()
    assert second == str(Path("lrdiag-out/linreg-find-2"))


def test_an_out_with_results_needs_force(tmp_path):
    out = tmp_path / "out"
    config = write(tmp_path)
    assert find(config, "--out", out, "--no-sweep", "-q").exit_code == 0
    again = find(config, "--out", out, "--no-sweep", "-q")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert find(config, "--out", out, "--force", "-q").exit_code == 0
    assert "results.json" in {p.name for p in out.iterdir()}
    # --force without a sweep removes the earlier sweep's files: they would mislead
    assert find(config, "--out", out, "--force", "-q", "--no-sweep").exit_code == 0
    assert "results.json" not in {p.name for p in out.iterdir()}


def test_fail_on_matches_the_sweeps_verdicts(tmp_path):
    """The sweep spans past the limit, so some of its runs diverge."""
    config = write(tmp_path)
    result = find(config, "--out", tmp_path / "a", "--fail-on", "diverging", "-q")
    doc = strict_loads((tmp_path / "a" / "results.json").read_text("utf-8"))
    assert any(r["verdict"] == "diverging" for r in doc["runs"])
    assert result.exit_code == 1
    no_sweep = find(config, "--out", tmp_path / "b", "--fail-on", "diverging", "-q", "--no-sweep")
    assert no_sweep.exit_code == 0


def test_command_line_overrides_the_find_section(tmp_path):
    out = tmp_path / "out"
    args = ("--min-lr", "1e-4", "--max-lr", "1", "--steps", "30", "--no-sweep", "--json")
    result = find(write(tmp_path), "--out", out, *args)
    doc = strict_loads(result.stdout)
    assert doc["config"]["find"]["min"] == 1e-4 and doc["config"]["find"]["steps"] == 30
    assert doc["lrs"][0] == 1e-4 and len(doc["lrs"]) == 30 and doc["lrs"][-1] < 1


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--min-lr", "1", "--max-lr", "0.1"), "min 1 is not below max 0.1"),
        (("--min-lr", "-1"), "--min-lr"),
        (("--steps", "3"), "--steps"),
        (("--fail-on", "exploding"), "unknown verdict"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(tmp_path, args, expected):
    result = find(write(tmp_path), "--out", tmp_path / "out", *args)
    assert result.exit_code == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "find_section, expected",
    [
        ({"min": 1.0, "max": 0.5}, "find.max: must be above find.min"),
        ({"steps": 2}, "find.steps: must be in [6, 100000]"),
        ({"beta": 1.0}, "find.beta"),
        ({"stop_factor": 0.5}, "find.stop_factor: must be > 1"),
        ({"stpes": 10}, "did you mean 'steps'"),
    ],
)
def test_a_bad_find_section_names_the_file_and_key(tmp_path, find_section, expected):
    doc = dict(LINREG, find=find_section)
    result = find(write(tmp_path, doc), "--out", tmp_path / "out")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "find.yaml" in line and expected in line


def test_a_missing_config_is_exit_2(tmp_path):
    result = find(tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "nope.yaml" in result.stderr


def test_a_sweep_config_accepts_a_find_section(tmp_path):
    """configs/find.yaml is also a sweep config: `sweep` ignores find: but must accept it."""
    config = write(tmp_path, sweep={"learning_rates": [0.1]}, training={"epochs": 3})
    result = CliRunner().invoke(cli, ["sweep", str(config), "-o", str(tmp_path / "s"), "-q"])
    assert result.exit_code == 0, result.stderr


def test_configs_find_yaml_suggests_below_the_exact_limit():
    """configs/find.yaml's comment: lambda_max about 2.58 (computed here), every suggestion
    below 2 / lambda_max = 0.775, valley and slide far below, and the sweep measures 0.631,
    bracket [0.631, 1]."""
    from lrdiag import find as finder
    from lrdiag.config import load_config

    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "find.yaml")
    ds = load_dataset(cfg.data, cfg.model, file=cfg.source)
    Xt = np.column_stack([ds.X, np.ones(len(ds.X))])
    lam = float(np.linalg.eigvalsh(2.0 / len(Xt) * Xt.T @ Xt).max())
    limit = 2.0 / lam
    assert lam == pytest.approx(2.58, abs=0.005) and limit == pytest.approx(0.775, abs=0.0005)
    doc, _ = finder.run(cfg, ds)
    for row in doc["runs"]:
        assert all(v is not None and v < limit for v in row["suggestions"].values())
        assert (
            row["suggestions"]["valley"] < limit / 10 and row["suggestions"]["slide"] < limit / 10
        )
    (scale,) = doc["per_scale"]
    assert scale["largest_converging_lr"] == 0.631 and scale["bracket"] == [0.631, 1.0]


def _interrupt_at_call(monkeypatch, calls: int) -> None:
    """Make lrdiag.model.loss_and_grads raise KeyboardInterrupt (Ctrl-C) on its calls-th call."""
    import threading

    import lrdiag.model

    real, count, lock = lrdiag.model.loss_and_grads, [0], threading.Lock()

    def patched(*args, **kwargs):
        with lock:
            count[0] += 1
            fire = count[0] == calls
        if fire:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lrdiag.model, "loss_and_grads", patched)


def test_ctrl_c_in_the_range_test_exits_130_and_writes_nothing(tmp_path, monkeypatch):
    _interrupt_at_call(monkeypatch, 5)  # the range test's 5th step
    out = tmp_path / "out"
    result = find(write(tmp_path), "--out", out)
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_ctrl_c_in_the_sweep_writes_the_test_and_a_partial_sweep(tmp_path, monkeypatch):
    _interrupt_at_call(monkeypatch, 60 + 5)  # past the 60 steps of the range test
    out = tmp_path / "out"
    result = find(write(tmp_path), "--out", out, "--no-plots")
    assert result.exit_code == 130, result.stderr
    assert "partial results written" in result.stderr
    doc = strict_loads((out / "find.json").read_text("utf-8"))
    assert doc["complete"] is False and doc["sweep"]["complete"] is False
    assert len(doc["runs"]) == 2 and all(r["suggestions"]["steep"] for r in doc["runs"])
    results = strict_loads((out / "results.json").read_text("utf-8"))
    assert results["complete"] is False
