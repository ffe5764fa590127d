"""Sharpness in the sweep, checked against theory computed here from the data.

Linear regression with mse is a quadratic: its Hessian is exactly (2/n) X~^T X~ (X~ = X with a
column of ones for the bias), and gradient descent on it is stable exactly when
lr < 2 / lambda_max.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lrdiag import results, sweep
from lrdiag.cli import cli
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset


def _linreg(lrs, **stability):
    cfg = config_from_dict(
        {
            "data": {"kind": "linear", "n_samples": 120, "n_features": 4, "noise": 0.3},
            "model": {"hidden": [], "output": "identity", "loss": "mse"},
            "init": {"scheme": "normal", "scales": [0.5, 2.0]},
            "training": {"epochs": 150, "seeds": [0, 1], "dtype": "float64"},
            "sweep": {"learning_rates": list(lrs)},
            "stability": stability,
        }
    )
    return cfg, load_dataset(cfg.data, cfg.model)


def _exact_lambda_max(dataset) -> float:
    X = np.column_stack([dataset.X, np.ones(len(dataset.X))])
    return float(np.linalg.eigvalsh(2.0 / len(X) * X.T @ X).max())


def _doc(cfg, dataset):
    runs = sweep.expand_grid(cfg)
    return results.document(cfg, runs, sweep.train(cfg, dataset, runs), dataset.n_classes)


def test_sharpness_at_init_is_the_exact_hessian_eigenvalue_for_every_run():
    cfg, dataset = _linreg([0.01, 0.1])
    lam = _exact_lambda_max(dataset)
    doc = _doc(cfg, dataset)
    for run in doc["runs"]:
        assert run["metrics"]["sharpness_init"] == pytest.approx(lam, rel=1e-4)
        assert run["metrics"]["critical_lr"] == pytest.approx(2.0 / lam, rel=1e-4)


def test_verdicts_flip_between_0_9_and_1_1_of_the_predicted_critical_lr():
    _, dataset = _linreg([1.0])
    crit = 2.0 / _exact_lambda_max(dataset)
    factors = [0.5, 0.9, 1.1, 2.0]
    cfg, dataset = _linreg([f * crit for f in factors])
    doc = _doc(cfg, dataset)
    for run in doc["runs"]:
        factor = run["learning_rate"] / crit
        expected = "converging" if factor < 1 else "diverging"
        assert run["verdict"] == expected, (factor, run["reason"])
        if expected == "diverging":
            assert "as predicted: lr·λmax" in run["reason"]
    for s in doc["summary"]["stability"]["per_scale"]:
        assert s["predicted_critical_lr"] == pytest.approx(crit, rel=1e-4)
        lo, hi = s["observed_bracket"]
        assert lo < s["predicted_critical_lr"] < hi
        assert lo == pytest.approx(0.9 * crit) and hi == pytest.approx(1.1 * crit)


def test_momentum_limit_is_2_1_plus_beta_over_lambda():
    cfg, dataset = _linreg([0.01])
    cfg = config_from_dict(
        {**_as_dict(cfg), "training": {**_as_dict(cfg)["training"], "optimizer": "momentum"}}
    )
    lam = _exact_lambda_max(dataset)
    beta = cfg.training.momentum
    doc = _doc(cfg, dataset)
    assert doc["runs"][0]["metrics"]["critical_lr"] == pytest.approx(2 * (1 + beta) / lam, 1e-4)


def _as_dict(cfg):
    from lrdiag.config import config_to_dict

    return config_to_dict(cfg)


def test_auto_skips_mini_batch_runs_and_on_computes_them():
    base = {
        "data": {"kind": "moons", "n_samples": 64},
        "model": {"hidden": [8]},
        "training": {"epochs": 3, "batch_size": 16},
        "sweep": {"learning_rates": [0.1]},
    }
    for mode, expected in (("auto", False), ("on", True), ("off", False)):
        cfg = config_from_dict({**base, "stability": {"sharpness": mode}})
        doc = _doc(cfg, load_dataset(cfg.data, cfg.model))
        assert ("sharpness_init" in doc["runs"][0]["metrics"]) is expected, mode
        assert ("stability" in doc["summary"]) is expected, mode


def test_tracking_records_sharpness_every_n_epochs_and_draws_it(tmp_path):
    config = tmp_path / "eos.yaml"
    config.write_text(
        "data: {kind: moons, n_samples: 60}\n"
        "model: {hidden: [8], output: identity, loss: mse}\n"
        "training: {epochs: 12}\n"
        "sweep: {learning_rates: [0.05, 5.0]}\n"
        "stability: {track_every: 4}\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["sweep", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    for run in doc["runs"]:
        assert run["sharpness"]["epochs"] == [0, 4, 8, 12]
        assert run["sharpness"]["values"][0] == pytest.approx(run["metrics"]["sharpness_init"])
    # a diverged run's sharpness after its divergence is null
    blown = [r for r in doc["runs"] if r["metrics"]["diverged_epoch"] is not None]
    assert blown, "lr 5 should blow up this net"
    for run in blown:
        d = run["metrics"]["diverged_epoch"]
        for epoch, value in zip(
            run["sharpness"]["epochs"], run["sharpness"]["values"], strict=True
        ):
            if epoch >= d:
                assert value is None
    assert (out / "sharpness.png").stat().st_size > 0
