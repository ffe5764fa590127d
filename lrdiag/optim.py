"""Batched optimizers, optax-style: a factory returns ``Optimizer(init, update, apply)``.

Every update rule is PyTorch's, as its documentation writes it (torch.optim.SGD, RMSprop,
Adam, AdamW), in the order its implementation computes it: weight decay added to the gradient
(L2) for sgd, momentum, nesterov, rmsprop and adam, decoupled (``p *= 1 - lr * wd``) for adamw;
eps added outside the square root; Adam's bias corrections; a momentum buffer that starts as
the first gradient.

``init(params) -> state`` and ``update(grads, state, params, lr) -> (updates, state)`` are
pure; the caller applies ``params + updates``. ``lr`` is one learning rate per run, shape
``(R,)``, broadcast once as ``(R, 1, 1)`` against every ``(R, ., .)`` parameter.

``apply(params, grads, state, lr) -> state`` is the same step done in place, for the
training hot path: it updates ``params``, its buffers in ``state``, and uses ``grads`` as
scratch (they are consumed). ``update`` is ``apply`` on copies.

A hyper-parameter that a sweep varies (``momentum``, ``weight_decay``) may be an array, one
value per run; it is kept in the state (``hyper``) so that ``select_runs`` restricts it with
the buffers when runs leave.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

Params = dict[str, np.ndarray]
Hyper = float | np.ndarray  # a float for every run, or (R,) values (stored as (R, 1, 1))


class Optimizer(NamedTuple):
    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params, np.ndarray], tuple[Params, Any]]
    apply: Callable[[Params, Params, Any, np.ndarray], Any]


class SgdState(NamedTuple):
    hyper: dict = {}  # per-run hyper-parameters (R, 1, 1), or floats


class MomentumState(NamedTuple):
    velocity: Params  # PyTorch's momentum_buffer, one per parameter
    hyper: dict = {}  # per-run hyper-parameters (R, 1, 1), or floats
    steps: int = 0  # steps taken


class RMSpropState(NamedTuple):
    square_avg: Params  # v
    grad_avg: Params | None  # g_ave (centered only)
    momentum_buffer: Params | None  # b (momentum > 0 only)
    hyper: dict = {}
    steps: int = 0  # steps taken


class AdamState(NamedTuple):
    exp_avg: Params  # m
    exp_avg_sq: Params  # v
    hyper: dict = {}
    steps: int = 0  # t: the bias corrections use t + 1 at the next step


def _per_run(lr: Hyper, like: np.ndarray) -> np.ndarray:
    # (R,) -> (R, 1, 1), or (R, 1, 1, 1, 1) against a conv kernel (R, O, C, kh, kw)
    return np.asarray(lr, dtype=like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def _hyper(params: Params, **values: Hyper) -> dict:
    """The hyper-parameters as stored in a state: floats stay floats, arrays become (R, 1, 1)
    in the parameters' dtype."""
    like = next(iter(params.values()))
    return {
        k: v if np.ndim(v) == 0 else _per_run(v, like) for k, v in values.items() if v is not None
    }


def _nonzero(v: Hyper) -> bool:
    """A float that is not 0, or any per-run array (whose zeros then act as no-ops)."""
    return np.ndim(v) > 0 or v != 0


def _copy(tree):
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, dict):
        return {k: _copy(v) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_copy(v) for v in tree))
    return tree


def _pure(apply) -> Callable:
    """``update`` from ``apply``: the in-place step on copies, returned as ``new - old``."""

    def update(grads, state, params, lr):
        new = {k: p.copy() for k, p in params.items()}
        state = apply(new, {k: g.copy() for k, g in grads.items()}, _copy(state), lr)
        return {k: new[k] - params[k] for k in params}, state

    return update


def _in_memory_order(*arrays: np.ndarray) -> list[np.ndarray]:
    """The same element-wise update, over views that run through memory in order: arrays that
    are all stored transposed (lrdiag.model's wide first layer, ``(R, out, in)`` in C order)
    are swapped back; NumPy broadcasts a per-run value over them 4x slower otherwise."""
    swapped = [np.swapaxes(a, -1, -2) for a in arrays]
    if all(s.flags.c_contiguous for s in swapped) and not arrays[0].flags.c_contiguous:
        return swapped
    return list(arrays)


def _add_l2(g: np.ndarray, p: np.ndarray, weight_decay: Hyper) -> None:
    """PyTorch's coupled weight decay: ``g <- g + wd * p``."""
    if _nonzero(weight_decay):
        g += weight_decay * p


def sgd(weight_decay: Hyper = 0.0) -> Optimizer:
    """Plain (mini-batch) gradient descent: ``p <- p - lr * (g + wd * p)``."""

    def init(params):
        return SgdState(_hyper(params, weight_decay=weight_decay))

    def apply(params, grads, state, lr):
        wd = state.hyper["weight_decay"]
        for k in grads:
            p, g = _in_memory_order(params[k], grads[k])
            _add_l2(g, p, wd)
            g *= _per_run(lr, g)
            p -= g
        return state

    return Optimizer(init, _pure(apply), apply)


def momentum(
    beta: Hyper, *, dampening: float = 0.0, weight_decay: Hyper = 0.0, nesterov: bool = False
) -> Optimizer:
    """PyTorch's ``SGD(momentum=beta, dampening, weight_decay, nesterov)``.

    ``g <- g + wd * p``; ``b <- g`` at the first step, then ``b <- beta * b + (1 - dampening)
    * g``; heavy ball steps ``p <- p - lr * b``, Nesterov ``p <- p - lr * (g + beta * b)``.
    """
    if nesterov and dampening != 0:
        raise ValueError("Nesterov momentum requires dampening 0 (as in PyTorch)")

    def init(params):
        hyper = _hyper(params, beta=beta, weight_decay=weight_decay)
        return MomentumState({k: np.zeros_like(p) for k, p in params.items()}, hyper)

    def apply(params, grads, state, lr):
        b, wd = state.hyper["beta"], state.hyper["weight_decay"]
        for k in grads:
            p, g, v = _in_memory_order(params[k], grads[k], state.velocity[k])
            _add_l2(g, p, wd)
            if state.steps == 0 and dampening != 0:
                np.copyto(v, g)  # the first buffer is the gradient, undampened
            else:  # from a zero buffer, beta * 0 + g is the gradient too
                v *= b
                v += g if dampening == 0 else (1 - dampening) * g
            if nesterov:
                g += b * v
            else:
                np.copyto(g, v)
            g *= _per_run(lr, g)
            p -= g
        return state._replace(steps=state.steps + 1)

    return Optimizer(init, _pure(apply), apply)


def rmsprop(
    alpha: float = 0.99,
    eps: float = 1e-8,
    *,
    momentum: Hyper = 0.0,
    centered: bool = False,
    weight_decay: Hyper = 0.0,
) -> Optimizer:
    """PyTorch's ``RMSprop``: ``g <- g + wd * p``; ``v <- alpha * v + (1 - alpha) * g^2``;
    centered: ``g_ave <- alpha * g_ave + (1 - alpha) * g`` and ``v~ = v - g_ave^2``; then
    ``b <- momentum * b + g / (sqrt(v~) + eps)``, ``p <- p - lr * b`` (without momentum
    ``p <- p - lr * g / (sqrt(v~) + eps)``). Every buffer starts at zero."""
    with_momentum = _nonzero(momentum)

    def init(params):
        zeros = lambda: {k: np.zeros_like(p) for k, p in params.items()}  # noqa: E731
        hyper = _hyper(params, momentum=momentum, weight_decay=weight_decay)
        return RMSpropState(
            zeros(), zeros() if centered else None, zeros() if with_momentum else None, hyper
        )

    def apply(params, grads, state, lr):
        wd = state.hyper["weight_decay"]
        for k in grads:
            buffers = [b[k] for b in (state.square_avg, state.grad_avg, state.momentum_buffer) if b]
            p, g, v, *rest = _in_memory_order(params[k], grads[k], *buffers)
            _add_l2(g, p, wd)
            v *= alpha
            v += (1 - alpha) * (g * g)
            if centered:
                ga = rest[0]
                ga += (1 - alpha) * (g - ga)  # torch: grad_avg.lerp_(grad, 1 - alpha)
                avg = v - ga * ga
                np.sqrt(avg, out=avg)
            else:
                avg = np.sqrt(v)
            avg += eps
            g /= avg
            if with_momentum:
                buf = rest[-1]
                buf *= state.hyper["momentum"]
                buf += g
                np.copyto(g, buf)
            g *= _per_run(lr, g)
            p -= g
        return state._replace(steps=state.steps + 1)

    return Optimizer(init, _pure(apply), apply)


def adam(
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    *,
    weight_decay: Hyper = 0.0,
    decoupled: bool = False,
) -> Optimizer:
    """PyTorch's ``Adam`` (``decoupled=False``: ``g <- g + wd * p``) and ``AdamW``
    (``decoupled=True``: ``p <- p * (1 - lr * wd)`` before the step).

    ``m <- beta1 m + (1 - beta1) g``; ``v <- beta2 v + (1 - beta2) g^2`` (both from zero);
    ``p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.
    """
    beta1, beta2 = betas

    def init(params):
        zeros = lambda: {k: np.zeros_like(p) for k, p in params.items()}  # noqa: E731
        return AdamState(zeros(), zeros(), _hyper(params, weight_decay=weight_decay))

    def apply(params, grads, state, lr):
        t = state.steps + 1
        wd = state.hyper["weight_decay"]
        lr = np.asarray(lr, dtype=np.float64)
        step_size = lr / (1 - beta1**t)  # (R,), in float64 as PyTorch's Python floats
        bc2_sqrt = (1 - beta2**t) ** 0.5
        for k in grads:
            p, g, m, v = _in_memory_order(
                params[k], grads[k], state.exp_avg[k], state.exp_avg_sq[k]
            )
            if decoupled:
                if _nonzero(wd):
                    p *= _per_run(1 - lr * np.reshape(wd, -1), p)
            else:
                _add_l2(g, p, wd)
            m += (1 - beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * (g * g)
            np.sqrt(v, out=g)  # the gradient is no longer needed: its buffer is the denominator
            g /= bc2_sqrt
            g += eps
            np.divide(m, g, out=g)
            g *= _per_run(step_size, g)
            p -= g
        return state._replace(steps=t)

    return Optimizer(init, _pure(apply), apply)


def _momentum(training, hyper) -> Hyper:
    return hyper.get("momentum", training.momentum)


def _weight_decay(training, hyper) -> Hyper:
    return hyper.get("weight_decay", training.weight_decay)


# name -> factory(training, hyper): hyper holds the per-run values of a sweep's axes, (R,) each
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": lambda t, h: sgd(weight_decay=_weight_decay(t, h)),
    "momentum": lambda t, h: momentum(
        _momentum(t, h), dampening=t.dampening, weight_decay=_weight_decay(t, h)
    ),
    "nesterov": lambda t, h: momentum(
        _momentum(t, h), dampening=t.dampening, weight_decay=_weight_decay(t, h), nesterov=True
    ),
    "rmsprop": lambda t, h: rmsprop(
        t.alpha,
        t.eps,
        momentum=_momentum(t, h),
        centered=t.centered,
        weight_decay=_weight_decay(t, h),
    ),
    "adam": lambda t, h: adam(tuple(t.betas), t.eps, weight_decay=_weight_decay(t, h)),
    "adamw": lambda t, h: adam(
        tuple(t.betas), t.eps, weight_decay=_weight_decay(t, h), decoupled=True
    ),
}
# Buffers each optimizer keeps per parameter (for the memory plan), at most.
BUFFERS = {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 3, "adam": 2, "adamw": 2}


def make_optimizer(training, hyper: dict[str, np.ndarray] | None = None) -> Optimizer:
    """The optimizer a ``TrainingConfig`` names; ``hyper`` overrides its ``momentum`` or
    ``weight_decay`` with one value per run."""
    return OPTIMIZERS[training.optimizer](training, hyper or {})


def preconditioner(state, training) -> Params | None:
    """Each run's diagonal preconditioner P (like params) of an adaptive optimizer's state, as
    its next step divides by it: Adam/AdamW (1 - beta1^t) (sqrt(v_hat) + eps), RMSprop
    sqrt(v~) + eps; None before the first step (the buffers are still zero) or for others."""
    if isinstance(state, AdamState) and state.steps > 0:
        beta1, beta2 = training.betas
        t = state.steps
        return {
            k: (1 - beta1**t) * (np.sqrt(v / (1 - beta2**t)) + training.eps)
            for k, v in state.exp_avg_sq.items()
        }
    if isinstance(state, RMSpropState) and state.steps > 0:
        out = {}
        for k, v in state.square_avg.items():
            centred = v if state.grad_avg is None else v - state.grad_avg[k] ** 2
            out[k] = np.sqrt(np.maximum(centred, 0)) + training.eps
        return out
    return None


def select_runs(state, keep: np.ndarray):
    """The optimizer state restricted to the runs ``keep`` (an index array along axis 0):
    every array in it (buffers, per-run hyper-parameters) carries the runs on axis 0."""
    if isinstance(state, np.ndarray):
        return state[keep] if state.ndim else state
    if isinstance(state, dict):
        return {k: select_runs(v, keep) for k, v in state.items()}
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(select_runs(v, keep) for v in state))
    return state
