"""Bug: `dE[idx] += g` drops repeated indices, so one row of a 300 x 200 embedding is wrong.

NumPy's fancy-index `+=` writes each row once: a token that occurs twice in the batch gets the
gradient of one occurrence instead of the sum of both (`np.add.at(dE, idx, g)` is right).
Tokens 0..249 occur once and token 123 twice, so only row 123 of E is wrong: 200 of its 60,000
entries, which a sample of 48 entries usually misses.
"""

import numpy as np

rng = np.random.default_rng(0)
V, D = 300, 200  # vocabulary, embedding size
REPEATED = 123
idx = np.concatenate([np.arange(250), [REPEATED]])  # (n,) token ids: 123 occurs twice
n = len(idx)
Y = (rng.random((n, 1)) < 0.5).astype(np.float64)  # (n, 1) labels 0/1

params = {
    "E": 0.1 * rng.standard_normal((V, D)),
    "w": rng.standard_normal((D, 1)) / np.sqrt(D),
    "b": np.zeros((1, 1)),
}


def loss(p):
    Z = p["E"][idx] @ p["w"] + p["b"]  # (n, 1)
    return float(np.mean(np.logaddexp(0, Z) - Y * Z))


def grad(p):
    H = p["E"][idx]  # (n, D)
    dZ = (1 / (1 + np.exp(-(H @ p["w"] + p["b"]))) - Y) / n  # (n, 1)
    dE = np.zeros_like(p["E"])
    dE[idx] += dZ @ p["w"].T  # BUG: drops repeated indices; np.add.at(dE, idx, dZ @ w.T)
    return {"E": dE, "w": H.T @ dZ, "b": dZ.sum(axis=0, keepdims=True)}
