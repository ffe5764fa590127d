"""Learning-rate schedules and gradient clipping, per step and per run, as PyTorch computes them.

A schedule is a multiplier of each run's learning rate at each step ``t`` (0 for the first
step), the number ``torch.optim.lr_scheduler`` gives after ``t`` calls of ``scheduler.step()``:

* warmup (``warmup_steps`` w > 0): ``LinearLR(start_factor, end_factor=1, total_iters=w)``,
  ``start_factor + (1 - start_factor) * t / w`` for ``t < w``;
* then, at ``s = t - w`` steps into the decay (``SequentialLR(milestones=[w])``), over
  ``T = total - w`` steps:

  ========== ================================================ ==========================
  kind       multiplier                                        PyTorch
  ========== ================================================ ==========================
  constant   1                                                 (none)
  step       ``gamma ** (s // step_size)``                     ``StepLR``
  exponential ``gamma ** s``                                   ``ExponentialLR``
  cosine     ``min + (1 - min) (1 + cos(pi s / T)) / 2``       ``CosineAnnealingLR(T,
                                                               eta_min = min_factor lr)``
  linear     ``1 + (min - 1) min(s, T) / T``                   ``LinearLR(1, min_factor, T)``
  ========== ================================================ ==========================

PyTorch computes these recursively (each lr from the previous one); the closed forms here
agree with it to rounding (the dev script ``tools/torch_parity.py`` checks it against PyTorch).
``warmup`` may differ between runs (a sweep's ``warmup_steps`` axis): every function takes it as
an ``(R,)`` array and returns ``(R,)`` multipliers.

Clipping is ``torch.nn.utils.clip_grad_norm_``: the total 2-norm over all parameters of a run,
and every gradient of the run scaled by ``max_norm / (norm + 1e-6)`` where that is below 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ adds it to the norm before dividing


def _constant(s, T, sched):
    return np.ones(np.shape(s))


def _step(s, T, sched):
    return sched.gamma ** (s // sched.step_size)


def _exponential(s, T, sched):
    return sched.gamma ** np.asarray(s, dtype=np.float64)


def _cosine(s, T, sched):
    lo = sched.min_factor
    return lo + (1.0 - lo) * (1.0 + np.cos(math.pi * s / T)) / 2.0


def _linear(s, T, sched):
    return 1.0 + (sched.min_factor - 1.0) * np.minimum(s, T) / T


# kind -> decay(steps into the decay (R,), its length T (R,), ScheduleConfig) -> (R,)
SCHEDULES: dict[str, Callable] = {
    "constant": _constant,
    "step": _step,
    "exponential": _exponential,
    "cosine": _cosine,
    "linear": _linear,
}


def multipliers(sched, t: int, total: int, warmup: np.ndarray) -> np.ndarray:
    """(R,) multipliers of the learning rate at step ``t`` of ``total`` (both in the schedule's
    unit), for runs warmed up over ``warmup`` (R,) steps each."""
    w = np.asarray(warmup, dtype=np.int64)
    s = t - w
    T = np.maximum(total - w, 1)  # a warmup as long as training leaves one decay step
    out = SCHEDULES[sched.kind](np.maximum(s, 0), T, sched).astype(np.float64)
    warming = s < 0
    if warming.any():
        ramp = sched.start_factor + (1.0 - sched.start_factor) * t / np.maximum(w, 1)
        out = np.where(warming, ramp, out)
    return out


def clip(grads: dict[str, np.ndarray], max_norm: float | np.ndarray) -> np.ndarray:
    """Clip each run's gradients in place to total norm ``max_norm`` (a float, or (R,) values);
    returns (R,) booleans: the runs whose gradients were scaled down."""
    sq = None
    for g in grads.values():
        flat = g.reshape(len(g), -1)  # a view: (R, ...) of any rank (a conv kernel is 5-D)
        part = np.einsum("ri,ri->r", flat, flat, dtype=np.float64)  # (R,) without a copy
        sq = part if sq is None else sq + part
    norm = np.sqrt(sq)
    coef = np.asarray(max_norm, dtype=np.float64) / (norm + CLIP_EPS)
    clipped = coef < 1.0
    if clipped.any():
        scale = np.minimum(coef, 1.0)
        for g in grads.values():
            g *= scale.astype(g.dtype).reshape(-1, *([1] * (g.ndim - 1)))
    return clipped
