"""summary.loss_scale: losses that grow as a power of the learning rate, and the Keras question."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from curves import rebound_episodes

from lrdiag.summary import loss_scale

ROOT = Path(__file__).resolve().parent.parent


def rows(lrs, final, first=None, seeds=(0,)):
    out = []
    for lr, f, g in zip(lrs, final, first or final, strict=True):
        for seed in seeds:
            out.append({"init_scale": 1.0, "learning_rate": lr, "seed": seed, "loss": [5.0, g, f]})
    return out


def test_a_power_law_is_fitted():
    lrs = [0.01, 0.03, 0.1, 0.3]
    final = [7 * lr**1.2 for lr in lrs]  # an exact power: the exponent is 1.2
    (g,) = loss_scale(rows(lrs, final, [3 * lr**0.8 for lr in lrs]))
    assert g["final_exponent"] == pytest.approx(1.2)
    assert g["first_epoch_exponent"] == pytest.approx(0.8)
    assert g["rates"] == lrs


def test_falling_losses_two_rates_and_a_poor_fit_are_not_reported():
    assert loss_scale(rows([0.01, 0.1, 1], [0.5, 0.2, 0.1])) == []
    assert loss_scale(rows([0.01, 0.1], [1, 10])) == []
    noisy = [1.0, 50.0, 2.0, 60.0]  # up on average, but nothing like a power
    assert loss_scale(rows([0.01, 0.03, 0.1, 0.3], noisy)) == []


def test_diverged_runs_are_left_out_and_seeds_give_the_median():
    lrs = [0.01, 0.1, 1, 10]
    r = rows(lrs, [lr**1.0 for lr in lrs], seeds=(0, 1))
    r[-1]["loss"] = [5.0, None, None]  # one seed at lr 10 diverged: the other one counts
    (g,) = loss_scale(r)
    assert g["final_exponent"] == pytest.approx(1.0)


def test_the_keras_question_end_to_end(tmp_path):
    from click.testing import CliRunner

    from lrdiag.cli import cli

    out = tmp_path / "out"
    config = ROOT / "configs" / "keras_question.yaml"
    result = CliRunner().invoke(cli, ["sweep", str(config), "--out", str(out), "--no-plots"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    (g,) = doc["summary"]["loss_scale"]
    finals = [r["loss"][-1] for r in doc["runs"]]
    lrs = [r["learning_rate"] for r in doc["runs"]]
    slope = np.polyfit(np.log(lrs), np.log(finals), 1)[0]  # the fit, done here
    assert g["final_exponent"] == pytest.approx(slope) and 0.7 < slope < 1.4
    assert g["unscaled_inputs"] is True
    assert min(finals) > 2 * np.log(10)  # far above a uniform guess
    ids = [w["id"] for w in doc["warnings"]]
    assert "output_loss_mismatch" in ids and "unscaled_inputs" in ids
    assert "loss scale at init scale 1" in result.stdout
    assert "the inputs are unscaled" in (out / "report.md").read_text()
    # the validation loss jumps around: each run's rose back above 1.3x its low so far twice
    for r in doc["runs"]:
        assert rebound_episodes(r["val_loss"]) >= 2, r["val_loss"]
        assert "unstable" in r["val"]["flags"], r["val"]["reason"]


def test_the_keras_fix_converges_without_a_warning(tmp_path):
    from click.testing import CliRunner

    from lrdiag.cli import cli

    out = tmp_path / "out"
    config = ROOT / "configs" / "keras_fixed.yaml"
    result = CliRunner().invoke(cli, ["sweep", str(config), "--out", str(out), "--no-plots"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["warnings"] == [] and "warnings:" not in result.stdout
    assert [r["verdict"] for r in doc["runs"]] == ["converging"] * 3
    assert max(r["loss"][-1] for r in doc["runs"]) < np.log(10)  # below a uniform guess
