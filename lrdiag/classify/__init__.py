"""Loss curve -> verdict: converging, oscillating, diverging or plateaued.

A pure NumPy function, shared by the sweep and by ``lrdiag classify``. The verdict is the first
rule that matches:

1. diverging    non-finite by the end; or the final level (median of the last points) sits above
                the initial loss by a margin that noise cannot explain; or still growing
                geometrically at the end; or it lost most of the progress it had made, or (a
                loss > 0) more than doubled from its best level, and did not recover (flag
                ``late_blowup``).
2. oscillating  over the final window, swings that keep changing direction (far more often
                than random noise does: 2/3 of its steps) with no downward trend; or, for a loss
                > 0, sustained swings of 10% of its own level or more at any period (alternating,
                periodic, slow) or, on a curve that learned less than it swings, like noise.
3. plateaued    no clear net progress: stuck at the chance loss (ln 2, ln K: given, or found to
                rounding) with nothing happening at the end, within the noise (but never a loss
                > 0 that fell by a fifth of its level and held it), a small fraction of the
                curve's range, or (a loss > 0) a small fraction of its own level.
4. converging   otherwise: clear net progress. Noise, a transient spike that recovered,
                edge-of-stability bouncing on a falling trend and a late recovery (``unstable``)
                are flags, not verdicts.

Everything is measured against the curve's own scale: its range R (from the higher of the initial
loss and the final-window peak down to its minimum), its robust noise level (median absolute
deviations of first and second differences), medians over windows and, for a curve whose values
are all > 0 (a loss whose floor is at or near 0, what almost every logged loss is), its own
level: a fall of 0.02% of the loss is no progress and a bounce of 40% of it is no small bounce,
however large a spike made R. So the verdict and flags do not change when the curve is multiplied
by a positive number; a shift changes the level of a loss > 0, and may change its verdict. The
only absolute levels read are the chance losses ln K.

Metrics (JSON-able; None when not applicable or not finite): initial, final (curve[0] and
curve[-1]), last_finite, min, min_epoch, max, diverged_epoch (first index of the trailing run of
non-finite values), n_points, n_finite; then the numbers behind the decision: window (points in
the final window), final_level, best_level (lowest rolling median), best_epoch, range (R), noise
(std dev), noise_fraction (noise / R), progress ((initial - final level) / R), progress_snr
(the same over the noise), kept (share of the best progress still held at the end), rise
((final level - initial) / R), growth_rate and growth_steps (of the trailing increases),
alternation (share of direction changes in the final window), turning_z (the same against
noise, in std devs), swing (median step / R), decline (fall across the final window / R),
spike_epoch, spike_height (/ R), chance and chance_classes (the chance loss and its K, when
given or when the curve is stuck at one found unasked), floor_progress (net progress as a share
of the initial loss, for a loss > 0 or a named one), overfit_rise (validation rise since its
best / its R), swing_level (half the 5-95 percentile spread of the final window about its trend
line, over its median; a loss > 0) and period (of an oscillation, in points, when it has one).
The ``*_epoch`` metrics are always indices into the curve (0-based), whatever its x-axis.

The reason names positions on the curve's x-axis when one is given (``x``, ``x_name``: the
steps or epochs a log's values were logged at): "a transient spike at step 600". Without one,
value k is epoch k, as in a sweep (value 0 is the loss at init). Counts of values ("the last 10
epochs", "over 100 epochs") are counted in units of the axis when its values are consecutive
(epoch 0, 1, 2, ...: a Keras log); otherwise they say "values" and give the span they cover
("the last 10 values (steps 4100-5000)", "over steps 0-5000").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrdiag.classify.measure import _chance, _measure, _Measures, _prepare
from lrdiag.classify.rules import (
    _borderline,
    _decide,
    _flags,
    _overfit_rise,
    _spike,
    _stuck,
    _train_chance,
)
from lrdiag.classify.text import _Axis, _axis, _pct, _reason
from lrdiag.formatting import finite, plural
from lrdiag.thresholds import (
    _DECISION_FIELDS as _DECISION_FIELDS,  # the thresholds borderline moves (tests read it)
)
from lrdiag.thresholds import (
    CHANCE_CLASSES,
    FLAGS,
    LOSS_NAMES,
    VERDICTS,
    Thresholds,
)

__all__ = [
    "CHANCE_CLASSES",
    "FLAGS",
    "LOSS_NAMES",
    "VERDICTS",
    "Thresholds",
    "Verdict",
    "classify",
]


@dataclass(frozen=True)
class Verdict:
    verdict: str  # one of VERDICTS
    reason: str  # one sentence with the numbers behind the decision
    flags: tuple[str, ...]  # members of FLAGS, in FLAGS order
    metrics: dict[str, float | int | None]  # JSON-able; None when not applicable or non-finite


def classify(
    curve,
    thresholds: Thresholds = Thresholds(),  # noqa: B008 (frozen, so a shared default is safe)
    *,
    n_classes: int | None = None,
    loss_name: str | None = None,
    train_curve=None,
    x=None,
    x_name: str = "epoch",
    full_batch: bool = False,
    guess_chance: bool = True,
) -> Verdict:
    """Classify one loss curve (by default index = epoch, ``curve[0]`` = loss at initialisation).

    Non-finite values at the end mean the run diverged; isolated non-finite values in the middle
    are treated as missing. ``loss_name`` ("bce", "cross_entropy", "mse" or None) and
    ``n_classes`` give the chance loss for ``stuck_at_chance``; ``train_curve`` is the training
    curve when ``curve`` is a validation curve (for ``overfitting``). ``x`` (finite, strictly
    increasing, one per value) is where each value was logged, on an axis named ``x_name``
    ("step", "epoch"): the reason names positions by it ("at step 600"); without it value k is
    ``x_name`` k. The axis changes the reason's wording only: verdict, flags and metrics (whose
    ``*_epoch`` entries stay indices into ``curve``) are the same with or without it.
    ``full_batch`` says the curve comes from full-batch gradient descent, which has no sampling
    noise: sustained swings of its level are then oscillation however irregular they are.
    ``guess_chance=False`` says the network learned (an accuracy far above chance beside the
    loss): a level near ln K, no chance loss given, is then not read as chance.
    """
    th = thresholds
    if loss_name is not None and loss_name not in LOSS_NAMES:
        raise ValueError(f"loss_name must be one of {LOSS_NAMES} or None, got {loss_name!r}")
    axis = _axis(x, x_name, np.asarray(curve, dtype=float).size)
    with np.errstate(all="ignore"):  # losses near the float64 limit: inf differences are fine
        return _classify(
            curve, th, n_classes, loss_name, train_curve, axis, full_batch, guess_chance
        )


def _classify(
    curve,
    th: Thresholds,
    n_classes,
    loss_name,
    train_curve,
    axis: _Axis,
    full_batch: bool,
    guess_chance: bool = True,
) -> Verdict:
    y, epochs, n, diverged = _prepare(curve)
    chance = _chance(loss_name, n_classes)
    if chance[0] is None and train_curve is not None and loss_name != "mse" and guess_chance:
        # a validation curve beside a training curve stuck at chance: the same dead network,
        # so the training curve's class count is this curve's too
        chance = _train_chance(train_curve, th, loss_name) or chance
    raw = np.asarray(curve, dtype=float).reshape(-1)

    base: dict[str, float | int | None] = {
        "initial": finite(raw[0]) if n else None,
        "final": finite(raw[-1]) if n else None,
        "last_finite": finite(y[-1]) if y.size else None,
        "min": finite(y.min()) if y.size else None,
        "min_epoch": int(epochs[int(np.argmin(y))]) if y.size else None,
        "max": finite(y.max()) if y.size else None,
        "diverged_epoch": diverged,
        "n_points": int(n),
        "n_finite": int(y.size),
    }
    if y.size == 0:
        if diverged is not None:
            reason = "diverged: every value of the loss is non-finite"
            verdict = "diverging"
        else:
            reason = "plateaued: the curve is empty, so there is nothing to judge"
            verdict = "plateaued"
        short = ("borderline",) if n < th.short_curve else ()
        return Verdict(verdict, reason, short, {**base, **_empty_metrics(chance)})

    ms = _measure(y, n, diverged, th, chance, loss_name != "mse" and guess_chance)
    verdict, rule = _decide(ms, th, loss_name, full_batch)
    # A diverging run went up and did not come back: whatever rose before, it did not recover.
    spike = _spike(ms, th, y) if verdict != "diverging" else None
    flags = _flags(ms, th, y, epochs, verdict, rule, train_curve, spike)

    flipped = _borderline(ms, th, loss_name, verdict, full_batch)
    few_turns = verdict == "oscillating" and ms.turning_z_max < th.osc_z
    if n < th.short_curve or flipped or few_turns:
        flags.add("borderline")
    overfit = _overfit_rise(ms, th, y, epochs, train_curve) if "overfitting" in flags else None
    metrics = {**base, **_metrics(ms, th, epochs, loss_name, rule, spike, overfit)}
    reason = _reason(ms, th, verdict, rule, flags, epochs, metrics, spike, axis)
    if n < th.short_curve:
        reason += f"; borderline, with only {plural(n, 'point')}"
    elif few_turns:
        reason += f"; borderline, as {ms.window} points are too few to tell bouncing from noise"
    elif flipped:
        name, other = flipped
        pct = _pct(th.borderline_margin)
        reason += f"; borderline, as moving {name} by {pct} would make it {other}"
    return Verdict(verdict, reason, tuple(f for f in FLAGS if f in flags), metrics)


def _empty_metrics(chance) -> dict[str, float | int | None]:
    keys = (
        "window",
        "final_level",
        "best_level",
        "best_epoch",
        "range",
        "noise",
        "noise_fraction",
        "progress",
        "progress_snr",
        "kept",
        "rise",
        "growth_rate",
        "growth_steps",
        "alternation",
        "turning_z",
        "swing",
        "decline",
        "spike_epoch",
        "spike_height",
        "floor_progress",
        "overfit_rise",
        "swing_level",
        "period",
        "rebounds",
        "rebound_peak",
    )
    out: dict[str, float | int | None] = dict.fromkeys(keys)
    out["chance"] = finite(chance[0])
    out["chance_classes"] = chance[1] if chance[0] is not None else None
    return out


def _ratio(a: float, b: float) -> float | None:
    return finite(a / b) if b > 0 else None


def _period(ms: _Measures, rule: str) -> float | None:
    """The period of an oscillation in points: 2 alternating, the autocorrelation's lag when
    periodic, twice the window over its half-swings when the swings are slow."""
    if rule == "alternating":
        return 2.0
    if rule == "periodic":
        return float(ms.acf_lag)
    if rule == "long" and ms.long is not None:
        return float(ms.long.lag)
    if rule == "smooth" and ms.half_swings:
        return 2.0 * ms.window / ms.half_swings
    return None


def _metrics(ms: _Measures, th, epochs, loss_name, rule, spike, overfit) -> dict:
    R = ms.range_
    floor = None
    if (loss_name in LOSS_NAMES or ms.positive) and ms.initial > 0:
        floor = _ratio(ms.net, ms.initial)
    stuck = _stuck(ms, th)
    return {
        "window": int(ms.window),
        "final_level": finite(ms.final_level),
        "best_level": finite(ms.best_level),
        "best_epoch": int(epochs[min(ms.best_epoch, epochs.size - 1)]),
        "range": finite(R),
        "noise": finite(ms.noise),
        "noise_fraction": _ratio(ms.noise, R),
        "progress": _ratio(ms.net, R),
        "progress_snr": _ratio(ms.net, ms.noise),
        "kept": _ratio(ms.net, ms.drop),
        "rise": _ratio(ms.final_level - ms.initial, R),
        "growth_rate": finite(ms.growth),
        "growth_steps": int(ms.growth_len),
        "alternation": finite(ms.alternation),
        "turning_z": finite(ms.turning_z),
        "swing": _ratio(ms.swing, R),
        "decline": _ratio(ms.decline, R),
        "spike_epoch": int(epochs[spike[0]]) if spike else None,
        "spike_height": _ratio(spike[1], R) if spike else None,
        "chance": finite(stuck[0] if stuck else ms.chance),
        "chance_classes": stuck[1] if stuck else ms.chance_k,
        "floor_progress": floor,
        "overfit_rise": overfit,
        "swing_level": _ratio(ms.amplitude, ms.window_level) if ms.positive else None,
        "period": _period(ms, rule),
        "rebounds": ms.rebounds,
        "rebound_peak": finite(ms.rebound_peak),
    }
