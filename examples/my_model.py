"""A model for `lrdiag gradcheck examples/my_model.py`: copy it and put your own code in.

The contract: this module defines
    params                      a dict of NumPy arrays (or a function returning one)
    loss(params) -> float       the training loss at those parameters
    grad(params) -> dict        d loss / d params, same keys and shapes as params
lrdiag imports the file (so its top-level code runs: keep it cheap, and put training under
`if __name__ == "__main__":`), then compares grad() with finite differences of loss().

The model: 2 -> 128 tanh -> 64 tanh -> 1 sigmoid, binary cross-entropy averaged over the
samples, full batch, on two noisy interleaved half-moons generated from a fixed seed.
"""

import numpy as np

# --- Data: full batch, generated from a fixed seed -------------------------------------------
rng = np.random.default_rng(0)
m = 200  # number of samples
t = rng.uniform(0, np.pi, m)
upper = rng.random(m) < 0.5
X = np.where(
    upper[:, None],
    np.stack([np.cos(t), np.sin(t)], axis=1),
    np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1),
)
X = X + 0.1 * rng.standard_normal((m, 2))  # (m, 2)
Y = (~upper).astype(np.float64)[:, None]  # (m, 1) of 0/1


def params():
    """Initial weights: W (fan_in, fan_out) scaled by 1/sqrt(fan_in), biases (1, fan_out) zeros."""
    init = np.random.default_rng(1)
    sizes = [2, 128, 64, 1]
    p = {}
    for i in range(1, len(sizes)):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        p[f"W{i}"] = init.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        p[f"b{i}"] = np.zeros((1, fan_out))
    return p


def forward(p):
    """Activations of every layer, and the output logits."""
    A1 = np.tanh(X @ p["W1"] + p["b1"])  # (m, 128)
    A2 = np.tanh(A1 @ p["W2"] + p["b2"])  # (m, 64)
    Z3 = A2 @ p["W3"] + p["b3"]  # (m, 1) logits
    return A1, A2, Z3


def loss(p):
    """Mean binary cross-entropy, from the logits (stable: no log(0))."""
    _, _, Z3 = forward(p)
    # -[y log s(z) + (1-y) log(1-s(z))] = max(z, 0) - y z + log(1 + exp(-|z|))
    return float(np.mean(np.maximum(Z3, 0) - Y * Z3 + np.log1p(np.exp(-np.abs(Z3)))))


def grad(p):
    """Backpropagation by hand; the 1/m of the mean enters once, at the output."""
    A1, A2, Z3 = forward(p)
    dZ3 = (1 / (1 + np.exp(-Z3)) - Y) / m  # (m, 1): sigmoid(z) - y, averaged
    dZ2 = (dZ3 @ p["W3"].T) * (1 - A2**2)  # (m, 64): tanh'(z) = 1 - tanh(z)^2
    dZ1 = (dZ2 @ p["W2"].T) * (1 - A1**2)  # (m, 128)
    return {
        "W3": A2.T @ dZ3,  # (64, 1)
        "b3": dZ3.sum(axis=0, keepdims=True),  # (1, 1): sum over the samples only
        "W2": A1.T @ dZ2,  # (128, 64)
        "b2": dZ2.sum(axis=0, keepdims=True),  # (1, 64)
        "W1": X.T @ dZ1,  # (2, 128)
        "b1": dZ1.sum(axis=0, keepdims=True),  # (1, 128)
    }


if __name__ == "__main__":
    # Runs with `python examples/my_model.py`, not when lrdiag imports the module.
    p = params()
    lr = 0.5
    for epoch in range(501):
        if epoch % 100 == 0:
            print(f"epoch {epoch:3d}  loss {loss(p):.4f}")
        g = grad(p)
        for k in p:
            p[k] -= lr * g[k]
