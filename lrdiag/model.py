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

LEAKY_RELU_SLOPE = 0.01  # negative-side slope of leaky_relu (PyTorch's default)


# --------------------------------------------------------------------------- activations


class Activation(NamedTuple):
    """``f(z)``, its derivative ``df(z, a)`` given the input and output, and ``scale_by_df``.

    ``scale_by_df(d, a, tmp)`` multiplies ``d`` in place by f'(z), computed from the output
    ``a = f(z)`` alone (every activation here allows it), using ``tmp`` (shaped like ``a``) as
    scratch: the training hot path, with no fresh allocation.
    """

    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]
    scale_by_df: Callable[[np.ndarray, np.ndarray, np.ndarray], None]


def _sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    # 0.5 * (1 + tanh(z / 2)) never overflows, unlike 1 / (1 + exp(-z)).
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def _tanh_scale(d, a, tmp):
    np.multiply(a, a, out=tmp)
    np.subtract(1, tmp, out=tmp)
    d *= tmp  # d * (1 - a^2)


def _sigmoid_scale(d, a, tmp):
    np.subtract(1, a, out=tmp)
    tmp *= a
    d *= tmp  # d * a (1 - a)


def _relu_scale(d, a, tmp):
    np.copyto(d, 0, where=a <= 0)  # relu'(z) = 1 where a = relu(z) > 0, else 0


def _leaky_scale(d, a, tmp):
    np.multiply(d, LEAKY_RELU_SLOPE, out=d, where=a <= 0)  # a > 0 exactly where z > 0


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype), _relu_scale
    ),
    "tanh": Activation(np.tanh, lambda z, a: 1 - a * a, _tanh_scale),
    "sigmoid": Activation(_sigmoid, lambda z, a: a * (1 - a), _sigmoid_scale),
    "leaky_relu": Activation(
        lambda z: np.where(z > 0, z, LEAKY_RELU_SLOPE * z),
        lambda z, a: np.where(z > 0, 1, LEAKY_RELU_SLOPE).astype(z.dtype),
        _leaky_scale,
    ),
    "identity": Activation(lambda z: z, lambda z, a: np.ones_like(z), lambda d, a, tmp: None),
}

# In-place forms of f used by the training hot path: f(z) written over z.
_ACTIVATE_INPLACE: dict[str, Callable[[np.ndarray], None]] = {
    "relu": lambda z: np.maximum(z, 0, out=z),
    "tanh": lambda z: np.tanh(z, out=z),
    "sigmoid": lambda z: _sigmoid(z, out=z),
    "leaky_relu": lambda z: np.multiply(z, LEAKY_RELU_SLOPE, out=z, where=z < 0),
    "identity": lambda z: None,
}


# --------------------------------------------------------------------------- output heads


class Head(NamedTuple):
    """Loss per run from the logits, and its gradient with respect to the logits."""

    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (R, B, k), (B, k) -> (R,)
    dlogits: Callable[[np.ndarray, np.ndarray], np.ndarray]  # -> (R, B, k), already / B
    predict: Callable[[np.ndarray], np.ndarray]  # logits -> output activation


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
    ("softmax", "cross_entropy"): Head(_ce_loss, _ce_grad, _softmax),
    ("identity", "mse"): Head(_mse_loss, _mse_grad, lambda z: z),
    ("sigmoid", "mse"): Head(_sigmoid_mse_loss, _sigmoid_mse_grad, _sigmoid),
}


# --------------------------------------------------------------------------- initialisation


def _uniform01(rng, fan_in, fan_out):
    return rng.random((fan_in, fan_out))


def _normal(rng, fan_in, fan_out):
    return rng.standard_normal((fan_in, fan_out))


def _scaled_normal(variance: Callable[[int, int], float]):
    def draw(rng, fan_in, fan_out):
        return rng.standard_normal((fan_in, fan_out)) * np.sqrt(variance(fan_in, fan_out))

    return draw


INIT_SCHEMES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
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
    scheme: str,
    scales: Sequence[float],
    seeds: Sequence[int],
    dtype=np.float32,
) -> dict[str, np.ndarray]:
    """Initial weights for R runs; run r draws from ``seeds[r]`` and is multiplied by ``scales[r]``.

    The draws of a seed do not depend on the scale or on the other runs, so two runs that share
    a seed start from the same weights up to their scale. Biases start at zero.
    """
    draw = INIT_SCHEMES[scheme]
    scales = np.asarray(scales, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.int64)
    unique = np.unique(seeds)
    base = {}
    for seed in unique:  # loop over distinct seeds (not runs): a few draws, shared by many runs
        rng = np.random.default_rng(int(seed))
        base[int(seed)] = [draw(rng, fi, fo) for fi, fo in zip(sizes[:-1], sizes[1:], strict=True)]
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
    cache = []
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


def loss(params, X, Y, spec) -> np.ndarray:
    """Per-run mean loss ``(R,)``."""
    return head_for(spec).loss(forward(params, X, spec), Y)


_BLOCK = 1 << 14  # elements per block of the in-place derivative: three operands stay in L2


def _scale_by_df_blocked(act: Activation, d: np.ndarray, a: np.ndarray, tmp: np.ndarray) -> None:
    """``d *= f'(z)`` in cache-sized blocks of the flattened arrays.

    The derivative takes two or three element-wise passes; done block by block, each block of
    ``a``, ``d`` and the scratch stays in cache, so memory sees about one pass instead of three.
    """
    flat_d, flat_a = d.reshape(-1), a.reshape(-1)
    for start in range(0, flat_d.size, _BLOCK):
        stop = min(start + _BLOCK, flat_d.size)
        act.scale_by_df(flat_d[start:stop], flat_a[start:stop], tmp[: stop - start])


class Workspace:
    """Buffers that ``loss_and_grads`` reuses from one step to the next.

    Fresh large arrays are expensive (page faults on every step); a training loop passes the
    same workspace to every call. Buffers are keyed by name and shape, and all are dropped
    when the number of runs changes (a diverged run left the chunk). Gradients returned with
    a workspace live in it: they are valid until the next call.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple, np.ndarray] = {}
        self._runs = -1

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        if shape[0] != self._runs:
            self._buffers.clear()
            self._runs = shape[0]
        key = (name, shape, np.dtype(dtype))
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty(shape, dtype=dtype)
        return buf


def loss_and_grads(params, X, Y, spec, ws: Workspace | None = None):
    """Per-run mean loss ``(R,)`` and its gradient for every parameter.

    With a ``Workspace``, activations, deltas and gradients are written into its buffers with
    in-place operations (the training hot path); without one, fresh arrays are returned.
    """
    ws = ws or Workspace()
    act = ACTIVATIONS[spec.activation]
    activate = _ACTIVATE_INPLACE[spec.activation]
    head = head_for(spec)
    L = n_layers(params)
    R, B = params["W1"].shape[0], X.shape[-2]
    dtype = params["W1"].dtype

    # The first layer's input is shared and usually narrow (in << B): append a column of ones
    # to X and the bias as a row of W1, and one GEMM gives X W1 + b1 (and, backwards, both
    # gradients) without a pass over the (R, B, H) activations to add or sum the bias.
    n_in = X.shape[-1]
    fold = n_in + 1 < B
    if fold:
        X1 = ws.get("X1", (B, n_in + 1), dtype)  # (B, in + 1): [X, 1]
        X1[:, :n_in] = X
        X1[:, n_in] = 1
        W1 = ws.get("W1b", (R, n_in + 1, params["W1"].shape[-1]), dtype)  # [W1; b1]
        W1[:, :n_in] = params["W1"]
        W1[:, n_in:] = params["b1"]

    inputs = [X1 if fold else X]  # inputs[l - 1] feeds layer l: (B, in) shared, then (R, B, H)
    for layer in range(1, L + 1):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        z = ws.get(f"a{layer}", (R, B, W.shape[-1]), dtype)
        if layer == 1 and fold:
            np.matmul(X1, W1, out=z)  # (B, in + 1) @ (R, in + 1, out): bias included
        else:
            np.matmul(inputs[-1], W, out=z)  # (R, B, out)
            z += b
        if layer < L:
            activate(z)  # a = f(z), over z
        inputs.append(z)
    logits = inputs.pop()  # (R, B, k)

    losses = head.loss(logits, Y)
    delta = head.dlogits(logits, Y)  # (R, B, k): dL/dz of the last layer
    grads: dict[str, np.ndarray] = {}
    for layer in range(L, 0, -1):
        W = params[f"W{layer}"]
        a_in = inputs[layer - 1]
        if layer == 1 and fold:
            g1 = ws.get("gW1b", W1.shape, dtype)
            np.matmul(np.swapaxes(X1, -1, -2), delta, out=g1)  # (in+1, B) @ (R, B, out)
            grads["W1"], grads["b1"] = g1[:, :n_in], g1[:, n_in:]
            break
        gW = grads[f"W{layer}"] = ws.get(f"gW{layer}", W.shape, dtype)
        np.matmul(np.swapaxes(a_in, -1, -2), delta, out=gW)  # (R, in, B) @ (R, B, out)
        gb = grads[f"b{layer}"] = ws.get(f"gb{layer}", (R, 1, W.shape[-1]), dtype)
        ones = ws.get("ones", (1, B), dtype)
        ones.fill(1)
        np.matmul(ones, delta, out=gb)  # the sum over samples, as a GEMM: (1, B) @ (R, B, out)
        if layer > 1:
            d_in = ws.get(f"d{layer - 1}", a_in.shape, dtype)
            if delta.shape[-1] == 1:  # an outer product: a broadcast multiply beats a K=1 GEMM
                np.multiply(delta, np.swapaxes(W, -1, -2), out=d_in)  # (R,B,1) * (R,1,in)
            else:
                np.matmul(delta, np.swapaxes(W, -1, -2), out=d_in)  # (R, B, in)
            _scale_by_df_blocked(act, d_in, a_in, ws.get("tmp", (_BLOCK,), dtype))
            delta = d_in
    return losses, {key: grads[key] for key in params}
