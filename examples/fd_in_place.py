"""The second question: a tiny ReLU net whose numerical gradient has its sign flipped.

`lrdiag gradcheck examples/fd_in_place.py` names sign_flipped on every parameter (exit 1).

grad() is textbook central differences that nudge each entry in place and put it back
(v[i] += h; ...; v[i] -= 2*h; ...; v[i] += h), which restores it only to within rounding;
the difference is taken as (f(x - h) - f(x + h)) / 2h. Samples in columns, as in many courses.
"""

import numpy as np

rng = np.random.default_rng(3)
m = 32
X = rng.standard_normal((2, m))  # (2, m): samples in columns
Y = (X[:1] * X[1:] > 0).astype(np.float64)  # (1, m)

params = {
    "W1": 0.7 * rng.standard_normal((6, 2)),
    "b1": 0.1 * rng.standard_normal((6, 1)),
    "W2": 0.7 * rng.standard_normal((1, 6)),
    "b2": np.full((1, 1), 0.1),
}


def loss(p):
    A1 = np.maximum(p["W1"] @ X + p["b1"], 0)  # (6, m)
    Z2 = p["W2"] @ A1 + p["b2"]  # (1, m)
    return float(np.mean(np.maximum(Z2, 0) - Y * Z2 + np.log1p(np.exp(-np.abs(Z2)))))


def grad(p, h=1e-5):
    g = {}
    for name, v in p.items():
        g[name] = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            v[i] += h
            up = loss(p)
            v[i] -= 2 * h
            down = loss(p)
            v[i] += h
            g[name][i] = (down - up) / (2 * h)  # BUG: should be (up - down) / (2 * h)
    return g
