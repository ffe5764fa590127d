"""lrdiag.pipeline.run_sweep, the sweep as a library call: the same results as the command, the
same files, and the options the command has (dtype, memory budget, plots)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from lrdiag import curvestore, pipeline
from lrdiag.cli import cli
from lrdiag.errors import ConfigError, LrdiagError
from lrdiag.files import FIND_NAMES, OUTPUT_NAMES, PLOT_NAMES, to_json_text

# Linear regression: lr 1e6 overflows within a few steps, the others train.
CONFIG = {
    "data": {"kind": "linear", "n_samples": 16, "n_features": 2, "seed": 0},
    "model": {"hidden": [3], "activation": "tanh", "output": "identity", "loss": "mse"},
    "init": {"scheme": "xavier", "scales": [1.0]},
    "training": {"epochs": 8, "seeds": [0, 1], "dtype": "float32"},
    "sweep": {"learning_rates": [0.01, 0.1, 1e6]},
}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "lib.yaml"
    path.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return path


def test_run_sweep_returns_what_the_command_prints(config, tmp_path):
    doc = pipeline.run_sweep(config)
    printed = CliRunner().invoke(
        cli, ["sweep", str(config), "-o", str(tmp_path / "cli"), "--json", "--no-plots"]
    )
    assert printed.exit_code == 0, printed.output
    assert to_json_text(doc) == printed.stdout
    assert len(doc["runs"]) == 3 * 2
    assert {r["verdict"] for r in doc["runs"] if r["learning_rate"] == 1e6} == {"diverging"}


def test_run_sweep_writes_the_files_of_the_command(config, tmp_path):
    out = tmp_path / "out"
    doc = pipeline.run_sweep(config, out, plots=False)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        set(OUTPUT_NAMES) - set(PLOT_NAMES) - set(FIND_NAMES) - set(curvestore.FILE_NAMES.values())
    )
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == json.loads(
        to_json_text(doc)
    )
    with pytest.raises(LrdiagError, match="already holds results"):
        pipeline.run_sweep(config, out, plots=False)
    pipeline.run_sweep(config, out, force=True)  # replaces them, with the plots this time
    assert {p.name for p in out.glob("*.png")} == {
        "curves.png",
        "final_loss_vs_lr.png",
        "phase.png",
    }


def test_a_small_memory_budget_trains_in_chunks_to_the_same_results(config):
    whole = pipeline.run_sweep(config)
    cfg = pipeline.configure(config)
    plan = pipeline.make_plan(cfg, pipeline.load_data(cfg, config), 1)
    assert plan.n_chunks == plan.n_runs == 6  # one run at a time
    assert to_json_text(pipeline.run_sweep(config, max_memory=1)) == to_json_text(whole)


def test_dtype_replaces_the_configs(config):
    doc = pipeline.run_sweep(config, dtype="float64")
    assert doc["config"]["training"]["dtype"] == "float64"
    assert pipeline.configure(config).training.dtype == "float32"


def test_a_bad_config_is_a_config_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "training": {"epochs": -1}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="training.epochs"):
        pipeline.run_sweep(path)
