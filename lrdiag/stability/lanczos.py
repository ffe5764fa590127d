"""The largest eigenvalue of every run's Hessian at once: batched Lanczos on Hessian-vector
products (``lrdiag.stability.curvature``), on flat parameter vectors.

The largest eigenvalue comes from batched Lanczos with full reorthogonalisation: every run
keeps its own Krylov basis ``Q (R, m, P)``; the Ritz values are the eigenvalues of an
``(R, j, j)`` stack of tridiagonal matrices (``np.linalg.eigvalsh``), whose largest is the
estimate: the largest algebraic eigenvalue, whatever the sign of the others. A run is finished
when its estimate moved by less than ``tol`` (relative) in one step, or its Krylov space is
exhausted; finished runs leave the batch, so the others do not pay for them. All runs start
from the same random direction, so a run's answer depends only on its own parameters.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lrdiag import model
from lrdiag.stability.curvature import Params, Products, linearisation_for

DEFAULT_ITERS = 40  # Lanczos steps at most (each one Hessian-vector product per run)
DEFAULT_TOL = 1e-4  # stop a run when its estimate moves by less than this, relative
BREAKDOWN = 1e-10  # Krylov space exhausted: next Lanczos coefficient below this times ||T||
DEFAULT_MAX_MEMORY = 1024**3  # bytes of working arrays per chunk of runs (None: one chunk)
REORTH_PASSES = 2  # Gram-Schmidt passes against the whole basis per step ("twice is enough")


# --------------------------------------------------------------------------- flat vectors


class _Layout(NamedTuple):
    """Where each layer's W and b live in a run's flat parameter vector of length P."""

    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]]  # (W shape, b shape) without R
    size: int

    @staticmethod
    def of(params: Params) -> _Layout:
        L = model.n_layers(params)
        shapes = [(params[f"W{i}"].shape[1:], params[f"b{i}"].shape[1:]) for i in range(1, L + 1)]
        return _Layout(shapes, sum(int(np.prod(w)) + int(np.prod(b)) for w, b in shapes))

    def split(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of a flat (R, P) array as per-layer (R, in, out) and (R, 1, out) arrays."""
        R, start = flat.shape[0], 0
        VW: list[np.ndarray] = []
        Vb: list[np.ndarray] = []
        for w_shape, b_shape in self.shapes:
            for shape, out in ((w_shape, VW), (b_shape, Vb)):
                n = int(np.prod(shape))
                out.append(flat[:, start : start + n].reshape(R, *shape))
                start += n
        return VW, Vb

    def join(self, gW: list[np.ndarray], gb: list[np.ndarray]) -> np.ndarray:
        R = gW[0].shape[0]
        parts = []
        for w, b in zip(gW, gb, strict=True):
            parts += [w.reshape(R, -1), b.reshape(R, -1)]
        return np.concatenate(parts, axis=1)


def _flatten(params: Params) -> np.ndarray:
    L = model.n_layers(params)
    return _Layout.of(params).join(
        [params[f"W{i}"] for i in range(1, L + 1)], [params[f"b{i}"] for i in range(1, L + 1)]
    )


def _unflatten(flat: np.ndarray, like: Params) -> Params:
    VW, Vb = _Layout.of(like).split(flat)
    out = {}
    for i, (w, b) in enumerate(zip(VW, Vb, strict=True), start=1):
        out[f"W{i}"], out[f"b{i}"] = w, b
    return {key: out[key] for key in like}


# --------------------------------------------------------------------------- Lanczos


class Estimate(NamedTuple):
    """What ``top_eigenpair`` finds for each run."""

    values: np.ndarray  # (R,) largest algebraic Hessian eigenvalue, NaN if not computable
    vectors: Params  # its unit eigenvector (Ritz vector), shaped like params; NaN rows likewise
    steps: np.ndarray  # (R,) Lanczos steps (Hessian-vector products) the run took


def _tridiagonal(alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """(R, j, j) symmetric tridiagonal matrices from diagonals (R, j) and (R, j-1)."""
    R, j = alpha.shape
    T = np.zeros((R, j, j))
    idx = np.arange(j)
    T[:, idx, idx] = alpha
    T[:, idx[:-1], idx[1:]] = beta
    T[:, idx[1:], idx[:-1]] = beta
    return T


def _lanczos_top(
    lin: Products,
    layout: _Layout,
    q: np.ndarray,
    iters: int,
    tol: float,
    scale: np.ndarray | None = None,
):
    """Largest algebraic eigenpair of every run's Hessian from unit start vectors q (R, P).

    With ``scale`` (R, P), of ``D H D`` for D = diag(scale): with scale = P^(-1/2), the
    eigenvalues of the preconditioned Hessian P^(-1) H. Returns values (R,), Ritz vectors
    (R, P) and steps (R,). Runs that finish (estimate settled, Krylov space exhausted, or
    ``iters`` reached) or go non-finite leave the batch.
    """
    R, P = q.shape
    m = max(1, min(int(iters), P))  # a Krylov space of dimension P holds the whole spectrum
    values = np.full(R, np.nan)
    vectors = np.full((R, P), np.nan)
    steps = np.zeros(R, dtype=np.int64)
    rows = np.arange(R)  # original run of each row still iterating
    Q = np.empty((R, m, P))  # the Krylov basis of each run
    alpha = np.zeros((R, m))
    beta = np.zeros((R, m))
    previous = np.full(R, np.nan)
    for j in range(m):
        n = len(rows)
        Q[:n, j] = q
        if scale is None:
            w = layout.join(*lin.product(*layout.split(q)))  # (n, P): H q
        else:
            w = layout.join(*lin.product(*layout.split(q * scale))) * scale  # D H D q
        alpha[:n, j] = np.einsum("rp,rp->r", w, q)
        w -= alpha[:n, j, None] * q
        if j > 0:
            w -= beta[:n, j - 1, None] * Q[:n, j - 1]
        basis = Q[:n, : j + 1]  # (n, j+1, P)
        for _ in range(REORTH_PASSES):
            coef = np.matmul(basis, w[:, :, None])  # (n, j+1, 1)
            w -= np.matmul(np.swapaxes(coef, -1, -2), basis)[:, 0]  # (n, P)
        beta[:n, j] = np.linalg.norm(w, axis=1)

        bad = ~(np.isfinite(alpha[:n, : j + 1]).all(axis=1) & np.isfinite(beta[:n, j]))
        T = _tridiagonal(alpha[:n, : j + 1], beta[:n, :j])
        T[bad] = 0.0  # keep eigvalsh away from NaN; these runs report NaN
        ritz = np.linalg.eigvalsh(T)  # (n, j+1) ascending
        theta = ritz[:, -1]
        settled = np.abs(theta - previous) <= tol * np.abs(theta)  # False while previous is NaN
        exhausted = beta[:n, j] <= BREAKDOWN * np.abs(ritz).max(axis=1)
        done = (settled | exhausted | (j == m - 1)) & ~bad
        finished = done | bad
        steps[rows[finished]] = j + 1
        if done.any():
            values[rows[done]] = theta[done]
            y = np.linalg.eigh(T[done])[1][:, :, -1]  # (d, j+1) top eigenvector of T
            x = np.matmul(y[:, None, :], Q[:n][done, : j + 1])[:, 0]  # (d, P) Ritz vector
            vectors[rows[done]] = x / np.linalg.norm(x, axis=1, keepdims=True)
        if finished.all():
            break
        if finished.any():  # drop finished runs from the batch, in place
            keep = np.flatnonzero(~finished)
            lin = lin.compact(keep)
            for i in range(j + 1):  # one step at a time: no copy of the whole basis
                Q[: len(keep), i] = Q[keep, i]
            alpha[: len(keep)] = alpha[keep]
            beta[: len(keep)] = beta[keep]
            rows, w, theta = rows[keep], w[keep], theta[keep]
            if scale is not None:
                scale = scale[keep]
        q = w / beta[: len(rows), j, None]
        previous = theta
    return values, vectors, steps


def bytes_per_run(params: Params, n_samples: int, iters: int = DEFAULT_ITERS) -> int:
    """Working memory of one run in ``top_eigenpair``: Krylov basis and linearisation."""
    L = model.n_layers(params)
    hidden = sum(params[f"W{i}"].shape[-1] for i in range(1, L))
    k = params[f"W{L}"].shape[-1]
    P = _Layout.of(params).size
    # per hidden unit and sample: a, f', curv, delta and ~5 tangent temporaries; ~4 per output
    return 8 * (min(int(iters), P) * P + 3 * P + int(n_samples) * (9 * hidden + 4 * k))


def top_eigenpair(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    spec,
    *,
    iters: int = DEFAULT_ITERS,
    tol: float = DEFAULT_TOL,
    seed: int = 0,
    start: Params | None = None,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
    precondition: Params | None = None,
) -> Estimate:
    """Largest algebraic eigenvalue of the Hessian of each run's mean loss on (X, Y), with
    its eigenvector, by batched Lanczos on exact Hessian-vector products in float64.

    Each run stops when its estimate moves by less than ``tol`` (relative) in one step, or
    after ``iters`` steps. Runs start from one shared random direction (``seed``), so a run's
    answer depends only on its own parameters; ``start`` (e.g. the previous ``vectors`` when
    tracking during training) is mixed in with equal weight to warm-start each run. Runs
    with non-finite parameters, or whose loss overflows, give NaN; no warning escapes.
    Runs with identical parameters (at initialisation, every learning rate of a seed) are
    computed once. ``max_memory`` (bytes, None = unbounded) splits the runs into chunks.
    ``precondition`` (like params: each entry of each run's diagonal preconditioner P, > 0)
    gives the top eigenpair of P^(-1) H instead (as P^(-1/2) H P^(-1/2), symmetric), the
    preconditioned sharpness of an adaptive optimizer (Cohen et al., 2022).
    """
    params64 = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    X64 = np.asarray(X, dtype=np.float64)
    Y64 = np.asarray(Y, dtype=np.float64)
    layout = _Layout.of(params64)
    flat = _flatten(params64)
    R, P = flat.shape
    values = np.full(R, np.nan)
    vectors = np.full((R, P), np.nan)
    steps = np.zeros(R, dtype=np.int64)
    finite = np.isfinite(flat).all(axis=1)
    scale = None
    if precondition is not None:
        pre = _flatten({k: np.asarray(v, dtype=np.float64) for k, v in precondition.items()})
        with np.errstate(all="ignore"):
            scale = 1.0 / np.sqrt(pre)
        finite &= np.isfinite(scale).all(axis=1)
    if finite.any():
        # one computation per distinct parameter vector (and start vector, preconditioner)
        key = flat if start is None else np.hstack([flat, _flatten(start)])
        if scale is not None:
            key = np.hstack([key, scale])
        _, first, inverse = np.unique(key[finite], axis=0, return_index=True, return_inverse=True)
        runs = np.flatnonzero(finite)[first]  # a representative of each distinct run
        inverse = np.reshape(inverse, -1)
        shared = np.random.default_rng(seed).standard_normal(P)
        shared /= np.linalg.norm(shared)
        q0 = np.broadcast_to(shared, (len(runs), P)).copy()
        if start is not None:
            with np.errstate(all="ignore"):
                warm = np.asarray(_flatten(start), dtype=np.float64)[runs]
                norm = np.linalg.norm(warm, axis=1, keepdims=True)
                usable = (np.isfinite(warm).all(axis=1) & (norm[:, 0] > 0))[:, None]
                q0 = np.where(usable, q0 + warm / np.where(usable, norm, 1.0), q0)
                q0 /= np.linalg.norm(q0, axis=1, keepdims=True)
        per_run = bytes_per_run(params64, X64.shape[0], iters)
        chunk = len(runs) if max_memory is None else max(1, int(max_memory) // per_run)
        got = (np.empty(len(runs)), np.empty((len(runs), P)), np.empty(len(runs), np.int64))
        with np.errstate(all="ignore"):  # an overflowing run becomes NaN, and only that run
            for lo in range(0, len(runs), chunk):  # a loop over chunks of runs, not over runs
                part = slice(lo, lo + chunk)
                sel = runs[part]
                lin = linearisation_for({k: v[sel] for k, v in params64.items()}, X64, Y64, spec)
                d = None if scale is None else scale[sel]
                out = _lanczos_top(lin, layout, q0[part], iters, tol, d)
                for dest, src in zip(got, out, strict=True):
                    dest[part] = src
        values[finite], vectors[finite], steps[finite] = (g[inverse] for g in got)
    return Estimate(values, _unflatten(vectors, params64), steps)


def sharpness(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    spec,
    *,
    iters: int = DEFAULT_ITERS,
    tol: float = DEFAULT_TOL,
    seed: int = 0,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
) -> np.ndarray:
    """Largest algebraic eigenvalue of the Hessian of each run's mean loss on (X, Y), (R,).

    Float64 on copies, batched Lanczos with full reorthogonalisation on exact Hessian-vector
    products; NaN for runs with non-finite parameters or an overflowing loss. See
    ``top_eigenpair`` for the arguments (and for the eigenvectors and step counts).
    """
    return top_eigenpair(
        params, X, Y, spec, iters=iters, tol=tol, seed=seed, max_memory=max_memory
    ).values
