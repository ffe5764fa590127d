"""docs/gradcheck.md's example module with two bugs planted, for its transcript.

`lrdiag gradcheck examples/buggy_model.py` names both: the `/ m` of the mean is dropped from dZ2
(every gradient 200 times too large), and the hidden bias gradient is summed over every axis
instead of the sample axis (a scalar that the update broadcasts).
"""

import numpy as np

rng = np.random.default_rng(0)
X = rng.standard_normal((200, 2))  # 200 samples, 2 features
Y = (X[:, :1] * X[:, 1:] > 0).astype(float)  # (200, 1) labels 0/1
m = len(X)


def params():  # or a dict: params = {...}
    r = np.random.default_rng(1)
    return {
        "W1": r.standard_normal((2, 16)) / np.sqrt(2),
        "b1": np.zeros((1, 16)),
        "W2": r.standard_normal((16, 1)) / 4,
        "b2": np.zeros((1, 1)),
    }


def loss(p):  # mean binary cross-entropy, computed from the logits
    A1 = np.tanh(X @ p["W1"] + p["b1"])
    Z2 = A1 @ p["W2"] + p["b2"]
    return float(np.mean(np.logaddexp(0, Z2) - Y * Z2))


def grad(p):  # same keys and shapes as params
    A1 = np.tanh(X @ p["W1"] + p["b1"])
    A2 = 1 / (1 + np.exp(-(A1 @ p["W2"] + p["b2"])))
    dZ2 = A2 - Y  # bug: the 1/m of the mean is missing
    dZ1 = (dZ2 @ p["W2"].T) * (1 - A1**2)  # tanh' = 1 - tanh^2
    return {
        "W1": X.T @ dZ1,
        "b1": np.sum(dZ1),  # bug: summed over every axis, not only the samples
        "W2": A1.T @ dZ2,
        "b2": dZ2.sum(axis=0, keepdims=True),
    }


if __name__ == "__main__":  # training: not run by lrdiag gradcheck
    p = params()
    for _ in range(1000):
        g = grad(p)
        for k in p:
            p[k] -= 0.5 * g[k]
    print(loss(p))
