"""lrdiag.layers and lrdiag.convnet against naive loops written here, one sample and one run at
a time, in float64 (to 1e-12), and the whole network against finite differences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lrdiag import convnet, layers, model
from lrdiag.config import config_from_dict

TOL = 1e-12


def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(1.0, float(np.max(np.abs(b))))
    assert float(np.max(np.abs(a - b))) <= tol * scale


# --------------------------------------------------------------------------- naive layers
# One image x (C, H, W), one run; padding from first principles: "same" means an output of
# ceil(H / s) whose windows reach at most one pixel further past the bottom/right edge than
# past the top/left one.


def naive_padding(size, k, s, padding):
    if padding == "valid":
        return 0, 0
    out = math.ceil(size / s)
    need = max(0, (out - 1) * s + k - size)
    return need // 2, need - need // 2


def naive_conv(x, W, b, s, padding):
    C, H, Wd = x.shape
    O, _, k, _ = W.shape
    (t, bo), (le, r) = naive_padding(H, k, s, padding), naive_padding(Wd, k, s, padding)
    xp = np.zeros((C, H + t + bo, Wd + le + r))
    xp[:, t : t + H, le : le + Wd] = x
    Ho, Wo = (xp.shape[1] - k) // s + 1, (xp.shape[2] - k) // s + 1
    out = np.zeros((O, Ho, Wo))
    for o, i, j in itertools.product(range(O), range(Ho), range(Wo)):
        total = b[o]
        for c, di, dj in itertools.product(range(C), range(k), range(k)):
            total += W[o, c, di, dj] * xp[c, i * s + di, j * s + dj]
        out[o, i, j] = total
    return out


def naive_conv_backward(x, W, g, s, padding):
    """(dx, dW, db) of sum(g * naive_conv(x, W, b)) for one image."""
    C, H, Wd = x.shape
    O, _, k, _ = W.shape
    (t, bo), (le, r) = naive_padding(H, k, s, padding), naive_padding(Wd, k, s, padding)
    xp = np.zeros((C, H + t + bo, Wd + le + r))
    xp[:, t : t + H, le : le + Wd] = x
    dxp, dW, db = np.zeros_like(xp), np.zeros_like(W), np.zeros(O)
    _, Ho, Wo = g.shape
    for o, i, j in itertools.product(range(O), range(Ho), range(Wo)):
        db[o] += g[o, i, j]
        for c, di, dj in itertools.product(range(C), range(k), range(k)):
            dW[o, c, di, dj] += g[o, i, j] * xp[c, i * s + di, j * s + dj]
            dxp[c, i * s + di, j * s + dj] += g[o, i, j] * W[o, c, di, dj]
    return dxp[:, t : t + H, le : le + Wd], dW, db


def naive_pool(x, size, kind):
    """(out, argmax positions) of one image; the first maximum in row-major order wins."""
    C, H, W = x.shape
    Ho, Wo = H // size, W // size
    out, arg = np.zeros((C, Ho, Wo)), {}
    for c, i, j in itertools.product(range(C), range(Ho), range(Wo)):
        cells = [(i * size + a, j * size + b) for a in range(size) for b in range(size)]
        if kind == "avgpool":
            out[c, i, j] = sum(x[c, p, q] for p, q in cells) / len(cells)
        else:
            best = cells[0]
            for p, q in cells[1:]:
                if x[c, p, q] > x[c, best[0], best[1]]:
                    best = (p, q)
            out[c, i, j], arg[c, i, j] = x[c, best[0], best[1]], best
    return out, arg


def naive_pool_backward(x, g, size, kind):
    C, H, W = x.shape
    _, arg = naive_pool(x, size, kind)
    dx = np.zeros_like(x)
    for c, i, j in itertools.product(*(range(n) for n in g.shape)):
        if kind == "avgpool":
            for a, b in itertools.product(range(size), range(size)):
                dx[c, i * size + a, j * size + b] += g[c, i, j] / size**2
        else:
            p, q = arg[c, i, j]
            dx[c, p, q] += g[c, i, j]
    return dx


def naive_flatten(x):
    C, H, W = x.shape
    out = np.zeros(C * H * W)
    for c, h, w in itertools.product(range(C), range(H), range(W)):
        out[(c * H + h) * W + w] = x[c, h, w]
    return out


# --------------------------------------------------------------------------- layers


CONV_CASES = [  # (C, H, W, O, k, stride, padding): odd and even sizes, both paddings and strides
    (2, 7, 5, 3, 3, 1, "same"),
    (2, 7, 5, 3, 3, 2, "same"),
    (1, 6, 6, 2, 3, 1, "valid"),
    (3, 7, 8, 2, 3, 2, "valid"),
    (2, 5, 6, 2, 2, 1, "same"),  # even kernel: the odd pixel of padding at the bottom/right
    (1, 8, 7, 2, 4, 2, "same"),
]


@pytest.mark.parametrize("C,H,W,O,k,s,padding", CONV_CASES)
@pytest.mark.parametrize("shared", [True, False])
def test_conv2d_forward_and_backward_equal_the_naive_loop(C, H, W, O, k, s, padding, shared):
    rng = np.random.default_rng(C * 100 + H * 10 + W + s + k)
    R, B = 2, 3
    Wt = rng.standard_normal((R, O, C, k, k))
    b = rng.standard_normal((R, 1, O))
    # the network's layout: samples last, (R, C, H, W, B); the naive loop's: (R, B, C, H, W)
    if shared:  # the data: the same images for every run, (C, H, W, B)
        xs = np.broadcast_to(rng.standard_normal((B, C, H, W)), (R, B, C, H, W))
        x = np.moveaxis(xs[0], 0, -1)
    else:
        xs = rng.standard_normal((R, B, C, H, W))
        x = np.moveaxis(xs, 1, -1)
    z, cols = layers.conv2d_forward(x, Wt, b, s, padding)
    want = np.array(
        [[naive_conv(xs[r, n], Wt[r], b[r, 0], s, padding) for n in range(B)] for r in range(R)]
    )  # (R, B, O, Ho, Wo)
    close(np.moveaxis(z, -1, 1), want)
    if padding == "same":
        assert z.shape[-3:-1] == (math.ceil(H / s), math.ceil(W / s))

    g = rng.standard_normal(z.shape)
    dx, dW, db = layers.conv2d_backward(g, cols, Wt, x.shape[-4:], s, padding, not shared)
    gs = np.moveaxis(g, -1, 1)  # (R, B, O, Ho, Wo)
    parts = [
        [naive_conv_backward(xs[r, n], Wt[r], gs[r, n], s, padding) for n in range(B)]
        for r in range(R)
    ]
    close(dW, np.array([sum(p[1] for p in run) for run in parts]))
    close(db[:, 0], np.array([sum(p[2] for p in run) for run in parts]))
    if shared:
        assert dx is None
    else:
        close(np.moveaxis(dx, -1, 1), np.array([[p[0] for p in run] for run in parts]))


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("H,W,size", [(4, 6, 2), (5, 7, 2), (7, 6, 3)])
def test_pooling_forward_and_backward_equal_the_naive_loop(kind, H, W, size):
    rng = np.random.default_rng(H * W + size)
    R, C, B = 2, 3, 2
    x = rng.standard_normal((R, C, H, W, B))  # samples last, as in the network
    x[0, 0, :2, :2, 0] = 0.0  # a tie: the first of the window wins, as in PyTorch
    x[1, 1, ..., 1] = np.maximum(x[1, 1, ..., 1], 0.0)  # relu'd: windows of zeros
    if kind == "maxpool":
        y, where = layers.maxpool_forward(x, size)
    else:
        y = layers.avgpool_forward(x, size)
    g = rng.standard_normal(y.shape)
    if kind == "maxpool":
        dx = layers.maxpool_backward(g, where, x.shape, size)
    else:
        dx = layers.avgpool_backward(g, x.shape, size)
    for r, n in itertools.product(range(R), range(B)):
        want, _ = naive_pool(x[r, ..., n], size, kind)
        close(y[r, ..., n], want)
        close(dx[r, ..., n], naive_pool_backward(x[r, ..., n], g[r, ..., n], size, kind))


def test_maxpool_ties_go_to_the_first_maximum_only():
    x = np.zeros((1, 1, 2, 2, 1))
    y, where = layers.maxpool_forward(x, 2)
    dx = layers.maxpool_backward(np.ones_like(y), where, x.shape, 2)
    assert dx[0, 0, ..., 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_flatten_is_c_order_over_channels_height_width():
    rng = np.random.default_rng(3)
    R, C, B, H, W = 2, 3, 4, 5, 2
    x = rng.standard_normal((R, C, H, W, B))
    y = layers.flatten_forward(x)
    for r, n in itertools.product(range(R), range(B)):
        close(y[r, n], naive_flatten(x[r, ..., n]))
    g = rng.standard_normal(y.shape)
    dx = layers.flatten_backward(g, x.shape)
    for r, n in itertools.product(range(R), range(B)):  # the adjoint: a permutation back
        close(naive_flatten(dx[r, ..., n]), g[r, n])


def test_dense_forward_and_backward_equal_the_naive_loop():
    rng = np.random.default_rng(4)
    R, B, n_in, n_out = 2, 3, 5, 4
    x, W, b = (rng.standard_normal(s) for s in ((R, B, n_in), (R, n_in, n_out), (R, 1, n_out)))
    z = layers.dense_forward(x, W, b)
    g = rng.standard_normal(z.shape)
    dx, dW, db = layers.dense_backward(g, x, W)
    for r, n, o in itertools.product(range(R), range(B), range(n_out)):
        assert (
            abs(z[r, n, o] - (b[r, 0, o] + sum(x[r, n, i] * W[r, i, o] for i in range(n_in)))) < TOL
        )
    for r in range(R):
        for i, o in itertools.product(range(n_in), range(n_out)):
            assert abs(dW[r, i, o] - sum(x[r, n, i] * g[r, n, o] for n in range(B))) < TOL
        for n, i in itertools.product(range(B), range(n_in)):
            assert abs(dx[r, n, i] - sum(g[r, n, o] * W[r, i, o] for o in range(n_out))) < TOL
        close(db[r, 0], g[r].sum(axis=0))


# --------------------------------------------------------------------------- the network


LAYERS = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": "same",
     "activation": "tanh"},
    {"type": "avgpool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 5, "activation": "sigmoid"},
]  # fmt: skip


def small_config(layer_list=LAYERS, **model_keys):
    spec = {"layers": layer_list, "output": "softmax", "loss": "cross_entropy", **model_keys}
    return config_from_dict({"model": spec})


def naive_network_loss(params, r, X, Y, net):
    """Run r's mean cross-entropy, one sample at a time through the naive layers."""
    total = 0.0
    for n in range(len(X)):
        a = X[n]
        for layer in net.layers:
            if layer.kind == "conv2d":
                W, b = params[f"W{layer.index}"][r], params[f"b{layer.index}"][r, 0]
                a = naive_conv(a, W, b, layer.stride, layer.padding)
            elif layer.kind in ("maxpool", "avgpool"):
                a = naive_pool(a, layer.size, layer.kind)[0]
            elif layer.kind == "flatten":
                a = naive_flatten(a)
            else:
                W, b = params[f"W{layer.index}"][r], params[f"b{layer.index}"][r, 0]
                a = a @ W + b
            if layer.activation:
                a = model.ACTIVATIONS[layer.activation].f(a)
        shifted = a - a.max()
        total += -(shifted[np.argmax(Y[n])] - math.log(np.exp(shifted).sum()))
    return total / len(X)


def network_case(seed=0, shape=(2, 9, 7), B=4, R=2, layer_list=LAYERS):
    cfg = small_config(layer_list)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, *shape))
    Y = np.eye(3)[rng.integers(0, 3, B)]
    net = convnet.build(cfg.model, X.shape[1:], 3)
    params = convnet.init_params(net, "he", np.linspace(1.0, 2.0, R), np.arange(R), np.float64)
    for k in params:  # non-zero biases, so a wrong bias path shows
        if k.startswith("b"):
            params[k] = 0.1 * rng.standard_normal(params[k].shape)
    return cfg, X, Y, net, params


def test_network_loss_equals_the_naive_per_sample_loop():
    cfg, X, Y, net, params = network_case()
    got = convnet.loss(params, X, Y, cfg.model)
    for r in range(len(got)):
        assert abs(got[r] - naive_network_loss(params, r, X, Y, net)) < TOL


def test_network_gradients_equal_finite_differences_of_the_naive_loss():
    cfg, X, Y, net, params = network_case(seed=1)
    losses, grads = convnet.loss_and_grads(params, X, Y, cfg.model)
    close(losses, convnet.loss(params, X, Y, cfg.model))
    rng = np.random.default_rng(2)
    eps = 1e-6
    for key, p in params.items():
        assert grads[key].shape == p.shape
        for _ in range(3):
            r = int(rng.integers(0, p.shape[0]))
            idx = (r, *(int(rng.integers(0, s)) for s in p.shape[1:]))
            plus, minus = (
                {k: v.copy() for k, v in params.items()},
                {k: v.copy() for k, v in params.items()},
            )
            plus[key][idx] += eps
            minus[key][idx] -= eps
            fd = (
                naive_network_loss(plus, r, X, Y, net) - naive_network_loss(minus, r, X, Y, net)
            ) / (2 * eps)
            assert abs(fd - grads[key][idx]) <= 1e-6 * max(1.0, abs(fd)), (key, idx)


def test_runs_do_not_mix_and_blocks_do_not_matter(monkeypatch):
    cfg, X, Y, net, params = network_case(seed=3, R=3)
    losses, grads = convnet.loss_and_grads(params, X, Y, cfg.model)
    grads = {k: v.copy() for k, v in grads.items()}
    monkeypatch.setattr(convnet, "BLOCK_BYTES", 1)  # one run per block
    for r in range(3):
        one = {k: v[r : r + 1] for k, v in params.items()}
        l1, g1 = convnet.loss_and_grads(one, X, Y, cfg.model)
        close(l1, losses[r : r + 1])
        for k in params:
            close(g1[k], grads[k][r : r + 1])


def test_a_loss_evaluated_in_slices_of_samples_is_the_naive_mean(monkeypatch):
    """Slices of samples (row_block) and blocks of runs: each run's mean over all samples."""
    cfg, X, Y, net, params = network_case(seed=5, B=7, R=3)
    monkeypatch.setattr(convnet, "BLOCK_BYTES", 3 * convnet.pass_bytes(net, 1, 1, 8, False))
    assert convnet.row_block(net, len(X), 8) == 3  # slices of 3, 3 and 1 samples
    losses = convnet.loss(params, X, Y, cfg.model)
    for r in range(3):
        close(losses[r], naive_network_loss(params, r, X, Y, net))


def test_init_shapes_are_the_shapes_apply_returns():
    cfg, X, Y, net, params = network_case()
    assert params["W1"].shape == (2, 3, 2, 3, 3)  # (R, out_channels, in_channels, kh, kw)
    assert params["W3"].shape == (2, 4, 5)  # 4 channels of 1x1 after the second pool
    assert set(params) == {f"{p}{i}" for p in "Wb" for i in range(1, 5)}
    logits = convnet.forward(params, X, cfg.model)
    assert logits.shape == (2, len(X), 3)
    _, grads = convnet.loss_and_grads(params, X, Y, cfg.model)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}


def test_flat_data_with_dense_layers_is_the_mlp():
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((6, 4)), np.eye(3)[rng.integers(0, 3, 6)]
    cfg = small_config([{"type": "dense", "units": 5, "activation": "tanh"}])
    mlp = config_from_dict(
        {
            "model": {
                "hidden": [5],
                "activation": "tanh",
                "output": "softmax",
                "loss": "cross_entropy",
            }
        }
    )
    net = convnet.build(cfg.model, (4,), 3)
    params = convnet.init_params(net, "lecun", [1.0, 3.0], [0, 1], np.float64)
    ref = model.init_params([4, 5, 3], "lecun", [1.0, 3.0], [0, 1], np.float64)
    for k in ref:  # the same draws as the MLP's
        close(params[k], ref[k])
    l1, g1 = convnet.loss_and_grads(params, X, Y, cfg.model)
    l2, g2 = model.loss_and_grads(ref, X, Y, mlp.model)
    close(l1, l2)
    for k in ref:
        close(g1[k], g2[k])


@pytest.mark.parametrize("scheme,fan", [("he", "in"), ("lecun", "in"), ("xavier", "both")])
def test_kernel_init_uses_pytorchs_fans(scheme, fan):
    """PyTorch: fan_in = in_channels * kh * kw, fan_out = out_channels * kh * kw."""
    layer_list = [{"type": "conv2d", "filters": 64, "kernel": 5}, {"type": "flatten"}]
    cfg = small_config(layer_list)
    net = convnet.build(cfg.model, (32, 5, 5), 2)
    W = convnet.init_params(net, scheme, [1.0], [0], np.float64)["W1"]
    fan_in, fan_out = 32 * 25, 64 * 25
    variance = {"he": 2 / fan_in, "lecun": 1 / fan_in, "xavier": 2 / (fan_in + fan_out)}[scheme]
    assert abs(W.std() / math.sqrt(variance) - 1) < 0.02  # 51,200 draws


def test_first_layer_patches_are_built_once_per_call(monkeypatch):
    cfg, X, Y, net, params = network_case(R=4)
    calls = []
    real = layers.im2col
    monkeypatch.setattr(
        layers, "im2col", lambda x, *a, **k: calls.append(x.ndim) or real(x, *a, **k)
    )
    monkeypatch.setattr(convnet, "BLOCK_BYTES", 1)  # four blocks
    convnet.loss_and_grads(params, X, Y, cfg.model)
    assert calls.count(4) == 1  # the shared (C, H, W, B) data: once
    assert calls.count(5) == 4  # the second conv: once per block of runs
