"""The decision: measures -> the first verdict rule that matches, and the flags.

``_decide`` reads only ``_Measures`` and the thresholds, so moving one threshold (``borderline``)
re-decides without measuring again. The rules are written out in docs/verdicts.md."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from lrdiag.classify.measure import (
    _measure,
    _Measures,
    _median,
    _odd,
    _prepare,
    _robust_noise,
    _rolling_median,
)
from lrdiag.thresholds import _DECISION_FIELDS, LOSS_NAMES, Thresholds


def _stuck(ms: _Measures, th: Thresholds) -> tuple[float, int] | None:
    """(chance loss, K) when the curve ends near the chance loss with nothing happening in the
    final window. The chance loss is the one given (ln 2 for bce, ln K for K classes), within
    chance_tol; or, unasked, an ln K of CHANCE_CLASSES that both the final level and the median
    of the second half sit on, to chance_round (plus noise_snr standard errors of a median, at
    most chance_round again): flat at chance for most of the run. Either way also a curve that
    came down onto the chance loss (its final level on it to chance_round, so measured), never
    got below it, and stayed on it (within chance_settle) for the last third of the run,
    however steep its fall before."""
    if ms.chance is not None:
        c, k = ms.chance, ms.chance_k
    elif ms.guess is not None:
        c, k = ms.guess, ms.guess_k
    else:
        return None
    if k is None:
        return None
    tol = th.chance_round * c + min(th.noise_snr * ms.level_se, th.chance_round * c)
    if ms.chance is not None:
        near = abs(ms.final_level - c) <= th.chance_tol * c
    else:
        near = abs(ms.final_level - c) <= tol and abs(ms.half_level - c) <= tol
    # A network that learned only the class shares relaxes onto chance and stops there; one
    # that learns goes on past it (nine tenths of the last third within chance_settle of c).
    settled = (
        ms.net > th.chance_settle * c  # came down onto it (one that sat there all along: below)
        and abs(ms.final_level - c) <= tol
        and ms.best_level >= c - tol
        and ms.third_high - c <= th.chance_settle * c
    )
    quiet = _quiet_at(ms, th, c)
    flat = ms.chance is not None and (_flat_at(ms, th, c) or _relaxing_onto(ms, th, c))
    return (c, int(k)) if settled or (near and (quiet or flat)) else None


def _quiet_at(ms: _Measures, th: Thresholds, c: float) -> bool:
    """The final window falls no more than noise, a small part of the range, or, relative to
    the chance loss c itself, a rounding-level creep (R alone cannot judge a curve that never
    left ln K)."""
    rounding = th.chance_flat * c * ms.window
    return ms.decline <= max(th.noise_snr * ms.noise, th.chance_quiet * ms.range_, rounding)


def _relaxing_onto(ms: _Measures, th: Thresholds, c: float) -> bool:
    """Told the chance loss c: a curve ending on it (chance_tol) that never got below it
    (chance_tol), and whose last third falls ever more slowly toward a level no lower
    (_relax_floor): a network learning only its output bias (3.98 down to 2.3065 in 40 epochs,
    ln 10 = 2.3026, each fall smaller than the one before) is converging onto chance, not
    learning. A curve still falling as fast, or heading below chance, is not."""
    floor = ms.third_floor
    low = (1.0 - th.chance_tol) * c
    return ms.net > 0 and floor is not None and floor >= low and ms.best_level >= low


def _flat_at(ms: _Measures, th: Thresholds, c: float) -> bool:
    """Told the chance loss c: flat on it for most of the run, however the final window holds
    the fall before (a 15-epoch log): the second half's median within chance_tol of c (a
    collapsed output sits a few % above ln K, the prior of unbalanced classes a few % below),
    its line falling no more than noise (noise_snr standard errors of such a fall, noise *
    sqrt(12 / n)) or a rounding-level creep (chance_flat of c per point), as the final window
    must for quiet: a steady creep down, however slow, is learning far too slowly. A second
    half of fewer than short_curve points shows no level (2.25, 2.21 after 189, 27)."""
    if ms.half_n < th.short_curve:
        return False
    se = ms.noise * math.sqrt(12.0 / ms.half_n)
    fall = max(th.noise_snr * se, th.chance_flat * c * ms.half_n)
    return abs(ms.half_level - c) <= th.chance_tol * c and ms.half_decline <= fall


def _held(ms: _Measures, th: Thresholds) -> bool:
    """A loss > 0 that fell by plateau_fall of its level or more and held it: the final level
    and the second half's median both that far below the start (the lower of the initial level
    and the first level_n points' median, which one noisy first point cannot lift), and by
    held_snr standard errors of such a median (a flat loss jumping by +-30% holds a "fall" of a
    fifth in 9% of 12-point draws, 3% with it). It is moving, however jumpy its points: a
    12-epoch validation loss from 0.45 to 0.19 is."""
    start = min(ms.initial, ms.early_level)
    fall = start - max(ms.final_level, ms.half_level)
    return ms.positive and fall >= th.plateau_fall * start and fall >= th.held_snr * ms.level_se


def _is_stuck(ms: _Measures, th: Thresholds) -> bool:
    return _stuck(ms, th) is not None


def _swinging(ms: _Measures, th: Thresholds, full_batch: bool = False) -> str | None:
    """How the final window of a loss > 0 swings, if it bounces by at least osc_level of its
    level, all the way to the end, in at least 3 half-swings (2 on a curve shorter than
    min_window), with a trend smaller than the swing: "alternating" (direction changes far
    more often than noise),
    "periodic" (autocorrelation peaks again at a lag), "smooth" (far fewer direction changes
    than noise: slow swings), "irregular" (none of these, on a curve shorter than min_window,
    too short to tell structure from noise, that never gained more than the swings' height
    nor held a fall (_held); or, on a curve of full-batch gradient descent, which has no
    sampling noise, any length: "chaotic"); or "long", a periodic swing too long for the window
    to show twice (_long_swing). None when it does not bounce so."""
    if th.osc_level <= 0 or not ms.positive or ms.window_level <= 0 or ms.turning_z is None:
        return None
    # A loss that fell to a millionth of its start has converged to its floor of 0: what is
    # left is rounding (a float64 loss wobbling at 5e-15 after starting at 0.25), not swings.
    if ms.window_level < th.osc_floor * ms.initial:
        return None
    if _long_swing(ms, th):
        return "long"
    a = ms.amplitude
    short = ms.window < th.min_window  # a curve of fewer points than a final window has
    if (
        a < th.osc_level * ms.window_level
        # dying out: the last half swings less than half as much, unless that is still a swing
        # of osc_keep of the level (catapult spikes whose heights vary from one to the next)
        or (ms.amp_late < a / 2 and ms.amp_late < th.osc_keep * ms.window_level)
        or ms.half_swings < 2
        or ms.decline >= th.osc_trend * 2 * a
    ):
        return None
    if ms.half_swings < 3:  # down and back up once is a V, not a swing: unless too short to say
        return "irregular" if short and ms.net < 2 * a and not _held(ms, th) else None
    z = min(th.osc_z, ms.turning_z_max)
    alternating = ms.alternation is not None and ms.alternation >= th.osc_alternation
    if alternating and ms.turning_z is not None and ms.turning_z >= z:
        return "alternating"
    if ms.acf_peak >= max(th.osc_acf, 3.0 / math.sqrt(ms.window)):
        return "periodic"
    correlated = ms.acf_one >= max(th.osc_corr, 3.0 / math.sqrt(ms.window))
    slow = ms.turning_z <= -th.osc_z or correlated
    # A log of mini-batch losses smoothed by a moving average (an EMA of weight 0.6 to 0.98)
    # also turns less often than noise and moves together, but still turns 40-55% of the time:
    # after a run gained more than the swings' full height, only swings that turn at most
    # osc_turns of the time (catapults, chaos) are slow swings, unless the curve is full-batch,
    # which draws no samples to smooth.
    if slow and not full_batch and ms.net >= 2 * a:
        turns = ms.alternation if ms.alternation is not None else 1.0  # None with turning_z
        slow = ms.turning_z <= -th.osc_z and turns <= th.osc_turns
    # two full slow swings at least: one and a half in the whole window is a wander, not a swing
    if ms.half_swings >= th.osc_slow_swings and slow and a >= th.osc_slow * ms.window_level:
        return "smooth"
    # Swings like independent noise: on a long curve that is mini-batch noise about a level
    # (plateaued or converging, whatever its size), on a short one too few points to tell.
    # Full-batch gradient descent draws no samples: its swings are its dynamics (bounded chaos
    # past the edge of stability), however they look.
    if full_batch and a >= th.osc_chaos * ms.window_level:
        return "chaotic"
    return "irregular" if short and ms.net < 2 * a and not _held(ms, th) else None


def _long_swing(ms: _Measures, th: Thresholds) -> bool:
    """A periodic swing too long for the final window to show twice, in the last half of the
    run (``ms.long``): two full swings there at least (osc_slow_swings half-swings), of at
    least osc_slow of that stretch's level, lasting through its second half, periodic
    (autocorrelation peak of osc_acf, and 3/sqrt(n)), and not riding a fall: its level falls
    across it by less than osc_fall of the swing's full height (a cyclic learning-rate
    schedule's bumps on a falling loss do)."""
    if ms.long is None:
        return False
    s = ms.long
    return (
        2 * s.lag > ms.window  # a period the window cannot show twice (a shorter one it reads)
        and s.level > 0
        and s.half_swings >= th.osc_slow_swings
        and s.amplitude >= th.osc_slow * s.level
        and s.amp_late >= s.amplitude / 2
        and s.acf_peak >= max(th.osc_acf, 3.0 / math.sqrt(s.n))
        and s.fall < th.osc_fall * 2 * s.amplitude
    )


def _decide(
    ms: _Measures, th: Thresholds, loss_name: str | None, full_batch: bool = False
) -> tuple[str, str]:
    """First rule that matches: returns (verdict, rule)."""
    if ms.diverged_epoch is not None:
        return "diverging", "nonfinite"
    if ms.constant:
        return "plateaued", "constant"
    R, sd = ms.range_, ms.noise
    rise = ms.final_level - ms.initial
    known = loss_name in LOSS_NAMES and ms.initial > 0
    # A loss > 0 (or a named one) is judged on its own level too: a change of less than
    # floor_progress of the initial loss is no change at all, whatever R says.
    level = ms.positive or known
    moved = not level or abs(rise) > th.floor_progress * ms.initial
    # Up means up on its own level too: a loss > 0 ending within ends_above of where it started
    # (a dip, then back to about its first value) has not gone anywhere.
    up = not ms.positive or rise > th.ends_above * ms.initial
    if (
        moved
        and up
        and rise > th.diverge_rise * R
        and (
            rise > th.noise_snr * sd  # more than noise (or than bouncing) can explain
            or ms.gap > th.diverge_gap * ms.win_spread  # the whole final window is above the start
            # a large part of a loss > 0 (or a named one) itself, with nine tenths of the final
            # window above the start (bouncing back down to it is oscillating, not up and gone)
            or (level and rise > th.floor_rise * ms.initial and ms.p10 > ms.initial)
            or (ms.n_finite >= th.never_back and ms.never_back)  # never back down to the initial
            or (ms.positive and rise > th.positive_rise * ms.initial)  # a loss that ended >2x up
        )
    ):
        return "diverging", "above_initial"
    if (
        ms.growth is not None
        and ms.growth_len >= th.growth_steps
        and ms.growth > th.growth_rate
        and ms.growth_rise > th.diverge_rise * R
        and ms.growth_rise > th.noise_snr * sd
        and (not level or ms.growth_rise > th.floor_progress * ms.initial)
        # a loss > 0 growing geometrically multiplies: more than 1 + positive_rise times
        # where its rise began (a validation loss creeping up 36% as a model overfits is not)
        and (not ms.positive or ms.growth_rise > th.positive_rise * ms.growth_base)
        and ms.last_is_peak
    ):
        return "diverging", "geometric"
    # On a log scale whatever the range: a positive loss whose final level is more than double
    # its start, with the final window above the start. A huge early spike inflates the range,
    # so the rise is under diverge_rise of it (1.64 -> 174 -> bouncing around 11.6).
    if ms.positive and rise > th.positive_rise * ms.initial and ms.low > ms.initial:
        return "diverging", "multiple"
    lost = ms.final_level - ms.best_level
    # Up and not coming back: a final window (of a curve long enough to have one) that still
    # swings down to near a best reached before it (its second half's 10th percentile within
    # half the loss of it) came back, each swing: a sustained swing whose troughs are its best
    # is no jump (a steady climb's window starts low, but its second half does not),
    # whatever phase it ends on (1 + 0.3 sin(2 pi t / 70) over 2000 steps).
    short = ms.window < th.min_window  # a curve of fewer points than a final window has
    came_back = (
        not short
        and ms.best_epoch < ms.n_finite - ms.window
        and ms.late_p10 <= ms.best_level + 0.5 * max(lost, 0.0)
    )
    if (
        not came_back
        and ms.best_early
        and ms.drop > th.noise_snr * sd
        and ms.drop > th.plateau_progress * R
        and (not level or ms.drop > th.floor_progress * ms.initial)
        and ms.net < th.blowup_keep * ms.drop
        and lost > th.noise_snr * sd
        # a loss > 0 jumped on its own level, not back by a few percent to where it started
        and (not ms.positive or lost > th.blowup_rise * ms.best_level)
    ):
        return "diverging", "blowup"
    # On its own level: a loss > 0 that more than doubled from its best and stayed there jumped
    # to a higher level, however high it started (a fall from 1.24 to 0.077, then 0.47).
    if (
        not came_back
        and ms.positive
        and ms.best_early
        and ms.final_level > (1.0 + th.positive_rise) * ms.best_wide
        and ms.final_level - ms.best_wide > th.noise_snr * max(sd, ms.noise_end)
        and lost > th.plateau_progress * R
    ):
        return "diverging", "jumped"
    # A bounce riding a falling trend is not oscillating: two windows before the final one the
    # level was higher by more than osc_fall of the swing's full height (5-95%, twice the
    # amplitude): progress over the last three windows, however the final one alone looks. A
    # curve too short for a window of its own has no level before it but its start: it rides
    # a fall when it gained more than the swing's full height since (a zigzag down from 0.9 to
    # 0.42 in 8 epochs, swinging +-0.12 about its trend), the bound of "irregular" (_swinging).
    back = ms.net if short else ms.fall_back
    falling = ms.amplitude > 0 and back > (1.0 if short else th.osc_fall) * 2 * ms.amplitude
    swings = None if falling else _swinging(ms, th, full_batch)
    if (
        not falling
        and ms.alternation is not None
        and ms.turning_z is not None  # None together with alternation
        and ms.alternation >= th.osc_alternation
        and ms.turning_z >= min(th.osc_z, ms.turning_z_max)
        and ms.swing >= th.osc_swing * R
        and ms.decline < th.osc_trend * ms.swing
    ):
        return "oscillating", "alternating"
    if swings is not None:
        return "oscillating", swings
    if _is_stuck(ms, th):
        return "plateaued", "chance"
    # Net progress hidden in the noise of single points may still be real over many points: the
    # median of the first level_n points against that of the last level_n has a standard error
    # of about noise * sqrt(pi / level_n) (each median's is noise * sqrt(pi / 2 / level_n)).
    # The final level's own points may be quieter than the window (a run that bounced until
    # its last epochs, then fell): their noise judges it then.
    if level and not moved and abs(ms.net) > th.noise_snr * sd:
        return "plateaued", "floor"  # a real change, but a tiny part of the loss
    fall = ms.early_level - ms.final_level
    trend = fall > th.trend_snr * sd * math.sqrt(math.pi / ms.level_n)
    # Or over the order of the points: a short, jumpy curve whose later points are mostly below
    # its earlier ones (Mann-Kendall, noise_snr std devs) has a trend its noise estimate hides.
    ordered = ms.mk_z >= th.noise_snr and ms.net > 0
    # Or, for a loss > 0 that moved by more than floor_progress of its level: a fall taller than
    # the final window's whole swing about its trend line (5-95%) is not noise, however jumpy a
    # short curve makes the noise estimate.
    # (off with osc_level 0, as every rule that reads swings on the level is)
    clear = (
        th.osc_level > 0
        and ms.positive
        and ms.net > max(2 * ms.amplitude, th.floor_progress * ms.initial)
    )
    # Or, for a loss > 0, a fall held (_held): moving, however jumpy the points.
    held = _held(ms, th)
    if ms.net <= th.noise_snr * min(sd, ms.noise_end) and not (trend or ordered or clear or held):
        return "plateaued", "noise"
    if ms.net < th.plateau_progress * R:
        return "plateaued", "range"
    if level and ms.net < th.floor_progress * ms.initial:
        return "plateaued", "floor"
    return "converging", "progress"


def _train_chance(train_curve, th: Thresholds, loss_name) -> tuple[float, int] | None:
    """The chance loss a training curve is stuck at, found unasked (None if it is not)."""
    y, _, n, diverged = _prepare(train_curve)
    if y.size == 0 or diverged is not None:
        return None
    ms = _measure(y, n, None, th, (None, None), True)
    return _stuck(ms, th)


def _borderline(
    ms: _Measures, th: Thresholds, loss_name, verdict, full_batch: bool = False
) -> tuple[str, str] | None:
    """The first decision threshold that, moved by +-borderline_margin, changes the verdict."""
    for name, moved in _moved(th):
        other, _ = _decide(ms, moved, loss_name, full_batch)
        if other != verdict:
            return name, other
    return None


@functools.lru_cache(maxsize=8)
def _moved(th: Thresholds) -> tuple[tuple[str, Thresholds], ...]:
    """Each decision threshold moved down, then up, by borderline_margin, in _DECISION_FIELDS
    order: made once per set of thresholds (a sweep judges every run with the same one)."""
    values = vars(th)
    return tuple(
        (name, dataclasses.replace(th, **{name: values[name] * factor}))
        for name in _DECISION_FIELDS
        for factor in (1.0 - th.borderline_margin, 1.0 + th.borderline_margin)
    )


_SPIKE_TRIES = 20  # rises looked at for a spike, largest first (noise makes many near-equal)


def _local_noise(y: np.ndarray, peak: int, body: float, half: int) -> float:
    """Noise of the points within ``half`` of ``peak``, leaving out the spike's body: the run
    of points about the peak that stay above ``body`` (half its height)."""
    lo, hi = peak, peak + 1
    while lo > 0 and y[lo - 1] > body:
        lo -= 1
    while hi < y.size and y[hi] > body:
        hi += 1
    return _robust_noise(np.r_[y[max(0, lo - half) : lo], y[hi : hi + half]])


def _spike(ms: _Measures, th: Thresholds, y: np.ndarray) -> tuple[int, float, float, float] | None:
    """Largest spike above the running minimum, if the loss then recovered: (index of its peak,
    height, the running minimum before it, the level it settled at after it).

    The running minimum is taken over the rolling median (so one low noise value does not set
    it), the rise is of the raw values. Recovery is judged on the points after the peak (the
    median of the last level_n of them at most): a rise still going on at the end, such as
    geometric growth, has no points after its peak and never recovered. They must be back above
    the old minimum by no more than spike_recover of the rise, nor of the progress made before
    it (initial level minus the old minimum), so a run that ends above where it started has not
    recovered; the allowance is at least noise_snr noise std devs."""
    if y.size < 3:
        return None
    m = y.size
    width = _odd(max(th.smooth_frac * m, 3 if m >= 9 else 1))
    level = _rolling_median(np.pad(y, width // 2, mode="edge"), width)  # same length as y
    runmin = np.minimum.accumulate(level)
    height = y[1:] - runmin[:-1]
    # The largest rise that is a spike: of spike_height of R and spike_snr noise std devs, and
    # for a loss > 0 of spike_level of the level it had (mini-batch noise of 10% on a falling
    # curve makes excursions of 30-40%, no spike). Its noise is the final window's and also the
    # noise where it happened (per-step batch noise is larger early, at a higher level: +50%
    # steps of a healthy run at step 60 are noise there), measured on the points around the
    # peak but not its body (a spike of several steps is not noise against itself).
    half = max(5, m // 20)
    for k in np.argsort(height)[::-1][:_SPIKE_TRIES]:
        h = float(height[k])
        if h < th.spike_height * ms.range_ or h < th.spike_snr * ms.noise or h <= 0:
            return None  # and every lower rise fails too
        if ms.positive and th.osc_level > 0 and h < th.spike_level * float(runmin[k]):
            continue
        if h >= th.spike_snr * _local_noise(y, int(k) + 1, float(runmin[k]) + h / 2, half):
            break
    else:
        return None
    peak = int(k) + 1
    after = y[max(peak + 1, m - ms.level_n) :]
    if after.size == 0:
        return None
    premin = float(runmin[k])
    allowed = max(th.spike_recover * min(h, ms.initial - premin), th.noise_snr * ms.noise)
    settled = _median(after)
    if settled > premin + allowed or settled > ms.initial:  # the noise allowance aside, a run
        return None  # that ends above where it started has not recovered
    return peak, h, premin, settled


def _flags(ms, th, y, epochs, verdict, rule, train_curve, spike) -> set[str]:
    flags: set[str] = set()
    if ms.constant:
        return flags | ({"stuck_at_chance"} if _is_stuck(ms, th) else set())
    if verdict == "converging" and (ms.above_share >= 0.5 or ms.rebounds >= th.rebound_count):
        flags.add("unstable")
    elif spike is not None:
        flags.add("early_spike")
    lost = ms.final_level - ms.best_level
    # learned first: a fall of plateau_progress of R or, for a loss > 0, of floor_progress of its
    # level (a blow-up to 9.6e3 makes R say nothing of a fall from 10.8 to 2.9 before it)
    made_progress = ms.drop > th.noise_snr * ms.noise and (
        ms.drop > th.plateau_progress * ms.range_
        or (ms.positive and ms.drop > th.floor_progress * ms.initial)
    )
    if rule in ("blowup", "jumped") or (
        verdict == "diverging"
        and made_progress
        and (rule == "nonfinite" or (ms.net < th.blowup_keep * ms.drop and lost > 0))
    ):
        flags.add("late_blowup")
    if _is_stuck(ms, th) and (ms.chance is not None or verdict == "plateaued"):
        flags.add("stuck_at_chance")
    if (
        verdict == "converging"
        and ms.alternation is not None
        and ms.alternation >= th.osc_alternation
        and ms.turning_z >= min(th.osc_z, ms.turning_z_max)
        and ms.swing >= th.eos_swing * ms.range_
    ):
        flags.add("edge_of_stability")
    wiggles = ms.alternation is not None and ms.alternation >= th.noisy_turns
    bouncing = verdict == "oscillating" or "edge_of_stability" in flags
    if wiggles and not bouncing and ms.noise >= th.noisy_sigma * ms.range_:
        flags.add("noisy")
    at_chance = "stuck_at_chance" in flags  # learned nothing, so nothing to overfit
    if train_curve is not None and not at_chance and _overfit_rise(ms, th, y, epochs, train_curve):
        flags.add("overfitting")
    return flags


def _overfit_rise(ms, th, y, epochs, train_curve) -> float | None:
    """Validation rise above its best (fraction of its range), if the training loss fell since."""
    train = np.asarray(train_curve, dtype=float).reshape(-1)
    best_e = int(epochs[min(ms.best_epoch, epochs.size - 1)])
    end_e = min(int(epochs[-1]), train.size - 1)
    if best_e >= end_e:
        return None
    seg = train[max(0, best_e - 1) : end_e + 1]
    seg = seg[np.isfinite(seg)]
    if seg.size < 3:
        return None
    k = max(1, min(seg.size // 3, int(round(th.level_frac * seg.size))))
    t_level = _median(seg[:3])
    t_fall = t_level - _median(seg[-k:])
    finite = train[np.isfinite(train)]
    t_need = th.overfit_train_drop * float(np.ptp(finite))
    if t_level > 0 and finite.min() > 0:  # on its own level too: a fall of 41% from 0.051 is one,
        t_need = min(t_need, th.floor_progress * t_level)  # whatever an initial 3.1 makes the range
    t_need = max(th.noise_snr * _robust_noise(finite), t_need)
    v_rise = ms.final_level - ms.best_level
    v_need = th.overfit_rise * ms.range_
    if ms.positive:  # on its own level too: a rise of 33% from 0.112 is one, whatever R
        v_need = max(
            min(v_need, th.overfit_rise * ms.best_level), th.floor_progress * ms.best_level
        )
    v_need = max(v_need, th.noise_snr * ms.noise)
    if v_rise > v_need and t_fall > t_need:
        return v_rise / ms.range_
    return None
