"""Hessian-vector products: exact for the MLP, central differences of gradients for conv nets.

For the MLP, the products are forward-over-reverse (Pearlmutter's R-operator), derived by hand:
the tangent ``v`` is pushed forward through the network (``Rz``, ``Ra``), then back through
the backward pass, which needs each activation's second derivative (``SECOND_DERIVATIVES``)
and the Jacobian-vector product of each head's ``dL/dlogits`` (``HEAD_JVPS``). Everything that
does not depend on ``v`` (activations, their derivatives, the backprop deltas) is computed once
per Lanczos run (``_Linearisation``), so one product costs twice the matrix products of a
training step, in float64 (measured on W1: about 4-5 float32 training steps).

For conv nets (``model.layers``) the product is a central difference of the exact gradients
(``_GradientDifference``). Both answer ``compact(rows)`` (the same for fewer runs) and
``product(VW, Vb)`` (H v as lists per layer), which is all the Lanczos iteration asks of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from lrdiag import convnet, model

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


# What the Lanczos iteration multiplies by.
Products = _Linearisation | _GradientDifference


def linearisation_for(params: Params, X: np.ndarray, Y: np.ndarray, spec) -> Products:
    """What ``lanczos._lanczos_top`` multiplies by: exact products for the MLP, differences of
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
