"""A small conv net for `lrdiag gradcheck examples/my_conv_model.py` (the contract of
examples/my_model.py: ``params``, ``loss(params)``, ``grad(params)``).

The model: 8x8 one-channel images -> conv 4 filters 3x3 (valid) + tanh -> 2x2 max pooling
-> flatten (C order) -> dense 3 -> softmax cross-entropy averaged over the samples. Weights in
PyTorch's layout: ``K (out, in, kh, kw)``; the dense ``W (in, out)``.
"""

import numpy as np

rng = np.random.default_rng(0)
m = 32  # samples
X = rng.standard_normal((m, 1, 8, 8))  # (m, C, H, W)
Y = np.eye(3)[rng.integers(0, 3, m)]  # (m, 3) one-hot
K_SIZE = 3


def params():
    init = np.random.default_rng(1)
    return {
        "K": init.standard_normal((4, 1, K_SIZE, K_SIZE)) / 3.0,
        "c": np.zeros(4),
        "W": init.standard_normal((4 * 3 * 3, 3)) / 6.0,
        "b": np.zeros(3),
    }


def patches(x):
    """(m, C, H, W) -> (m, C*k*k, Ho*Wo): the image under each kernel position."""
    mm, C, H, W = x.shape
    Ho, Wo = H - K_SIZE + 1, W - K_SIZE + 1
    cols = np.empty((mm, C, K_SIZE, K_SIZE, Ho, Wo))
    for i in range(K_SIZE):
        for j in range(K_SIZE):
            cols[:, :, i, j] = x[:, :, i : i + Ho, j : j + Wo]
    return cols.reshape(mm, C * K_SIZE * K_SIZE, Ho * Wo)


def forward(p):
    cols = patches(X)  # (m, 9, 36)
    Z1 = np.einsum("ok,mkp->mop", p["K"].reshape(4, -1), cols) + p["c"][:, None]  # (m, 4, 36)
    A1 = np.tanh(Z1).reshape(m, 4, 6, 6)
    windows = A1.reshape(m, 4, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(m, 4, 3, 3, 4)
    P = windows.max(axis=-1)  # (m, 4, 3, 3)
    Z2 = P.reshape(m, -1) @ p["W"] + p["b"]  # (m, 3)
    return cols, A1, windows, P, Z2


def loss(p):
    *_, Z2 = forward(p)
    s = Z2 - Z2.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(s).sum(axis=1)) - (Y * s).sum(axis=1)))


def grad(p):
    cols, A1, windows, P, Z2 = forward(p)
    e = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    dZ2 = (e / e.sum(axis=1, keepdims=True) - Y) / m  # (m, 3)
    dP = (dZ2 @ p["W"].T).reshape(P.shape)  # (m, 4, 3, 3)
    first = windows.argmax(axis=-1)  # the first maximum of each window gets the gradient
    dwin = (np.arange(4) == first[..., None]) * dP[..., None]  # (m, 4, 3, 3, 4)
    dA1 = dwin.reshape(m, 4, 3, 3, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(m, 4, 6, 6)
    dZ1 = (dA1 * (1 - A1**2)).reshape(m, 4, 36)  # tanh'
    return {
        "K": np.einsum("mop,mkp->ok", dZ1, cols).reshape(p["K"].shape),
        "c": dZ1.sum(axis=(0, 2)),
        "W": P.reshape(m, -1).T @ dZ2,
        "b": dZ2.sum(axis=0),
    }
