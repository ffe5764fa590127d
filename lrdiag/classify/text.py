"""The reason: one sentence with the numbers behind a verdict, naming positions on the curve's
x-axis ("a transient spike at step 600") and levels with enough digits to show the change."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrdiag.classify.measure import _Measures
from lrdiag.classify.rules import _flat_at, _quiet_at, _relaxing_onto, _stuck
from lrdiag.formatting import plural

# An oscillating curve's final window may drift down by less than it swings: a drift over this
# share of its level is named in the reason, rather than "no net progress".
DRIFT_NOTE = 0.05


def _sig3(v: float) -> str:
    """``v`` in 3 significant digits."""
    return f"{v:.3g}"


def _level(v: float, scale: float) -> str:
    """A loss level with enough significant digits to show a change of about ``scale`` (the
    curve's range): 3, more when the level is much larger than the range, so that a curve near
    ln 2 reads "fell from 0.693696 to 0.693168", not "from 0.694 to 0.693"."""
    if v == 0.0 or not (math.isfinite(v) and math.isfinite(scale) and scale > 0.0):
        return _sig3(v)
    digits = math.ceil(math.log10(abs(v)) - math.log10(scale)) + 2  # v / scale may underflow
    return f"{v:.{min(max(3, digits), 12)}g}"


@dataclass(frozen=True)
class _Axis:
    """How a reason names positions and counts of values on the curve's x-axis."""

    x: np.ndarray | None  # the position of each value (None: its index)
    name: str  # "epoch", "step", ...
    consecutive: bool  # positions go up by 1, so a count of values is a count of `name`s

    def at(self, k: int) -> str:
        """Value k's position: "epoch 6", "step 600"."""
        return f"{self.name} {k if self.x is None else _num(self.x[k])}"

    def span(self, first: int, last: int) -> str:
        """Positions of values first..last: "steps 0-5000" (only for an axis of positions)."""
        assert self.x is not None  # a count of values, not a span, when positions are indices
        return f"{self.name}s {_num(self.x[first])}-{_num(self.x[last])}"

    def last(self, k: int, epochs: np.ndarray, level: str | None = None) -> str:
        """The last k finite values (``epochs``: the indices of the finite values), with a
        level in parentheses if given: "the last 10 epochs (0.3)", "the last 10 values (0.3,
        steps 4100-5000)"."""
        if self.consecutive:
            return f"the last {plural(k, self.name)}" + (f" ({level})" if level else "")
        where = self.span(int(epochs[-k]), int(epochs[-1]))
        return f"the last {plural(k, 'value')} ({level + ', ' if level else ''}{where})"

    def over(self, n_points: int) -> str:
        """The span of a curve of ``n_points`` values: from epoch 0 to epoch n - 1 when value k
        is epoch k (a sweep of 100 epochs has 101 values, the loss at init, then after each
        epoch, and spans 100 epochs), else "over steps 0-5000"."""
        if n_points <= 1:
            return "at its only point"
        if self.consecutive:
            return f"over {plural(n_points - 1, self.name)}"
        return f"over {self.span(0, n_points - 1)}"


def _num(v: float) -> str:
    """A position: whole numbers without ".0", others (fractional epochs) with a few significant
    digits (more for large values, so 12345.67 does not read 1.235e+04)."""
    v = float(v)
    if v == round(v) and abs(v) < 1e15:
        return str(int(v))
    digits = max(4, int(math.log10(abs(v))) + 3) if v else 4
    return f"{v:.{digits}g}"


def _axis(x, x_name: str, n: int) -> _Axis:
    if not isinstance(x_name, str) or not x_name:
        raise ValueError(f"x_name must be a non-empty string, got {x_name!r}")
    if x is None:
        return _Axis(None, x_name, True)
    pos = np.asarray(x, dtype=float).reshape(-1)
    if pos.size != n:
        raise ValueError(f"x must have one position per value: {pos.size} for {n} values")
    if not np.isfinite(pos).all() or (np.diff(pos) <= 0).any():
        raise ValueError("x must be finite and strictly increasing")
    return _Axis(pos, x_name, bool((np.diff(pos) == 1.0).all()))


def _times(n: int) -> str:
    """How often: "once", "twice", "3 times"."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _pct(v: float | None) -> str:
    """A percentage: whole numbers, and one significant digit below 1% (so not "0%"). A share
    that overflowed (values near the float64 limit make ranges and ratios infinite) says so."""
    if v is None or not math.isfinite(v):
        return "an incalculable share"
    p = 100.0 * v
    return f"{p:.0f}%" if p == 0.0 or abs(p) >= 0.995 else f"{p:.1g}%"


def _drifts_down(ms: _Measures) -> bool:
    """The final window falls by more than DRIFT_NOTE of its level across it."""
    return ms.decline > DRIFT_NOTE * abs(ms.window_level)


def _stays(ms: _Measures, th) -> str:
    """After a rise: "stayed there", or "is still rising" when the final window climbs by more
    than it swings about its trend line and by more than floor_progress of its level, and its
    second half still climbs by that much (a validation loss rising to the last epoch; a creep
    of 0.1% an epoch stays, and so does a jump to 8000 that then holds for ten epochs)."""
    climb = -ms.decline
    floor = th.floor_progress * abs(ms.window_level)
    rising = climb > 2.0 * ms.amplitude and climb > floor and ms.late_climb > floor
    return "is still rising" if rising else "stayed there"


def _share_above(ms: _Measures) -> str:
    """How many points of the final window sit above the initial level: "all", "38"."""
    return "all" if ms.above_window == ms.window else str(ms.above_window)


def _last_apart(ms, th, lv) -> str:
    """ "; its last value is 0.609" when the last value lies far from the final level (the median
    of the last points) the reason quotes: by noise_snr noise std devs and 10% of the level (an
    early-stopping restore of the best weights, a last epoch off the rest), else ""."""
    off = abs(ms.last - ms.final_level)
    if not math.isfinite(off) or off <= max(th.noise_snr * ms.noise, 0.1 * abs(ms.final_level)):
        return ""
    return f"; its last value is {lv(ms.last)}"


def _times_start(ms) -> str:
    """ ", 259 times its start" for a loss > 0 that ended at twice its start or more (a share
    of a range the rise itself sets says little of how far it went), else ""."""
    if not ms.positive or ms.initial <= 0 or ms.final_level < 2.0 * ms.initial:
        return ""
    return f", {ms.final_level / ms.initial:.3g} times its start"


def _still_growing(ms, th) -> str:
    """ ", and it is still growing geometrically ..." when the increments at the end grow as the
    geometric rule asks (a loss above its start by a share of a range its own growth sets says
    little of a blow-up by 1.1x a step), else ""."""
    if (
        ms.growth is None
        or ms.growth_len < th.growth_steps
        or ms.growth <= th.growth_rate
        or not ms.last_is_peak
    ):
        return ""
    return (
        f", and it is still growing geometrically: each of its last {ms.growth_len} increases "
        f"about {1 + ms.growth:.3g}x the one before"
    )


def _reason(ms, th, verdict, rule, flags, epochs, met, spike, axis: _Axis) -> str:
    tail = axis.last(ms.window, epochs)

    def lv(v: float) -> str:
        return _level(v, ms.range_)

    if rule == "nonfinite":
        last = met["last_finite"]
        s = f"diverged: loss became non-finite at {axis.at(ms.diverged_epoch)}"
        s += f" (last finite {lv(last)})" if last is not None else ""
        if "late_blowup" in flags:
            s += f", after falling from {lv(ms.initial)} to {lv(ms.best_level)}"
        return s
    if rule == "constant":
        if ms.n_finite == 1 < ms.n_points:
            return (
                f"plateaued: only one of its {ms.n_points} values is finite "
                f"({_sig3(ms.initial)}, at {axis.at(int(epochs[0]))}): nothing to judge"
            )
        stuck = _stuck(ms, th)
        if stuck:
            return (
                f"plateaued: the loss stays at {_sig3(ms.initial)} ≈ ln {stuck[1]} (chance for "
                f"{stuck[1]} classes) {axis.over(ms.n_points)}"
            )
        return f"plateaued: the loss stays at {_sig3(ms.initial)} {axis.over(ms.n_points)}"
    if rule == "multiple":
        return (
            f"diverging: the median of {axis.last(ms.level_n, epochs, lv(ms.final_level))} is "
            f"{ms.final_level / ms.initial:.3g} times the initial loss {lv(ms.initial)}, and "
            f"{_share_above(ms)} of {tail} sit above it{_still_growing(ms, th)}"
        )
    if rule == "above_initial":
        return (
            f"diverging: the median of {axis.last(ms.level_n, epochs, lv(ms.final_level))} sits "
            f"above the initial loss {lv(ms.initial)} by {_pct(met['rise'])} of the curve's range"
            # R runs from the minimum to the final window's peak, not to an earlier spike's
            f" ({lv(met['min'])} to {lv(met['min'] + ms.range_)}){_times_start(ms)}"
            f"{_still_growing(ms, th)}"
        )
    if rule == "geometric":
        return (
            f"diverging: the loss is still growing geometrically at the end, each of its last "
            f"{ms.growth_len} increases about {1 + ms.growth:.3g}x the one before"
        )
    if rule == "blowup":
        lost = 1.0 - (met["kept"] or 0.0)
        return (
            f"diverging: the loss fell from {lv(ms.initial)} to {lv(ms.best_level)} by "
            f"{axis.at(met['best_epoch'])}, then rose to {lv(ms.final_level)} and "
            f"{_stays(ms, th)}, losing {_pct(lost)} of its progress"
        )
    if verdict == "oscillating" and ms.positive:
        span = axis.last(ms.n_finite - ms.bounce_from, epochs)
        unit = axis.name + "s" if axis.consecutive else "values"
        if rule == "alternating":
            how = f"changing direction {_pct(ms.alternation)} of the time"
        elif rule == "periodic":
            how = f"with a period of about {ms.acf_lag} {unit}"
        elif rule == "long":
            how = f"with a period of about {ms.long.lag} {unit}"
        elif rule == "smooth":
            how = f"in slow swings of about {met['period']:.0f} {unit} each"
        elif rule == "chaotic":
            how = (
                "irregularly (full-batch gradient descent draws no samples: the swings are "
                "its dynamics, not noise)"
            )
        else:
            how = (
                f"irregularly, by more than all it gained since {lv(ms.initial)}"
                if ms.net > 0
                else f"irregularly (and ends no lower than its start, {lv(ms.initial)})"
            )
        # The rules ask for a drift smaller than the swings, not for none: say which it is.
        if _drifts_down(ms):
            drift = (
                f"drifting down by {lv(ms.decline)} across {axis.last(ms.window, epochs)}, "
                f"less than it swings"
            )
        else:
            drift = "with no net progress"
        # low, high, the swing and its period are the final window's; the bouncing may have
        # begun earlier, at other heights: the range is said of the window only
        when = f"for {span}"
        if rule == "long":  # the swings were read over the last half, longer than the window
            when = f"over {axis.last(ms.long.n, epochs)}"
        elif ms.n_finite - ms.bounce_from > ms.window:
            when = f"over {tail}, and has bounced for {span}"
        # a late drop the window holds (the first question's lr 1: bouncing 3-13, then down
        # to 0.05): converging is as defensible, so the reason says how it ends
        ends = ""
        if ms.final_fall >= 3:
            ends = (
                f"; it ends falling, for its last {ms.final_fall} {unit}, to its lowest value "
                f"yet, {lv(ms.last)}"
            )
        return (
            f"oscillating: bounces between {lv(ms.low)} and {lv(ms.high)} "
            f"(±{_pct(met['swing_level'] or 0.0)} of its level) {how} {when}, {drift}{ends}"
        )
    if rule == "jumped":
        return (
            f"diverging: the loss fell from {lv(ms.initial)} to {lv(ms.best_level)} by "
            f"{axis.at(met['best_epoch'])}, then rose to {lv(ms.final_level)}, "
            f"{ms.final_level / ms.best_wide:.3g} times its best level, and {_stays(ms, th)}"
        )
    if rule == "alternating":
        return (
            f"oscillating: over {tail} the loss changed direction {_pct(ms.alternation)} of the "
            f"time (random noise: 67%) with swings of {_pct(met['swing'])} of its range and no "
            f"downward trend"
        )
    if rule == "chance":
        stuck = _stuck(ms, th)
        assert stuck is not None  # the chance rule fired on it
        c, k = stuck
        if ms.chance is None:
            # on ln K for the second half (to chance_round and a median's standard errors), or
            # came down onto it and stayed for the last third (chance_settle)
            tol = th.chance_round * c + min(th.noise_snr * ms.level_se, th.chance_round * c)
            span = "the second half" if abs(ms.half_level - c) <= tol else "the last third"
            return (
                f"plateaued: flat at {_level(ms.final_level, 1e-4 * c)} ≈ ln {k} = {c:.5g} "
                f"(chance with {k} classes) for {span} of the run and not falling"
            )
        if _flat_at(ms, th, c):
            off = _pct(abs(ms.half_level - c) / c)
            return (
                f"plateaued: the loss sits at {_sig3(ms.half_level)} for the second half of the "
                f"run, within {off} of ln {k} = {c:.4g} (chance for {k} classes), and is not "
                f"falling"
            )
        if _relaxing_onto(ms, th, c) and not _quiet_at(ms, th, c):
            return (
                f"plateaued: the loss falls ever more slowly onto ln {k} = {c:.4g} (chance for "
                f"{k} classes): it ends at {ms.final_level:.4g}, heading for "
                f"{(ms.third_floor or c):.4g} and no lower, as a network that learns only its "
                f"output bias (the share of each class) does"
            )
        return (
            f"plateaued: the loss ends at {_sig3(ms.final_level)} ≈ ln {k} = "
            f"{c:.4g} (chance for {k} classes) and is not falling"
        )
    if rule == "noise":
        net = "net progress" if ms.final_level <= ms.initial else "a net rise"  # not progress
        return (
            f"plateaued: {net} {axis.over(ms.n_points)} ({lv(ms.initial)} to "
            f"{lv(ms.final_level)}) is within {th.noise_snr:g} noise standard deviations "
            f"({_sig3(ms.noise)})"
        )
    if rule == "range":
        return (
            f"plateaued: only {_pct(met['progress'])} net progress {axis.over(ms.n_points)} "
            f"relative to the curve's range ({lv(ms.initial)} to {lv(ms.final_level)})"
        )
    if rule == "floor":
        share = abs(ms.net) / ms.initial
        moved = f"({lv(ms.initial)} to {lv(ms.final_level)})"
        if ms.net > 0:  # from 1% two digits: "3.6%", not "4%" beside a floor_progress of 4%
            fell = _pct(share) if share < 0.01 else f"{100 * share:.2g}%"
            return (
                f"plateaued: fell by only {fell} of its level {axis.over(ms.n_points)} "
                f"{moved}: learning far too slowly"
            )
        if share <= th.floor_progress:
            return (
                f"plateaued: changed by only {_pct(share)} of its level "
                f"{axis.over(ms.n_points)} {moved}: not moving"
            )
        return (
            f"plateaued: rose by {_pct(share)} of its level {axis.over(ms.n_points)} {moved}, "
            f"too little against its noise ({_sig3(ms.noise)}) and range to call diverging"
        )
    s = (
        f"converging: loss fell from {lv(ms.initial)} to {lv(ms.final_level)} "
        f"({_pct(met['kept'] or 0.0)} of the way to its best, {lv(ms.best_level)}"
        f"{_last_apart(ms, th, lv)})"
    )
    extras = []
    if "unstable" in flags and ms.above_share >= 0.5:
        s += (
            f", but only at the end: it sat above its initial loss for {_pct(ms.above_share)} of "
            f"the run (unstable)"
        )
    elif "unstable" in flags:
        s += (
            f", but not steadily: {_times(met['rebounds'])} it jumped back up to more than "
            f"{_pct(th.rebound_level)} above its lowest level so far, once to "
            f"{met['rebound_peak']:.3g}x that level (unstable)"
        )
    if "early_spike" in flags:
        _, _, low, settled = spike
        if settled > low + th.noise_snr * ms.noise:  # back down, but not all the way
            extras.append(
                f"a spike at {axis.at(met['spike_epoch'])} after which it settled at "
                f"{lv(settled)}, above its low of {lv(low)} before the spike"
            )
        else:
            extras.append(f"a transient spike at {axis.at(met['spike_epoch'])} that recovered")
    if "edge_of_stability" in flags:
        extras.append(
            f"steps alternating in direction {_pct(ms.alternation)} of the time "
            + (
                "on a falling trend"
                if _drifts_down(ms)
                else f"about a flat level, by ±{_pct(ms.amplitude / abs(ms.window_level))} of it"
                if ms.window_level
                else "about a flat level"
            )
        )
    if "noisy" in flags:
        extras.append(f"noise of {_pct(met['noise_fraction'])} of its range")
    if "overfitting" in flags and ms.positive and ms.best_level > 0:
        extras.append(
            f"the loss up {_pct(ms.final_level / ms.best_level - 1)} from its best "
            f"{lv(ms.best_level)} at {axis.at(met['best_epoch'])} while the training loss kept "
            f"falling (overfitting)"
        )
    elif "overfitting" in flags:
        extras.append(
            f"the loss up {_pct(met['overfit_rise'])} of its range since its best at "
            f"{axis.at(met['best_epoch'])} while the training loss kept falling (overfitting)"
        )
    if extras:
        s += ", with " + (extras[0] if len(extras) == 1 else ", ".join(extras[:-1]))
        s += f" and {extras[-1]}" if len(extras) > 1 else ""
    return s + _chance_hint(ms, th)


def _chance_hint(ms, th) -> str:
    """ "; it ends on ln K ..." for a curve that, not told its chance loss, ends on ln K or just
    above it, never got below it (near_chance) and spent its last third there (within
    chance_tol): the shape a network that learned nothing leaves, which only the class count
    can confirm. "" otherwise."""
    if ms.near_chance is None:
        return ""
    c, k = ms.near_chance
    if ms.third_high > (1.0 + th.chance_tol) * c:
        return ""
    above = (ms.final_level - c) / c
    where = "on" if above < 0.0005 else f"{100 * above:.2g}% above"
    tell = "--loss bce" if k == 2 else f"--loss cross_entropy --classes {k}"
    return (
        f"; it ends {where} ln {k} = {c:.4g}, the loss of guessing among {k} classes, and "
        f"never got below it: with {k} classes it learned nothing (say so with {tell})"
    )
