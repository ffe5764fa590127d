"""data.py: generators checked against their geometry, loaders, targets shaped for the loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrdiag.config import DataConfig, ModelConfig, config_from_dict, load_config
from lrdiag.data import GENERATORS, load_dataset
from lrdiag.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
BCE = ModelConfig(output="sigmoid", loss="bce")
CE = ModelConfig(output="softmax", loss="cross_entropy")
MSE = ModelConfig(output="identity", loss="mse")
CLASS_KINDS = ["blobs", "moons", "circles", "spirals", "xor"]


def dataset(model=CE, **data):
    return load_dataset(DataConfig(**data), model)


def labels_of(ds) -> np.ndarray:
    return np.argmax(ds.Y, axis=1) if ds.Y.shape[1] > 1 else ds.Y[:, 0].astype(int)


# --- determinism -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [*CLASS_KINDS, "linear"])
def test_same_seed_same_arrays_other_seed_other_arrays(kind):
    model = MSE if kind == "linear" else CE
    a = dataset(model, kind=kind, n_samples=50, seed=3, validation_split=0.2)
    b = dataset(model, kind=kind, n_samples=50, seed=3, validation_split=0.2)
    c = dataset(model, kind=kind, n_samples=50, seed=4, validation_split=0.2)
    for name in ("X", "Y", "X_val", "Y_val"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.X, c.X)


# --- shapes and labels -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind, n_classes, n_features",
    [("blobs", 4, 5), ("moons", 2, 2), ("circles", 2, 2), ("spirals", 3, 2), ("xor", 2, 2)],
)
def test_class_kinds_shapes_and_labels(kind, n_classes, n_features):
    n = 101
    ds = dataset(CE, kind=kind, n_samples=n, n_classes=n_classes, n_features=n_features)
    assert ds.X.shape == (n, n_features) and ds.X.dtype == np.float64
    assert ds.Y.shape == (n, n_classes) and ds.Y.dtype == np.float64
    assert set(np.unique(ds.Y)) <= {0.0, 1.0} and np.all(ds.Y.sum(axis=1) == 1)  # one-hot
    assert ds.n_classes == n_classes
    assert ds.X_val is None and ds.Y_val is None
    assert len(ds.feature_names) == n_features
    counts = np.bincount(labels_of(ds), minlength=n_classes)
    if kind != "xor":  # balanced: sizes differ by at most one
        assert counts.max() - counts.min() <= 1
    assert np.all(counts > 0)


@pytest.mark.parametrize("kind", ["moons", "circles", "xor"])
def test_bce_targets_are_a_0_1_column(kind):
    ds = dataset(BCE, kind=kind, n_samples=40)
    assert ds.Y.shape == (40, 1) and set(np.unique(ds.Y)) == {0.0, 1.0}


def test_mse_targets_for_class_data():
    two = dataset(ModelConfig(output="sigmoid", loss="mse"), kind="moons", n_samples=30)
    assert two.Y.shape == (30, 1) and set(np.unique(two.Y)) == {0.0, 1.0}
    three = dataset(MSE, kind="spirals", n_classes=3, n_samples=30)
    assert three.Y.shape == (30, 3) and np.all(three.Y.sum(axis=1) == 1)
    assert three.n_classes == 3


def test_classes_are_shuffled_not_in_blocks():
    labels = labels_of(dataset(BCE, kind="moons", n_samples=100))
    assert np.count_nonzero(np.diff(labels)) > 10


# --- geometry (noise 0) ------------------------------------------------------------------------
def test_moons_geometry():
    ds = dataset(BCE, kind="moons", n_samples=200, noise=0.0)
    X, y = ds.X, ds.Y[:, 0]
    upper, lower = X[y == 0], X[y == 1]
    assert len(upper) == len(lower) == 100
    # upper: unit half circle around (0, 0); lower: unit half circle around (1, 0.5)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    assert np.all(upper[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)
    assert upper[:, 0].min() == pytest.approx(-1) and upper[:, 0].max() == pytest.approx(1)


def test_circles_geometry():
    ds = dataset(BCE, kind="circles", n_samples=300, noise=0.0)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    y = ds.Y[:, 0]
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(r[y == 1], 0.5, atol=1e-12)
    assert (y == 0).sum() == (y == 1).sum() == 150


def test_circles_noise_is_gaussian_with_that_std():
    noise = 0.05
    a = dataset(BCE, kind="circles", n_samples=20000, noise=0.0, seed=1)
    b = dataset(BCE, kind="circles", n_samples=20000, noise=noise, seed=1)
    # the same seed shuffles identically, so b - a is the added noise
    np.testing.assert_allclose((b.X - a.X).std(axis=0), noise, rtol=0.03)
    np.testing.assert_allclose((b.X - a.X).mean(axis=0), 0.0, atol=5 * noise / np.sqrt(20000))


def test_spirals_geometry():
    k = 3
    ds = dataset(CE, kind="spirals", n_samples=300, n_classes=k, noise=0.0)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert r.max() == pytest.approx(1.0) and r.min() == pytest.approx(0.0)
    labels = labels_of(ds)
    # arm j is arm 0 rotated by 2*pi*j/k: rotating arm j's points back lands on arm 0's points
    arm0 = ds.X[labels == 0][np.argsort(r[labels == 0])]
    for j in range(1, k):
        a = -2 * np.pi * j / k
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        pts = ds.X[labels == j][np.argsort(r[labels == j])] @ rot.swapaxes(-1, -2)
        np.testing.assert_allclose(pts, arm0, atol=1e-12)


def test_xor_labels_are_the_sign_product():
    ds = dataset(BCE, kind="xor", n_samples=500, noise=0.0)
    X, y = ds.X, ds.Y[:, 0]
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(float))
    assert np.all(np.abs(X) <= 1)
    assert 0.4 < y.mean() < 0.6


def test_blobs_geometry():
    k, d = 4, 3
    exact = dataset(CE, kind="blobs", n_samples=400, n_classes=k, n_features=d, noise=0.0)
    assert len(np.unique(exact.X, axis=0)) == k  # every point sits on its centre
    assert np.all(np.abs(exact.X) <= 1)
    noisy = dataset(CE, kind="blobs", n_samples=40000, n_classes=k, n_features=d, noise=0.3)
    labels = labels_of(noisy)
    for j in range(k):
        pts = noisy.X[labels == j]
        np.testing.assert_allclose(pts.std(axis=0), 0.3, rtol=0.05)


def test_linear_is_exactly_linear_without_noise():
    ds = dataset(MSE, kind="linear", n_samples=50, n_features=4, noise=0.0)
    assert ds.X.shape == (50, 4) and ds.Y.shape == (50, 1) and ds.n_classes is None
    w, residual, *_ = np.linalg.lstsq(ds.X, ds.Y, rcond=None)
    np.testing.assert_allclose(ds.X @ w, ds.Y, atol=1e-10)
    noisy = dataset(MSE, kind="linear", n_samples=20000, n_features=4, noise=0.5)
    w, *_ = np.linalg.lstsq(noisy.X, noisy.Y, rcond=None)
    assert (noisy.Y - noisy.X @ w).std() == pytest.approx(0.5, rel=0.03)


@pytest.mark.parametrize("seed", [0, 3])
def test_linear_model_does_not_start_at_the_true_weights_when_the_seeds_agree(seed):
    """data.seed == the training seed, init normal at scale 1 on a linear model: the model's
    weights are N(0, 1) draws, and so are the true weights. Drawn independently, the initial
    loss is about E||w0 - w||^2 + noise^2 = 2 d + noise^2 (here 8); from one shared stream the
    model would start at the true weights, at the noise level noise^2 = 0.01."""
    from lrdiag.sweep import expand_grid, train

    cfg = config_from_dict(
        {
            "data": {
                "kind": "linear",
                "n_samples": 400,
                "n_features": 4,
                "noise": 0.1,
                "seed": seed,
            },
            "model": {"hidden": [], "output": "identity", "loss": "mse"},
            "init": {"scheme": "normal", "scales": [1.0]},
            "training": {"epochs": 1, "seeds": [seed], "dtype": "float64"},
            "sweep": {"learning_rates": [1e-3]},
        }
    )
    assert cfg.data.seed == cfg.training.seeds[0]
    ds = load_dataset(cfg.data, cfg.model)
    initial = train(cfg, ds, expand_grid(cfg)).loss[0, 0]
    assert initial > 100 * 0.1**2, initial  # far above the noise level


# --- standardize and validation split ----------------------------------------------------------
def test_standardize_uses_the_training_part_only():
    common = {"kind": "blobs", "n_samples": 200, "n_classes": 3, "n_features": 3, "seed": 7}
    raw = dataset(CE, **common, validation_split=0.25)
    std = dataset(CE, **common, validation_split=0.25, standardize=True)
    np.testing.assert_allclose(std.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.X.std(axis=0), 1.0, rtol=1e-12)
    mean, sd = raw.X.mean(axis=0), raw.X.std(axis=0)
    np.testing.assert_allclose(std.X_val, (raw.X_val - mean) / sd, rtol=1e-12)
    np.testing.assert_array_equal(std.Y_val, raw.Y_val)


@pytest.mark.parametrize(
    "n, split, n_val", [(10, 0.2, 2), (10, 0.25, 3), (100, 0.1, 10), (7, 0.5, 4)]
)
def test_validation_split_sizes_and_partition(n, split, n_val):
    full = dataset(BCE, kind="moons", n_samples=n, noise=0.3)
    ds = dataset(BCE, kind="moons", n_samples=n, noise=0.3, validation_split=split)
    assert len(ds.X_val) == len(ds.Y_val) == n_val and len(ds.X) == len(ds.Y) == n - n_val
    # train + validation is the whole data set, each sample once, with its own target
    rows = lambda X, Y: sorted(map(tuple, np.hstack([X, Y])))  # noqa: E731
    assert rows(np.vstack([ds.X, ds.X_val]), np.vstack([ds.Y, ds.Y_val])) == rows(full.X, full.Y)


@pytest.mark.parametrize("n, split", [(10, 0.01), (3, 0.9)])
def test_validation_split_needs_a_sample_each_side(n, split):
    with pytest.raises(ConfigError) as info:
        load_dataset(
            DataConfig(kind="moons", n_samples=n, validation_split=split), BCE, file="c.yaml"
        )
    assert info.value.key == "data.validation_split" and info.value.file == "c.yaml"


# --- targets that do not fit the loss ----------------------------------------------------------
def test_regression_data_with_a_class_loss():
    for model in (BCE, CE):
        with pytest.raises(ConfigError) as info:
            load_dataset(DataConfig(kind="linear"), model, file="c.yaml")
        e = info.value
        assert e.key == "model.loss" and e.file == "c.yaml"
        assert "continuous" in e.message and "mse" in e.message


def test_more_than_two_classes_with_bce():
    with pytest.raises(ConfigError) as info:
        load_dataset(DataConfig(kind="blobs", n_classes=3), BCE)
    assert info.value.key == "model.loss" and "cross_entropy" in info.value.message


# --- files -------------------------------------------------------------------------------------
def file_dataset(path: Path, model=CE, **data):
    return load_dataset(DataConfig(kind="file", path=str(path), **data), model, file="c.yaml")


def test_csv_with_default_and_named_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label,b\n1.5,0,2\n-1,2,3e-1\n0,1,4\n")
    ds = file_dataset(path, target="label")
    np.testing.assert_array_equal(ds.X, [[1.5, 2.0], [-1.0, 0.3], [0.0, 4.0]])
    np.testing.assert_array_equal(ds.Y, np.eye(3)[[0, 2, 1]])
    assert ds.feature_names == ("a", "b") and ds.target_name == "label" and ds.n_classes == 3
    last = file_dataset(path, MSE)  # default target: the last column, 0.3 makes it regression
    np.testing.assert_array_equal(last.Y, [[2.0], [0.3], [4.0]])
    assert last.feature_names == ("a", "label") and last.n_classes is None


def test_soft_targets_are_read_as_probabilities(tmp_path):
    """A bce target column in [0, 1] that is not 0/1, and cross_entropy rows of probabilities
    (summing to 1 up to a file's rounding), are soft targets, as PyTorch's BCELoss and
    CrossEntropyLoss take them; a note gives the floor the loss cannot pass, their mean
    entropy, computed here."""
    path = tmp_path / "soft.csv"
    t = np.array([0.1, 0.75, 0.5, 1.0])
    path.write_text("a,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(t)))
    ds = file_dataset(path, BCE)
    np.testing.assert_array_equal(ds.Y[:, 0], t)
    assert ds.n_classes == 2
    parts = np.stack([t, 1 - t], axis=1)
    h = -np.sum(np.where(parts > 0, parts * np.log(np.where(parts > 0, parts, 1)), 0)) / len(t)
    (note,) = ds.notes
    assert "soft targets" in note and f"{h:.4g}" in note
    rows = np.array([[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.3, 0.5]])
    printed = np.round(rows, 6)  # as a file holds them: the thirds sum to 0.999999
    np.savez(tmp_path / "soft3.npz", X=np.zeros((3, 2)), y=printed)
    ds = file_dataset(tmp_path / "soft3.npz", CE)
    assert ds.n_classes == 3
    np.testing.assert_allclose(ds.Y, rows, rtol=1e-5)
    np.testing.assert_allclose(ds.Y.sum(axis=1), 1.0, rtol=1e-12)
    # probabilities that do not sum to 1, or a value above 1, are not soft targets
    for y in ([[0.5, 0.2, 0.2]] * 3, [[1.5, -0.5, 0.0]] * 3):
        np.savez(tmp_path / "bad.npz", X=np.zeros((3, 2)), y=np.array(y))
        with pytest.raises(ConfigError) as info:
            file_dataset(tmp_path / "bad.npz", CE)
        assert "probabilities" in info.value.message and "summing to 1" in info.value.message


def test_csv_bad_cell_names_file_line_and_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError) as info:
        file_dataset(path)
    message = str(info.value)
    assert str(path) in message and "line 3" in message and "'b'" in message and "oops" in message


def test_csv_string_labels_are_named_as_the_target_and_what_it_may_hold(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,cat\n")
    with pytest.raises(DataError) as info:
        file_dataset(path)
    message = str(info.value)
    assert "line 3, target column 'label': 'cat'" in message and "labels 0..K-1" in message


def test_csv_missing_target_lists_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n")
    with pytest.raises(ConfigError) as info:
        file_dataset(path, target="label")
    e = info.value
    assert e.key == "data.target" and "'label'" in e.message and "a, b, y" in e.message


@pytest.mark.parametrize(
    "text, words",
    [
        ("a,y\n1,0\n2\n", "line 3"),
        ("a,y\n", "no samples"),
        ("", "empty"),
        ("a,y\n1,nan\n", "finite"),
    ],
)
def test_csv_malformed(tmp_path, text, words):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=words):
        file_dataset(path)


def test_npz_labels_and_one_hot_rows(tmp_path):
    X = np.arange(12.0).reshape(6, 2)
    labels = np.array([0, 1, 2, 3, 1, 0])
    np.savez(tmp_path / "a.npz", X=X, y=labels)
    np.savez(tmp_path / "b.npz", X=X, y=np.eye(4)[labels])
    for name in ("a.npz", "b.npz"):
        ds = file_dataset(tmp_path / name)
        np.testing.assert_array_equal(ds.X, X)
        np.testing.assert_array_equal(ds.Y, np.eye(4)[labels])
        assert ds.n_classes == 4


def test_npz_one_hot_width_counts_an_absent_class(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 1)), y=np.eye(4)[[0, 1, 2]])
    assert file_dataset(tmp_path / "d.npz").Y.shape == (3, 4)


@pytest.mark.parametrize(
    "labels, model, words",
    [
        ([1, 2, 3, 1, 2, 3], CE, ["labels run 1..3", "4 outputs", "class 0 never occurs",
                                  "subtract 1 for 3 classes"]),
        ([2, 3, 4, 2, 3, 4], MSE, ["labels run 2..4", "5 outputs", "classes 0, 1 never occur",
                                   "subtract 2 for 3 classes"]),
        ([0, 2, 5, 0, 2, 5], CE, ["3 of the 6 classes", "never occur: 1, 3, 4"]),
    ],
)  # fmt: skip
def test_labels_that_leave_classes_out_are_noted(tmp_path, labels, model, words):
    """Labels index the outputs from 0 (as PyTorch's cross-entropy takes them): labels 1..3
    train 4 outputs, one never a target. Worth a note (chance is then ln 4, not ln 3)."""
    np.savez(tmp_path / "d.npz", X=np.zeros((6, 2)), y=np.array(labels))
    ds = file_dataset(tmp_path / "d.npz", model)
    assert ds.Y.shape == (6, max(labels) + 1)
    (note,) = ds.notes
    assert all(w in note for w in words), note


@pytest.mark.parametrize(
    "y, model",
    [
        (np.array([0, 1, 2, 1]), CE),  # every class present
        (np.eye(4)[[0, 1, 2, 1]], CE),  # one-hot rows say their width
        (np.array([1, 1, 0, 1]), BCE),
        (np.array([1, 1, 1, 1]), MSE),  # two classes (or one): a single 0/1 output
    ],
)
def test_no_note_when_the_labels_fill_the_outputs(tmp_path, y, model):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=y)
    assert file_dataset(tmp_path / "d.npz", model).notes == ()
    assert dataset(kind="blobs", n_classes=3, n_samples=30).notes == ()


def test_npz_bce_and_bad_labels(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.array([0, 1, 1, 0]))
    ds = file_dataset(tmp_path / "d.npz", BCE)
    np.testing.assert_array_equal(ds.Y, [[0], [1], [1], [0]])
    np.savez(tmp_path / "e.npz", X=np.zeros((3, 2)), y=np.array([1, 2, 3]))
    with pytest.raises(ConfigError) as info:
        file_dataset(tmp_path / "e.npz", BCE)
    assert info.value.key == "model.loss" and "0/1" in info.value.message
    np.savez(tmp_path / "f.npz", X=np.zeros((3, 2)), y=np.array([0.5, 1.5, -2.0]))
    with pytest.raises(ConfigError) as info:
        file_dataset(tmp_path / "f.npz", CE)
    assert info.value.key == "model.loss" and "mse" in info.value.message


@pytest.mark.parametrize(
    "labels, named, advice, not_said",
    [
        ([1, 2, 2, 1], "labels 1, 2;", "relabel 1 and 2 as 0 and 1", "classes"),  # not 3
        ([0, 5, 5, 0], "labels 0, 5;", "relabel 0 and 5 as 0 and 1", "classes"),
        ([1, 2, 3, 1], "labels 1, 2, 3;", "for 3 classes", "0..3"),
        ([0, 1, 2, 5, 6, 6], "labels 0..6 (5 values)", "for 5 classes", "subtract"),
    ],
)
def test_bce_label_errors_name_the_labels_in_the_file(tmp_path, labels, named, advice, not_said):
    """The message describes the labels the file holds (it said 'labels 0..2; for 3 classes'
    of a file labelled 1 and 2, and sent its user to a 3-class softmax)."""
    path = tmp_path / "d.csv"
    path.write_text("a,y\n" + "".join(f"{i},{y}\n" for i, y in enumerate(labels)))
    with pytest.raises(ConfigError) as info:
        file_dataset(path, BCE)
    e = info.value
    assert e.key == "model.loss" and named in e.message and advice in e.message
    assert not_said not in e.message


def test_minus_one_plus_one_labels_are_called_labels_not_continuous(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 2)), y=np.array([-1, 1, 1, -1]))
    for model in (BCE, CE):
        with pytest.raises(ConfigError) as info:
            file_dataset(tmp_path / "d.npz", model)
        e = info.value
        assert e.key == "model.loss" and "labels -1, 1" in e.message and "0/1" in e.message
        assert "continuous" not in e.message


def test_npz_missing_array_lists_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), labels=np.zeros(3))
    with pytest.raises(DataError) as info:
        file_dataset(tmp_path / "d.npz")
    assert "'y'" in str(info.value) and "X, labels" in str(info.value)
    assert "data.target" in str(info.value)  # how to name another array
    ds = file_dataset(tmp_path / "d.npz", BCE, target="labels")  # target names the array
    assert ds.Y.shape == (3, 1)


def test_npz_row_mismatch(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match="3 rows"):
        file_dataset(tmp_path / "d.npz")


def test_file_split_is_deterministic(tmp_path):
    X = np.arange(20.0).reshape(10, 2)
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(10) % 2)
    a = file_dataset(tmp_path / "d.npz", BCE, validation_split=0.3, seed=1)
    b = file_dataset(tmp_path / "d.npz", BCE, validation_split=0.3, seed=1)
    np.testing.assert_array_equal(a.X_val, b.X_val)
    assert len(a.X_val) == 3 and len(a.X) == 7


# --- shipped configs ---------------------------------------------------------------------------
def test_onehot_patterns_data():
    cfg = load_config(REPO / "configs" / "onehot_patterns.yaml")
    ds = load_dataset(cfg.data, cfg.model, file=cfg.source)
    assert np.all(ds.X.sum(axis=1) == 1) and set(np.unique(ds.X)) == {0.0, 1.0}  # one-hot inputs
    assert ds.Y.shape == (len(ds.X), ds.n_classes) and np.all(ds.Y.sum(axis=1) == 1)


@pytest.mark.parametrize("name", ["quickstart", "tanh_spike"])
def test_shipped_synthetic_configs(name):
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    ds = load_dataset(cfg.data, cfg.model, file=cfg.source)
    assert ds.Y.shape == (cfg.data.n_samples, 1)


def test_generators_cover_the_synthetic_kinds():
    assert set(GENERATORS) == {"blobs", "moons", "circles", "spirals", "xor", "linear"}


# --- properties --------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(CLASS_KINDS),
    n=st.integers(4, 300),
    k=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
    split=st.floats(0, 0.9),
    loss=st.sampled_from(["cross_entropy", "mse"]),
)
def test_any_valid_config_gives_targets_shaped_for_the_loss(kind, n, k, seed, split, loss):
    n_classes = k if kind in ("blobs", "spirals") else 2
    d = {"kind": kind, "n_samples": max(n, n_classes), "n_classes": n_classes, "seed": seed}
    d["validation_split"] = split
    model = {"output": "softmax" if loss == "cross_entropy" else "identity", "loss": loss}
    try:
        cfg = config_from_dict({"data": d, "model": model})
        ds = load_dataset(cfg.data, cfg.model)
    except ConfigError as e:  # only a split too small or too large for n may fail
        assert e.key == "data.validation_split"
        return
    width = n_classes if (loss == "cross_entropy" or n_classes > 2) else 1
    n_total = len(ds.X) + (0 if ds.X_val is None else len(ds.X_val))
    assert n_total == cfg.data.n_samples and ds.Y.shape == (len(ds.X), width)
    assert np.all(np.isfinite(ds.X)) and set(np.unique(ds.Y)) <= {0.0, 1.0}


# --- hostile files (issue 12) ------------------------------------------------------------------
@pytest.mark.parametrize("label", [5_000, 40_000])
def test_one_label_far_beyond_the_classes_is_a_data_error(tmp_path, label):
    """One label of 40,000 made np.eye(40001) (12.5 GB) in a dry run planned at 5.6 MiB."""
    path = tmp_path / "d.csv"
    path.write_text(f"a,label\n0.5,0\n1.5,1\n2.5,{label}\n")
    with pytest.raises(DataError, match=f"labels run up to {label}"):
        file_dataset(path)


def test_one_hot_targets_do_not_need_a_k_by_k_identity(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,label\n0.5,0\n1.5,1\n2.5,2\n3.5,1\n")

    def no_eye(*args, **kwargs):
        raise AssertionError("built a K x K identity")

    monkeypatch.setattr(np, "eye", no_eye)
    ds = file_dataset(path)
    np.testing.assert_array_equal(ds.Y, [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]])


def test_an_npz_loads_only_the_arrays_it_names(tmp_path):
    import tracemalloc

    path = tmp_path / "d.npz"
    unused = np.zeros((64, 1024, 1024), dtype=np.uint8)  # 64 MiB, a few KiB compressed
    np.savez_compressed(path, X=np.ones((4, 2)), y=np.array([0, 1, 0, 1]), unused=unused)
    del unused
    tracemalloc.start()
    try:
        ds = file_dataset(path, BCE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ds.X.shape == (4, 2)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    "member, content",
    [
        ("X.npy", b"plain bytes, no .npy header"),
        ("y.npy", b"\x93NUMPY\x01\x00{bogus"),
        ("X", b"no suffix at all"),
    ],
)
def test_an_npz_member_that_is_not_an_npy_array_is_a_data_error(tmp_path, member, content):
    import io
    import zipfile

    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, array in (("X", np.ones((2, 1))), ("y", np.array([0, 1]))):
            if name not in member:
                buf = io.BytesIO()
                np.save(buf, array)
                z.writestr(f"{name}.npy", buf.getvalue())
        z.writestr(member, content)
    with pytest.raises(DataError):
        file_dataset(path, BCE)


def test_standardizing_huge_values_neither_overflows_nor_warns(tmp_path):
    import warnings

    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1e308,1,0\n-1e308,2,1\n1e308,3,0\n-1e308,4,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning reached the user's stderr
        ds = file_dataset(path, BCE, standardize=True)
    np.testing.assert_allclose(ds.X[:, 0], [1, -1, 1, -1])
    np.testing.assert_allclose(ds.X.mean(axis=0), 0, atol=1e-12)


def test_noise_that_overflows_is_a_config_error():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match="overflow") as info:
            dataset(kind="moons", noise=1e308, n_samples=24)
    assert info.value.key == "data.noise"


# --- the training dtype ------------------------------------------------------------------------
@pytest.mark.parametrize("stored", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("split", [0.0, 0.25])
def test_data_in_a_training_dtype_is_the_float64_data_rounded_once(
    tmp_path, stored, standardize, split
):
    rng = np.random.default_rng(0)
    X = (rng.random((40, 3)) * 200).astype(stored)
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(40) % 3)
    data = {"standardize": standardize, "validation_split": split, "seed": 1}
    wide = file_dataset(tmp_path / "d.npz", **data)
    narrow = load_dataset(
        DataConfig(kind="file", path=str(tmp_path / "d.npz"), **data), CE, dtype=np.float32
    )
    assert wide.X.dtype == wide.Y.dtype == np.float64  # the default is unchanged
    names = ("X", "Y", "X_val", "Y_val") if split else ("X", "Y")
    if not split:
        assert wide.X_val is None and narrow.X_val is None
    for name in names:
        want, got = getattr(wide, name), getattr(narrow, name)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want.astype(np.float32))  # exactly, not to rounding
    if not standardize and split == 0:
        np.testing.assert_array_equal(narrow.X, X.astype(np.float32))  # the stored values


def test_samples_too_many_to_allocate_name_the_key(monkeypatch):
    """A generator that cannot allocate (NumPy's MemoryError) is a config error at
    data.n_samples that says how much the data would take, not a bare "out of memory"."""

    def no_memory(*args):
        raise MemoryError("Unable to allocate 1.46 TiB")

    monkeypatch.setitem(GENERATORS, "blobs", no_memory)
    with pytest.raises(ConfigError) as info:
        load_dataset(DataConfig(kind="blobs", n_samples=10**11), CE, file="c.yaml")
    e = info.value
    assert e.key == "data.n_samples" and e.file == "c.yaml"
    need = 10**11 * (2 + 1) * 8 / 2**30  # X (2 features) and the targets, float64
    assert f"{need:.3g} GiB" in e.message
