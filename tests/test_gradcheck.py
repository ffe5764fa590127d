"""lrdiag.gradcheck: each planted bug gets its verdict; correct models pass; contracts hold.

The correct models here are written out in the test (not lrdiag's model), and every bug module
in tests/data/gradcheck/ plants exactly one bug in an otherwise correct hand-written MLP.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrdiag import gradcheck
from lrdiag.errors import InputError
from lrdiag.gradcheck import check_gradients, check_module, load_user_module

ROOT = Path(__file__).resolve().parent.parent
MODULES = Path(__file__).resolve().parent / "data" / "gradcheck"
EXAMPLE_IN_PLACE = ROOT / "examples" / "fd_in_place.py"  # the second question's code


def verdicts(result) -> dict[str, str]:
    return {p.name: p.verdict for p in result.parameters}


def by_name(result, name: str):
    return next(p for p in result.parameters if p.name == name)


# --------------------------------------------------------------------------- an independent MLP

ACTIVATIONS = {  # f(z), f'(z)
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (
        lambda z: 1 / (1 + np.exp(-z)),
        lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
    ),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "identity": (lambda z: z, np.ones_like),
}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# (output, loss) -> (n_outputs, targets from rng, loss(logits, Y), dloss/dlogits(logits, Y))
HEADS = {
    ("sigmoid", "bce"): (
        1,
        lambda rng, m: (rng.random((m, 1)) < 0.5).astype(float),
        lambda z, y: np.mean(np.logaddexp(0, z) - y * z),
        lambda z, y: (_sigmoid(z) - y) / len(y),
    ),
    ("softmax", "cross_entropy"): (
        3,
        lambda rng, m: np.eye(3)[rng.integers(0, 3, m)],
        lambda z, y: np.mean(
            -np.sum(y * (z - z.max(1, keepdims=True)), axis=1)
            + np.log(np.sum(np.exp(z - z.max(1, keepdims=True)), axis=1))
        ),
        lambda z, y: (_softmax(z) - y) / len(y),
    ),
    ("identity", "mse"): (
        2,
        lambda rng, m: rng.standard_normal((m, 2)),
        lambda z, y: np.mean((z - y) ** 2),
        lambda z, y: 2 * (z - y) / y.size,
    ),
    ("sigmoid", "mse"): (
        2,
        lambda rng, m: rng.random((m, 2)),
        lambda z, y: np.mean((_sigmoid(z) - y) ** 2),
        lambda z, y: 2 * (_sigmoid(z) - y) * _sigmoid(z) * (1 - _sigmoid(z)) / y.size,
    ),
}


def make_mlp(activation="tanh", head=("sigmoid", "bce"), sizes=(3, 6, 5), m=32, seed=0):
    """A correct MLP: (loss_fn, grad_fn, params, m), hidden layers of `activation`."""
    f, df = ACTIVATIONS[activation]
    n_out, targets, loss_of, dlogits = HEADS[head]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, sizes[0]))
    Y = targets(rng, m)
    sizes = (*sizes, n_out)
    params = {}
    for i in range(1, len(sizes)):
        params[f"W{i}"] = rng.standard_normal((sizes[i - 1], sizes[i])) / np.sqrt(sizes[i - 1])
        params[f"b{i}"] = 0.1 * rng.standard_normal((1, sizes[i]))
    L = len(sizes) - 1

    def forward(p):
        a, zs, acts = X, [], [X]
        for i in range(1, L + 1):
            z = a @ p[f"W{i}"] + p[f"b{i}"]
            zs.append(z)
            a = f(z) if i < L else z
            acts.append(a)
        return zs, acts

    def loss_fn(p):
        zs, _ = forward(p)
        return loss_of(zs[-1], Y)

    def grad_fn(p):
        zs, acts = forward(p)
        delta = dlogits(zs[-1], Y)
        g = {}
        for i in range(L, 0, -1):
            g[f"W{i}"] = acts[i - 1].T @ delta
            g[f"b{i}"] = delta.sum(axis=0, keepdims=True)
            if i > 1:
                delta = (delta @ p[f"W{i}"].T) * df(zs[i - 2])
        return g

    return loss_fn, grad_fn, params, m


@pytest.mark.parametrize("head", list(HEADS), ids=lambda h: "+".join(h))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_correct_model_passes_at_every_activation_and_loss(activation, head):
    loss_fn, grad_fn, params, m = make_mlp(activation, head)
    result = check_gradients(loss_fn, grad_fn, params, n_samples=m)
    assert result.ok, [p.message for p in result.parameters if not p.ok]
    for p in result.parameters:
        assert p.skipped == 0  # smooth at random points: nothing skipped
        assert p.checked == min(int(np.prod(p.shape)), gradcheck.DEFAULT_SAMPLES)
        assert p.max_rel_error < 1e-5
        assert p.cosine == pytest.approx(1, abs=1e-9)
        assert p.scale == pytest.approx(1, rel=1e-6)


# --------------------------------------------------------------------------- planted bugs


def test_correct_module_is_ok():
    result = check_module(MODULES / "correct.py")
    assert result.ok
    assert set(verdicts(result).values()) == {"ok"}
    assert result.warnings == ()


@pytest.mark.parametrize("module", ["sign_flipped.py", "fd_sign_flipped.py"])
def test_flipped_sign_is_sign_flipped(module):
    result = check_module(MODULES / module)
    assert not result.ok
    assert set(verdicts(result).values()) == {"sign_flipped"}
    for p in result.parameters:
        assert p.cosine == pytest.approx(-1, abs=1e-6)
        assert p.scale == pytest.approx(-1, rel=1e-4)
        assert "sign is flipped" in p.message


def test_missing_one_over_m_is_scaled_by_m():
    result = check_module(MODULES / "sum_not_mean.py")
    assert set(verdicts(result).values()) == {"scaled"}
    for p in result.parameters:
        assert p.scale == pytest.approx(64, rel=1e-6)
        assert "off by a factor of 64: a sum where a mean was meant?" in p.message


def test_sum_for_mean_names_the_sample_count_when_given():
    loss_fn, grad_fn, params = load_user_module(MODULES / "sum_not_mean.py")
    result = check_gradients(loss_fn, grad_fn, params, n_samples=64)
    for p in result.parameters:
        assert p.verdict == "scaled"
        assert "off by a factor of 64: a sum where a mean was meant? (there are 64 samples)" in (
            p.message
        )


def test_bias_summed_over_all_axes_is_wrong_shape_and_says_it_broadcasts():
    result = check_module(MODULES / "bias_all_axes.py")
    assert verdicts(result) == {"W1": "ok", "b1": "wrong_shape", "W2": "ok", "b2": "ok"}
    b1 = by_name(result, "b1")
    assert b1.shape == (1, 8)
    assert b1.grad_shape == ()
    for text in ("()", "(1, 8)", "broadcasts the same value to all 8 entries", "sample axis"):
        assert text in b1.message
    assert b1.checked == 8  # the broadcast update is still compared
    assert b1.cosine < 0.9


def test_bias_hint_follows_the_codes_layout_samples_in_columns():
    # the first question: dZ1 is (128, 200), b1 is (128, 1); np.sum(dZ1, keepdims=True) is (1, 1)
    result = check_module(MODULES / "bias_columns.py")
    assert verdicts(result) == {"W1": "ok", "b1": "wrong_shape", "W2": "ok", "b2": "ok"}
    b1 = by_name(result, "b1")
    assert (b1.shape, b1.grad_shape) == ((128, 1), (1, 1))
    assert "use .sum(axis=1, keepdims=True) (samples in columns), which gives (128, 1)" in (
        b1.message
    )
    assert "axis=0" not in b1.message
    # and the hint's own fix, computed here, is the numerical gradient's shape
    dZ1 = np.ones((128, 200))
    assert dZ1.sum(axis=1, keepdims=True).shape == b1.shape


def test_bias_summed_over_the_units_axis_is_named():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 20))  # samples in columns
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal((4, 1))}

    def loss(p):
        return float(np.mean((p["W"] @ X + p["b"]) ** 2))

    def grad(p):
        dZ = 2 * (p["W"] @ X + p["b"]) / (4 * 20)  # (4, 20)
        return {"W": dZ @ X.T, "b": dZ.sum(axis=0, keepdims=True)}  # BUG: (1, 20)

    b = by_name(check_gradients(loss, grad, params), "b")
    assert b.verdict == "wrong_shape"
    assert "summed over the units' axis, not the samples' (use .sum(axis=1, keepdims=True)" in (
        b.message
    )


@pytest.mark.parametrize(
    ("shape", "shapes", "axis"),
    [
        ((1, 8), {}, 0),
        ((8, 1), {}, 1),
        ((8,), {"W1": (8, 3)}, 1),  # W @ X: samples in columns
        ((8,), {"W1": (3, 8)}, 0),  # X @ W: samples in rows
        ((1, 1), {"b1": (16, 1)}, 1),  # an output bias takes the other biases' layout
        ((8,), {"W1": (8, 8)}, None),  # square: the shapes do not tell
    ],
)
def test_sample_axis_is_read_from_the_shapes(shape, shapes, axis):
    assert gradcheck.diagnosis._sample_axis(shape, {**shapes, "b": shape}) == axis


def test_broken_tanh_derivative_is_wrong_in_the_layers_below():
    result = check_module(MODULES / "tanh_derivative.py")
    assert verdicts(result) == {"W1": "wrong", "b1": "wrong", "W2": "ok", "b2": "ok"}
    assert "disagree" in by_name(result, "W1").message


def test_non_finite_gradient_is_not_finite():
    result = check_module(MODULES / "not_finite.py")
    assert set(verdicts(result).values()) == {"not_finite"}
    assert "grad['W1'] is NaN or inf at 16 entries" in by_name(result, "W1").message
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)  # strict JSON: NaN metrics became null
    assert doc["parameters"][0]["max_rel_error"] is None


def test_non_finite_loss_is_not_finite():
    loss_fn, grad_fn, params, _ = make_mlp()
    result = check_gradients(lambda p: np.inf, grad_fn, params)
    assert set(verdicts(result).values()) == {"not_finite"}
    assert "the loss is inf" in result.parameters[0].message


def test_loss_ignoring_its_argument_is_wrong_with_a_hint():
    loss_fn, grad_fn, params, _ = make_mlp()
    frozen = {k: v.copy() for k, v in params.items()}
    result = check_gradients(lambda p: loss_fn(frozen), grad_fn, params)
    assert set(verdicts(result).values()) == {"wrong"}
    assert "does loss() use its params argument" in result.parameters[0].message


# --------------------------------------------------------------------------- verdict rules


@settings(max_examples=40, deadline=None)
@given(
    k=st.floats(-50, 50).filter(lambda k: abs(abs(k) - 1) > 0.05 and abs(k) > 0.05),
    seed=st.integers(0, 2**16),
)
def test_a_scaled_gradient_is_scaled_or_sign_flipped(k, seed):
    c = np.random.default_rng(seed).standard_normal((4, 5))

    def loss_fn(p):
        return float(np.sum(c * p["w"]) + 0.5 * np.sum(p["w"] ** 2))

    def grad_fn(p):
        return {"w": k * (c + p["w"])}

    params = {"w": np.random.default_rng(seed + 1).standard_normal((4, 5))}
    p = check_gradients(loss_fn, grad_fn, params).parameters[0]
    assert p.scale == pytest.approx(k, rel=1e-6)
    assert p.verdict == ("sign_flipped" if k < 0 else "scaled")
    assert "off by a factor" in p.message or k == pytest.approx(-1, abs=gradcheck.SCALE_TOL)


@pytest.mark.parametrize(
    ("k", "n_samples", "text"),
    [
        (2.0, None, "a lost or extra 2"),
        (0.5, None, "a lost or extra 2"),
        (1 / 32, 32, "divided by the number of samples (32) once too often"),
        (1 / 32, None, "off by a factor of 0.03125 (1/32): a mean where a sum was meant?"),
        (7.3, None, "off by a factor of 7.3 "),
    ],
)
def test_scale_hints(k, n_samples, text):
    loss_fn, grad_fn, params, _ = make_mlp()
    result = check_gradients(
        loss_fn, lambda p: {n: k * g for n, g in grad_fn(p).items()}, params, n_samples=n_samples
    )
    assert set(verdicts(result).values()) == {"scaled"}
    assert text in result.parameters[0].message


def test_a_single_wrong_entry_is_caught():
    loss_fn, grad_fn, params, _ = make_mlp()

    def bad(p):
        g = grad_fn(p)
        g["W2"][1, 2] *= 1.01
        return g

    result = check_gradients(loss_fn, bad, params)
    assert verdicts(result)["W2"] == "wrong"
    assert "disagree at 1 of 30" in by_name(result, "W2").message
    assert all(p.ok for p in result.parameters if p.name != "W2")


@pytest.mark.parametrize(
    ("name", "fix", "texts", "checked"),
    [
        # a transposed weight gradient: (5, 6) for W2 (6, 5)
        ("W2", lambda g: g.T, ["(5, 6)", "(6, 5)", "raises ValueError", "transposed"], 30),
        # the same values in a flat shape that broadcasts into (1, 5): flagged, values right
        ("b2", lambda g: g.reshape(-1), ["(5,)", "right shape", "values match"], 5),
        # a column (5, 1) for a (1, 5) row: they broadcast to (5, 5)
        ("b2", lambda g: g.reshape(-1, 1), ["(5, 5)", "silently turns b2 into"], 5),
        # fewer entries, not broadcastable: nothing to compare
        ("b2", lambda g: g[:, :3], ["(1, 3)", "do not broadcast"], 0),
    ],
)
def test_wrong_shapes_say_what_broadcasting_does(name, fix, texts, checked):
    loss_fn, grad_fn, params, _ = make_mlp(sizes=(3, 6, 5), head=("identity", "mse"))

    def bad_grad(p):
        g = grad_fn(p)
        return {**g, name: fix(g[name])}

    result = check_gradients(loss_fn, bad_grad, params)
    p = by_name(result, name)
    assert p.verdict == "wrong_shape"
    for text in texts:
        assert text in p.message
    assert p.checked == checked
    assert all(q.ok for q in result.parameters if q.name != name)


def test_a_transposed_gradient_is_compared_transposed():
    """A weight gradient of the transposed shape (dW computed as dZ.T @ X): its transpose is
    the right gradient, so the values are compared as `W -= lr * g.T` would apply them and
    match; read in the other shape, the same memory is another matrix and would not."""
    loss_fn, grad_fn, params, _ = make_mlp(sizes=(3, 6, 5), head=("identity", "mse"))
    result = check_gradients(loss_fn, lambda p: {**grad_fn(p), "W2": grad_fn(p)["W2"].T}, params)
    p = by_name(result, "W2")
    assert p.verdict == "wrong_shape"
    assert "compared transposed; its values match the numerical gradient" in p.message
    assert p.cosine == pytest.approx(1.0) and p.checked == 30
    g = grad_fn(params)["W2"]
    reread = g.T.reshape(g.shape).ravel()  # what comparing reshaped compared
    assert abs(reread @ g.ravel()) / (np.linalg.norm(g) ** 2) < 0.99


def test_scalar_bias_gradient_message():
    loss_fn, grad_fn, params, _ = make_mlp()
    result = check_gradients(
        loss_fn, lambda p: {**grad_fn(p), "b1": grad_fn(p)["b1"].sum()}, params
    )
    p = by_name(result, "b1")
    assert p.verdict == "wrong_shape"
    assert "broadcasts the same value to all 6 entries" in p.message


# --------------------------------------------------------------------------- kinks, sampling


def test_relu_kink_entries_are_skipped_not_wrong():
    rng = np.random.default_rng(4)
    params = {
        "W1": rng.standard_normal((2, 4)),
        "b1": 0.1 * rng.standard_normal((1, 4)),
        "W2": rng.standard_normal((4, 1)),
        "b2": np.zeros((1, 1)),
    }
    # Hidden unit 0's pre-activation is exactly 0 on sample 0: [1, 2] . [2, -1] + 0 = 0.
    params["W1"][:, 0] = [2.0, -1.0]
    params["b1"][0, 0] = 0.0
    loss_fn, grad_fn, params = _with_first_sample(np.array([1.0, 2.0]), params)
    result = check_gradients(loss_fn, grad_fn, params)
    assert result.ok, [p.message for p in result.parameters]
    assert by_name(result, "W1").skipped == 2  # W1[0, 0] and W1[1, 0]
    assert by_name(result, "b1").skipped == 1  # b1[0, 0]
    assert by_name(result, "W2").skipped == 0
    assert "kink" in by_name(result, "W1").message


def _with_first_sample(x0, params):
    """A one-hidden-layer ReLU/sigmoid/bce MLP whose first sample is x0."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((16, 2))
    X[0] = x0
    Y = (rng.random((16, 1)) < 0.5).astype(float)
    params = {k: v.copy() for k, v in params.items()}

    def forward(p):
        z1 = X @ p["W1"] + p["b1"]
        a1 = np.maximum(z1, 0)
        return z1, a1, a1 @ p["W2"] + p["b2"]

    def loss_fn(p):
        z2 = forward(p)[2]
        return np.mean(np.logaddexp(0, z2) - Y * z2)

    def grad_fn(p):
        z1, a1, z2 = forward(p)
        d2 = (_sigmoid(z2) - Y) / len(Y)
        d1 = (d2 @ p["W2"].T) * (z1 > 0)
        return {
            "W1": X.T @ d1,
            "b1": d1.sum(axis=0, keepdims=True),
            "W2": a1.T @ d2,
            "b2": d2.sum(axis=0, keepdims=True),
        }

    assert (X @ params["W1"] + params["b1"])[0, 0] == 0.0
    return loss_fn, grad_fn, params


def test_a_784_by_128_matrix_is_sampled_and_takes_seconds():
    rng = np.random.default_rng(0)
    m = 32
    X = rng.standard_normal((m, 784))
    Y = (rng.random((m, 1)) < 0.5).astype(float)
    params = {
        "W1": rng.standard_normal((784, 128)) / 28,
        "b1": np.zeros((1, 128)),
        "W2": rng.standard_normal((128, 1)) / 11,
        "b2": np.zeros((1, 1)),
    }
    probed, whole, calls = [], [], []

    def loss_fn(p):
        calls.append(1)
        changed = np.flatnonzero(p["W1"] != params["W1"])
        if changed.size == 1:  # an entry probe
            probed.extend(changed.tolist())
        elif changed.size:  # a directional probe: every entry moves
            whole.append(changed.size)
        z = np.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return np.mean(np.logaddexp(0, z) - Y * z)

    def grad_fn(p):
        a = np.tanh(X @ p["W1"] + p["b1"])
        d2 = (_sigmoid(a @ p["W2"] + p["b2"]) - Y) / m
        d1 = (d2 @ p["W2"].T) * (1 - a**2)
        return {
            "W1": X.T @ d1,
            "b1": d1.sum(0, keepdims=True),
            "W2": a.T @ d2,
            "b2": d2.sum(0, keepdims=True),
        }

    result = check_gradients(loss_fn, grad_fn, params, samples=40, seed=3)
    # seconds, not minutes: a few loss evaluations per probed entry (at most 40 per parameter,
    # 121 in all) and per direction (W1, b1 and W2 are sampled), not two per entry of the
    # 100,352 in W1
    assert len(calls) <= 4 * 121 + 4 * 3 * gradcheck.DIRECTIONS + 10
    w1 = by_name(result, "W1")
    assert w1.ok and w1.checked + w1.skipped == 40
    largest = int(np.argmax(np.abs(grad_fn(params)["W1"])))
    assert largest in probed  # the largest-gradient entries are always among the probes
    assert len(set(probed)) == 40
    # and W1 as a whole, along each direction: 2 evaluations (4 with the smaller step)
    assert 2 * gradcheck.DIRECTIONS <= len(whole) <= 4 * gradcheck.DIRECTIONS
    assert set(whole) == {784 * 128}
    assert w1.directions == gradcheck.DIRECTIONS
    assert w1.directional_rel_error < gradcheck.REL_TOL


def test_the_sample_is_seeded():
    loss_fn, grad_fn, params, _ = make_mlp(sizes=(20, 30))
    a = check_gradients(loss_fn, grad_fn, params, samples=10, seed=1)
    b = check_gradients(loss_fn, grad_fn, params, samples=10, seed=1)
    assert a == b


def test_samples_must_be_positive():
    loss_fn, grad_fn, params, _ = make_mlp()
    with pytest.raises(ValueError, match="samples"):
        check_gradients(loss_fn, grad_fn, params, samples=0)


# --------------------------------------------------------------------------- the whole parameter

ROW = 123  # embedding_repeated_index.py: token 123 occurs twice, so row 123 of E is wrong


def _entry_probes(loss_fn, base, name):
    """loss_fn, recording the flat index of `name` that each single-entry probe changes."""
    probed = []

    def watching(p):
        changed = np.flatnonzero(p[name] != base[name])
        if changed.size == 1:
            probed.append(int(changed[0]))
        return loss_fn(p)

    return watching, probed


def test_a_wrong_row_outside_the_sample_is_wrong(monkeypatch):
    loss_fn, grad_fn, params = load_user_module(MODULES / "embedding_repeated_index.py")
    row = set(range(ROW * 200, (ROW + 1) * 200))  # E is 300 x 200
    outside = []
    for seed in range(8):
        watching, probed = _entry_probes(loss_fn, params, "E")
        result = check_gradients(watching, grad_fn, params, seed=seed)
        assert verdicts(result) == {"E": "wrong", "w": "ok", "b": "ok"}, seed
        assert len(set(probed)) == gradcheck.DEFAULT_SAMPLES
        e = by_name(result, "E")
        assert e.directions == gradcheck.DIRECTIONS
        if not row & set(probed):  # no sampled entry is in the wrong row
            outside.append(seed)
            for text in ("entries outside the sample disagree", "--samples 60000"):
                assert text in e.message
            assert e.directional_rel_error > 100 * gradcheck.REL_TOL
    assert len(outside) >= 4  # the row is missed by most samples of 48
    # the entry check alone passes it: the bug is only visible to the directional check
    monkeypatch.setattr(gradcheck.finite, "DIRECTIONS", 0)
    e = by_name(check_gradients(loss_fn, grad_fn, params, seed=outside[0]), "E")
    assert e.verdict == "ok"
    assert e.directions == 0 and e.message.startswith("analytic and numerical gradients agree")


def _dense_784(activation="tanh", m=32, seed=0, dtype=np.float64):
    """784 -> 128 -> 1 sigmoid/bce (loss, grad, params); computes in `dtype`."""
    f, df = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 784)).astype(dtype)
    Y = (rng.random((m, 1)) < 0.5).astype(dtype)
    params = {
        "W1": rng.standard_normal((784, 128)) / 28,
        "b1": 0.1 * rng.standard_normal((1, 128)),
        "W2": rng.standard_normal((128, 1)) / 11,
        "b2": np.zeros((1, 1)),
    }

    def cast(p):
        return {k: v.astype(dtype) for k, v in p.items()}

    def loss_fn(p):
        p = cast(p)
        z = f(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        return float(np.mean(np.logaddexp(0, z) - Y * z))

    def grad_fn(p):
        p = cast(p)
        z1 = X @ p["W1"] + p["b1"]  # (m, 128)
        d2 = (_sigmoid(f(z1) @ p["W2"] + p["b2"]) - Y) / m  # (m, 1)
        d1 = (d2 @ p["W2"].T) * df(z1)  # (m, 128)
        return {
            "W1": X.T @ d1,
            "b1": d1.sum(0, keepdims=True),
            "W2": f(z1).T @ d2,
            "b2": d2.sum(0, keepdims=True),
        }

    return loss_fn, grad_fn, params


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("factor", [0.0, 0.5])
def test_one_wrong_row_of_a_784_by_128_matrix_is_wrong(activation, factor):
    loss_fn, grad_fn, params = _dense_784(activation)
    norms = np.linalg.norm(grad_fn(params)["W1"], axis=1)
    row = int(np.argsort(norms)[392])  # a row of median gradient norm: not the largest entries

    def bad(p):
        g = grad_fn(p)
        g["W1"][row] *= factor  # one row zeroed, or half of it lost
        return g

    for seed in range(3):
        w1 = by_name(check_gradients(loss_fn, bad, params, seed=seed), "W1")
        assert w1.verdict == "wrong", (seed, w1.message)
    # the correct model passes, every entry weighed along each direction
    result = check_gradients(loss_fn, grad_fn, params)
    assert result.ok, [p.message for p in result.parameters]
    assert [p.directions for p in result.parameters] == [gradcheck.DIRECTIONS] * 3 + [0]


@pytest.mark.parametrize("head", list(HEADS), ids=lambda h: "+".join(h))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_sampled_correct_models_pass_the_directional_check(activation, head):
    loss_fn, grad_fn, params, m = make_mlp(activation, head, sizes=(20, 40, 30), m=64)
    for seed in range(2):
        result = check_gradients(loss_fn, grad_fn, params, n_samples=m, seed=seed)
        assert result.ok, [p.message for p in result.parameters if not p.ok]
        for p in result.parameters:
            sampled = int(np.prod(p.shape)) > gradcheck.DEFAULT_SAMPLES
            assert p.directions == (gradcheck.DIRECTIONS if sampled else 0)
            rel = p.directional_rel_error
            assert rel < 1e-4 if sampled else np.isnan(rel)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_float32_model_raises_no_false_alarm_in_the_directional_check(activation):
    for seed in range(3):
        loss_fn, grad_fn, params = _dense_784(activation, seed=seed, dtype=np.float32)
        result = check_gradients(loss_fn, grad_fn, params, seed=seed)
        assert result.ok, [p.message for p in result.parameters if not p.ok]
        assert any("exact float32 values" in w for w in result.warnings)
        assert by_name(result, "W1").directions == gradcheck.DIRECTIONS


def _relu_mlp(m, d, h, seed, zero_kink):
    """A ReLU/sigmoid/bce MLP; with zero_kink, unit 0's pre-activation is exactly 0 on sample 0."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d))
    Y = (rng.random((m, 1)) < 0.5).astype(float)
    params = {
        "W1": rng.standard_normal((d, h)) / np.sqrt(d),
        "b1": 0.1 * rng.standard_normal((1, h)),
        "W2": rng.standard_normal((h, 1)) / np.sqrt(h),
        "b2": np.zeros((1, 1)),
    }
    if zero_kink:  # [1, 2, 0, ...] . [2, -1, ...] + 0 = 0 exactly
        X[0] = 0.0
        X[0, :2] = [1.0, 2.0]
        params["W1"][:2, 0] = [2.0, -1.0]
        params["b1"][0, 0] = 0.0

    def loss_fn(p):
        z = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
        return np.mean(np.logaddexp(0, z) - Y * z)

    def grad_fn(p):
        z1 = X @ p["W1"] + p["b1"]
        d2 = (_sigmoid(np.maximum(z1, 0) @ p["W2"] + p["b2"]) - Y) / m
        d1 = (d2 @ p["W2"].T) * (z1 > 0)
        return {
            "W1": X.T @ d1,
            "b1": d1.sum(axis=0, keepdims=True),
            "W2": np.maximum(z1, 0).T @ d2,
            "b2": d2.sum(axis=0, keepdims=True),
        }

    return loss_fn, grad_fn, params


def test_a_direction_through_a_relu_kink_is_not_a_false_alarm():
    loss_fn, grad_fn, params = _relu_mlp(64, 30, 40, 0, zero_kink=True)
    # every direction over W1 crosses the kink at the base point: the one-sided derivatives
    # along it differ by far more than the tolerance (unit 0 is on on one side, off on the other)
    rng = np.random.default_rng(0)
    h = gradcheck.STEP_FACTOR
    for _ in range(5):
        v = rng.choice([-1.0, 1.0], size=(30, 40)) / np.sqrt(1200)
        f0, fp, fm = (loss_fn({**params, "W1": params["W1"] + t * h * v}) for t in (0, 1, -1))
        forward, backward = (fp - f0) / h, (f0 - fm) / h
        assert abs(forward - backward) > 1e-3 * abs(forward + backward)
    result = check_gradients(loss_fn, grad_fn, params)
    assert result.ok, [p.message for p in result.parameters]
    w1 = by_name(result, "W1")
    assert w1.directions == 0  # both directions sit on the kink: not compared
    assert "crossed kinks" in w1.message and "outside the sample are unchecked" in w1.message


def test_many_relu_kinks_near_the_base_point_are_not_false_alarms():
    # 512 samples x 100 units: ~50,000 pre-activations, some within a step of 0 in any direction
    for seed in range(4):
        loss_fn, grad_fn, params = _relu_mlp(512, 50, 100, seed, zero_kink=False)
        result = check_gradients(loss_fn, grad_fn, params, seed=seed)
        assert result.ok, [p.message for p in result.parameters if not p.ok]


def test_several_kinks_inside_one_step_are_skipped_even_when_a_is_outside_both_sides():
    """Seven samples' ReLUs within 6e-7 of 0, some weighted negatively: every step (6e-6, then
    6e-7) crosses most of them, and the exact derivative at b = 0, the mean of w over the
    samples whose unit is on (closed form: 3.2 / 7), lies above both one-sided differences.
    The kink test wanted it between them and called b 'scaled' (1.41x); the two steps'
    differences disagree with each other, which no smooth loss does: a kink, skipped. A wrong
    gradient of a smooth parameter beside it is still found."""
    z = np.array([3e-7, -2e-7, 5e-7, -4e-7, 1e-7, -6e-7, 2e-7])
    w = np.array([1.0, -0.3, 0.8, 0.2, 0.9, -0.6, 0.5])

    def loss_fn(p):
        return float(np.mean(w * np.maximum(p["b"][0] + z, 0.0)) + np.sum(p["v"] ** 2))

    def grad_fn(p):
        on = p["b"][0] + z > 0
        return {"b": np.array([np.mean(w * on)]), "v": 2 * p["v"]}

    params = {"b": np.zeros(1), "v": np.array([0.5, -1.5])}
    assert grad_fn(params)["b"][0] == pytest.approx(3.2 / 7)
    result = check_gradients(loss_fn, grad_fn, params)
    assert result.ok, [p.message for p in result.parameters]
    assert by_name(result, "b").skipped == 1
    flipped = check_gradients(loss_fn, lambda p: {**grad_fn(p), "v": -2 * p["v"]}, params)
    assert verdicts(flipped) == {"b": "ok", "v": "sign_flipped"}


def test_check_config_relu_layers_under_tiny_weights_pass():
    """Found by fuzzing: two ReLU layers at init scale 1e-3 put the second layer's
    pre-activations within a step of 0 for many samples; gradcheck called lrdiag's own
    (correct) b2 gradient 'scaled' or 'wrong'."""
    config = pytest.importorskip("lrdiag.config")
    for activation, hidden in (("relu", [4, 4]), ("leaky_relu", [5, 8])):
        cfg = config.config_from_dict(
            {
                "data": {"kind": "moons", "n_samples": 8},
                "model": {"hidden": hidden, "activation": activation},
                "init": {"scales": [1e-3]},
            }
        )
        result = gradcheck.check_config(cfg)
        assert result.ok, [p.message for p in result.parameters if not p.ok]


def test_directional_probes_restore_the_params_exactly():
    loss_fn, grad_fn, params, _ = make_mlp(sizes=(20, 30))
    params["W1"][0, 0] = -0.0
    params["W1"][0, 1] = 1e300 / 1e290  # large
    params["W1"][0, 2] = 5e-324  # the smallest subnormal
    params["W1"][0, 3] = 0.1 + 0.2
    before = {k: _bits(v) for k, v in params.items()}
    base = {k: v.copy() for k, v in params.items()}
    changed_per_call = []

    def watching_loss(p):
        changed_per_call.append(
            {k: int(np.sum(p[k].view(np.uint64) != base[k].view(np.uint64))) for k in p}
        )
        return loss_fn(p)

    result = check_gradients(watching_loss, grad_fn, params, samples=10)
    assert result.ok
    assert {k: _bits(v) for k, v in params.items()} == before
    assert changed_per_call[0] == dict.fromkeys(params, 0)
    whole = 0
    for changed in changed_per_call:
        moved = [k for k, n in changed.items() if n]
        assert len(moved) <= 1  # one parameter at a time, restored before the next probe
        if moved and changed[moved[0]] > 1:
            whole += 1
            assert changed[moved[0]] >= params[moved[0]].size - 1  # (-0.0 + 0 stays -0.0)
    sampled = sum(v.size > 10 for v in params.values())
    assert 2 * gradcheck.DIRECTIONS * sampled <= whole <= 4 * gradcheck.DIRECTIONS * sampled


# --------------------------------------------------------------------------- the user's arrays


def _bits(a: np.ndarray) -> bytes:
    return a.tobytes()


def test_params_are_restored_exactly_after_every_probe():
    loss_fn, grad_fn, params, _ = make_mlp(sizes=(3, 6))
    params["W1"][0, 0] = -0.0
    params["W1"][0, 1] = 1e300 / 1e290  # large
    params["W1"][0, 2] = 5e-324  # the smallest subnormal
    params["b1"][0, 0] = 0.1 + 0.2  # a value with a long binary expansion
    before = {k: _bits(v) for k, v in params.items()}
    base = {k: v.copy() for k, v in params.items()}
    changed_per_call = []

    def watching_loss(p):
        changed_per_call.append(
            sum(int(np.sum(p[k].view(np.uint64) != base[k].view(np.uint64))) for k in p)
        )
        return loss_fn(p)

    check_gradients(watching_loss, grad_fn, params)
    assert {k: _bits(v) for k, v in params.items()} == before  # the caller's arrays
    assert changed_per_call[0] == 0  # the base point
    assert max(changed_per_call) == 1  # each probe: the base point plus one entry
    assert changed_per_call.count(1) == 2 * sum(v.size for v in params.values())


def test_float32_params_are_checked_in_float64_with_a_warning():
    loss_fn, grad_fn, params, _ = make_mlp()
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    seen = []

    def loss64(p):
        seen.append({v.dtype for v in p.values()})
        return loss_fn(p)

    result = check_gradients(loss64, grad_fn, params32)
    assert result.ok
    assert seen[0] == {np.dtype(np.float64)}
    assert any("float32" in w and "float64 copy" in w for w in result.warnings)
    assert all(v.dtype == np.float32 for v in params32.values())


def test_a_float32_loss_is_warned_about():
    loss_fn, grad_fn, params, _ = make_mlp()
    result = check_gradients(lambda p: np.float32(loss_fn(p)), grad_fn, params)
    assert any("loss() returned float32" in w for w in result.warnings)


def test_a_loss_computed_in_float32_still_names_the_planted_bug():
    # float32_loss.py returns Python floats that are exact float32 values; W1's sign is flipped
    result = check_module(MODULES / "float32_loss.py")
    assert verdicts(result) == {"W1": "sign_flipped", "b1": "ok", "W2": "ok"}
    assert any("exact float32 values" in w for w in result.warnings)


@pytest.mark.parametrize("rounding", [np.float32, lambda v: float(np.float32(v))])
@pytest.mark.parametrize(("k", "verdict"), [(1.0, "ok"), (-1.0, "sign_flipped"), (1.5, "scaled")])
def test_a_float32_loss_gets_float32_steps(rounding, k, verdict):
    # a float64 step (~6e-6) on a loss rounded to float32 lets any gradient pass (or fail)
    loss_fn, grad_fn, params, _ = make_mlp(sizes=(3, 6))
    result = check_gradients(
        lambda p: rounding(loss_fn(p)),
        lambda p: {n: k * g for n, g in grad_fn(p).items()},
        params,
    )
    assert set(verdicts(result).values()) == {verdict}


@pytest.mark.parametrize(("big", "verdict"), [(1e4, "ok"), (0.0, "sign_flipped")])
def test_a_gradient_below_the_loss_rounding_noise_is_not_called_checked(big, verdict):
    # W's gradient is ~1e-9 (and its sign flipped); v's term makes the loss ~2900, whose
    # rounding noise per unit step, 100 eps 2900 / 6e-6 ~ 1e-5, hides it: a warning, not a pass
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((30, 3)), rng.standard_normal((30, 1))
    params = {"W": rng.standard_normal((3, 1)), "v": np.array([0.5, -0.2])}

    def loss_fn(p):
        return big * np.sum(p["v"] ** 2) + 1e-9 * 0.5 * np.mean((X @ p["W"] - Y) ** 2)

    def grad_fn(p):
        return {"W": -1e-9 * X.T @ (X @ p["W"] - Y) / 30, "v": 2 * big * p["v"]}

    result = check_gradients(loss_fn, grad_fn, params)
    assert by_name(result, "W").verdict == verdict
    below = [w for w in result.warnings if "cannot check it at this loss scale" in w]
    assert below == ([] if big == 0 else [f"W: {by_name(result, 'W').message}"])
    assert all("a flipped sign would agree too" in w for w in below)


def test_a_loss_that_differs_between_calls_is_a_contract_error():
    with pytest.raises(InputError, match=r"dropout_unseeded.py: loss\(params\) is not repeatable"):
        check_module(MODULES / "dropout_unseeded.py")


def test_a_loss_that_grad_changes_is_a_contract_error():
    # grad updates batch-norm style running statistics that loss reads (an eval-mode loss)
    loss_fn, grad_fn, params, _ = make_mlp()
    state = {"shift": 0.0}

    def stateful_loss(p):
        return loss_fn(p) + state["shift"]

    def updating_grad(p):
        state["shift"] = 0.9 * state["shift"] + 0.1
        return grad_fn(p)

    with pytest.raises(InputError, match=r"not repeatable: .* after grad\(params\) ran"):
        check_gradients(stateful_loss, updating_grad, params)


def test_a_loss_within_rounding_of_itself_is_repeatable():
    loss_fn, grad_fn, params, _ = make_mlp()
    calls = itertools.count()

    def jittery_loss(p):  # threaded reductions may differ in the last bits
        value = loss_fn(p)
        return value * (1 + (next(calls) % 2) * 2 * np.finfo(np.float64).eps)

    assert check_gradients(jittery_loss, grad_fn, params).ok


def test_loss_may_return_a_one_element_array():
    loss_fn, grad_fn, params, _ = make_mlp()
    assert check_gradients(lambda p: np.array([[loss_fn(p)]]), grad_fn, params).ok


def test_a_grad_that_changes_params_in_place_is_checked_with_a_warning():
    loss_fn, grad_fn, params, _ = make_mlp()

    def training_grad(p):
        g = grad_fn(p)
        p["W1"] -= 0.1 * g["W1"]  # a "grad" that also takes a step
        return g

    result = check_gradients(loss_fn, training_grad, params)
    assert result.ok
    step = 0.1 * np.abs(grad_fn({k: v.copy() for k, v in params.items()})["W1"]).max()
    (warning,) = result.warnings
    assert warning.startswith("loss or grad changed params['W1'] in place (by up to ")
    assert f"{step:.4g}" in warning


def test_nudging_in_place_and_restoring_is_no_change():
    # x + h - 2h + h is x only to within rounding: each call gets its own copy, and a few ulps
    # are not a change
    loss_fn, grad_fn, params, _ = make_mlp()

    def nudging_loss(p):
        v = p["W1"]
        for i in np.ndindex(v.shape):
            v[i] += 1e-5
            v[i] -= 2e-5
            v[i] += 1e-5
        return loss_fn(p)

    result = check_gradients(nudging_loss, grad_fn, params)
    assert result.ok and result.warnings == ()


def test_in_place_central_differences_with_a_flipped_sign_are_named_on_every_parameter():
    # the second question: textbook differences that nudge each entry in place and restore it
    result = check_module(EXAMPLE_IN_PLACE)
    assert set(verdicts(result).values()) == {"sign_flipped"}
    assert result.warnings == ()
    # independently: the module's gradient is minus a central difference of its loss
    module_loss, module_grad, params = load_user_module(EXAMPLE_IN_PLACE)
    g = module_grad({k: v.copy() for k, v in params.items()})
    q = {k: v.copy() for k, v in params.items()}
    h = 1e-6
    q["b2"][0, 0] += h
    up = module_loss(q)
    q["b2"][0, 0] -= 2 * h
    down = module_loss(q)
    assert g["b2"][0, 0] == pytest.approx(-(up - down) / (2 * h), rel=1e-4)
    for p in result.parameters:
        assert p.scale == pytest.approx(-1, rel=1e-3)


def test_cli_names_the_flipped_sign_of_an_in_place_module():
    result = _run(EXAMPLE_IN_PLACE, "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert [p["verdict"] for p in doc["parameters"]] == ["sign_flipped"] * 4


# --------------------------------------------------------------------------- contract breaches


def test_grad_key_mismatches_are_contract_errors():
    loss_fn, grad_fn, params, _ = make_mlp()
    with pytest.raises(InputError, match=r"no 'b2'.*exactly the keys of params"):
        check_gradients(
            loss_fn, lambda p: {k: v for k, v in grad_fn(p).items() if k != "b2"}, params
        )
    with pytest.raises(InputError, match="unexpected 'extra'"):
        check_gradients(loss_fn, lambda p: {**grad_fn(p), "extra": np.zeros(1)}, params)
    with pytest.raises(InputError, match="'W1', not 'dW1'"):
        check_gradients(loss_fn, lambda p: {"d" + k: v for k, v in grad_fn(p).items()}, params)


@pytest.mark.parametrize(
    ("grad", "match"),
    [
        (lambda g: [g["W1"]], "must return a dict"),
        (lambda g: {**g, "W1": None}, r"grad\(params\)\['W1'\] is NoneType"),
        (lambda g: {**g, "W1": "zeros"}, r"\['W1'\] is str, expected a NumPy array"),
        (lambda g: {**g, "W1": g["W1"] > 0}, r"\['W1'\] has dtype bool"),
    ],
)
def test_bad_grad_values_are_contract_errors(grad, match):
    loss_fn, grad_fn, params, _ = make_mlp()
    with pytest.raises(InputError, match=match):
        check_gradients(loss_fn, lambda p: grad(grad_fn(p)), params)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ([np.zeros(3)], "params must be a dict of NumPy arrays, got list"),
        ({}, "empty dict"),
        ({"w": [1.0, 2.0]}, r"params\['w'\] is list, expected a NumPy array"),
        ({"w": np.array(["a"])}, "expected real numbers"),
        ({"w": np.zeros((0, 3))}, "is empty"),
    ],
)
def test_bad_params_are_contract_errors(params, match):
    with pytest.raises(InputError, match=match):
        check_gradients(lambda p: 0.0, lambda p: p, params)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (lambda: np.zeros(3), r"one real number, got shape \(3,\)"),
        (lambda: "0.5", "one real number, got str"),
        (lambda: None, "one real number"),
    ],
)
def test_non_scalar_loss_is_a_contract_error(value, match):
    _, grad_fn, params, _ = make_mlp()
    with pytest.raises(InputError, match=match):
        check_gradients(lambda p: value(), grad_fn, params)


def test_errors_in_user_functions_name_the_function_and_exception():
    loss_fn, grad_fn, params, _ = make_mlp()

    def broken(p):
        raise KeyError("W9")

    with pytest.raises(InputError, match=r"loss\(params\) raised KeyError: 'W9'"):
        check_gradients(broken, grad_fn, params)
    with pytest.raises(InputError, match=r"grad\(params\) raised KeyError: 'W9'"):
        check_gradients(loss_fn, broken, params)


# --------------------------------------------------------------------------- loading modules


def _write(tmp_path: Path, body: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
    import numpy as np
    params = {"w": np.array([1.0, -2.0, 3.0])}
    def loss(p):
        return float(np.sum(p["w"] ** 2))
    def grad(p):
        return {"w": 2 * p["w"]}
"""


def test_a_module_with_a_params_function(tmp_path):
    body = GOOD.replace('params = {"w"', 'def params():\n        return {"w"')
    path = _write(tmp_path, body)
    loss_fn, grad_fn, params = load_user_module(path)
    assert list(params) == ["w"]
    result = check_module(path)
    assert result.ok and result.source == str(path)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            GOOD.replace("def loss(p)", "def loss_fn(p)"),
            r"defines no `loss` \(did you mean 'loss_fn'\?\)",
        ),
        (GOOD.replace("def grad(p)", "def gradient(p)"), "defines no `grad`"),
        (GOOD.replace('params = {"w"', 'weights = {"w"'), "defines no `params`"),
        (GOOD + "\n    loss = 3\n", "`loss` must be a function, got int"),
        (
            GOOD.replace('params = {"w": np.array([1.0, -2.0, 3.0])}', "params = [1.0, 2.0]"),
            "params must be a dict",
        ),
        (GOOD + "\n    1 / 0\n", "importing it raised ZeroDivisionError: division by zero"),
        (
            GOOD + "\n    import sys\n    sys.exit(3)\n",
            r"raised SystemExit: 3 \(put script code under",
        ),
        (GOOD + "\n    import no_such_module_xyz\n", "ModuleNotFoundError"),
        (
            GOOD.replace(
                'params = {"w"',
                'def params():\n        raise RuntimeError("no data")\n    p0 = {"w"',
            ),
            r"params\(\) raised RuntimeError: no data",
        ),
    ],
)
def test_module_contract_breaches_name_the_file(tmp_path, body, match):
    path = _write(tmp_path, body)
    with pytest.raises(InputError, match=match) as info:
        load_user_module(path)
    assert str(path) in str(info.value)


def test_a_non_scalar_loss_in_a_module_names_the_file(tmp_path):
    path = _write(tmp_path, GOOD.replace('return float(np.sum(p["w"] ** 2))', 'return p["w"] ** 2'))
    with pytest.raises(InputError, match=r"model\.py: loss\(params\) must return one real number"):
        check_module(path)


def test_missing_and_non_python_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_user_module(tmp_path / "nope.py")
    with pytest.raises(InputError, match="expected a Python module"):
        load_user_module(_write(tmp_path, "x = 1\n", name="model.txt"))


def test_importing_runs_top_level_code_but_not_main_and_prints_go_to_stderr(tmp_path, capsys):
    body = (
        GOOD
        + """
    print("training at import time")
    if __name__ == "__main__":
        raise SystemExit("the __main__ block must not run")
    """
    )
    result = check_module(_write(tmp_path, body))
    assert result.ok
    out, err = capsys.readouterr()
    assert out == ""
    assert "training at import time" in err


def test_a_module_can_import_its_neighbours(tmp_path):
    _write(tmp_path, "SCALE = 2.0\n", name="helper_for_gradcheck_test.py")
    body = GOOD.replace(
        "import numpy as np", "import numpy as np\n    from helper_for_gradcheck_test import SCALE"
    )
    path_before = list(sys.path)
    try:
        assert check_module(_write(tmp_path, body)).ok
        assert sys.path == path_before
    finally:
        sys.modules.pop("helper_for_gradcheck_test", None)


def test_two_modules_with_the_same_name_do_not_collide(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _write(tmp_path / "a", GOOD)
    second = _write(tmp_path / "b", GOOD.replace("2 * p", "-2 * p"))
    assert check_module(first).ok
    assert verdicts(check_module(second)) == {"w": "sign_flipped"}
    assert check_module(first).ok


# --------------------------------------------------------------------------- output and examples


def test_to_dict_has_the_documented_keys():
    doc = check_module(MODULES / "bias_all_axes.py").to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["ok"] is False
    assert set(doc) >= {"parameters", "ok"}
    keys = {
        "name",
        "shape",
        "verdict",
        "max_rel_error",
        "median_rel_error",
        "cosine",
        "scale",
        "checked",
        "skipped",
        "message",
        "directional_rel_error",
        "directions",
    }
    assert all(set(p) == keys for p in doc["parameters"])
    assert doc["parameters"][1]["shape"] == [1, 8]


def test_the_example_module_passes():
    result = check_module(ROOT / "examples" / "my_model.py")
    assert result.ok
    assert [p.name for p in result.parameters] == ["W1", "b1", "W2", "b2", "W3", "b3"]


def _configs():
    return sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", _configs() or [None], ids=lambda p: p.name if p else "none")
def test_check_config_passes_on_every_shipped_config(path):
    if path is None:
        pytest.skip("no configs/*.yaml")
    config = pytest.importorskip("lrdiag.config")
    result = gradcheck.check_config(config.load_config(path))
    assert result.ok, [p.message for p in result.parameters if not p.ok]
    assert {p.name for p in result.parameters} >= {"W1", "b1"}
    # without the run axis: (in, out) and (1, out), a kernel (out, in, kh, kw)
    assert all(len(p.shape) in (2, 4) for p in result.parameters)
    assert all(len(p.shape) == 2 for p in result.parameters if p.name.startswith("b"))


def test_check_config_catches_a_broken_model(monkeypatch):
    config = pytest.importorskip("lrdiag.config")
    model = pytest.importorskip("lrdiag.model")
    cfg = config.load_config(ROOT / "configs" / "quickstart.yaml")
    real = model.loss_and_grads

    def summed(params, X, Y, spec):
        losses, grads = real(params, X, Y, spec)
        return losses, {k: v * len(X) for k, v in grads.items()}

    monkeypatch.setattr(model, "loss_and_grads", summed)
    result = gradcheck.check_config(cfg)
    assert set(verdicts(result).values()) == {"scaled"}
    assert "a sum where a mean was meant? (there are 200 samples)" in result.parameters[0].message


# --------------------------------------------------------------------------- the command


def _run(*args):
    from click.testing import CliRunner

    from lrdiag.cli import cli

    return CliRunner().invoke(cli, ["gradcheck", *map(str, args)])


@pytest.mark.parametrize(
    ("module", "code"), [("correct.py", 0), ("sum_not_mean.py", 1), ("not_finite.py", 1)]
)
def test_cli_exit_codes_and_table(module, code):
    result = _run(MODULES / module)
    assert result.exit_code == code, result.output
    assert "W1" in result.stdout
    assert ("all 4 parameters match" in result.stdout) == (code == 0)


def test_cli_json_is_strict_and_alone_on_stdout(tmp_path):
    body = GOOD + "\n    print('noise from the module')\n"
    result = _run(_write(tmp_path, body), "--json", "--samples", "2", "--seed", "1")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["parameters"][0]["checked"] == 2  # --samples 2 of the 3 entries of w
    assert "noise from the module" in result.stderr


def test_cli_json_for_a_failing_module():
    result = _run(MODULES / "bias_all_axes.py", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [p["verdict"] for p in doc["parameters"]] == ["ok", "wrong_shape", "ok", "ok"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["missing_module.py"], "no such file"),
        (["model.txt"], "expected a config (.yaml) or a Python module (.py)"),
        (["missing.yaml"], "config file not found"),
        ([str(MODULES / "correct.py"), "--samples", "0"], "--samples"),
        ([str(MODULES / "dropout_unseeded.py")], "is not repeatable"),
    ],
)
def test_cli_cannot_load_is_exit_2(args, text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.txt").write_text("x = 1\n")
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert text in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_contract_breach_is_exit_2_with_the_reason(tmp_path):
    result = _run(_write(tmp_path, GOOD + "\n    1 / 0\n"))
    assert result.exit_code == 2
    assert "importing it raised ZeroDivisionError: division by zero" in result.stderr


def test_cli_checks_a_config():
    result = _run(ROOT / "configs" / "quickstart.yaml", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


def test_cli_help_states_the_real_default_sample_count():
    from click.testing import CliRunner

    from lrdiag.cli import cli

    help_text = CliRunner().invoke(cli, ["gradcheck", "--help"]).output
    assert f"[default: {gradcheck.DEFAULT_SAMPLES}]" in help_text.replace("\n", " ").replace(
        "  ", " "
    )


def test_round_params_do_not_make_a_float64_loss_look_float16():
    """A textbook check: L = sum((k+1) p_k^2 / 2) at p = [0.5, -1.0], whose values (0.625,
    1.875, 3.75) are exact float16 numbers although computed in float64. Judged in float16 a
    flipped sign passed as ok; the loss is float64, and the flip is caught."""
    params = {f"p{k}": np.array([0.5, -1.0]) for k in range(3)}

    def loss_fn(p):
        return float(sum((k + 1) * np.sum(p[f"p{k}"] ** 2) / 2 for k in range(3)))

    def grad_fn(p):
        g = {f"p{k}": (k + 1) * p[f"p{k}"] for k in range(3)}
        g["p0"] = -g["p0"]
        return g

    assert float(np.float16(loss_fn(params))) == loss_fn(params)  # the trap is set
    result = check_gradients(loss_fn, grad_fn, params)
    assert verdicts(result) == {"p0": "sign_flipped", "p1": "ok", "p2": "ok"}
    assert not any("float16" in w or "float32" in w for w in result.warnings), result.warnings
    for name, p in params.items():
        np.testing.assert_array_equal(p, np.array([0.5, -1.0]), err_msg=name)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("hidden", [[3, 3, 3], [8, 8, 8, 8]])
def test_own_relu_model_at_a_tiny_init_scale_is_ok(activation, hidden):
    """Init scale 1e-3 and three or more ReLU layers: the deep pre-activations sit ~1e-15 from
    the kink, every probe crosses it and the loss moves by rounding only. lrdiag knows where
    its model's kinks are, so those probes are skipped, not called wrong (they were: 'b3
    wrong'). Its gradients are right: the other tests check them at ordinary scales."""
    from lrdiag.config import config_from_dict

    cfg = config_from_dict(
        {
            "data": {"kind": "moons", "n_samples": 8},
            "model": {"hidden": hidden, "activation": activation},
            "init": {"scales": [1e-3]},
        }
    )
    result = gradcheck.check_config(cfg)
    assert result.ok, [(p.name, p.verdict, p.message) for p in result.parameters]


def test_a_known_kink_pattern_does_not_hide_a_flipped_sign():
    """A ReLU model with its kink pattern given: probes that cross no kink are judged as ever,
    so a flipped sign is still sign_flipped and the correct parameters ok."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    params = {"W1": rng.standard_normal((3, 6)), "W2": rng.standard_normal((6, 1))}

    def loss_fn(p):
        return float(np.mean((np.maximum(X @ p["W1"], 0) @ p["W2"] - Y) ** 2) / 2)

    def grad_fn(p):
        z = X @ p["W1"]
        a = np.maximum(z, 0)
        d = (a @ p["W2"] - Y) / len(X)
        return {"W1": -(X.T @ ((d @ p["W2"].T) * (z > 0))), "W2": a.T @ d}  # W1 flipped

    def kinks(p):
        return X @ p["W1"] > 0

    result = check_gradients(loss_fn, grad_fn, params, kinks=kinks)
    assert verdicts(result) == {"W1": "sign_flipped", "W2": "ok"}


# --- modules that misbehave (issue 12) ---------------------------------------------------------
def _run_process(*args):
    return subprocess.run(
        [str(Path(sys.executable).parent / "lrdiag"), "gradcheck", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "return float(",
            "import sys; sys.exit(0); return float(",
            "loss(params) raised SystemExit",
        ),
        ('return {"w"', 'raise SystemExit; return {"w"', "grad(params) raised SystemExit"),
        (
            "return float(",
            "raise type('Odd', (Exception,), {'__str__': lambda s: 1 / 0})(); return float(",
            "Odd: (its message cannot be shown",
        ),
        ("return float(", "raise GeneratorExit; return float(", "raised GeneratorExit"),
    ],
)
def test_a_module_that_exits_or_breaks_its_exception_is_a_contract_error(tmp_path, old, new, words):
    """sys.exit(0) inside loss gave exit 0 with empty --json output: CI passed."""
    result = _run_process(_write(tmp_path, GOOD.replace(old, new, 1)), "--json")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_writes_to_file_descriptor_1_do_not_reach_json(tmp_path):
    body = GOOD.replace(
        "return float(",
        "import os, subprocess, sys; os.write(1, b'raw fd write\\n'); "
        "subprocess.run([sys.executable, '-c', 'print(\"child\")']); return float(",
        1,
    )
    result = _run_process(_write(tmp_path, body), "--json", "--samples", "1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert "raw fd write" in result.stderr and "child" in result.stderr


def test_timeout_stops_a_call_that_never_returns(tmp_path):
    body = GOOD.replace("return float(", "import time; time.sleep(60); return float(", 1)
    started = time.monotonic()
    result = _run_process(_write(tmp_path, body), "--timeout", "0.5", "--json")
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 20
    assert "longer than 0.5 s (--timeout)" in result.stderr and result.stdout == ""


def test_a_negative_seed_is_a_usage_error():
    result = _run(MODULES / "correct.py", "--seed", "-5")
    assert result.exit_code == 2 and "--seed" in result.stderr
