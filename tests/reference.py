"""A plain, one-network-at-a-time NumPy MLP: the independent computation the tests check against.

Nothing here is batched over runs and nothing is imported from lrdiag: one network's weights are
a list of 2-D matrices and 1-D biases, the forward pass is an explicit loop over layers, the
losses are written straight from PyTorch's definitions, backprop is done by hand, and the
optimizers are PyTorch's update rules for one parameter list. Slow and obvious on purpose.

    params: list of (W (in, out), b (out,)) for one network, float64
    forward(params, X, activation) -> logits (n, k) of the output layer, before the head
"""

from __future__ import annotations

import numpy as np

LEAKY_SLOPE = 0.01  # PyTorch's nn.LeakyReLU default negative_slope


# --- activations: value and derivative (w.r.t. the pre-activation) --------------------------


def act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "identity":
        return z.copy()
    raise ValueError(name)


def act_grad(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, LEAKY_SLOPE)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    if name == "identity":
        return np.ones_like(z)
    raise ValueError(name)


# --- forward -----------------------------------------------------------------------------


def forward(params, X, activation):
    """Return (pre-activations per layer, activations per layer); the last z is the logits."""
    a = X
    zs, acts = [], [X]
    for i, (W, b) in enumerate(params):
        z = a @ W + b
        zs.append(z)
        a = z if i == len(params) - 1 else act(activation, z)
        acts.append(a)
    return zs, acts


# --- losses from the PyTorch formulas ------------------------------------------------------


def head_loss(z, Y, output, loss):
    """Loss of logits z (n, k) against Y (n, k), as PyTorch defines it (mean reductions)."""
    n = z.shape[0]
    if (output, loss) == ("sigmoid", "bce"):
        # nn.BCELoss on sigmoid(z): -(y log p + (1 - y) log(1 - p)), mean over samples.
        # Written directly; valid while p stays away from 0 and 1 (moderate logits).
        p = 1.0 / (1.0 + np.exp(-z))
        return float(np.sum(-(Y * np.log(p) + (1.0 - Y) * np.log(1.0 - p))) / n)
    if loss == "cross_entropy":  # softmax, or sigmoid as tf.keras reads it (its logits)
        # nn.CrossEntropyLoss with probability / one-hot targets: -sum_k y_k log softmax(z)_k.
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return float(np.sum(-(Y * np.log(p))) / n)
    if (output, loss) == ("identity", "mse"):
        return float(np.sum((z - Y) ** 2) / Y.size)
    if (output, loss) == ("sigmoid", "mse"):
        p = 1.0 / (1.0 + np.exp(-z))
        return float(np.sum((p - Y) ** 2) / Y.size)
    raise ValueError((output, loss))


def head_loss_exact(z, Y, output, loss):
    """Same loss, rewritten per element so that huge logits are exact (for stability checks).

    bce:  log(1 + e^-z) for y=1 and log(1 + e^z) for y=0, with log(1 + e^t) = t + log1p(e^-t)
    for t > 0.  ce: logsumexp(z) - z_y written with the max subtracted first.
    """
    n = z.shape[0]
    if loss == "bce":

        def softplus(t):
            return np.where(t > 0, t + np.log1p(np.exp(-np.abs(t))), np.log1p(np.exp(-np.abs(t))))

        return float(np.sum(Y * softplus(-z) + (1.0 - Y) * softplus(z)) / n)
    if loss == "cross_entropy":
        m = z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.sum(np.exp(z - m), axis=1))
        return float(np.sum(lse * Y.sum(axis=1) - np.sum(Y * z, axis=1)) / n)
    return head_loss(z, Y, output, loss)


def head_grad(z, Y, output, loss):
    """d loss / d logits (n, k), by hand."""
    n = z.shape[0]
    if (output, loss) == ("sigmoid", "bce"):
        p = 1.0 / (1.0 + np.exp(-z))
        return (p - Y) / n
    if loss == "cross_entropy":  # softmax, or sigmoid as tf.keras reads it (its logits)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return (p * Y.sum(axis=1, keepdims=True) - Y) / n
    if (output, loss) == ("identity", "mse"):
        return 2.0 * (z - Y) / Y.size
    if (output, loss) == ("sigmoid", "mse"):
        p = 1.0 / (1.0 + np.exp(-z))
        return 2.0 * (p - Y) * p * (1.0 - p) / Y.size
    raise ValueError((output, loss))


def loss(params, X, Y, spec) -> float:
    zs, _ = forward(params, X, spec.activation)
    return head_loss(zs[-1], Y, spec.output, spec.loss)


def loss_and_grads(params, X, Y, spec):
    """Return (loss, [(dW, db), ...]) for one network by hand-written backprop."""
    zs, acts = forward(params, X, spec.activation)
    value = head_loss(zs[-1], Y, spec.output, spec.loss)
    delta = head_grad(zs[-1], Y, spec.output, spec.loss)  # d loss / d z of the current layer
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        W, _ = params[i]
        grads[i] = (acts[i].T @ delta, delta.sum(axis=0))
        if i > 0:
            delta = (delta @ W.T) * act_grad(spec.activation, zs[i - 1])
    return value, grads


# --- optimizers (torch.optim.SGD, dampening 0, nesterov False) -------------------------------


def sgd_step(params, grads, lr):
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads, strict=True)]


def momentum_step(params, grads, bufs, lr, beta):
    """One torch SGD(momentum=beta) step: buf = g at the first step, else beta*buf + g."""
    if bufs is None:
        new_bufs = [(dW.copy(), db.copy()) for dW, db in grads]
    else:
        new_bufs = [
            (beta * bW + dW, beta * bb + db) for (bW, bb), (dW, db) in zip(bufs, grads, strict=True)
        ]
    new_params = [
        (W - lr * bW, b - lr * bb) for (W, b), (bW, bb) in zip(params, new_bufs, strict=True)
    ]
    return new_params, new_bufs


# --- training loop for one run --------------------------------------------------------------


def _finite(params) -> bool:
    return all(np.all(np.isfinite(W)) and np.all(np.isfinite(b)) for W, b in params)


def train_one(
    params,
    X,
    Y,
    spec,
    lr,
    *,
    epochs,
    optimizer="sgd",
    beta=0.9,
    batches=None,
    X_val=None,
    Y_val=None,
):
    """Train one network; return (loss (E+1,), val_loss (E+1,) or None, diverged_epoch).

    batches: None for full batch, else a list (one per epoch) of lists of index arrays.
    loss[0] is the full-data loss at the initial weights; full batch: loss[k] is the loss after
    k updates; mini-batch: loss[k] is the mean of epoch k's step losses (each step's loss is
    taken at the weights before that step's update). val_loss[k] is the validation loss at the
    weights after epoch k. The first non-finite epoch (loss or weights) is the diverged epoch;
    from it on both histories are NaN.
    """
    with np.errstate(all="ignore"):  # a diverging reference run overflows; NaN is the record
        return _train_one(params, X, Y, spec, lr, epochs, optimizer, beta, batches, X_val, Y_val)


def _train_one(params, X, Y, spec, lr, epochs, optimizer, beta, batches, X_val, Y_val):
    params = [(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)) for W, b in params]
    hist = np.full(epochs + 1, np.nan)
    val = None if X_val is None else np.full(epochs + 1, np.nan)
    bufs = None

    def step(p, g):
        nonlocal bufs
        if optimizer == "sgd":
            return sgd_step(p, g, lr)
        p, bufs = momentum_step(p, g, bufs, lr, beta)
        return p

    hist[0] = loss(params, X, Y, spec)
    if val is not None:
        val[0] = loss(params, X_val, Y_val, spec)
    if not np.isfinite(hist[0]) or (val is not None and not np.isfinite(val[0])):
        hist[0] = np.nan
        return hist, val, 0
    for k in range(1, epochs + 1):
        if batches is None:
            _, g = loss_and_grads(params, X, Y, spec)
            params = step(params, g)
            value = loss(params, X, Y, spec) if _finite(params) else np.nan
        else:
            step_losses = []
            for idx in batches[k - 1]:
                value, g = loss_and_grads(params, X[idx], Y[idx], spec)
                step_losses.append(value)
                params = step(params, g)
            value = float(np.mean(step_losses))
        v = None
        if val is not None and _finite(params):
            v = loss(params, X_val, Y_val, spec)
        if not (np.isfinite(value) and _finite(params) and (val is None or np.isfinite(v))):
            return hist, val, k
        hist[k] = value
        if val is not None:
            val[k] = v
    return hist, val, -1
