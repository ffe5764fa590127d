"""lrdiag.classify against curves whose verdict is fixed by construction (tests/curves.py):
closed-form decays, gradient descent on quadratics iterated here, the logistic map, flat curves
at the chance loss, spikes, blow-ups, NaN tails, noisy mini-batch curves; invariance to shifting
and scaling (hypothesis); and, when ../shared (beside the repository) is present, the real Keras
logs."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import json
import math
import re
import warnings
from pathlib import Path

import curves as cv
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lrdiag import classify as clf
from lrdiag.classify import FLAGS, VERDICTS, Thresholds, Verdict, classify

REQUIRED_METRICS = (
    "initial",
    "final",
    "min",
    "min_epoch",
    "max",
    "diverged_epoch",
    "n_points",
)


def check_contract(v: Verdict) -> None:
    """What every verdict promises, whatever the curve."""
    assert v.verdict in VERDICTS
    assert set(v.flags) <= set(FLAGS)
    assert len(set(v.flags)) == len(v.flags)
    assert isinstance(v.reason, str) and v.reason.strip()
    assert "\n" not in v.reason
    # One sentence, naming its verdict once.
    assert ". " not in v.reason and v.reason.count(v.verdict) <= 1, v.reason
    for key in REQUIRED_METRICS:
        assert key in v.metrics
    for key, value in v.metrics.items():
        assert value is None or type(value) in (int, float), (key, value)
        if isinstance(value, float):
            assert math.isfinite(value), (key, value)
    json.dumps(v.metrics, allow_nan=False)  # strict JSON
    # Flags that only some verdicts can carry, by their definitions: a diverging run went up
    # and did not come back (so no spike of it recovered); late_blowup is a kind of divergence;
    # edge_of_stability is bouncing on a falling trend, i.e. converging.
    if v.verdict == "diverging":
        assert "early_spike" not in v.flags, v.reason
    else:
        assert "late_blowup" not in v.flags, v.reason
    if "edge_of_stability" in v.flags:
        assert v.verdict == "converging", v.reason


def judge(curve, thresholds: Thresholds = Thresholds(), **kw) -> Verdict:  # noqa: B008
    v = classify(curve, thresholds, **kw)
    check_contract(v)
    return v


# --------------------------------------------------------------------------------------------
# API


def test_api_names():
    assert VERDICTS == ("converging", "oscillating", "diverging", "plateaued")
    for flag in (
        "early_spike",
        "late_blowup",
        "noisy",
        "stuck_at_chance",
        "overfitting",
        "borderline",
        "edge_of_stability",
    ):
        assert flag in FLAGS


def test_thresholds_are_plain_documented_fields():
    """config.py validates a `classify:` section from these fields: plain types, defaults, and
    each named once with a one-line comment beside it."""
    src = inspect.getsource(clf.Thresholds)
    lines = src.splitlines()
    names = [f.name for f in dataclasses.fields(Thresholds)]
    assert len(names) == len(set(names))
    for f in dataclasses.fields(Thresholds):
        assert f.type in ("float", "int", "bool"), f
        assert type(f.default) is {"float": float, "int": int, "bool": bool}[f.type], f
        (line,) = [s for s in lines if s.strip().startswith(f"{f.name}:")]
        assert "#" in line and line.split("#", 1)[1].strip(), f"{f.name} has no comment"
    th = Thresholds()
    with pytest.raises(dataclasses.FrozenInstanceError):
        th.noise_snr = 1.0  # type: ignore[misc]
    # every threshold the decision moves for `borderline` is a field
    assert set(clf._DECISION_FIELDS) <= set(names)


def test_zero_and_negative_losses_raise_no_warnings():
    """Losses may be 0 or negative: nothing may divide by them (no RuntimeWarning, no inf)."""
    curves = [
        np.zeros(30),
        np.concatenate([[1.0], np.zeros(29)]),
        cv.exp_decay(50) - 1.0,  # from 0 down to -1
        -cv.exp_decay(50)[::-1],
        np.array([0.0, -0.0, 0.0, 1e-300, 0.0, 0.0]),
        cv.with_nan_tail(np.zeros(20), 10),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in curves:
            for name in (None, "bce", "cross_entropy", "mse"):
                judge(y, loss_name=name, n_classes=3, train_curve=cv.exp_decay(y.size))


def test_verdict_is_frozen_and_jsonable():
    v = judge(cv.exp_decay(50))
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.verdict = "diverging"  # type: ignore[misc]
    assert isinstance(v.flags, tuple)


def test_rejects_unknown_loss_name():
    with pytest.raises(ValueError, match="loss_name"):
        classify(cv.exp_decay(20), loss_name="hinge")


# --------------------------------------------------------------------------------------------
# converging


@pytest.mark.parametrize("n", [5, 6, 7, 8, 10, 15, 20, 30, 50, 100, 300, 1000, 2000, 5000])
def test_exponential_decay_converges_at_every_length(n):
    v = judge(cv.exp_decay(n))
    assert v.verdict == "converging", v.reason
    assert "borderline" not in v.flags
    assert v.metrics["n_points"] == n
    assert v.metrics["initial"] == 1.0
    assert v.metrics["min_epoch"] == n - 1


@pytest.mark.parametrize("n", [5, 8, 10, 20, 50, 100, 500, 2000, 5000])
@pytest.mark.parametrize("seed", range(5))
def test_exponential_decay_with_small_noise_converges(n, seed):
    # noise std of 1% of the fall: unambiguous at every length
    v = judge(cv.exp_decay(n, noise=0.01, seed=seed))
    assert v.verdict == "converging", v.reason


@pytest.mark.parametrize("tau", [0.5, 2.0, 10.0, 50.0])
def test_exponential_decay_at_different_rates(tau):
    v = judge(cv.exp_decay(200, epochs_per_e=tau))
    assert v.verdict == "converging", v.reason


@pytest.mark.parametrize("n", [10, 100, 5000])
def test_one_over_t_decay_converges(n):
    v = judge(cv.inv_t_decay(n))
    assert v.verdict == "converging", v.reason


@pytest.mark.parametrize(
    "lams, frac",  # lr = frac * 2 / max(lams)
    [([1.0], 0.25), ([1.0], 0.95), ([4.0, 1.0], 0.9), ([4.0, 1.0], 0.98), ([4.0, 0.01], 0.8)],
)
def test_gradient_descent_below_two_over_lambda_converges(lams, frac):
    lr = frac * 2.0 / max(lams)
    losses, xs = cv.gd_quadratic(lams, lr, 150)
    # the truth, independently: every coordinate contracts by |1 - lr*lam| < 1 per step
    assert np.all(np.abs(1.0 - lr * np.asarray(lams)) < 1.0)
    v = judge(losses)
    assert v.verdict == "converging", v.reason


def test_negative_and_near_zero_losses():
    v = judge(cv.exp_decay(100) - 5.0)  # from -4 to about -5
    assert v.verdict == "converging", v.reason
    tiny = cv.exp_decay(100, start=1e-12 * math.e**16, epochs_per_e=100 / 16)  # down to ~1e-12
    assert tiny[-1] < 2e-12
    assert judge(tiny).verdict == "converging"
    to_zero = cv.exp_decay(100) - cv.exp_decay(100)[-1]  # ends at exactly 0
    assert judge(to_zero).verdict == "converging"


@pytest.mark.parametrize("scale", [1e-4, 1e-2, 1.0, 1e2, 1e4])
def test_scales_from_1e_minus_4_to_1e4(scale):
    assert judge(scale * cv.exp_decay(100)).verdict == "converging"
    assert judge(scale * cv.bounce(60)).verdict == "oscillating"
    assert judge(scale * cv.exp_decay(100)[::-1]).verdict == "diverging"
    assert judge(scale * cv.flat(100, 1.0, noise=1e-3)).verdict == "plateaued"


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("trend", ["exp", "inv_t", "two_phase"])
def test_noisy_minibatch_curves_are_never_oscillating_or_diverging(seed, trend):
    heavy = seed % 2 == 1
    noise = (0.02, 0.05, 0.1)[seed % 3]
    y = cv.minibatch(2000 + 100 * (seed % 7), seed=seed, trend=trend, noise=noise, heavy=heavy)
    v = judge(y)
    assert v.verdict == "converging", v.reason


def test_spike_then_recover_is_converging_with_early_spike():
    v = judge(cv.spike_then_recover(100, spike_at=7))
    assert v.verdict == "converging", v.reason
    assert "early_spike" in v.flags
    assert v.metrics["spike_epoch"] == 7
    assert "spike at epoch 7" in v.reason
    v = judge(cv.spike_then_recover(30, spike_at=3, height=1.5))
    assert (v.verdict, "early_spike" in v.flags) == ("converging", True), v.reason


def test_catapult_above_initial_then_converges():
    """The loss first rises to ten times its initial value, then falls to near zero."""
    y = np.concatenate([[1.0, 4.0, 10.0, 3.0], cv.exp_decay(96, start=1.0)])
    v = judge(y)
    assert v.verdict == "converging", v.reason
    assert "early_spike" in v.flags


def test_edge_of_stability_bouncing_on_a_falling_trend_is_a_flag():
    t = np.arange(200)
    y = np.exp(-t / 100) * (1 + 0.1 * (-1.0) ** t)
    v = judge(y)
    assert v.verdict == "converging", v.reason
    assert "edge_of_stability" in v.flags


def test_clean_curves_are_not_flagged_noisy():
    for y in (cv.exp_decay(6), cv.exp_decay(50), cv.inv_t_decay(300)):
        assert "noisy" not in judge(y).flags


# --------------------------------------------------------------------------------------------
# diverging


@pytest.mark.parametrize("lams, frac", [([1.0], 1.01), ([1.0], 1.05), ([4.0, 1.0], 1.02)])
def test_gradient_descent_above_two_over_lambda_diverges(lams, frac):
    lr = frac * 2.0 / max(lams)
    losses, _ = cv.gd_quadratic(lams, lr, 120)
    assert abs(1.0 - lr * max(lams)) > 1.0  # the top coordinate grows geometrically
    v = judge(losses)
    assert v.verdict == "diverging", v.reason


@pytest.mark.parametrize("frac", [1.02, 1.05, 1.2, 1.5])
@pytest.mark.parametrize("lams, x0", [([1.0], [1.0]), ([4.0, 1.0, 0.25], [1.0, 0.3, 0.3])])
def test_geometric_divergence_on_a_quadratic_has_no_spike_and_no_blowup(lams, x0, frac):
    """Gradient descent above 2/lambda_max: the top mode's loss is multiplied by
    (1 - lr lambda_max)^2 > 1 every step and the loss grows at every step. It never recovered,
    so early_spike (rose, then recovered) is wrong; it never made progress, so late_blowup is."""
    lr = frac * 2.0 / max(lams)
    losses, _ = cv.gd_quadratic(lams, lr, 100, x0=x0)
    assert np.all(np.diff(losses) > 0)  # growing at every step, by construction
    v = judge(losses)
    assert v.verdict == "diverging", v.reason
    assert "early_spike" not in v.flags and "late_blowup" not in v.flags, v.flags
    assert v.metrics["spike_epoch"] is None
    v = judge(cv.with_nan_tail(np.r_[losses, np.inf], losses.size))  # overflowed at the end
    assert v.verdict == "diverging" and "early_spike" not in v.flags, (v.flags, v.reason)


def test_spike_at_the_start_that_settles_above_the_initial_loss_did_not_recover():
    """Jumps to 5x the initial loss, comes back down, but settles 30% above where it started:
    diverging (it ends above the start), and the spike never recovered."""
    y = np.r_[1.0, 5.0, 3.0, 1.6, cv.flat(96, 1.3, noise=0.005, seed=2)]
    v = judge(y)
    assert v.verdict == "diverging", v.reason
    assert "early_spike" not in v.flags, v.reason


def test_learns_spikes_and_keeps_most_of_its_progress_is_converging():
    """Falls from 1 to 0.25, spikes to 1.5 at epoch 25, then settles at 0.45 for good: it kept
    (1 - 0.45) / (1 - 0.25) = 73% of its progress, so it did not lose most of it (not
    diverging, no late_blowup); the spike came back from 1.25 above its old low to 0.2 above."""
    y = np.r_[cv.exp_decay(24, floor=0.25, epochs_per_e=5.0), 1.5, 1.0, 0.6]
    y = np.r_[y, 0.45 + 0.02 * np.exp(-np.arange(173) / 10.0)]
    v = judge(y, loss_name="cross_entropy", n_classes=3)
    assert v.verdict == "converging", v.reason
    assert "late_blowup" not in v.flags
    assert "early_spike" in v.flags and v.metrics["spike_epoch"] == 24
    assert "settled at 0.45" in v.reason and "that recovered" not in v.reason  # only partly


def test_geometric_growth_at_the_end_after_progress_is_diverging():
    """Falls to near zero, then starts to grow geometrically (still below the initial loss)."""
    y = cv.exp_decay(100, epochs_per_e=5.0)
    y[80:] = y[80] + 1e-4 * (1.5 ** np.arange(20) - 1.0)  # ends at about 0.22
    assert y[-1] < y[0]
    v = judge(y)
    assert v.verdict == "diverging", v.reason


def test_learns_then_jumps_up_and_stays_is_late_blowup():
    v = judge(cv.learn_then_jump(100, jump_at=60, to=0.8))
    assert v.verdict == "diverging", v.reason
    assert "late_blowup" in v.flags
    assert "stayed" in v.reason


@pytest.mark.parametrize("start", [1, 3, 40, 99])
def test_nan_at_the_end_is_diverging_with_the_right_epoch(start):
    y = cv.with_nan_tail(cv.exp_decay(100), start)
    v = judge(y)
    assert v.verdict == "diverging"
    assert v.metrics["diverged_epoch"] == start
    assert v.metrics["final"] is None
    assert f"epoch {start}" in v.reason


def test_inf_at_the_end_and_all_nan():
    y = cv.exp_decay(30)
    y[-1] = np.inf
    v = judge(y)
    assert (v.verdict, v.metrics["diverged_epoch"]) == ("diverging", 29)
    v = judge([np.nan] * 10)
    assert (v.verdict, v.metrics["diverged_epoch"]) == ("diverging", 0)
    assert v.metrics["min"] is None and v.metrics["initial"] is None


def test_nan_after_progress_flags_late_blowup():
    y = cv.with_nan_tail(cv.exp_decay(100), 70)
    assert "late_blowup" in judge(y).flags
    rising = cv.with_nan_tail(np.exp(np.arange(30) / 3.0), 20)  # never made progress
    assert "late_blowup" not in judge(rising).flags


def test_isolated_nan_in_the_middle_is_missing_not_divergence():
    y = cv.exp_decay(100)
    y[[10, 37, 80]] = np.nan
    y[55] = np.inf
    v = judge(y)
    assert v.verdict == "converging", v.reason
    assert v.metrics["diverged_epoch"] is None
    assert v.metrics["min_epoch"] == 99


def test_rising_from_the_start_is_diverging():
    v = judge(1.0 + 0.01 * np.arange(50))
    assert v.verdict == "diverging", v.reason
    assert "sits above the initial loss" in v.reason


# --------------------------------------------------------------------------------------------
# oscillating


def test_bouncing_between_two_values():
    v = judge(cv.bounce(60))
    assert v.verdict == "oscillating", v.reason
    assert "borderline" not in v.flags
    assert v.metrics["alternation"] == 1.0


def test_gradient_descent_exactly_at_two_over_lambda():
    """At lr = 2/lam the iterate flips between x0 and 2c - x0 forever. On the training quadratic
    the two points have the same loss (the loss is flat: plateaued); on a held-out quadratic with
    another minimum (a validation loss) the loss alternates between two values: oscillating."""
    losses, xs = cv.gd_quadratic([1.0], 2.0, 100, x0=[1.0])
    assert np.allclose(xs[::2, 0], 1.0) and np.allclose(xs[1::2, 0], -1.0)
    assert judge(losses).verdict == "plateaued"

    held, xs = cv.gd_quadratic([1.0, 0.5], 2.0, 100, eval_center=[0.3, 0.0])
    assert len(np.unique(np.round(held[60:], 12))) == 2  # two values, after the 2nd coordinate
    v = judge(held)
    assert v.verdict == "oscillating", v.reason


def test_gradient_descent_period_two_orbit_on_a_bounded_loss():
    """lr = 3 on sqrt(1 + x^2) + 0.3x (curvature 0.87 at the minimum: 2/curvature = 2.3): the
    minimum is unstable, the gradient is bounded, and GD settles on a period-2 orbit."""
    y = cv.gd_tilted_huber(3.0, 200)
    assert abs(y[-1] - y[-3]) < 1e-9 and abs(y[-1] - y[-2]) > 0.1  # period 2, by iteration
    v = judge(y)
    assert v.verdict == "oscillating", v.reason


@pytest.mark.parametrize("r", [3.6, 3.62, 3.65])
@pytest.mark.parametrize("x0", [0.5, 0.7, 0.95])
def test_logistic_map_bounded_chaos_on_two_bands(r, x0):
    """Started inside or above its bands (from below them, every later value would sit above
    the initial one: diverging by rule 1, which comes first)."""
    y = cv.logistic_map(300, r, x0=x0)
    d = np.diff(y[100:])
    assert np.all(d[1:] * d[:-1] < 0)  # by construction every step changes direction
    v = judge(y)
    assert v.verdict == "oscillating", v.reason


def test_bouncing_far_above_the_initial_loss_is_diverging():
    """Rule 1 before rule 2: a loss that jumps from 1 to a bounded cycle between 13 and 52 (as
    a softmax net at lr 100 does) has ended far above where it started."""
    y = np.concatenate([[1.0], np.tile([13.6, 34.7, 51.6], 60)])
    v = judge(y)
    assert v.verdict == "diverging", v.reason
    assert judge(y, loss_name="cross_entropy").verdict == "diverging"
    # a bounded two-band chaotic orbit that starts below its bands never comes back down
    assert judge(cv.logistic_map(300, 3.6, x0=0.2)).verdict == "diverging"


def test_short_bouncing_window_is_borderline():
    v = judge(cv.bounce(10))
    assert v.verdict == "oscillating"
    assert "borderline" in v.flags


# --------------------------------------------------------------------------------------------
# plateaued


@pytest.mark.parametrize("seed", range(5))
def test_flat_at_ln2_is_stuck_at_chance(seed):
    v = judge(cv.flat(100, cv.LN2, noise=1e-4, seed=seed), loss_name="bce")
    assert v.verdict == "plateaued", v.reason
    assert "stuck_at_chance" in v.flags
    assert "ln 2" in v.reason


@pytest.mark.parametrize("start", [None, 2.4, 5.0])
def test_flat_at_ln10_is_stuck_at_chance(start):
    y = cv.flat(200, cv.LN10, noise=1e-4, seed=1, start=start)
    v = judge(y, loss_name="cross_entropy", n_classes=10)
    assert v.verdict == "plateaued", v.reason
    assert "stuck_at_chance" in v.flags
    assert "ln 10" in v.reason
    # the class count alone (loss unknown) also gives the chance level
    assert "stuck_at_chance" in judge(y, n_classes=10).flags
    # another class count: not at chance
    assert "stuck_at_chance" not in judge(y, loss_name="cross_entropy", n_classes=3).flags


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("n", [30, 200, 2000])
def test_sitting_at_ln_k_with_a_rounding_level_creep_is_stuck_at_chance(k, n):
    """ln K minus 1e-14 per epoch: the loss of guessing, changing only in its last digits
    (1e-14 of ln K is float64 rounding of a mean over samples). Its range R is nothing but that
    creep, so a tolerance relative to R calls it falling; relative to ln K it is flat."""
    loss = "bce" if k == 2 else "cross_entropy"
    y = math.log(k) - 1e-14 * np.arange(n)
    v = judge(y, loss_name=loss, n_classes=k)
    assert v.verdict == "plateaued", v.reason
    assert "stuck_at_chance" in v.flags, v.reason


def test_at_ln_k_and_falling_a_little_each_epoch_is_not_stuck_at_chance():
    """ln 3 (1 - 1e-4 t): within 5% of chance after 200 epochs, but falling steadily by 1e-4 of
    ln 3 an epoch, a hundred times a rounding-level creep: not flat, so not stuck."""
    y = math.log(3) * (1.0 - 1e-4 * np.arange(200))
    v = judge(y, loss_name="cross_entropy", n_classes=3)
    assert "stuck_at_chance" not in v.flags, v.reason


def test_flat_with_noise_and_unknown_loss_is_plateaued():
    for seed in range(10):
        v = judge(cv.flat(100, 0.8, noise=0.01, seed=seed))
        assert v.verdict == "plateaued", v.reason


def test_converging_to_a_low_loss_is_not_stuck_at_chance():
    y = cv.exp_decay(100, start=cv.LN2, floor=0.05)
    v = judge(y, loss_name="bce")
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags


@pytest.mark.parametrize("loss_name", ["bce", "cross_entropy", "mse"])
def test_very_slow_linear_decrease_of_one_percent_is_plateaued(loss_name):
    """1% of the way to zero over 200 epochs, for a loss known to be >= 0."""
    v = judge(cv.slow_linear(200, fraction=0.01), loss_name=loss_name, n_classes=5)
    assert v.verdict == "plateaued", v.reason
    v = judge(cv.slow_linear(200, fraction=0.003), loss_name=loss_name, n_classes=5)
    # not "0%": it did move, by about 0.3% (0.29% over the 199 epochs to the final level)
    assert re.search(r"fell by only 0\.(3|29|28)% of its level", v.reason), v.reason
    # the same without a loss name: a loss > 0 is judged on its level all the same
    assert judge(cv.slow_linear(200, fraction=0.01)).verdict == "plateaued"


@pytest.mark.parametrize("seed", range(5))
def test_slow_decrease_buried_in_noise_is_plateaued(seed):
    """A 1% fall with noise of the same size: no progress the curve can show."""
    v = judge(cv.slow_linear(200, fraction=0.01, noise=0.007, seed=seed))
    assert v.verdict == "plateaued", v.reason


def test_constant_curve():
    v = judge([0.5] * 30)
    assert v.verdict == "plateaued"
    assert v.metrics["diverged_epoch"] is None


# --------------------------------------------------------------------------------------------
# flags: overfitting, borderline


def test_overfitting_val_rising_while_train_falls():
    train, val = cv.overfitting_pair(200, turn=60)
    v = judge(val, train_curve=train)
    assert "overfitting" in v.flags, v.reason
    # the same validation curve next to a training curve that does not fall: no overfitting
    v = judge(val, train_curve=np.full(200, 0.3))
    assert "overfitting" not in v.flags
    # a validation curve that keeps falling: no overfitting
    assert "overfitting" not in judge(train * 1.1, train_curve=train).flags


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_curves_shorter_than_five_points_are_borderline(n):
    for y in (cv.exp_decay(max(n, 1))[:n], np.ones(n), cv.bounce(n)):
        v = judge(y)
        assert "borderline" in v.flags
        assert v.metrics["n_points"] == n


def test_borderline_near_the_swing_threshold():
    """Falls from 1 to 0, then bounces +-a: median step 2a against a range of 1 + a. Swings of
    exactly the threshold fraction are borderline; far above (oscillating) or far below
    (converging, edge of stability) they are not."""

    def curve(a):
        return np.concatenate([cv.exp_decay(40, epochs_per_e=4.0), a * (-1.0) ** np.arange(60)])

    th = Thresholds()
    a_edge = th.osc_swing / (2.0 - th.osc_swing)  # 2a = osc_swing * (1 + a)
    assert "borderline" in judge(curve(a_edge)).flags
    v = judge(curve(0.2))
    assert v.verdict == "oscillating" and "borderline" not in v.flags
    v = judge(curve(0.01))  # swings of 2% of the range: below osc_swing, above eos_swing
    assert v.verdict == "converging" and "borderline" not in v.flags
    assert "edge_of_stability" in v.flags


def test_borderline_is_the_first_threshold_whose_move_flips_the_verdict_for_each_thresholds():
    """Against a plain loop written here: classify with each decision threshold moved by
    +-borderline_margin, in turn; borderline is set exactly when one of them changes the
    verdict. Two sets of thresholds alternate, so one set's moves never answer for the other."""
    y = np.concatenate([cv.exp_decay(40, epochs_per_e=4.0), 0.03 * (-1.0) ** np.arange(60)])
    sets = (Thresholds(), Thresholds(borderline_margin=0.05), Thresholds(osc_swing=0.06))
    seen = set()
    for th in (*sets, *sets):
        v = judge(y, th)
        flips = [
            name
            for name in clf._DECISION_FIELDS
            for f in (1.0 - th.borderline_margin, 1.0 + th.borderline_margin)
            if judge(y, dataclasses.replace(th, **{name: getattr(th, name) * f})).verdict
            != v.verdict
        ]
        assert ("borderline" in v.flags) == bool(flips), (th, v.reason)
        if flips:
            assert f"moving {flips[0]} by" in v.reason
        seen.add((v.verdict, bool(flips)))
    assert len(seen) == 3  # the three sets differ: borderline on one is not borderline on all


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, 1.0, 2.5]),
        min_size=1,
        max_size=60,
    ),
    st.lists(st.floats(0.0, 100.0), min_size=1, max_size=5),
)
def test_median_and_percentiles_are_numpys(values, qs):
    """The fast median and percentiles judging reads give NumPy's numbers to the last bit."""
    from lrdiag.classify.measure import _median, _percentiles

    v = np.array(values)
    assert _median(v) == float(np.median(v))
    np.testing.assert_array_equal(_percentiles(v, tuple(qs)), np.percentile(v, qs))
    assert list(v) == values  # the caller's array is left as it was


def test_thresholds_override_changes_the_verdict():
    y = cv.gd_tilted_huber(3.0, 200)  # swings of about 9% of the range
    assert judge(y).verdict == "oscillating"
    assert judge(y, Thresholds(osc_swing=0.2)).verdict == "converging"


# --------------------------------------------------------------------------------------------
# invariance: shifting and scaling (hypothesis)

FAMILIES = {
    "exp": lambda p, s: cv.exp_decay(int(5 + p * 400), noise=0.01 * (s % 3), seed=s),
    "inv_t": lambda p, s: cv.inv_t_decay(int(10 + p * 500)),
    "spike": lambda p, s: cv.spike_then_recover(60 + int(p * 100), spike_at=3 + s % 10),
    "jump": lambda p, s: cv.learn_then_jump(100, jump_at=40 + s % 40, to=0.3 + p),
    "bounce": lambda p, s: cv.bounce(20 + int(p * 100), low=p, high=1.0 + p),
    "logistic": lambda p, s: cv.logistic_map(100 + s, 3.6 + 0.06 * p),
    "flat": lambda p, s: cv.flat(20 + int(p * 300), 0.7, noise=0.01, seed=s),
    "minibatch": lambda p, s: cv.minibatch(500 + int(p * 2000), seed=s, noise=0.02 + 0.1 * p),
    "gd_up": lambda p, s: cv.gd_quadratic([1.0], 2.0 * (1.01 + 0.05 * p), 80)[0],
    "nan_tail": lambda p, s: cv.with_nan_tail(cv.exp_decay(50), 5 + s % 40),
    "huber": lambda p, s: cv.gd_tilted_huber(2.2 + 2.0 * p, 150),
    "noise": lambda p, s: np.random.default_rng(s).standard_normal(5 + int(p * 60)),
}


def _same(a: Verdict, b: Verdict) -> bool:
    return a.verdict == b.verdict and a.flags == b.flags


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=st.sampled_from(sorted(FAMILIES)),
    p=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
    log_scale=st.floats(-4.0, 4.0),
    shift=st.floats(-1000.0, 1000.0),
)
# a short curve that dips below 0: shifted above 0, its rebounds became "unstable" (CI, once)
@example(family="exp", p=0.03125, seed=101, log_scale=0.0, shift=0.0625)
def test_invariant_to_shift_and_positive_scale(family, p, seed, log_scale, shift):
    y = FAMILIES[family](p, seed)
    finite = y[np.isfinite(y)]
    spread = float(np.ptp(finite)) if finite.size else 1.0
    # Scaling: the chance loss found unasked (ln K, chance_round) is the one absolute level.
    unasked_off = Thresholds(chance_round=0.0)
    base = judge(y, unasked_off)
    scaled = judge(y * 10.0**log_scale, unasked_off)
    assert _same(base, scaled), (base.reason, scaled.reason)
    # Shifts of up to 1000 ranges. The rules that judge a loss > 0 on its own level (a rise or
    # fall against the initial loss, swings against the final level, rebounds above the lowest
    # level so far, a level near 0 against the start, ln K) are off here: a shift changes the
    # level, which is their point; they are tested on their own. The geometric rule goes too:
    # for a loss > 0 it also asks for a multiple of the level its rise began from, which an
    # infinite positive_rise blocks rather than lifts, so a shift across 0 would switch it on.
    no_level = Thresholds(
        growth_rate=math.inf,
        positive_rise=math.inf,
        floor_rise=math.inf,
        floor_progress=0.0,
        osc_level=0.0,
        chance_round=0.0,
        ends_above=0.0,
        blowup_rise=0.0,
        rebound_level=0.0,
        osc_floor=0.0,
        plateau_fall=1.0,
    )
    base = classify(y, no_level)
    shifted = classify(y + shift * max(spread, 1e-300), no_level)
    assert _same(base, shifted), (base.reason, shifted.reason)


def test_a_positive_curve_that_ends_far_above_its_start_is_diverging_without_a_loss_name():
    # A real sweep's curve (bce at lr far too high): one step up, then chaotic bouncing high
    # above the start. Its bouncing is so large that the noise test alone cannot see the rise.
    assert classify(RISE_AND_BOUNCE).verdict == "diverging"
    assert classify(RISE_AND_BOUNCE, loss_name="bce").verdict == "diverging"
    # lowered to straddle zero, it has no floor of 0 to rise from: the rule does not apply
    lowered = np.array(RISE_AND_BOUNCE) - 200.0
    off = Thresholds(positive_rise=math.inf)
    assert _same(classify(lowered), classify(lowered, off))


RISE_AND_BOUNCE = [0.677, 47.4, 331.7, 195.7, 104.9, 202.5, 313.2, 167.7, 45.1, 490.7, 246.8]


def test_a_loss_above_its_start_by_a_tenth_of_its_level_is_diverging():
    # Shrink the rise of RISE_AND_BOUNCE about its start by f: the rise against the noise and
    # against the window's spread keeps its ratio (those rules cannot fire), while the rise
    # against the initial loss 0.677 is 4% at f = 0.0001 (no divergence: a loss that moved by a
    # few percent of its level), 36% at f = 0.001, with the final window above the start.
    y0 = RISE_AND_BOUNCE[0]
    for f, expected in ((0.0001, False), (0.001, True)):
        y = y0 + f * (np.array(RISE_AND_BOUNCE) - y0)
        assert (classify(y).verdict == "diverging") is expected, (f, classify(y).reason)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=0, max_size=60
    ),
    power=st.integers(-20, 20),
    nan_at=st.lists(st.integers(0, 59), max_size=5),
)
def test_any_curve_gives_a_valid_verdict_and_exact_power_of_two_scaling(values, power, nan_at):
    y = np.array(values, dtype=float)
    for i in nan_at:
        if i < y.size:
            y[i] = np.nan
    v = judge(y)
    if y.size and not np.isfinite(y[-1]):
        assert v.verdict == "diverging"
    # multiplying by a power of two is exact in floating point, so the verdict must not move
    # (chance_round 0: the chance loss found unasked, ln K, is the one absolute level read)
    # (exact unless a value is subnormal or underflows: Hypothesis found 5e-324 * 2**-20 = 0)
    scaled = y * 2.0**power
    assume(np.array_equal(scaled / 2.0**power, y, equal_nan=True))
    unasked_off = Thresholds(chance_round=0.0)
    assert _same(classify(y, unasked_off), classify(scaled, unasked_off))


# --------------------------------------------------------------------------------------------
# the real Keras logs in ../shared/external_logs (skipped when absent)

EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external_logs"
KERAS_LOSS = {
    "binary_crossentropy": "bce",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
}


def _external():
    if not (EXTERNAL / "labels.csv").is_file():
        pytest.skip(f"no external logs at {EXTERNAL}")
    out = {}
    with open(EXTERNAL / "labels.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            config = json.loads(row["config"]) if row["config"] else {}
            loss_name = KERAS_LOSS.get(config.get("loss"))
            dataset = config.get("dataset", "")
            # classes: MNIST has 10; the blob set has 3 (accuracy starts near 1/3); circle: bce
            k = 10 if dataset == "mnist" else 3 if "blob" in dataset else None
            with open(EXTERNAL / row["file"], newline="") as fh2:
                rows = list(csv.DictReader(fh2))
            cols = {c: np.array([float(r[c]) for r in rows]) for c in ("loss", "val_loss")}
            out[row["file"]] = (cols, loss_name, k)
    return out


def test_external_logs_all_thirty():
    logs = _external()
    assert len(logs) == 30
    got = {}
    for name, (cols, loss_name, k) in logs.items():
        for col in ("loss", "val_loss"):
            train = cols["loss"] if col == "val_loss" else None
            for kw in ({}, {"loss_name": loss_name, "n_classes": k}):
                got[name, col, bool(kw)] = judge(cols[col], train_curve=train, **kw)
    # MNIST: flat at ln 10 for 100 epochs (accuracy ~0.11): plateaued, at chance
    v = got["deepdiagnosis/MNIST_Normal_double_random_99fe3625.csv", "loss", True]
    assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason
    # AUTOTRAINER's vanishing-gradient demo: flat at ln 2 (bce)
    v = got["autotrainer/Gradient_Vanish_Case.csv", "loss", True]
    assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason
    # diffthr_*: the 'normal' models; all but one fall smoothly (or noisily) to a lower loss;
    # 22eb8478 drops in the first epochs and then sits at 1.06 for 120 epochs with accuracy
    # 0.357 on 3 classes, so it is left out here
    for name in logs:
        if "diffthr_" in name and "22eb8478" not in name:
            for col in ("loss", "val_loss"):
                for kw in (False, True):
                    v = got[name, col, kw]
                    assert v.verdict == "converging", (name, col, v.reason)
    # 59282996: ten epochs of noise around 0.83 (training loss): never oscillating/diverging
    for name in logs:
        if name.startswith("deepfd/59282996"):
            v = got[name, "loss", True]
            assert v.verdict == "plateaued", (name, v.reason)
            assert "noisy" in v.flags
    # the one-epoch log and the four-epoch log are borderline
    short = (
        "deepdiagnosis/motivating_31880720_Gradient_Vanish_Case.csv",
        "deepfd/31556268_iter_1.csv",
    )
    for name in short:
        for col in ("loss", "val_loss"):
            assert "borderline" in got[name, col, False].flags


def test_reasons_carry_the_numbers():
    v = judge(cv.with_nan_tail(cv.exp_decay(50) * 3.1e4, 12))
    assert "epoch 12" in v.reason and "last finite" in v.reason
    v = judge(cv.exp_decay(100, start=0.69, floor=0.04))
    assert v.reason.startswith("converging: loss fell from 0.69 to 0.04")
    v = judge(cv.bounce(60))
    assert "100%" in v.reason and "no net progress" in v.reason and "between 0.5 and 1" in v.reason
    v = judge(cv.bounce(60) - 2.0)  # not all > 0: no level to measure it on, only its range
    assert "100%" in v.reason and "no downward trend" in v.reason
    v = judge(cv.flat(200, cv.LN10, noise=1e-4, seed=3), loss_name="cross_entropy", n_classes=10)
    assert "ln 10" in v.reason and "10 classes" in v.reason


def test_a_huge_transient_spike_does_not_hide_the_rest_of_the_curve():
    """Blows up to 1e16 for three epochs, then sits at 1.74 (below the initial 2.34)."""
    y = np.concatenate([[2.34, 1.4e8, 5.1e12, 8.5e15, 1.7316], np.full(196, 1.7376)])
    v = judge(y)
    assert v.verdict == "converging", v.reason
    assert "early_spike" in v.flags


def test_relaxing_onto_chance_is_stuck_and_passing_through_it_is_not():
    """ln 4 + 0.95 exp(-t/60) is what a network learning only its output bias does: it relaxes
    onto the chance loss and never below. After 200 epochs it is 2.5% above chance and still
    falling, but ever more slowly toward ln 4 itself: plateaued at chance (the outside corpus's
    independent labels call such dead networks so). A fall that ends as close to chance but
    heads for 0.8 ln 4, or still falls at full speed (a straight line), passes through chance:
    converging."""
    t = np.arange(800)
    y = math.log(4) + 0.95 * np.exp(-t / 60.0)
    for n in (200, 800):
        v = judge(y[:n], loss_name="cross_entropy", n_classes=4)
        assert v.verdict == "plateaued" and "stuck_at_chance" in v.flags, v.reason
    assert "ever more slowly onto ln 4" in judge(y[:200], n_classes=4).reason
    below = 0.8 * math.log(4) + (2.34 - 0.8 * math.log(4)) * np.exp(-t[:200] / 150.0)
    assert 1.0 < below[-1] / math.log(4) < 1.05  # ends on chance, as the first one does
    v = judge(below, loss_name="cross_entropy", n_classes=4)
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags, v.reason
    line = np.linspace(2.34, 1.02 * math.log(4), 200)
    v = judge(line, loss_name="cross_entropy", n_classes=4)
    assert v.verdict == "converging" and "stuck_at_chance" not in v.flags, v.reason


@pytest.mark.parametrize("seed", range(8))
def test_thousands_of_noisy_steps_around_a_falling_trend_converge(seed):
    """Per-step mini-batch losses: net progress (0.45) under 3 single-step noise std devs
    (0.18 each), but a trend that hundreds of points make plain."""
    t = np.arange(3000)
    rng = np.random.default_rng(seed)
    y = 0.25 + 0.45 * np.exp(-t / 500) + 0.18 * rng.standard_normal(t.size)
    y[0] = 0.70  # the full-data loss at initialisation
    v = judge(y)
    assert v.verdict == "converging", v.reason


@pytest.mark.parametrize("seed", range(8))
def test_thousands_of_noisy_steps_with_no_trend_stay_plateaued(seed):
    y = 0.5 + 0.18 * np.random.default_rng(seed).standard_normal(3000)
    assert judge(y).verdict == "plateaued", judge(y).reason


def test_a_long_per_step_log_is_judged_in_bounded_memory():
    """200,000 per-step losses (a long training log): the rolling median must not copy every
    window at once (that was 200,000 x 4,000 values)."""
    import tracemalloc

    t = np.arange(200_000)
    y = 0.3 + 0.5 * np.exp(-t / 5000) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    tracemalloc.start()
    v = judge(y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert v.verdict == "converging"
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_reason_levels_show_the_change_when_the_range_is_small_next_to_the_loss():
    """A curve that falls from 0.6937 to 0.6931 (a range of 6e-4 at ln 2): the reason's two
    levels must differ, and each must be within a tenth of the range of the true level. (Its
    verdict is plateaued: 0.09% of its level is no progress.)"""
    y = np.array([0.6937, 0.6935, 0.6933, 0.6932, 0.6931, 0.6931, 0.6931, 0.6931, 0.6931, 0.6931])
    v = classify(y)
    assert v.verdict == "plateaued", v.reason
    start, end = (float(x) for x in v.reason.split(" (")[1].split(")")[0].split(" to "))
    assert start != end
    assert abs(start - 0.6937) < 6e-5 and abs(end - 0.6931) < 6e-5, v.reason
    # on an ordinary scale, still three significant digits
    assert classify([1.0, 0.5, 0.25, 0.125, 0.0625, 0.05, 0.05]).reason.startswith(
        "converging: loss fell from 1 to 0.05 "
    )


def test_reason_levels_across_hundreds_of_orders_of_magnitude():
    """A level whose ratio to the range underflows (4.7e-222 next to a range of 1.9e102) is
    still printed: found by hypothesis on a two-point JSON log."""
    v = classify([1.8967617421916347e102, 4.68562407581439e-222])
    assert "1.9e+102" in v.reason and "4.69e-222" in v.reason, v.reason


def test_reason_counts_one_epoch_in_the_singular():
    v = classify([0.5, 0.7])
    assert "the median of the last 1 epoch (0.7)" in v.reason, v.reason
    assert "over 1 epoch;" in classify([0.7, 0.7]).reason  # epoch 0 to epoch 1
    assert "the loss stays at 0.7 at its only point;" in classify([0.7]).reason


def test_reasons_count_the_epochs_a_sweep_trained():
    """A sweep of 100 epochs has 101 values (loss[0] at init): it spans 100 epochs."""
    flat = classify(np.full(101, 0.5))
    assert "over 100 epochs" in flat.reason, flat.reason
    slow = classify(0.68 - 0.003 * np.linspace(0, 1, 101), loss_name="bce")
    assert slow.verdict == "plateaued" and "of its level over 100 epochs" in slow.reason


def test_float32_rounding_jitter_is_constant_not_oscillating():
    """Frameworks log float32: a loss stuck at ln 10 whose epoch means differ only in the last
    bit alternates between neighbouring float32 values. Its range is rounding (one ulp, 1e-7 of
    the value), so by definition the curve is plateaued, stuck at chance for 10 classes."""
    at = np.float32(math.log(10))
    ulp = float(np.spacing(at))
    bounce = np.array([float(at) + ulp * (k % 2) for k in range(60)])
    jitter = float(at) + ulp * np.random.default_rng(0).integers(-2, 3, 60)
    for y in (bounce, jitter):
        v = classify(y, n_classes=10)
        assert (v.verdict, v.flags) == ("plateaued", ("stuck_at_chance",)), v.reason
    # a real fall, 1e-4 of the value over the curve, is still measured: too small to be progress
    v = classify(float(at) * (1 - 1e-4 * np.linspace(0, 1, 60)))
    assert v.verdict == "plateaued" and "fell by only 0.01% of its level" in v.reason, v.reason


# --------------------------------------------------------------------------------------------
# The x-axis: where a log's values were logged (steps, epochs) names positions in the reason


def test_reason_names_the_step_a_spike_was_logged_at():
    """A spike at value 7 of a curve logged every 100 steps from step 0 is at step 700."""
    y = cv.spike_then_recover(100, spike_at=7)
    v = judge(y, x=100.0 * np.arange(100), x_name="step")
    assert v.metrics["spike_epoch"] == 7  # metrics stay indices into the curve
    assert "a transient spike at step 700 that recovered" in v.reason
    assert "epoch" not in v.reason


def test_reason_names_the_step_a_run_became_non_finite_at():
    y = cv.with_nan_tail(cv.exp_decay(50), 42)  # values 42.. are NaN: the 43rd value, step 4200
    v = judge(y, x=100.0 * np.arange(50), x_name="step")
    assert v.metrics["diverged_epoch"] == 42
    assert "non-finite at step 4200 " in v.reason


def test_counts_on_a_step_axis_say_values_and_the_steps_they_span():
    """Steps 0, 10, ..., 1990: the final window of 40 values (20% of 200) spans steps 1600-1990;
    the whole curve spans steps 0-1990, not "199 epochs"."""
    x = 10.0 * np.arange(200)
    v = judge(cv.bounce(200) - 2.0, x=x, x_name="step")
    assert v.verdict == "oscillating"
    assert "over the last 40 values (steps 1600-1990) the loss changed direction" in v.reason
    # on a loss > 0 the reason says how long it has bounced: all 200 values
    v = judge(cv.bounce(200), x=x, x_name="step")
    assert "for the last 200 values (steps 0-1990)" in v.reason, v.reason
    v = judge(cv.flat(200, 1.0, noise=0.01), x=x, x_name="step")
    assert v.verdict == "plateaued"
    assert "net progress over steps 0-1990 " in v.reason
    # up from 1 to 2 for the last 20 values: the final level is the median of the last 20 values
    # (10% of 200), all 2, logged at steps 1800-1990
    v = judge(np.r_[np.full(180, 1.0), np.full(20, 2.0)], x=x, x_name="step")
    assert v.verdict == "diverging"
    assert "the median of the last 20 values (2, steps 1800-1990) sits above" in v.reason


def test_consecutive_epochs_keep_the_epoch_wording():
    """Epochs 0..n-1 (a Keras CSVLogger log) read exactly as the index does; epochs 1..n count
    the same, and name each position one higher."""
    for y in (cv.bounce(60), cv.flat(100, 1.0, noise=0.01), cv.spike_then_recover(100)):
        plain = judge(y)
        assert judge(y, x=np.arange(y.size), x_name="epoch").reason == plain.reason
        said = ("epochs the loss", "epochs, and has bounced for the last")
        assert "over the last" not in plain.reason or any(s in plain.reason for s in said)
    v = judge(cv.spike_then_recover(100, spike_at=7), x=np.arange(1, 101), x_name="epoch")
    assert "spike at epoch 8 " in v.reason
    v = judge(cv.flat(100, 1.0, noise=0.01), x=np.arange(1, 101), x_name="epoch")
    assert "over 99 epochs" in v.reason


def test_fractional_epochs_are_printed_with_a_few_digits():
    x = np.arange(100) / 3.0  # epoch 7/3 = 2.333...
    v = judge(cv.spike_then_recover(100, spike_at=7), x=x, x_name="epoch")
    assert "a transient spike at epoch 2.333 that recovered" in v.reason
    v = judge(cv.flat(100, 1.0, noise=0.01), x=x + 1000.0, x_name="epoch")
    assert "over epochs 1000-1033 " in v.reason  # whole ones without ".0"


def test_the_axis_changes_the_wording_only():
    """Verdict, flags and metrics are the same with any axis, on every kind of curve."""
    shapes = [
        cv.exp_decay(100, noise=0.05),
        cv.bounce(60),
        cv.spike_then_recover(100),
        cv.learn_then_jump(100),
        cv.with_nan_tail(cv.exp_decay(100), 70),
        cv.flat(100, math.log(2), noise=1e-4),
        cv.minibatch(1500, seed=3),
        np.array([1.0, 0.5]),
    ]
    for y in shapes:
        plain = judge(y, loss_name="bce")
        for x, name in ((50.0 * np.arange(y.size) + 7, "step"), (np.arange(y.size) / 4, "epoch")):
            v = judge(y, loss_name="bce", x=x, x_name=name)
            assert (v.verdict, v.flags, v.metrics) == (plain.verdict, plain.flags, plain.metrics)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.arange(5), "one position per value: 5 for 6 values"),
        ([0, 1, 2, 2, 3, 4], "strictly increasing"),
        ([0, 1, 2, np.nan, 3, 4], "finite"),
    ],
)
def test_a_bad_axis_is_an_error(x, match):
    with pytest.raises(ValueError, match=match):
        classify(np.linspace(1, 0.5, 6), x=x, x_name="step")
    with pytest.raises(ValueError, match="x_name"):
        classify(np.linspace(1, 0.5, 6), x_name="")


def test_a_loss_ending_at_several_times_its_start_is_diverging_whatever_its_spike():
    """A real sweep run (tanh_spike at lr 30, scale 3): 1.64 at init, a spike to ~170, then
    bouncing between ~3 and ~20 (a few ~100s) to the end, never back down to the start. The
    spike makes the range so large that the final median, 7x the start, is under 10% of it;
    by definition the loss ended above where it started, far beyond noise on a log scale."""
    rng = np.random.default_rng(0)
    tail = np.where(np.arange(190) % 2 == 0, 12.0, 5.5) * np.exp(rng.normal(0, 0.3, 190))
    tail[rng.choice(190, 6, replace=False)] = 100.0
    y = np.concatenate([[1.64, 21.7, 35.3, 174.1, 151.6, 201.9, 124.7, 142.7, 112.3, 192.8], tail])
    v = classify(y)
    assert v.verdict == "diverging", v.reason
    assert "times the initial loss 1.64" in v.reason and "sit above it" in v.reason, v.reason
    # the same shape ending at 1.5x the start, or with the final window dipping below the start
    # more than now and then (5% of its points), is not this rule's (ended less than double, or
    # came back down); one dip is not coming back, and the reason counts the points above
    assert "times the initial loss" not in classify(np.concatenate([y[:10], tail / 8])).reason
    dipped = y.copy()
    dipped[-3] = 1.0
    assert "and 39 of the last 40 epochs sit above it" in classify(dipped).reason
    dipped[-9:-3] = 1.0
    assert "times the initial loss" not in classify(dipped).reason


def test_a_run_that_ends_above_its_start_never_recovered_from_its_spike():
    """1.0 at init, down to 0.8, a spike to 50, then bouncing (sd ~0.5) around 1.3 to the end:
    above where it started, so not 'rose, then recovered', however noisy the end is (the
    definition: a run that ends above where it started has not recovered)."""
    rng = np.random.default_rng(1)
    end = 1.3 + 0.5 * np.where(np.arange(54) % 2 == 0, 1.0, -1.0) * rng.uniform(0.5, 1.0, 54)
    y = np.concatenate([[1.0, 0.9, 0.8, 50.0, 30.0, 10.0], end])
    assert np.median(y[-10:]) > y[0]
    v = classify(y)
    assert "early_spike" not in v.flags, (v.verdict, v.flags, v.reason)


def test_a_curve_near_the_float64_limit_gets_a_reason():
    """Found by Hypothesis: values near -1.8e308 / 2 make the range's ratios overflow; the
    reason says the share could not be computed instead of failing."""
    v = classify([-8.98846567431158e307, 0.0, -8.988465674311579e307])
    assert v.verdict in ("oscillating", "plateaued", "converging", "diverging")
    assert "None" not in v.reason and "nan" not in v.reason


def test_an_oscillating_reason_names_a_drift_instead_of_no_progress():
    """A period-2 bounce of +-0.3 whose level drifts down 0.005 a step: over the final window
    of 20 it falls 0.1, more than 5% of its level and less than it swings (oscillating), so the
    reason must not say "no net progress". A period-2 bounce about a fixed level has none, and
    says so."""
    t = np.arange(60)
    y = 1.2 - 0.005 * t + 0.3 * (-1.0) ** t
    pairs = (y[-20:][1:] + y[-20:][:-1]) / 2  # the final window's pair means: the bounce gone
    assert pairs[0] - pairs[-1] > 0.05 * np.median(y[-20:])
    v = judge(y)
    assert v.verdict == "oscillating", v.reason
    assert "no net progress" not in v.reason and "drifting down by" in v.reason, v.reason
    v = judge(1.0 + 0.3 * (-1.0) ** t)
    assert v.verdict == "oscillating" and "with no net progress" in v.reason, v.reason


def test_a_rise_to_the_last_epoch_is_not_said_to_have_stayed():
    """Down from 1 to 0.3 by epoch 10, then up 0.018 an epoch to the end (0.84): the reason may
    not say the loss "stayed there". Capped at 0.7 from epoch 18 on, it did."""
    t = np.arange(41.0)
    rising = np.where(t <= 10, 1.0 - 0.07 * t, 0.3 + 0.018 * (t - 10))
    assert np.all(np.diff(rising[10:]) > 0)  # rising at every epoch to the last
    v = judge(rising)
    assert v.verdict == "diverging", v.reason
    assert "is still rising" in v.reason and "stayed there" not in v.reason, v.reason
    capped = np.where(t <= 10, 1.0 - 0.07 * t, np.minimum(0.3 + 0.05 * (t - 10), 0.7))
    v = judge(capped)
    assert v.verdict == "diverging" and "stayed there" in v.reason, v.reason
