"""Bug: W1's gradient has its sign flipped, in a model that computes in float32.

loss casts the float64 params it gets to float32 and returns a Python float; its value is an
exact float32 number, so the check must use float32 steps and tolerances (float64's step of
~6e-6 drowns in float32 rounding, which makes every gradient look wrong or, worse, right).
"""

import numpy as np

rng = np.random.default_rng(0)
m = 100
X = rng.standard_normal((m, 5)).astype(np.float32)  # (m, 5)
Y = rng.standard_normal((m, 1)).astype(np.float32)  # (m, 1)

params = {
    "W1": (rng.standard_normal((5, 4)) / np.sqrt(5)).astype(np.float32),
    "b1": np.zeros((1, 4), np.float32),
    "W2": (rng.standard_normal((4, 1)) / 2).astype(np.float32),
}


def _f32(p):
    return {k: v.astype(np.float32) for k, v in p.items()}


def loss(p):
    p = _f32(p)
    A1 = np.tanh(X @ p["W1"] + p["b1"])
    return float(np.mean((A1 @ p["W2"] - Y) ** 2))


def grad(p):
    p = _f32(p)
    A1 = np.tanh(X @ p["W1"] + p["b1"])  # (m, 4)
    dZ2 = 2 * (A1 @ p["W2"] - Y) / m  # (m, 1)
    dZ1 = (dZ2 @ p["W2"].T) * (1 - A1**2)  # (m, 4)
    return {
        "W1": -(X.T @ dZ1),  # BUG: the sign is flipped
        "b1": dZ1.sum(axis=0, keepdims=True),
        "W2": A1.T @ dZ2,
    }
