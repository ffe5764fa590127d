"""The plain per-run NumPy loop for conv nets (W5): what a careful user writes instead of lrdiag.

One network at a time, PyTorch's layout ``(B, C, H, W)``, im2col by
``sliding_window_view`` and one matrix product per layer, backprop by hand (col2im by one
add per kernel offset), max pooling by a reshape (the first maximum of each window gets the
gradient). Nothing is imported from lrdiag's numeric core. Same math as the engine, so
losses compare run for run: the weights of run (lr, scale, seed) are drawn layer by layer from
``np.random.default_rng(seed)`` (a kernel ``standard_normal((O, C, k, k))``, a dense matrix
``(in, out)``, times the scheme's std from PyTorch's fans, times ``scale``); epochs, batch order,
recorded losses and divergence as in benchmarks/loop.py (mini-batch only: W5 is mini-batch).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.loop import SHUFFLE_TAG, LoopResult

VARIANCE = {
    "he": lambda i, o: 2 / i,
    "lecun": lambda i, o: 1 / i,
    "xavier": lambda i, o: 2 / (i + o),
}


def _same(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def build(cfg, in_shape, n_out, scale, seed, dtype):
    """[(kind, params or None, settings)] for one run."""
    rng = np.random.default_rng(seed)
    var = VARIANCE[cfg.init.scheme]
    net, shape = [], tuple(in_shape)
    for c in [*cfg.model.layers, None]:
        if c is None or c.type == "dense":
            units = n_out if c is None else c.units
            W = rng.standard_normal((shape[0], units)) * math.sqrt(var(shape[0], units))
            act = None if c is None else (c.activation or cfg.model.activation)
            net.append(("dense", [(W * scale).astype(dtype), np.zeros(units, dtype)], act))
            shape = (units,)
        elif c.type == "conv2d":
            C, H, Wd = shape
            k, s = c.kernel, c.stride
            fan_in, fan_out = C * k * k, c.filters * k * k
            K = rng.standard_normal((c.filters, C, k, k)) * math.sqrt(var(fan_in, fan_out))
            if c.padding == "same":
                (Ho, t, b), (Wo, left, r) = _same(H, k, s), _same(Wd, k, s)
            else:
                Ho, Wo, t, b, left, r = (H - k) // s + 1, (Wd - k) // s + 1, 0, 0, 0, 0
            act = c.activation or cfg.model.activation
            params = [(K * scale).astype(dtype), np.zeros(c.filters, dtype)]
            net.append(("conv2d", params, (k, s, (t, b, left, r), act)))
            shape = (c.filters, Ho, Wo)
        elif c.type == "maxpool":
            net.append(("maxpool", None, c.size))
            shape = (shape[0], shape[1] // c.size, shape[2] // c.size)
        else:  # flatten
            net.append(("flatten", None, shape))
            shape = (math.prod(shape),)
    return net


def forward_backward(net, x, y, need_grads=True):
    """Mean softmax cross-entropy of one run on (x (B, C, H, W), one-hot y) and its grads."""
    cache = []
    a = x
    for kind, p, opt in net:
        if kind == "conv2d":
            k, s, (t, b, left, r), act = opt
            xp = np.pad(a, ((0, 0), (0, 0), (t, b), (left, r))) if t + b + left + r else a
            win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::s, ::s]  # B,C,Ho,Wo,k,k
            B, C, Ho, Wo = win.shape[:4]
            cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(B * Ho * Wo, C * k * k)
            z = cols @ p[0].reshape(len(p[0]), -1).T + p[1]  # (B*Ho*Wo, O)
            z = z.reshape(B, Ho, Wo, -1).transpose(0, 3, 1, 2)
            out = np.maximum(z, 0) if act == "relu" else z
            cache.append((cols, a.shape, xp.shape, out))
            a = out
        elif kind == "maxpool":
            n = opt
            B, C, H, W = a.shape
            Ho, Wo = H // n, W // n
            w = a[:, :, : Ho * n, : Wo * n].reshape(B, C, Ho, n, Wo, n)
            w = w.transpose(0, 1, 2, 4, 3, 5).reshape(B, C, Ho, Wo, n * n)
            arg = w.argmax(axis=-1)
            cache.append((arg, a.shape))
            a = np.take_along_axis(w, arg[..., None], axis=-1)[..., 0]
        elif kind == "flatten":
            cache.append(a.shape)
            a = a.reshape(len(a), -1)
        else:
            z = a @ p[0] + p[1]
            out = np.maximum(z, 0) if opt == "relu" else z
            cache.append((a, out))
            a = out
    s = a - a.max(axis=1, keepdims=True)
    e = np.exp(s)
    total = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - (y * s).sum(axis=1)))
    if not need_grads:
        return loss, None
    d = (e / total - y) / len(y)
    grads = [None] * len(net)
    for i in range(len(net) - 1, -1, -1):
        kind, p, opt = net[i]
        if kind == "dense":
            x_in, out = cache[i]
            if opt == "relu":
                d = d * (out > 0)
            grads[i] = [x_in.T @ d, d.sum(axis=0)]
            d = d @ p[0].T
        elif kind == "flatten":
            d = d.reshape(cache[i])
        elif kind == "maxpool":
            arg, shape = cache[i]
            n = opt
            B, C, H, W = shape
            Ho, Wo = H // n, W // n
            dw = np.zeros((B, C, Ho, Wo, n * n), d.dtype)
            np.put_along_axis(dw, arg[..., None], d[..., None], axis=-1)
            dw = dw.reshape(B, C, Ho, Wo, n, n).transpose(0, 1, 2, 4, 3, 5)
            dx = np.zeros(shape, d.dtype)
            dx[:, :, : Ho * n, : Wo * n] = dw.reshape(B, C, Ho * n, Wo * n)
            d = dx
        else:
            cols, in_shape, pad_shape, out = cache[i]
            k, s, (t, b, left, r), act = opt
            if act == "relu":
                d = d * (out > 0)
            B, O, Ho, Wo = d.shape
            dz = d.transpose(0, 2, 3, 1).reshape(B * Ho * Wo, O)
            grads[i] = [(dz.T @ cols).reshape(p[0].shape), dz.sum(axis=0)]
            if i == 0:
                break
            dcols = (dz @ p[0].reshape(O, -1)).reshape(B, Ho, Wo, -1, k, k)
            dxp = np.zeros(pad_shape, d.dtype)
            for di in range(k):
                for dj in range(k):
                    dxp[:, :, di : di + s * Ho : s, dj : dj + s * Wo : s] += dcols[
                        ..., di, dj
                    ].transpose(0, 3, 1, 2)
            d = dxp[:, :, t : t + in_shape[2], left : left + in_shape[3]]
    return loss, grads


def _finite(net):
    return all(np.isfinite(q).all() for _, p, _ in net if p for q in p)


def train_run(cfg, X, Y, in_shape, lr, scale, seed):
    t = cfg.training
    E, bs = t.epochs, t.batch_size
    net = build(cfg, in_shape, Y.shape[1], scale, seed, X.dtype)
    losses = np.full(E + 1, np.nan)
    loss, _ = forward_backward(net, X, Y, need_grads=False)
    if not np.isfinite(loss):
        return losses, 0
    losses[0] = loss
    shuffle = np.random.default_rng([int(cfg.data.seed), SHUFFLE_TAG])
    n = len(X)
    for k in range(1, E + 1):
        order = shuffle.permutation(n)
        Xs, Ys = X[order], Y[order]
        total = 0.0
        for start in range(0, n, bs):
            loss, grads = forward_backward(net, Xs[start : start + bs], Ys[start : start + bs])
            total += loss
            for (_, p, _), g in zip(net, grads, strict=True):
                if p:
                    p[0] -= lr * g[0]
                    p[1] -= lr * g[1]
            if not (np.isfinite(total) and _finite(net)):
                return losses, k
        losses[k] = total / -(-n // bs)
    return losses, -1


def train_runs(cfg, dataset, runs) -> LoopResult:
    """Train ``runs`` one at a time (SGD, mini-batch, ReLU conv nets: W5's shape)."""
    assert cfg.training.optimizer == "sgd" and cfg.training.batch_size is not None
    dtype = np.dtype(cfg.training.dtype)
    in_shape = dataset.image_shape
    X = np.ascontiguousarray(dataset.X, dtype=dtype).reshape(-1, *in_shape)
    Y = np.ascontiguousarray(dataset.Y, dtype=dtype)
    loss = np.full((len(runs), cfg.training.epochs + 1), np.nan)
    diverged = np.full(len(runs), -1, dtype=np.int64)
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        for i, run in enumerate(runs):
            loss[i], diverged[i] = train_run(
                cfg, X, Y, in_shape, run.learning_rate, run.init_scale, run.seed
            )
    return LoopResult(loss, diverged, time.perf_counter() - start)
