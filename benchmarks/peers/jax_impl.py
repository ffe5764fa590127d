"""The workloads in JAX: ``jax.vmap`` over runs of one run's whole training, ``jax.jit``-ed.

One run's training is a pure function of its parameters and learning rate: full batch, a
``lax.scan`` over the epochs; mini-batch, a scan over epochs of a scan over batches, visiting
the samples in the engine's order (the same permutations, passed in). ``vmap`` maps it over the
runs (data shared), ``jit`` compiles the lot. Compilation is excluded from the timing: the
function is compiled ahead of time (``.lower(...).compile()``) and only the compiled call is
timed, up to ``block_until_ready``.

Same math as lrdiag (init from lrdiag.model.init_params, mean losses from the logits, plain
SGD, the loss recorded before each full-batch update, the mean of the batch losses for a
mini-batch epoch). Runs that diverge are not dropped (vmap cannot); their losses are set to NaN
from the first non-finite one afterwards, as the engine records them.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from lrdiag import model, sweep

NAME = "jax vmap+jit"

ACT = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "leaky_relu": lambda z: jax.nn.leaky_relu(z, 0.01),
    "identity": lambda z: z,
}


def _head(output, loss):
    if (output, loss) == ("sigmoid", "bce"):
        return lambda z, y: jnp.mean(jax.nn.softplus(z) - y * z)
    if (output, loss) == ("softmax", "cross_entropy"):
        return lambda z, y: -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z, axis=-1), axis=-1))
    if (output, loss) == ("identity", "mse"):
        return lambda z, y: jnp.mean((z - y) ** 2)
    return lambda z, y: jnp.mean((jax.nn.sigmoid(z) - y) ** 2)


def _loss_fn(spec):
    f, head = ACT[spec.activation], _head(spec.output, spec.loss)

    def loss(params, X, Y):  # params: tuple of (W (in, out), b (out,)) for one run
        a = X
        for W, b in params[:-1]:
            a = f(a @ W + b)
        W, b = params[-1]
        return head(a @ W + b, Y)

    return loss


def _train_fn(cfg, n: int):
    loss = _loss_fn(cfg.model)
    value_and_grad = jax.value_and_grad(loss)
    E, bs = cfg.training.epochs, cfg.training.batch_size

    def sgd(p, g, lr):
        return jax.tree_util.tree_map(lambda w, gw: w - lr * gw, p, g)

    if bs is None:

        def train(params, lr, X, Y, orders):
            def step(p, _):
                value, g = value_and_grad(p, X, Y)
                return sgd(p, g, lr), value

            p, values = jax.lax.scan(step, params, None, length=E)
            return jnp.concatenate([values, loss(p, X, Y)[None]])

        return train

    if n % bs:
        raise ValueError(f"the JAX peer needs whole batches: {n} samples, batch size {bs}")
    nb = n // bs

    def train(params, lr, X, Y, orders):
        def epoch(p, order):
            Xb = X[order].reshape(nb, bs, X.shape[1])
            Yb = Y[order].reshape(nb, bs, Y.shape[1])

            def step(p, xy):
                value, g = value_and_grad(p, *xy)
                return sgd(p, g, lr), value

            p, values = jax.lax.scan(step, p, (Xb, Yb))
            return p, jnp.mean(values)

        first = loss(params, X, Y)
        _, per_epoch = jax.lax.scan(epoch, params, orders)
        return jnp.concatenate([first[None], per_epoch])

    return train


def _nan_after_divergence(curves: np.ndarray) -> np.ndarray:
    curves = np.array(curves, dtype=np.float64)
    bad = ~np.isfinite(curves)
    first = np.where(bad.any(axis=1), bad.argmax(axis=1), curves.shape[1])
    curves[np.arange(curves.shape[1])[None, :] >= first[:, None]] = np.nan
    return curves


def prepare(cfg, dataset, runs):
    """Compile (not timed) and return ``call() -> (R, E+1) float64 losses``."""
    dtype = np.dtype(cfg.training.dtype)
    X = jnp.asarray(dataset.X, dtype=dtype)
    Y = jnp.asarray(dataset.Y, dtype=dtype)
    sizes = model.layer_sizes(X.shape[1], cfg.model.hidden, Y.shape[1])
    p = model.init_params(
        sizes, cfg.init.scheme, [r.init_scale for r in runs], [r.seed for r in runs], dtype
    )
    L = model.n_layers(p)
    params = tuple(
        (jnp.asarray(p[f"W{i}"]), jnp.asarray(p[f"b{i}"][:, 0])) for i in range(1, L + 1)
    )
    lrs = jnp.asarray([r.learning_rate for r in runs], dtype=dtype)
    orders = jnp.asarray(
        np.stack(list(sweep.epoch_orders(len(X), cfg.training.epochs, cfg.data.seed)))
    )
    if cfg.training.optimizer != "sgd":
        raise ValueError("the JAX peer implements plain sgd only")
    fn = jax.jit(jax.vmap(_train_fn(cfg, len(X)), in_axes=(0, 0, None, None, None)))
    compiled = fn.lower(params, lrs, X, Y, orders).compile()

    def call():
        out = compiled(params, lrs, X, Y, orders)
        out.block_until_ready()
        return _nan_after_divergence(np.asarray(out))

    return call


def train(cfg, dataset, runs):
    """(losses (R, E+1), seconds of the compiled call only)."""
    call = prepare(cfg, dataset, runs)
    t = time.perf_counter()
    losses = call()
    return losses, time.perf_counter() - t
