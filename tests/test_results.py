"""results.py: how the sharpness explains a verdict, checked on runs whose curves and sharpness
tracks are made here (so what the reason must say follows from the definitions: the edge of
stability is the sharpness reaching 2(1 + beta)/lr *during* training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from curves import full_batch_chaos

from lrdiag import results
from lrdiag.config import config_from_dict
from lrdiag.sweep import TrainResult, expand_grid

E = 60
TRACK_EPOCHS = [0, 20, 40, 60]


def _judge(lr, sharpness_track, *, curve=None, optimizer="sgd"):
    """One run at ``lr`` with the given tracked sharpness (epochs 0, 20, 40, 60)."""
    cfg = config_from_dict(
        {
            "data": {"kind": "linear", "n_samples": 20},
            "model": {"hidden": [], "output": "identity", "loss": "mse"},
            "training": {"epochs": E, "optimizer": optimizer},
            "sweep": {"learning_rates": [lr]},
        }
    )
    runs = expand_grid(cfg)
    if curve is None:  # a smooth fall, with a bounce on the way (non-monotonic)
        curve = np.exp(-np.arange(E + 1) / 10.0)
        curve[30] = curve[29] * 1.2
    track = np.array([sharpness_track], dtype=float)
    result = TrainResult(
        loss=np.array([curve], dtype=float),
        val_loss=None,
        diverged_epoch=np.array([-1]),
        epochs_done=np.array([E]),
        seconds=0.0,
        sharpness_init=track[:, 0],
        sharpness_epochs=list(TRACK_EPOCHS),
        sharpness=track,
    )
    (row,) = results.judge(cfg, runs, result, None)
    return row


def _one_sentence(reason: str) -> None:
    assert "\n" not in reason and ". " not in reason, reason
    assert reason.count("converg") == 1, reason


def test_sharpness_that_started_above_2_over_lr_and_fell_is_not_the_edge_of_stability():
    """lr 0.1: 2/lr = 20. The sharpness starts at 25 and falls to 8, 7, 6: it never rose to 2/lr
    during training, so no edge of stability (the init value does not count)."""
    row = _judge(0.1, [25.0, 8.0, 7.0, 6.0])
    assert row["verdict"] == "converging", row["reason"]
    assert "edge_of_stability" not in row["flags"], row["reason"]
    assert "edge of stability" not in row["reason"] and "rose" not in row["reason"]
    assert "lr·λmax = 2.5 at init" in row["reason"]  # 0.1 x 25, above the limit 2
    _one_sentence(row["reason"])


def test_sharpness_that_rose_past_2_over_lr_is_the_edge_of_stability():
    row = _judge(0.1, [15.0, 18.0, 21.0, 19.5])
    assert row["verdict"] == "converging" and "edge_of_stability" in row["flags"]
    reason = row["reason"]
    assert reason.startswith("converging at the edge of stability: ")
    assert "rose from 15 at init to 21, above 2/lr = 20" in reason
    assert "non-monotonically" in reason  # the curve rises at epoch 30
    _one_sentence(reason)


def test_sharpness_that_fell_then_rose_back_to_the_edge_says_so():
    """Starts at 25 (above 2/lr = 20), falls to 6, climbs back to 19: close to the edge (19 is
    over 90% of 20), reached by rising during training."""
    row = _judge(0.1, [25.0, 6.0, 14.0, 19.0])
    assert "edge_of_stability" in row["flags"]
    assert "fell from 25 at init to 6, then rose to 19, close to 2/lr = 20" in row["reason"]
    _one_sentence(row["reason"])


def test_monotone_fall_at_the_edge_is_not_called_non_monotonic():
    row = _judge(0.1, [15.0, 18.0, 21.0, 19.5], curve=np.exp(-np.arange(E + 1) / 10.0))
    assert "edge_of_stability" in row["flags"]
    assert "non-monotonically" not in row["reason"]
    _one_sentence(row["reason"])


def test_a_noisy_run_at_the_edge_of_stability_is_not_flagged_noisy():
    """The noisy flag is not set on a run flagged edge_of_stability (its definition: there the
    bouncing is the story). A decay with noise of 10% of its range, at the edge by sharpness."""
    curve = np.exp(-np.arange(E + 1) / 10.0)
    curve = curve + 0.1 * np.random.default_rng(0).standard_normal(E + 1)
    row = _judge(0.1, [15.0, 18.0, 21.0, 19.5], curve=curve)
    assert row["verdict"] == "converging", row["reason"]
    assert "edge_of_stability" in row["flags"] and "noisy" not in row["flags"], row["flags"]
    assert "noise of" not in row["reason"]
    assert row["flags"] == [f for f in results.FLAGS if f in row["flags"]]  # in FLAGS order
    _one_sentence(row["reason"])


def test_momentum_edge_is_named_with_beta():
    """Heavy ball, beta 0.9: the edge is 2(1 + 0.9)/lr = 38 at lr 0.1."""
    row = _judge(0.1, [30.0, 35.0, 37.0, 36.0], optimizer="momentum")
    assert "edge_of_stability" in row["flags"]
    assert "2(1 + 0.9)/lr = 38" in row["reason"]


@pytest.mark.parametrize(
    ("track", "says"),
    [
        ([5.0, 6.0, 7.0, 8.0], "and the tracked sharpness stayed below 2/lr = 20"),
        ([5.0, 12.0, 25.0, 30.0], "but the sharpness grew to 30, past 2/lr = 20"),
    ],
)
def test_diverging_below_the_predicted_limit_says_what_the_tracking_saw(track, says):
    """lr·λmax = 0.5 at init, stable by the prediction, yet the loss grows geometrically."""
    row = _judge(0.1, track, curve=np.exp(np.arange(E + 1) / 5.0))
    assert row["verdict"] == "diverging", row["reason"]
    assert "not predicted at init, where lr·λmax = 0.5 (stable below 2)" in row["reason"]
    assert says in row["reason"]
    assert "\n" not in row["reason"] and ". " not in row["reason"]


@pytest.mark.parametrize("batch_size, verdict", [(None, "oscillating"), (8, "converging")])
def test_a_full_batch_run_that_swings_irregularly_is_oscillating(batch_size, verdict):
    """A fall, then swings of about ±35% of the level with no structure (no alternation, no
    period): the dynamics of full-batch gradient descent, which draws no samples, but noise
    about a level in a mini-batch run."""
    epochs = 400
    curve = full_batch_chaos(epochs - 39)
    cfg = config_from_dict(
        {
            "data": {"kind": "moons", "n_samples": 64},
            "model": {"hidden": [4]},
            "training": {"epochs": epochs, "batch_size": batch_size},
            "sweep": {"learning_rates": [1.0]},
        }
    )
    result = TrainResult(
        loss=np.array([curve]),
        val_loss=np.array([curve]),
        diverged_epoch=np.array([-1]),
        epochs_done=np.array([epochs]),
        seconds=0.0,
    )
    (row,) = results.judge(cfg, expand_grid(cfg), result, None)
    assert row["verdict"] == verdict and row["val"]["verdict"] == verdict, row["reason"]
    if verdict == "oscillating":
        assert "full-batch gradient descent draws no samples" in row["reason"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_curve_in_the_document_is_each_value_as_a_json_number_or_null(dtype):
    """The curve of results.json, against a plain loop over its values: the float of each
    finite value (float32 ones widened exactly), null for NaN and both infinities."""
    curve = np.array([0.7, np.nan, 1e-30, np.inf, 3.0, -np.inf, 0.1], dtype=dtype)
    expected = [None if not math.isfinite(float(v)) else float(v) for v in curve]
    got = results._finite_or_none(curve)
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]
    assert results._finite_or_none(curve[[0, 2, 4]]) == [expected[0], expected[2], expected[4]]
