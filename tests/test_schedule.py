"""lrdiag.schedule against PyTorch's documented schedulers, written out here step by step in
their recursive (chainable) forms, and clip_grad_norm_'s formula; then in a sweep, a
schedule with warmup and clipping against a plain one-run training loop."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import reference as ref
from test_engine import make_cfg, make_dataset, train_strict

from lrdiag import model, schedule, sweep
from lrdiag.config import ScheduleConfig


def torch_factors(kind, total, warmup=0, start=1 / 3, min_factor=0.0, gamma=None, step_size=None):
    """The multipliers PyTorch's schedulers give, one per step, from their documented recursive
    updates: LinearLR lr_t = lr_{t-1} (1 + (end - start) / (n start + (t - 1)(end - start)))
    (t <= n); CosineAnnealingLR lr_{t+1} = eta_min + (lr_t - eta_min) (1 + cos((t + 1) pi / T))
    / (1 + cos(t pi / T)); StepLR lr_t = lr_{t-1} gamma when t % step_size == 0; ExponentialLR
    lr_t = lr_{t-1} gamma. SequentialLR starts the second at its step 0 at the milestone."""
    out, lr = [], start if warmup else 1.0
    for t in range(total):
        if t < warmup:
            if t > 0:
                lr *= 1 + (1 - start) / (warmup * start + (t - 1) * (1 - start))
            out.append(lr)
            continue
        s, T = t - warmup, total - warmup
        if s == 0:
            lr = 1.0  # the decay scheduler's closed form at its step 0: the base lr
        elif kind == "cosine":
            lr = min_factor + (lr - min_factor) * (1 + math.cos(s * math.pi / T)) / (
                1 + math.cos((s - 1) * math.pi / T)
            )
        elif kind == "linear":  # LinearLR(start 1, end min_factor, total_iters T)
            if s <= T:
                lr *= 1 + (min_factor - 1) / (T + (s - 1) * (min_factor - 1))
        elif kind == "step" and s % step_size == 0:
            lr *= gamma
        elif kind == "exponential":
            lr *= gamma
        out.append(lr)
    return np.array(out)


CASES = [
    dict(kind="constant"),
    dict(kind="constant", warmup_steps=5, start_factor=0.1),
    dict(kind="cosine"),
    dict(kind="cosine", warmup_steps=4, start_factor=0.25, min_factor=0.1),
    dict(kind="linear", min_factor=0.05),
    dict(kind="linear", warmup_steps=3),
    dict(kind="step", gamma=0.5, step_size=3),
    dict(kind="step", gamma=0.1, step_size=2, warmup_steps=2, start_factor=0.5),
    dict(kind="exponential", gamma=0.9),
    dict(kind="exponential", gamma=0.95, warmup_steps=6, start_factor=0.01),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_multipliers_follow_torch_schedulers_step_by_step(case):
    total = 20
    sched = ScheduleConfig(**case)
    want = torch_factors(
        sched.kind, total, sched.warmup_steps, sched.start_factor, sched.min_factor,
        sched.gamma, sched.step_size,
    )  # fmt: skip
    got = [schedule.multipliers(sched, t, total, np.array([sched.warmup_steps]))[0]
           for t in range(total)]  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_first_steps_by_hand():
    """LinearLR(0.1, total_iters=4) then CosineAnnealingLR(T_max=6): 0.1, 0.325, 0.55, 0.775,
    then 1 and (1 + cos(pi/6))/2."""
    sched = ScheduleConfig(kind="cosine", warmup_steps=4, start_factor=0.1)
    got = [schedule.multipliers(sched, t, 10, np.array([4]))[0] for t in range(6)]
    want = [0.1, 0.325, 0.55, 0.775, 1.0, (1 + math.cos(math.pi / 6)) / 2]
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_per_run_warmups_equal_one_run_at_a_time():
    sched = ScheduleConfig(kind="cosine", start_factor=0.2, min_factor=0.1)
    warmups = np.array([0, 1, 5, 12, 30])  # 30 > total: warmup the whole way
    for t in range(25):
        together = schedule.multipliers(sched, t, 25, warmups)
        alone = [schedule.multipliers(sched, t, 25, np.array([w]))[0] for w in warmups]
        np.testing.assert_array_equal(together, alone)
        assert together[-1] == pytest.approx(0.2 + 0.8 * t / 30)


def test_clip_is_torch_clip_grad_norm():
    """norm = sqrt(sum of every gradient's squares); scale max_norm / (norm + 1e-6) if < 1."""
    rng = np.random.default_rng(0)
    grads = {"W1": rng.normal(size=(3, 4, 2)), "b1": rng.normal(size=(3, 1, 2))}
    norms = [math.sqrt(sum(float(np.sum(g[r] ** 2)) for g in grads.values())) for r in range(3)]
    max_norm = np.array([norms[0] / 2, norms[1] * 2, np.inf])  # clipped, not, off
    before = {k: g.copy() for k, g in grads.items()}
    hit = schedule.clip(grads, max_norm)
    assert hit.tolist() == [True, False, False]
    coef = max_norm[0] / (norms[0] + 1e-6)
    for k in grads:
        np.testing.assert_allclose(grads[k][0], before[k][0] * coef, rtol=1e-15)
        np.testing.assert_array_equal(grads[k][1:], before[k][1:])
    after = math.sqrt(sum(float(np.sum(g[0] ** 2)) for g in grads.values()))
    assert after == pytest.approx(norms[0] / 2, rel=1e-6)


def loop_with_schedule(cfg, ds, run, factors, max_norm):
    """One run by hand: full-batch gradient descent, lr_t = lr * factors[t], gradients clipped
    as clip_grad_norm_ does (tests/reference.py's network and backprop)."""
    sizes = model.layer_sizes(ds.X.shape[1], cfg.model.hidden, ds.Y.shape[1])
    p = model.init_params(sizes, cfg.init.scheme, [run.init_scale], [run.seed], np.float64)
    params = [(p[f"W{i}"][0], p[f"b{i}"][0, 0]) for i in range(1, len(sizes))]
    losses, clipped = [ref.loss(params, ds.X, ds.Y, cfg.model)], 0
    for t in range(cfg.training.epochs):
        _, grads = ref.loss_and_grads(params, ds.X, ds.Y, cfg.model)
        norm = math.sqrt(sum(float(np.sum(dW**2) + np.sum(db**2)) for dW, db in grads))
        if max_norm / (norm + 1e-6) < 1:
            c = max_norm / (norm + 1e-6)
            grads = [(dW * c, db * c) for dW, db in grads]
            clipped += 1
        params = ref.sgd_step(params, grads, run.learning_rate * factors[t])
        losses.append(ref.loss(params, ds.X, ds.Y, cfg.model))
    return np.array(losses), clipped


def test_sweep_with_warmup_cosine_and_clipping_equals_the_plain_loop():
    cfg = make_cfg(lrs=[0.05, 0.5, 2.0], epochs=15)
    sched = ScheduleConfig(kind="cosine", warmup_steps=5, start_factor=0.1, min_factor=0.01)
    training = dataclasses.replace(cfg.training, schedule=sched, clip_grad_norm=0.3)
    cfg = dataclasses.replace(cfg, training=training)
    ds = make_dataset(cfg.model.output, cfg.model.loss, val=False)
    runs, result = train_strict(cfg, ds)
    factors = torch_factors("cosine", 15, 5, 0.1, 0.01)
    assert result.clipped is not None and result.clipped.sum() > 0
    for i, run in enumerate(runs):
        losses, clipped = loop_with_schedule(cfg, ds, run, factors, 0.3)
        np.testing.assert_allclose(result.loss[i], losses, rtol=1e-10)
        assert result.clipped[i] == clipped and result.steps[i] == 15


@pytest.mark.parametrize("unit", ["step", "epoch"])
def test_mini_batch_schedule_counts_steps_or_epochs(unit):
    """With 6 steps an epoch, unit: epoch holds the multiplier for a whole epoch: a step
    schedule of step_size 1 epoch equals one of step_size 6 steps."""
    base = make_cfg(batch_size=8, lrs=[0.1, 0.4], epochs=4)
    size = {"step": 6, "epoch": 1}[unit]
    sched = ScheduleConfig(kind="step", gamma=0.5, step_size=size, unit=unit)
    cfg = dataclasses.replace(base, training=dataclasses.replace(base.training, schedule=sched))
    ds = make_dataset(cfg.model.output, cfg.model.loss, val=False)
    _, result = train_strict(cfg, ds)
    if unit == "step":
        other = ScheduleConfig(kind="step", gamma=0.5, step_size=1, unit="epoch")
        cfg2 = dataclasses.replace(base, training=dataclasses.replace(base.training,
                                                                      schedule=other))  # fmt: skip
        _, again = train_strict(cfg2, ds)
        np.testing.assert_array_equal(result.loss, again.loss)
    _, constant = train_strict(base, ds)
    np.testing.assert_array_equal(result.loss[:, :2], constant.loss[:, :2])  # epoch 1: factor 1
    assert not np.allclose(result.loss[:, 2:], constant.loss[:, 2:])
    assert sweep.expand_grid(cfg) == sweep.expand_grid(base)
