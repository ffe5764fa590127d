"""The LR range test (lrdiag.find) against independent computations.

* the ramp, the smoothing and the stop rule against loops written here from fastai's code;
* the suggestions against a line-by-line transcription of fastai's ``SuggestionMethod``s
  (``fastai/callback/schedule.py``) on random curves, and on curves whose answer is known in
  closed form;
* on linear regression, whose loss is a quadratic, the whole test against plain gradient
  descent written here, and the suggestions against the exact limit 2 / lambda_max (lambda_max
  of the data's Hessian, from numpy.linalg);
* all seeds at once equal one seed at a time, and a run that stops does not stop the others.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lrdiag import find
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset

# --------------------------------------------------------------------------- fastai, transcribed
# fastai/callback/schedule.py, the suggestion functions as fastai writes them (lists and loops).


def fastai_valley(lrs, losses):
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def fastai_slide(lrs, losses, lr_diff=15, thresh=0.005, adjust_value=1.0):
    loss_grad = np.gradient(losses)
    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while (l_idx >= -len(losses)) and (abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh):
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1
    return float(local_min_lr) * adjust_value


def fastai_minimum(lrs, losses):
    return float(lrs[int(np.argmin(losses))]) / 10


def fastai_steep(lrs, losses):
    grads = [
        (losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i]))
        for i in range(len(lrs) - 1)
    ]
    return float(lrs[min(range(len(grads)), key=lambda i: (grads[i], i))])


FASTAI = {
    "steep": fastai_steep,
    "valley": fastai_valley,
    "minimum": fastai_minimum,
    "slide": fastai_slide,
}


def random_curve(rng, n):
    """A range-test-like curve: flat, a fall of random depth and place, noise, a rise."""
    x = np.linspace(0, 1, n)
    fall = rng.uniform(0.2, 0.8)
    y = 1.0 - rng.uniform(0.3, 0.9) / (1 + np.exp(-(x - fall) * rng.uniform(10, 60)))
    y += np.where(x > fall + 0.2, rng.uniform(0, 5) * (x - fall - 0.2) ** 2, 0.0)
    return y + rng.normal(0, rng.choice([0.0, 0.002, 0.02]), n)


@pytest.mark.parametrize("name", find.METHODS)
def test_suggestions_equal_fastai_transcription_on_random_curves(name):
    rng = np.random.default_rng(11)
    for _ in range(60):
        n = int(rng.integers(16, 120))
        lrs = find.ramp(1e-7, 10.0, n)
        y = random_curve(rng, n)
        assert find.SUGGESTIONS[name](lrs, y) == FASTAI[name](lrs, y)


def test_valley_follows_fastai_where_nothing_decreases_and_on_ties():
    """Nothing decreases in [1, 1, 4]: fastai's start stays 0 and the valley is the first point
    (``end - lds[end]`` would be -1, the last); ties are not decreases."""
    x = np.array([1.0, 2.0, 3.0])
    assert find.valley(x, np.array([1.0, 1.0, 4.0])) == fastai_valley(x, [1.0, 1.0, 4.0]) == 1.0
    rng = np.random.default_rng(3)
    for _ in range(300):  # integer-valued curves: ties everywhere
        y = rng.integers(0, 6, int(rng.integers(1, 30))).astype(float)
        x = np.arange(1, len(y) + 1, dtype=float)
        assert find.valley(x, y) == fastai_valley(x, y)


LRS = find.ramp(1e-7, 10.0, 100)


def test_steep_is_the_segment_where_a_tanh_in_log_lr_is_centred():
    """loss = -tanh(log lr - log c), c midway (in log) between lrs[40] and lrs[41]: the steepest
    forward difference is that segment, and steep names its left end."""
    c = math.sqrt(LRS[40] * LRS[41])
    assert find.steep(LRS, -np.tanh(np.log(LRS) - math.log(c))) == LRS[40]


def test_minimum_is_a_tenth_of_the_lowest_point_of_a_parabola_in_log_lr():
    assert find.minimum(LRS, (np.log(LRS) - math.log(LRS[63])) ** 2) == LRS[63] / 10


def test_valley_of_one_decreasing_run_is_a_third_plus_a_sixth_along():
    """Low and rising up to a, decreasing from a to b, above everything after: the longest
    decreasing run is a..b (L = b - a + 1 points), fastai's start is a - 1, so the valley is at
    a - 1 + floor(L / 3) + floor(L / 6)."""
    a, b = 20, 79
    y = np.concatenate([np.linspace(0, 1, a), np.linspace(10, 2, b - a + 1), np.full(20, 50.0)])
    y[b + 1 :] += np.arange(20)
    L = b - a + 1
    assert find.valley(LRS, y) == LRS[a - 1 + L // 3 + L // 6]


def test_slide_stops_where_the_gradients_at_both_ends_agree():
    """Flat (gradient 0) then a line of slope 0.1 over the last 10 points: the window slides
    left until its right end leaves the slope's region (np.gradient is 0 up to index m - 1 and
    0.05 at m); its left end then is m - 1 - 15, and the suggestion the point right of it."""
    m, n = 90, 100
    y = np.where(np.arange(n) < m, 0.0, 0.1 * (np.arange(n) - m))
    assert find.slide(LRS, y) == LRS[m - 1 - 15 + 1]


def test_too_short_windows_suggest_nothing():
    assert find.steep(LRS[:1], np.ones(1)) is None
    assert find.slide(LRS[:15], np.arange(15.0)) is None
    assert find.valley(LRS[:0], np.ones(0)) is None and find.minimum(LRS[:0], np.ones(0)) is None


# --------------------------------------------------------------------------- ramp and smoothing


def test_ramp_is_fastais_exponential_schedule():
    lrs = find.ramp(1e-7, 10.0, 100)
    expected = [1e-7 * (10.0 / 1e-7) ** (i / 100) for i in range(100)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-13)
    assert lrs[0] == 1e-7 and lrs[-1] < 10.0  # fastai stops one step short of end_lr


def test_smoothing_is_the_bias_corrected_moving_average():
    rng = np.random.default_rng(0)
    losses = rng.uniform(0.1, 2.0, (3, 50))
    losses[2, 30] = np.nan
    got = find.smooth(losses, 0.98)
    for r in range(3):
        val = 0.0
        for i in range(50):
            val = 0.98 * val + 0.02 * losses[r, i]
            if np.isnan(val):
                assert np.isnan(got[r, i:]).all()
                break
            assert got[r, i] == pytest.approx(val / (1 - 0.98 ** (i + 1)), rel=1e-12)


def test_window_drops_the_first_tenth_the_last_five_and_everything_from_a_nan():
    lrs = np.arange(1.0, 101.0)
    y = np.arange(100.0)
    x, w = find.window(lrs, y, 100, 100)
    assert x[0] == 11.0 and x[-1] == 95.0 and np.array_equal(w, y[10:95])
    y[50] = np.nan
    x, w = find.window(lrs, y, 100, 100)
    assert x[-1] == 50.0 and len(w) == 40
    x, w = find.window(lrs, y, 30, 100)  # stopped at step 29: points 10..24
    assert x[0] == 11.0 and x[-1] == 25.0


# --------------------------------------------------------------------------- linear regression


def linreg(seeds=(0, 1, 2), **find_options):
    cfg = config_from_dict(
        {
            "data": {"kind": "linear", "n_samples": 200, "n_features": 5, "noise": 0.1},
            "model": {"hidden": [], "output": "identity", "loss": "mse"},
            "training": {"epochs": 60, "seeds": list(seeds), "dtype": "float64"},
            "find": find_options,
        }
    )
    return cfg, load_dataset(cfg.data, cfg.model)


def exact_limit(dataset) -> float:
    """2 / lambda_max of mean((X w + b - y)^2): its Hessian is (2/n) [X 1]^T [X 1]."""
    Xt = np.column_stack([dataset.X, np.ones(len(dataset.X))])
    return 2.0 / float(np.linalg.eigvalsh(2.0 / len(Xt) * Xt.T @ Xt).max())


def test_range_test_on_linear_regression_is_gradient_descent_on_the_ramp():
    """Each recorded loss is plain GD's, written here: w <- w - lr_i (2/n) X~^T (X~ w - y), the
    loss at step i taken before the step with lr_i; and the run stops at the first step whose
    smoothed loss is over 4 x the best so far."""
    from lrdiag import model

    cfg, ds = linreg(seeds=(0,))
    test = find.range_test(cfg, ds)
    Xt = np.column_stack([ds.X, np.ones(len(ds.X))])
    y = ds.Y[:, 0]
    p0 = model.init_params([5, 1], "normal", [1.0], [0], np.float64)
    w = np.concatenate([p0["W1"][0, :, 0], p0["b1"][0, 0]])
    lrs = [1e-7 * (1e8) ** (i / 100) for i in range(100)]
    losses, val, best, stop = [], 0.0, math.inf, None
    for i, lr in enumerate(lrs):
        r = Xt @ w - y
        losses.append(np.mean(r * r))
        val = 0.98 * val + 0.02 * losses[-1]
        s = val / (1 - 0.98 ** (i + 1))
        best = min(best, s)
        if s > 4 * best:
            stop = i
            break
        w = w - lr * 2.0 / len(y) * (Xt.T @ r)
    assert stop is not None and test.stopped[0] == stop and test.reason[0] == "diverged"
    np.testing.assert_allclose(test.loss[0, : stop + 1], losses, rtol=1e-9)
    assert np.isnan(test.loss[0, stop + 1 :]).all()


def test_suggestions_on_linear_regression_sit_below_the_exact_limit():
    cfg, ds = linreg()
    limit = exact_limit(ds)
    doc, sweep_doc = find.run(cfg, ds)
    for row in doc["runs"]:
        assert row["critical_lr"] == pytest.approx(limit, rel=1e-4)
        for name, lr in row["suggestions"].items():
            assert lr is not None and lr < limit, (name, lr, limit)
        assert row["stop_lr"] > limit  # the ramp went past the limit before it stopped
    (scale,) = doc["per_scale"]
    assert scale["critical_lr"] == pytest.approx(limit, rel=1e-4)
    lo, hi = scale["bracket"]
    assert lo < limit < hi  # the short sweep measured the limit
    assert scale["largest_converging_lr"] == lo
    assert sweep_doc["summary"]["per_scale"][0]["bracket"] == [lo, hi]
    assert doc["sweep"]["learning_rates"] == sweep_doc["config"]["sweep"]["learning_rates"]


# --------------------------------------------------------------------------- the run axis


def mlp(seeds, scales=(1.0,), dtype="float64", **training):
    cfg = config_from_dict(
        {
            "data": {"kind": "moons", "n_samples": 128},
            "model": {"hidden": [16], "activation": "tanh"},
            "init": {"scales": list(scales)},
            "training": {"seeds": list(seeds), "dtype": dtype, **training},
            "find": {"steps": 60, "max": 1000.0},
        }
    )
    return cfg, load_dataset(cfg.data, cfg.model)


@pytest.mark.parametrize(
    "training",
    [
        {},
        {"batch_size": 32},
        {"optimizer": "momentum", "momentum": 0.9},
        {"optimizer": "adam"},
        {"optimizer": "adamw", "weight_decay": 0.01, "clip_grad_norm": 0.5, "batch_size": 32},
    ],
)
def test_all_runs_at_once_equal_one_at_a_time(training):
    """Seeds x two init scales at once, against each (scale, seed) alone: the same curves and
    stops; the runs stop at different steps, so a stopped run is masked, not stopping others."""
    cfg, ds = mlp((0, 1, 2), scales=(1.0, 8.0), **training)
    test = find.range_test(cfg, ds)
    assert len(set(test.stopped.tolist())) > 1, "the runs should stop at different steps"
    for r in range(len(test.seeds)):
        one = dataclasses.replace(
            cfg,
            init=dataclasses.replace(cfg.init, scales=(float(test.scales[r]),)),
            training=dataclasses.replace(cfg.training, seeds=(int(test.seeds[r]),)),
        )
        alone = find.range_test(one, ds)
        assert alone.stopped[0] == test.stopped[r] and alone.reason[0] == test.reason[r]
        np.testing.assert_allclose(alone.loss[0], test.loss[r], rtol=1e-10, equal_nan=True)
        np.testing.assert_allclose(alone.smoothed[0], test.smoothed[r], rtol=1e-10, equal_nan=True)


def test_recorded_smoothing_and_stop_follow_fastai_on_the_recorded_losses():
    cfg, ds = mlp((0, 1), batch_size=16)
    test = find.range_test(cfg, ds)
    for r in range(2):
        n = test.recorded(r)
        np.testing.assert_allclose(
            test.smoothed[r, :n], find.smooth(test.loss[r : r + 1, :n], 0.98)[0], rtol=1e-12
        )
        s = test.smoothed[r, :n]
        over = [i for i in range(n) if s[i] > 4 * np.min(s[: i + 1])]
        assert (over[0] if over else -1) == test.stopped[r]


def test_a_run_that_overflows_stops_as_not_finite_and_the_others_go_on():
    """float32 linear regression with init scale 1e20: its squared error overflows at once;
    the scale-1 run goes on as if alone."""
    cfg, ds = linreg(seeds=(0,), max=1e-3)
    training = dataclasses.replace(cfg.training, dtype="float32")
    cfg = dataclasses.replace(
        cfg, training=training, init=dataclasses.replace(cfg.init, scales=(1.0, 1e20))
    )
    test = find.range_test(cfg, ds)
    assert test.reason[1] == "not_finite" and test.stopped[1] == 0
    assert np.isnan(test.smoothed[1]).all()
    assert test.stopped[0] == -1 and np.isfinite(test.smoothed[0]).all()
    alone = find.range_test(
        dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, scales=(1.0,))), ds
    )
    np.testing.assert_array_equal(alone.smoothed[0], test.smoothed[0])


def test_stop_factor_null_runs_the_whole_ramp():
    """The same run stops at step 98 with the 4 x rule (test above); without it, it goes to the
    end of the ramp, its loss blowing up but finite in float64."""
    cfg, ds = linreg(seeds=(0,), stop_factor=None)
    test = find.range_test(cfg, ds)
    assert test.reason[0] is None and test.stopped[0] == -1 and test.recorded(0) == 100
    assert np.isfinite(test.smoothed[0]).all() and test.smoothed[0, -1] > 4 * test.smoothed[0, 0]


def test_sweep_grid_is_aligned_to_powers_of_ten_and_covers_the_margin():
    grid = find.sweep_grid([0.02, 0.3], margin=3.0, per_decade=5)
    assert grid[0] <= 0.02 / 3 and grid[-1] >= 0.3 * 3
    assert 0.01 in grid and 0.1 in grid and 1.0 in grid
    ratios = np.diff(np.log10(grid))
    np.testing.assert_allclose(ratios, 0.2, atol=2e-3)


def test_mini_batches_that_do_not_divide_the_steps_run_the_whole_ramp():
    """128 samples in batches of 48 (3 a epoch, the last of 32), 20 steps: 7 epochs are begun,
    the ramp ends after its 20th batch; the first epoch's batches are the sweep's order."""
    from lrdiag.sweep import epoch_orders

    cfg, ds = mlp((0,), batch_size=48)
    cfg = dataclasses.replace(cfg, find=dataclasses.replace(cfg.find, steps=20, max=1e-3))
    test = find.range_test(cfg, ds)
    assert test.stopped[0] == -1 and np.isfinite(test.loss[0]).all()
    batches = list(find._batches(ds.X, ds.Y, cfg, 20))
    assert len(batches) >= 20 and [len(b[0]) for b in batches[:4]] == [48, 48, 32, 48]
    first = next(epoch_orders(len(ds.X), 1, cfg.data.seed))
    np.testing.assert_array_equal(batches[0][0], ds.X[first[:48]])


@pytest.mark.parametrize(
    "optimizer, momentum, factor",
    [("momentum", 0.9, 2 * 1.9), ("nesterov", 0.5, 2 * 1.5 / 2.0)],
)
def test_the_limit_at_init_is_the_optimizers_on_the_quadratic(optimizer, momentum, factor):
    """Heavy ball: 2 (1 + beta) / lambda_max; Nesterov: 2 (1 + beta) / (1 + 2 beta) / lambda_max,
    lambda_max from numpy.linalg here."""
    cfg, ds = linreg(seeds=(0,))
    training = dataclasses.replace(cfg.training, optimizer=optimizer, momentum=momentum)
    limits = find.predicted_limits(dataclasses.replace(cfg, training=training), ds)
    assert limits[0] == pytest.approx(factor / 2 * exact_limit(ds), rel=1e-4)


def test_an_adaptive_optimizer_has_no_limit_at_init_and_says_so():
    cfg, ds = linreg(seeds=(0,), steps=30)
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, optimizer="adam"))
    doc, _ = find.run(cfg, ds, sweep=False)
    assert doc["limit"] is None and doc["runs"][0]["critical_lr"] is None
    assert doc["per_scale"][0]["critical_lr"] is None


def test_clipping_bounds_each_step_as_the_sweep_clips():
    """clip_grad_norm 1e-3: each step moves the weights by at most lr_i x 1e-3, so over a ramp
    to 1 the loss stays within 10% of its start, where the unclipped run's falls by half."""
    cfg, ds = linreg(seeds=(0,), max=1.0, steps=40)
    clipped = dataclasses.replace(cfg.training, clip_grad_norm=1e-3)
    test = find.range_test(dataclasses.replace(cfg, training=clipped), ds)
    free = find.range_test(cfg, ds)
    # clipped steps are tiny: the loss barely moves where the unclipped run has fallen
    assert test.loss[0, -1] > 0.9 * test.loss[0, 0] and free.loss[0, -1] < 0.5 * free.loss[0, 0]


def test_a_conv_net_runs_the_range_test_as_the_sweep_trains_it():
    """model.layers (lrdiag.convnet): all runs at once equal one at a time, and the limit at
    init is 2 / the sharpness the sweep computes for the same weights."""
    cfg = config_from_dict(
        {
            "data": {"kind": "digits", "seed": 0},
            "model": {
                "layers": [
                    {"type": "conv2d", "filters": 2, "kernel": 3, "activation": "tanh"},
                    {"type": "flatten"},
                ],
                "output": "softmax",
                "loss": "cross_entropy",
            },
            "init": {"scheme": "he", "scales": [1.0]},
            "training": {"seeds": [0, 1], "dtype": "float64", "batch_size": 64},
            "find": {"steps": 20, "max": 1.0},
            "stability": {"sharpness": "on", "samples": 64},
        }
    )
    ds = load_dataset(cfg.data, cfg.model)
    test = find.range_test(cfg, ds)
    assert np.isfinite(test.loss[:, 0]).all()
    one = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, seeds=(1,)))
    alone = find.range_test(one, ds)
    np.testing.assert_allclose(alone.loss[0], test.loss[1], rtol=1e-10, equal_nan=True)
    from lrdiag import stability, sweep

    X = sweep.inputs(cfg, ds.X, ds)
    Xs, Ys = stability.subset(X, ds.Y, 64, seed=0)
    net = sweep.architecture(cfg, X.shape[1:], ds.Y.shape[1])
    params = sweep.network(cfg).init_params(net, "he", [1.0, 1.0], [0, 1], np.float64)
    lam = stability.sharpness(params, Xs, Ys, cfg.model)
    np.testing.assert_allclose(find.predicted_limits(cfg, ds), 2.0 / lam, rtol=1e-6)
