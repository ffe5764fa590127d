"""Bug: the derivative of tanh is written 1 - a instead of 1 - a**2."""

import numpy as np

rng = np.random.default_rng(0)
m = 64
X = rng.standard_normal((m, 2))  # (m, 2)
Y = (X[:, :1] * X[:, 1:] > 0).astype(np.float64)  # (m, 1): XOR of the signs

params = {
    "W1": rng.standard_normal((2, 8)),
    "b1": 0.1 * rng.standard_normal((1, 8)),
    "W2": rng.standard_normal((8, 1)),
    "b2": np.zeros((1, 1)),
}


def loss(p):
    A1 = np.tanh(X @ p["W1"] + p["b1"])
    Z2 = A1 @ p["W2"] + p["b2"]
    return np.mean(np.maximum(Z2, 0) - Y * Z2 + np.log1p(np.exp(-np.abs(Z2))))


def grad(p):
    A1 = np.tanh(X @ p["W1"] + p["b1"])  # (m, 8)
    A2 = 1 / (1 + np.exp(-(A1 @ p["W2"] + p["b2"])))  # (m, 1)
    dZ2 = (A2 - Y) / m
    dZ1 = (dZ2 @ p["W2"].T) * (1 - A1)  # BUG: tanh'(z) is 1 - tanh(z)**2
    return {
        "W1": X.T @ dZ1,
        "b1": dZ1.sum(axis=0, keepdims=True),
        "W2": A1.T @ dZ2,
        "b2": dZ2.sum(axis=0, keepdims=True),
    }
