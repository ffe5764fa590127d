"""The plain per-run NumPy loop: what a careful user writes instead of lrdiag's engine.

One network at a time, 2-D arrays, a Python loop over layers, backprop by hand, the weights
updated in place. Nothing is imported from lrdiag's numeric core: it is the baseline the engine
is timed against, and an independent check that the engine's fast path still computes the same
thing (the benchmark asserts that the final losses agree on stable runs).

Same math as the engine, so losses can be compared run for run:

* init: run (lr, scale, seed) draws each layer's weights in order from
  ``np.random.default_rng(seed)`` (``standard_normal((in, out))`` times the scheme's std, or
  ``random`` for uniform01), multiplies by ``scale`` in float64 and casts to the training
  dtype; biases start at zero.
* losses are means, as PyTorch defines them, computed from the logits;
* full batch: epoch k records the loss before update k (k = 0 .. E; the last after E updates);
* mini-batch: epoch 0 records the full-data loss at init; epoch k >= 1 the mean of its
  mini-batch losses; every epoch visits the samples in the order
  ``default_rng([data seed, 0x5EED]).permutation(n)`` (one generator for the whole sweep), and
  the last batch may be smaller;
* a run whose loss or weights become non-finite is diverged at that epoch: NaN from then on,
  and it stops training (as the engine drops it);
* sgd: ``p -= lr * g``; momentum: ``v = beta * v + g; p -= lr * v`` (PyTorch's SGD);
  adam: PyTorch's Adam, its learning rate times a warmup + cosine multiplier (W4).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

SHUFFLE_TAG = 0x5EED  # second word of the shuffling generator's seed (as the engine's)
LEAKY_SLOPE = 0.01

# --- activations: f(z) and f'(z) given a = f(z) -----------------------------------------------


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


ACT = {
    "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a)),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
        lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
    ),
    "identity": (lambda z: z, lambda z, a: np.ones_like(z)),
}

# --- heads: loss (a float) and dL/dlogits from the logits z (n, k) and targets y (n, k) -------


def _bce(z, y):
    loss = np.mean(np.logaddexp(0, z) - y * z)
    return loss, (_sigmoid(z) - y) / len(z)


def _cross_entropy(z, y):
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    loss = -np.mean(np.sum(y * (shifted - np.log(total)), axis=1))
    return loss, (e / total - y) / len(z)


def _mse(z, y):
    diff = z - y
    return np.mean(diff * diff), 2 * diff / diff.size


def _sigmoid_mse(z, y):
    p = _sigmoid(z)
    diff = p - y
    return np.mean(diff * diff), 2 * diff * p * (1 - p) / diff.size


HEADS = {
    ("sigmoid", "bce"): _bce,
    ("softmax", "cross_entropy"): _cross_entropy,
    ("identity", "mse"): _mse,
    ("sigmoid", "mse"): _sigmoid_mse,
}

# --- init: the draws of one seed, layer by layer ------------------------------------------------

STD = {
    "normal": lambda i, o: 1.0,
    "xavier": lambda i, o: np.sqrt(2.0 / (i + o)),
    "he": lambda i, o: np.sqrt(2.0 / i),
    "lecun": lambda i, o: np.sqrt(1.0 / i),
}


def init_network(sizes, scheme, scale, seed, dtype):
    """[(W (in, out), b (out,)), ...] for one run."""
    rng = np.random.default_rng(int(seed))
    net = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        if scheme == "uniform01":
            w = rng.random((fan_in, fan_out))
        else:
            w = rng.standard_normal((fan_in, fan_out)) * STD[scheme](fan_in, fan_out)
        net.append(((w * scale).astype(dtype), np.zeros(fan_out, dtype=dtype)))
    return net


# --- one network: loss, and loss with gradients -------------------------------------------------


def loss_only(net, X, Y, f, head):
    a = X
    for W, b in net[:-1]:
        a = f(a @ W + b)
    W, b = net[-1]
    return head(a @ W + b, Y)[0]


def loss_and_grads(net, X, Y, f, df, head):
    acts, zs = [X], []
    for W, b in net[:-1]:
        z = acts[-1] @ W + b  # (n, out)
        zs.append(z)
        acts.append(f(z))
    W, b = net[-1]
    loss, delta = head(acts[-1] @ W + b, Y)  # delta: dL/dz of the layer, (n, out)
    grads = [None] * len(net)
    for i in range(len(net) - 1, -1, -1):
        grads[i] = (acts[i].T @ delta, delta.sum(axis=0))
        if i > 0:
            delta = (delta @ net[i][0].T) * df(zs[i - 1], acts[i])
    return loss, grads


def _finite(net) -> bool:
    return all(np.isfinite(W.sum()) and np.isfinite(b.sum()) for W, b in net)


# --- training -----------------------------------------------------------------------------------


class _Optimizer:
    def __init__(self, net, lr, kind, beta):
        self.lr = np.asarray(lr, dtype=net[0][0].dtype)
        self.beta = beta
        self.velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in net] if kind else None

    def step(self, net, grads, factor=1.0):
        if factor != 1.0:
            raise ValueError("the loop schedules Adam only")
        if self.velocity is not None:
            for (vW, vb), (gW, gb) in zip(self.velocity, grads, strict=True):
                vW *= self.beta
                vW += gW
                vb *= self.beta
                vb += gb
            grads = self.velocity
        for (W, b), (gW, gb) in zip(net, grads, strict=True):
            W -= self.lr * gW
            b -= self.lr * gb


class _Adam:
    """torch.optim.Adam (no weight decay): m, v from zero; bias-corrected; eps outside the root."""

    def __init__(self, net, lr, betas, eps):
        self.lr, (self.b1, self.b2), self.eps = float(lr), betas, eps
        self.m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in net]
        self.v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in net]
        self.t = 0

    def step(self, net, grads, factor=1.0):
        self.t += 1
        step_size = self.lr * factor / (1 - self.b1**self.t)
        root = (1 - self.b2**self.t) ** 0.5
        for layer, gs in enumerate(grads):
            for j, g in enumerate(gs):
                m, v, p = self.m[layer][j], self.v[layer][j], net[layer][j]
                m *= self.b1
                m += (1 - self.b1) * g
                v *= self.b2
                v += (1 - self.b2) * g * g
                p -= (step_size * m / (np.sqrt(v) / root + self.eps)).astype(p.dtype)


def schedule_factor(sched, t: int, total: int) -> float:
    """PyTorch's SequentialLR(LinearLR warmup, CosineAnnealingLR) multiplier at step t (the
    loop's own copy: constant or cosine after the warmup)."""
    w = sched.warmup_steps
    if t < w:
        return sched.start_factor + (1 - sched.start_factor) * t / w
    if sched.kind == "constant":
        return 1.0
    if sched.kind != "cosine":
        raise ValueError(f"the loop schedules constant and cosine only, not {sched.kind}")
    lo = sched.min_factor
    return lo + (1 - lo) * (1 + math.cos(math.pi * (t - w) / max(total - w, 1))) / 2


def train_run(cfg, X, Y, lr, scale, seed):
    """Train one run; returns (losses (E+1,) float64 with NaN from divergence on, diverged epoch
    or -1). ``X``, ``Y`` are already in the training dtype."""
    t, spec = cfg.training, cfg.model
    E = t.epochs
    f, df = ACT[spec.activation]
    head = HEADS[(spec.output, spec.loss)]
    sizes = [X.shape[1], *spec.hidden, Y.shape[1]]
    net = init_network(sizes, cfg.init.scheme, scale, seed, X.dtype)
    if t.optimizer == "adam":
        opt = _Adam(net, lr, t.betas, t.eps)
    else:
        opt = _Optimizer(net, lr, t.optimizer == "momentum", t.momentum)
    losses = np.full(E + 1, np.nan)
    n_steps = E if t.batch_size is None else E * -(-len(X) // t.batch_size)
    steps = 0

    def factor() -> float:
        nonlocal steps
        steps += 1
        return schedule_factor(t.schedule, steps - 1, n_steps)

    if t.batch_size is None:
        for k in range(E + 1):
            if k < E:
                loss, grads = loss_and_grads(net, X, Y, f, df, head)
            else:
                loss = loss_only(net, X, Y, f, head)
            if not (np.isfinite(loss) and _finite(net)):
                return losses, k
            losses[k] = loss
            if k < E:
                opt.step(net, grads, factor())
        return losses, -1

    loss = loss_only(net, X, Y, f, head)
    if not (np.isfinite(loss) and _finite(net)):
        return losses, 0
    losses[0] = loss
    n, bs = len(X), t.batch_size
    shuffle = np.random.default_rng([int(cfg.data.seed), SHUFFLE_TAG])
    for k in range(1, E + 1):
        order = shuffle.permutation(n)
        Xs, Ys = X[order], Y[order]
        total = 0.0
        for start in range(0, n, bs):
            xb, yb = Xs[start : start + bs], Ys[start : start + bs]
            loss, grads = loss_and_grads(net, xb, yb, f, df, head)
            total += float(loss)
            opt.step(net, grads, factor())
            if not (np.isfinite(total) and _finite(net)):
                return losses, k
        losses[k] = total / -(-n // bs)
    return losses, -1


@dataclass
class LoopResult:
    loss: np.ndarray  # (R, E+1) float64, NaN from a run's diverged epoch on
    diverged_epoch: np.ndarray  # (R,) int, -1 for a run that stayed finite
    seconds: float


def train_runs(cfg, dataset, runs) -> LoopResult:
    """Train ``runs`` (lrdiag.sweep.Run-like: learning_rate, init_scale, seed) one at a time."""
    dtype = np.dtype(cfg.training.dtype)
    X = np.ascontiguousarray(dataset.X, dtype=dtype)
    Y = np.ascontiguousarray(dataset.Y, dtype=dtype)
    loss = np.full((len(runs), cfg.training.epochs + 1), np.nan)
    diverged = np.full(len(runs), -1, dtype=np.int64)
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        for i, run in enumerate(runs):
            loss[i], diverged[i] = train_run(cfg, X, Y, run.learning_rate, run.init_scale, run.seed)
    return LoopResult(loss, diverged, time.perf_counter() - start)


# --- self-check: ``python -m benchmarks.loop`` ---------------------------------------------------

FLOAT64_RTOL = 1e-10  # loop vs engine, float64, small cases (measured: 3e-16)


def self_check() -> float:
    """The loop against lrdiag's engine on small float64 cases of every workload's shape (full
    batch and mini-batch, sgd, momentum and Adam with warmup, stable learning rates: at
    unstable ones, the dynamics amplify any reordering of the arithmetic, e.g. a bias folded
    into a product, far beyond rounding): the largest relative difference of any recorded
    loss. Raises if above FLOAT64_RTOL or if the runs that diverge differ."""
    from benchmarks import workloads as wl
    from lrdiag import sweep

    cases = [
        (wl.W1, {"training.epochs": 30, "model.hidden": [8, 5], "data.n_samples": 100,
                 "sweep.learning_rates": [0.01, 0.1, 0.5]}),
        (wl.W2, {"training.epochs": 2, "data.n_samples": 300, "data.n_features": 20,
                 "model.hidden": [8, 6], "training.batch_size": 64,
                 "sweep.learning_rates": [0.01, 0.1, 0.3]}),
        (wl.W3, {"training.epochs": 50, "training.optimizer": "momentum",
                 "sweep.learning_rates": [0.01, 0.1, 0.5]}),
        (wl.W4, {"training.epochs": 30, "model.hidden": [8, 5], "data.n_samples": 100,
                 "sweep.learning_rates": [1e-3, 1e-2, 0.1]}),
    ]  # fmt: skip
    worst = 0.0
    for spec, changes in cases:
        w = wl.build(wl._override(spec, {**changes, "training.dtype": "float64"}))
        runs = sweep.expand_grid(w.cfg)
        eng = sweep.train(w.cfg, w.dataset, runs)
        ref = train_runs(w.cfg, w.dataset, runs)
        if not np.array_equal(np.isnan(eng.loss), np.isnan(ref.loss)):
            raise AssertionError(f"{w.name}: engine and loop diverge on different runs/epochs")
        ok = np.isfinite(ref.loss)
        rel = np.abs(eng.loss[ok] - ref.loss[ok]) / np.maximum(np.abs(ref.loss[ok]), 1e-300)
        worst = max(worst, float(rel.max()))
    if worst > FLOAT64_RTOL:
        raise AssertionError(f"loop vs engine in float64: max rel diff {worst:.1e}")
    return worst


if __name__ == "__main__":
    print(f"loop vs engine, float64: max rel diff {self_check():.1e} (limit {FLOAT64_RTOL:g})")
