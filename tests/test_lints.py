"""lrdiag.lints: silent on healthy configs, exactly the planted one on each planted mistake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrdiag import lints, model
from lrdiag.config import config_from_dict, load_config
from lrdiag.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
# the question the lints exist for: its mistakes are the point of the config
EXPECTED = {"keras_question.yaml": ["output_loss_mismatch", "unscaled_inputs"]}

HEALTHY = {
    "moons_tanh": {
        "model": {"hidden": [32, 16], "activation": "tanh"},
        "init": {"scheme": "xavier"},
    },
    "blobs_relu": {
        "data": {"kind": "blobs", "n_classes": 3, "n_features": 4, "n_samples": 300},
        "model": {
            "hidden": [64],
            "activation": "relu",
            "output": "softmax",
            "loss": "cross_entropy",
        },
        "init": {"scheme": "he"},
    },
    "linear": {
        "data": {"kind": "linear", "n_features": 5},
        "model": {"hidden": [], "output": "identity", "loss": "mse"},
    },
    "digits_0_16": {
        "data": {"kind": "digits"},
        "model": {
            "hidden": [32],
            "activation": "relu",
            "output": "softmax",
            "loss": "cross_entropy",
        },
        "init": {"scheme": "he"},
    },
    "digits_sigmoid_hidden": {
        "data": {"kind": "digits", "standardize": True},
        "model": {
            "hidden": [32],
            "activation": "sigmoid",
            "output": "softmax",
            "loss": "cross_entropy",
        },
        "init": {"scheme": "xavier", "scales": [0.5, 1.0, 2.0]},
        "training": {"batch_size": 32},
    },
}


def run(cfg):
    return lints.check_config(cfg, load_dataset(cfg.data, cfg.model, file=cfg.source))


def ids(found):
    return [lint.id for lint in found]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_the_shipped_configs(path):
    assert ids(run(load_config(path))) == EXPECTED.get(path.name, [])


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_configs_are_silent(name):
    assert ids(run(config_from_dict(HEALTHY[name]))) == []


def test_output_loss_mismatch_alone():
    cfg = config_from_dict(
        {
            "data": {"kind": "digits", "standardize": True},
            "model": {"hidden": [], "output": "sigmoid", "loss": "cross_entropy"},
        }
    )
    (lint,) = run(cfg)
    assert lint.id == "output_loss_mismatch" and "softmax cross-entropy" in lint.message
    assert lint.why and lint.fix


def test_unscaled_inputs_quotes_its_numbers():
    cfg = config_from_dict(
        {
            "data": {"kind": "digits", "scale": 15.9375},
            "model": {"hidden": [], "output": "softmax", "loss": "cross_entropy"},
            "sweep": {"learning_rates": [0.01, 0.1]},
        }
    )
    (lint,) = run(cfg)
    X = load_dataset(cfg.data, cfg.model).X
    rms = np.sqrt(np.mean(X**2))  # computed here from the pixels
    assert lint.id == "unscaled_inputs"
    assert "max |x| = 255" in lint.message and f"rms {rms:.3g}" in lint.message
    assert f"{0.1 * 255:.3g} at lr 0.1" in lint.message


def test_sum_reduction_names_the_effective_rates():
    cfg = config_from_dict(
        {
            "init": {"scheme": "xavier"},
            "training": {"loss_reduction": "sum", "batch_size": 32},
            "sweep": {"learning_rates": [0.01, 0.03]},
        }
    )
    (lint,) = run(cfg)
    assert lint.id == "sum_reduction"
    assert "step like 0.32, 0.96 on the mean loss" in lint.message


def test_saturated_init_per_layer():
    # the first question: U[0, 1) weights into tanh units
    cfg = config_from_dict(
        {
            "model": {"hidden": [64, 32], "activation": "tanh"},
            "init": {"scheme": ["uniform01", "uniform01", "normal"]},
        }
    )
    (lint,) = run(cfg)
    assert lint.id == "saturated_init"
    X = load_dataset(cfg.data, cfg.model).X
    rng = np.random.default_rng(0)  # seed 0's draws, layer by layer
    z1 = X @ rng.random((2, 64))
    z2 = np.tanh(z1) @ rng.random((64, 32))
    for i, z in enumerate((z1, z2), start=1):
        assert f"layer {i} {np.mean(np.abs(z) > 3):.0%}" in lint.message


def test_dead_relu_per_layer(tmp_path):
    rows = "\n".join(f"{-1 - i / 50:.3f},{-2 + i / 100:.3f},{i % 2}" for i in range(50))
    (tmp_path / "neg.csv").write_text("a,b,label\n" + rows + "\n")
    cfg = config_from_dict(
        {
            "data": {"kind": "file", "path": "neg.csv"},
            "model": {"hidden": [8, 8], "activation": "relu"},
            "init": {"scheme": "uniform01"},  # w >= 0 on inputs < 0: no unit of layer 1 fires
        },
        base_dir=tmp_path,
    )
    (lint,) = run(cfg)
    assert lint.id == "dead_relu"
    assert "layer 1 100%, layer 2 100%" in lint.message


def summary(per_scale):
    return {"per_scale": per_scale}


def test_grid_every_rate_converges_extends_upward():
    cfg = config_from_dict({"sweep": {"learning_rates": [0.01, 0.1]}})
    rows = [{"init_scale": 1.0, "verdict": "converging"}] * 2
    s = summary([{"init_scale": 1.0, "bracket": None}])
    (lint,) = lints.check_grid(cfg, s, rows)
    grid = ", ".join(f"{v:.3g}" for v in np.geomspace(0.1, 10, 5))
    assert lint.id == "grid_misses_boundary" and "extend upward to 10" in lint.message
    assert f"learning_rates: [{grid}]" in lint.message


def test_grid_every_rate_diverges_extends_downward():
    cfg = config_from_dict({"sweep": {"learning_rates": [1, 10]}})
    rows = [{"init_scale": 1.0, "verdict": "diverging"}] * 2
    (lint,) = lints.check_grid(cfg, summary([{"init_scale": 1.0, "bracket": None}]), rows)
    assert "extend downward to 0.01" in lint.message


def test_grid_wide_bracket_is_refined_and_a_narrow_one_is_fine():
    cfg = config_from_dict({"sweep": {"learning_rates": [0.1, 1, 3]}})
    rows = [{"init_scale": 1.0, "verdict": v} for v in ("converging", "diverging", "diverging")]
    (lint,) = lints.check_grid(cfg, summary([{"init_scale": 1.0, "bracket": [0.1, 1]}]), rows)
    assert "refine between them" in lint.message and "a factor of 10" in lint.message
    narrow = summary([{"init_scale": 1.0, "bracket": [1, 3]}])
    assert lints.check_grid(cfg, narrow, rows) == []


def test_an_ignored_lint_is_neither_reported_nor_the_others_lost():
    grid = {"sweep": {"learning_rates": [0.01, 0.1]}}
    rows = [{"init_scale": 1.0, "verdict": "converging"}] * 2
    s = summary([{"init_scale": 1.0, "bracket": None}])
    ignored = config_from_dict({**grid, "lints": {"ignore": ["grid_misses_boundary"]}})
    assert lints.check_grid(ignored, s, rows) == []
    other = config_from_dict({**grid, "lints": {"ignore": ["dead_relu"]}})
    assert [lint.id for lint in lints.check_grid(other, s, rows)] == ["grid_misses_boundary"]


def test_an_unknown_lint_id_to_ignore_is_a_config_error():
    from lrdiag.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        config_from_dict({"lints": {"ignore": ["grid_misses"]}})
    assert "lints.ignore" in str(e.value) and "grid_misses_boundary" in str(e.value)


def test_every_lint_is_documented_in_the_registry():
    assert set(lints.LINTS) == {
        "output_loss_mismatch",
        "unscaled_inputs",
        "sum_reduction",
        "saturated_init",
        "dead_relu",
        "grid_misses_boundary",
    }
    assert model.INIT_SCHEMES  # the init lints draw through lrdiag's own schemes


# --------------------------------------------------------------------------- the CLI


def invoke(*args):
    from click.testing import CliRunner

    from lrdiag.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def test_check_exits_1_with_a_lint_and_0_without():
    bad = invoke("check", ROOT / "configs" / "keras_question.yaml")
    assert bad.exit_code == 1, bad.output
    assert "output_loss_mismatch" in bad.stdout and "unscaled_inputs" in bad.stdout
    good = invoke("check", ROOT / "configs" / "keras_fixed.yaml")
    assert good.exit_code == 0, good.output
    assert "no lint" in good.stdout


def test_check_json():
    import json

    result = invoke("check", ROOT / "configs" / "keras_question.yaml", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [w["id"] for w in doc["warnings"]] == ["output_loss_mismatch", "unscaled_inputs"]
    assert all(w["message"] and w["why"] and w["fix"] for w in doc["warnings"])
    assert (
        json.loads(invoke("check", ROOT / "configs" / "keras_fixed.yaml", "--json").stdout)[
            "warnings"
        ]
        == []
    )


def test_a_sweep_reports_its_warnings(tmp_path):
    import json

    config = tmp_path / "sum.yaml"
    config.write_text(
        "data: {kind: moons, n_samples: 64}\n"
        "model: {hidden: [8], activation: tanh}\n"
        "init: {scheme: xavier}\n"
        "training: {batch_size: 16, epochs: 3, loss_reduction: sum}\n"
        "sweep: {learning_rates: [0.001, 0.01]}\n"
    )
    result = invoke("sweep", config, "--out", tmp_path / "out", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "warnings:" in result.stdout and "sum_reduction" in result.stdout
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    before = [w["id"] for w in doc["warnings"]]
    assert before[0] == "sum_reduction"
    assert "0.016, 0.16" in doc["warnings"][0]["message"]
    assert "`sum_reduction`" in (tmp_path / "out" / "report.md").read_text()

    # the same sweep with the lint ignored by its config: nothing printed, nothing written
    config.write_text(config.read_text() + "lints: {ignore: [sum_reduction]}\n")
    result = invoke("sweep", config, "--out", tmp_path / "quiet", "--no-plots")
    assert result.exit_code == 0, result.output
    assert "sum_reduction" not in result.stdout
    doc = json.loads((tmp_path / "quiet" / "results.json").read_text())
    assert [w["id"] for w in doc["warnings"]] == before[1:]


# --------------------------------------------------------------------------- after training


def test_dead_units_match_a_plain_loop():
    from types import SimpleNamespace

    from lrdiag.sweep import dead_units

    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4))
    spec = SimpleNamespace(hidden=(6, 5), activation="relu", output="sigmoid", loss="bce")
    params = {
        "W1": rng.normal(size=(3, 4, 6)),
        "b1": rng.normal(size=(3, 1, 6)) - 1.0,  # some units below zero everywhere
        "W2": rng.normal(size=(3, 6, 5)),
        "b2": rng.normal(size=(3, 1, 5)) - 1.0,
        "W3": rng.normal(size=(3, 5, 1)),
        "b3": np.zeros((3, 1, 1)),
    }
    got = dead_units(params, X, spec)
    for r in range(3):
        a = X
        for layer in (1, 2):
            z = a @ params[f"W{layer}"][r] + params[f"b{layer}"][r]
            never = [all(z[i, u] <= 0 for i in range(len(X))) for u in range(z.shape[1])]
            assert got[r, layer - 1] == pytest.approx(sum(never) / len(never))
            a = np.maximum(z, 0)


def test_dead_relu_after_training_names_the_runs():
    from lrdiag.sweep import Run

    runs = [Run(i, lr, 1.0, 0) for i, lr in enumerate((0.1, 1.0, 10.0))]
    dead = np.array([[0.0, 0.1], [0.6, 0.2], [np.nan, np.nan]])  # the last one diverged
    (lint,) = lints.check_trained(config_from_dict({}), runs, dead)
    assert lint.id == "dead_relu"
    assert "in 1 of 3 runs: lr 1 (scale 1, seed 0): layer 1 60%, layer 2 20%" in lint.message
    assert lints.check_trained(config_from_dict({}), runs, np.zeros((3, 2))) == []
    assert lints.check_trained(config_from_dict({}), runs, None) == []


def test_a_sweep_whose_large_steps_kill_relu_units_warns(tmp_path):
    import json

    # configs/onehot_patterns.yaml: a large early step kills the ReLU units
    out = tmp_path / "out"
    config = ROOT / "configs" / "onehot_patterns.yaml"
    result = invoke("sweep", config, "--out", out, "--no-plots", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    (lint,) = [w for w in doc["warnings"] if w["id"] == "dead_relu"]
    assert lint["message"].startswith("after training, ReLU units that never fire")
