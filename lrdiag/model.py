"""Batched multi-layer perceptron, backprop by hand.

Contract (stax-style): ``init_params(sizes, scheme, scales, seeds, dtype)`` returns a dict
``{"W1": (R, in, out), "b1": (R, 1, out), "W2": ..., ...}``; ``forward`` and
``loss_and_grads`` take that dict, shared data ``X (B, in)`` and targets ``Y (B, k)``, and
return per-run losses ``(R,)`` and gradients with exactly the shapes of the parameters.
Runs never mix: every product is batched over axis 0, every reduction is over samples.

Losses are means, as PyTorch defines them: ``mse`` over samples and outputs, ``bce`` and
``cross_entropy`` over samples, computed from the logits so that no log(0) can occur.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from lrdiag import weights

LEAKY_RELU_SLOPE = 0.01  # negative-side slope of leaky_relu (PyTorch's default)


# --------------------------------------------------------------------------- activations


class Activation(NamedTuple):
    """``f(z)`` and its derivative ``df(z, a)``, plus the in-place forms the hot path uses.

    Every derivative here can be computed from the output ``a = f(z)`` alone, so backprop
    keeps only the activations: ``activate(z)`` writes f(z) over z; ``scale_by_df(d, a)``
    multiplies ``d`` in place by f'(z) and may overwrite ``a`` (dead by then) as scratch;
    ``df_over(a)``, when the activation has one, writes f'(z) over ``a`` exactly as ``df``
    computes it (sigmoid has none: a(1 - a) in place would need 0.25 - (a - 0.5)^2, which
    cancels catastrophically where the sigmoid saturates).
    """

    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]
    activate: Callable[[np.ndarray], object]  # its value is not used
    scale_by_df: Callable[[np.ndarray, np.ndarray], None]
    df_over: Callable[[np.ndarray], None] | None


def _sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    # 0.5 * (1 + tanh(z / 2)) never overflows, unlike 1 / (1 + exp(-z)).
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def _tanh_df_over(a):
    np.multiply(a, a, out=a)
    np.subtract(1, a, out=a)  # 1 - a^2


def _relu_df_over(a):
    np.greater(a, 0, out=a)  # 1 where a = relu(z) > 0 (exactly where z > 0), else 0


def _leaky_df_over(a):
    np.greater(a, 0, out=a)
    a *= 1 - LEAKY_RELU_SLOPE
    a += LEAKY_RELU_SLOPE  # 1 where z > 0, else the slope


def _scale_by(df_over):
    def scale(d, a):
        df_over(a)
        d *= a

    return scale


def _sigmoid_scale(d, a):
    d *= a
    np.subtract(1, a, out=a)
    d *= a  # d * a * (1 - a)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        lambda z: np.maximum(z, 0),
        lambda z, a: (z > 0).astype(z.dtype),
        lambda z: np.maximum(z, 0, out=z),
        _scale_by(_relu_df_over),
        _relu_df_over,
    ),
    "tanh": Activation(
        np.tanh,
        lambda z, a: 1 - a * a,
        lambda z: np.tanh(z, out=z),
        _scale_by(_tanh_df_over),
        _tanh_df_over,
    ),
    "sigmoid": Activation(
        _sigmoid,
        lambda z, a: a * (1 - a),
        lambda z: _sigmoid(z, out=z),
        _sigmoid_scale,
        None,
    ),
    "leaky_relu": Activation(
        lambda z: np.where(z > 0, z, LEAKY_RELU_SLOPE * z),
        lambda z, a: np.where(z > 0, 1, LEAKY_RELU_SLOPE).astype(z.dtype),
        lambda z: np.multiply(z, LEAKY_RELU_SLOPE, out=z, where=z < 0),
        _scale_by(_leaky_df_over),
        _leaky_df_over,
    ),
    "identity": Activation(
        lambda z: z,
        lambda z, a: np.ones_like(z),
        lambda z: None,
        lambda d, a: None,
        lambda a: a.fill(1),
    ),
}


# --------------------------------------------------------------------------- output heads


class Head(NamedTuple):
    """Loss per run from the logits, and its gradient with respect to the logits."""

    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (R, B, k), (B, k) -> (R,)
    dlogits: Callable[[np.ndarray, np.ndarray], np.ndarray]  # -> (R, B, k), already / B
    predict: Callable[[np.ndarray], np.ndarray]  # logits -> output activation
    both: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None

    def loss_and_dlogits(self, z, y):
        """``(loss, dlogits)``, sharing work between them where the head can."""
        return self.both(z, y) if self.both else (self.loss(z, y), self.dlogits(z, y))


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _bce_loss(z, y):
    # BCEWithLogits: log(1 + e^z) - y z, averaged over samples (one output).
    return (_softplus(z) - y * z).mean(axis=(-2, -1))


def _bce_grad(z, y):
    return (_sigmoid(z) - y) / z.shape[-2]


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _softmax(z):
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _ce_loss(z, y):
    return -(y * _log_softmax(z)).sum(axis=-1).mean(axis=-1)


def _ce_grad(z, y):
    return (_softmax(z) - y) / z.shape[-2]


def _ce_both(z, y):
    # One exp serves both: log-sum-exp for the loss, the softmax for the gradient.
    s = z - z.max(axis=-1, keepdims=True)
    picked = (y * s).sum(axis=-1)  # (R, B): the shifted logit of the target
    np.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    loss = (np.log(total[..., 0]) - picked).mean(axis=-1)
    s /= total
    s -= y
    s /= z.shape[-2]
    return loss, s


def _mse_loss(z, y):
    return ((z - y) ** 2).mean(axis=(-2, -1))


def _mse_grad(z, y):
    return 2 * (z - y) / (z.shape[-2] * z.shape[-1])


def _sigmoid_mse_loss(z, y):
    return ((_sigmoid(z) - y) ** 2).mean(axis=(-2, -1))


def _sigmoid_mse_grad(z, y):
    p = _sigmoid(z)
    return 2 * (p - y) * p * (1 - p) / (z.shape[-2] * z.shape[-1])


HEADS: dict[tuple[str, str], Head] = {
    ("sigmoid", "bce"): Head(_bce_loss, _bce_grad, _sigmoid),
    ("softmax", "cross_entropy"): Head(_ce_loss, _ce_grad, _softmax, _ce_both),
    ("identity", "mse"): Head(_mse_loss, _mse_grad, lambda z: z),
    ("sigmoid", "mse"): Head(_sigmoid_mse_loss, _sigmoid_mse_grad, _sigmoid),
    # tf.keras's Dense(k, activation="sigmoid") with categorical_crossentropy: the loss is the
    # softmax cross-entropy of the logits the sigmoid cached (_keras_logits), the sigmoid takes
    # no part in it; predictions go through the sigmoid (docs/keras_question.md)
    ("sigmoid", "cross_entropy"): Head(_ce_loss, _ce_grad, _sigmoid, _ce_both),
}


# --------------------------------------------------------------------------- initialisation


# A draw is (rng, fan_in, fan_out, shape=None) -> array of ``shape``, default (fan_in, fan_out);
# a conv kernel passes its own shape with PyTorch's fans (lrdiag.convnet).
def _uniform01(rng, fan_in, fan_out, shape=None):
    return rng.random(shape or (fan_in, fan_out))


def _normal(rng, fan_in, fan_out, shape=None):
    return rng.standard_normal(shape or (fan_in, fan_out))


def _scaled_normal(variance: Callable[[int, int], float]):
    def draw(rng, fan_in, fan_out, shape=None):
        return rng.standard_normal(shape or (fan_in, fan_out)) * np.sqrt(variance(fan_in, fan_out))

    return draw


INIT_SCHEMES: dict[str, Callable[..., np.ndarray]] = {
    "uniform01": _uniform01,  # U[0, 1), like np.random.rand
    "normal": _normal,  # N(0, 1)
    "xavier": _scaled_normal(lambda i, o: 2.0 / (i + o)),  # Glorot normal, untruncated
    "he": _scaled_normal(lambda i, o: 2.0 / i),  # Kaiming normal (fan_in), untruncated
    "lecun": _scaled_normal(lambda i, o: 1.0 / i),  # LeCun normal, untruncated
}


def layer_sizes(n_in: int, hidden: Sequence[int], n_out: int) -> list[int]:
    return [int(n_in), *(int(h) for h in hidden), int(n_out)]


def n_layers(params: dict[str, np.ndarray]) -> int:
    return sum(1 for key in params if key.startswith("W"))


def init_params(
    sizes: Sequence[int],
    scheme: str | Sequence[str],
    scales: npt.ArrayLike,
    seeds: npt.ArrayLike,
    dtype=np.float32,
    path: str | None = None,
) -> dict[str, np.ndarray]:
    """Initial weights for R runs; run r draws from ``seeds[r]`` and is multiplied by ``scales[r]``.

    ``scheme``: one for every weight matrix, or a sequence of one per matrix (in layer order).
    The draws of a seed do not depend on the scale or on the other runs, so two runs that share
    a seed start from the same weights up to their scale. Biases start at zero.
    ``scheme="file"``: every run starts from the weights in ``path`` (lrdiag.weights), times
    its scale, whatever its seed.
    """
    if scheme == "file":
        return weights.from_file(path, sizes, scales, dtype)
    schemes = [scheme] * (len(sizes) - 1) if isinstance(scheme, str) else list(scheme)
    if len(schemes) != len(sizes) - 1:
        raise ValueError(f"{len(schemes)} init schemes for {len(sizes) - 1} weight matrices")
    draws = [INIT_SCHEMES[name] for name in schemes]
    scales = np.asarray(scales, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.int64)
    unique = np.unique(seeds)
    base = {}
    for seed in unique:  # loop over distinct seeds (not runs): a few draws, shared by many runs
        rng = np.random.default_rng(int(seed))
        base[int(seed)] = [
            draw(rng, fi, fo) for draw, fi, fo in zip(draws, sizes[:-1], sizes[1:], strict=True)
        ]
    params: dict[str, np.ndarray] = {}
    for layer, fan_out in enumerate(sizes[1:], start=1):
        stacked = np.stack([base[int(s)][layer - 1] for s in seeds])  # (R, in, out)
        params[f"W{layer}"] = (stacked * scales[:, None, None]).astype(dtype)
        params[f"b{layer}"] = np.zeros((len(seeds), 1, fan_out), dtype=dtype)
    return params


# --------------------------------------------------------------------------- forward/backward


def _linear(a: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, W) + b  # (B, in) or (R, B, in) @ (R, in, out) -> (R, B, out)


def forward(params, X, spec, *, keep: bool = False):
    """Logits ``(R, B, k)``; with ``keep`` also the per-layer ``(input, z, a)`` for backprop."""
    act = ACTIVATIONS[spec.activation]
    L = n_layers(params)
    a = X
    cache: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    for layer in range(1, L):
        z = _linear(a, params[f"W{layer}"], params[f"b{layer}"])  # (R, B, H)
        h = act.f(z)
        if keep:
            cache.append((a, z, h))
        a = h
    logits = _linear(a, params[f"W{L}"], params[f"b{L}"])  # (R, B, k)
    if keep:
        cache.append((a, logits, None))
    return (logits, cache) if keep else logits


def head_for(spec) -> Head:
    return HEADS[(spec.output, spec.loss)]


BLOCK_BYTES = 4 << 20  # activations and deltas of one block of runs: about a core's L2 cache


def run_block(sizes: Sequence[int], rows: int, itemsize: int) -> int:
    """Runs per block: their activations and deltas (``rows`` samples) fill ``BLOCK_BYTES``."""
    return max(1, BLOCK_BYTES // (2 * rows * sum(sizes[1:]) * itemsize))


def _sizes(params, X) -> list[int]:
    return [X.shape[-1]] + [params[f"W{i}"].shape[-1] for i in range(1, n_layers(params) + 1)]


def loss(params, X, Y, spec) -> np.ndarray:
    """Per-run mean loss ``(R,)``, computed a block of runs at a time (bounded memory)."""
    R = params["W1"].shape[0]
    rb = run_block(_sizes(params, X), X.shape[-2], params["W1"].dtype.itemsize)
    head = head_for(spec)
    out = np.empty(R, dtype=params["W1"].dtype)
    for lo in range(0, R, rb):
        block = {k: v[lo : lo + rb] for k, v in params.items()}
        out[lo : lo + rb] = head.loss(forward(block, X, spec), Y)
    return out


class Workspace:
    """Buffers that ``loss_and_grads`` reuses from one step to the next.

    Fresh large arrays are expensive (page faults on every step); a training loop passes the
    same workspace to every call. Buffers are keyed by name, shape and dtype, and all are
    dropped when the number of runs changes (a diverged run left the chunk). Gradients
    returned with a workspace live in it: they are valid until the next call.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple, np.ndarray] = {}
        self._runs = -1

    def begin(self, runs: int) -> None:
        """Start a call for ``runs`` runs: a different count drops every buffer."""
        if runs != self._runs:
            self._buffers.clear()
            self._runs = runs

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        key = (name, shape, np.dtype(dtype))
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(shape, dtype=dtype)
        return buf


def wide_first_layer(params, rows: int) -> bool:
    """Whether ``loss_and_grads`` on batches of ``rows`` samples takes the first layer of all
    runs as one product: a hidden layer follows, X is too wide to fold the bias in
    (``in + 1 >= rows``), and W1 is stored transposed, ``(R, out, in)`` in C order
    (``training_layout``)."""
    return _wide_fits(params, rows) and np.swapaxes(params["W1"], -1, -2).flags.c_contiguous


def _wide_fits(params, rows: int) -> bool:
    """A hidden layer follows the first, and X (``in`` wide) is too wide for its bias to fold
    into batches of ``rows`` samples: where the wide first layer is the faster product."""
    return n_layers(params) > 1 and params["W1"].shape[1] + 1 >= rows


def training_layout(params, rows: int) -> dict[str, np.ndarray]:
    """``params`` stored the way ``loss_and_grads`` is fastest on batches of ``rows`` samples:
    W1 transposed in memory (still indexed ``(R, in, out)``) where ``wide_first_layer``
    applies, so that the first layer of all runs is one product over ``(R * out, in)``; any
    other layout gives the same results, more slowly."""
    if not _wide_fits(params, rows):
        return params
    W1T = np.ascontiguousarray(np.swapaxes(params["W1"], -1, -2))
    return {**params, "W1": np.swapaxes(W1T, -1, -2)}


def loss_and_grads(params, X, Y, spec, ws: Workspace | None = None):
    """Per-run mean loss ``(R,)`` and its gradient for every parameter.

    Runs are processed in blocks (``run_block``): a block's forward and backward pass run
    back to back while its activations are still in cache. Activations, deltas and gradients
    are written into the workspace's buffers with in-place operations; without a workspace a
    fresh one is used, so the arrays returned are the caller's.

    A wide first layer (``wide_first_layer``: W1 stored as ``(R, out, in)``) is one product
    for the whole block, ``(n * out, in) @ X^T``, and so is its weight gradient,
    ``(n * out, B) @ X``; its activations and delta are kept as ``(n, out, B)`` (the next
    layer's products read them transposed, element-wise work stays contiguous), and W1's
    gradient is returned in W1's layout.
    """
    ws = ws or Workspace()
    act = ACTIVATIONS[spec.activation]
    head = head_for(spec)
    L = n_layers(params)
    R, (B, n_in) = params["W1"].shape[0], X.shape
    dtype = params["W1"].dtype
    sizes = _sizes(params, X)
    ws.begin(R)
    wide = wide_first_layer(params, B)
    grads = {
        k: np.swapaxes(ws.get("gW1T", (R, sizes[1], n_in), dtype), -1, -2)
        if wide and k == "W1"
        else ws.get(f"g{k}", v.shape, dtype)
        for k, v in params.items()
    }
    losses = np.empty(R, dtype=dtype)
    ones = ws.get("ones", (1, B), dtype)
    ones.fill(1)

    # The first layer's input is shared and usually narrow (in << B): append a column of ones
    # to X and the bias as a row of W1, and one GEMM gives X W1 + b1 (and, backwards, both
    # gradients) without a pass over the activations to add the bias or sum its gradient.
    fold = n_in + 1 < B
    if fold:
        X1 = ws.get("X1", (B, n_in + 1), dtype)  # [X, 1]
        X1[:, :n_in] = X
        X1[:, n_in] = 1
        W1 = ws.get("W1b", (R, n_in + 1, sizes[1]), dtype)  # [W1; b1]
        W1[:, :n_in] = params["W1"]
        W1[:, n_in:] = params["b1"]
        gW1 = ws.get("gW1b", W1.shape, dtype)

    Yk = Y
    if L > 1 and sizes[L] > 1:
        # Logits of several outputs are stored as (n, k, B), and the targets alike: the head's
        # reductions over k then run over rows of B samples (3x faster over k = 10 than
        # over rows of k).
        YT = ws.get("YT", (sizes[L], B), Y.dtype)
        YT[...] = Y.T
        Yk = YT.T

    rb = run_block(sizes, B, dtype.itemsize)
    for lo in range(0, R, rb):
        hi = min(R, lo + rb)
        n = hi - lo
        inputs = [X]  # inputs[l - 1] feeds layer l: (B, in) shared, then (n, B, H)
        for layer in range(1, L + 1):
            if layer == 1 and wide:
                aT = ws.get("a1T", (n, sizes[1], B), dtype)
                W1T = np.swapaxes(params["W1"][lo:hi], -1, -2).reshape(-1, n_in)
                np.matmul(W1T, X.T, out=aT.reshape(-1, B))  # (n * out, in) @ (in, B)
                aT += np.swapaxes(params["b1"][lo:hi], -1, -2)  # (n, out, 1)
                act.activate(aT)
                inputs.append(np.swapaxes(aT, -1, -2))  # (n, B, out), a view
                continue
            if layer == L > 1 and sizes[L] > 1:  # logits (n, B, k) stored as (n, k, B)
                zT = ws.get(f"a{layer}T", (n, sizes[layer], B), dtype)
                W = np.swapaxes(params[f"W{layer}"][lo:hi], -1, -2)
                np.matmul(W, np.swapaxes(inputs[-1], -1, -2), out=zT)  # (n, k, in) @ (n, in, B)
                zT += np.swapaxes(params[f"b{layer}"][lo:hi], -1, -2)
                inputs.append(np.swapaxes(zT, -1, -2))
                continue
            z = ws.get(f"a{layer}", (n, B, sizes[layer]), dtype)
            if layer == 1 and fold:
                np.matmul(X1, W1[lo:hi], out=z)  # (B, in + 1) @ (n, in + 1, out): bias included
            else:
                np.matmul(inputs[-1], params[f"W{layer}"][lo:hi], out=z)  # (n, B, out)
                z += params[f"b{layer}"][lo:hi]
            if layer < L:
                act.activate(z)  # a = f(z), over z
            inputs.append(z)
        logits = inputs.pop()  # (n, B, k)
        losses[lo:hi], delta = head.loss_and_dlogits(logits, Yk)  # delta: dL/dz, last layer

        for layer in range(L, 0, -1):
            a_in = inputs[layer - 1]
            if layer == 1 and fold:
                np.matmul(X1.T, delta, out=gW1[lo:hi])  # (in + 1, B) @ (n, B, out)
                break
            if layer == 1 and wide:  # delta: (n, B, out), a view of (n, out, B)
                dT = np.swapaxes(delta, -1, -2).reshape(-1, B)
                gW1T = np.swapaxes(grads["W1"][lo:hi], -1, -2).reshape(-1, n_in)
                np.matmul(dT, X, out=gW1T)  # (n * out, B) @ (B, in)
                np.matmul(ones, delta, out=grads["b1"][lo:hi])  # the sum over samples
                break
            np.matmul(np.swapaxes(a_in, -1, -2), delta, out=grads[f"W{layer}"][lo:hi])
            np.matmul(ones, delta, out=grads[f"b{layer}"][lo:hi])  # the sum over samples
            if layer == 1:
                break
            W = params[f"W{layer}"][lo:hi]
            if layer == 2 and wide:  # the delta of layer 1 as (n, out1, B), like its activations
                aT = np.swapaxes(a_in, -1, -2)
                dT = ws.get("d1T", aT.shape, dtype)
                if delta.shape[-1] == 1:
                    np.multiply(W, np.swapaxes(delta, -1, -2), out=dT)  # (n, in, 1) * (n, 1, B)
                else:
                    np.matmul(W, np.swapaxes(delta, -1, -2), out=dT)  # (n, in, out) @ (n, out, B)
                act.scale_by_df(dT, aT)
                delta = np.swapaxes(dT, -1, -2)
                continue
            Wt = np.swapaxes(W, -1, -2)  # (n, out, in)
            if delta.shape[-1] == 1 and act.df_over is not None:
                # One output: the input gradient is an outer product, f'(z) * W^T * delta,
                # built over the dead activations with broadcasts (a K=1 GEMM is slow).
                act.df_over(a_in)
                a_in *= Wt  # (n, B, in) * (n, 1, in)
                a_in *= delta  # * (n, B, 1)
                delta = a_in
                continue
            d_in = ws.get(f"d{layer - 1}", a_in.shape, dtype)
            if delta.shape[-1] == 1:
                np.multiply(delta, Wt, out=d_in)  # (n, B, 1) * (n, 1, in)
            else:
                np.matmul(delta, Wt, out=d_in)  # (n, B, out) @ (n, out, in)
            act.scale_by_df(d_in, a_in)  # overwrites a_in, no longer needed
            delta = d_in

    if fold:
        np.copyto(grads["W1"], gW1[:, :n_in])
        np.copyto(grads["b1"], gW1[:, n_in:])
    return losses, grads
