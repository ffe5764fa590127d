"""Stability theory per optimizer (issue 15): Nesterov's limit checked by iterating PyTorch's
Nesterov step on a quadratic; the preconditioned sharpness lambda_max(P^-1 H) against an
explicit eigen-decomposition; Adam's preconditioner from its state; and the sweep's rows, which
compare the measured preconditioned sharpness with Adam's threshold 38/lr (a measurement, not
a prediction)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_engine import make_cfg, make_dataset, train_strict

from lrdiag import optim, stability
from lrdiag.config import ModelConfig, TrainingConfig


def nesterov_grows(h: float, beta: float, steps: int = 4000) -> bool:
    """torch.optim.SGD(nesterov=True) on f(p) = p^2 / 2 (lam = 1, lr = h): b = beta b + g,
    p -= lr (g + beta b). True when |p| blows up."""
    p, b = 1.0, 0.0
    for _ in range(steps):
        g = p
        b = beta * b + g
        p -= h * (g + beta * b)
        if abs(p) > 1e6:
            return True
    return False


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99])
def test_nesterov_limit_is_where_the_iteration_turns_unstable(beta):
    limit = stability.stable_limit("nesterov", beta)
    assert limit == pytest.approx(2 * (1 + beta) / (1 + 2 * beta))
    assert not nesterov_grows(limit * 0.99, beta)
    assert nesterov_grows(limit * 1.01, beta)


def test_adaptive_thresholds():
    t = TrainingConfig(optimizer="adam")
    assert stability.adaptive_limit(t) == pytest.approx(38.0)  # (2 + 2 0.9) / (1 - 0.9)
    t = TrainingConfig(optimizer="adamw", betas=(0.5, 0.999))
    assert stability.adaptive_limit(t) == pytest.approx(6.0)
    assert stability.adaptive_limit(TrainingConfig(optimizer="rmsprop", momentum=0.5)) == 3.0
    assert stability.adaptive_limit(TrainingConfig(optimizer="nesterov")) is None


def test_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h():
    """A linear model with mse: H is the same at every point; build it column by column from
    exact Hessian-vector products, then eig(P^-1 H) with numpy."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)) * np.array([1.0, 3.0, 0.3])
    Y = rng.normal(size=(30, 2))
    spec = ModelConfig(hidden=(), activation="identity", output="identity", loss="mse")
    params = {"W1": rng.normal(size=(2, 3, 2)), "b1": rng.normal(size=(2, 1, 2))}
    pre = {k: rng.uniform(0.1, 5.0, size=v.shape) for k, v in params.items()}
    est = stability.top_eigenpair(params, X, Y, spec, precondition=pre, tol=1e-12, iters=50)
    keys = ["W1", "b1"]
    for r in range(2):
        n = sum(params[k][r].size for k in keys)
        H = np.zeros((n, n))
        for j in range(n):
            e = np.zeros(n)
            e[j] = 1.0
            vec, at = {}, 0
            for k in keys:
                size = params[k][r].size
                vec[k] = np.zeros_like(params[k])
                vec[k][r] = e[at : at + size].reshape(params[k][r].shape)
                at += size
            Hv = stability.hvp(params, X, Y, spec, vec)
            H[:, j] = np.concatenate([Hv[k][r].ravel() for k in keys])
        P = np.concatenate([pre[k][r].ravel() for k in keys])
        want = np.max(np.linalg.eigvals(H / P[:, None]).real)
        assert est.values[r] == pytest.approx(want, rel=1e-8)
        assert est.values[r] > np.max(np.linalg.eigvalsh(H)) / P.max()  # not H's own


def test_adam_preconditioner_after_one_step_is_one_minus_beta1_times_abs_g():
    """After step 1, v_hat = g^2, so P = (1 - beta1) (|g| + eps)."""
    t = TrainingConfig(optimizer="adam")
    opt = optim.make_optimizer(t)
    params = {"W1": np.ones((2, 3, 1))}
    g = np.array([0.5, -2.0, 1e-3]).reshape(1, 3, 1).repeat(2, axis=0)
    state = opt.init(params)
    assert optim.preconditioner(state, t) is None  # no step yet
    state = opt.apply(params, {"W1": g.copy()}, state, np.array([0.1, 0.2]))
    P = optim.preconditioner(state, t)["W1"]
    np.testing.assert_allclose(P, (1 - 0.9) * (np.abs(g) + 1e-8), rtol=1e-12)


def test_an_adam_sweep_measures_the_preconditioned_sharpness():
    from lrdiag import results

    cfg = make_cfg(optimizer="adam", lrs=[1e-3, 0.1], epochs=6, scales=[1.0], seeds=[0])
    stab = dataclasses.replace(cfg.stability, sharpness="on", track_every=2)
    cfg = dataclasses.replace(cfg, stability=stab)
    ds = make_dataset(cfg.model.output, cfg.model.loss, val=False)
    runs, result = train_strict(cfg, ds)
    assert np.isnan(result.sharpness[:, 0]).all()  # epoch 0: Adam's moments are still zero
    assert np.isfinite(result.sharpness[:, 1:]).all()
    doc = results.document(cfg, runs, result, ds.n_classes)
    for row in doc["runs"]:
        assert row["sharpness"]["kind"] == "preconditioned"
        assert row["sharpness"]["limit"] == pytest.approx(38.0)
        assert "critical_lr" not in row["metrics"]  # no prediction at init for Adam
        assert "measured: the preconditioned sharpness" in row["reason"]
        edge = row["metrics"]["adaptive_threshold"]
        assert edge == pytest.approx(38.0 / row["learning_rate"])
