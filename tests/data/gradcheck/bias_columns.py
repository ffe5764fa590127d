"""Bug (the first question): samples in columns, and the hidden bias gradient summed over all
axes: dZ1 has shape (128, 200), np.sum(dZ1, keepdims=True) has shape (1, 1); b1 is (128, 1),
so the fix is dZ1.sum(axis=1, keepdims=True)."""

import numpy as np

rng = np.random.default_rng(0)
m = 200
X = rng.standard_normal((2, m))  # (2, m): samples in columns
Y = (X[:1] * X[1:] > 0).astype(np.float64)  # (1, m)

params = {
    "W1": rng.standard_normal((128, 2)) / np.sqrt(2),
    "b1": np.zeros((128, 1)),
    "W2": rng.standard_normal((1, 128)) / np.sqrt(128),
    "b2": np.zeros((1, 1)),
}


def loss(p):
    A1 = np.tanh(p["W1"] @ X + p["b1"])  # (128, m)
    Z2 = p["W2"] @ A1 + p["b2"]  # (1, m)
    return float(np.mean(np.maximum(Z2, 0) - Y * Z2 + np.log1p(np.exp(-np.abs(Z2)))))


def grad(p):
    A1 = np.tanh(p["W1"] @ X + p["b1"])  # (128, m)
    Z2 = p["W2"] @ A1 + p["b2"]
    dZ2 = (1 / (1 + np.exp(-Z2)) - Y) / m  # (1, m)
    dZ1 = (p["W2"].T @ dZ2) * (1 - A1**2)  # (128, m)
    return {
        "W1": dZ1 @ X.T,
        "b1": np.sum(dZ1, keepdims=True),  # BUG: (1, 1); should be dZ1.sum(axis=1, keepdims=True)
        "W2": dZ2 @ A1.T,
        "b2": dZ2.sum(axis=1, keepdims=True),
    }
