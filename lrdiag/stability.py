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

For conv nets (``model.layers``) the product is a central difference of the exact gradients
(``_GradientDifference``), inside the same Lanczos. For the MLP, Hessian-vector products are
forward-over-reverse (Pearlmutter's R-operator), derived by hand:
the tangent ``v`` is pushed forward through the network (``Rz``, ``Ra``), then back through
the backward pass, which needs each activation's second derivative (``SECOND_DERIVATIVES``)
and the Jacobian-vector product of each head's ``dL/dlogits`` (``HEAD_JVPS``). Everything that
does not depend on ``v`` (activations, their derivatives, the backprop deltas) is computed once
per Lanczos run (``_Linearisation``), so one product costs twice the matrix products of a
training step, in float64 (measured on W1: about 4-5 float32 training steps).

The largest eigenvalue comes from batched Lanczos with full reorthogonalisation: every run
keeps its own Krylov basis ``Q (R, m, P)``; the Ritz values are the eigenvalues of an
``(R, j, j)`` stack of tridiagonal matrices (``np.linalg.eigvalsh``), whose largest is the
estimate: the largest algebraic eigenvalue, whatever the sign of the others. A run is finished
when its estimate moved by less than ``tol`` (relative) in one step, or its Krylov space is
exhausted; finished runs leave the batch, so the others do not pay for them. All runs start
from the same random direction, so a run's answer depends only on its own parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from lrdiag import convnet, model

DEFAULT_ITERS = 40  # Lanczos steps at most (each one Hessian-vector product per run)
DEFAULT_TOL = 1e-4  # stop a run when its estimate moves by less than this, relative
DEFAULT_SAMPLES = 1024  # rows of the training set the sharpness is computed on (at most)
BREAKDOWN = 1e-10  # Krylov space exhausted: next Lanczos coefficient below this times ||T||
DEFAULT_MAX_MEMORY = 1024**3  # bytes of working arrays per chunk of runs (None: one chunk)
REORTH_PASSES = 2  # Gram-Schmidt passes against the whole basis per step ("twice is enough")

Params = dict[str, np.ndarray]


# --------------------------------------------------------------------------- second derivatives

# f''(z) given z and a = f(z); None where f'' = 0 (almost everywhere: the ReLU kink has measure 0).
SECOND_DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray] | None] = {
    "relu": None,
    "leaky_relu": None,
    "identity": None,
    "tanh": lambda z, a: -2.0 * a * (1.0 - a * a),  # d/dz (1 - a^2) = -2 a a'
    "sigmoid": lambda z, a: a * (1.0 - a) * (1.0 - 2.0 * a),  # d/dz a(1 - a) = a'(1 - 2a)
}


# --------------------------------------------------------------------------- head curvature


class HeadJVP(NamedTuple):
    """The Jacobian of a head's ``dL/dlogits`` (already divided by the sample count).

    ``prepare(z, y)`` returns arrays with the run axis first (they do not depend on the
    tangent); ``apply(arrays, dz)`` is the product of that Jacobian with a tangent ``dz``
    of the logits, ``(R, B, k) -> (R, B, k)``.
    """

    prepare: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]
    apply: Callable[[tuple[np.ndarray, ...], np.ndarray], np.ndarray]


def _diagonal(coef: np.ndarray) -> tuple[np.ndarray, ...]:
    return (coef,)


def _apply_diagonal(arrays, dz):
    return arrays[0] * dz


def _bce_jvp(z, y):
    # g = (s(z) - y) / B  ->  dg = s(1 - s) dz / B
    p = model.HEADS[("sigmoid", "bce")].predict(z)
    return _diagonal(p * (1.0 - p) / z.shape[-2])


def _identity_mse_jvp(z, y):
    # g = 2 (z - y) / (B k)  ->  dg = 2 dz / (B k)
    coef = 2.0 / (z.shape[-2] * z.shape[-1])
    return _diagonal(np.full((z.shape[0], 1, 1), coef, dtype=z.dtype))


def _sigmoid_mse_jvp(z, y):
    # g = 2 (p - y) p (1 - p) / (B k), p = s(z), s' = p(1 - p) =: q
    # dg/dz = 2 [q q + (p - y) q (1 - 2p)] / (B k)
    p = model.HEADS[("sigmoid", "mse")].predict(z)
    q = p * (1.0 - p)
    return _diagonal(2.0 * q * (q + (p - y) * (1.0 - 2.0 * p)) / (z.shape[-2] * z.shape[-1]))


def _ce_jvp(z, y):
    # g = (softmax(z) - y) / B  ->  dg = (p * dz - p <p, dz>) / B  (the softmax Jacobian)
    p = model.HEADS[("softmax", "cross_entropy")].predict(z)
    return (p / z.shape[-2], p)


def _apply_ce(arrays, dz):
    scaled, p = arrays
    return scaled * (dz - (p * dz).sum(axis=-1, keepdims=True))


HEAD_JVPS: dict[tuple[str, str], HeadJVP] = {
    ("sigmoid", "bce"): HeadJVP(_bce_jvp, _apply_diagonal),
    ("softmax", "cross_entropy"): HeadJVP(_ce_jvp, _apply_ce),
    ("identity", "mse"): HeadJVP(_identity_mse_jvp, _apply_diagonal),
    ("sigmoid", "mse"): HeadJVP(_sigmoid_mse_jvp, _apply_diagonal),
    ("sigmoid", "cross_entropy"): HeadJVP(_ce_jvp, _apply_ce),  # the loss is softmax CE
}


# --------------------------------------------------------------------------- Hessian-vector


class _Linearisation(NamedTuple):
    """Everything an HVP needs that does not depend on the tangent, layer by layer (0-based).

    Layer i maps ``inputs[i]`` to ``z_i = inputs[i] @ W[i] + b[i]``; hidden layers (i < L-1)
    then apply f. ``inputs[0]`` is the shared data X (B, in); the rest carry the run axis.
    """

    W: list[np.ndarray]  # (R, in, out)
    inputs: list[np.ndarray]  # X (B, in), then a_i (R, B, H_i)
    dact: list[np.ndarray]  # f'(z_i) of each hidden layer (R, B, H_i)
    curv: list[np.ndarray | None]  # (dL/da_i) * f''(z_i), None when f'' = 0
    deltas: list[np.ndarray]  # dL/dz_i of every layer (R, B, out_i)
    head: tuple[np.ndarray, ...]  # HeadJVP.prepare arrays
    head_apply: Callable[[tuple[np.ndarray, ...], np.ndarray], np.ndarray]

    def compact(self, rows: np.ndarray) -> _Linearisation:
        """The same linearisation for the runs ``rows`` (increasing), reusing the memory.

        Row ``rows[i]`` is copied to row i in place and views of the first rows are returned,
        so dropping finished runs never holds two linearisations at once.
        """
        done: dict[int, np.ndarray] = {}  # an array listed twice is compacted once

        def pack(a):
            if a is None or a is self.inputs[0]:
                return a
            if id(a) not in done:
                a[: len(rows)] = a[rows]
                done[id(a)] = a[: len(rows)]
            return done[id(a)]

        return _Linearisation(
            [pack(W) for W in self.W],
            [pack(a) for a in self.inputs],
            [pack(d) for d in self.dact],
            [pack(c) for c in self.curv],
            [pack(d) for d in self.deltas],
            tuple(pack(h) for h in self.head),
            self.head_apply,
        )

    def product(self, VW: list[np.ndarray], Vb: list[np.ndarray]):
        """(H v) as lists (dW, db) per layer: ``_hvp``."""
        return _hvp(self, VW, Vb)


# Step of the central difference of gradients along a unit tangent (float64): its truncation
# error (step^2 times the third derivative) and its rounding error (1e-16 / step) are both
# near 1e-10 relative, far below what a sharpness is read to.
FD_STEP = 1e-5


class _GradientDifference(NamedTuple):
    """Hessian-vector products of a conv net (``model.layers``) by central differences of
    its exact gradients: ``(g(p + h v) - g(p - h v)) / 2h``, two gradients per product. Where
    a ReLU's kink lies within ``h`` of a sample's pre-activation the result is the average
    of the two sides' curvature, as the Hessian of a piecewise-linear net is only defined
    almost everywhere."""

    params: Params  # float64, (R, ...)
    X: np.ndarray
    Y: np.ndarray
    spec: object

    def compact(self, rows: np.ndarray) -> _GradientDifference:
        return self._replace(params={k: v[rows] for k, v in self.params.items()})

    def product(self, VW: list[np.ndarray], Vb: list[np.ndarray]):
        tangent = {}
        for i, (w, b) in enumerate(zip(VW, Vb, strict=True), start=1):
            tangent[f"W{i}"], tangent[f"b{i}"] = w, b
        grads = []
        for sign in (1.0, -1.0):
            moved = {k: v + sign * FD_STEP * tangent[k] for k, v in self.params.items()}
            grads.append(convnet.loss_and_grads(moved, self.X, self.Y, self.spec)[1])
        plus, minus = grads
        L = len(VW)
        diff = {k: (plus[k] - minus[k]) / (2 * FD_STEP) for k in plus}
        return [diff[f"W{i}"] for i in range(1, L + 1)], [diff[f"b{i}"] for i in range(1, L + 1)]


def _linearisation_for(params: Params, X: np.ndarray, Y: np.ndarray, spec):
    """What ``_lanczos_top`` multiplies by: exact products for the MLP, differences of
    gradients for a conv net."""
    if getattr(spec, "layers", None) is not None:
        return _GradientDifference(params, X, Y, spec)
    return _linearise(params, X, Y, spec)


def _linearise(params: Params, X: np.ndarray, Y: np.ndarray, spec) -> _Linearisation:
    act = model.ACTIVATIONS[spec.activation]
    d2f = SECOND_DERIVATIVES[spec.activation]
    head_jvp = HEAD_JVPS[(spec.output, spec.loss)]
    logits, cache = model.forward(params, X, spec, keep=True)
    L = len(cache)
    W = [params[f"W{i + 1}"] for i in range(L)]
    inputs = [c[0] for c in cache]
    deltas: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    dact: list[np.ndarray] = [None] * (L - 1)  # type: ignore[list-item]
    curv: list[np.ndarray | None] = [None] * (L - 1)
    deltas[L - 1] = model.head_for(spec).dlogits(logits, Y)  # (R, B, k)
    for i in range(L - 1, 0, -1):
        _, z, a = cache[i - 1]
        da = np.matmul(deltas[i], np.swapaxes(W[i], -1, -2))  # (R, B, H_{i-1})
        dact[i - 1] = act.df(z, a)
        deltas[i - 1] = da * dact[i - 1]
        curv[i - 1] = None if d2f is None else da * d2f(z, a)
    return _Linearisation(
        W, inputs, dact, curv, deltas, head_jvp.prepare(logits, Y), head_jvp.apply
    )


def _hvp(lin: _Linearisation, VW: list[np.ndarray], Vb: list[np.ndarray]):
    """(H v) as lists (dW, db) per layer, for the tangent given as lists VW, Vb per layer."""
    L = len(lin.W)
    Rz: list[np.ndarray | None] = [None] * L  # tangent of z_i, kept where f'' != 0
    Ra: list[np.ndarray] = [None] * L  # type: ignore[list-item]  # tangent of a_i
    tangent = None
    for i in range(L):  # R-forward
        z_dot = np.matmul(lin.inputs[i], VW[i])  # (R, B, out)
        z_dot += Vb[i]
        if i > 0:
            z_dot += np.matmul(Ra[i - 1], lin.W[i])  # (R, B, H) @ (R, H, out)
        if i < L - 1:
            Ra[i] = lin.dact[i] * z_dot
            if lin.curv[i] is not None:
                Rz[i] = z_dot
        else:
            tangent = z_dot
    assert tangent is not None  # set by the last layer of the loop
    r_delta = lin.head_apply(lin.head, tangent)  # (R, B, k): tangent of dL/dlogits
    gW: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    gb: list[np.ndarray] = [None] * L  # type: ignore[list-item]
    for i in range(L - 1, -1, -1):  # R-backward
        gW[i] = np.matmul(np.swapaxes(lin.inputs[i], -1, -2), r_delta)  # (R, in, out)
        if i > 0:
            gW[i] += np.matmul(np.swapaxes(Ra[i - 1], -1, -2), lin.deltas[i])
        gb[i] = r_delta.sum(axis=-2, keepdims=True)  # (R, 1, out)
        if i > 0:
            r_da = np.matmul(r_delta, np.swapaxes(lin.W[i], -1, -2))  # (R, B, in)
            r_da += np.matmul(lin.deltas[i], np.swapaxes(VW[i], -1, -2))
            r_da *= lin.dact[i - 1]
            curv, rz = lin.curv[i - 1], Rz[i - 1]
            if curv is not None and rz is not None:  # Rz is kept exactly where curv is
                r_da += curv * rz
            r_delta = r_da
    return gW, gb


def hvp(params: Params, X: np.ndarray, Y: np.ndarray, spec, vec: Params) -> Params:
    """Hessian of each run's mean training loss times that run's vector, exactly.

    ``vec`` has the keys and shapes of ``params``; run r's product uses run r's parameters and
    run r's slice of ``vec``. Computed in the dtype the inputs promote to.
    """
    L = model.n_layers(params)
    lin = _linearise(params, X, Y, spec)
    gW, gb = _hvp(lin, [vec[f"W{i + 1}"] for i in range(L)], [vec[f"b{i + 1}"] for i in range(L)])
    out = {}
    for i in range(L):
        out[f"W{i + 1}"], out[f"b{i + 1}"] = gW[i], gb[i]
    return {key: out[key] for key in params}


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


def _lanczos_top(lin: _Linearisation, layout: _Layout, q: np.ndarray, iters: int, tol: float):
    """Largest algebraic eigenpair of every run's Hessian from unit start vectors q (R, P).

    Returns values (R,), Ritz vectors (R, P) and steps (R,). Runs that finish (estimate
    settled, Krylov space exhausted, or ``iters`` reached) or go non-finite leave the batch.
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
        w = layout.join(*lin.product(*layout.split(q)))  # (n, P): H q
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
    if finite.any():
        # one computation per distinct parameter vector (and start vector)
        key = flat if start is None else np.hstack([flat, _flatten(start)])
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
                lin = _linearisation_for({k: v[sel] for k, v in params64.items()}, X64, Y64, spec)
                out = _lanczos_top(lin, layout, q0[part], iters, tol)
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


# --------------------------------------------------------------------------- helpers


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


def subset(X: np.ndarray, Y: np.ndarray, samples: int | None, seed: int = 0):
    """At most ``samples`` rows of (X, Y), the same rows for the same seed (all if fewer).

    The rows keep their order; ``samples=None`` means all of them.
    """
    n = X.shape[0]
    if samples is None or n <= int(samples):
        return X, Y
    rows = np.sort(np.random.default_rng(seed).choice(n, size=int(samples), replace=False))
    return X[rows], Y[rows]
