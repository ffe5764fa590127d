"""lrdiag.sweep.train against independent computations: every run of a batched sweep against
the same run trained alone by the plain per-network loop in tests/reference.py, chunked against
unchunked, divergence isolated, and gradient descent on linear regression against its closed
form (the critical learning rate 2 / lambda_max of the loss Hessian, computed here)."""

from __future__ import annotations

import dataclasses
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import reference as ref

from lrdiag import model, sweep
from lrdiag.classify import classify
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset

N_TRAIN, N_VAL, N_IN = 42, 13, 3  # 42 = 5 batches of 8 and a partial batch of 2
EPOCHS = 25
LRS = [0.01, 0.05, 0.2]
SCALES = [0.5, 1.0]
SEEDS = [0, 1]
REL = 1e-10  # batching and chunking change losses by rounding only (float64, stable runs)
K = {"bce": 1, "cross_entropy": 3, "mse": 2}


def make_cfg(
    *,
    activation="tanh",
    output="sigmoid",
    loss="bce",
    hidden=(8, 6),
    optimizer="sgd",
    batch_size=None,
    epochs=EPOCHS,
    lrs=LRS,
    scales=SCALES,
    seeds=SEEDS,
    scheme="xavier",
    dtype="float64",
    data=None,
):
    return config_from_dict(
        {
            "data": data or {"kind": "moons", "seed": 3},  # only data.seed matters here
            "model": {"hidden": list(hidden), "activation": activation, "output": output,
                      "loss": loss},
            "init": {"scheme": scheme, "scales": list(scales)},
            "training": {"optimizer": optimizer, "momentum": 0.9,
                         "batch_size": "full" if batch_size is None else batch_size,
                         "epochs": epochs, "seeds": list(seeds), "dtype": dtype},
            "sweep": {"learning_rates": list(lrs)},
        }
    )  # fmt: skip


def make_dataset(output, loss, *, val, seed=0):
    """Small data drawn here (not by lrdiag.data), targets shaped for the loss."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_VAL
    X = rng.normal(size=(n, N_IN))
    k = K[loss]
    scores = X @ rng.normal(size=(N_IN, k)) + 0.3 * rng.normal(size=(n, k))
    if loss == "bce":
        Y = (scores > 0).astype(np.float64)
    elif loss == "cross_entropy":
        Y = np.eye(k)[np.argmax(scores, axis=1)]
    elif output == "sigmoid":
        Y = 1 / (1 + np.exp(-scores))
    else:
        Y = np.tanh(scores)
    tr = slice(0, N_TRAIN)
    va = slice(N_TRAIN, n)
    return SimpleNamespace(
        X=X[tr],
        Y=Y[tr],
        X_val=X[va] if val else None,
        Y_val=Y[va] if val else None,
        n_classes=k if loss != "mse" else None,
    )


def reference_run(cfg, ds, run):
    """The run trained alone by the plain loop; its initial weights are init_params' draws for
    its (scale, seed) (test_model checks that a run's draws do not depend on the batch)."""
    sizes = model.layer_sizes(ds.X.shape[1], cfg.model.hidden, ds.Y.shape[1])
    p = model.init_params(
        sizes, cfg.init.scheme, [run.init_scale], [run.seed], np.float64
    )  # (1, ...) arrays
    params = [(p[f"W{i}"][0], p[f"b{i}"][0, 0]) for i in range(1, len(sizes))]
    batches = None
    bs = cfg.training.batch_size
    if bs is not None:
        orders = sweep.epoch_orders(len(ds.X), cfg.training.epochs, cfg.data.seed)
        batches = [[o[s : s + bs] for s in range(0, len(o), bs)] for o in orders]
    return ref.train_one(
        params,
        ds.X,
        ds.Y,
        cfg.model,
        run.learning_rate,
        epochs=cfg.training.epochs,
        optimizer=cfg.training.optimizer,
        beta=cfg.training.momentum,
        batches=batches,
        X_val=ds.X_val,
        Y_val=ds.Y_val,
    )


def train_strict(cfg, ds, runs=None, **kw):
    """Train with every warning an error: no RuntimeWarning may reach the user."""
    runs = sweep.expand_grid(cfg) if runs is None else runs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return runs, sweep.train(cfg, ds, runs, **kw)


# (batch_size, optimizer, validation split, activation, output, loss): every combination of
# full batch / mini-batch x sgd / momentum x with / without validation, each with another
# activation and head.
CASES = [
    (None, "sgd", False, "tanh", "sigmoid", "bce"),
    (None, "sgd", True, "leaky_relu", "identity", "mse"),
    (None, "momentum", False, "sigmoid", "sigmoid", "mse"),
    (None, "momentum", True, "relu", "softmax", "cross_entropy"),
    (8, "sgd", False, "relu", "sigmoid", "bce"),
    (8, "sgd", True, "sigmoid", "identity", "mse"),
    (8, "momentum", False, "leaky_relu", "sigmoid", "mse"),
    (8, "momentum", True, "tanh", "softmax", "cross_entropy"),
    # batches of 3 rows of 3 features: X too wide to fold the bias in, so the first layer of
    # all runs is one product over W1 stored transposed (model.training_layout)
    (3, "sgd", True, "relu", "softmax", "cross_entropy"),
    (3, "sgd", False, "tanh", "sigmoid", "bce"),
]


def test_expand_grid_order():
    cfg = make_cfg()
    runs = sweep.expand_grid(cfg)
    expected = [(s, seed, lr) for s in SCALES for seed in SEEDS for lr in LRS]  # lr fastest
    assert [(r.init_scale, r.seed, r.learning_rate) for r in runs] == expected
    assert [r.id for r in runs] == list(range(len(expected)))


def test_epoch_orders_are_permutations_drawn_from_the_data_seed():
    a = list(sweep.epoch_orders(N_TRAIN, 4, 3))
    b = list(sweep.epoch_orders(N_TRAIN, 4, 3))
    c = list(sweep.epoch_orders(N_TRAIN, 4, 4))
    assert len(a) == 4
    for o in a:
        np.testing.assert_array_equal(np.sort(o), np.arange(N_TRAIN))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1]), "a new order every epoch"
    assert not np.array_equal(a[0], c[0]), "the order follows the data seed"


@pytest.mark.parametrize("batch_size,optimizer,val,activation,output,loss", CASES)
def test_vectorised_equals_looped(batch_size, optimizer, val, activation, output, loss):
    cfg = make_cfg(
        activation=activation,
        output=output,
        loss=loss,
        optimizer=optimizer,
        batch_size=batch_size,
    )
    ds = make_dataset(output, loss, val=val)
    runs, res = train_strict(cfg, ds)
    R = len(runs)
    assert res.loss.shape == (R, EPOCHS + 1) and res.loss.dtype == np.float64
    assert res.diverged_epoch.shape == (R,)
    assert (res.val_loss is not None) == val
    for i, run in enumerate(runs):
        hist, val_hist, diverged = reference_run(cfg, ds, run)
        assert diverged == -1 and res.diverged_epoch[i] == -1, f"run {run} is meant to be stable"
        np.testing.assert_allclose(res.loss[i], hist, rtol=REL, atol=0, err_msg=f"{run}")
        if val:
            assert res.val_loss.shape == (R, EPOCHS + 1)
            np.testing.assert_allclose(res.val_loss[i], val_hist, rtol=REL, atol=0)
    # the sweep must have learned something, or the comparison above is weak
    assert np.all(res.loss[:, -1] < res.loss[:, 0])


@pytest.mark.parametrize("batch_size,optimizer", [(None, "momentum"), (8, "sgd")])
def test_chunked_equals_unchunked(batch_size, optimizer):
    cfg = make_cfg(batch_size=batch_size, optimizer=optimizer, lrs=[0.01, 0.05, 0.2, 1e3],
                   activation="identity", output="identity", loss="mse")  # fmt: skip
    ds = make_dataset("identity", "mse", val=True)
    runs, whole = train_strict(cfg, ds)
    R = len(runs)
    whole_plan = sweep.plan(cfg, N_TRAIN, N_VAL, N_IN, 2, R)
    assert whole_plan.n_chunks == 1
    some = whole_plan.peak_bytes  # a budget that splits the runs into a few chunks
    while sweep.plan(cfg, N_TRAIN, N_VAL, N_IN, 2, R, some).n_chunks < 2:
        some = int(some * 0.8)
    assert 2 <= sweep.plan(cfg, N_TRAIN, N_VAL, N_IN, 2, R, some).n_chunks < R
    for max_memory in (1, some):
        _, chunked = train_strict(cfg, ds, runs, max_memory=max_memory)
        np.testing.assert_array_equal(chunked.diverged_epoch, whole.diverged_epoch)
        np.testing.assert_allclose(chunked.loss, whole.loss, rtol=REL, atol=0)
        np.testing.assert_allclose(chunked.val_loss, whole.val_loss, rtol=REL, atol=0)
    assert np.any(whole.diverged_epoch >= 0), "the 1e3 runs should diverge"


@pytest.mark.parametrize("batch_size", [None, 8])
def test_training_is_deterministic(batch_size):
    cfg = make_cfg(batch_size=batch_size, optimizer="momentum", lrs=[0.05, 1e3],
                   output="identity", loss="mse")  # fmt: skip
    ds = make_dataset("identity", "mse", val=True)
    runs, a = train_strict(cfg, ds)
    _, b = train_strict(cfg, ds, runs)
    assert a.loss.tobytes() == b.loss.tobytes()
    assert a.val_loss.tobytes() == b.val_loss.tobytes()
    np.testing.assert_array_equal(a.diverged_epoch, b.diverged_epoch)


@pytest.mark.parametrize("batch_size,optimizer", [(None, "sgd"), (8, "momentum"), (3, "sgd")])
def test_a_diverging_run_is_frozen_and_isolated(batch_size, optimizer):
    """A deep linear net (identity activations) with lr 1e3 overflows within a few epochs. Its
    losses are NaN from its diverged epoch on (finite before, and equal to the reference's),
    the epoch is the one the reference finds, and the other runs are what they are without it."""
    common = dict(batch_size=batch_size, optimizer=optimizer, output="identity", loss="mse",
                  activation="identity")  # fmt: skip
    ds = make_dataset("identity", "mse", val=False)
    cfg = make_cfg(lrs=[0.01, 0.05, 1e3], **common)
    runs, res = train_strict(cfg, ds)
    cfg_calm = make_cfg(lrs=[0.01, 0.05], **common)
    calm_runs, calm = train_strict(cfg_calm, ds)
    calm_row = {(r.init_scale, r.seed, r.learning_rate): i for i, r in enumerate(calm_runs)}
    E = cfg.training.epochs
    n_diverged = 0
    for i, run in enumerate(runs):
        d = res.diverged_epoch[i]
        if run.learning_rate < 1:
            assert d == -1
            j = calm_row[(run.init_scale, run.seed, run.learning_rate)]
            np.testing.assert_allclose(res.loss[i], calm.loss[j], rtol=REL, atol=0)
            continue
        n_diverged += 1
        hist, _, ref_d = reference_run(cfg, ds, run)
        assert 0 < d < E, f"{run} should diverge within {E} epochs (diverged_epoch {d})"
        assert d == ref_d, f"{run}: diverged_epoch {d}, the plain loop says {ref_d}"
        assert np.all(np.isnan(res.loss[i, d:]))
        assert np.all(np.isfinite(res.loss[i, :d]))
        # before the blow-up the curve is the reference's (it is growing, not chaotic)
        np.testing.assert_allclose(res.loss[i, :d], hist[:d], rtol=1e-8, atol=0)
    assert n_diverged == len(SCALES) * len(SEEDS)


@pytest.mark.parametrize("batch_size,activation", [(None, "identity"), (8, "tanh")])
def test_validation_curve_shares_the_diverged_epoch(batch_size, activation):
    """diverged_epoch is the first non-finite epoch of the run, validation curve included:
    val_loss is finite before it and NaN from it on (no +inf left before the NaNs), and the
    epoch is the plain loop's, where a non-finite validation loss also freezes the run."""
    cfg = make_cfg(lrs=[0.05, 1e3], batch_size=batch_size, optimizer="momentum",
                   activation=activation, output="identity", loss="mse")  # fmt: skip
    ds = make_dataset("identity", "mse", val=True)
    runs, res = train_strict(cfg, ds)
    for i, run in enumerate(runs):
        d = res.diverged_epoch[i]
        if run.learning_rate < 1:
            assert d == -1 and np.all(np.isfinite(res.val_loss[i]))
            continue
        _, _, ref_d = reference_run(cfg, ds, run)
        assert d >= 0
        assert np.all(np.isfinite(res.val_loss[i, :d])), f"{run}: val_loss {res.val_loss[i]}"
        assert np.all(np.isnan(res.val_loss[i, d:]))
        assert d == ref_d, f"{run}: diverged_epoch {d}, the plain loop says {ref_d}"


def test_float32_training_tracks_float64():
    cfg64 = make_cfg(dtype="float64")
    cfg32 = make_cfg(dtype="float32")
    ds = make_dataset("sigmoid", "bce", val=True)
    _, r64 = train_strict(cfg64, ds)
    _, r32 = train_strict(cfg32, ds)
    assert r32.loss.dtype == np.float64  # histories are float64 whatever the training dtype
    np.testing.assert_allclose(r32.loss, r64.loss, rtol=1e-4)
    np.testing.assert_allclose(r32.val_loss, r64.val_loss, rtol=1e-4)


# --- linear regression: gradient descent on a quadratic, in closed form ----------------------


def linear_problem():
    data = {"kind": "linear", "n_samples": 64, "n_features": 3, "noise": 0.1, "seed": 0}
    probe = make_cfg(hidden=(), output="identity", loss="mse", data=data, scales=[1.0],
                     seeds=[0], lrs=[0.1], scheme="normal")  # fmt: skip
    ds = load_dataset(probe.data, probe.model)
    assert ds.X_val is None and ds.Y.shape == (64, 1)
    Xt = np.hstack([ds.X, np.ones((len(ds.X), 1))])  # the bias is the last weight
    H = 2.0 / len(Xt) * Xt.T @ Xt  # Hessian of mean((Xt w - y)^2)
    lam, V = np.linalg.eigh(H)
    return data, ds, Xt, H, lam, V


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_linear_regression_critical_learning_rate(factor):
    """lr = factor x 2 / lambda_max. Below: the loss falls monotonically to the least-squares
    optimum; above: the excess loss grows by (1 - lr lambda_max)^2 per epoch. Both curves equal
    the closed form w_k - w* = (I - lr H)^k (w_0 - w*) at every epoch."""
    data, ds, Xt, H, lam, V = linear_problem()
    lr = factor * 2.0 / lam[-1]
    E = 120
    cfg = make_cfg(hidden=(), output="identity", loss="mse", data=data, scales=[1.0], seeds=[0],
                   lrs=[lr], scheme="normal", epochs=E)  # fmt: skip
    runs, res = train_strict(cfg, ds)
    curve = res.loss[0]
    # closed form from the initial weights (init_params' draw for seed 0) and np.linalg.lstsq
    p0 = model.init_params([Xt.shape[1] - 1, 1], "normal", [1.0], [0], np.float64)
    w0 = np.concatenate([p0["W1"][0, :, 0], p0["b1"][0, 0]])
    y = ds.Y[:, 0]
    w_star = np.linalg.lstsq(Xt, y, rcond=None)[0]
    opt = np.mean((Xt @ w_star - y) ** 2)
    c0 = V.T @ (w0 - w_star)  # the initial error in the Hessian's eigenbasis
    k = np.arange(E + 1)[:, None]
    excess = 0.5 * np.sum(lam * (c0 * (1 - lr * lam) ** k) ** 2, axis=1)
    expected = opt + excess
    assert curve[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(curve, expected, rtol=1e-9, atol=1e-12 * curve[0])
    if factor < 1:
        assert res.diverged_epoch[0] == -1
        assert np.all(np.diff(curve) <= 1e-14 * curve[0]), "GD below 2/lambda_max is monotone"
        assert curve[-1] == pytest.approx(opt, rel=1e-8)
        expected_verdict = "converging"
    else:
        growth = (1 - lr * lam[-1]) ** 2  # 1.44 at 1.1 x critical
        ratios = (curve[-10:] - opt)[1:] / (curve[-10:] - opt)[:-1]
        np.testing.assert_allclose(ratios, growth, rtol=1e-6)
        assert curve[-1] > 1e6 * curve[0]
        expected_verdict = "diverging"
    assert classify(curve).verdict == expected_verdict


@pytest.mark.parametrize("batch_size", [None, 64])
@pytest.mark.parametrize("budget_runs", [None, 8])
def test_plan_bounds_the_memory_training_allocates(batch_size, budget_runs):
    """tracemalloc (NumPy reports every array buffer to it) sees at most the plan's peak while
    a sweep trains, and under a budget the chunks keep it there: the plan is an upper bound,
    not a guess."""
    import tracemalloc

    cfg = make_cfg(hidden=(96, 48), lrs=list(np.geomspace(1e-3, 1.0, 32)), seeds=[0, 1],
                   scales=[1.0], epochs=2, batch_size=batch_size, dtype="float32")  # fmt: skip
    cfg = dataclasses.replace(cfg, stability=dataclasses.replace(cfg.stability, sharpness="off"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 2))
    ds = SimpleNamespace(X=X, Y=(X[:, :1] > 0).astype(float), X_val=None, Y_val=None)
    runs = sweep.expand_grid(cfg)
    free = sweep.plan(cfg, len(X), 0, 2, 1, len(runs), threads=2)
    max_memory = None
    if budget_runs:
        max_memory = free.fixed_bytes + budget_runs * free.bytes_per_run
    p = sweep.plan(cfg, len(X), 0, 2, 1, len(runs), max_memory, threads=2)
    assert p.n_chunks > 1 if budget_runs else p.n_chunks == 1
    assert p.peak_bytes <= (max_memory or p.max_memory)
    tracemalloc.start()
    try:
        result = sweep.train(cfg, ds, runs, max_memory=max_memory, threads=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.complete
    assert peak <= p.peak_bytes, f"peak {peak / 1e6:.1f} MB > planned {p.peak_bytes / 1e6:.1f} MB"
    # and the plan is not a wild overestimate of what a chunk of runs costs
    assert p.bytes_per_run * min(p.chunk_size, len(runs)) < peak
    if batch_size is None:  # the working arrays too (measured: 0.3-0.6 of the plan); mini-batch
        # steps use far fewer rows than the full-data passes the plan is sized for (0.1-0.15)
        assert peak > p.peak_bytes / 8
