"""Bug (from a forum question): a hand-written finite-difference gradient with its sign flipped.

The model is the correct one; grad() estimates each derivative as (f(x - h) - f(x + h)) / 2h.
"""

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


def grad(p, h=1e-4):
    g = {}
    for name, value in p.items():
        g[name] = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            q = {k: v.copy() for k, v in p.items()}
            q[name][i] = value[i] + h
            up = loss(q)
            q[name][i] = value[i] - h
            down = loss(q)
            g[name][i] = (down - up) / (2 * h)  # BUG: should be (up - down) / (2 * h)
    return g
