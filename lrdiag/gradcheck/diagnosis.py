"""From measurements to a verdict and its message: the cosine and best-fit scale between the
analytic and numerical gradients, the bug class they point to, and hints (a factor that matches
the number of samples, a gradient of the wrong shape).
"""

from __future__ import annotations

import numpy as np

from lrdiag.gradcheck.result import COSINE_TOL, FACTOR_MATCH_TOL, SCALE_TOL


def _cosine_and_scale(a: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Cosine between a and n, and k minimising |a - k n| (NaN when undefined)."""
    na, nn = float(np.linalg.norm(a)), float(np.linalg.norm(n))
    dot = float(a @ n)
    cosine = min(1.0, max(-1.0, dot / (na * nn))) if na > 0 and nn > 0 else float("nan")
    scale = dot / (nn * nn) if nn > 0 else float("nan")
    return cosine, scale


def _diagnose(
    name: str,
    a: np.ndarray,
    n: np.ndarray,
    agree: np.ndarray,
    cosine: float,
    scale: float,
    n_samples: int | None,
) -> tuple[str, str]:
    """The verdict and message for a parameter whose entries do not all agree."""
    if np.isfinite(cosine) and cosine <= -1 + COSINE_TOL:
        message = (
            f"the sign is flipped: analytic ≈ {_fmt(scale)} × numerical "
            f"(cosine {_fmt_cos(cosine)}), so every step goes uphill"
        )
        if abs(abs(scale) - 1) > SCALE_TOL:
            message += f"; also {_factor_hint(abs(scale), n_samples)}"
        return "sign_flipped", message
    if np.isfinite(cosine) and cosine >= 1 - COSINE_TOL and abs(scale - 1) > SCALE_TOL:
        return "scaled", (
            f"{_factor_hint(scale, n_samples)} "
            f"(analytic ≈ {_fmt(scale)} × numerical, cosine {_fmt_cos(cosine)})"
        )
    bad = int(np.count_nonzero(~agree))
    message = (
        f"analytic and numerical gradients disagree at {bad} of {agree.size} checked entries "
        f"(cosine {_fmt_cos(cosine)}, best-fit scale {_fmt(scale)})"
    )
    if not np.any(n) and np.any(a):
        message += (
            f"; the loss does not change when {name} changes: does loss() use its params "
            "argument (and not a global)?"
        )
    elif not np.any(a) and np.any(n):
        message += f"; grad[{name!r}] is all zeros where the loss does change"
    return "wrong", message


def _factor_hint(k: float, n_samples: int | None) -> str:
    """'off by a factor of k', with a guess at the bug when k is a telling number."""
    text = f"off by a factor of {_fmt(k)}"
    if n_samples and _matches(k, n_samples):
        return f"{text}: a sum where a mean was meant? (there are {n_samples} samples)"
    if n_samples and _matches(1 / k, n_samples):
        return f"{text}: divided by the number of samples ({n_samples}) once too often?"
    if _matches(k, 2) or _matches(k, 0.5):
        return f"{text}: a lost or extra 2 (the derivative of x² is 2x; ½ in ½·MSE)?"
    rounded = round(k)
    if rounded >= 3 and _matches(k, rounded):
        return f"{text}: a sum where a mean was meant? (is {rounded} the number of samples?)"
    inverse = round(1 / k) if k > 0 else 0
    if inverse >= 3 and _matches(1 / k, inverse):
        return (
            f"{text} (1/{inverse}): a mean where a sum was meant? (the loss sums, grad "
            f"averages; is {inverse} the number of samples?)"
        )
    return text


def _matches(k: float, target: float) -> bool:
    return abs(k - target) <= FACTOR_MATCH_TOL * abs(target)


def _sample_axis(shape: tuple[int, ...], shapes: dict[str, tuple[int, ...]]) -> int | None:
    """The axis of the upstream gradient that holds the samples, for a bias of ``shape``, worked
    out from the shapes the code uses (None when they do not tell).

    A 2-D bias with one axis of size 1 has its sample axis there ((1, 128): samples in rows;
    (128, 1): samples in columns). A 1-D bias of n units, or a (1, 1) one, takes the layout of the
    other parameters: the axis the other 2-D biases agree on, else a weight matrix with n on
    exactly one axis ((n, d): W @ X, samples in columns, axis 1; (d, n): X @ W, axis 0).
    """
    if len(shape) == 2 and (shape[0] == 1) != (shape[1] == 1):
        return 0 if shape[0] == 1 else 1
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape != (1, 1)):
        return None
    others = {
        0 if s[0] == 1 else 1 for s in shapes.values() if len(s) == 2 and (s[0] == 1) != (s[1] == 1)
    }
    if len(others) == 1:
        return others.pop()
    if len(shape) == 1:
        n = shape[0]
        axes = {
            1 if s[0] == n else 0
            for s in shapes.values()
            if len(s) == 2 and (s[0] == n) != (s[1] == n)
        }
        if len(axes) == 1:
            return axes.pop()
    return None


def _sum_hint(shape: tuple[int, ...], shapes: dict[str, tuple[int, ...]]) -> str:
    """How to reduce the upstream gradient to a bias of ``shape``, in the code's own layout."""
    axis = _sample_axis(shape, shapes)
    if axis is None:
        return "sum over the sample axis only"
    layout = "samples in rows" if axis == 0 else "samples in columns"
    keep = ", keepdims=True" if len(shape) == 2 else ""
    return f"use .sum(axis={axis}{keep}) ({layout}), which gives {shape}"


def _describe_shape(
    name: str,
    shape: tuple[int, ...],
    grad_shape: tuple[int, ...],
    g: np.ndarray,
    shapes: dict[str, tuple[int, ...]] | None = None,
) -> tuple[np.ndarray | None, str]:
    """What `p -= lr * g` does with a gradient of the wrong shape.

    Returns the gradient as the update applies it (broadcast or, for the same number of
    entries, reshaped for comparison) or None when nothing comparable exists, and the message.
    ``shapes``: every parameter's shape, from which a hint reads the code's layout.
    """
    shapes = shapes or {name: shape}
    head = f"grad[{name!r}] has shape {grad_shape} but {name} has shape {shape}"
    try:
        target = np.broadcast_shapes(shape, grad_shape)
    except ValueError:
        target = None
    if target == shape:
        repeated = [
            axis
            for axis in range(len(shape))
            if shape[axis] > 1
            and (
                axis < len(shape) - len(grad_shape)
                or grad_shape[axis - len(shape) + len(grad_shape)] == 1
            )
        ]
        effective = np.broadcast_to(g, shape).copy()
        if g.size == 1 and len(repeated) > 0:
            what = (
                f"`{name} -= lr * g` broadcasts the same value to all {int(np.prod(shape))} "
                f"entries (summed over every axis instead of the sample axis? "
                f"{_sum_hint(shape, shapes)})"
            )
        elif repeated:
            axes = ", ".join(str(a) for a in repeated)
            what = f"`{name} -= lr * g` repeats the same values along axis {axes}"
        else:
            what = f"`{name} -= lr * g` broadcasts it to the right shape"
        return effective, f"{head}: {what}"
    if target is not None:
        what = (
            f"`{name} -= lr * g` raises ValueError (they broadcast to {target}), and "
            f"`{name} = {name} - lr * g` silently turns {name} into shape {target}"
        )
    else:
        what = f"`{name} -= lr * g` raises ValueError (the shapes do not broadcast)"
    if len(shape) == 2 and grad_shape == shape[::-1]:
        # compare what the transpose would apply, not the same memory read in another shape
        what += "; it has the transposed shape (a transposed matmul?)"
        return g.T, f"{head}: {what}; compared transposed"
    if (
        len(shape) == 2
        and len(grad_shape) == 2
        and (axis := _sample_axis(shape, shapes)) is not None
        and grad_shape[1 - axis] == 1
        and grad_shape[axis] > 1
    ):
        what += f"; summed over the units' axis, not the samples' ({_sum_hint(shape, shapes)})"
    if g.size == int(np.prod(shape)):
        return g.reshape(shape), f"{head}: {what}; compared reshaped"
    return None, f"{head}: {what}"


def _fmt(x: float) -> str:
    return f"{x:.4g}" if np.isfinite(x) else "n/a"


def _fmt_cos(x: float) -> str:
    return f"{x:.4f}" if np.isfinite(x) else "n/a"


def _entries(n: int) -> str:
    return f"{n} {'entry' if n == 1 else 'entries'}"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
