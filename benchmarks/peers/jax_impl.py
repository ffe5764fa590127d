"""The workloads in JAX: ``jax.vmap`` over runs of one run's whole training, ``jax.jit``-ed.

One run's training is a pure function of its parameters and learning rate: full batch, a
``lax.scan`` over the epochs; mini-batch, a scan over epochs of a scan over batches, visiting
the samples in the engine's order (the same permutations, passed in). ``vmap`` maps it over the
runs (data shared), ``jit`` compiles the lot. Compilation is excluded from the timing: the
function is compiled ahead of time (``.lower(...).compile()``) and only the compiled call is
timed, up to ``block_until_ready``.

Same math as lrdiag (init from lrdiag's ``init_params``, mean losses from the logits, plain
SGD, the loss recorded before each full-batch update, the mean of the batch losses for a
mini-batch epoch, a last partial batch included). A conv net (W5) is lrdiag.convnet's
network in ``jax.lax``: ``conv_general_dilated`` (NCHW, OIHW: PyTorch's layout, with the
engine's explicit padding), ``reduce_window`` for pooling, a C-order flatten. Runs that
diverge are not dropped (vmap cannot); their losses are set to NaN from the first non-finite
one afterwards, as the engine records them.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from lrdiag import convnet, layers, model, sweep

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


def _conv_forward(net: convnet.Net):
    """Logits of one run's conv net: ``params`` a tuple of (W, b) per parameter layer (kernels
    (O, C, k, k), dense weights (in, out)), ``a`` a batch of images (B, C, H, W)."""

    def pool(a, size, init, op):
        window = (1, 1, size, size)
        return jax.lax.reduce_window(a, init, op, window, window, "VALID")

    def forward(params, a):
        for layer in net.layers:
            if layer.kind == "conv2d":
                W, b = params[layer.index - 1]
                (_, H, Wd) = layer.in_shape
                _, pads = layers.geometry2d(H, Wd, layer.kernel, layer.stride, layer.padding)
                a = jax.lax.conv_general_dilated(
                    a, W, (layer.stride, layer.stride), (pads[:2], pads[2:]),
                    dimension_numbers=("NCHW", "OIHW", "NCHW"),
                ) + b[None, :, None, None]  # fmt: skip
            elif layer.kind == "dense":
                W, b = params[layer.index - 1]
                a = a @ W + b
            elif layer.kind == "maxpool":
                a = pool(a, layer.size, -jnp.inf, jax.lax.max)
            elif layer.kind == "avgpool":
                a = pool(a, layer.size, 0.0, jax.lax.add) / (layer.size * layer.size)
            else:
                a = a.reshape(a.shape[0], -1)
            if layer.activation:
                a = ACT[layer.activation](a)
        return a

    return forward


def _loss_fn(spec, net=None):
    head = _head(spec.output, spec.loss)
    if isinstance(net, convnet.Net):
        forward = _conv_forward(net)
        return lambda params, X, Y: head(forward(params, X), Y)
    f = ACT[spec.activation]

    def loss(params, X, Y):  # params: tuple of (W (in, out), b (out,)) for one run
        a = X
        for W, b in params[:-1]:
            a = f(a @ W + b)
        W, b = params[-1]
        return head(a @ W + b, Y)

    return loss


def _train_fn(cfg, n: int, net=None):
    loss = _loss_fn(cfg.model, net)
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

    nb, rest = divmod(n, bs)  # whole batches, and the samples of a last partial one

    def train(params, lr, X, Y, orders):
        def step(p, xy):
            value, g = value_and_grad(p, *xy)
            return sgd(p, g, lr), value

        def epoch(p, order):
            Xs, Ys = X[order], Y[order]
            Xb = Xs[: nb * bs].reshape(nb, bs, *X.shape[1:])
            Yb = Ys[: nb * bs].reshape(nb, bs, *Y.shape[1:])
            p, values = jax.lax.scan(step, p, (Xb, Yb))
            total = jnp.sum(values)
            if rest:
                p, value = step(p, (Xs[nb * bs :], Ys[nb * bs :]))
                total = total + value
            return p, total / (nb + (rest > 0))

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
    X = jnp.asarray(sweep.inputs(cfg, np.asarray(dataset.X, dtype=dtype), dataset))
    Y = jnp.asarray(dataset.Y, dtype=dtype)
    sizes = sweep.architecture(cfg, sweep.input_shape(dataset), Y.shape[1])
    p = sweep.network(cfg).init_params(
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
    fn = jax.jit(jax.vmap(_train_fn(cfg, len(X), sizes), in_axes=(0, 0, None, None, None)))
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
