"""The learning rate a sharpness allows, and the rows of the training set it is measured on:
what the sweep, find and the results document ask of ``lrdiag.stability``.

Gradient descent on a quadratic with curvature ``lam`` is stable exactly when ``lr < 2 / lam``
(heavy-ball momentum ``beta``: ``lr < 2 (1 + beta) / lam``).
"""

from __future__ import annotations

import numpy as np

DEFAULT_SAMPLES = 1024  # rows of the training set the sharpness is computed on (at most)


def critical_lr(lam, momentum: float = 0.0) -> np.ndarray:
    """The largest stable learning rate on a quadratic of curvature ``lam``: 2 (1 + beta) / lam.

    NaN where ``lam`` is not a positive finite number (no curvature limit, or unknown).
    """
    lam = np.asarray(lam, dtype=np.float64)
    ok = np.isfinite(lam) & (lam > 0)
    out = np.full(np.broadcast(lam, np.asarray(momentum)).shape, np.nan)
    np.divide(2.0 * (1.0 + np.asarray(momentum, dtype=np.float64)), lam, out=out, where=ok)
    return out


def stable_limit(optimizer: str, momentum: float = 0.0) -> float | None:
    """lr * lambda_max below which the optimizer is stable on a quadratic, or None where no
    such limit exists at a fixed point (adaptive methods rescale the curvature as they go).

    sgd: 2. Heavy ball (``momentum``): 2 (1 + beta). Nesterov as torch.optim.SGD steps it
    (``b <- beta b + g``, ``p <- p - lr (g + beta b)``): on ``g = lam p`` the iteration matrix
    ``[[1 - h (1 + beta), -beta^2], [h, beta]]`` (``h = lr lam``, the buffer scaled by lr) has
    determinant ``beta (1 - h)`` and trace ``1 + beta - h (1 + beta)``; Jury's conditions hold
    while ``h < 2 (1 + beta) / (1 + 2 beta)`` (1.36 at beta = 0.9).
    """
    if optimizer == "sgd":
        return 2.0
    if optimizer == "momentum":
        return 2.0 * (1.0 + momentum)
    if optimizer == "nesterov":
        return 2.0 * (1.0 + momentum) / (1.0 + 2.0 * momentum)
    return None


def adaptive_limit(training) -> float | None:
    """lr * preconditioned sharpness (lambda_max of P^(-1) H) above which an adaptive
    optimizer's step is unstable on a quadratic with its preconditioner P frozen, or None.

    Adam, AdamW: (2 + 2 beta1) / (1 - beta1), 38 at beta1 = 0.9, with P = (1 - beta1^t)
    (sqrt(v_hat) + eps) (Cohen et al., 2022, "Adaptive gradient methods at the edge of
    stability"). RMSprop: heavy ball on the preconditioned gradient, 2 (1 + momentum), with
    P = sqrt(v~) + eps. A threshold, not a prediction: P changes as training goes, so it is
    compared with the preconditioned sharpness measured along the way.
    """
    if training.optimizer in ("adam", "adamw"):
        beta1 = training.betas[0]
        return (2.0 + 2.0 * beta1) / (1.0 - beta1)
    if training.optimizer == "rmsprop":
        return 2.0 * (1.0 + training.momentum)
    return None


def subset(X: np.ndarray, Y: np.ndarray, samples: int | None, seed: int = 0):
    """At most ``samples`` rows of (X, Y), the same rows for the same seed (all if fewer).

    The rows keep their order; ``samples=None`` means all of them.
    """
    n = X.shape[0]
    if samples is None or n <= int(samples):
        return X, Y
    rows = np.sort(np.random.default_rng(seed).choice(n, size=int(samples), replace=False))
    return X[rows], Y[rows]
