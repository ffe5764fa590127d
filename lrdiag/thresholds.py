"""The classifier's vocabulary and its thresholds: the verdicts, the flags, the loss names it
knows, the class counts whose chance loss it recognises unasked, and ``Thresholds``, every
cut-off named once with its meaning (a ``classify:`` config section overrides any of them)."""

from __future__ import annotations

from dataclasses import dataclass

VERDICTS = ("converging", "oscillating", "diverging", "plateaued")


FLAGS = (
    "early_spike",  # rose well above its running minimum, then recovered
    "late_blowup",  # made clear progress, then lost most of it (or became non-finite)
    "noisy",  # noise in the final window is large next to the curve's range
    "stuck_at_chance",  # ends flat near the chance loss: ln 2 (bce), ln K (cross_entropy)
    "overfitting",  # validation curve rising from its best while the training curve falls
    "borderline",  # under short_curve points, or borderline_margin moves a verdict's threshold
    "edge_of_stability",  # steps keep alternating in direction, but the verdict is converging
    "unstable",  # converging, but not steadily: above its start most of the run, or rebounding
)


LOSS_NAMES = ("bce", "cross_entropy", "mse")


# Class counts whose chance loss ln K is recognised on a loss whose class count was not given.
CHANCE_CLASSES = (*range(2, 11), 100, 1000)


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of the classifier, named once; a ``classify:`` config section overrides.

    Fractions "of R" are of the curve's own range R = max(initial, final-window peak) minus the
    curve's minimum; "noise" is the robust standard deviation of the final window's steps. Each
    field's comment is its meaning in one line; docs/verdicts.md's table of thresholds says more.
    """

    window_frac: float = 0.2  # final window: this share of the finite points (see min_window)
    min_window: int = 20  # final window: at least this many points (all of a shorter curve)
    init_frac: float = 0.002  # initial level: y[0], or the first points' median if higher
    noise_points: int = 50  # noise: over the final window, or this many last points if more
    level_frac: float = 0.1  # final level: median of this share of the last points (3 at least)
    smooth_frac: float = 0.02  # best level: a rolling median over this share of the points
    short_curve: int = 5  # borderline: a curve with fewer points (no flat half at chance either)
    borderline_margin: float = 0.2  # borderline: a threshold moved +-this share changes the verdict
    resolution: float = 1e-9  # steps below this share of the range R count as zero (rounding)
    constant_rtol: float = 1e-6  # constant: a range within this share of the values (rounding)
    noise_snr: float = 3.0  # a change is real only beyond this many noise std devs
    diverge_rise: float = 0.1  # diverging: final-window median above the start by this of R
    floor_rise: float = 0.1  # diverging (a loss >= 0): or above the start by this share of it
    diverge_gap: float = 0.3  # diverging: or the whole window above the start, x its spread
    never_back: int = 100  # diverging: or this many points, none back to the start after 0
    positive_rise: float = 1.0  # diverging (values > 0): or this many x the start above it
    growth_rate: float = 0.02  # diverging: increments at the end growing this much per epoch
    growth_steps: int = 4  # diverging: the growing increments last this many steps
    blowup_keep: float = 0.5  # late_blowup: the final level keeps less than this of its progress
    blowup_rise: float = 0.25  # late_blowup (a loss > 0): and sits this share above its best
    ends_above: float = 0.04  # diverging (a loss > 0): ends at least this share above its start
    osc_alternation: float = 0.8  # oscillating: final-window steps change direction this often
    osc_z: float = 3.0  # oscillating: and this many std devs more often than noise does
    osc_swing: float = 0.05  # oscillating: with a median final-window step of this share of R
    osc_trend: float = 1.0  # oscillating: and a window decline below this many median steps
    eos_swing: float = 0.01  # edge_of_stability: converging, alternating steps of this of R
    osc_level: float = 0.1  # oscillating (a loss > 0): swings of +-this share of its level
    osc_acf: float = 0.5  # oscillating, periodic: the swings' autocorrelation peaks this high
    osc_slow: float = 0.2  # oscillating, slow swings: reaching +-this share of the level
    osc_corr: float = 0.4  # oscillating, slow swings: or a lag-1 autocorrelation this high
    osc_turns: float = 0.35  # oscillating, slow swings after progress: turning at most this often
    osc_slow_swings: int = 4  # oscillating, slow swings: at least this many half-swings
    osc_keep: float = 1.0  # oscillating: a last half swinging +-this of the level is sustained
    osc_chaos: float = 0.3  # oscillating, full-batch: swings of no structure of +-this of level
    osc_fall: float = 0.75  # not oscillating: the level 2 windows back was up this x swing height
    osc_floor: float = 1e-6  # not oscillating (> 0): a level below this share of the start
    trend_snr: float = 6.0  # plateaued by noise: unless the early level is this many SEs up
    plateau_progress: float = 0.05  # plateaued: initial minus final level below this share of R
    plateau_fall: float = 0.2  # a loss > 0 held this share below its start moved (noise, short)
    held_snr: float = 2.0  # ... and held it by this many standard errors of a median level
    floor_progress: float = 0.04  # plateaued (a loss > 0): moved less than this of its level
    chance_tol: float = 0.05  # stuck_at_chance: final level (or second half) within this of chance
    chance_quiet: float = 0.02  # stuck_at_chance: falling less than this share of R in the window
    chance_flat: float = 1e-6  # stuck_at_chance: or less than this share of chance per point
    chance_round: float = 0.005  # stuck_at_chance, loss unnamed: ln K matched to this share
    chance_settle: float = 0.02  # stuck_at_chance, unnamed: or the last third within this of ln K
    spike_height: float = 0.2  # early_spike: a rise over the running minimum of this of R
    spike_snr: float = 6.0  # early_spike: and of this many noise std devs
    spike_level: float = 0.5  # early_spike (a loss > 0): and of this share of its level then
    spike_recover: float = 0.5  # early_spike: later points back within this share of the spike
    rebound_level: float = 0.3  # unstable (short, > 0): a rise this share above its low so far
    rebound_count: int = 2  # unstable (short, > 0): at least this many separate rebounds
    noisy_sigma: float = 0.05  # noisy: noise std dev at least this share of R
    noisy_turns: float = 0.3  # noisy: and final-window steps change direction this often
    overfit_rise: float = 0.1  # overfitting: validation above its best by this of its range
    overfit_train_drop: float = 0.02  # overfitting: while training fell by this of its range


# The thresholds that decide the verdict; `borderline` moves each one by +-borderline_margin.
_DECISION_FIELDS = (
    "noise_snr",
    "diverge_rise",
    "floor_rise",
    "diverge_gap",
    "positive_rise",
    "growth_rate",
    "blowup_keep",
    "blowup_rise",
    "ends_above",
    "osc_alternation",
    "osc_z",
    "osc_swing",
    "osc_trend",
    "osc_level",
    "osc_acf",
    "osc_slow",
    "osc_corr",
    "osc_turns",
    "osc_slow_swings",
    "osc_keep",
    "osc_chaos",
    "osc_fall",
    "osc_floor",
    "trend_snr",
    "plateau_progress",
    "plateau_fall",
    "held_snr",
    "floor_progress",
    "chance_tol",
    "chance_quiet",
    "chance_flat",
    "chance_round",
    "chance_settle",
)
