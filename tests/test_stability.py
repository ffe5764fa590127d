"""lrdiag.stability against independent computations: central differences of the analytic
gradient (lrdiag.model, itself checked against finite differences of the loss in test_model),
dense Hessians built here and diagonalised with np.linalg.eigvalsh, closed-form Hessians of
quadratics, and gradient descent written out in the test."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrdiag import model, stability

ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "identity"]
HEADS = [  # (output, loss, output width)
    ("sigmoid", "bce", 1),
    ("softmax", "cross_entropy", 3),
    ("identity", "mse", 2),
    ("sigmoid", "mse", 2),
    ("sigmoid", "cross_entropy", 3),  # tf.keras: softmax cross-entropy of the logits
]
SCALES = np.array([0.5, 1.0, 2.0])  # one per run: R = 3, curvatures of different sizes
KINK_MARGIN = 1e-3  # hidden pre-activations stay this far from the ReLU kink
HVP_STEP = 1e-6  # central-difference step along a unit-norm direction (per run)
HVP_REL_ERR = 1e-6
SHARPNESS_REL_ERR = 1e-3  # MLPs against a dense finite-difference Hessian
QUADRATIC_REL_ERR = 1e-4  # linear models against the closed-form Hessian


def spec_for(activation, output, loss, hidden):
    return SimpleNamespace(hidden=tuple(hidden), activation=activation, output=output, loss=loss)


def targets(rng, n, output, loss, k):
    if loss == "bce":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if output == "sigmoid":
        return rng.random((n, k))
    return rng.normal(size=(n, k))


def hidden_preactivations(params, X, activation):
    """Every hidden pre-activation of every run, by a plain loop over runs and layers."""
    L = len(params) // 2
    out = []
    for r in range(params["W1"].shape[0]):
        a = X
        for i in range(1, L):
            z = a @ params[f"W{i}"][r] + params[f"b{i}"][r, 0]
            out.append(z.ravel())
            a = model.ACTIVATIONS[activation].f(z)
    return np.concatenate(out) if out else np.array([np.inf])


def random_problem(activation, output, loss, k, seed, hidden=(5, 4), n_in=3, n=7, scales=SCALES):
    """Batched float64 params (every run its own weights times its own scale, nonzero biases),
    data and targets, redrawn until no hidden pre-activation is near the ReLU kink."""
    sizes = [n_in, *hidden, k]
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        X = rng.normal(size=(n, n_in))
        Y = targets(rng, n, output, loss, k)
        params = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            W = rng.normal(size=(len(scales), fan_in, fan_out)) / np.sqrt(fan_in)
            params[f"W{i}"] = W * np.asarray(scales)[:, None, None]
            params[f"b{i}"] = 0.3 * rng.normal(size=(len(scales), 1, fan_out))
        margin = np.min(np.abs(hidden_preactivations(params, X, activation)))
        if activation not in ("relu", "leaky_relu") or margin > KINK_MARGIN:
            return params, X, Y, spec_for(activation, output, loss, hidden)
    raise AssertionError("could not draw a problem away from the ReLU kink")


def flat(d):
    """(R, P) from a params-like dict, keys in sorted order (the test's own layout)."""
    R = next(iter(d.values())).shape[0]
    return np.concatenate([d[k].reshape(R, -1) for k in sorted(d)], axis=1)


def unflat(v, like):
    out, start = {}, 0
    for k in sorted(like):
        n = like[k][0].size
        out[k] = v[:, start : start + n].reshape(like[k].shape)
        start += n
    return out


def gradient(params, X, Y, spec):
    return flat(model.loss_and_grads(params, X, Y, spec)[1])


def dense_hessian(params, X, Y, spec, step=1e-5):
    """(R, P, P): column p is the central difference of the analytic gradient along e_p,
    perturbing coordinate p of every run at once (runs are independent), then symmetrised."""
    theta = flat(params)
    R, P = theta.shape
    H = np.empty((R, P, P))
    for p in range(P):
        e = np.zeros_like(theta)
        e[:, p] = step
        up = gradient(unflat(theta + e, params), X, Y, spec)
        down = gradient(unflat(theta - e, params), X, Y, spec)
        H[:, :, p] = (up - down) / (2 * step)
    return 0.5 * (H + np.swapaxes(H, -1, -2))


def rel(a, b):
    return np.abs(a - b) / np.abs(b)


# --------------------------------------------------------------------------- hvp


def test_registries_cover_every_activation_and_head_of_the_model():
    assert set(stability.SECOND_DERIVATIVES) == set(model.ACTIVATIONS)
    assert set(stability.HEAD_JVPS) == set(model.HEADS)


@pytest.mark.parametrize("output,loss,k", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hvp_matches_central_differences_of_the_gradient(activation, output, loss, k):
    params, X, Y, spec = random_problem(activation, output, loss, k, seed=3)
    rng = np.random.default_rng(1)
    v = rng.normal(size=flat(params).shape)
    v /= np.linalg.norm(v, axis=1, keepdims=True)  # unit direction per run
    vec = unflat(v, params)
    product = stability.hvp(params, X, Y, spec, vec)
    assert set(product) == set(params)
    assert all(product[key].shape == params[key].shape for key in params)
    theta = flat(params)
    up = gradient(unflat(theta + HVP_STEP * v, params), X, Y, spec)
    down = gradient(unflat(theta - HVP_STEP * v, params), X, Y, spec)
    numeric = (up - down) / (2 * HVP_STEP)
    exact = flat(product)
    for r in range(len(SCALES)):
        err = np.linalg.norm(exact[r] - numeric[r]) / np.linalg.norm(numeric[r])
        assert err < HVP_REL_ERR, f"run {r}: relative error {err:.2e}"


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_hvp_is_symmetric_and_keeps_runs_apart(activation):
    params, X, Y, spec = random_problem(activation, "softmax", "cross_entropy", 3, seed=8)
    rng = np.random.default_rng(2)
    u = rng.normal(size=flat(params).shape)
    v = rng.normal(size=flat(params).shape)
    Hu = flat(stability.hvp(params, X, Y, spec, unflat(u, params)))
    Hv = flat(stability.hvp(params, X, Y, spec, unflat(v, params)))
    np.testing.assert_allclose((v * Hu).sum(axis=1), (u * Hv).sum(axis=1), rtol=1e-10)
    for r in range(len(SCALES)):  # run r alone gives run r's row
        alone = {key: p[r : r + 1] for key, p in params.items()}
        Hv_r = flat(stability.hvp(alone, X, Y, spec, unflat(v[r : r + 1], alone)))
        np.testing.assert_allclose(Hv_r[0], Hv[r], rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- quadratics


def linear_regression(n, d, R, seed, spread=15.0, offset=1.0):
    """Data whose columns differ in scale by ``spread`` and have means of size ``offset``, and
    R runs of a linear model (hidden []) at very different parameters."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.geomspace(1.0, spread, d) + offset * rng.normal(size=d)
    Y = X @ rng.normal(size=(d, 1)) + 0.5 * rng.normal(size=(n, 1))
    params = {
        "W1": rng.normal(size=(R, d, 1)) * np.geomspace(0.1, 10, R)[:, None, None],
        "b1": rng.normal(size=(R, 1, 1)),
    }
    return params, X, Y, spec_for("tanh", "identity", "mse", ())


def exact_mse_hessian(X):
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    return 2.0 / X.shape[0] * X1.T @ X1


@pytest.mark.parametrize("d", [3, 60])  # Krylov space exhausted (P = 4) / real Lanczos (P = 61)
def test_linear_regression_sharpness_is_the_top_eigenvalue_of_the_exact_hessian(d):
    params, X, Y, spec = linear_regression(n=200, d=d, R=4, seed=d)
    expected = np.linalg.eigvalsh(exact_mse_hessian(X))[-1]
    lam = stability.sharpness(params, X, Y, spec)
    assert lam.shape == (4,)
    assert np.all(rel(lam, expected) < QUADRATIC_REL_ERR), (lam, expected)


def test_negative_definite_hessian_gives_its_largest_algebraic_eigenvalue():
    """Linear model, sigmoid + mse, targets 1, logits all below -ln 2: each sample's curvature
    h(z) = 2 q (q + (p - 1)(1 - 2p)) / n, q = p(1 - p), is negative, so the Hessian
    X1^T diag(h) X1 is negative definite. The answer is its eigenvalue closest to zero, not the
    one of largest magnitude; and no learning rate is limited by it."""
    rng = np.random.default_rng(4)
    n, d = 100, 6
    X = 0.3 * rng.uniform(-1, 1, size=(n, d))
    Y = np.ones((n, 1))
    params = {"W1": 0.2 * rng.normal(size=(2, d, 1)), "b1": np.array([[[-3.0]], [[-2.0]]])}
    spec = spec_for("tanh", "sigmoid", "mse", ())
    X1 = np.hstack([X, np.ones((n, 1))])
    for r in range(2):
        z = X1 @ np.concatenate([params["W1"][r, :, 0], params["b1"][r, 0]])
        assert z.max() < -np.log(2)
        p = 1 / (1 + np.exp(-z))
        q = p * (1 - p)
        h = 2 * q * (q + (p - 1) * (1 - 2 * p)) / n
        eig = np.linalg.eigvalsh(X1.T @ (h[:, None] * X1))
        assert eig[-1] < 0 and abs(eig[0]) > 10 * abs(eig[-1])  # negative definite, spread
        lam = stability.sharpness({k: v[r : r + 1] for k, v in params.items()}, X, Y, spec)
        assert rel(lam[0], eig[-1]) < QUADRATIC_REL_ERR, (lam, eig[[0, -1]])
        assert np.isnan(stability.critical_lr(lam)[0])


@pytest.mark.parametrize("beta", [0.0, 0.9])
def test_gradient_descent_flips_from_converging_to_diverging_at_the_critical_lr(beta):
    """Heavy ball (PyTorch's SGD momentum, dampening 0) written out here on the quadratic."""
    params, X, Y, spec = linear_regression(n=100, d=5, R=2, seed=7, spread=2.0, offset=0.0)
    eig = np.linalg.eigvalsh(exact_mse_hessian(X))
    assert eig[-1] / eig[0] < 20  # well conditioned: 400 steps at 0.9x converge far
    lam = stability.sharpness(params, X, Y, spec)
    factors = np.array([0.9, 1.1])
    lr = factors * stability.critical_lr(lam, momentum=beta)
    X1 = np.hstack([X, np.ones((len(X), 1))])
    best = np.linalg.lstsq(X1, Y, rcond=None)[0][:, 0]
    theta = {k: v.copy() for k, v in params.items()}
    start = np.linalg.norm(flat(theta) - best, axis=1)
    buf = {k: np.zeros_like(v) for k, v in theta.items()}
    with np.errstate(all="ignore"):
        for _ in range(400):
            grads = model.loss_and_grads(theta, X, Y, spec)[1]
            for k in theta:
                buf[k] = beta * buf[k] + grads[k]
                theta[k] = theta[k] - lr[:, None, None] * buf[k]
        dist = np.linalg.norm(flat(theta) - best, axis=1)
    assert dist[0] < 1e-6 * start[0], "0.9x the critical lr should converge"
    assert not np.isfinite(dist[1]) or dist[1] > 1e6 * start[1], "1.1x should diverge"


# --------------------------------------------------------------------------- MLPs


def mlp(activation, output, loss, k, seed, scale, n=40, hidden=(8, 8)):
    params, X, Y, spec = random_problem(
        activation, output, loss, k, seed, hidden=hidden, n_in=2, n=n, scales=scale
    )
    return params, X, Y, spec


@pytest.mark.parametrize(
    "activation,output,loss,k",
    [
        ("tanh", "sigmoid", "bce", 1),
        ("tanh", "identity", "mse", 1),
        ("sigmoid", "softmax", "cross_entropy", 3),
        ("relu", "sigmoid", "mse", 1),
    ],
)
def test_mlp_sharpness_matches_a_dense_finite_difference_hessian(activation, output, loss, k):
    """2-8-8-k networks, four runs of growing scale; at least one has negative curvature."""
    params, X, Y, spec = mlp(activation, output, loss, k, seed=5, scale=[0.5, 1.0, 2.0, 3.0])
    eig = np.linalg.eigvalsh(dense_hessian(params, X, Y, spec))  # (R, P) ascending
    assert eig[:, 0].min() < -1e-3 * np.abs(eig).max(), "want a case with negative eigenvalues"
    lam = stability.sharpness(params, X, Y, spec)
    assert np.all(rel(lam, eig[:, -1]) < SHARPNESS_REL_ERR), (lam, eig[:, -1])


def test_mlp_largest_algebraic_not_largest_magnitude():
    """Sigmoid + mse, targets 1, output bias pushed to -3: the loss is near a local maximum
    along the output layer (negative curvature there), and the most negative eigenvalue of the
    Hessian outweighs the largest positive one. Power iteration without a shift would return
    the negative one."""
    params, X, Y, spec = mlp("tanh", "sigmoid", "mse", 1, seed=2, scale=[1.0, 2.0])
    params["b3"][:] = -3.0
    Y = np.ones_like(Y)
    eig = np.linalg.eigvalsh(dense_hessian(params, X, Y, spec))
    assert np.all(eig[:, -1] > 0) and np.all(-eig[:, 0] > 1.5 * eig[:, -1]), eig[:, [0, -1]]
    lam = stability.sharpness(params, X, Y, spec)
    assert np.all(rel(lam, eig[:, -1]) < SHARPNESS_REL_ERR), (lam, eig[:, [0, -1]])


def test_runs_are_independent_and_duplicates_share_one_answer():
    params, X, Y, spec = mlp("tanh", "sigmoid", "bce", 1, seed=9, scale=[0.7, 1.3, 2.2])
    # runs 0..2, then copies of run 1 and run 0 (as at init: every lr of a seed is the same)
    batch = {k: v[[0, 1, 2, 1, 0]] for k, v in params.items()}
    lam = stability.sharpness(batch, X, Y, spec)
    assert lam[3] == lam[1] and lam[4] == lam[0]
    for r in range(3):
        alone = stability.sharpness({k: v[r : r + 1] for k, v in params.items()}, X, Y, spec)
        assert alone[0] == pytest.approx(lam[r], rel=1e-9)
    # memory-bounded chunks give the same answers
    chunked = stability.sharpness(batch, X, Y, spec, max_memory=1)
    np.testing.assert_allclose(chunked, lam, rtol=1e-9)


def test_float32_params_are_computed_in_float64_without_touching_them():
    params, X, Y, spec = mlp("tanh", "sigmoid", "bce", 1, seed=6, scale=[1.0, 2.0])
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    before = {k: v.copy() for k, v in p32.items()}
    lam32 = stability.sharpness(p32, X.astype(np.float32), Y.astype(np.float32), spec)
    lam64 = stability.sharpness({k: v.astype(np.float64) for k, v in p32.items()}, X, Y, spec)
    assert lam32.dtype == np.float64
    np.testing.assert_allclose(lam32, lam64, rtol=1e-6)
    for k in p32:
        np.testing.assert_array_equal(p32[k], before[k])


def test_non_finite_runs_give_nan_and_leave_the_others_alone():
    params, X, Y, spec = mlp("tanh", "sigmoid", "bce", 1, seed=4, scale=[1.0, 1.5, 2.0, 2.5])
    clean = stability.sharpness(params, X, Y, spec)
    broken = {k: v.copy() for k, v in params.items()}
    broken["W2"][1, 0, 0] = np.nan
    broken["b3"][2, 0, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        lam = stability.sharpness(broken, X, Y, spec)
        all_bad = stability.sharpness({k: v[1:3] for k, v in broken.items()}, X, Y, spec)
        crit = stability.critical_lr(lam)
    assert np.isnan(lam[1]) and np.isnan(lam[2]) and np.isnan(crit[1])
    np.testing.assert_allclose(lam[[0, 3]], clean[[0, 3]], rtol=1e-9)
    assert np.isnan(all_bad).all()


def test_overflowing_run_gives_nan_without_warnings():
    params, X, Y, spec = mlp("identity", "identity", "mse", 1, seed=4, scale=[1.0, 1.0])
    for key in params:
        params[key][1] *= 1e200  # finite, but the forward pass overflows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam = stability.sharpness(params, X, Y, spec)
    assert np.isfinite(lam[0]) and np.isnan(lam[1])


# --------------------------------------------------------------------------- helpers


def test_critical_lr():
    lam = np.array([4.0, 0.5, 0.0, -2.0, np.nan, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = stability.critical_lr(lam)
        heavy = stability.critical_lr(lam, momentum=0.9)
    np.testing.assert_allclose(plain[:2], [0.5, 4.0])
    np.testing.assert_allclose(heavy[:2], [2 * 1.9 / 4.0, 2 * 1.9 / 0.5])
    assert np.isnan(plain[2:]).all() and np.isnan(heavy[2:]).all()
    assert stability.critical_lr(2.0) == pytest.approx(1.0)


@given(
    lam=st.floats(1e-6, 1e6, allow_nan=False),
    beta=st.floats(0.0, 0.99, allow_nan=False),
)
def test_critical_lr_times_sharpness_is_the_stability_constant(lam, beta):
    assert stability.critical_lr(lam, momentum=beta) * lam == pytest.approx(2 * (1 + beta))


def test_subset_is_a_fixed_sample_of_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    Y = np.arange(500.0)[:, None]
    Xs, Ys = stability.subset(X, Y, 64, seed=1)
    assert Xs.shape == (64, 3) and Ys.shape == (64, 1)
    rows = Ys[:, 0].astype(int)
    assert len(set(rows)) == 64 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(Xs, X[rows])  # rows kept with their targets
    again = stability.subset(X, Y, 64, seed=1)
    np.testing.assert_array_equal(again[0], Xs)
    other = stability.subset(X, Y, 64, seed=2)[1][:, 0]
    assert set(other) != set(rows)
    for samples in (500, 1000, None):  # all rows when there are not more than asked
        Xa, Ya = stability.subset(X, Y, samples, seed=1)
        np.testing.assert_array_equal(Xa, X)
        np.testing.assert_array_equal(Ya, Y)


def test_top_eigenpair_vectors_are_the_dense_top_eigenvectors_and_warm_starts_help():
    params, X, Y, spec = mlp("tanh", "softmax", "cross_entropy", 3, seed=1, scale=[1.0, 2.5])
    eigval, eigvec = np.linalg.eigh(dense_hessian(params, X, Y, spec))
    est = stability.top_eigenpair(params, X, Y, spec, tol=1e-8)
    assert set(est.vectors) == set(params)
    x = flat(est.vectors)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-12)
    overlap = np.abs(np.einsum("rp,rp->r", x, eigvec[:, :, -1]))
    assert np.all(overlap > 1 - 1e-4), overlap
    assert np.all(rel(est.values, eigval[:, -1]) < 1e-6)
    assert np.all((est.steps > 1) & (est.steps <= stability.DEFAULT_ITERS))
    # a few steps of training later, warm-started from the previous vectors
    grads = model.loss_and_grads(params, X, Y, spec)[1]
    moved = {k: v - 0.05 * grads[k] for k, v in params.items()}
    cold = stability.top_eigenpair(moved, X, Y, spec, tol=1e-8)
    warm = stability.top_eigenpair(moved, X, Y, spec, tol=1e-8, start=est.vectors)
    np.testing.assert_allclose(warm.values, cold.values, rtol=1e-6)
    assert warm.steps.sum() < cold.steps.sum(), (warm.steps, cold.steps)
    # an unusable start row (NaN, zero) falls back to the shared random start
    bad_start = {k: v.copy() for k, v in est.vectors.items()}
    bad_start["W1"][0] = np.nan
    for k in bad_start:
        bad_start[k][1] = 0.0
    fallback = stability.top_eigenpair(moved, X, Y, spec, tol=1e-8, start=bad_start)
    np.testing.assert_allclose(fallback.values, cold.values, rtol=1e-12)
    np.testing.assert_array_equal(fallback.steps, cold.steps)


def test_bytes_per_run_bounds_the_measured_peak():
    import tracemalloc

    params, X, Y, spec = mlp("tanh", "sigmoid", "bce", 1, seed=3, scale=[1.0, 1.5, 2.0, 2.5])
    X = np.repeat(X, 10, axis=0)
    Y = np.repeat(Y, 10, axis=0)
    tracemalloc.start()
    try:
        stability.sharpness(params, X, Y, spec, max_memory=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * 4 * stability.bytes_per_run(params, len(X))
