"""data: {kind: digits} (bundled), data.scale, and Keras's mnist.npz layout with kind: file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from lrdiag.config import DataConfig, ModelConfig
from lrdiag.data import load_dataset
from lrdiag.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CE = ModelConfig(hidden=(), output="softmax", loss="cross_entropy")


def test_digits_are_the_uci_8x8_digits():
    ds = load_dataset(DataConfig(kind="digits"), CE)
    assert ds.X.shape == (1797, 64) and ds.Y.shape == (1797, 10) and ds.n_classes == 10
    assert ds.X.min() == 0 and ds.X.max() == 16 and np.all(ds.X == np.round(ds.X))
    # the first image of the UCI file is a 0 whose top row reads 0 0 5 13 9 1 0 0
    np.testing.assert_array_equal(ds.X[0, :8], [0, 0, 5, 13, 9, 1, 0, 0])
    assert ds.Y[0].argmax() == 0
    counts = np.bincount(ds.Y.argmax(axis=1), minlength=10)
    assert counts.sum() == 1797 and counts.min() >= 174  # every digit about 180 times


def test_the_bundled_file_is_read_as_it_is_shipped():
    raw = (ROOT / "lrdiag" / "datasets" / "digits.csv.gz").read_bytes()
    rows = [line.split(",") for line in gzip.decompress(raw).decode().splitlines()]
    ds = load_dataset(DataConfig(kind="digits"), CE)
    assert len(rows) == len(ds.X)
    for i in (0, 1, 900, 1796):  # a plain reading, row by row
        assert [float(v) for v in rows[i][:-1]] == ds.X[i].tolist()
        assert int(rows[i][-1]) == ds.Y[i].argmax()


def test_scale_multiplies_the_inputs_before_the_split_and_standardize():
    plain = load_dataset(DataConfig(kind="digits", validation_split=0.2), CE)
    raw = load_dataset(DataConfig(kind="digits", validation_split=0.2, scale=255 / 16), CE)
    np.testing.assert_allclose(raw.X, plain.X * 255 / 16)
    np.testing.assert_allclose(raw.X_val, plain.X_val * 255 / 16)
    assert raw.X.max() == 255
    both = load_dataset(DataConfig(kind="digits", scale=255 / 16, standardize=True), CE)
    alone = load_dataset(DataConfig(kind="digits", standardize=True), CE)
    np.testing.assert_allclose(both.X, alone.X, atol=1e-12)  # standardising undoes a scale


def write_keras_npz(path: Path, n_train=12, n_test=5, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 4, 3), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 3,
        "x_test": rng.integers(0, 256, size=(n_test, 4, 3), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 3,
    }
    np.savez(path, **arrays)
    return arrays


def test_keras_mnist_layout_flattens_images_and_validates_on_the_test_part(tmp_path):
    arrays = write_keras_npz(tmp_path / "mnist.npz")
    ds = load_dataset(DataConfig(kind="file", path=str(tmp_path / "mnist.npz")), CE)
    assert ds.X.shape == (12, 12) and ds.X_val.shape == (5, 12)
    for i in range(12):  # image i, row by row
        assert ds.X[i].tolist() == [float(v) for row in arrays["x_train"][i] for v in row]
        assert ds.Y[i].argmax() == arrays["y_train"][i]
    for i in range(5):
        assert ds.X_val[i].tolist() == [float(v) for row in arrays["x_test"][i] for v in row]
        assert ds.Y_val[i].argmax() == arrays["y_test"][i]
    assert ds.n_classes == 3


def test_keras_layout_with_a_validation_split_is_a_config_error(tmp_path):
    write_keras_npz(tmp_path / "mnist.npz")
    cfg = DataConfig(kind="file", path=str(tmp_path / "mnist.npz"), validation_split=0.1)
    with pytest.raises(ConfigError, match="own test part") as info:
        load_dataset(cfg, CE)
    assert info.value.key == "data.validation_split"
