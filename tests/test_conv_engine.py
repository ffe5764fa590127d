"""Conv nets in the sweep: every run trained at once equals each run trained alone by a plain
loop written here; divergence, validation, memory plan, sharpness; image data."""

from __future__ import annotations

import dataclasses
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from lrdiag import convnet, stability, sweep
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset
from lrdiag.errors import ConfigError

LAYERS = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same"},
    {"type": "flatten"},
]
SHAPE = (1, 6, 6)


def make_cfg(
    *,
    layers=LAYERS,
    activation="tanh",
    batch_size=None,
    epochs=6,
    lrs=(0.05, 0.5),
    optimizer="sgd",
    seeds=(0, 1),
    scales=(1.0,),
    sharpness="off",
    dtype="float64",
):
    return config_from_dict({
        "data": {"kind": "moons", "seed": 3},  # only data.seed matters: the data are made here
        "model": {"layers": layers, "activation": activation, "output": "softmax",
                  "loss": "cross_entropy"},
        "init": {"scheme": "he", "scales": list(scales)},
        "training": {"optimizer": optimizer, "batch_size": batch_size or "full",
                     "epochs": epochs, "seeds": list(seeds), "dtype": dtype},
        "sweep": {"learning_rates": list(lrs)},
        "stability": {"sharpness": sharpness},
    })  # fmt: skip


def make_dataset(n=30, n_val=10, seed=0):
    """Images whose class is the brightest quadrant, flattened as lrdiag.data keeps them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + n_val, *SHAPE))
    labels = np.argmax([X[:, 0, :3, :3].sum((1, 2)), X[:, 0, 3:, 3:].sum((1, 2))], axis=0)
    Y = np.eye(2)[labels]
    flat = X.reshape(len(X), -1)
    return SimpleNamespace(
        X=flat[:n], Y=Y[:n], X_val=flat[n:], Y_val=Y[n:], n_classes=2, image_shape=SHAPE
    )


def train_alone(cfg, ds, run):
    """One run by a plain loop: its own weights, SGD or heavy ball, the sweep's batch order."""
    X = ds.X.reshape(-1, *SHAPE)
    Xv = ds.X_val.reshape(-1, *SHAPE)
    net = convnet.build(cfg.model, SHAPE, ds.Y.shape[1])
    p = convnet.init_params(net, cfg.init.scheme, [run.init_scale], [run.seed], np.float64)
    v = {k: np.zeros_like(a) for k, a in p.items()}
    E, bs = cfg.training.epochs, cfg.training.batch_size
    losses = [convnet.loss(p, X, ds.Y, cfg.model)[0]]
    val = [convnet.loss(p, Xv, ds.Y_val, cfg.model)[0]]
    orders = sweep.epoch_orders(len(X), E, cfg.data.seed) if bs else [None] * E
    for order in orders:
        batches = (
            [np.arange(len(X))] if bs is None else [order[s : s + bs] for s in range(0, len(X), bs)]
        )
        seen = []
        for rows in batches:
            loss, g = convnet.loss_and_grads(p, X[rows], ds.Y[rows], cfg.model)
            seen.append(loss[0])
            for k in p:
                if cfg.training.optimizer == "momentum":
                    v[k] = cfg.training.momentum * v[k] + g[k]
                    p[k] = p[k] - run.learning_rate * v[k]
                else:
                    p[k] = p[k] - run.learning_rate * g[k]
        if bs is None:
            losses.append(convnet.loss(p, X, ds.Y, cfg.model)[0])
        else:
            losses.append(np.mean(seen))
        val.append(convnet.loss(p, Xv, ds.Y_val, cfg.model)[0])
    return np.array(losses), np.array(val)


def train_strict(cfg, ds, **kw):
    runs = sweep.expand_grid(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return runs, sweep.train(cfg, ds, runs, **kw)


@pytest.mark.parametrize("batch_size, optimizer", [(None, "sgd"), (8, "momentum")])
def test_the_sweep_equals_each_run_trained_alone(batch_size, optimizer):
    cfg = make_cfg(batch_size=batch_size, optimizer=optimizer, scales=(0.5, 1.0))
    ds = make_dataset()
    runs, result = train_strict(cfg, ds, threads=2)
    assert result.complete and (result.diverged_epoch == -1).all()
    for run in runs:
        want, want_val = train_alone(cfg, ds, run)
        np.testing.assert_allclose(result.loss[run.id], want, rtol=1e-10)
        np.testing.assert_allclose(result.val_loss[run.id], want_val, rtol=1e-10)


def test_chunks_do_not_change_the_curves():
    cfg = make_cfg(lrs=(0.01, 0.05, 0.2, 0.5), batch_size=8)
    ds = make_dataset()
    _, whole = train_strict(cfg, ds, threads=1)
    one_run = sweep.plan(cfg, 30, 10, SHAPE, 2, 8, threads=1)
    _, chunked = train_strict(
        cfg, ds, threads=1, max_memory=one_run.fixed_bytes + one_run.bytes_per_run
    )
    np.testing.assert_allclose(chunked.loss, whole.loss, rtol=1e-12)


def test_a_diverging_conv_run_is_frozen_and_the_others_are_untouched():
    linear = [
        {**layer, "activation": "identity"} if "filters" in layer else layer for layer in LAYERS
    ]
    cfg = make_cfg(layers=linear, activation="identity", lrs=(0.05, 1e100), epochs=5)
    ds = make_dataset()
    runs, result = train_strict(cfg, ds, threads=1)
    big = [r.id for r in runs if r.learning_rate == 1e100]
    assert (result.diverged_epoch[big] >= 1).all()
    for i in big:
        e = result.diverged_epoch[i]
        assert np.isnan(result.loss[i, e:]).all() and np.isnan(result.val_loss[i, e:]).all()
    for run in runs:
        if run.learning_rate == 0.05:
            np.testing.assert_allclose(
                result.loss[run.id], train_alone(cfg, ds, run)[0], rtol=1e-10
            )


def test_float32_training_tracks_float64():
    ds = make_dataset()
    _, r64 = train_strict(make_cfg(), ds, threads=1)
    _, r32 = train_strict(make_cfg(dtype="float32"), ds, threads=1)
    np.testing.assert_allclose(r32.loss, r64.loss, rtol=1e-4)


CNN = [  # W5's network (benchmarks/workloads.py)
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "conv2d", "filters": 16, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "flatten"},
]
STRIDED = [
    {"type": "conv2d", "filters": 12, "kernel": 3, "padding": "same"},
    {"type": "conv2d", "filters": 16, "kernel": 3, "stride": 2, "padding": "same"},
    {"type": "avgpool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 24, "activation": "leaky_relu"},
]
VALID = [
    {"type": "conv2d", "filters": 6, "kernel": 2, "padding": "valid"},
    {"type": "maxpool", "size": 2},
    {"type": "conv2d", "filters": 5, "kernel": 2, "stride": 2, "padding": "same"},
    {"type": "flatten"},
]
# (layers, activation, batch size, validation rows)
MEMORY_SHAPES = {
    "cnn minibatch": (CNN, "relu", 64, 0),
    "cnn full batch, validation": (CNN, "relu", None, 200),
    "strided avgpool dense, minibatch": (STRIDED, "tanh", 128, 200),
    "valid odd sizes, full batch": (VALID, "tanh", None, 0),
}


def traced_peak(cfg, ds, runs, **kw):
    """tracemalloc's peak while ``sweep.train`` trains, after a first, untraced training (which
    also allocates the imports and caches of a process's first sweep: about 1 MB)."""
    import tracemalloc

    sweep.train(cfg, ds, runs[:1], **kw)
    tracemalloc.start()
    try:
        result = sweep.train(cfg, ds, runs, **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.complete
    return peak


def memory_case(name, n=600):
    layers, activation, batch_size, n_val = MEMORY_SHAPES[name]
    cfg = make_cfg(layers=layers, activation=activation, batch_size=batch_size, epochs=1,
                   lrs=list(np.geomspace(1e-3, 0.1, 8)), dtype="float32")  # fmt: skip
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n + n_val, 1, 8, 8)).reshape(n + n_val, -1)
    Y = np.eye(2)[rng.integers(0, 2, n + n_val)]
    ds = SimpleNamespace(X=X[:n], Y=Y[:n], X_val=X[n:] if n_val else None,
                         Y_val=Y[n:] if n_val else None, image_shape=(1, 8, 8))  # fmt: skip
    return cfg, ds, sweep.expand_grid(cfg)


@pytest.mark.parametrize("name", list(MEMORY_SHAPES))
def test_the_plan_bounds_conv_training_memory_tightly(name):
    """tracemalloc (NumPy reports every array buffer to it) sees at most the plan's peak, and
    at least two thirds of it: the im2col patches, pooling offsets, deltas and data copies are
    counted as the engine makes them. One thread: its peak is one sequence of allocations."""
    cfg, ds, runs = memory_case(name)
    n_val = 0 if ds.X_val is None else len(ds.X_val)
    p = sweep.plan(cfg, len(ds.X), n_val, (1, 8, 8), 2, len(runs), threads=1)
    peak = traced_peak(cfg, ds, runs, threads=1)
    assert peak <= p.peak_bytes, f"peak {peak / 1e6:.2f} MB > planned {p.peak_bytes / 1e6:.2f} MB"
    assert p.peak_bytes <= 1.5 * peak, f"planned {p.peak_bytes / 1e6:.2f} MB, peak {peak / 1e6:.2f}"


@pytest.mark.parametrize("name", ["cnn minibatch", "strided avgpool dense, minibatch"])
def test_the_plan_bounds_threads_and_chunks_under_a_budget(name):
    """Two threads, and a budget that splits the runs into chunks: the peak stays under the
    plan's, and so under the budget."""
    cfg, ds, runs = memory_case(name)
    n_val = 0 if ds.X_val is None else len(ds.X_val)
    free = sweep.plan(cfg, len(ds.X), n_val, (1, 8, 8), 2, len(runs), threads=2)
    budget = free.fixed_bytes + 2 * free.bytes_per_run  # room for a few runs at a time
    p = sweep.plan(cfg, len(ds.X), n_val, (1, 8, 8), 2, len(runs), budget, threads=2)
    assert p.n_chunks > 1 and p.peak_bytes <= budget
    for plan, max_memory in ((free, None), (p, budget)):
        peak = traced_peak(cfg, ds, runs, threads=2, max_memory=max_memory)
        assert peak <= plan.peak_bytes, f"{peak / 1e6:.2f} MB > {plan.peak_bytes / 1e6:.2f} MB"


def test_sharpness_of_a_conv_net_equals_the_largest_eigenvalue_of_its_hessian():
    """The Hessian here comes from second differences of the loss alone (no gradients)."""
    layers = [
        {"type": "conv2d", "filters": 2, "kernel": 3, "stride": 2, "padding": "same"},
        {"type": "avgpool", "size": 2},
        {"type": "flatten"},
    ]
    cfg = make_cfg(layers=layers, activation="tanh")
    ds = make_dataset(n=12)
    X = ds.X.reshape(-1, *SHAPE)
    net = convnet.build(cfg.model, SHAPE, 2)
    params = convnet.init_params(net, "he", [1.0, 3.0], [0, 1], np.float64)
    lam = stability.sharpness(params, X, ds.Y, cfg.model, iters=60, tol=1e-10)
    for r in range(2):
        one = {k: v[r : r + 1] for k, v in params.items()}
        flat = np.concatenate([v.ravel() for v in one.values()])
        shapes = [(k, v.shape) for k, v in one.items()]

        def f(x, shapes=shapes):
            p, at = {}, 0
            for k, s in shapes:
                n = int(np.prod(s))
                p[k] = x[at : at + n].reshape(s)
                at += n
            return convnet.loss(p, X, ds.Y, cfg.model)[0]

        P, h = len(flat), 1e-4
        H = np.empty((P, P))
        E = np.eye(P) * h
        for i in range(P):
            for j in range(i, P):
                H[i, j] = H[j, i] = (
                    f(flat + E[i] + E[j]) - f(flat + E[i] - E[j])
                    - f(flat - E[i] + E[j]) + f(flat - E[i] - E[j])
                ) / (4 * h * h)  # fmt: skip
        assert abs(lam[r] - np.linalg.eigvalsh(H)[-1]) <= 1e-4 * abs(lam[r])


def test_full_batch_sweep_reports_sharpness_for_conv_nets():
    cfg = make_cfg(sharpness="auto", epochs=2)
    _, result = train_strict(cfg, make_dataset(), threads=1)
    assert result.sharpness_init is not None and np.isfinite(result.sharpness_init).all()
    assert (result.sharpness_init > 0).all()


# --------------------------------------------------------------------------- image data


def test_digits_keep_their_image_shape():
    cfg = config_from_dict(
        {
            "data": {"kind": "digits"},
            "model": {"layers": LAYERS, "output": "softmax", "loss": "cross_entropy"},
        }
    )
    ds = load_dataset(cfg.data, cfg.model)
    assert ds.image_shape == (1, 8, 8) and ds.X.shape == (1797, 64)
    assert ds.X[0].reshape(8, 8)[0].tolist() == ds.X[0, :8].tolist()  # row-major pixels


@pytest.mark.parametrize("shape, image", [((20, 5, 4), (1, 5, 4)), ((20, 3, 5, 4), (3, 5, 4))])
def test_npz_with_3d_or_4d_X_keeps_its_image_shape(tmp_path, shape, image):
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape)
    path = tmp_path / "images.npz"
    np.savez(path, X=X, y=np.arange(20) % 2)
    cfg = config_from_dict({"data": {"kind": "file", "path": str(path)},
                            "model": {"output": "softmax", "loss": "cross_entropy"}})  # fmt: skip
    ds = load_dataset(cfg.data, cfg.model)
    assert ds.image_shape == image
    np.testing.assert_array_equal(ds.X.reshape(-1, *image), X.reshape(-1, *image))


def test_keras_channels_last_images_become_channels_first(tmp_path):
    rng = np.random.default_rng(1)
    x_train, x_test = rng.normal(size=(6, 4, 5, 3)), rng.normal(size=(2, 4, 5, 3))
    path = tmp_path / "cifar.npz"
    np.savez(path, x_train=x_train, y_train=np.arange(6) % 2, x_test=x_test, y_test=[0, 1])
    cfg = config_from_dict({"data": {"kind": "file", "path": str(path)},
                            "model": {"output": "softmax", "loss": "cross_entropy"}})  # fmt: skip
    ds = load_dataset(cfg.data, cfg.model)
    assert ds.image_shape == (3, 4, 5)
    np.testing.assert_array_equal(ds.X.reshape(-1, 3, 4, 5), np.moveaxis(x_train, -1, 1))
    np.testing.assert_array_equal(ds.X_val.reshape(-1, 3, 4, 5), np.moveaxis(x_test, -1, 1))


def test_conv_layers_on_flat_data_are_a_config_error():
    cfg = make_cfg()
    ds = make_dataset()
    ds.image_shape = None
    with pytest.raises(ConfigError) as info:
        sweep.train(cfg, ds, sweep.expand_grid(cfg), threads=1)
    assert info.value.key == "model.layers[0]" and "images" in str(info.value)


def test_adam_with_clipping_trains_each_conv_run_as_if_alone():
    """Issue 15's optimizers and clipping on conv kernels (R, O, C, k, k): every run of the
    sweep equals the same run swept alone (nothing mixes runs, whatever a parameter's rank)."""
    base = make_cfg(lrs=(0.003, 0.03), epochs=3, batch_size=8, optimizer="adam")
    cfg = dataclasses.replace(base, training=dataclasses.replace(base.training, clip_grad_norm=0.5))
    ds = make_dataset()
    runs, together = train_strict(cfg, ds, threads=1)
    assert np.isfinite(together.loss).all()
    assert together.clipped is not None and together.clipped.sum() > 0
    for run in runs:
        alone = sweep.train(cfg, ds, [sweep.Run(0, run.learning_rate, run.init_scale, run.seed)])
        np.testing.assert_allclose(together.loss[run.id], alone.loss[0], rtol=1e-10)


def test_the_lr_range_test_ramps_conv_nets():
    """lrdiag find's range test on a conv net: its first step's loss is the loss at init."""
    from lrdiag import find

    base = make_cfg(batch_size=8, seeds=(0, 1))
    cfg = dataclasses.replace(
        base, find=dataclasses.replace(base.find, min=1e-4, max=10.0, steps=12)
    )
    ds = make_dataset()
    test = find.range_test(cfg, ds)
    assert test.loss.shape == (2, 12)
    X = ds.X.reshape(-1, *SHAPE)
    net = convnet.build(cfg.model, SHAPE, 2)
    params = convnet.init_params(net, "he", [1.0, 1.0], [0, 1], np.float64)
    first = next(sweep.epoch_orders(len(X), 1, cfg.data.seed))[:8]
    np.testing.assert_allclose(
        test.loss[:, 0], convnet.loss(params, X[first], ds.Y[first], cfg.model), rtol=1e-10
    )
