"""lrdiag.optim against PyTorch's SGD update rules iterated by hand, one run at a time
(tests/reference.py), with a different learning rate for every run."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

from lrdiag import optim

R = 4
LR = np.array([0.0, 0.1, 0.7, 2.5])  # run 0 has lr 0: it must not move at all
BETA = 0.9
STEPS = 5
# widths differ from R so that a learning rate broadcast on the wrong axis cannot fit by accident
SIZES = [3, 5, 2]


def make_params(rng):
    params = {}
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(size=(R, a, b))
        params[f"b{i}"] = rng.normal(size=(R, 1, b))
    return params


def grad_sequence(rng, params):
    return [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(STEPS)]


def as_lists(params, r):
    n = len(params) // 2
    return [(params[f"W{i}"][r], params[f"b{i}"][r, 0]) for i in range(1, n + 1)]


def run_optimizer(opt, params, grads_seq, in_place=False):
    """Apply the batched optimizer; return the parameters after every step. ``in_place`` uses
    ``apply`` (params updated in place, grads consumed) on copies, instead of ``update``."""
    state = opt.init(params)
    history = []
    for grads in grads_seq:
        if in_place:
            params = {k: v.copy() for k, v in params.items()}
            state = opt.apply(params, {k: g.copy() for k, g in grads.items()}, state, LR)
            history.append(params)
            continue
        updates, state = opt.update(grads, state, params, LR)
        assert set(updates) == set(params)
        for k in params:
            assert updates[k].shape == params[k].shape, k
        params = {k: params[k] + updates[k] for k in params}
        history.append(params)
    return history


def assert_matches_reference(history, ref_history):
    for step, (batched, plain) in enumerate(zip(history, ref_history, strict=True)):
        for r in range(R):
            for i, (W, b) in enumerate(plain[r], start=1):
                np.testing.assert_allclose(
                    batched[f"W{i}"][r], W, rtol=1e-14, atol=1e-15, err_msg=f"step {step} W{i}"
                )
                np.testing.assert_allclose(
                    batched[f"b{i}"][r, 0], b, rtol=1e-14, atol=1e-15, err_msg=f"step {step} b{i}"
                )


def test_registry():
    assert set(optim.OPTIMIZERS) == {"sgd", "momentum"}


@pytest.mark.parametrize("in_place", [False, True], ids=["update", "apply"])
def test_sgd_is_p_minus_lr_g_per_run(in_place):
    rng = np.random.default_rng(0)
    params = make_params(rng)
    grads_seq = grad_sequence(rng, params)
    history = run_optimizer(optim.sgd(), params, grads_seq, in_place)
    ref_history, current = [], [as_lists(params, r) for r in range(R)]
    for grads in grads_seq:
        current = [ref.sgd_step(current[r], as_lists(grads, r), LR[r]) for r in range(R)]
        ref_history.append(current)
    assert_matches_reference(history, ref_history)
    for k in params:  # lr = 0: bit for bit unchanged
        np.testing.assert_array_equal(history[-1][k][0], params[k][0])


@pytest.mark.parametrize("in_place", [False, True], ids=["update", "apply"])
def test_momentum_is_torch_heavy_ball_per_run(in_place):
    """torch.optim.SGD(momentum=beta, dampening=0): buf_1 = g_1, buf_t = beta buf + g_t,
    p -= lr buf_t."""
    rng = np.random.default_rng(1)
    params = make_params(rng)
    grads_seq = grad_sequence(rng, params)
    history = run_optimizer(optim.momentum(BETA), params, grads_seq, in_place)
    ref_history = []
    current = [as_lists(params, r) for r in range(R)]
    bufs = [None] * R
    for grads in grads_seq:
        stepped = [
            ref.momentum_step(current[r], as_lists(grads, r), bufs[r], LR[r], BETA)
            for r in range(R)
        ]
        current = [p for p, _ in stepped]
        bufs = [b for _, b in stepped]
        ref_history.append(current)
    assert_matches_reference(history, ref_history)
    for k in params:
        np.testing.assert_array_equal(history[-1][k][0], params[k][0])


@pytest.mark.parametrize("in_place", [False, True], ids=["update", "apply"])
def test_momentum_closed_form_for_a_constant_gradient(in_place):
    """With g constant, buf_t = g (1 - beta^t) / (1 - beta): an independent closed form."""
    rng = np.random.default_rng(2)
    params = make_params(rng)
    g = {k: rng.normal(size=v.shape) for k, v in params.items()}
    history = run_optimizer(optim.momentum(BETA), params, [g] * STEPS, in_place)
    total = sum((1 - BETA**t) / (1 - BETA) for t in range(1, STEPS + 1))
    lr = LR[:, None, None]
    for k in params:
        np.testing.assert_allclose(history[-1][k], params[k] - lr * total * g[k], rtol=1e-13)


def test_first_momentum_step_equals_the_sgd_step():
    rng = np.random.default_rng(3)
    params = make_params(rng)
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    (after_sgd,) = run_optimizer(optim.sgd(), params, [grads])
    (after_mom,) = run_optimizer(optim.momentum(BETA), params, [grads])
    for k in params:
        np.testing.assert_array_equal(after_mom[k], after_sgd[k])


def leaves(tree):
    """Every array in an optimizer state (NamedTuple / tuple / list / dict, nested)."""
    if isinstance(tree, np.ndarray):
        return [tree]
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in leaves(v)]
    if isinstance(tree, (tuple, list)):
        return [x for v in tree for x in leaves(v)]
    return []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_state_shapes(dtype):
    rng = np.random.default_rng(4)
    params = {k: v.astype(dtype) for k, v in make_params(rng).items()}
    grads = {k: rng.normal(size=v.shape).astype(dtype) for k, v in params.items()}
    shapes = sorted(v.shape for v in params.values())
    assert leaves(optim.sgd().init(params)) == []  # plain sgd keeps no per-parameter state
    opt = optim.momentum(BETA)
    state = opt.init(params)
    # one buffer per parameter, shaped like it (runs on axis 0), zero or not yet started
    assert sorted(a.shape for a in leaves(state) if a.ndim > 1) == shapes
    for a in leaves(state):
        assert a.shape[0] == R or a.ndim <= 1
    updates, state2 = opt.update(grads, state, params, LR.astype(dtype))
    assert type(state2) is type(state)
    assert sorted(a.shape for a in leaves(state2) if a.ndim > 1) == shapes
    for k in params:
        assert updates[k].dtype == dtype, k


@pytest.mark.parametrize("factory", [optim.sgd, lambda: optim.momentum(BETA)])
def test_update_is_pure(factory):
    """update must not write into grads, params or the old state (optax-style pure functions)."""
    rng = np.random.default_rng(5)
    params = make_params(rng)
    opt = factory()
    state = opt.init(params)
    for _ in range(2):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        saved = (
            {k: v.copy() for k, v in params.items()},
            {k: v.copy() for k, v in grads.items()},
            [a.copy() for a in leaves(state)],
        )
        updates, new_state = opt.update(grads, state, params, LR)
        for k in params:
            np.testing.assert_array_equal(params[k], saved[0][k])
            np.testing.assert_array_equal(grads[k], saved[1][k])
        for a, b in zip(leaves(state), saved[2], strict=True):
            np.testing.assert_array_equal(a, b)
        params = {k: params[k] + updates[k] for k in params}
        state = new_state
