"""Batched optimizers, optax-style: a factory returns ``Optimizer(init, update)``.

``init(params) -> state`` and ``update(grads, state, params, lr) -> (updates, state)`` are
pure; the caller applies ``params + updates``. ``lr`` is one learning rate per run, shape
``(R,)``, broadcast once as ``(R, 1, 1)`` against every ``(R, ., .)`` parameter.

``apply(params, grads, state, lr) -> state`` is the same step done in place, for the
training hot path: it updates ``params`` and uses ``grads`` as scratch (they are consumed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Params = dict[str, np.ndarray]


class Optimizer(NamedTuple):
    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params, np.ndarray], tuple[Params, Any]]
    apply: Callable[[Params, Params, Any, np.ndarray], Any]


class EmptyState(NamedTuple):
    pass


class MomentumState(NamedTuple):
    velocity: Params  # PyTorch's momentum_buffer, one per parameter


def _per_run(lr: np.ndarray, like: np.ndarray) -> np.ndarray:
    # (R,) -> (R, 1, 1), or (R, 1, 1, 1, 1) against a conv kernel (R, O, C, kh, kw)
    return np.asarray(lr, dtype=like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def sgd() -> Optimizer:
    """Plain (mini-batch) gradient descent: ``p <- p - lr * g``."""

    def init(params):
        return EmptyState()

    def update(grads, state, params, lr):
        return {k: -_per_run(lr, g) * g for k, g in grads.items()}, state

    def apply(params, grads, state, lr):
        for k, g in grads.items():
            g *= _per_run(lr, g)
            params[k] -= g
        return state

    return Optimizer(init, update, apply)


def momentum(beta: float) -> Optimizer:
    """Heavy ball, as PyTorch's ``SGD(momentum=beta)`` (dampening 0, no Nesterov).

    ``v <- beta * v + g`` (v starts at 0, so the first step is ``v = g``, as in PyTorch),
    then ``p <- p - lr * v``.
    """

    def init(params):
        return MomentumState({k: np.zeros_like(p) for k, p in params.items()})

    def update(grads, state, params, lr):
        velocity = {k: beta * state.velocity[k] + g for k, g in grads.items()}
        updates = {k: -_per_run(lr, v) * v for k, v in velocity.items()}
        return updates, MomentumState(velocity)

    def apply(params, grads, state, lr):
        for k, g in grads.items():
            v = state.velocity[k]
            v *= beta
            v += g
            np.multiply(v, _per_run(lr, v), out=g)
            params[k] -= g
        return state

    return Optimizer(init, update, apply)


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": lambda training: sgd(),
    "momentum": lambda training: momentum(training.momentum),
}


def make_optimizer(training) -> Optimizer:
    """The optimizer a ``TrainingConfig`` names."""
    return OPTIMIZERS[training.optimizer](training)


def select_runs(state, keep: np.ndarray):
    """The optimizer state restricted to the runs ``keep`` (an index array along axis 0)."""
    if isinstance(state, MomentumState):
        return MomentumState({k: v[keep] for k, v in state.velocity.items()})
    return state
