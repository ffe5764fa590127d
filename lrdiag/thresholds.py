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
    "borderline",  # fewer than short_curve points, or a threshold moved by borderline_margin
    # would change the verdict
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
    osc_chaos: float = 0.3  # full-batch swings with no structure must reach +-this of the level
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
    spike_level: float = 0.5  # ... and, for a loss > 0, of this fraction of its level then ...
    spike_recover: float = 0.5  # ... the points after it back within this fraction of the spike
    # (and of the progress made before it) above its old minimum
    # unstable, on a loss > 0 of fewer than min_window points (per-epoch logs):
    rebound_level: float = 0.3  # a rebound: a rise above the lowest level so far by this share
    rebound_count: int = 2  # unstable: at least this many separate rebounds after the start
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
    "osc_chaos",
    "trend_snr",
    "plateau_progress",
    "floor_progress",
    "chance_tol",
    "chance_quiet",
    "chance_flat",
    "chance_round",
)
