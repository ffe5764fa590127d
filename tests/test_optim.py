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
    assert set(optim.OPTIMIZERS) == {"sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"}
    assert set(optim.BUFFERS) == set(optim.OPTIMIZERS)


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


@pytest.mark.parametrize(
    "factory",
    [
        optim.sgd,
        lambda: optim.momentum(BETA),
        lambda: optim.momentum(BETA, nesterov=True, weight_decay=0.1),
        lambda: optim.rmsprop(momentum=0.5, centered=True, weight_decay=0.1),
        lambda: optim.adam(weight_decay=0.1),
        lambda: optim.adam(weight_decay=0.1, decoupled=True),
    ],
)
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


# --- issue 15: every torch.optim rule, from its documented algorithm, one run at a time ---------
# Each reference below is written from the algorithm box of the PyTorch documentation
# (torch.optim.SGD, RMSprop, Adam, AdamW), for one run's list of arrays, with plain Python
# loops: nothing is shared with lrdiag.optim.


def torch_sgd(params, grads_seq, lr, mu=0.0, dampening=0.0, wd=0.0, nesterov=False):
    """SGD: g += wd p; b_1 = g, b_t = mu b + (1 - dampening) g; nesterov: g = g + mu b, else
    g = b; p -= lr g. Returns the parameters after each step."""
    params = [p.copy() for p in params]
    bufs, out = None, []
    for grads in grads_seq:
        new_bufs = []
        for i, g in enumerate(grads):
            g = g + wd * params[i] if wd != 0 else g.copy()
            if mu != 0:
                b = g.copy() if bufs is None else mu * bufs[i] + (1 - dampening) * g
                new_bufs.append(b)
                g = g + mu * b if nesterov else b
            params[i] = params[i] - lr * g
        bufs = new_bufs
        out.append([p.copy() for p in params])
    return out


def torch_rmsprop(params, grads_seq, lr, alpha, eps, mu=0.0, centered=False, wd=0.0):
    """RMSprop: v = alpha v + (1 - alpha) g^2; centered: g_ave = alpha g_ave + (1 - alpha) g,
    v~ = v - g_ave^2; mu > 0: b = mu b + g / (sqrt(v~) + eps), p -= lr b; else
    p -= lr g / (sqrt(v~) + eps). v, b, g_ave start at 0."""
    params = [p.copy() for p in params]
    v = [np.zeros_like(p) for p in params]
    b = [np.zeros_like(p) for p in params]
    ga = [np.zeros_like(p) for p in params]
    out = []
    for grads in grads_seq:
        for i, g in enumerate(grads):
            g = g + wd * params[i] if wd != 0 else g
            v[i] = alpha * v[i] + (1 - alpha) * g**2
            vt = v[i]
            if centered:
                ga[i] = ga[i] * alpha + (1 - alpha) * g
                vt = vt - ga[i] ** 2
            if mu > 0:
                b[i] = mu * b[i] + g / (np.sqrt(vt) + eps)
                params[i] = params[i] - lr * b[i]
            else:
                params[i] = params[i] - lr * g / (np.sqrt(vt) + eps)
        out.append([p.copy() for p in params])
    return out


def torch_adam(params, grads_seq, lr, betas, eps, wd=0.0, adamw=False):
    """Adam: g += wd p (AdamW instead: p = p - lr wd p); m = b1 m + (1 - b1) g;
    v = b2 v + (1 - b2) g^2; m^ = m / (1 - b1^t); v^ = v / (1 - b2^t);
    p -= lr m^ / (sqrt(v^) + eps). m, v start at 0; t counts from 1."""
    b1, b2 = betas
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    out = []
    for t, grads in enumerate(grads_seq, start=1):
        for i, g in enumerate(grads):
            if adamw:
                params[i] = params[i] - lr * wd * params[i]
            elif wd != 0:
                g = g + wd * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append([p.copy() for p in params])
    return out


def flat(tree, r):
    return [tree[k][r] for k in sorted(tree)]


MU = np.array([0.0, 0.5, 0.9, 0.99])  # per run: a sweep's momentum axis
WD = np.array([0.0, 1e-3, 0.1, 0.5])  # per run: a sweep's weight_decay axis
STEPS15 = 6
# (name, batched factory, per-run reference); hyper-parameters per run where a sweep varies them
CASES = {
    "sgd-wd": (
        lambda: optim.sgd(weight_decay=WD),
        lambda p, gs, r: torch_sgd(p, gs, LR[r], wd=WD[r]),
    ),
    "momentum-dampening-wd": (
        lambda: optim.momentum(MU, dampening=0.3, weight_decay=WD),
        lambda p, gs, r: torch_sgd(p, gs, LR[r], mu=MU[r], dampening=0.3, wd=WD[r]),
    ),
    "nesterov": (
        lambda: optim.momentum(0.9, nesterov=True),
        lambda p, gs, r: torch_sgd(p, gs, LR[r], mu=0.9, nesterov=True),
    ),
    "nesterov-per-run-wd-mu": (
        lambda: optim.momentum(MU, nesterov=True, weight_decay=WD),
        lambda p, gs, r: torch_sgd(p, gs, LR[r], mu=MU[r], wd=WD[r], nesterov=True),
    ),
    "rmsprop": (
        lambda: optim.rmsprop(0.99, 1e-8),
        lambda p, gs, r: torch_rmsprop(p, gs, LR[r], 0.99, 1e-8),
    ),
    "rmsprop-centered-momentum-wd": (
        lambda: optim.rmsprop(0.9, 1e-3, momentum=MU, centered=True, weight_decay=WD),
        lambda p, gs, r: torch_rmsprop(p, gs, LR[r], 0.9, 1e-3, MU[r], True, WD[r]),
    ),
    "adam": (
        lambda: optim.adam((0.9, 0.999), 1e-8),
        lambda p, gs, r: torch_adam(p, gs, LR[r], (0.9, 0.999), 1e-8),
    ),
    "adam-l2": (
        lambda: optim.adam((0.8, 0.99), 1e-6, weight_decay=WD),
        lambda p, gs, r: torch_adam(p, gs, LR[r], (0.8, 0.99), 1e-6, wd=WD[r]),
    ),
    "adamw": (
        lambda: optim.adam((0.9, 0.999), 1e-8, weight_decay=WD, decoupled=True),
        lambda p, gs, r: torch_adam(p, gs, LR[r], (0.9, 0.999), 1e-8, wd=WD[r], adamw=True),
    ),
}


@pytest.mark.parametrize("in_place", [False, True], ids=["update", "apply"])
@pytest.mark.parametrize("case", CASES)
def test_vectorised_equals_torch_algorithm_run_by_run(case, in_place):
    factory, reference = CASES[case]
    rng = np.random.default_rng(15)
    params = make_params(rng)
    grads_seq = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(STEPS15)]
    history = run_optimizer(factory(), params, grads_seq, in_place)
    for r in range(R):
        expected = reference(flat(params, r), [flat(g, r) for g in grads_seq], r)
        for step in range(STEPS15):
            for got, want in zip(flat(history[step], r), expected[step], strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=case)


def one_param(x):
    return {"W1": np.full((1, 1, 1), float(x))}


def steps_of(opt, p0, grads, lr):
    """Scalar parameter: its values after each step of ``opt`` with these gradients."""
    params, state, out = one_param(p0), None, []
    state = opt.init(params)
    for g in grads:
        state = opt.apply(params, one_param(g), state, np.array([lr]))
        out.append(float(params["W1"][0, 0, 0]))
    return out


def test_first_steps_by_hand():
    """The first two steps of each rule written out from the documented formulas."""
    p0, g1, g2, lr = 1.0, 0.5, -2.0, 0.1
    # nesterov, mu 0.9: b1 = g1; p1 = p0 - lr (g1 + mu g1); b2 = mu g1 + g2;
    # p2 = p1 - lr (g2 + mu b2)
    b2 = 0.9 * g1 + g2
    p1 = p0 - lr * (g1 + 0.9 * g1)
    assert steps_of(optim.momentum(0.9, nesterov=True), p0, [g1, g2], lr) == pytest.approx(
        [p1, p1 - lr * (g2 + 0.9 * b2)], rel=1e-15
    )
    # dampening 0.5: the first buffer is g1 itself (undampened), the second 0.9 g1 + 0.5 g2
    p1 = p0 - lr * g1
    assert steps_of(optim.momentum(0.9, dampening=0.5), p0, [g1, g2], lr) == pytest.approx(
        [p1, p1 - lr * (0.9 * g1 + 0.5 * g2)], rel=1e-15
    )
    # adam: step 1 is lr * sign(g) (up to eps): m^ = g, v^ = g^2
    eps = 1e-8
    p1 = p0 - lr * g1 / (abs(g1) + eps)
    m2, v2 = 0.9 * 0.1 * g1 + 0.1 * g2, 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    p2 = p1 - lr * (m2 / (1 - 0.9**2)) / (np.sqrt(v2 / (1 - 0.999**2)) + eps)
    assert steps_of(optim.adam(), p0, [g1, g2], lr) == pytest.approx([p1, p2], rel=1e-14)
    # adamw, wd 0.1: p1 = p0 (1 - lr wd) - lr g1 / (|g1| + eps)
    p1 = p0 * (1 - lr * 0.1) - lr * g1 / (abs(g1) + eps)
    got = steps_of(optim.adam(weight_decay=0.1, decoupled=True), p0, [g1], lr)
    assert got == pytest.approx([p1], rel=1e-15)
    # adam, wd 0.1 (L2): g1' = g1 + 0.1 p0, so step 1 is still lr * sign(g1')
    assert steps_of(optim.adam(weight_decay=0.1), p0, [g1], lr) == pytest.approx(
        [p0 - lr * (g1 + 0.1) / (abs(g1 + 0.1) + eps)], rel=1e-15
    )
    # rmsprop, alpha 0.99: v1 = 0.01 g1^2, p1 = p0 - lr g1 / (sqrt(v1) + eps): a 10x step
    p1 = p0 - lr * g1 / (np.sqrt(0.01 * g1**2) + eps)
    assert steps_of(optim.rmsprop(), p0, [g1], lr) == pytest.approx([p1], rel=1e-15)
    # centered: v~1 = 0.01 g1^2 - (0.01 g1)^2, eps outside the square root
    vt = 0.01 * g1**2 - (0.01 * g1) ** 2
    got = steps_of(optim.rmsprop(eps=1e-3, centered=True), p0, [g1], lr)
    assert got == pytest.approx([p0 - lr * g1 / (np.sqrt(vt) + 1e-3)], rel=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_select_runs_restricts_every_buffer_and_hyper_parameter(case):
    """Drop runs 0 and 2 after two steps: the two left go on exactly as they would have."""
    factory, _ = CASES[case]
    rng = np.random.default_rng(16)
    params = make_params(rng)
    grads_seq = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(4)]
    opt = factory()
    full = run_optimizer(opt, params, grads_seq, in_place=True)
    keep = np.array([1, 3])
    p = {k: v.copy() for k, v in params.items()}
    state = opt.init(p)
    for step, grads in enumerate(grads_seq):
        lr = LR if step < 2 else LR[keep]
        state = opt.apply(p, {k: g.copy() for k, g in grads.items()}, state, lr)
        if step == 1:
            p = {k: v[keep] for k, v in p.items()}
            state = optim.select_runs(state, keep)
            grads_seq[2:] = [{k: g[keep] for k, g in gs.items()} for gs in grads_seq[2:]]
    for k in params:
        np.testing.assert_array_equal(p[k], full[-1][k][keep])


def test_make_optimizer_reads_the_training_keys():
    from lrdiag.config import config_from_dict

    t = config_from_dict(
        {"training": {"optimizer": "adamw", "betas": [0.8, 0.9], "eps": 1e-6}}
    ).training
    assert t.weight_decay == 0.01  # torch.optim.AdamW's default
    rng = np.random.default_rng(17)
    params = make_params(rng)
    grads_seq = grad_sequence(rng, params)
    history = run_optimizer(optim.make_optimizer(t), params, grads_seq)
    want = torch_adam(flat(params, 2), [flat(g, 2) for g in grads_seq], LR[2], (0.8, 0.9), 1e-6,
                      wd=0.01, adamw=True)  # fmt: skip
    for got, w in zip(flat(history[-1], 2), want[-1], strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-12)
    # a sweep's per-run momentum overrides the config's
    t = config_from_dict({"training": {"optimizer": "nesterov"}}).training
    history = run_optimizer(optim.make_optimizer(t, {"momentum": MU}), params, grads_seq)
    want = torch_sgd(flat(params, 1), [flat(g, 1) for g in grads_seq], LR[1], mu=MU[1],
                     nesterov=True)  # fmt: skip
    for got, w in zip(flat(history[-1], 1), want[-1], strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_parameters_stored_transposed_get_the_same_update_and_keep_their_layout(case):
    """lrdiag.model keeps a wide first layer as (R, out, in) in memory (training_layout): the
    in-place step, run over it in memory order, is still the reference's, run by run."""
    factory, reference = CASES[case]
    rng = np.random.default_rng(16)
    params = make_params(rng)
    grads_seq = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(STEPS15)]

    def transposed(a):  # the same values, stored (R, out, in) in C order
        return np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)

    live = {k: transposed(v) if k == "W1" else v.copy() for k, v in params.items()}
    opt = factory()
    state = opt.init(live)
    for step, grads in enumerate(grads_seq):
        g = {k: transposed(v) if k == "W1" else v.copy() for k, v in grads.items()}
        state = opt.apply(live, g, state, LR)
        assert np.swapaxes(live["W1"], -1, -2).flags.c_contiguous
        for r in range(R):
            want = reference(flat(params, r), [flat(x, r) for x in grads_seq[: step + 1]], r)
            for got, expected in zip(flat(live, r), want[step], strict=True):
                np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14, err_msg=case)
