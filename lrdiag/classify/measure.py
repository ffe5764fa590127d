"""A loss curve -> the numbers the decision reads (``_Measures``), computed once per curve:
levels (initial, final, best), range, noise, the final window's steps, trend and swings
about its trend line, periodicity, the trailing growth and the chance loss. Thresholds only
move the cut-offs applied to these, so ``borderline`` can re-decide without measuring again."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lrdiag.thresholds import CHANCE_CLASSES, Thresholds


class _LongSwing(NamedTuple):
    """The swings of the last half of a long curve (_swing_shape of that stretch)."""

    n: int  # points in the stretch
    amplitude: float
    amp_late: float
    half_swings: int
    acf_peak: float
    lag: int  # the period
    level: float  # the stretch's median
    fall: float  # median of its first third minus that of its last third


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
    growth_base: float  # the value the run of increases started from
    last_is_peak: bool  # last point is the highest of the final window
    # falls at the very end onto the curve's lowest value: the length of that run, else 0
    final_fall: int
    last: float  # the last finite value
    never_back: bool  # every point after the first is above the initial level
    positive: bool  # every finite value is > 0 (a loss whose floor is 0 or above)
    gap: float  # lowest point of the final window minus the initial level
    win_spread: float  # highest minus lowest point of the final window
    alternation: float | None  # fraction of direction changes in the final window
    turning_z: float | None  # direction changes vs random noise, in std devs
    turning_z_max: float  # the turning_z of perfect alternation over this window
    swing: float  # median absolute step in the final window
    decline: float  # fall of the pair-averaged final window over its length (OLS)
    late_climb: float  # rise of the final window's second half across it (OLS)
    late_p10: float  # 10th percentile of the final window's second half
    chance: float | None  # the chance loss given by the loss's name or class count
    chance_k: int | None
    guess: float | None  # unasked: the ln K nearest the final level (K in CHANCE_CLASSES)
    guess_k: int | None
    # unasked, any length: (ln K, K) when the curve ends on ln K or up to chance_tol above it and
    # never got more than chance_tol below it (what a network that learned nothing does)
    near_chance: tuple[float, int] | None
    half_level: float  # median of the second half of the points
    half_decline: float  # fall of the second half's least-squares line across it
    half_n: int  # points in the second half
    third_high: float  # 90th percentile of the last third of the points
    # where the last third's fall is heading, if it falls ever more slowly (_relax_floor)
    third_floor: float | None
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
    # lag-1 autocorrelation of the swings: about 0 for noise, well above for a lasting swing
    acf_one: float
    bounce_from: int  # first point of the bouncing that the final window shows
    # the last half of a long curve, when the final window is too short for two full swings of
    # its own (_swing_shape of that stretch, its median and the fall of its level across it)
    long: _LongSwing | None
    above_share: float  # share of the points after the first that sit above the initial level
    best_early: bool  # the best level comes before the final level's points
    above_window: int  # points of the final window above the initial level
    p10: float  # 10th percentile of the final window
    # Mann-Kendall trend in std devs (> 0: falling), for a fall small enough for the noise rule
    mk_z: float
    best_wide: float  # lowest rolling median over as many points as the final level takes
    rebounds: int  # separate rises rebound_level above the lowest level so far (short curves)
    rebound_peak: float | None  # the highest such rise, as a ratio to that level
    # median of the window two windows before the final one minus the final window's median
    # (0 on a curve shorter than three windows): a bounce riding a falling trend
    fall_back: float


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


def _median(v: np.ndarray) -> float:
    """np.median of a 1-D array of finite values (the middle value, or the mean of the two),
    without its overhead, which dominates on the short windows judging reads."""
    n = v.size
    if n == 0:
        return math.nan
    h = n // 2
    if n % 2:
        return float(np.partition(v, h)[h])
    p = np.partition(v, (h - 1, h))
    return float((p[h - 1] + p[h]) / 2.0)


def _percentiles(v: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """np.percentile(v, qs) of a 1-D array of finite values (linear interpolation between the
    sorted values at (n - 1) q / 100, in NumPy's arithmetic), from one sort."""
    s = np.sort(v)
    top = s.size - 1
    out = []
    for q in qs:
        at = top * (q / 100)
        i = math.floor(at)
        if at >= top:
            out.append(float(s[-1]))
            continue
        g = at - i
        a, b = float(s[i]), float(s[i + 1])
        # NumPy's lerp: from the nearer end, so that g = 0 and g = 1 give the ends exactly
        out.append(b - (b - a) * (1 - g) if g >= 0.5 else a + (b - a) * g)
    return out


def _robust_noise(y: np.ndarray) -> float:
    """Noise std dev of iid noise on a smooth trend, from the median absolute deviations of the
    first and second differences (std devs sqrt(2) and sqrt(6) times the noise's); the larger
    of the two, because each alone often underestimates on a few points."""
    if y.size < 4:
        return 0.0
    est = []
    for order, factor in ((1, math.sqrt(2.0)), (2, math.sqrt(6.0))):
        d = np.diff(y, order)
        est.append(1.4826 * _median(np.abs(d - _median(d))) / factor)
    return max(est)


def _relax_floor(v: np.ndarray) -> float | None:
    """The level a falling, decelerating stretch is heading for: the medians of its three
    thirds fall by d1 then d2, 0 < d2 < d1, so a fall shrinking by r = d2 / d1 a third has
    d2 r / (1 - r) still to go below the last median (Aitken's extrapolation of a geometric
    approach, which a loss relaxing onto a level makes; a straight fall has r = 1). None for
    fewer than 6 points, or a stretch that does not fall ever more slowly."""
    k = v.size // 3  # three parts of k points, the last 3k (equal parts: equal spacing)
    if k < 2:
        return None
    m1, m2, m3 = (_median(p) for p in v[v.size - 3 * k :].reshape(3, k))
    d1, d2 = m1 - m2, m2 - m3
    if not 0.0 < d2 < d1:
        return None
    r = d2 / d1
    return m3 - d2 * r / (1.0 - r)


def _trailing(d: np.ndarray, tol: float) -> int:
    """How many of the last steps ``d`` are each above ``tol``: the run of rises at the end
    (of falls, given the steps negated)."""
    run = 0
    while run < d.size and d[d.size - 1 - run] > tol:
        run += 1
    return run


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
    lo, hi = _percentiles(r, (5.0, 95.0))
    return (hi - lo) / 2.0


def _autocorrelation(r: np.ndarray, top: int) -> np.ndarray:
    """Autocorrelation of r about its mean at lags 0 to top (lag 0 is 1), by FFT; zeros when r
    is flat."""
    c = r - r.mean()
    f = np.fft.rfft(c, 2 * r.size)
    acf = np.fft.irfft(f * np.conj(f))[: top + 1]
    return acf / acf[0] if acf[0] > 0 else np.zeros(top + 1)


def _swing_shape(
    seg: np.ndarray, tol: float, lags: int
) -> tuple[float, float, int, float, int, float]:
    """The swings of ``seg`` about its own trend line: (amplitude, half the 5-95 spread of
    its second half, half-swings, autocorrelation peak at lags up to ``lags``, its lag, lag-1
    autocorrelation).
    The amplitude is half the 5-95 percentile band; a half-swing goes from the bottom quarter
    of that band to the top quarter, or back (quarters of the band, not of a band about the
    mean: spikes are lopsided)."""
    n = seg.size
    resid = _trend_residual(seg)
    lo_r, hi_r = _percentiles(resid, (5.0, 95.0))
    amplitude = (hi_r - lo_r) / 2.0
    amp_late = _half_spread(resid[n // 2 :])
    bottom, top = lo_r + (hi_r - lo_r) / 4, hi_r - (hi_r - lo_r) / 4
    side = np.where(resid > top, 1, np.where(resid < bottom, -1, 0))
    side = side[side != 0]
    half_swings = int(np.count_nonzero(side[1:] != side[:-1]))
    # one autocorrelation of the swings serves both the periodicity and the lag-1 correlation
    acf = _autocorrelation(resid, max(1, lags)) if amplitude > tol else np.zeros(2)
    acf_peak, acf_lag = _acf_peak(acf)
    return amplitude, amp_late, half_swings, acf_peak, acf_lag, float(acf[1])


def _acf_peak(acf: np.ndarray) -> tuple[float, int]:
    """The highest autocorrelation (``acf``: lags 0 to half the window) at a lag of 2 or
    more once it has been negative at a smaller lag (a periodic swing comes back; smoothed
    noise decays without going negative), and that lag. (0, 0) when there is none."""
    top = acf.size - 1
    if top < 2:
        return 0.0, 0
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
        level = _median(block)
        if not (q25 <= level <= q75) or _half_spread(_trend_residual(block)) < amplitude / 2:
            break
        start -= w
    # the first points of that stretch may still be on the way down to the bouncing (or up)
    margin = amplitude
    outside = (y[start:] < low - margin) | (y[start:] > high + margin)
    inside = np.flatnonzero(~outside)
    first = start + int(inside[0]) if inside.size else start
    # nor is a steady fall from above the band into it a bounce (0.8 down to 0.35 in 50 steps,
    # then swings between 0.2 and 0.6)
    if y[first] > high:
        while first < y.size - w and y[first + 1] < y[first]:
            first += 1
    return first


def _chance(loss_name: str | None, n_classes: int | None) -> tuple[float | None, int | None]:
    if loss_name == "bce":
        return math.log(2.0), 2
    if loss_name in (None, "cross_entropy") and n_classes is not None and n_classes >= 2:
        return math.log(n_classes), int(n_classes)
    return None, None


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


def _rebounds(y: np.ndarray, positive: bool, th: Thresholds) -> tuple[int, float | None]:
    """How many separate times a short loss > 0 rose rebound_level above its lowest level so
    far, and the highest such rise (as a ratio to that level).

    An episode starts when the loss exceeds (1 + rebound_level) x its running minimum and ends
    when it comes back under that line; the first point (often the loss at initialisation) only
    sets the running minimum. Long curves (min_window points or more) have none: their swings
    are judged by the oscillation rules on a final window.
    """
    finite = y[np.isfinite(y)]
    if not positive or y.size >= th.min_window or th.rebound_level <= 0 or finite.size < 3:
        return 0, None
    runmin = np.minimum.accumulate(finite)[:-1]
    ratio = finite[1:] / runmin
    above = ratio > 1.0 + th.rebound_level
    count = int(above[0]) + int(np.count_nonzero(above[1:] & ~above[:-1]))
    return count, (float(ratio.max()) if count else None)


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
    initial = max(float(y[0]), _median(y[: max(1, int(round(th.init_frac * m)))]))
    level_n = max(1, min(m // 3, max(3, int(round(th.level_frac * m)))))
    final_level = _median(y[-level_n:])
    early_level = _median(y[:level_n])
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
    swing = _median(np.abs(d)) if d.size else 0.0
    decline = 0.0
    if win.size >= 3:
        pairs = 0.5 * (win[1:] + win[:-1])  # removes a period-2 bounce exactly
        slope = _slope(pairs)
        decline = float(-slope * (pairs.size - 1))
    late = win[win.size // 2 :]
    late_climb = float(_slope(late) * (late.size - 1)) if late.size >= 2 else 0.0

    # Trailing run of increases at the very end, and how its increments grow.
    dall = np.diff(y)
    run = _trailing(dall, tol)
    final_fall = _trailing(-dall, tol) if m and y[-1] <= y.min() else 0
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
    amplitude, amp_late, half_swings, acf_peak, acf_lag, acf_one = _swing_shape(win, tol, w // 2)
    # A swing longer than half the window shows there as less than two: the last half of a
    # curve of at least 2.5 windows holds two of a period up to a quarter of the run.
    long = None
    if half_swings < th.osc_slow_swings and m >= 2.5 * w:
        tail = y[m - m // 2 :]
        third = tail.size // 3
        fall = _median(tail[:third]) - _median(tail[-third:])
        shape = _swing_shape(tail, tol, tail.size // 2)[:5]
        long = _LongSwing(tail.size, *shape, level=_median(tail), fall=fall)
    low, p10, q25, q75, high = _percentiles(win, (5, 10, 25, 75, 95))
    late_p10 = _percentiles(late, (10,))[0]
    window_level = _median(win)
    bounce_from = _bounce_from(y, w, q25, q75, low, high, amplitude)
    rebounds, rebound_peak = _rebounds(y, positive, th)
    # the level two windows back (points m - 3w to m - 2w): a sustained swing keeps its level,
    # one on a slowly falling trend has left it by more than its own amplitude
    fall_back = _median(y[m - 3 * w : m - 2 * w]) - window_level if m >= 3 * w else 0.0
    noise_end = _robust_noise(y[-level_n:]) if level_n >= 20 else noise
    # the largest fall the noise rule can call noise, with noise_snr moved up for borderline:
    # only a fall this small needs the Mann-Kendall test (mk_z is 0 otherwise)
    hidden = (1.0 + th.borderline_margin) * th.noise_snr * min(noise, noise_end)
    guess = guess_k = near_chance = None
    if positive and guess_ok and chance[0] is None:
        k = min(CHANCE_CLASSES, key=lambda k: abs(math.log(k) - final_level))
        c = math.log(k)
        if m >= th.min_window:
            guess, guess_k = c, k
        on = c <= final_level <= (1.0 + th.chance_tol) * c
        if on and best_level >= (1.0 - th.chance_tol) * c:
            near_chance = (c, k)

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
        growth_base=float(y[m - 1 - run]) if run else float(y[-1]),
        last_is_peak=last_is_peak,
        final_fall=final_fall,
        last=float(y[-1]) if m else math.nan,
        never_back=never_back,
        positive=positive,
        gap=float(win.min()) - initial,
        win_spread=float(np.ptp(win)),
        alternation=alternation,
        turning_z=turning_z,
        turning_z_max=turning_z_max,
        swing=swing,
        decline=decline,
        late_climb=late_climb,
        late_p10=late_p10,
        chance=chance[0],
        chance_k=chance[1],
        guess=guess,
        guess_k=guess_k,
        near_chance=near_chance,
        half_level=_median(y[m // 2 :]),
        half_decline=-_slope(y[m // 2 :]) * (m - m // 2 - 1),
        half_n=m - m // 2,
        third_high=_percentiles(y[m - max(1, m // 3) :], (90,))[0],
        third_floor=_relax_floor(y[m - m // 3 :]),
        level_se=noise * math.sqrt(math.pi / 2.0 / level_n),
        noise_end=noise_end,
        window_level=window_level,
        low=low,
        high=high,
        amplitude=amplitude,
        amp_late=amp_late,
        half_swings=half_swings,
        acf_peak=acf_peak,
        acf_lag=acf_lag,
        acf_one=acf_one,
        bounce_from=bounce_from,
        long=long,
        above_share=float(np.mean(y[1:] > initial)) if m > 1 else 0.0,
        best_early=best_i + offset < m - level_n,
        above_window=int(np.count_nonzero(win > initial)),
        p10=p10,
        mk_z=_mann_kendall_z(y) if 0 < initial - final_level <= hidden else 0.0,
        best_wide=float(np.min(_rolling_median(y, _odd(level_n)))),
        rebounds=rebounds,
        rebound_peak=rebound_peak,
        fall_back=fall_back,
    )
