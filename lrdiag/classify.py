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
                rounding) with nothing happening at the end, within the noise, a small fraction
                of the curve's range, or (a loss > 0) a small fraction of its own level.
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

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

VERDICTS = ("converging", "oscillating", "diverging", "plateaued")
FLAGS = (
    "early_spike",  # rose well above its running minimum, then recovered
    "late_blowup",  # made clear progress, then lost most of it (or became non-finite)
    "noisy",  # noise in the final window is large next to the curve's range
    "stuck_at_chance",  # ends flat near the chance loss: ln 2 (bce), ln K (cross_entropy)
    "overfitting",  # validation curve rising from its best while the training curve falls
    "borderline",  # fewer than short_curve points, or a threshold moved by borderline_margin
    # would change the verdict
    "edge_of_stability",  # steps keep alternating in direction, but the verdict is converging
    "unstable",  # converging, but only at the end: above its initial loss for most of the run
)
LOSS_NAMES = ("bce", "cross_entropy", "mse")
# Class counts whose chance loss ln K is recognised on a loss whose class count was not given.
CHANCE_CLASSES = (*range(2, 11), 100, 1000)


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the classifier, named once; a ``classify:`` config section overrides.

    Fractions "of R" are of the curve's own range R = max(initial, final-window peak) minus the
    curve's minimum; "noise" is the robust standard deviation of the final window's steps.
    """

    window_frac: float = 0.2  # the final window is this fraction of the finite points ...
    min_window: int = 20  # ... but at least this many points (the whole curve when shorter)
    init_frac: float = 0.002  # initial level: y[0], or the median of this fraction of the first
    # points if higher (guards long noisy logs against a first value that is low by chance)
    noise_points: int = 50  # noise is estimated over the final window, or this many last points
    level_frac: float = 0.1  # final level: median of this fraction of the points (at least 3)
    smooth_frac: float = 0.02  # rolling-median width (fraction of points) for the best level
    short_curve: int = 5  # curves with fewer points than this are flagged borderline
    borderline_margin: float = 0.2  # borderline if moving one threshold by +-this changes verdict
    resolution: float = 1e-9  # steps below this fraction of the range count as zero (rounding)
    constant_rtol: float = 1e-6  # a curve whose range is at most this fraction of its values is
    # constant: float32, which frameworks log, rounds at 6e-8 of a value, a mean of batches a few
    # times that, and a loss flat up to its last digits is not bouncing or creeping
    noise_snr: float = 3.0  # a change is real only when it exceeds this many noise std devs
    diverge_rise: float = 0.1  # diverging: final-window median above initial by this much of R
    floor_rise: float = 0.1  # ... and by noise_snr noise std devs, or for a loss >= 0 (bce,
    # cross_entropy, mse) by this fraction of the initial loss, or ...
    diverge_gap: float = 0.3  # ... with all of the final window above the initial loss by this
    # fraction of the window's own spread, or ...
    never_back: int = 100  # ... over a curve of this many points that never came back down to
    # its initial loss after epoch 0 (iid noise does that with probability 1/n), or ...
    positive_rise: float = 1.0  # ... for a curve whose values are all > 0 (a loss, its name
    # unknown), by this many times the initial loss (1.0: the final level is double the start);
    # whatever R when the whole final window is above the initial level
    growth_rate: float = 0.02  # diverging: increments still growing by more than this per epoch
    growth_steps: int = 4  # ... over at least this many consecutive increases at the very end
    blowup_keep: float = 0.5  # late_blowup: final level keeps less than this of its best progress
    osc_alternation: float = 0.8  # oscillating: steps change direction at least this often ...
    osc_z: float = 3.0  # ... and this many std devs more often than noise does (2/3 of steps;
    # a window too short to reach this must alternate at every step, and is flagged borderline)
    osc_swing: float = 0.05  # ... with a median step of at least this fraction of R ...
    osc_trend: float = 1.0  # ... and a decline over the window below this many median steps
    eos_swing: float = 0.01  # edge_of_stability: alternating median step at least this of R
    osc_level: float = 0.1  # oscillating (a loss > 0): final-window swings of +-this of its level
    # (0: judge swings against R alone, as for a curve that is not all > 0)
    osc_acf: float = 0.5  # periodic: the swings' autocorrelation peaks at least this high
    osc_slow: float = 0.2  # slow swings (far fewer turns than noise) must reach +-this of level
    osc_corr: float = 0.4  # ... or swings whose neighbouring points move together this much
    # (lag-1 autocorrelation, and 3/sqrt(window)): each lasts steps, as noise's do not
    trend_snr: float = 6.0  # plateaued by noise (net progress within noise_snr std devs) only
    # if the median of the first level_n points is not above the final level by this many
    # standard errors of such medians: a fall that single-point noise hides over many points
    plateau_progress: float = 0.05  # plateaued: initial - final level below this fraction of R
    floor_progress: float = 0.02  # plateaued (a loss > 0): moved by less than this of its level
    chance_tol: float = 0.05  # stuck_at_chance: final level within this fraction of chance loss
    chance_quiet: float = 0.02  # ... and falling by less than this of R across the final window
    chance_flat: float = 1e-6  # ... or by less than this fraction of the chance loss per point
    # of the window (a fall at rounding level, which a curve whose R is tiny is all made of)
    chance_round: float = 0.005  # chance found unasked: ln K (K in CHANCE_CLASSES) to this share
    spike_height: float = 0.2  # early_spike: rise above the running minimum of this much of R ...
    spike_snr: float = 6.0  # ... and of this many noise std devs ...
    spike_recover: float = 0.5  # ... the points after it back within this fraction of the spike
    # (and of the progress made before it) above its old minimum
    noisy_sigma: float = 0.05  # noisy: noise std dev at least this fraction of R, on a final
    noisy_turns: float = 0.3  # window whose steps change direction at least this often
    overfit_rise: float = 0.1  # overfitting: validation above its best by this of its range ...
    overfit_train_drop: float = 0.02  # ... while training fell by this of its range since then


# The thresholds that decide the verdict; `borderline` moves each one by +-borderline_margin.
_DECISION_FIELDS = (
    "noise_snr",
    "diverge_rise",
    "floor_rise",
    "diverge_gap",
    "positive_rise",
    "growth_rate",
    "blowup_keep",
    "osc_alternation",
    "osc_z",
    "osc_swing",
    "osc_trend",
    "osc_level",
    "osc_acf",
    "osc_slow",
    "osc_corr",
    "trend_snr",
    "plateau_progress",
    "floor_progress",
    "chance_tol",
    "chance_quiet",
    "chance_flat",
    "chance_round",
)


@dataclass(frozen=True)
class Verdict:
    verdict: str  # one of VERDICTS
    reason: str  # one sentence with the numbers behind the decision
    flags: tuple[str, ...]  # members of FLAGS, in FLAGS order
    metrics: dict[str, float | int | None]  # JSON-able; None when not applicable or non-finite


@dataclass(frozen=True)
class _Measures:
    """The numbers the decision reads, computed once (thresholds only move the cut-offs)."""

    n_points: int
    n_finite: int
    diverged_epoch: int | None
    initial: float  # initial level: y[0], or the median of the first init_frac if higher
    final_level: float  # median of the last level_n points
    early_level: float  # median of the first level_n points (the final level's twin)
    level_n: int
    best_level: float  # minimum of the rolling median
    best_epoch: int
    range_: float  # R
    constant: bool  # range at the resolution of the values
    noise: float  # robust std dev over the final window (at least noise_points points)
    window: int
    drop: float  # initial - best_level
    net: float  # initial - final_level
    growth: float | None  # per-epoch growth of the trailing increments, minus 1
    growth_len: int  # length of the trailing run of increases
    growth_rise: float  # rise over that run
    last_is_peak: bool  # last point is the highest of the final window
    never_back: bool  # every point after the first is above the initial level
    positive: bool  # every finite value is > 0 (a loss whose floor is 0 or above)
    gap: float  # lowest point of the final window minus the initial level
    win_spread: float  # highest minus lowest point of the final window
    alternation: float | None  # fraction of direction changes in the final window
    turning_z: float | None  # direction changes vs random noise, in std devs
    turning_z_max: float  # the turning_z of perfect alternation over this window
    swing: float  # median absolute step in the final window
    decline: float  # fall of the pair-averaged final window over its length (OLS)
    chance: float | None  # the chance loss given by the loss's name or class count
    chance_k: int | None
    guess: float | None  # unasked: the ln K nearest the final level (K in CHANCE_CLASSES)
    guess_k: int | None
    half_level: float  # median of the second half of the points
    level_se: float  # standard error of a median of level_n points: noise * sqrt(pi / 2 / n)
    noise_end: float  # noise over the final level's points alone (when 20 or more)
    window_level: float  # median of the final window
    low: float  # 5th and 95th percentiles of the final window
    high: float
    amplitude: float  # half the 5-95 percentile spread of the final window about its trend line
    amp_late: float  # the same over the window's last half
    half_swings: int  # moves from the bottom quarter of the swings' band to the top, or back
    acf_peak: float  # highest autocorrelation (about the trend) at a lag after it went negative
    acf_lag: int  # that lag: the period of a periodic swing
    acf_one: float  # lag-1 autocorrelation of the swings (noise: about 0; a swing that lasts
    # several steps, such as a catapult rising and decaying: well above)
    bounce_from: int  # first point of the bouncing that the final window shows
    above_share: float  # share of the points after the first that sit above the initial level
    best_early: bool  # the best level comes before the final level's points
    above_window: int  # points of the final window above the initial level
    p10: float  # 10th percentile of the final window
    mk_z: float  # Mann-Kendall trend of the whole curve, in std devs (> 0: falling), when a
    # fall of the curve is small enough for the noise rule (else 0: not needed)
    best_wide: float  # lowest rolling median over as many points as the final level takes


def _finite_float(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _odd(k: float) -> int:
    k = max(1, int(k))
    return k if k % 2 else k + 1


_MEDIAN_BLOCK = 1 << 22  # elements of window data a rolling-median block copies at most
_MEDIAN_STRIDE = 64  # wide windows: a median every width/64 points, held in between


def _rolling_median(y: np.ndarray, width: int) -> np.ndarray:
    """Median of each window of ``width`` points. Memory stays bounded (np.median copies its
    input, so windows go in blocks), and so does time on long logs: for windows wider than
    _MEDIAN_STRIDE points, the median is taken every width // _MEDIAN_STRIDE windows and held,
    a shift too small to move a median of that many points much."""
    if width <= 1 or y.size < width:
        return y
    windows = np.lib.stride_tricks.sliding_window_view(y, width)
    step = max(1, width // _MEDIAN_STRIDE)
    picked = windows[::step]
    rows = max(1, _MEDIAN_BLOCK // width)
    med = np.empty(len(picked))
    for start in range(0, len(picked), rows):
        med[start : start + rows] = np.median(picked[start : start + rows], axis=-1)
    return np.repeat(med, step)[: len(windows)]


def _robust_noise(y: np.ndarray) -> float:
    """Noise std dev of iid noise on a smooth trend, from the median absolute deviations of the
    first and second differences (std devs sqrt(2) and sqrt(6) times the noise's); the larger
    of the two, because each alone often underestimates on a few points."""
    if y.size < 4:
        return 0.0
    est = []
    for order, factor in ((1, math.sqrt(2.0)), (2, math.sqrt(6.0))):
        d = np.diff(y, order)
        est.append(1.4826 * float(np.median(np.abs(d - np.median(d)))) / factor)
    return max(est)


def _slope(v: np.ndarray) -> float:
    """Least-squares slope of v against its index (computed on v scaled by a power of two, which
    is exact, so that losses near the float64 limit do not overflow)."""
    top = float(np.max(np.abs(v))) if v.size >= 2 else 0.0
    if top == 0.0 or not math.isfinite(top):
        return 0.0
    e = math.frexp(top)[1]
    u = np.ldexp(v, -e)
    k = np.arange(v.size, dtype=float) - (v.size - 1) / 2.0
    return math.ldexp(float(np.dot(k, u - u.mean()) / np.dot(k, k)), e)


def _turning_z(turns: int, n: int) -> float:
    """Direction changes among n values against iid noise: mean 2(n-2)/3, var (16n-29)/90."""
    return (turns - 2.0 * (n - 2) / 3.0) / math.sqrt((16.0 * n - 29.0) / 90.0)


def _trend_residual(v: np.ndarray) -> np.ndarray:
    """v minus its least-squares line."""
    k = np.arange(v.size, dtype=float) - (v.size - 1) / 2.0
    return v - float(np.mean(v)) - _slope(v) * k


def _half_spread(r: np.ndarray) -> float:
    if r.size < 2:
        return 0.0
    lo, hi = np.percentile(r, (5.0, 95.0))
    return float(hi - lo) / 2.0


def _acf_peak(r: np.ndarray) -> tuple[float, int]:
    """The highest autocorrelation of r at a lag of 2 to len/3 once it has been negative at a
    smaller lag (a periodic swing comes back; smoothed noise decays without going negative),
    and that lag. (0, 0) when there is none."""
    n = r.size
    top = n // 3
    if top < 2:
        return 0.0, 0
    c = r - r.mean()
    f = np.fft.rfft(c, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[: top + 1]
    if not acf[0] > 0:
        return 0.0, 0
    acf = acf / acf[0]
    neg = np.flatnonzero(acf[1:] < 0)
    if neg.size == 0:
        return 0.0, 0
    first = int(neg[0]) + 1
    if first + 1 > top:
        return 0.0, 0
    k = first + 1 + int(np.argmax(acf[first + 1 :]))
    return float(acf[k]), k


_MK_POINTS = 128  # Mann-Kendall: a longer curve is thinned to this many evenly spaced points


def _mann_kendall_z(y: np.ndarray) -> float:
    """Mann-Kendall trend statistic of y as a z-score, positive for a fall: the number of later
    points below an earlier one minus those above, over its standard deviation under no trend,
    sqrt(n (n - 1) (2n + 5) / 18). Long curves are thinned to _MK_POINTS points."""
    if y.size > _MK_POINTS:
        y = y[np.linspace(0, y.size - 1, _MK_POINTS).round().astype(int)]
    n = y.size
    if n < 3:
        return 0.0
    later = np.sign(y[None, :] - y[:, None])[np.triu_indices(n, 1)]
    return float(-later.sum() / math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0))


def _bounce_from(
    y: np.ndarray, w: int, q25: float, q75: float, low: float, high: float, amplitude: float
) -> int:
    """Where the bouncing the final window shows began: walking back a window at a time while
    a window's median stays between the final window's 25th and 75th percentiles (a bounce on
    a falling trend leaves them) and it swings at least half as much."""
    start = y.size - w
    while start - w >= 0:
        block = y[start - w : start]
        level = float(np.median(block))
        if not (q25 <= level <= q75) or _half_spread(_trend_residual(block)) < amplitude / 2:
            break
        start -= w
    # the first points of that stretch may still be on the way down to the bouncing (or up)
    margin = amplitude
    outside = (y[start:] < low - margin) | (y[start:] > high + margin)
    inside = np.flatnonzero(~outside)
    return start + int(inside[0]) if inside.size else start


def _chance(loss_name: str | None, n_classes: int | None) -> tuple[float | None, int | None]:
    if loss_name == "bce":
        return math.log(2.0), 2
    if loss_name in (None, "cross_entropy") and n_classes is not None and n_classes >= 2:
        return math.log(n_classes), int(n_classes)
    return None, None


def _measure(
    y: np.ndarray, n_points: int, diverged: int | None, th: Thresholds, chance, guess_ok: bool
) -> _Measures:
    m = y.size
    w = min(m, max(th.min_window, int(round(th.window_frac * m))))
    win = y[-w:]
    smooth = _rolling_median(y, _odd(max(th.smooth_frac * m, 3 if m >= 9 else 1)))
    offset = (m - smooth.size) // 2
    best_i = int(np.argmin(smooth))
    # y[0], unless a long curve starts on a low noise value: then the median of its first points.
    initial = max(float(y[0]), float(np.median(y[: max(1, int(round(th.init_frac * m)))])))
    level_n = max(1, min(m // 3, max(3, int(round(th.level_frac * m)))))
    final_level = float(np.median(y[-level_n:]))
    early_level = float(np.median(y[:level_n]))
    best_level = float(smooth[best_i])
    top = max(initial, float(win.max()))
    range_ = top - float(y.min())
    magnitude = max(abs(top), abs(float(y.min())))  # of the values that set the range
    constant = range_ <= th.constant_rtol * magnitude
    tol = th.resolution * range_

    noise = _robust_noise(y[-max(w, min(m, th.noise_points)) :])
    d = np.diff(win)
    sgn = np.where(np.abs(d) <= tol, 0.0, np.sign(d))
    alternation = turning_z = None
    turning_z_max = 0.0
    if d.size >= 2:
        turns = int(np.sum(sgn[1:] * sgn[:-1] < 0))
        alternation = turns / (d.size - 1)
        turning_z = _turning_z(turns, win.size)
        turning_z_max = _turning_z(win.size - 2, win.size)
    swing = float(np.median(np.abs(d))) if d.size else 0.0
    decline = 0.0
    if win.size >= 3:
        pairs = 0.5 * (win[1:] + win[:-1])  # removes a period-2 bounce exactly
        slope = _slope(pairs)
        decline = float(-slope * (pairs.size - 1))

    # Trailing run of increases at the very end, and how its increments grow.
    dall = np.diff(y)
    run = 0
    while run < dall.size and dall[dall.size - 1 - run] > tol:
        run += 1
    growth = None
    growth_rise = 0.0
    if run >= 2:
        inc = dall[dall.size - run :]
        growth = float(math.expm1(_slope(np.log(inc))))
        growth_rise = float(inc.sum())
    last_is_peak = bool(win[-1] >= win.max())
    never_back = bool(m > 1 and np.all(y[1:] > initial))
    positive = bool(y.min() > 0)

    # The swings of the final window about its own trend line, on the loss's own level.
    resid = _trend_residual(win)
    lo_r, hi_r = (float(v) for v in np.percentile(resid, (5.0, 95.0)))
    amplitude = (hi_r - lo_r) / 2.0
    amp_late = _half_spread(resid[w // 2 :])
    # a half-swing goes from the bottom quarter of the 5-95 percentile band to the top quarter,
    # or back (quarters of the band, not of a band about the mean: spikes are lopsided)
    bottom, top = lo_r + (hi_r - lo_r) / 4, hi_r - (hi_r - lo_r) / 4
    side = np.where(resid > top, 1, np.where(resid < bottom, -1, 0))
    side = side[side != 0]
    half_swings = int(np.count_nonzero(side[1:] != side[:-1]))
    acf_peak, acf_lag = _acf_peak(resid) if amplitude > tol else (0.0, 0)
    centred = resid - resid.mean()
    power = float(np.dot(centred, centred))
    acf_one = float(np.dot(centred[:-1], centred[1:]) / power) if power > 0 else 0.0
    low, p10, q25, q75, high = (float(v) for v in np.percentile(win, (5, 10, 25, 75, 95)))
    bounce_from = _bounce_from(y, w, q25, q75, low, high, amplitude)
    noise_end = _robust_noise(y[-level_n:]) if level_n >= 20 else noise
    # the largest fall the noise rule can call noise, with noise_snr moved up for borderline:
    # only a fall this small needs the Mann-Kendall test (mk_z is 0 otherwise)
    hidden = (1.0 + th.borderline_margin) * th.noise_snr * min(noise, noise_end)
    guess = guess_k = None
    if positive and guess_ok and chance[0] is None and m >= th.min_window:
        guess_k = min(CHANCE_CLASSES, key=lambda k: abs(math.log(k) - final_level))
        guess = math.log(guess_k)

    return _Measures(
        n_points=n_points,
        n_finite=m,
        diverged_epoch=diverged,
        initial=initial,
        final_level=final_level,
        early_level=early_level,
        level_n=level_n,
        best_level=best_level,
        best_epoch=best_i + offset,
        range_=range_,
        constant=constant,
        noise=noise,
        window=w,
        drop=initial - best_level,
        net=initial - final_level,
        growth=growth,
        growth_len=run,
        growth_rise=growth_rise,
        last_is_peak=last_is_peak,
        never_back=never_back,
        positive=positive,
        gap=float(win.min()) - initial,
        win_spread=float(np.ptp(win)),
        alternation=alternation,
        turning_z=turning_z,
        turning_z_max=turning_z_max,
        swing=swing,
        decline=decline,
        chance=chance[0],
        chance_k=chance[1],
        guess=guess,
        guess_k=guess_k,
        half_level=float(np.median(y[m // 2 :])),
        level_se=noise * math.sqrt(math.pi / 2.0 / level_n),
        noise_end=noise_end,
        window_level=float(np.median(win)),
        low=low,
        high=high,
        amplitude=amplitude,
        amp_late=amp_late,
        half_swings=half_swings,
        acf_peak=acf_peak,
        acf_lag=acf_lag,
        acf_one=acf_one,
        bounce_from=bounce_from,
        above_share=float(np.mean(y[1:] > initial)) if m > 1 else 0.0,
        best_early=best_i + offset < m - level_n,
        above_window=int(np.count_nonzero(win > initial)),
        p10=p10,
        mk_z=_mann_kendall_z(y) if 0 < initial - final_level <= hidden else 0.0,
        best_wide=float(np.min(_rolling_median(y, _odd(level_n)))),
    )


def _stuck(ms: _Measures, th: Thresholds) -> tuple[float, int] | None:
    """(chance loss, K) when the curve ends near the chance loss with nothing happening in the
    final window. The chance loss is the one given (ln 2 for bce, ln K for K classes), within
    chance_tol; or, unasked, an ln K of CHANCE_CLASSES that both the final level and the median
    of the second half sit on, to chance_round (plus noise_snr standard errors of a median, at
    most chance_round again): flat at chance for most of the run."""
    if ms.chance is not None:
        c, k = ms.chance, ms.chance_k
        near = abs(ms.final_level - c) <= th.chance_tol * c
    elif ms.guess is not None:
        c, k = ms.guess, ms.guess_k
        tol = th.chance_round * c + min(th.noise_snr * ms.level_se, th.chance_round * c)
        near = abs(ms.final_level - c) <= tol and abs(ms.half_level - c) <= tol
    else:
        return None
    # Falling no more than noise, a small part of the range, or, relative to the chance loss
    # itself, a rounding-level creep (R alone cannot judge a curve that never left ln K).
    rounding = th.chance_flat * c * ms.window
    quiet = ms.decline <= max(th.noise_snr * ms.noise, th.chance_quiet * ms.range_, rounding)
    return (c, int(k)) if near and quiet else None


def _is_stuck(ms: _Measures, th: Thresholds) -> bool:
    return _stuck(ms, th) is not None


def _swinging(ms: _Measures, th: Thresholds) -> str | None:
    """How the final window of a loss > 0 swings, if it bounces by at least osc_level of its
    level, all the way to the end, in at least 3 half-swings (2 on a curve shorter than
    min_window), with a trend
    smaller than the swing: "alternating" (direction changes far more often than noise),
    "periodic" (autocorrelation peaks again at a lag), "smooth" (far fewer direction changes
    than noise: slow swings), "irregular" (none of these, on a curve that never gained more
    than the swings' height: shorter than min_window, too short to tell structure from noise,
    or, gaining less than their amplitude, swinging by osc_slow of its level for two final
    windows or more). None when it does not bounce so."""
    if th.osc_level <= 0 or not ms.positive or ms.window_level <= 0 or ms.turning_z is None:
        return None
    a = ms.amplitude
    short = ms.window < th.min_window  # a curve of fewer points than a final window has
    if (
        a < th.osc_level * ms.window_level
        or ms.amp_late < a / 2
        or ms.half_swings < 2
        or ms.decline >= th.osc_trend * 2 * a
    ):
        return None
    if ms.half_swings < 3:  # down and back up once is a V, not a swing: unless too short to say
        return "irregular" if short and ms.net < 2 * a else None
    z = min(th.osc_z, ms.turning_z_max)
    if ms.alternation >= th.osc_alternation and ms.turning_z >= z:
        return "alternating"
    if ms.acf_peak >= max(th.osc_acf, 3.0 / math.sqrt(ms.window)):
        return "periodic"
    correlated = ms.acf_one >= max(th.osc_corr, 3.0 / math.sqrt(ms.window))
    if (ms.turning_z <= -th.osc_z or correlated) and a >= th.osc_slow * ms.window_level:
        return "smooth"
    if ms.net >= 2 * a:
        return None  # learned more than it swings: noise on a curve that made real progress
    if short:
        return "irregular"  # too few points to tell structure from noise
    # Swings like noise, but large (osc_slow of the level), for at least two final windows,
    # on a curve that never gained more than their amplitude (half their height: mini-batch
    # noise on a run that did learn can be as tall as all it learned): it bounces, no more.
    lasting = ms.n_finite - ms.bounce_from >= 2 * ms.window
    big = a >= th.osc_slow * ms.window_level
    return "irregular" if lasting and big and ms.net < a else None


def _decide(ms: _Measures, th: Thresholds, loss_name: str | None) -> tuple[str, str]:
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
    if (
        moved
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
        and ms.last_is_peak
    ):
        return "diverging", "geometric"
    # On a log scale whatever the range: a positive loss whose final level is more than double
    # its start, with the final window above the start. A huge early spike inflates the range,
    # so the rise is under diverge_rise of it (1.64 -> 174 -> bouncing around 11.6).
    if ms.positive and rise > th.positive_rise * ms.initial and ms.low > ms.initial:
        return "diverging", "multiple"
    lost = ms.final_level - ms.best_level
    if (
        ms.best_early
        and ms.drop > th.noise_snr * sd
        and ms.drop > th.plateau_progress * R
        and (not level or ms.drop > th.floor_progress * ms.initial)
        and ms.net < th.blowup_keep * ms.drop
        and lost > th.noise_snr * sd
    ):
        return "diverging", "blowup"
    # On its own level: a loss > 0 that more than doubled from its best and stayed there jumped
    # to a higher level, however high it started (a fall from 1.24 to 0.077, then 0.47).
    if (
        ms.positive
        and ms.best_early
        and ms.final_level > (1.0 + th.positive_rise) * ms.best_wide
        and ms.final_level - ms.best_wide > th.noise_snr * max(sd, ms.noise_end)
        and lost > th.plateau_progress * R
    ):
        return "diverging", "jumped"
    swings = _swinging(ms, th)
    if (
        ms.alternation is not None
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
    if ms.net <= th.noise_snr * min(sd, ms.noise_end) and not (trend or ordered or clear):
        return "plateaued", "noise"
    if ms.net < th.plateau_progress * R:
        return "plateaued", "range"
    if level and ms.net < th.floor_progress * ms.initial:
        return "plateaued", "floor"
    return "converging", "progress"


def _g(v: float) -> str:
    return f"{v:.3g}"


def _level(v: float, scale: float) -> str:
    """A loss level with enough significant digits to show a change of about ``scale`` (the
    curve's range): 3, more when the level is much larger than the range, so that a curve near
    ln 2 reads "fell from 0.693696 to 0.693168", not "from 0.694 to 0.693"."""
    if v == 0.0 or not (math.isfinite(v) and math.isfinite(scale) and scale > 0.0):
        return _g(v)
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
        """Positions of values first..last: "steps 0-5000"."""
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


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless there is exactly one: "1 epoch", "4 epochs"."""
    return f"{n} {word}{'s' * (n != 1)}"


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


def _pct(v: float) -> str:
    """A percentage: whole numbers, and one significant digit below 1% (so not "0%")."""
    p = 100.0 * v
    return f"{p:.0f}%" if p == 0.0 or abs(p) >= 0.995 else f"{p:.1g}%"


def _prepare(curve) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    x = np.asarray(curve, dtype=float)
    if x.ndim != 1:
        x = x.reshape(-1)
    n = x.size
    fin = np.isfinite(x)
    diverged = None
    if n and not fin[-1]:
        last = np.flatnonzero(fin)
        diverged = int(last[-1] + 1) if last.size else 0
    epochs = np.flatnonzero(fin)
    return x[fin], epochs, n, diverged


def classify(
    curve,
    thresholds: Thresholds = Thresholds(),  # noqa: B008 (frozen, so a shared default is safe)
    *,
    n_classes: int | None = None,
    loss_name: str | None = None,
    train_curve=None,
    x=None,
    x_name: str = "epoch",
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
    """
    th = thresholds
    if loss_name is not None and loss_name not in LOSS_NAMES:
        raise ValueError(f"loss_name must be one of {LOSS_NAMES} or None, got {loss_name!r}")
    axis = _axis(x, x_name, np.asarray(curve, dtype=float).size)
    with np.errstate(all="ignore"):  # losses near the float64 limit: inf differences are fine
        return _classify(curve, th, n_classes, loss_name, train_curve, axis)


def _classify(curve, th: Thresholds, n_classes, loss_name, train_curve, axis: _Axis) -> Verdict:
    y, epochs, n, diverged = _prepare(curve)
    chance = _chance(loss_name, n_classes)
    if chance[0] is None and train_curve is not None and loss_name != "mse":
        # a validation curve beside a training curve stuck at chance: the same dead network,
        # so the training curve's class count is this curve's too
        chance = _train_chance(train_curve, th, loss_name) or chance
    raw = np.asarray(curve, dtype=float).reshape(-1)

    base: dict[str, float | int | None] = {
        "initial": _finite_float(raw[0]) if n else None,
        "final": _finite_float(raw[-1]) if n else None,
        "last_finite": _finite_float(y[-1]) if y.size else None,
        "min": _finite_float(y.min()) if y.size else None,
        "min_epoch": int(epochs[int(np.argmin(y))]) if y.size else None,
        "max": _finite_float(y.max()) if y.size else None,
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

    ms = _measure(y, n, diverged, th, chance, loss_name != "mse")
    verdict, rule = _decide(ms, th, loss_name)
    # A diverging run went up and did not come back: whatever rose before, it did not recover.
    spike = _spike(ms, th, y) if verdict != "diverging" else None
    flags = _flags(ms, th, y, epochs, verdict, rule, train_curve, spike)

    flipped = _borderline(ms, th, loss_name, verdict)
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


def _train_chance(train_curve, th: Thresholds, loss_name) -> tuple[float, int] | None:
    """The chance loss a training curve is stuck at, found unasked (None if it is not)."""
    y, _, n, diverged = _prepare(train_curve)
    if y.size == 0 or diverged is not None:
        return None
    ms = _measure(y, n, None, th, (None, None), True)
    return _stuck(ms, th)


def _borderline(ms: _Measures, th: Thresholds, loss_name, verdict) -> tuple[str, str] | None:
    """The first decision threshold that, moved by +-borderline_margin, changes the verdict."""
    values = vars(th)
    for name in _DECISION_FIELDS:
        for factor in (1.0 - th.borderline_margin, 1.0 + th.borderline_margin):
            moved = SimpleNamespace(**{**values, name: values[name] * factor})
            other, _ = _decide(ms, moved, loss_name)
            if other != verdict:
                return name, other
    return None


def _spike(ms: _Measures, th: Thresholds, y: np.ndarray) -> tuple[int, float, float, float] | None:
    """Largest rise above the running minimum, if the loss then recovered: (index of its peak,
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
    k = int(np.argmax(height))
    h = float(height[k])
    if h < th.spike_height * ms.range_ or h < th.spike_snr * ms.noise or h <= 0:
        return None
    peak = k + 1
    after = y[max(peak + 1, m - ms.level_n) :]
    if after.size == 0:
        return None
    premin = float(runmin[k])
    allowed = max(th.spike_recover * min(h, ms.initial - premin), th.noise_snr * ms.noise)
    settled = float(np.median(after))
    if settled > premin + allowed or settled > ms.initial:  # the noise allowance aside, a run
        return None  # that ends above where it started has not recovered
    return peak, h, premin, settled


def _flags(ms, th, y, epochs, verdict, rule, train_curve, spike) -> set[str]:
    flags: set[str] = set()
    if ms.constant:
        return flags | ({"stuck_at_chance"} if _is_stuck(ms, th) else set())
    if verdict == "converging" and ms.above_share >= 0.5:
        flags.add("unstable")
    elif spike is not None:
        flags.add("early_spike")
    lost = ms.final_level - ms.best_level
    made_progress = ms.drop > th.noise_snr * ms.noise and ms.drop > th.plateau_progress * ms.range_
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
    t_fall = float(np.median(seg[:3]) - np.median(seg[-k:]))
    finite = train[np.isfinite(train)]
    t_need = max(
        th.noise_snr * _robust_noise(finite), th.overfit_train_drop * float(np.ptp(finite))
    )
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
    )
    out: dict[str, float | int | None] = dict.fromkeys(keys)
    out["chance"] = _finite_float(chance[0])
    out["chance_classes"] = chance[1] if chance[0] is not None else None
    return out


def _ratio(a: float, b: float) -> float | None:
    return _finite_float(a / b) if b > 0 else None


def _period(ms: _Measures, rule: str) -> float | None:
    """The period of an oscillation in points: 2 alternating, the autocorrelation's lag when
    periodic, twice the window over its half-swings when the swings are slow."""
    if rule == "alternating":
        return 2.0
    if rule == "periodic":
        return float(ms.acf_lag)
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
        "final_level": _finite_float(ms.final_level),
        "best_level": _finite_float(ms.best_level),
        "best_epoch": int(epochs[min(ms.best_epoch, epochs.size - 1)]),
        "range": _finite_float(R),
        "noise": _finite_float(ms.noise),
        "noise_fraction": _ratio(ms.noise, R),
        "progress": _ratio(ms.net, R),
        "progress_snr": _ratio(ms.net, ms.noise),
        "kept": _ratio(ms.net, ms.drop),
        "rise": _ratio(ms.final_level - ms.initial, R),
        "growth_rate": _finite_float(ms.growth),
        "growth_steps": int(ms.growth_len),
        "alternation": _finite_float(ms.alternation),
        "turning_z": _finite_float(ms.turning_z),
        "swing": _ratio(ms.swing, R),
        "decline": _ratio(ms.decline, R),
        "spike_epoch": int(epochs[spike[0]]) if spike else None,
        "spike_height": _ratio(spike[1], R) if spike else None,
        "chance": _finite_float(stuck[0] if stuck else ms.chance),
        "chance_classes": stuck[1] if stuck else ms.chance_k,
        "floor_progress": floor,
        "overfit_rise": overfit,
        "swing_level": _ratio(ms.amplitude, ms.window_level) if ms.positive else None,
        "period": _period(ms, rule),
    }


def _share_above(ms: _Measures) -> str:
    """How many points of the final window sit above the initial level: "all", "38"."""
    return "all" if ms.above_window == ms.window else str(ms.above_window)


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
        stuck = _stuck(ms, th)
        if stuck:
            return (
                f"plateaued: the loss stays at {_g(ms.initial)} ≈ ln {stuck[1]} (chance for "
                f"{stuck[1]} classes) {axis.over(ms.n_points)}"
            )
        return f"plateaued: the loss stays at {_g(ms.initial)} {axis.over(ms.n_points)}"
    if rule == "multiple":
        return (
            f"diverging: the median of {axis.last(ms.level_n, epochs, lv(ms.final_level))} is "
            f"{ms.final_level / ms.initial:.3g} times the initial loss {lv(ms.initial)}, and "
            f"{_share_above(ms)} of {tail} sit above it"
        )
    if rule == "above_initial":
        return (
            f"diverging: the median of {axis.last(ms.level_n, epochs, lv(ms.final_level))} sits "
            f"above the initial loss {lv(ms.initial)} by {_pct(met['rise'])} of the curve's range"
        )
    if rule == "geometric":
        return (
            f"diverging: the loss is still growing geometrically at the end, each of its last "
            f"{ms.growth_len} increases {1 + ms.growth:.3g}x the one before"
        )
    if rule == "blowup":
        lost = 1.0 - (met["kept"] or 0.0)
        return (
            f"diverging: the loss fell from {lv(ms.initial)} to {lv(ms.best_level)} by "
            f"{axis.at(met['best_epoch'])}, then rose to {lv(ms.final_level)} and stayed there, "
            f"losing {_pct(lost)} of its progress"
        )
    if verdict == "oscillating" and ms.positive:
        span = axis.last(ms.n_finite - ms.bounce_from, epochs)
        unit = axis.name + "s" if axis.consecutive else "values"
        if rule == "alternating":
            how = f"changing direction {_pct(ms.alternation)} of the time"
        elif rule == "periodic":
            how = f"with a period of about {ms.acf_lag} {unit}"
        elif rule == "smooth":
            how = f"in slow swings of about {met['period']:.0f} {unit} each"
        else:
            how = f"irregularly, by more than all it gained since {lv(ms.initial)}"
        return (
            f"oscillating: bounces between {lv(ms.low)} and {lv(ms.high)} "
            f"(±{_pct(met['swing_level'] or 0.0)} of its level) {how} for {span}, with no net "
            f"progress"
        )
    if rule == "jumped":
        return (
            f"diverging: the loss fell from {lv(ms.initial)} to {lv(ms.best_level)} by "
            f"{axis.at(met['best_epoch'])}, then rose to {lv(ms.final_level)}, "
            f"{ms.final_level / ms.best_wide:.3g} times its best level, and stayed there"
        )
    if rule == "alternating":
        return (
            f"oscillating: over {tail} the loss changed direction {_pct(ms.alternation)} of the "
            f"time (random noise: 67%) with swings of {_pct(met['swing'])} of its range and no "
            f"downward trend"
        )
    if rule == "chance":
        c, k = _stuck(ms, th)
        if ms.chance is None:
            return (
                f"plateaued: flat at {_level(ms.final_level, 1e-4 * c)} ≈ ln {k} = {c:.5g} "
                f"(chance with {k} classes) for the second half of the run and not falling"
            )
        return (
            f"plateaued: the loss ends at {_g(ms.final_level)} ≈ ln {k} = "
            f"{c:.4g} (chance for {k} classes) and is not falling"
        )
    if rule == "noise":
        return (
            f"plateaued: net progress {axis.over(ms.n_points)} ({lv(ms.initial)} to "
            f"{lv(ms.final_level)}) is within {th.noise_snr:g} noise standard deviations "
            f"({_g(ms.noise)})"
        )
    if rule == "range":
        return (
            f"plateaued: only {_pct(met['progress'])} net progress {axis.over(ms.n_points)} "
            f"relative to the curve's range ({lv(ms.initial)} to {lv(ms.final_level)})"
        )
    if rule == "floor":
        share = abs(ms.net) / ms.initial
        moved = f"({lv(ms.initial)} to {lv(ms.final_level)})"
        if ms.net > 0:
            return (
                f"plateaued: fell by only {_pct(share)} of its level {axis.over(ms.n_points)} "
                f"{moved}: learning far too slowly"
            )
        if share <= th.floor_progress:
            return (
                f"plateaued: changed by only {_pct(share)} of its level "
                f"{axis.over(ms.n_points)} {moved}: not moving"
            )
        return (
            f"plateaued: rose by {_pct(share)} of its level {axis.over(ms.n_points)} {moved}, "
            f"too little against its noise ({_g(ms.noise)}) and range to call diverging"
        )
    s = (
        f"converging: loss fell from {lv(ms.initial)} to {lv(ms.final_level)} "
        f"({_pct(met['kept'] or 0.0)} of the way to its best, {lv(ms.best_level)})"
    )
    extras = []
    if "unstable" in flags:
        s += (
            f", but only at the end: it sat above its initial loss for {_pct(ms.above_share)} of "
            f"the run (unstable)"
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
            f"steps alternating in direction {_pct(ms.alternation)} of the time on a falling trend"
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
    return s
