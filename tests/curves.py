"""Synthetic loss curves whose verdict is fixed by how they are made (for tests/test_classify.py).

Each generator is a formula or an iteration done here, independently of lrdiag: exponential and
1/t decay, gradient descent on quadratics (and on a bounded non-quadratic loss), the logistic map,
flat curves at the chance loss, spikes and blow-ups. Index = epoch; element 0 is the loss at
initialisation.
"""

from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)
LN10 = math.log(10.0)


def exp_decay(n, *, start=1.0, floor=0.0, epochs_per_e=None, noise=0.0, seed=0):
    """floor + (start - floor) * exp(-t / tau) (+ iid Gaussian noise of std `noise`).

    tau defaults to n / 6, so the curve covers about 99.75% of its way to the floor."""
    t = np.arange(n, dtype=float)
    tau = epochs_per_e if epochs_per_e is not None else max(n / 6.0, 0.5)
    y = floor + (start - floor) * np.exp(-t / tau)
    return y + noise * np.random.default_rng(seed).standard_normal(n)


def inv_t_decay(n, *, start=1.0):
    """start / (1 + t): slow, 1/t convergence."""
    return start / (1.0 + np.arange(n, dtype=float))


def gd_quadratic(lams, lr, steps, *, x0=None, center=None, eval_center=None):
    """Plain gradient descent on f(x) = sum_i lams[i] / 2 * (x_i - center_i)^2.

    Returns (losses, iterates). Losses are of the same quadratic, or of a held-out quadratic
    with the same curvature but minimum `eval_center` (a validation loss) when given."""
    lams = np.asarray(lams, dtype=float)
    x = np.ones_like(lams) if x0 is None else np.asarray(x0, dtype=float).copy()
    c = np.zeros_like(lams) if center is None else np.asarray(center, dtype=float)
    e = c if eval_center is None else np.asarray(eval_center, dtype=float)
    losses, xs = [], []
    for _ in range(steps + 1):
        losses.append(float(np.sum(lams / 2.0 * (x - e) ** 2)))
        xs.append(x.copy())
        x = x - lr * lams * (x - c)
    return np.array(losses), np.array(xs)


def gd_tilted_huber(lr, steps, *, tilt=0.3, x0=2.0):
    """Gradient descent on f(x) = sqrt(1 + x^2) + tilt * x, a convex loss whose gradient is
    bounded by 1 + |tilt|, so no learning rate can make it diverge. Its curvature at the minimum
    is (1 - tilt^2)^1.5; above lr = 2 / curvature the minimum is unstable and the iterate settles
    on a period-2 orbit whose two points have different losses (the loss is not symmetric)."""
    x = float(x0)
    out = []
    for _ in range(steps + 1):
        out.append(math.sqrt(1.0 + x * x) + tilt * x)
        x -= lr * (x / math.sqrt(1.0 + x * x) + tilt)
    return np.array(out)


def logistic_map(n, r, *, x0=0.3):
    """x_{k+1} = r x_k (1 - x_k): bounded; for 3.59 < r < 3.67 chaotic on two bands that the
    orbit visits in strict alternation (so every step changes direction)."""
    out = np.empty(n)
    x = x0
    for k in range(n):
        out[k] = x
        x = r * x * (1.0 - x)
    return out


def bounce(n, *, low=0.5, high=1.0):
    """Bounces between two values from the first epoch on."""
    return np.where(np.arange(n) % 2 == 0, high, low).astype(float)


def flat(n, level, *, noise=0.0, seed=0, start=None):
    """Flat at `level` with iid noise; optionally starting at `start` (one step down at epoch 1,
    like a badly scaled init that is fixed in the first epoch and then learns nothing)."""
    y = level + noise * np.random.default_rng(seed).standard_normal(n)
    if start is not None:
        y[0] = start
    return y


def slow_linear(n, *, start=LN2, fraction=0.01, noise=0.0, seed=0):
    """Falls linearly by `fraction` of `start` over the whole run."""
    y = start * (1.0 - fraction * np.arange(n) / (n - 1))
    return y + noise * np.random.default_rng(seed).standard_normal(n)


def spike_then_recover(n=100, *, spike_at=7, height=3.0):
    """Exponential decay from 1 with a one-epoch spike to `height` x the initial loss."""
    y = exp_decay(n)
    y[spike_at] = height
    return y


def learn_then_jump(n=100, *, jump_at=60, to=0.8):
    """Falls from 1 to about 0.05, then jumps to `to` at `jump_at` and stays there (slowly
    creeping up), like a network that learns and then blows up to a worse loss."""
    y = exp_decay(n, floor=0.05, epochs_per_e=8.0)
    y[jump_at:] = to + 0.001 * np.arange(n - jump_at)
    return y


def with_nan_tail(y, start):
    """The run diverged at `start`: NaN from there on (as the sweep records it)."""
    y = np.array(y, dtype=float)
    y[start:] = np.nan
    return y


def minibatch(n, *, seed, trend="exp", noise=0.05, heavy=False):
    """A noisy mini-batch curve: a falling trend from 1 towards 0.1 plus iid noise (Gaussian, or
    Student-t with 3 degrees of freedom when `heavy`) of std about `noise`."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    if trend == "exp":
        base = 0.1 + 0.9 * np.exp(-t / (n / 5.0))
    elif trend == "inv_t":
        base = 0.1 + 0.9 / (1.0 + t / 20.0)
    else:  # "two_phase": a slow start then a faster fall
        base = 0.1 + 0.9 / (1.0 + np.exp((t - n / 3.0) / (n / 15.0)))
    eps = rng.standard_t(3, n) / math.sqrt(3.0) if heavy else rng.standard_normal(n)
    y = base + noise * eps
    y[0] = 1.0  # like the sweep's loss[0]: the exact full-data loss at initialisation
    return y


def overfitting_pair(n=200, *, turn=60):
    """(train, val): training loss keeps falling; validation falls until `turn`, then rises."""
    t = np.arange(n, dtype=float)
    train = 0.05 + 0.95 * np.exp(-t / 30.0)
    val = 0.3 + 0.7 * np.exp(-t / 20.0) + 0.001 * np.maximum(t - turn, 0.0)
    return train, val


def logistic(n, *, r=3.99, x0=0.3):
    """Bounded chaos: n steps of the logistic map x <- r x (1 - x), deterministic and irregular
    (at r = 3.99 it changes direction far less regularly than a period-2 bounce)."""
    x, out = x0, []
    for _ in range(n):
        x = r * x * (1.0 - x)
        out.append(x)
    return np.array(out)


def full_batch_chaos(n=600):
    """A fall from 3 to 1, then n points swinging about 1 by the logistic map (about ±35%)."""
    return np.r_[np.geomspace(3.0, 1.0, 40), 1.0 + 0.8 * (logistic(n) - 0.5)]


def rebound_episodes(y, share=0.3):
    """Separate episodes in which a curve stood more than ``share`` above its lowest value so
    far (the definition of a rebound in docs/verdicts.md), counted one point at a time."""
    low, inside, episodes = y[0], False, 0
    for v in y[1:]:
        now = v > (1 + share) * low
        episodes += now and not inside
        inside = now
        low = min(low, v)
    return episodes


def falling_band(n, *, start=0.1, end=0.05, swing=0.12, period=2):
    """A bounce of +-`swing` of the level, period 2 (up, down) or 4 (up, half-up, down,
    half-down), on a level that falls geometrically from `start` to `end` over n points
    (end == start: a bounce about a flat level)."""
    t = np.arange(n, dtype=float)
    level = start * (end / start) ** (t / (n - 1))
    shape = np.array([1.0, -1.0] if period == 2 else [1.0, 0.3, -1.0, -0.3])
    return level * (1.0 + swing * shape[np.arange(n) % period])


def correlated_scatter(n, *, start=3.0, end=0.9, swing=0.35, phi=0.7, seed=0):
    """A level falling geometrically from `start` to `end`, times log-normal noise that is
    correlated from point to point (AR(1) with coefficient `phi`), +-`swing` (5-95%) of the
    level: the scatter of a per-epoch loss of a small mini-batch run that memorises."""
    rng = np.random.default_rng(seed)
    sigma = swing / 1.645 * math.sqrt(1.0 - phi * phi)  # stationary std = swing / 1.645
    e = np.empty(n)
    e[0] = rng.standard_normal() * swing / 1.645
    for k in range(1, n):
        e[k] = phi * e[k - 1] + sigma * rng.standard_normal()
    t = np.arange(n, dtype=float)
    return start * (end / start) ** (t / (n - 1)) * np.exp(e)


def to_a_floor(n, *, start=0.25, floor=5e-15, reach=0.3, swing=0.25, seed=0):
    """Falls geometrically from `start` to `floor` by `reach` of the run, then wobbles there by
    +-`swing` of it in slow correlated swings (a float64 loss at its rounding floor)."""
    k = int(reach * n)
    fall = start * (floor / start) ** (np.arange(k) / (k - 1))
    return np.r_[fall, correlated_scatter(n - k, start=floor, end=floor, swing=swing, seed=seed)]


def onto_chance(n, *, k=4, start=3.5, reach=0.65):
    """A dead network's loss: the output bias relaxing to the class shares, a smooth decay from
    `start` that reaches ln `k` (to 1e-4 of it) at `reach` of the run and stays there."""
    c = math.log(k)
    rate = math.log((start - c) / (1e-4 * c)) / (reach * (n - 1))
    return c + (start - c) * np.exp(-rate * np.arange(n))


def dip_and_back(n, *, start=2.3, dip=0.11, end=0.026, at=0.1, seed=0):
    """Falls by `dip` of `start` by `at` of the run, then climbs back to `end` above `start`
    and stays flat there (mini-batch scatter of 0.2% of the level): a network that learned a
    little and forgot it, ending about where it began."""
    t = np.arange(n, dtype=float)
    k = max(2, int(at * n))
    low, top = start * (1.0 - dip), start * (1.0 + end)
    y = np.where(t <= k, start + (low - start) * t / k, top + (low - top) * np.exp(-(t - k) / 5.0))
    return y * (1.0 + 0.002 * np.random.default_rng(seed).standard_normal(n))


def catapults(n, *, base=0.25, every=40, heights=(8.0, 6.0, 3.0, 2.0), start=0.7, calm=0.4):
    """Full-batch catapult spikes: a base level `base` (reached from `start` over the first
    `every` points) with a spike every `every` points from `calm` of the run on, whose heights
    (times the base) cycle through `heights`: spikes that vary in size but never stop."""
    y = np.full(n, base) * (1.0 + 0.02 * np.sin(np.arange(n) / 3.0))
    y[:every] = start + (base - start) * np.arange(every) / every
    peaks = np.arange(int(calm * n), n - 5, every)
    for j, p in enumerate(peaks):
        h = heights[j % len(heights)] * base
        y[p : p + 5] = [h / 3, 2 * h / 3, h, 2 * h / 3, h / 3]
    return y
