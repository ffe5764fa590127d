"""Datasets: synthetic generators and file loaders -> Dataset (X, Y shaped for the loss).

A generator is ``(n_samples, noise, n_features, n_classes, rng) -> (X, t)`` with ``X (n, d)``
and ``t`` either integer class labels ``(n,)`` or continuous targets ``(n, k)`` (regression, or
probabilities: soft targets for bce and cross_entropy).
``GENERATORS`` is the registry; its keys plus "file" are the valid ``data.kind`` values.
Everything random comes from one generator seeded by ``data.seed``, so a seed fixes the arrays:
``np.random.default_rng(data.seed)``, except for the kinds in ``OWN_STREAM`` (see there).

The geometry follows scikit-learn's generators (written from scratch):

* blobs: ``n_classes`` centres drawn uniformly in the box [-1, 1]^d, samples split as evenly as
  possible between them, each point a centre plus Gaussian noise of std ``noise`` (so noise 0.1
  gives tight clusters, 0.5 overlapping ones).
* moons: two interleaving half circles of radius 1: the upper one (label 0) centred at (0, 0),
  the lower one (label 1) centred at (1, 0.5); angles evenly spaced; + noise.
* circles: two concentric circles, radius 1 (label 0) and 0.5 (label 1); + noise.
* spirals: ``n_classes`` arms from the centre out to radius 1, each turning 3/4 of a circle,
  rotated 2*pi/n_classes apart; + noise.
* xor: points uniform in the square [-1, 1]^2, label 1 where the signs of the two coordinates
  differ; the noise is added after labelling, so it blurs the boundary.
* linear (regression): ``X ~ N(0, 1)``, ``y = X w + noise * N(0, 1)`` with ``w ~ N(0, 1)``;
  no intercept.

Class samples are shuffled (one permutation), so classes are interleaved.

Bundled (``BUNDLED``, read from files inside the package, never downloaded): ``digits``, the
UCI optical-recognition handwritten digits (1,797 images of 8x8 pixels, 0..16, 10 classes; see
``lrdiag/datasets/README.md``), in the file's order.

Files (``kind: file``): ``.npz`` with arrays ``X`` and ``y`` (``data.target`` names another
array), or Keras's ``mnist.npz`` layout (``x_train``, ``y_train``, ``x_test``, ``y_test``: the
test part is the validation data), or ``.csv`` with a header row (the
target column is ``data.target``, default the last). ``data.scale`` multiplies the inputs after
loading, before ``standardize``.
Images (digits; an ``X`` of 3-D ``(n, H, W)`` or 4-D ``(n, C, H, W)``; Keras's 4-D arrays are
channels-last and turned channels-first) become rows of ``X`` in C order, and their shape
``(C, H, W)`` is ``Dataset.image_shape``, for conv layers (lrdiag.convnet).
A target whose values are all non-negative integers (or whose rows are one-hot) is class labels
``0..K-1``; any other target is regression.

Targets are shaped for the loss: ``bce`` -> (n, 1) of 0/1; ``cross_entropy`` -> one-hot (n, K);
``mse`` -> floats, class labels becoming a 0/1 column for two classes and one-hot otherwise.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrdiag.config import DataConfig, ModelConfig
from lrdiag.errors import ConfigError, DataError, printable, quote


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray  # (n, d) training inputs: float64, or the dtype load_dataset was asked for
    Y: np.ndarray  # (n, k) training targets shaped for the loss, in X's dtype
    X_val: np.ndarray | None  # (m, d) held-out inputs, None without a validation split
    Y_val: np.ndarray | None  # (m, k)
    n_classes: int | None  # None for regression
    feature_names: tuple[str, ...]
    target_name: str
    notes: tuple[str, ...] = ()  # worth knowing, not errors (printed on stderr by the CLI)
    # (C, H, W) when the inputs are images: each row of X is one, flattened in C order
    image_shape: tuple[int, int, int] | None = None


# --- synthetic generators ----------------------------------------------------------------------
Generator = Callable[[int, float, int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _split_evenly(n: int, k: int) -> np.ndarray:
    """Sizes of k groups of n samples, as equal as possible (the first n % k get one more)."""
    return np.array([n // k + (i < n % k) for i in range(k)])


def blobs(n: int, noise: float, d: int, k: int, rng: np.random.Generator):
    centres = rng.uniform(-1.0, 1.0, size=(k, d))
    labels = np.repeat(np.arange(k), _split_evenly(n, k))
    X = centres[labels] + noise * rng.standard_normal((n, d))
    return X, labels


def moons(n: int, noise: float, d: int, k: int, rng: np.random.Generator):
    n_upper = n // 2
    n_lower = n - n_upper
    t_upper = np.linspace(0.0, math.pi, n_upper)
    t_lower = np.linspace(0.0, math.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    labels = np.repeat([0, 1], [n_upper, n_lower])
    return X, labels


CIRCLES_FACTOR = 0.5  # radius of the inner circle; the outer one has radius 1


def circles(n: int, noise: float, d: int, k: int, rng: np.random.Generator):
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, 2 * math.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2 * math.pi, n_inner, endpoint=False)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = CIRCLES_FACTOR * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    labels = np.repeat([0, 1], [n_outer, n_inner])
    return X, labels


SPIRAL_TURNS = 0.75  # how far each arm winds, in full circles, from the centre to radius 1


def spirals(n: int, noise: float, d: int, k: int, rng: np.random.Generator):
    parts = []
    for arm, size in enumerate(_split_evenly(n, k)):
        r = np.linspace(0.0, 1.0, size)
        theta = 2 * math.pi * (arm / k + SPIRAL_TURNS * r)
        parts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
    X = np.concatenate(parts) + noise * rng.standard_normal((n, 2))
    labels = np.repeat(np.arange(k), _split_evenly(n, k))
    return X, labels


def xor(n: int, noise: float, d: int, k: int, rng: np.random.Generator):
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    labels = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    return X + noise * rng.standard_normal((n, 2)), labels


def linear(n: int, noise: float, d: int, k: int, rng: np.random.Generator):
    w = rng.standard_normal(d)
    X = rng.standard_normal((n, d))
    y = X @ w + noise * rng.standard_normal(n)
    return X, y[:, None]


GENERATORS: dict[str, Generator] = {
    "blobs": blobs,
    "moons": moons,
    "circles": circles,
    "spirals": spirals,
    "xor": xor,
    "linear": linear,
}


# --- bundled datasets --------------------------------------------------------------------------
def digits(data: DataConfig, file: str | None):
    """The UCI 8x8 digits shipped in the package: (X (1797, 64) of 0..16, labels (1797, 1),
    feature names, target name, 0 test rows), the layout of ``_read_file``."""
    import gzip  # here: a sweep of other data loads neither (a few ms of start-up)
    from importlib import resources

    raw = (resources.files("lrdiag") / "datasets" / "digits.csv.gz").read_bytes()
    values = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",")
    names = tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))
    return values[:, :-1].reshape(-1, 8, 8), values[:, -1:], names, "digit", 0


BUNDLED = {"digits": digits}  # kind -> reader with _read_file's signature and result

# Kinds whose draws must not be the ones a model's initial weights take. The weights of a
# training seed s come from np.random.default_rng(s); linear draws its true weights w ~ N(0, 1)
# first, exactly as init scheme normal (scale 1) draws a linear model's, so with data.seed equal
# to a training seed the model would start at the true weights. These kinds draw from a child
# stream of data.seed (spawn key below), which no integer seed's generator can coincide with.
OWN_STREAM: dict[str, int] = {"linear": 0x6C696E}  # kind -> spawn key ("lin")


def data_rng(data: DataConfig) -> np.random.Generator:
    """The generator every random draw of ``data`` comes from."""
    key = OWN_STREAM.get(data.kind)
    if key is None:
        return np.random.default_rng(data.seed)
    return np.random.default_rng(np.random.SeedSequence(data.seed, spawn_key=(key,)))


# --- the public entry --------------------------------------------------------------------------
def load_dataset(
    data: DataConfig, model: ModelConfig, *, file: str | None = None, dtype=np.float64
) -> Dataset:
    """Generate or read the data of ``data``, with targets shaped for ``model.loss``.

    Inputs and targets come in ``dtype`` (a sweep's training dtype: converted here, once).
    Scaling and standardizing are computed in float64 and then converted, so the values are
    those of the float64 data rounded once; a file's array that needs neither is converted
    straight from the type it is stored in (no float64 copy of a float32 file).
    ``file`` is the config file, named in ConfigErrors. A data file's contents that cannot be
    read are DataErrors; a target that does not fit the loss is a ConfigError at ``model.loss``.
    """
    rng = data_rng(data)
    n_test = 0  # rows at the end of X that are the file's own test part (validation data)
    image_shape = None
    if data.kind == "file" or data.kind in BUNDLED:
        read = _read_file if data.kind == "file" else BUNDLED[data.kind]
        X, t, feature_names, target_name, n_test = read(data, file)
        X, image_shape = _flat_images(X)
        labels, k = _class_labels(t)
    else:
        try:
            with np.errstate(all="ignore"):  # a huge noise overflows: refused just below
                X, t = GENERATORS[data.kind](
                    data.n_samples, data.noise, data.n_features, data.n_classes, rng
                )
        except MemoryError:
            need = data.n_samples * (data.n_features + 1) * 8  # X and the targets, float64
            raise ConfigError(
                f"{data.n_samples} samples of {data.n_features} features take at least "
                f"{need / 2**30:.3g} GiB to generate, more than this machine can allocate; "
                "use fewer samples",
                file=file,
                key="data.n_samples",
            ) from None
        if not (np.isfinite(X).all() and np.isfinite(t).all()):
            raise ConfigError(
                f"noise {data.noise:g} makes inputs or targets overflow float64; use a noise "
                "the data's scale (about 1) can hold",
                file=file,
                key="data.noise",
            )
        order = rng.permutation(len(X))
        X, t = X[order], t[order]
        labels = t if t.ndim == 1 else None
        k = None if labels is None else data.n_classes
        feature_names = tuple(f"x{i}" for i in range(X.shape[1]))
        target_name = "y" if labels is None else "label"
    source = str(data.path) if data.kind == "file" else f"kind {data.kind!r}"
    Y, n_classes = _shape_targets(t, labels, k, model, source, file)
    dtype = np.dtype(dtype)
    arithmetic = data.scale != 1 or data.standardize
    X = np.asarray(X, dtype=np.float64 if arithmetic else np.result_type(X.dtype, dtype))
    if data.scale != 1:
        X = X * data.scale

    X_val = Y_val = None
    if n_test:
        if data.validation_split > 0:
            raise ConfigError(
                f"{source} has its own test part ({n_test} rows of x_test, y_test), which is "
                "the validation data: remove data.validation_split",
                file=file,
                key="data.validation_split",
            )
        X_val, Y_val, X, Y = X[-n_test:], Y[-n_test:], X[:-n_test], Y[:-n_test]
    elif data.validation_split > 0:
        n_val = validation_size(len(X), data.validation_split, file)
        order = rng.permutation(len(X))
        X_val, Y_val = X[order[:n_val]], Y[order[:n_val]]
        X, Y = X[order[n_val:]], Y[order[n_val:]]
    if data.standardize:
        big = np.ones(X.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = X.mean(axis=0), X.std(axis=0)
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            # values near float64's largest (1e308) overflow the mean or variance: divide each
            # feature by its largest |x| first (the same result, up to rounding)
            big = np.max(np.abs(X), axis=0)
            mean, std = (X / big).mean(axis=0), (X / big).std(axis=0)
        std = np.where(std > 0, std, 1.0)  # a constant feature is centred, not scaled
        X = (X / big - mean) / std
        if X_val is not None:
            with np.errstate(over="ignore"):  # held-out values far beyond the training range
                X_val = (X_val / big - mean) / std
            if not np.isfinite(X_val).all():
                raise DataError(
                    f"{source}: validation inputs are too far beyond the training range to "
                    "standardize (overflow); rescale the features"
                )
    notes = _absent_classes(t, labels, k, model) if data.kind == "file" else ()
    if labels is None and n_classes is not None:  # soft targets (_soft_targets)
        notes = (*notes, *_soft_note(Y, model.loss))
    X, Y = X.astype(dtype, copy=False), Y.astype(dtype, copy=False)
    if X_val is not None and Y_val is not None:
        X_val, Y_val = X_val.astype(dtype, copy=False), Y_val.astype(dtype, copy=False)
    return Dataset(X, Y, X_val, Y_val, n_classes, feature_names, target_name, notes, image_shape)


def _flat_images(X: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """Rows of X and the image shape (C, H, W): a 3-D X is (n, H, W) of one channel, a 4-D X
    is (n, C, H, W), channels first; any other X has no image shape."""
    if X.ndim == 3:
        return X.reshape(len(X), -1), (1, *X.shape[1:])
    if X.ndim == 4:
        return X.reshape(len(X), -1), tuple(X.shape[1:])
    return X, None


def validation_size(n: int, split: float, file: str | None = None) -> int:
    """Samples held out: ``split * n`` rounded half up, leaving at least one on each side."""
    n_val = math.floor(split * n + 0.5)
    if split > 0 and not 1 <= n_val <= n - 1:
        raise ConfigError(
            f"{split:g} of {n} samples holds out {n_val}; a split needs at least one sample "
            "on each side",
            file=file,
            key="data.validation_split",
        )
    return n_val


# --- targets -----------------------------------------------------------------------------------
# More classes than this that never occur (labels 0..K-1 with gaps) is a data error: such labels
# are ids or counts, not class indices, and K outputs (one-hot targets n x K) would be trained.
MAX_ABSENT_CLASSES = 1000


def _class_labels(t: np.ndarray) -> tuple[np.ndarray | None, int | None]:
    """(labels 0..K-1, K) if ``t`` (n, k) holds class labels or one-hot rows, else (None, None).

    K is the largest label + 1 for a label column, the row width for one-hot rows."""
    if t.shape[1] == 1:
        col = t[:, 0]
        if np.all(col >= 0) and np.all(col == np.round(col)):
            return col.astype(np.int64), int(col.max()) + 1
        return None, None
    if np.all((t == 0) | (t == 1)) and np.all(t.sum(axis=1) == 1):
        return np.argmax(t, axis=1), t.shape[1]
    return None, None


def _shape_targets(t, labels, k, model: ModelConfig, source: str, file: str | None):
    """(Y (n, k) float64, n_classes or None) for ``model.loss``; ``k`` is the class count."""
    loss = model.loss
    if labels is None:  # regression, or soft targets (probabilities) for bce / cross_entropy
        if loss != "mse":
            t = np.asarray(t, dtype=np.float64)
            soft = _soft_targets(t, loss)
            if soft is not None:
                return soft
            if t.ndim == 2 and t.shape[1] == 1 and np.all(t == np.round(t)):  # -1/+1, say
                raise ConfigError(
                    f"{loss} needs class labels 0..K-1, but {source} has labels "
                    f"{_label_values(t[:, 0])}; relabel them from 0 (-1/+1 as 0/1), or for "
                    "regression use output: identity, loss: mse",
                    file=file,
                    key="model.loss",
                )
            raise ConfigError(
                f"{loss} needs class labels, or probabilities (in [0, 1]"
                + (", one column" if loss == "bce" else ", each row summing to 1")
                + f"), but {source} gives other continuous targets; for regression use "
                "output: identity, loss: mse",
                file=file,
                key="model.loss",
            )
        return np.asarray(t, dtype=np.float64).reshape(len(t), -1), None
    if loss == "bce" and k > 2:
        present = np.unique(labels)
        if len(present) == 2:  # two classes, labelled otherwise (1 and 2, as R counts)
            advice = f"relabel {present[0]} and {present[1]} as 0 and 1"
        else:
            advice = (
                f"for {len(present)} classes use output: softmax, loss: cross_entropy "
                "(or sigmoid/identity with mse)"
            )
            if present[0] > 0:  # the first class is label 0 (it would be an empty class)
                advice += f", with labels counted from 0 (subtract {present[0]})"
        raise ConfigError(
            f"bce takes 0/1 labels, but {source} has labels {_label_values(present)}; {advice}",
            file=file,
            key="model.loss",
        )
    absent = k - len(np.unique(labels))
    if absent > MAX_ABSENT_CLASSES and loss != "bce":
        raise DataError(
            f"{source}: the labels run up to {k - 1}, but only {k - absent} distinct classes "
            f"occur, so {absent} of the {k} outputs would never be a target (more than "
            f"{MAX_ABSENT_CLASSES}); relabel the classes 0..K-1 (a target of whole numbers >= 0 "
            "is read as class labels)"
        )
    if loss == "cross_entropy" and k < 2:
        raise ConfigError(
            f"cross_entropy needs at least 2 classes, but {source} has only label 0",
            file=file,
            key="model.loss",
        )
    if loss == "bce" or (loss == "mse" and k <= 2):
        Y = labels[:, None].astype(np.float64)
    else:
        Y = np.zeros((len(labels), k))  # one-hot, without a K x K identity
        Y[np.arange(len(labels)), labels] = 1.0
    return Y, k


# soft cross-entropy targets: each row's probabilities sum to 1 within this (a file's rounding:
# three thirds written with 6 decimals sum to 0.999999); they are then scaled to sum to 1
SOFT_SUM_TOL = 1e-3


def _soft_targets(t: np.ndarray, loss: str) -> tuple[np.ndarray, int] | None:
    """(Y, K) for targets that are probabilities, as PyTorch's BCELoss and CrossEntropyLoss
    take them (label smoothing, distillation, annotators' shares): bce, one column in [0, 1];
    cross_entropy, two or more columns in [0, 1] whose rows sum to 1. The losses' formulas
    (-t log p - (1 - t) log(1 - p); -sum t log p) and their gradients (p - t) hold as they
    are. None for anything else."""
    if t.ndim != 2 or not np.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        return None
    if loss == "bce" and t.shape[1] == 1:
        return t.copy(), 2
    if loss == "cross_entropy" and t.shape[1] >= 2:
        total = t.sum(axis=1, keepdims=True)
        if np.all(np.abs(total - 1.0) <= SOFT_SUM_TOL):
            return t / total, t.shape[1]
    return None


def _soft_note(Y: np.ndarray, loss: str) -> tuple[str, ...]:
    """What soft targets change: the loss cannot fall below their mean entropy, not 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if loss == "bce":
            parts = np.concatenate([Y, 1.0 - Y], axis=1)
        else:
            parts = Y
        h = float(-np.where(parts > 0, parts * np.log(parts), 0.0).sum(axis=1).mean())
    return (
        f"the targets are probabilities (soft targets), not 0/1 labels: {loss} cannot fall "
        f"below their mean entropy, {h:.4g}, so a loss near that level has reached its floor",
    )


def _absent_classes(t, labels, k, model: ModelConfig) -> tuple[str, ...]:
    """A note when a label column leaves classes out: labels index the outputs from 0 (as in
    PyTorch), so labels 1..K train K+1 outputs, one never a target, and chance is ln(K+1)."""
    if labels is None or t.shape[1] != 1 or model.loss == "bce" or k <= 2:
        return ()  # one-hot rows say their width; two classes train one 0/1 output
    present = np.unique(labels)
    if len(present) == k:
        return ()
    first = int(present[0])
    if len(present) >= 2 and len(present) == k - first:  # labels p..K-1: counted from p
        return (
            f"the labels run {first}..{k - 1}, so {k} outputs are trained and "
            f"class{'es' * (first > 1)} {_label_values(np.arange(first))} never "
            f"occur{'s' * (first == 1)} (labels index the outputs from 0); subtract "
            f"{first} for {len(present)} classes",
        )
    absent = np.setdiff1d(np.arange(k), present)
    return (
        f"{len(absent)} of the {k} classes (labels 0..{k - 1}) never occur: "
        f"{_label_values(absent)}",
    )


def _label_values(values: np.ndarray) -> str:
    """The distinct values of an integer target, for messages: '1, 2, 3' or '0..9 (6 values)'."""
    present = np.unique(values).astype(np.int64)
    if len(present) <= 4:
        return ", ".join(str(v) for v in present)
    return f"{present[0]}..{present[-1]} ({len(present)} values)"


# --- files -------------------------------------------------------------------------------------
def _read_file(data: DataConfig, file: str | None):
    """(X (n, d), t (n, k), feature_names, target_name, n_test) from ``data.path``; the last
    ``n_test`` rows are the file's own test part (Keras's x_test, y_test), else 0."""
    if data.path is None:  # config.py asks for it with kind: file; a hand-made DataConfig may not
        raise ConfigError("kind: file needs a path", file=file, key="data.path")
    path = Path(data.path)
    if not path.is_file():
        raise ConfigError(f"data file not found: {path}", file=file, key="data.path")
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        raise ConfigError(
            f"{path}: unsupported file type; allowed: {', '.join(FILE_READERS)}",
            file=file,
            key="data.path",
        )
    X, t, feature_names, target_name, n_test = reader(path, data.target, file)
    if X.ndim == 1:
        X = X[:, None]
    if t.ndim == 1:
        t = t[:, None]
    if X.ndim not in (2, 3, 4) or t.ndim != 2:
        raise DataError(
            f"{path}: X must be 1-D, 2-D, or images (n, H, W) or (n, C, H, W), and y 1-D or "
            f"2-D, got {X.shape}, {t.shape}"
        )
    if len(X) != len(t):
        raise DataError(f"{path}: X has {len(X)} rows but {target_name} has {len(t)}")
    if len(X) == 0:
        raise DataError(f"{path}: no samples")
    for name, a in (("X", X), (target_name, t)):
        if np.isfinite(a).all():  # one pass; the first bad row is searched for only if any
            continue
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            raise DataError(f"{path}: {name} has a non-finite value at row {bad[0][0]}")
    return X, t, feature_names, target_name, n_test


KERAS_ARRAYS = ("x_train", "y_train", "x_test", "y_test")  # keras.datasets.mnist's mnist.npz


def _read_keras(path: Path, z) -> tuple:
    """Keras's layout: the test part appended (n_test rows); images (n, H, W), or channels-last
    (n, H, W, C) turned channels-first."""
    train_x, train_y, test_x, test_y = (z[name] for name in KERAS_ARRAYS)
    for name, a in zip(KERAS_ARRAYS, (train_x, train_y, test_x, test_y), strict=True):
        if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.number):
            raise DataError(f"{path}: array {quote(name)} is not numeric")
    if train_x.ndim < 1 or test_x.shape[1:] != train_x.shape[1:]:
        raise DataError(f"{path}: x_train {train_x.shape} and x_test {test_x.shape} differ")
    X = np.concatenate([train_x, test_x])
    if X.ndim == 4:
        X = np.moveaxis(X, -1, 1)
    elif X.ndim > 4:
        X = X.reshape(len(X), -1)
    t = np.concatenate([train_y.reshape(len(train_y), -1), test_y.reshape(len(test_y), -1)])
    names = tuple(f"x{i}" for i in range(math.prod(X.shape[1:])))
    return X.astype(np.float64), t.astype(np.float64), names, "y", len(test_x)


def _read_npz(path: Path, target: str | None, file: str | None):
    target = target or "y"
    if not zipfile.is_zipfile(path):  # np.load would return a .npy array or try to unpickle
        raise DataError(f"{path}: not an .npz archive (a zip of arrays, as np.savez writes)")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if "X" not in names and all(name in names for name in KERAS_ARRAYS):
                return _read_keras(path, z)
            for name in ("X", target):
                if name not in names:
                    key = "data.target" if name == target and name != "y" else None
                    listed = ", ".join(map(printable, names[:20])) or "none"
                    more = f" and {len(names) - 20} more" if len(names) > 20 else ""
                    message = f"{path}: no array {quote(name)}; arrays: {listed}{more}"
                    if name == "y" and target == "y":
                        message += " (data.target names the target array)"
                    if key:
                        raise ConfigError(message, file=file, key=key)
                    raise DataError(message)
            # only the arrays named: another member may be large, or not an array at all
            arrays = {name: z[name] for name in ("X", target)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as e:
        raise DataError(f"{path}: cannot read as .npz: {e}") from None
    X, t = arrays["X"], arrays[target]
    for name, a in (("X", X), (target, t)):
        if not isinstance(a, np.ndarray):  # np.load gives a member without the .npy header raw
            raise DataError(f"{path}: member {quote(name)} is not a .npy array")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise DataError(f"{path}: array {quote(name)} is not numeric (dtype {a.dtype})")
        if np.iscomplexobj(a):
            raise DataError(f"{path}: array {quote(name)} is complex; real numbers are needed")
    # X stays in its stored type (load_dataset converts it once); integers and bools as float64
    X = X if X.dtype.kind == "f" else X.astype(np.float64)
    t = t.astype(np.float64)
    n_features = math.prod(X.shape[1:]) if X.ndim >= 2 else 1
    return X, t, tuple(f"x{i}" for i in range(n_features)), target, 0


def _read_csv(path: Path, target: str | None, file: str | None):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(i, row) for i, row in enumerate(csv.reader(f), start=1) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read as .csv: {e}") from None
    if not rows:
        raise DataError(f"{path}: empty file (a header row and data rows are needed)")
    _, header = rows[0]
    header = [h.strip() for h in header]
    if len(header) < 2:
        raise DataError(f"{path}: needs at least two columns (features and a target): {header}")
    if target is None:
        target = header[-1]
    if target not in header:
        raise ConfigError(
            f"{path} has no column {target!r}; columns: {', '.join(header)}",
            file=file,
            key="data.target",
        )
    j = header.index(target)
    values = np.empty((len(rows) - 1, len(header)))
    for r, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} cells, the header {len(header)}")
        for c, cell in enumerate(row):
            try:
                values[r, c] = float(cell)
            except ValueError:
                values[r, c] = math.nan
            if not math.isfinite(values[r, c]):
                what = "target column" if c == j else "column"
                allowed = " (class labels 0..K-1, or real values)" if c == j else ""
                raise DataError(
                    f"{path}: line {line}, {what} {header[c]!r}: {cell!r} is not a finite "
                    f"number{allowed}"
                )
    features = tuple(h for i, h in enumerate(header) if i != j)
    return np.delete(values, j, axis=1), values[:, j], features, target, 0


FILE_READERS = {".npz": _read_npz, ".csv": _read_csv}
