"""The seven kinds of curve that the classifier got wrong on outside logs (issue 11), each
reproduced here by a curve of our own, with the verdict a practitioner gives it.

The expected verdicts come from the definitions in docs/verdicts.md, not from the rules:
converging = real net progress, kept; plateaued = not moving, relative to its own level;
oscillating = sustained bounded swings without net progress over the final part, at any period;
diverging = up and not coming back. The real runs in tests/data/classes/eos_runs.json were
trained by ``lrdiag sweep`` (full-batch gradient descent on a small tanh MLP, float64; each
entry holds its config) and their curves looked at one by one.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from curves import (
    catapults,
    correlated_scatter,
    dip_and_back,
    falling_band,
    full_batch_chaos,
    learn_then_jump,
    logistic,
    onto_chance,
    rebound_episodes,
    to_a_floor,
)

from lrdiag.classify import Thresholds, classify

EOS_RUNS = json.loads((Path(__file__).parent / "data" / "classes" / "eos_runs.json").read_text())
LN10 = math.log(10.0)
LN2 = math.log(2.0)


def _curve(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# 1. Sustained oscillation with a long period, after an early spike ----------------------------


@pytest.mark.parametrize("name", sorted(EOS_RUNS))
def test_1_gradient_descent_bouncing_for_a_thousand_epochs_is_oscillating(name):
    """Full-batch GD past its edge of stability: a quick fall in the first epochs, then
    catapults (the loss jumps up and falls back every 10-40 epochs) or a period-2 bounce, for
    1,000+ epochs, never settling. The early spike and the first fall make R large; the bouncing
    is ±30% of the level or more."""
    y = _curve(EOS_RUNS[name]["loss"])
    v = classify(y, loss_name="bce")
    assert v.verdict == "oscillating", v.reason
    assert v.reason.startswith("oscillating: bounces between "), v.reason
    assert "of its level" in v.reason and "for the last" in v.reason
    assert v.metrics["swing_level"] >= 0.3
    # the same curve without a loss name: the verdict reads the shape, not the name
    assert classify(y).verdict == "oscillating"


def test_1_chaotic_swings_after_a_fall_with_periods_of_5_to_40_steps():
    """A curve built to the issue's description: 0.8 to 0.35 in 50 steps, then 1,000 steps of
    swings between about 0.2 and 0.6, each swing 5 to 40 steps long, never settling."""
    rng = np.random.default_rng(3)
    fall = 0.35 + 0.45 * np.exp(-np.arange(50) / 12.0)
    swings = []
    while len(swings) < 1000:
        period = int(rng.integers(5, 41))
        amp = rng.uniform(0.15, 0.25)
        swings.extend(0.4 + amp * np.sin(np.linspace(0, 2 * np.pi, period, endpoint=False)))
    y = np.r_[fall, swings[:1000]]
    v = classify(y)
    assert v.verdict == "oscillating", v.reason
    assert "no net progress" in v.reason
    # a healthy mini-batch curve with noise of the same size as a share of its level, but
    # independent from step to step and on a falling trend to 0.05, stays converging
    t = np.arange(1050)
    healthy = (0.05 + 0.75 * np.exp(-t / 150.0)) * np.exp(0.25 * rng.standard_normal(t.size))
    assert classify(healthy).verdict == "converging", classify(healthy).reason


# 2. A learning rate far too small, and its mirror image ---------------------------------------


@pytest.mark.parametrize(("level", "share"), [(1.0, 2e-4), (0.7, 7e-4), (3000.0, 1e-4)])
def test_2_a_descent_by_a_tiny_part_of_the_loss_is_plateaued(level, share):
    y = level * (1.0 - share * np.linspace(0.0, 1.0, 501))
    v = classify(y)
    assert v.verdict == "plateaued", v.reason
    pct = f"{100 * share:.2g}%"
    assert f"fell by only {pct} of its level over 500 epochs" in v.reason, v.reason
    assert v.reason.endswith("learning far too slowly")
    # the same shape falling by a tenth of its level is learning
    assert classify(level * (1.0 - 0.1 * np.linspace(0.0, 1.0, 501))).verdict == "converging"


def test_2_a_rise_by_a_tiny_part_of_the_loss_is_not_diverging():
    """A Keras validation loss up 0.002% in four epochs, beside a training loss down 0.002%."""
    val = [0.969219, 0.969225, 0.969231, 0.969239]
    train = [0.9, 0.89999, 0.89998, 0.899982]
    v = classify(val, train_curve=train)
    assert v.verdict == "plateaued" and "overfitting" not in v.flags, v.reason
    assert "changed by only 0.002% of its level" in v.reason and "not moving" in v.reason
    assert classify(train).verdict == "plateaued"


# 3. Flat at chance after a quick drop, loss unnamed --------------------------------------------


def test_3_flat_at_ln_10_after_a_drop_is_stuck_at_chance_unasked():
    y = np.r_[2.40, LN10 + 1e-5 * np.random.default_rng(0).standard_normal(99)]
    v = classify(y)
    assert (v.verdict, v.flags) == ("plateaued", ("stuck_at_chance",)), v.reason
    assert "ln 10" in v.reason and "chance with 10 classes" in v.reason
    assert v.metrics["chance_classes"] == 10 and v.metrics["chance"] == pytest.approx(LN10)


def test_3_flat_at_ln_2_is_stuck_at_chance_unasked():
    y = np.r_[0.6937, 0.6934, 0.6933, 0.69325 + 2e-5 * np.random.default_rng(1).standard_normal(88)]
    v = classify(y)
    assert (v.verdict, v.flags) == ("plateaued", ("stuck_at_chance",)), v.reason
    assert "ln 2" in v.reason


def test_3_a_plateau_away_from_any_ln_k_is_not_called_chance():
    """Flat at 1.60 (ln 5 = 1.609: 0.6% away, outside rounding): plateaued or converging, but
    never stuck at chance; and an mse loss never has a chance level."""
    y = np.r_[2.4, np.full(99, 1.60)]
    assert "stuck_at_chance" not in classify(y).flags
    y = np.r_[2.4, LN10 + 1e-5 * np.random.default_rng(0).standard_normal(99)]
    assert "stuck_at_chance" not in classify(y, loss_name="mse").flags


# 4. A short validation curve that jumps around -------------------------------------------------


def test_4_ten_epochs_jumping_by_a_third_of_the_level_are_not_plateaued():
    y = [619, 618, 847, 688, 693, 685, 641, 657, 739, 785]
    v = classify(y)
    assert v.verdict in ("oscillating", "diverging"), v.reason
    assert "borderline" in v.flags  # ten points are a close call whatever the verdict
    # the same ten epochs moving by 1% of the level are flat
    quiet = 700 + (np.array(y) - 700) / 30
    assert classify(quiet).verdict == "plateaued", classify(quiet).reason


@pytest.mark.parametrize(
    "y",
    [
        # a Keras validation loss after the first epoch of softmax on raw pixels: it falls from
        # 350, then jumps around (10.9 -> 24.4, 11.3 -> 15.1 ...)
        [349.9, 31.6, 10.9, 24.4, 14.6, 19.9, 18.4, 11.3, 15.1, 9.4, 10.1],
        [0.393, 0.086, 0.036, 0.046, 0.109, 0.019, 0.042, 0.008, 0.118, 0.016],
    ],
)
def test_4_a_short_fall_that_jumps_back_up_twice_is_unstable(y):
    assert rebound_episodes(y) >= 2
    v = classify(y)
    assert v.verdict == "converging" and "unstable" in v.flags, v.reason
    assert v.metrics["rebounds"] == rebound_episodes(y)
    assert "not steadily" in v.reason


@pytest.mark.parametrize(
    "y",
    [
        [2.3, 1.2, 0.8, 0.6, 0.5, 0.45, 0.41, 0.39, 0.38, 0.37],  # a steady fall
        [2.3, 1.2, 0.8, 0.6, 1.0, 0.5, 0.45, 0.41, 0.39, 0.38],  # one spike, then steady
        [2.3, 1.2, 0.8, 0.6, 0.7, 0.5, 0.55, 0.41, 0.45, 0.38],  # wiggles under 30% of the low
    ],
)
def test_4_a_short_fall_with_one_rebound_or_small_wiggles_is_not_unstable(y):
    assert rebound_episodes(y) <= 1
    v = classify(y)
    assert v.verdict == "converging" and "unstable" not in v.flags, v.reason


def test_4_rebounds_are_only_counted_on_short_curves():
    """A long curve's swings are the oscillation rules' business, on the final window."""
    y = np.r_[np.geomspace(2.0, 0.2, 30), np.geomspace(0.2, 0.02, 30)]
    y[10] *= 2.0
    y[40] *= 2.0
    assert rebound_episodes(list(y)) == 2
    assert "unstable" not in classify(y).flags


# 5. Violent oscillation for most of the run, then a late drop ----------------------------------


def test_5_bouncing_above_the_start_for_most_of_the_run_then_a_late_drop():
    rng = np.random.default_rng(0)
    y = np.r_[1.04, 3.0 + 10.0 * rng.random(260), np.geomspace(3.0, 0.05, 40)]
    v = classify(y)
    assert v.verdict in ("converging", "oscillating"), v.reason
    if v.verdict == "converging":
        assert "unstable" in v.flags and "early_spike" not in v.flags, v.reason
        assert "only at the end" in v.reason


# 6. Limit cycles after a huge first loss -------------------------------------------------------


@pytest.mark.parametrize("cycle", [(1.31, 2.56, 1.12, 2.35), (1.74, 2.68, 0.83, 1.73)])
def test_6_a_period_4_cycle_after_a_huge_first_loss_is_oscillating(cycle):
    y = np.r_[45.0, 30.0, 14.0, 8.0, 4.0, 3.0, np.tile(cycle, 74)]
    v = classify(y, loss_name="bce")
    assert v.verdict == "oscillating", v.reason
    lo, hi = min(cycle), max(cycle)
    assert f"bounces between {lo:g} and {hi:g}" in v.reason, v.reason
    # from the cycle's first point, or the 3.0 before it, which is within one swing of its band
    assert "for the last 296 epochs" in v.reason or "for the last 297 epochs" in v.reason
    period = v.metrics["period"]
    assert period in (2.0, 4.0), period  # alternating at every step, or a period of 4


# 7. Overfitting hidden by an early loss --------------------------------------------------------


def test_7_validation_rising_a_third_from_a_small_best_is_overfitting():
    t = np.arange(101.0)
    train = 3.1 * np.exp(-t / 8) + 0.1 * np.exp(-t / 40) + 0.005  # falls 29x after epoch 30
    val = np.r_[3.1 * np.exp(-t[:30] / 6) + 0.112, 0.112 + 0.037 * (t[30:] - 29) / 71]
    v = classify(val, train_curve=train)
    assert "overfitting" in v.flags, v.reason
    assert "from its best 0.113" in v.reason, v.reason
    # without the training curve falling, no overfitting
    assert "overfitting" not in classify(val, train_curve=np.full(101, 0.5)).flags


def test_7_validation_flat_above_ln_10_beside_a_training_curve_stuck_at_chance():
    rng = np.random.default_rng(0)
    train = np.r_[2.5, LN10 + 1e-4 * rng.standard_normal(100)]
    val = np.r_[2.45, 2.33 + 1e-4 * rng.standard_normal(100)]
    v = classify(val, train_curve=train)
    assert (v.verdict, v.flags) == ("plateaued", ("stuck_at_chance",)), v.reason
    # alone, 2.33 is 1.2% off ln 10: not chance to rounding, so it is judged by its shape
    assert "stuck_at_chance" not in classify(val).flags


# A loss's name adds facts, never a verdict on a clear shape ------------------------------------


def test_naming_the_loss_never_flips_the_verdict_of_a_clear_curve():
    """Every unambiguous corpus curve that has a loss name gets the same verdict without it,
    unless the name adds the one fact it carries: a chance loss, ln 2 or ln K with K given,
    met to chance_tol (5%) where a chance loss found unasked must be met to chance_round."""
    from tools.corpus import evaluate as ev

    corpus = Path(__file__).parent / "data" / "corpus"
    named = [c for c in ev.load_corpus(corpus) if c.unambiguous and c.loss_name is not None]
    assert len(named) > 200
    for c in named:
        with_name = classify(c.curve, loss_name=c.loss_name, n_classes=c.n_classes)
        if "stuck_at_chance" in with_name.flags:
            continue
        assert classify(c.curve).verdict == with_name.verdict, c.id


# From a QA pass: independent mini-batch noise is never a swing -----------------------------


@pytest.mark.parametrize("seed", range(4))
def test_mini_batch_noise_about_a_flat_or_falling_level_is_not_oscillating(seed):
    """Per-step losses of batch size ~32: log-normal noise of 18% about the level, 3000 steps.
    Flat (a learning rate far too small): plateaued. A fall of 20% of the level kept: not
    oscillating (converging). The noise swings by +-29% of the level, but independently from
    step to step: that is measurement noise about a level, not bouncing."""
    rng = np.random.default_rng(seed)
    s = np.arange(1, 3001)
    noise = np.exp(0.18 * rng.standard_normal(s.size) - 0.0162)
    flat = (1.08 + 0.02 * np.exp(-s / 3000)) * noise
    assert classify(flat).verdict == "plateaued", classify(flat).reason
    falling = (0.8 + 0.2 * np.exp(-s / 1000)) * noise
    assert classify(falling).verdict == "converging", classify(falling).reason


def test_a_validation_loss_creeping_up_as_a_model_overfits_is_not_geometric_divergence():
    """2.40 down to 0.527 at epoch 37, then up smoothly (increments growing) to 0.715 at 59,
    while training falls: it kept 90% of its progress; a loss growing geometrically multiplies
    (the linear regression past 2/lambda: x1.82 a step) instead."""
    t = np.arange(60.0)
    train = 0.05 + 2.35 * np.exp(-t / 20)
    val = np.where(t <= 37, 0.527 + 1.873 * np.exp(-t / 7), 0.527 + 0.188 * ((t - 37) / 22) ** 2)
    v = classify(val, train_curve=train)
    assert v.verdict == "converging" and "overfitting" in v.flags, v.reason
    grows = np.r_[val[:38], 0.527 * 1.15 ** np.arange(1, 23)]  # x1.15 an epoch: diverging
    assert classify(grows).verdict == "diverging", classify(grows).reason


def test_mini_batch_noise_early_in_a_run_is_no_spike():
    """A per-step log falling from 2.3 to 0.1 with 10% log-normal noise: its early excursions
    of 30-40% are 6 noise standard deviations of its quiet end, but no jump on their own level;
    a jump to 4x the level is a spike."""
    s = np.arange(1, 3001)
    flagged = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y = (0.1 + 2.2 * np.exp(-s / 400)) * np.exp(0.10 * rng.standard_normal(s.size))
        flagged += "early_spike" in classify(y).flags
    assert flagged <= 1
    y = (0.1 + 2.2 * np.exp(-s / 400)) * np.exp(
        0.10 * np.random.default_rng(0).standard_normal(s.size)
    )
    y[800:803] *= 4.0
    assert "early_spike" in classify(y).flags


def test_a_curve_with_one_finite_value_says_so():
    """Ten infs, then 0.5 (a QA pass): 'stays at 0.5 over 10 epochs' claimed a flat run."""
    v = classify([math.inf] * 10 + [0.5])
    assert v.verdict == "plateaued"
    assert v.reason.startswith("plateaued: only one of its 11 values is finite (0.5, at epoch 10)")


# 1b. Bounded chaos of full-batch gradient descent ---------------------------------------------


def test_1b_irregular_swings_are_oscillating_only_when_the_curve_is_full_batch():
    """The same shape is the dynamics of full-batch gradient descent (no samples drawn, so no
    noise) and sampling noise about a level in a mini-batch run."""
    y = full_batch_chaos(600)
    assert np.ptp(y[-300:]) / np.median(y[-300:]) > 0.6  # swings of about ±35% of the level
    assert classify(y, full_batch=True).verdict == "oscillating"
    assert classify(y).verdict == "converging"


def test_1b_small_full_batch_wiggles_are_not_oscillation():
    """Swings under osc_chaos (±30%) of the level with no structure stay converging."""
    y = np.r_[np.geomspace(3.0, 1.0, 40), 1.0 + 0.2 * (logistic(600) - 0.5)]
    assert classify(y, full_batch=True).verdict == "converging"


# Bouncing on a falling trend, and rounding at the floor (held-out outside set 2) ---------------


@pytest.mark.parametrize("period", [2, 4])
def test_a_bouncing_band_on_a_falling_level_is_converging(period):
    """A full-batch loss bouncing by +-12% of its level with a period of 2 or 4 steps while the
    level halves, from 0.1 to 0.05 (on a log scale a straight falling band): from the middle
    fifth of the run to its last fifth the level falls by a quarter, more than the bounce's
    height, so the bouncing rides net progress: converging. The same bounce about a flat level
    is oscillating."""
    y = falling_band(800, period=period)
    level = 0.1 * 0.5 ** (np.arange(800) / 799)
    assert level[-160:].mean() < 0.8 * level[320:480].mean()  # progress over the last 60%
    v = classify(y, full_batch=True)
    assert v.verdict == "converging", v.reason
    flat = falling_band(800, end=0.1, period=period)
    assert classify(flat, full_batch=True).verdict == "oscillating"


def test_a_band_falling_about_as_much_as_it_bounces_is_a_close_call():
    """A +-12% bounce whose level falls from 0.1 to 0.068 or to 0.062: between the middle fifth
    and the last fifth the level falls by about 0.7 and 0.8 times the bounce's height (24% of
    the level). One is oscillating, the other converging, and both are flagged borderline,
    naming osc_fall: a practitioner could call either way."""
    t = np.arange(800)
    for end, verdict in ((0.068, "oscillating"), (0.062, "converging")):
        level = 0.1 * (end / 0.1) ** (t / 799)
        fall = np.median(level[320:480]) - np.median(level[640:])
        assert 0.5 < fall / (0.24 * np.median(level[640:])) < 1.0
        v = classify(falling_band(800, end=end), full_batch=True)
        assert v.verdict == verdict, v.reason
        assert "borderline" in v.flags and "moving osc_fall by 20%" in v.reason, v.reason


@pytest.mark.parametrize("seed", range(4))
def test_correlated_scatter_on_a_slow_fall_is_converging(seed):
    """A per-epoch loss falling from 3 to 0.9 over 400 epochs, with scatter of +-35% of its
    level that lasts several epochs (lag-1 correlation 0.7): the level falls by 40% over the
    last 60% of the run, more than the scatter hides: converging. The same scatter about a
    flat level makes no progress: never converging."""
    y = correlated_scatter(400, seed=seed)
    v = classify(y)
    assert v.verdict == "converging", v.reason
    flat = correlated_scatter(400, start=0.9, seed=seed)
    assert classify(flat).verdict != "converging", classify(flat).reason


@pytest.mark.parametrize("seed", range(3))
def test_wobbling_at_the_float64_floor_is_converging(seed):
    """A loss that fell from 0.25 to 5e-15 by 30% of the run and then wobbles by +-25% there
    for 1,000 epochs has converged: its swings are rounding at a floor 5e13 times below its
    start, not oscillation. The same wobble about a level of 0.05 (a fifth of the start) is."""
    y = to_a_floor(1500, seed=seed)
    v = classify(y, full_batch=True)
    assert v.verdict == "converging", v.reason
    high = to_a_floor(1500, floor=0.05, seed=seed)
    assert classify(high, full_batch=True).verdict == "oscillating"


# Set 3's misses (issue 11, round 4): each kind by a curve of our own ------------------------


def test_a_dip_and_a_return_to_about_the_start_is_plateaued_not_diverging():
    """Down by 11% of its level, back up to 2.6% above its first value, flat: it learned a
    little and lost it, but it did not go up; 'diverging' needs the loss to end clearly above
    where it started (or to jump on its own level), and this one is not moving."""
    v = classify(dip_and_back(300))
    assert v.verdict == "plateaued", v.reason
    # the same shape ending 30% above its start did go up and stay there
    v = classify(dip_and_back(300, end=0.3))
    assert v.verdict == "diverging", v.reason
    # and a fall to a tenth, then back to six tenths, lost most of real progress: diverging
    y = learn_then_jump(100, to=0.6)
    assert classify(y).verdict == "diverging"


@pytest.mark.parametrize("k,n", [(2, 30), (4, 30), (6, 300)])
def test_a_loss_relaxing_onto_ln_k_and_staying_is_stuck_at_chance(k, n):
    """A dead network's loss decays smoothly onto ln K by two thirds of the run and stays there:
    flat at chance for the last third, however steep the fall before, is stuck at chance (K
    found unasked), and so is its validation curve beside it."""
    y = onto_chance(n, k=k)
    v = classify(y)
    assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason
    assert v.metrics["chance_classes"] == k
    val = onto_chance(n, k=k, start=3.0) * 1.001  # 0.1% above chance: a held-out set's level
    v = classify(val, train_curve=y)
    assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason


def test_a_loss_passing_ln_k_on_its_way_down_is_converging():
    """The same decay, but to a floor below ln 4: it crosses chance and keeps learning."""
    y = 1.0 + (3.5 - 1.0) * np.exp(-np.arange(30) / 6.0)  # passes ln 4 = 1.386 near point 11
    v = classify(y)
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags, v.reason
    # and one falling straight onto ln 4 at its last point has not stayed there
    y = np.linspace(3.5, math.log(4.0), 30)
    assert classify(y).verdict == "converging"


def test_catapult_spikes_of_varying_height_for_the_final_part_are_oscillating():
    """A base of 0.25 with a catapult spike every 40 steps for the last 60% of 1,000 full-batch
    steps, 20x the base, the last two 6x: the final window's last half swings less than half
    as much as the whole window, but still by more than its own level: not dying out."""
    y = catapults(1000, heights=(20.0,) * 13 + (6.0, 6.0))
    v = classify(y, full_batch=True)
    assert v.verdict == "oscillating", v.reason
    # the last two spikes only 2x the base: a last half within +-100% of its level has settled
    y = catapults(1000, heights=(20.0,) * 13 + (1.0, 1.0))
    assert classify(y, full_batch=True).verdict == "converging"


@pytest.mark.parametrize("seed", range(3))
def test_one_and_a_half_slow_swings_after_a_long_fall_are_not_oscillation(seed):
    """A mini-batch loss that fell 100x, whose final window of 60 points wanders by +-60% in
    1.8 slow periods (three half-swings): fewer than two full swings is a wander about a low
    level, not sustained oscillation."""
    n = 300
    t = np.arange(n, dtype=float)
    y = 1.6 * (0.016 / 1.6) ** np.minimum(t / 120.0, 1.0)
    y[-60:] *= 1.0 + 0.6 * np.sin(2 * np.pi * np.arange(60) / 34.0)  # 1.8 periods in 60 points
    y *= 1.0 + 0.01 * np.random.default_rng(seed).standard_normal(n)
    v = classify(y)
    assert v.verdict == "converging", v.reason
    # two and a half such swings in the window are oscillation
    y[-60:] = 0.016 * (1.0 + 0.6 * np.sin(2 * np.pi * np.arange(60) / 24.0))
    assert classify(y).verdict == "oscillating"


# Set 4 and the dev half (issue 11, round 5): each kind by a curve of our own ----------------

# Twelve epochs of a validation loss: 1.0, a jumpy fall to about 0.4, and jumps of a third or
# more of its level after it (0.3, then 0.65; 0.35, then 0.45): the noise estimate from such
# jumps is larger than a third of the fall.
JUMPY_FALL = [1.0, 0.8, 1.3, 0.5, 0.3, 0.65, 0.55, 0.35, 0.38, 0.42, 0.45, 0.43]


def test_a_short_jumpy_fall_by_more_than_half_its_level_is_converging_not_plateaued():
    """Down 57% of its level and held there for the whole second half: moving, whatever its
    noise; plateaued means not moving relative to its level."""
    v = classify(JUMPY_FALL)
    assert v.verdict == "converging", v.reason
    # the rule is what decides it: without it the noise rule called the same curve plateaued
    off = Thresholds(plateau_fall=1.0)  # no loss > 0 falls by all of its level
    assert classify(JUMPY_FALL, off).verdict == "plateaued"
    # a curve as jumpy that ends 10% below its first value has not moved: plateaued
    y = [1.0, 0.85, 1.1, 0.9, 0.82, 1.05, 0.95, 0.83, 0.88, 0.92, 0.86, 0.9]
    assert classify(y).verdict == "plateaued"


def test_a_held_fall_near_plateau_fall_is_borderline():
    """The same jumps shrunk to 0.4 of their size about the start: held 22% below it, just
    over plateau_fall = 20%, a close call that names the threshold."""
    y = 1.0 + 0.4 * (np.array(JUMPY_FALL) - 1.0)
    v = classify(y)
    assert v.verdict == "converging" and "borderline" in v.flags, v.reason
    assert "moving plateau_fall by 20% would make it plateaued" in v.reason


def test_a_short_jumpy_fall_that_comes_back_is_not_converging():
    """The same fall, but the second half back at its start: it did not hold the fall, and
    jumping by a third of its level it is not flat either (oscillating, borderline)."""
    y = [1.0, 0.8, 1.3, 0.5, 0.3, 0.65, 0.55, 0.9, 1.05, 0.95, 1.1, 0.98]
    v = classify(y)
    assert v.verdict == "oscillating" and "borderline" in v.flags, v.reason


def test_a_ten_epoch_fall_of_three_quarters_with_one_jump_back_is_not_irregular_bouncing():
    """1.0, 1.1, then down to 0.06 with one jump to 0.9 and a last value of 0.26: the swings
    are as large as its level, but it fell by three quarters and held that through its second
    half: it learned (converging), not bouncing without progress (the short-curve rule)."""
    y = [1.0, 1.1, 0.4, 0.35, 0.33, 0.13, 0.06, 0.9, 0.12, 0.26]
    v = classify(y)
    assert v.verdict == "converging", v.reason
    assert classify(y, Thresholds(plateau_fall=1.0)).verdict == "oscillating"  # rule off
    # ending back at 0.9 after the same jumps: the fall is not held, it bounces (borderline)
    v = classify([*y[:-1], 0.9])
    assert v.verdict == "oscillating" and "borderline" in v.flags, v.reason


def _dead_run(n, level, *, first=40.0, seed=0):
    """A network that blew up in its first epoch, then sits at ``level`` with 1.5% noise."""
    y = level * (1.0 + 0.015 * np.random.default_rng(seed).standard_normal(n))
    y[0], y[1] = first, 1.25 * level
    return y


@pytest.mark.parametrize("share", [1.02, 0.98])
def test_told_the_class_count_a_short_run_flat_a_few_percent_off_ln_k_is_stuck(share):
    """15 epochs: 40, then 2% above ln 10 (outputs collapsed to near-uniform) or 2% below (the
    prior of unbalanced classes) for the rest. Told K = 10, as a sweep is, it is stuck at
    chance; the fall from 40 fills the final window, which must not hide the flat run after."""
    y = _dead_run(15, share * LN10)
    v = classify(y, n_classes=10, loss_name="cross_entropy")
    assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason
    assert "for the second half of the run" in v.reason and "ln 10" in v.reason
    # from the curve alone, a level 2% off ln 10 is a loss that fell and converged there
    assert classify(y).verdict == "converging"


def test_told_the_class_count_a_level_clearly_off_ln_k_or_still_falling_is_not_stuck():
    # 8% above ln 10: beyond chance_tol, a level of its own
    v = classify(_dead_run(15, 1.08 * LN10), n_classes=10, loss_name="cross_entropy")
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags, v.reason
    # passing through chance over the second half (6% above to 3% below): learning, not flat
    y = np.concatenate([[40.0, 3.0], np.linspace(1.06 * LN10, 0.97 * LN10, 13)])
    v = classify(y, n_classes=10, loss_name="cross_entropy")
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags, v.reason


def test_told_the_class_count_two_points_near_ln_k_are_no_flat_level():
    """Four epochs (189, 27, 2.25, 2.21: a recorded CNN run): a second half of two points shows
    no level to be flat at; the fall onto them is all the curve has (converging, borderline)."""
    v = classify([189.0, 27.0, 2.25, 2.21], n_classes=10, loss_name="cross_entropy")
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags, v.reason
    assert "borderline" in v.flags


def test_told_the_class_count_a_level_near_chance_tol_is_borderline():
    v = classify(_dead_run(15, 1.06 * LN10), n_classes=10, loss_name="cross_entropy")
    assert v.verdict == "plateaued" and "borderline" in v.flags, v.reason
    assert "moving chance_tol by 20% would make it converging" in v.reason


def test_a_bce_validation_loss_flat_just_under_ln_2_is_stuck_when_named():
    """12 epochs of a validation loss: 0.75, 0.72, 0.70, then 2% under ln 2 (the prior of
    slightly unbalanced classes) with 0.5% noise: stuck at chance for a bce loss."""
    y = 0.98 * LN2 * (1.0 + 0.005 * np.random.default_rng(1).standard_normal(12))
    y[:3] = [0.75, 0.72, 0.70]
    v = classify(y, loss_name="bce")
    assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason
    # one that keeps falling through its second half (0.72 to 0.672, 3% under ln 2) is learning
    t = np.arange(25)
    y = 0.72 - 0.002 * t
    assert classify(y, loss_name="bce").verdict == "converging"
    # and so is a smooth creep down, 0.2% of ln 2 over the second half, at ln 2 (far too slow)
    y = LN2 * (1.0 - 0.0003 * t)
    v = classify(y, loss_name="bce")
    assert v.verdict == "plateaued" and "stuck_at_chance" not in v.flags, v.reason


def test_flat_noise_rarely_holds_a_fall():
    """A loss that does not move, only jumps by +-30% of its level each epoch (400 short
    curves, 12 points, drawn here): plateaued must mean not moving, so at most a few of them
    may count as a held fall. Without held_snr's standard errors one in eleven does."""
    rng = np.random.default_rng(12)
    curves = 1.0 + 0.3 * rng.standard_normal((400, 12))
    converging = sum(classify(y).verdict == "converging" for y in curves)
    assert converging <= 0.05 * len(curves), converging
    loose = Thresholds(held_snr=0.0)  # the rule without its standard errors
    assert sum(classify(y, loose).verdict == "converging" for y in curves) > converging + 10


def test_a_curve_ending_on_ln_k_untold_says_what_the_class_count_would_mean():
    """Blown up in its first epoch (820), then 2.31-2.34 for nine epochs: 1% above
    ln 10 = 2.303. Untold the class count, lrdiag cannot know it is chance and calls it
    converging, but the reason says where it ends and what to pass; told, it is stuck."""
    rng = np.random.default_rng(0)
    y = [820.0, 40.0, 5.0, *(2.325 + 0.008 * rng.standard_normal(9))]
    v = classify(y)
    assert v.verdict == "converging", v.reason
    c = math.log(10)
    m = re.search(r"it ends (\S+)% above ln 10 = 2\.303, the loss of guessing among 10", v.reason)
    assert m, v.reason
    final = float(np.median(y[-3:]))  # the final level: the last points' median
    assert float(m.group(1)) == pytest.approx(100 * (final - c) / c, abs=0.06)
    assert "--loss cross_entropy --classes 10" in v.reason
    told = classify(y, loss_name="cross_entropy", n_classes=10)
    assert told.verdict == "plateaued" and "stuck_at_chance" in told.flags, told.reason
    # ln 2, twelve points: the hint for two classes names the binary loss
    v = classify([0.95, 0.8, 0.72, *(0.6935 + 0.0004 * rng.standard_normal(9))])
    assert "ln 2 = 0.6931" in v.reason and "--loss bce" in v.reason, v.reason
    # not when the curve got below chance on the way, nor for a loss named mse, nor when an
    # accuracy says it learned (guess_chance=False)
    assert "guessing" not in classify([2.9, 1.2, 0.9, *y[3:]]).reason
    assert "guessing" not in classify(y, loss_name="mse").reason
    assert "guessing" not in classify(y, guess_chance=False).reason


def test_a_short_zigzag_down_rides_its_fall_and_the_same_zigzag_on_a_level_swings():
    """Eight epochs 0.9, 0.6, 0.7, 0.5, 0.65, 0.45, 0.6, 0.42: every step changes direction,
    but the curve fell by 0.48, more than the swings' full height about its trend (+-0.12):
    bouncing on a clearly falling trend is converging. The same up-and-down steps about a flat
    level (the trend taken out) gained nothing: oscillating. Four points down 23% with one
    uptick of 6% (196, 160, 170, 150) fell too."""
    y = np.array([0.9, 0.6, 0.7, 0.5, 0.65, 0.45, 0.6, 0.42])
    assert np.all(np.sign(np.diff(y))[1:] != np.sign(np.diff(y))[:-1])  # alternates throughout
    v = classify(y)
    assert v.verdict == "converging", v.reason
    t = np.arange(y.size)
    flat = y - np.polyval(np.polyfit(t, y, 1), t) + y.mean()
    v = classify(flat)
    assert v.verdict == "oscillating", v.reason
    assert classify([196.0, 160.0, 170.0, 150.0]).verdict == "converging"


def _ema_logged_run(n, sigma, beta, seed):
    """A healthy per-step mini-batch loss, 2.3 e^(-8t/n) + 0.3 times log-normal batch noise of
    sigma, logged as an exponential moving average of weight beta (bias-corrected, as many
    training loops and progress bars print it)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    raw = (2.3 * np.exp(-8.0 * t / n) + 0.3) * np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)
    out, m = np.empty(n), 0.0
    for i, v in enumerate(raw):
        m = beta * m + (1.0 - beta) * v
        out[i] = m / (1.0 - beta ** (i + 1))
    return out


@pytest.mark.parametrize(("sigma", "beta"), [(0.5, 0.6), (0.8, 0.9), (0.6, 0.8), (1.0, 0.95)])
def test_a_smoothed_log_of_a_healthy_mini_batch_run_is_converging(sigma, beta):
    """Averaging batch losses makes their noise move together and turn less often than raw
    noise (+-30-45% swings of the level that last several steps), but it still turns 40-55% of
    the time. After a fall from 2.6 to 0.3 that is a healthy run, not oscillation (5 seeds). As a
    full-batch curve, which has no batch noise to average, the same swings are its dynamics."""
    for seed in range(5):
        y = _ema_logged_run(3000, sigma, beta, seed)
        v = classify(y)
        assert v.verdict == "converging", (seed, v.reason)
    assert classify(y, full_batch=True).verdict == "oscillating"


def test_7_overfitting_is_judged_on_the_training_losss_own_level_too():
    """Validation 3.1 down to 0.112 at epoch 40, then up to 0.149 (+33%); training
    3.1 e^(-e/8) + 0.03, which falls from 0.051 to 0.030 (41% of its level) over the same
    epochs. That fall is 0.7% of the training range an initial 3.13 sets, under
    overfit_train_drop = 2% of it, but on its own level it is no small fall: overfitting. With
    the training loss flat over those epochs (no fall at all), it is not."""
    e = np.arange(100)
    train = 3.1 * np.exp(-e / 8.0) + 0.03
    val = np.where(e < 40, 3.0 * np.exp(-e / 8.0) + 0.112, 0.112 + 0.037 * (e - 40) / 59)
    fall = train[40] - train[-1]
    assert fall < 0.02 * np.ptp(train) and fall > 0.4 * train[40]
    v = classify(val, train_curve=train)
    assert "overfitting" in v.flags, v.reason
    flat = np.where(e < 40, train, train[40])
    assert "overfitting" not in classify(val, train_curve=flat).flags


def test_healthy_batch_noise_early_is_no_spike_and_a_real_spike_still_is():
    """A healthy per-step loss 2.3 e^(-t/50) + 0.25 with log-normal batch noise of 0.2: its
    noise is eight times larger early (at a level of 2) than in the final window (0.25), so
    single +50% steps early are noise for that part of the run, not "a transient spike": at
    most 1 of 20 seeds is flagged (11 were, judged against the final window's noise alone).
    The same runs with the loss tripled for 3 steps at step 100 (where noise is +-20% of the
    level) are flagged on at least 19 of 20."""
    t = np.arange(300)
    flagged = spiked = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y = (2.3 * np.exp(-t / 50.0) + 0.25) * np.exp(0.2 * rng.standard_normal(300))
        flagged += "early_spike" in classify(y).flags
        y[100:103] *= 3.0
        spiked += "early_spike" in classify(y).flags
    assert flagged <= 1, flagged
    assert spiked >= 19, spiked


@pytest.mark.parametrize(("n", "period"), [(300, 60), (300, 40), (100, 17), (1000, 150)])
def test_a_swing_too_long_for_the_final_window_is_still_oscillating(n, period):
    """A fall from 2.5 to 0.5 in the first fifth, then a cosine swing of +-0.15 (+-30% of the
    level) with a period longer than half the final window (a fifth of the run): the window
    shows less than two swings, the last half of the run shows two or more. Oscillating, at
    that period. The same swing riding a loss still falling by twice its height over the last
    half (the bumps of a cyclic learning-rate schedule) is converging."""
    t = np.arange(n)
    fall = np.exp(-t / (n / 20))
    swing = 0.15 * np.cos(2 * np.pi * t / period) * (1 - fall)
    v = classify(0.5 + 2 * fall + swing)
    assert v.verdict == "oscillating", v.reason
    m = re.search(r"with a period of about (\d+)", v.reason)
    assert m and abs(int(m.group(1)) - period) <= 0.1 * period, v.reason
    falling = 0.5 + 2 * fall + swing + 0.6 * (1 - t / n)
    assert classify(falling).verdict == "converging"


@pytest.mark.parametrize(("n", "period"), [(400, 24), (400, 38), (2000, 70), (2000, 150)])
def test_a_steady_sine_is_not_a_blowup_whatever_phase_it_ends_on(n, period):
    """1 + 0.3 sin(2 pi t / period + 0.7) with 1% noise from the first step: no trend, swings
    of +-30% of the level for the whole run. Its best is a trough and its final level wherever
    the last points fall in a swing, but every swing of the final window comes back down to
    that best: oscillating, not "learned, then jumped and stayed" (qa7's audit: diverging
    [late_blowup] for these four). The same curve that stays up after a trough (jumped and
    held at 1.3) is still a blow-up."""
    rng = np.random.default_rng(period)
    t = np.arange(n)
    y = 1.0 + 0.3 * np.sin(2 * np.pi * t / period + 0.7) + 0.01 * rng.standard_normal(n)
    v = classify(y)
    assert v.verdict == "oscillating", v.reason
    held = y.copy()
    held[n // 2 :] = 1.3 + 0.01 * rng.standard_normal(n - n // 2)
    assert classify(held).verdict == "diverging"


def test_a_run_that_learned_for_long_then_blew_up_to_nan_is_a_late_blowup():
    """10.8 down to 3.2 over 19,000 steps, then growing 1.01x a step to 9.6e3 and nan: it
    learned, then blew up. The blow-up makes R 9.6e3, so a fall of 7.6 is under 5% of it, but
    it is 70% of the loss's own level: late_blowup. A run that blew up from its start is not."""
    t = np.arange(20000, dtype=float)
    y = 3.2 + 7.6 * np.exp(-t / 2000.0)
    y[19000:] = 3.2 * 1.0081 ** np.arange(1000)
    y[-5:] = np.nan
    v = classify(y)
    assert v.verdict == "diverging" and "late_blowup" in v.flags, v.reason
    assert "after falling from" in v.reason
    grow = 3.2 * 1.0081 ** np.arange(1000)
    grow[-5:] = np.nan
    assert "late_blowup" not in classify(grow).flags
