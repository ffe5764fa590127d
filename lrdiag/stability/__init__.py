"""Sharpness: the largest eigenvalue of each run's loss Hessian, and the learning rate it allows.

Gradient descent on a quadratic with curvature ``lam`` is stable exactly when ``lr < 2 / lam``
(heavy-ball momentum ``beta``: ``lr < 2 (1 + beta) / lam``). For a network, ``lam`` is the
sharpness: the largest (algebraic) eigenvalue of the Hessian of the training loss over all the
parameters of that run.

Contract (same run axis as lrdiag.model):

    hvp(params, X, Y, spec, vec) -> dict like params     # H_r @ v_r for every run r, exact
    sharpness(params, X, Y, spec, *, iters, tol, seed, max_memory) -> (R,) float64
    top_eigenpair(..., start=None) -> Estimate(values (R,), vectors like params, steps (R,))
    bytes_per_run(params, n_samples, iters) -> working memory of one run, for chunking
    critical_lr(lam, momentum=0.0) -> 2 (1 + momentum) / lam, NaN where lam <= 0 or non-finite
    stable_limit(optimizer, momentum) -> lr * lam limit on a quadratic (nesterov too), or None
    subset(X, Y, samples, seed) -> (X, Y) with at most ``samples`` rows, the same every time

One job a module: ``curvature.py`` (Hessian-vector products: the MLP's exact R-operator, with
its activations' second derivatives and its heads' Jacobians, and a conv net's central
difference of gradients), ``lanczos.py`` (the batched Lanczos iteration over flat parameter
vectors: ``top_eigenpair``, ``sharpness``) and ``limits.py`` (``critical_lr`` and the limits of
each optimizer, ``subset``). This module re-exports their public names.
"""

from lrdiag.stability.curvature import FD_STEP, HEAD_JVPS, SECOND_DERIVATIVES, HeadJVP, hvp
from lrdiag.stability.lanczos import (
    BREAKDOWN,
    DEFAULT_ITERS,
    DEFAULT_MAX_MEMORY,
    DEFAULT_TOL,
    REORTH_PASSES,
    Estimate,
    bytes_per_run,
    sharpness,
    top_eigenpair,
)
from lrdiag.stability.limits import (
    DEFAULT_SAMPLES,
    adaptive_limit,
    critical_lr,
    stable_limit,
    subset,
)

__all__ = [
    "BREAKDOWN",
    "DEFAULT_ITERS",
    "DEFAULT_MAX_MEMORY",
    "DEFAULT_SAMPLES",
    "DEFAULT_TOL",
    "FD_STEP",
    "HEAD_JVPS",
    "REORTH_PASSES",
    "SECOND_DERIVATIVES",
    "Estimate",
    "HeadJVP",
    "adaptive_limit",
    "bytes_per_run",
    "critical_lr",
    "hvp",
    "sharpness",
    "stable_limit",
    "subset",
    "top_eigenpair",
]
