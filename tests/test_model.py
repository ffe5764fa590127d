"""lrdiag.model against independent computations: finite differences, the PyTorch loss formulas
(tests/reference.py, one network at a time), sampling statistics, and run-axis independence."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import reference as ref

from lrdiag import model

ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "identity"]
# (output, loss, output width)
HEADS = [
    ("sigmoid", "bce", 1),
    ("softmax", "cross_entropy", 3),
    ("identity", "mse", 2),
    ("sigmoid", "mse", 2),
    ("sigmoid", "cross_entropy", 3),  # tf.keras: softmax cross-entropy of the logits
]
SCHEMES = ["uniform01", "normal", "xavier", "he", "lecun"]
HIDDEN = (5, 4)
N_IN, N_SAMPLES = 3, 6
SCALES = np.array([0.5, 1.0, 1.5])  # one per run: R = 3
KINK_MARGIN = 1e-3  # hidden pre-activations stay this far from 0 (the ReLU kink)
FD_STEP = 1e-5
MAX_REL_ERR = 1e-6


def spec_for(activation, output, loss, hidden=HIDDEN):
    return SimpleNamespace(hidden=tuple(hidden), activation=activation, output=output, loss=loss)


def targets(rng, n, output, loss, k):
    if loss == "bce":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if output == "sigmoid":
        return rng.random((n, k))
    return rng.normal(size=(n, k))


def per_run(params, r):
    """Run r of a batched params dict as the reference's list of (W (in, out), b (out,))."""
    n_layers = len(params) // 2
    return [(params[f"W{i}"][r], params[f"b{i}"][r, 0]) for i in range(1, n_layers + 1)]


def random_problem(activation, output, loss, k, seed, hidden=HIDDEN):
    """Batched params (R = 3, every run its own weights times its own scale, nonzero biases)
    and data, drawn here so the gradient tests do not lean on init_params. For ReLU-like
    activations the draw is repeated until no hidden pre-activation is within KINK_MARGIN of
    the kink, so a finite-difference step cannot cross it."""
    sizes = [N_IN, *hidden, k]
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        X = rng.normal(size=(N_SAMPLES, N_IN))
        Y = targets(rng, N_SAMPLES, output, loss, k)
        params = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            W = rng.normal(size=(len(SCALES), fan_in, fan_out)) / np.sqrt(fan_in)
            params[f"W{i}"] = W * SCALES[:, None, None]
            params[f"b{i}"] = 0.3 * rng.normal(size=(len(SCALES), 1, fan_out))
        spec = spec_for(activation, output, loss, hidden)
        margin = min(
            np.min(np.abs(z))
            for r in range(len(SCALES))
            for z in ref.forward(per_run(params, r), X, activation)[0][:-1]
        )
        if activation not in ("relu", "leaky_relu") or margin > KINK_MARGIN:
            return params, X, Y, spec
    raise AssertionError("could not draw a problem away from the ReLU kink")


def rel_err(a, b):
    """||a - b|| / (||a|| + ||b||), the symmetric relative error of two arrays (0 if both 0)."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


@pytest.mark.parametrize(
    ("output", "loss", "k"), [("sigmoid", "bce", 1), ("softmax", "cross_entropy", 4)]
)
def test_soft_targets_equal_pytorchs_formulas(output, loss, k):
    """Probabilities as targets (label smoothing, distillation): PyTorch's BCELoss and
    CrossEntropyLoss take them, and so does lrdiag (lrdiag.data._soft_targets): each run's loss
    and gradients against the per-network reference's -t log p - (1 - t) log(1 - p) and
    -sum t log softmax."""
    params, X, _, spec = random_problem("tanh", output, loss, k, seed=23)
    rng = np.random.default_rng(24)
    if loss == "bce":
        Y = rng.random((N_SAMPLES, 1))
    else:
        Y = rng.dirichlet(np.ones(k), size=N_SAMPLES)
    values, grads = model.loss_and_grads(params, X, Y, spec)
    assert_equals_reference(params, X, Y, spec, values, grads)


def test_registries_hold_exactly_the_documented_choices():
    assert set(model.ACTIVATIONS) == set(ACTIVATIONS)
    assert set(model.INIT_SCHEMES) == set(SCHEMES)
    assert set(model.HEADS) == {(o, loss) for o, loss, _ in HEADS}


def test_layer_sizes():
    assert list(model.layer_sizes(3, [5, 4], 2)) == [3, 5, 4, 2]
    assert list(model.layer_sizes(7, [], 1)) == [7, 1]
    assert list(model.layer_sizes(2, (16,), 3)) == [2, 16, 3]


@pytest.mark.parametrize("output,loss,k", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_central_finite_differences(activation, output, loss, k):
    params, X, Y, spec = random_problem(activation, output, loss, k, seed=11)
    _, grads = model.loss_and_grads(params, X, Y, spec)
    assert set(grads) == set(params)
    for name, P in params.items():
        for r in range(P.shape[0]):
            numeric = np.zeros(P.shape[1:])
            for idx in np.ndindex(*P.shape[1:]):  # perturb one entry of one run
                old = P[(r, *idx)]
                P[(r, *idx)] = old + FD_STEP
                up = model.loss(params, X, Y, spec)[r]
                P[(r, *idx)] = old - FD_STEP
                down = model.loss(params, X, Y, spec)[r]
                P[(r, *idx)] = old
                numeric[idx] = (up - down) / (2 * FD_STEP)
            analytic = grads[name][r]
            err = rel_err(analytic, numeric)
            assert err < MAX_REL_ERR, f"{name} run {r}: relative error {err:.2e}"
            # and entry by entry, with a floor for entries that are ~0
            np.testing.assert_allclose(analytic, numeric, rtol=MAX_REL_ERR, atol=1e-9)


def assert_equals_reference(params, X, Y, spec, values, grads):
    """Each run's loss and gradients against the plain per-network reference."""
    for r in range(len(SCALES)):
        ref_value, ref_grads = ref.loss_and_grads(per_run(params, r), X, Y, spec)
        assert values[r] == pytest.approx(ref_value, rel=1e-12, abs=1e-300)
        for i, (dW, db) in enumerate(ref_grads, start=1):
            np.testing.assert_allclose(grads[f"W{i}"][r], dW, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(grads[f"b{i}"][r, 0], db, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("output,loss,k", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_grads_equal_the_per_network_reference(activation, output, loss, k):
    params, X, Y, spec = random_problem(activation, output, loss, k, seed=5)
    values, grads = model.loss_and_grads(params, X, Y, spec)
    plain = model.loss(params, X, Y, spec)
    assert values.shape == plain.shape == (len(SCALES),)
    np.testing.assert_allclose(values, plain, rtol=1e-13, atol=0)
    assert_equals_reference(params, X, Y, spec, values, grads)


@pytest.mark.parametrize("output,loss,k", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n_samples", [2, 9])  # 2: X too narrow to fold the bias into W1
def test_blocks_of_runs_and_a_reused_workspace_equal_the_reference(
    activation, output, loss, k, n_samples, monkeypatch
):
    """Runs processed in blocks (here one block per run), with one workspace reused across
    calls whose run count and batch size change, give each run the reference's gradients."""
    monkeypatch.setattr(model, "BLOCK_BYTES", 1)  # one run per block
    params, _, _, spec = random_problem(activation, output, loss, k, seed=7)
    rng = np.random.default_rng(n_samples)
    X = rng.normal(size=(n_samples, N_IN))
    Y = targets(rng, n_samples, output, loss, k)
    ws = model.Workspace()
    for runs, rows in [([0, 1, 2], n_samples), ([0, 2], n_samples), ([0, 2], 1), ([1], 2)]:
        sub = {name: P[runs] for name, P in params.items()}
        values, grads = model.loss_and_grads(sub, X[:rows], Y[:rows], spec, ws)
        for j, r in enumerate(runs):
            ref_value, ref_grads = ref.loss_and_grads(per_run(params, r), X[:rows], Y[:rows], spec)
            assert values[j] == pytest.approx(ref_value, rel=1e-12, abs=1e-300)
            for i, (dW, db) in enumerate(ref_grads, start=1):
                np.testing.assert_allclose(grads[f"W{i}"][j], dW, rtol=1e-10, atol=1e-14)
                np.testing.assert_allclose(grads[f"b{i}"][j, 0], db, rtol=1e-10, atol=1e-14)


def test_leaky_relu_uses_pytorch_default_slope():
    """A linear model would hide it: one hidden unit, negative pre-activation, identity head."""
    params = {
        "W1": np.array([[[1.0]]]),
        "b1": np.array([[[0.0]]]),
        "W2": np.array([[[1.0]]]),
        "b2": np.array([[[0.0]]]),
    }
    X, Y = np.array([[-2.0]]), np.array([[0.0]])
    value = model.loss(params, X, Y, spec_for("leaky_relu", "identity", "mse", hidden=(1,)))
    assert value[0] == pytest.approx((ref.LEAKY_SLOPE * -2.0) ** 2, rel=1e-15)


def one_layer(W):
    """hidden = []: logits are X @ W (biases 0), one run."""
    W = np.asarray(W, dtype=np.float64)
    return {"W1": W[None], "b1": np.zeros((1, 1, W.shape[1]))}


@pytest.mark.parametrize("big", [50.0, 800.0, 1e5, 1e300])
def test_bce_is_stable_for_huge_logits(big):
    """Confidently wrong and confidently right logits: finite, exact, no warning."""
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])  # first two wrong by `big`, last two right
    params = one_layer([[big]])
    spec = spec_for("identity", "sigmoid", "bce", hidden=())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grads = model.loss_and_grads(params, X, Y, spec)
        plain = model.loss(params, X, Y, spec)
    z = X @ params["W1"][0]
    expected = ref.head_loss_exact(z, Y, "sigmoid", "bce")  # = (2 * big + 2 log1p(e^-big)) / 4
    assert np.isfinite(value[0]) and value[0] == pytest.approx(expected, rel=1e-12)
    assert plain[0] == pytest.approx(expected, rel=1e-12)
    # d/dz = (sigmoid(z) - y) / n: +-1/4 on the wrong rows, ~0 on the right ones
    dz = np.array([[0.25], [-0.25], [0.0], [0.0]])
    if big < 100:
        dz[2:] = np.array([[-1.0], [1.0]]) / (1 + np.exp(big)) / 4
    np.testing.assert_allclose(grads["W1"][0], X.T @ dz, rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(grads["W1"])) and np.all(np.isfinite(grads["b1"]))


@pytest.mark.parametrize("big", [50.0, 800.0, 1e5, 1e300])
def test_cross_entropy_is_stable_for_huge_logits(big):
    X = np.array([[1.0], [-1.0], [1.0]])
    Y = np.eye(3)[[1, 2, 0]]  # row 0: the huge logit is class 0, label 1 -> loss ~ big
    params = one_layer([[big, 0.0, -big]])
    spec = spec_for("identity", "softmax", "cross_entropy", hidden=())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grads = model.loss_and_grads(params, X, Y, spec)
        plain = model.loss(params, X, Y, spec)
    z = X @ params["W1"][0]
    expected = ref.head_loss_exact(z, Y, "softmax", "cross_entropy")
    assert np.isfinite(value[0]) and value[0] == pytest.approx(expected, rel=1e-12)
    assert plain[0] == pytest.approx(expected, rel=1e-12)
    assert np.all(np.isfinite(grads["W1"])) and np.all(np.isfinite(grads["b1"]))
    with np.errstate(all="ignore"):
        dz = ref.head_grad(z, Y, "softmax", "cross_entropy")
    np.testing.assert_allclose(grads["W1"][0], X.T @ dz, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", [(), (5,), (5, 4)])
def test_init_promises_the_shapes_loss_and_grads_return(hidden, dtype):
    sizes = model.layer_sizes(N_IN, hidden, 2)
    R = 3
    params = model.init_params(sizes, "xavier", np.ones(R), np.arange(R), dtype)
    n_layers = len(hidden) + 1
    assert set(params) == {f"{p}{i}" for p in "Wb" for i in range(1, n_layers + 1)}
    for i in range(1, n_layers + 1):
        assert params[f"W{i}"].shape == (R, sizes[i - 1], sizes[i])
        assert params[f"b{i}"].shape == (R, 1, sizes[i])
        assert params[f"W{i}"].dtype == params[f"b{i}"].dtype == dtype
        assert not np.any(params[f"b{i}"])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_IN)).astype(dtype)
    Y = rng.normal(size=(N_SAMPLES, 2)).astype(dtype)
    spec = spec_for("tanh", "identity", "mse", hidden)
    values, grads = model.loss_and_grads(params, X, Y, spec)
    assert values.shape == model.loss(params, X, Y, spec).shape == (R,)
    assert set(grads) == set(params)
    for name, P in params.items():
        assert grads[name].shape == P.shape, name
        assert grads[name].dtype == P.dtype, name


def expected_std(scheme, fan_in, fan_out):
    return {
        "normal": 1.0,
        "xavier": np.sqrt(2.0 / (fan_in + fan_out)),
        "he": np.sqrt(2.0 / fan_in),
        "lecun": np.sqrt(1.0 / fan_in),
    }[scheme]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_init_statistics(scheme):
    """Sample moments of a large layer within sampling error of the scheme's distribution;
    W1 (600, 300) and W2 (300, 100) tell fan_in from fan_out; normals are untruncated."""
    sizes = [600, 300, 100]
    params = model.init_params(sizes, scheme, np.ones(2), np.array([0, 1]), np.float64)
    for i in (1, 2):
        W = params[f"W{i}"]
        fan_in, fan_out = sizes[i - 1], sizes[i]
        for r in range(2):
            w = W[r].ravel()
            n = w.size
            if scheme == "uniform01":
                assert w.min() >= 0.0 and w.max() < 1.0
                assert abs(w.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
                assert w.var() == pytest.approx(1 / 12, rel=5 * np.sqrt(0.8 / n))  # var of var
                # roughly flat: each tenth of [0, 1) holds ~10%
                counts = np.histogram(w, bins=10, range=(0, 1))[0] / n
                np.testing.assert_allclose(counts, 0.1, atol=5 * np.sqrt(0.09 / n))
                continue
            sd = expected_std(scheme, fan_in, fan_out)
            assert abs(w.mean()) < 5 * sd / np.sqrt(n), f"W{i} mean"
            assert w.std() == pytest.approx(sd, rel=5 / np.sqrt(2 * n)), f"W{i} std"
            # untruncated: the tails are there (P(|x| > 2 sd) = 4.55%, and the max of n
            # normals is beyond 3.5 sd with probability ~1 - 1e-10 here)
            beyond2 = np.mean(np.abs(w) > 2 * sd)
            assert beyond2 == pytest.approx(0.0455, abs=5 * np.sqrt(0.0455 / n))
            assert np.max(np.abs(w)) > 3.5 * sd


@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_seed_same_draws_whatever_the_scale_or_the_batch(scheme):
    sizes = [4, 6, 3]
    scales = np.array([1.0, 3.0, 1.0, 0.25])
    seeds = np.array([7, 7, 8, 8])
    params = model.init_params(sizes, scheme, scales, seeds, np.float64)
    for i in (1, 2):
        W = params[f"W{i}"]
        np.testing.assert_array_equal(W[1], 3.0 * W[0])  # scale 3 is exactly 3 x scale 1
        np.testing.assert_array_equal(W[3], 0.25 * W[2])
        assert not np.any(W[0] == W[2]), "different seeds must draw different weights"
        assert not np.allclose(W[0], W[0][0, 0]), "weights must not be constant"
    # a run's draws do not depend on which other runs share the call (chunking relies on it)
    alone = model.init_params(sizes, scheme, np.array([0.25]), np.array([8]), np.float64)
    reordered = model.init_params(sizes, scheme, scales[::-1], seeds[::-1], np.float64)
    for name in params:
        np.testing.assert_array_equal(alone[name][0], params[name][3])
        np.testing.assert_array_equal(reordered[name], params[name][::-1])
    # and the layers of one seed are not copies of each other's leading block
    assert not np.array_equal(params["W1"][0][:3, :3], params["W2"][0][:3, :3])


def test_float32_init_is_the_float64_draw_rounded():
    sizes = [4, 6, 3]
    p32 = model.init_params(sizes, "he", np.array([2.0]), np.array([3]), np.float32)
    p64 = model.init_params(sizes, "he", np.array([2.0]), np.array([3]), np.float64)
    for name in p32:
        assert p32[name].dtype == np.float32
        np.testing.assert_allclose(p32[name], p64[name], rtol=1e-6, atol=0)


@pytest.mark.parametrize("output,loss,k", HEADS)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_runs_are_independent(activation, output, loss, k):
    """Changing run 1's weights, or making them NaN / inf, leaves runs 0 and 2 bit for bit
    unchanged: nothing reduces or mixes along axis 0."""
    params, X, Y, spec = random_problem(activation, output, loss, k, seed=3)
    base_loss, base_grads = model.loss_and_grads(params, X, Y, spec)
    base_plain = model.loss(params, X, Y, spec)  # its own products: equal to rounding
    rng = np.random.default_rng(99)
    for poison in ("random", np.nan, np.inf, 1e300):
        other = {name: P.copy() for name, P in params.items()}
        for name in other:
            if poison == "random":
                other[name][1] = 10 * rng.normal(size=other[name][1].shape)
            else:
                other[name][1] = poison
        with np.errstate(all="ignore"):
            values, grads = model.loss_and_grads(other, X, Y, spec)
            plain = model.loss(other, X, Y, spec)
        keep = [0, 2]
        np.testing.assert_array_equal(values[keep], base_loss[keep])
        np.testing.assert_array_equal(plain[keep], base_plain[keep])
        for name in params:
            np.testing.assert_array_equal(grads[name][keep], base_grads[name][keep])
        if poison is np.nan:
            assert np.isnan(values[1])


def test_sigmoid_with_cross_entropy_is_what_tf_keras_computes():
    # tf.keras's categorical_crossentropy on a sigmoid output uses the cached logits
    # (_keras_logits): softmax cross-entropy of z, written out here per sample
    rng = np.random.default_rng(7)
    z = 40.0 * rng.normal(size=(2, 9, 4))  # (R, B, k): large logits, as on raw pixels
    labels = rng.integers(0, 4, size=9)
    Y = np.eye(4)[labels]
    spec = spec_for("identity", "sigmoid", "cross_entropy")
    expected = []
    for r in range(2):
        per_sample = [
            max(z[r, i]) + np.log(sum(np.exp(v - max(z[r, i])) for v in z[r, i])) - z[r, i, y]
            for i, y in enumerate(labels)
        ]
        expected.append(sum(per_sample) / len(per_sample))
    head = model.head_for(spec)
    np.testing.assert_allclose(head.loss(z, Y), expected, rtol=1e-12)
    # not the cross-entropy of the sigmoid's outputs, which would be far smaller here
    sigmoid_ce = -(Y * np.log(1 / (1 + np.exp(-z)))).sum(axis=-1).mean(axis=-1)
    assert np.all(np.abs(head.loss(z, Y) - sigmoid_ce) > 1)
    # predictions go through the sigmoid
    np.testing.assert_allclose(head.predict(z), 1 / (1 + np.exp(-z)), rtol=1e-9, atol=1e-15)


def transposed_in_memory(a):
    return not a.flags.c_contiguous and np.swapaxes(a, -1, -2).flags.c_contiguous


@pytest.mark.parametrize("output,loss,k", [HEADS[0], HEADS[1]])  # one output, and three
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("block_bytes", [1, model.BLOCK_BYTES])  # one run per block, all
def test_a_wide_first_layer_stored_transposed_gives_the_reference(
    activation, output, loss, k, block_bytes, monkeypatch
):
    """X wider than the batch (in + 1 >= B) and W1 laid out by training_layout: the first
    layer of a block is one product over all its runs; every run still gets the reference's
    loss and gradients, and W1's gradient comes back in W1's layout."""
    monkeypatch.setattr(model, "BLOCK_BYTES", block_bytes)
    params, _, _, spec = random_problem(activation, output, loss, k, seed=11)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3, N_IN))  # in + 1 = 4 >= 3 rows: no bias fold
    Y = targets(rng, 3, output, loss, k)
    laid = model.training_layout(params, len(X))
    assert transposed_in_memory(laid["W1"]) and model.wide_first_layer(laid, len(X))
    ws = model.Workspace()
    for _ in range(2):  # the workspace reused
        values, grads = model.loss_and_grads(laid, X, Y, spec, ws)
    assert transposed_in_memory(grads["W1"])
    assert_equals_reference(params, X, Y, spec, values, grads)


def test_training_layout_only_where_the_first_layer_is_wider_than_the_batch():
    params, _, _, _ = random_problem("tanh", "sigmoid", "bce", 1, seed=1)
    assert model.training_layout(params, N_IN + 2) is params  # narrow X: the bias folds
    assert model.training_layout(one_layer(np.ones((N_IN, 2))), 1)["W1"].flags.c_contiguous
    assert not model.wide_first_layer(params, N_IN)  # stored (R, in, out): batched products


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n_samples", [2, 9])  # the first layer with and without its bias folded
def test_one_hidden_layer_and_one_output_give_the_reference(activation, n_samples):
    """The one-output layer's weights reach the first layer's gradients per column (W3-shaped
    networks: in-H-1), with the bias folded into the first product or not."""
    params, _, _, spec = random_problem(activation, "sigmoid", "bce", 1, seed=5, hidden=(4,))
    rng = np.random.default_rng(n_samples)
    X = rng.normal(size=(n_samples, N_IN))
    Y = targets(rng, n_samples, "sigmoid", "bce", 1)
    values, grads = model.loss_and_grads(params, X, Y, spec)
    assert_equals_reference(params, X, Y, spec, values, grads)
