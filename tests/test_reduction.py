"""training.loss_reduction (mean | sum) and init.scheme as a list (one per weight matrix)."""

from __future__ import annotations

import numpy as np
import pytest

from lrdiag import model, sweep
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset
from lrdiag.errors import ConfigError


def cfg_for(reduction="mean", lr=0.01, batch="full", epochs=3, **extra):
    d = {
        "data": {"kind": "linear", "n_samples": 40, "n_features": 3, "noise": 0.1},
        "model": {"hidden": [], "output": "identity", "loss": "mse"},
        "init": {"scheme": "normal", "scales": [0.5]},
        "training": {
            "batch_size": batch,
            "epochs": epochs,
            "dtype": "float64",
            "loss_reduction": reduction,
        },
        "sweep": {"learning_rates": [lr]},
        "stability": {"sharpness": "off"},
    }
    for key, value in extra.items():
        d.setdefault(key, {}).update(value)
    return config_from_dict(d)


def train(cfg):
    ds = load_dataset(cfg.data, cfg.model)
    return ds, sweep.train(cfg, ds, sweep.expand_grid(cfg))


def test_sum_takes_the_summed_losss_step_computed_by_hand():
    cfg = cfg_for("sum", lr=0.001, epochs=1)
    ds, result = train(cfg)
    W = model.init_params([3, 1], "normal", [0.5], [0], np.float64)["W1"][0]  # (3, 1)
    X, Y = ds.X, ds.Y
    # sum over the samples of (x w + b - y)^2: gradient 2 X^T r, 2 sum(r); one step of lr
    r = X @ W - Y
    W1 = W - 0.001 * 2 * X.T @ r
    b1 = -0.001 * 2 * r.sum()
    expected = np.mean((X @ W1 + b1 - Y) ** 2)  # losses are recorded as means either way
    assert result.loss[0, 0] == pytest.approx(np.mean(r**2), rel=1e-12)
    assert result.loss[0, 1] == pytest.approx(expected, rel=1e-10)


def test_sum_is_mean_at_lr_times_the_batch_size():
    summed = train(cfg_for("sum", lr=0.002, batch=8))[1]  # 40 samples: five batches of 8
    mean = train(cfg_for("mean", lr=0.016, batch=8))[1]
    np.testing.assert_allclose(summed.loss, mean.loss, rtol=1e-9)


def test_sum_scales_the_sharpness_by_the_samples_summed():
    on = {"stability": {"sharpness": "on"}}
    summed = train(cfg_for("sum", **on))[1]
    mean = train(cfg_for("mean", **on))[1]
    assert summed.sharpness_init[0] == pytest.approx(40 * mean.sharpness_init[0], rel=1e-3)


def test_a_scheme_per_weight_matrix():
    params = model.init_params([4, 5, 3], ["uniform01", "normal"], [1.0], [7], np.float64)
    rng = np.random.default_rng(7)  # the draws in layer order, from the seed's generator
    np.testing.assert_array_equal(params["W1"][0], rng.random((4, 5)))
    np.testing.assert_array_equal(params["W2"][0], rng.standard_normal((5, 3)))


def test_init_scheme_list_in_the_config():
    cfg = config_from_dict(
        {"model": {"hidden": [8, 4]}, "init": {"scheme": ["uniform01", "normal", "normal"]}}
    )
    assert cfg.init.scheme == ("uniform01", "normal", "normal")
    with pytest.raises(ConfigError, match="lists 2 schemes.*3 weight matrices") as info:
        config_from_dict({"model": {"hidden": [8, 4]}, "init": {"scheme": ["he", "he"]}})
    assert info.value.key == "init.scheme"
    with pytest.raises(ConfigError, match="'hee' is not one of"):
        config_from_dict({"model": {"hidden": [8]}, "init": {"scheme": ["he", "hee"]}})


def test_loss_reduction_choices():
    assert config_from_dict({}).training.loss_reduction == "mean"
    with pytest.raises(ConfigError, match="mean, sum"):
        config_from_dict({"training": {"loss_reduction": "total"}})
