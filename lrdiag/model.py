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
    """``f(z)`` and its derivative ``df(z, a)`` given both the input and the output."""

    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(z / 2)) never overflows, unlike 1 / (1 + exp(-z)).
    return 0.5 * (1.0 + np.tanh(0.5 * z))


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "tanh": Activation(np.tanh, lambda z, a: 1 - a * a),
    "sigmoid": Activation(_sigmoid, lambda z, a: a * (1 - a)),
    "leaky_relu": Activation(
        lambda z: np.where(z > 0, z, LEAKY_RELU_SLOPE * z),
        lambda z, a: np.where(z > 0, 1, LEAKY_RELU_SLOPE).astype(z.dtype),
    ),
    "identity": Activation(lambda z: z, lambda z, a: np.ones_like(z)),
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


def loss_and_grads(params, X, Y, spec):
    """Per-run mean loss ``(R,)`` and its gradient for every parameter."""
    act = ACTIVATIONS[spec.activation]
    head = head_for(spec)
    logits, cache = forward(params, X, spec, keep=True)
    losses = head.loss(logits, Y)
    delta = head.dlogits(logits, Y)  # (R, B, k): dL/dz of the last layer
    grads: dict[str, np.ndarray] = {}
    for layer in range(len(cache), 0, -1):
        a_in, z, _ = cache[layer - 1]
        a_t = np.swapaxes(a_in, -1, -2)  # (in, B) shared, or (R, in, B)
        grads[f"W{layer}"] = np.matmul(a_t, delta)  # (R, in, out)
        grads[f"b{layer}"] = delta.sum(axis=-2, keepdims=True)  # (R, 1, out)
        if layer > 1:
            W = params[f"W{layer}"]
            da = np.matmul(delta, np.swapaxes(W, -1, -2))  # (R, B, in)
            z_prev, a_prev = cache[layer - 2][1], cache[layer - 2][2]
            delta = da * act.df(z_prev, a_prev)
    return losses, {key: grads[key] for key in params}
