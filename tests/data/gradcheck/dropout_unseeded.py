"""Bug: dropout drawn from an unseeded generator, so every loss call differs.

The gradient itself is right for the mask it draws; finite differences of a loss that changes
from call to call mean nothing, so the check must refuse, not call the gradient wrong.
"""

import numpy as np

rng = np.random.default_rng(0)
m = 32
X = rng.standard_normal((m, 4))  # (m, 4)
Y = rng.standard_normal((m, 1))  # (m, 1)
KEEP = 0.8
noise = np.random.default_rng()  # BUG: no seed, and one stream for every call

params = {
    "W1": 0.5 * rng.standard_normal((4, 8)),
    "b1": np.zeros((1, 8)),
    "W2": 0.5 * rng.standard_normal((8, 1)),
}


def _mask(shape):
    return (noise.random(shape) < KEEP) / KEEP  # a new mask at every call


def loss(p):
    H = np.maximum(X @ p["W1"] + p["b1"], 0) * _mask((m, 8))
    return np.mean((H @ p["W2"] - Y) ** 2)


def grad(p):
    Z1 = X @ p["W1"] + p["b1"]  # (m, 8)
    mask = _mask(Z1.shape)
    H = np.maximum(Z1, 0) * mask
    dZ2 = 2 * (H @ p["W2"] - Y) / m  # (m, 1)
    dZ1 = (dZ2 @ p["W2"].T) * mask * (Z1 > 0)  # (m, 8)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0, keepdims=True), "W2": H.T @ dZ2}
