"""Issue 15 in the sweep: every optimizer trains every run of a chunk at once exactly as each
run trained alone (no run's state, learning rate or hyper-parameter leaks into another's)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_engine import make_cfg, make_dataset, train_strict

from lrdiag import sweep

OPTIMIZERS = ["nesterov", "rmsprop", "adam", "adamw"]
# wide enough that some runs diverge (and leave the chunk) while others go on: an adaptive
# step is about lr whatever the gradient, so only a huge lr overflows within a few epochs
LRS = {"nesterov": [0.01, 0.3, 30.0], "rmsprop": [1e-3, 0.03, 1e60], "adam": [1e-3, 0.03, 1e60],
       "adamw": [1e-3, 0.03, 1e60]}  # fmt: skip


@pytest.mark.parametrize("batch_size", [None, 8])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_vectorised_equals_each_run_alone(optimizer, batch_size):
    cfg = make_cfg(
        optimizer=optimizer, batch_size=batch_size, lrs=LRS[optimizer], epochs=12,
        activation="leaky_relu", output="identity", loss="mse",
    )  # fmt: skip
    training = dataclasses.replace(cfg.training, weight_decay=0.01)
    cfg = dataclasses.replace(cfg, training=training)
    ds = make_dataset(cfg.model.output, cfg.model.loss, val=True)
    runs, together = train_strict(cfg, ds)
    for i, run in enumerate(runs):
        _, alone = train_strict(cfg, ds, [dataclasses.replace(run, id=0)])
        np.testing.assert_allclose(together.loss[i], alone.loss[0], rtol=1e-12, atol=0)
        np.testing.assert_allclose(together.val_loss[i], alone.val_loss[0], rtol=1e-12, atol=0)
        assert together.diverged_epoch[i] == alone.diverged_epoch[0]
    assert np.isfinite(together.loss[:, -1]).any()
    assert (together.diverged_epoch >= 0).any()  # runs left the chunk mid-way


def test_adaptive_runs_get_no_gradient_descent_prediction():
    """2/lr says nothing about Adam: auto sharpness stays off, and so does the prediction."""
    cfg = make_cfg(optimizer="adam", lrs=[1e-3], epochs=3)
    ds = make_dataset(cfg.model.output, cfg.model.loss, val=False)
    _, result = train_strict(cfg, ds)
    assert result.sharpness_init is None
    assert (
        sweep.plan(cfg, 42, 0, 3, 1, 4).bytes_per_run
        > sweep.plan(make_cfg(), 42, 0, 3, 1, 4).bytes_per_run
    )  # Adam's two buffers are budgeted
