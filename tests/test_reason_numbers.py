"""The numbers a reason quotes are true of the stretch of curve it says they describe: each is
recomputed here from the curve with NumPy and compared with the sentence."""

from __future__ import annotations

import re

import curves as cv
import numpy as np
import pytest

from lrdiag.classify import classify


def _decaying_bounce() -> np.ndarray:
    """A fall from 2 to 0.15, then a bounce about 0.15 at every step whose amplitude shrinks
    from 0.12 to 0.05 over 180 epochs: the last tenth bounces far less than the stretch
    before it (what lr 3 does in the tutorial's extended grid)."""
    fall = 0.15 + 1.85 * np.exp(-np.arange(20) / 4.0)
    k = np.arange(180)
    amplitude = 0.12 - 0.07 * k / 179
    return np.r_[fall, 0.15 + amplitude * (-1.0) ** k]


def test_an_oscillations_range_is_said_of_the_stretch_it_was_measured_on():
    y = _decaying_bounce()
    v = classify(y, loss_name="bce")
    assert v.verdict == "oscillating", v.reason
    m = re.search(
        r"bounces between (\S+) and (\S+) \(.*?\) .*? over the last (\d+) epochs", v.reason
    )
    assert m, v.reason
    low, high, n = float(m.group(1)), float(m.group(2)), int(m.group(3))
    p5, p95 = np.percentile(y[-n:], [5, 95])
    assert low == float(f"{p5:.3g}") and high == float(f"{p95:.3g}"), (v.reason, p5, p95)
    # the bouncing it says began earlier went well past that range: not claimed of it
    span = re.search(r"has bounced for the last (\d+) epochs", v.reason)
    assert span, v.reason
    longer = int(span.group(1))
    assert longer > n
    assert y[-longer:].max() > 1.2 * high  # so "between low and high" would be false of it


def test_a_steady_bounce_holds_its_range_over_the_whole_stretch():
    """A bounce of constant height: the range of the final window is the range of every epoch
    of the bouncing the reason names."""
    k = np.arange(40)
    y = np.r_[1.0, 0.8, 0.6, 0.5 + 0.2 * (-1.0) ** k]
    v = classify(y, loss_name="bce")
    assert v.verdict == "oscillating", v.reason
    m = re.search(r"bounces between (\S+) and (\S+) .*? the last (\d+) epochs", v.reason)
    assert m, v.reason
    low, high = float(m.group(1)), float(m.group(2))
    longest = max(int(n) for n in re.findall(r"the last (\d+) epochs", v.reason))
    assert (low, high) == (0.3, 0.7)
    assert low <= y[-longest:].min() and y[-longest:].max() <= high


def test_a_rise_above_the_initial_loss_names_the_range_it_is_a_share_of():
    """After a spike to 230 the loss settles near 40: the share quoted is of the range from the
    curve's minimum to the final window's peak (R), not to the spike, and the reason says
    which, so that a reader recomputing it from the curve gets the same number."""
    rng = np.random.default_rng(0)
    y = np.r_[0.7, 0.6, 5.0, 60.0, 230.0, 120.0, 40 + 20 * rng.standard_normal(95).clip(-1.5, 1.5)]
    v = classify(y)
    assert v.verdict == "diverging", v.reason
    m = re.search(
        r"the last (\d+) epochs \((\S+)\) sits above the initial loss (\S+) by (\d+)% of the "
        r"curve's range \((\S+) to (\S+)\)",
        v.reason,
    )
    assert m, v.reason
    n, level, initial, pct, low, high = m.groups()
    window = v.metrics["window"]
    assert float(low) == float(f"{y.min():.3g}")
    assert float(high) == float(f"{y[-window:].max():.3g}")
    assert float(high) < 0.5 * y.max()  # not the spike's
    assert float(level) == float(f"{np.median(y[-int(n) :]):.3g}")
    share = (np.median(y[-int(n) :]) - y[0]) / (y[-window:].max() - y.min())
    assert int(pct) == round(100 * share)
    assert float(initial) == y[0]


def test_a_rise_within_the_noise_is_not_called_progress():
    """A noisy flat loss (as the DeepFD subject 59282996 log: 0.829 to 0.832 in 9 epochs) is
    plateaued within the noise, whichever way it drifted; the reason calls the change a rise
    when the level it quotes last is above the one it quotes first, progress otherwise."""
    rng = np.random.default_rng(3)
    y = 0.83 + 0.004 * rng.standard_normal(40)
    seen = set()
    for start in (0.822, 0.829):  # below the end's level, then above it
        curve = np.r_[start, y[1:]]
        v = classify(curve)
        m = re.search(
            r"plateaued: (a net rise|net progress) over 39 epochs \((\S+) to (\S+)\)", v.reason
        )
        assert m, v.reason
        first, last = float(m.group(2)), float(m.group(3))
        assert (m.group(1) == "a net rise") == (last > first), v.reason
        assert abs(last - np.median(curve[-4:])) < 0.01  # the end's level, not a spike
        seen.add(m.group(1))
    assert seen == {"a net rise", "net progress"}


@pytest.mark.parametrize("lr_over_edge", [1.005, 1.01, 1.05])
def test_a_blowup_past_the_edge_names_its_growth_per_step(lr_over_edge):
    """Gradient descent on a quadratic past lr = 2/lam_max: the top component's error is
    multiplied by (lr lam - 1) each step, so the loss grows by (lr lam - 1)^2 per step once
    the others have died out. Above its start by a share of a range the growth itself sets, the
    loss is still growing: the reason says so, with that factor (computed here, not read)."""
    lams = [1.0, 0.1, 0.01]
    lr = 2.0 * lr_over_edge
    losses, _ = cv.gd_quadratic(lams, lr, 300)
    v = classify(losses, full_batch=True)
    assert v.verdict == "diverging", v.reason
    m = re.search(
        r"still growing geometrically\D*each of its last \d+ increases about (\S+)x", v.reason
    )
    assert m, v.reason
    assert float(m.group(1)) == pytest.approx((lr * lams[0] - 1.0) ** 2, rel=5e-3)


def test_a_jump_that_then_holds_stayed_there_and_the_multiple_of_the_start_is_true():
    """1e4 (0.1 + e^(-t/5)) for 30 epochs, then 8000 for the last ten: it jumped and held,
    so the reason says it "stayed there", not "is still rising". A rise above the start names
    its multiple of the start, recomputed here from the median it quotes."""
    y = 1e4 * (0.1 + np.exp(-np.arange(40) / 5.0))
    y[30:] = 8000.0
    v = classify(y)
    assert v.verdict == "diverging" and "stayed there" in v.reason, v.reason
    assert "still rising" not in v.reason
    rng = np.random.default_rng(1)
    up = np.r_[0.7, 0.65, 3.0 + 0.3 * rng.standard_normal(98)]
    v = classify(up)
    m = re.search(r"the last (\d+) epochs \((\S+)\) sits above the initial loss (\S+) by", v.reason)
    assert m, v.reason
    ratio = np.median(up[-int(m.group(1)) :]) / up[0]
    t = re.search(r", (\S+) times its start", v.reason)
    assert t and float(t.group(1)) == float(f"{ratio:.3g}"), v.reason


def test_a_short_curve_that_gained_nothing_is_not_said_to_have_gained():
    """The issue's ten epochs of a Keras val_loss (619 ... 785) end above their start: the
    reason says so, not "by more than all it gained"."""
    v = classify([619, 618, 847, 688, 693, 685, 641, 657, 739, 785])
    assert v.verdict == "oscillating", v.reason
    assert "ends no lower than its start, 619" in v.reason and "gained" not in v.reason


def test_an_alternating_bounce_is_said_to_ride_a_fall_only_when_the_window_falls():
    """0.5 + 2 e^(-t/15) + 0.015 (-1)^t: by the final window the fall is over and a +-3%
    bounce alternates about 0.5: the reason says "about a flat level, by +-3% of it", not "on
    a falling trend"; a bounce on a loss still falling across its final window says it."""
    t = np.arange(300)
    v = classify(0.5 + 2 * np.exp(-t / 15) + 0.015 * (-1.0) ** t)
    assert "edge_of_stability" in v.flags, v.reason
    assert "about a flat level, by ±3% of it" in v.reason and "falling trend" not in v.reason
    v = classify((0.2 + 2 * np.exp(-t / 100)) * (1 + 0.03 * (-1.0) ** t))
    assert "edge_of_stability" in v.flags and "on a falling trend" in v.reason, v.reason


def test_the_bouncing_is_said_to_start_where_the_steady_fall_into_it_ends():
    """0.8 down to 0.35 in a straight line over 50 steps, then swings of +-0.2 about 0.4 (a
    smoothed random wander) for 1,050 steps: the reason's "has bounced for the last N" counts
    the swings, not the fall into them (it said 1,098)."""
    rng = np.random.default_rng(7)
    kernel = np.exp(-0.5 * (np.arange(-12, 13) / 4.0) ** 2)
    wander = np.convolve(rng.standard_normal(1100 + 24), kernel / kernel.sum(), "valid")
    t = np.arange(1100)
    y = np.where(t < 50, 0.8 - 0.45 * t / 50, np.clip(0.4 + 0.12 * wander / wander.std(), 0.2, 0.6))
    v = classify(y)
    assert v.verdict == "oscillating", v.reason
    m = re.search(r"has bounced for the last (\d+) epochs", v.reason)
    assert m, v.reason
    assert 1040 <= int(m.group(1)) <= 1051, v.reason  # from the fall's last point at most


def test_an_oscillating_reason_says_when_the_curve_ends_falling_to_its_lowest():
    """1.0, then 33 epochs bouncing between 3 and 13, then a fall to 0.05 over its last 6
    points (issue 11's class 5, short): oscillating and converging are both defensible, so an
    oscillating reason says how the curve ends, with the numbers recounted here."""
    y = np.r_[1.0, 8.0 + 5.0 * (-1.0) ** np.arange(1, 34), np.geomspace(1.0, 0.05, 6)]
    v = classify(y)
    assert v.verdict in ("oscillating", "converging"), v.reason
    if v.verdict == "oscillating":
        steps = 0
        while y[-1 - steps - 1] > y[-1 - steps]:
            steps += 1
        assert y[-1] == y.min()
        assert f"it ends falling, for its last {steps} epochs, to its lowest value yet, 0.05" in (
            v.reason
        ), v.reason
    # a bounce that ends on an upswing says nothing of the kind
    assert "ends falling" not in classify(1.0 + 0.3 * (-1.0) ** np.arange(60)).reason


def test_a_last_value_far_from_the_final_level_is_named():
    """An early-stopping run that restored its best weights logs its best again last: 2 down
    to 0.6 by epoch 40, up to 0.98 by epoch 59, then 0.609. The final level (the median of the
    last points) is 0.93; the reason names the last value too. A last value near the final
    level is not named."""
    e = np.arange(60)
    y = np.where(e <= 40, 0.6 + 1.4 * np.exp(-e / 8.0), 0.6 + 0.02 * (e - 40))
    y = np.r_[y, 0.609]
    v = classify(y)
    assert "its last value is 0.609" in v.reason, v.reason
    assert abs(np.median(y[-6:]) - 0.609) > 0.1 * 0.609  # far from the last points' median
    smooth = 0.6 + 1.4 * np.exp(-np.arange(61) / 8.0)
    assert "its last value" not in classify(smooth).reason
