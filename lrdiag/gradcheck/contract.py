"""The contract of ``loss_fn`` and ``grad_fn``: each call gets its own float64 copies, its
result is validated (a scalar loss; a dict of gradients with the same keys), and a breach is an
``InputError`` naming the function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lrdiag.errors import MAX_QUOTED, InputError, printable
from lrdiag.gradcheck.result import IN_PLACE_ULPS, NOISE_FACTOR


def _loss_precision(f0: float, call_loss: _Loss, work: dict, base: dict) -> np.dtype:
    """The precision a float64 loss was computed in: float16 or float32 when its values are all
    exact numbers of that dtype, at ``params`` and at two irregular points nearby.

    The value at params alone is not enough: round params (0.5, -1.0, as in a textbook example)
    make a float64 loss an exact float16 value by themselves, and the check would then use
    float16's steps and tolerances, under which a flipped sign passes. Nearby, every entry moved
    by an irregular 1e-3 of its size, a float64 loss is an exact float32 number about once in
    2**29. ``work`` is restored from ``base`` bit for bit.
    """
    dtypes = [_rounded_dtype(f0)]
    rng = np.random.default_rng(0)  # fixed: the same answer on every run
    for _ in range(2):
        if dtypes[-1] == np.float64:
            break
        try:
            for k, v in base.items():
                work[k] += 1e-3 * (1.0 + np.abs(v)) * rng.uniform(-1.0, 1.0, v.shape)
            dtypes.append(_rounded_dtype(call_loss()[0]))
        finally:
            for k, v in base.items():
                np.copyto(work[k], v)
    return max(dtypes, key=lambda d: np.finfo(d).precision)


def _rounded_dtype(value: float) -> np.dtype:
    """float16 or float32 when a float64 loss value is exactly one (it was computed in it).

    A loss computed in float64 is an exact float32 number about once in 2**29; integers and
    non-finite values say nothing and count as float64.
    """
    if not np.isfinite(value) or float(value).is_integer():
        return np.dtype(np.float64)
    for dtype in (np.float16, np.float32):
        with np.errstate(all="ignore"):
            if float(dtype(value)) == value:
                return np.dtype(dtype)
    return np.dtype(np.float64)


def _check_repeatable(f0: float, again: float, eps: float, when: str, where: str) -> None:
    """InputError when loss gives another value at the same params: nothing can be checked.

    Values within the rounding noise the probes allow for (NOISE_FACTOR eps) count as equal.
    """
    if f0 == again or (np.isnan(f0) and np.isnan(again)):
        return
    if np.isfinite(f0) and abs(again - f0) <= NOISE_FACTOR * eps * abs(f0):
        return
    raise InputError(
        f"{where}loss(params) is not repeatable: {f0!r}, then {again!r} at the same params "
        f"{when}; finite differences need a deterministic loss (seed the dropout or noise, "
        "e.g. np.random.default_rng(0) inside loss, and keep state such as batch-norm running "
        "statistics out of it)"
    )


def _validate_params(params: Any, where: str) -> tuple[list[str], list[str]]:
    """The parameter names in order, and warnings about dtypes; InputError on a breach."""
    if not isinstance(params, Mapping):
        raise InputError(
            f"{where}params must be a dict of NumPy arrays, got {type(params).__name__}"
        )
    if not params:
        raise InputError(f"{where}params is an empty dict: there is nothing to check")
    names, warnings = [], []
    for name, value in params.items():
        if not isinstance(name, str):
            raise InputError(f"{where}params keys must be strings, got {name!r}")
        if not isinstance(value, np.ndarray):
            raise InputError(
                f"{where}params[{name!r}] is {type(value).__name__}, expected a NumPy array "
                "(wrap it in np.array(...))"
            )
        kind = value.dtype.kind
        if kind not in "fiu":
            raise InputError(
                f"{where}params[{name!r}] has dtype {value.dtype}, expected real numbers (float64)"
            )
        if value.size == 0:
            raise InputError(f"{where}params[{name!r}] is empty (shape {value.shape})")
        if value.dtype != np.float64:
            warnings.append(
                f"params[{name!r}] is {value.dtype}: checked on a float64 copy (loss and grad "
                "get float64 arrays of the same shape)"
            )
        names.append(name)
    return names, warnings


class _Loss:
    """``loss_fn`` at the working point: ``()`` -> (value, dtype). With ``kinks``, ``crossed``
    turns True once a call sees another kink pattern than the starting point's (``_central``
    resets it around each probe)."""

    def __init__(
        self,
        loss_fn: Callable,
        work: dict[str, np.ndarray],
        where: str,
        kinks=None,
        changed: dict[str, float] | None = None,
    ):
        self.loss_fn, self.work, self.where, self.kinks = loss_fn, work, where, kinks
        self.changed = {} if changed is None else changed
        self.pattern = None if kinks is None else np.asarray(kinks(dict(work)))
        self.crossed = False

    def __call__(self) -> tuple[float, Any]:
        out = _call_loss(self.loss_fn, self.work, self.where, self.changed)
        if self.kinks is not None and self.pattern is not None:  # both or neither
            if not np.array_equal(self.kinks(dict(self.work)), self.pattern):
                self.crossed = True
        return out


def _call_loss(
    loss_fn: Callable, work: dict[str, np.ndarray], where: str, changed: dict[str, float]
) -> tuple[float, Any]:
    """loss_fn at the current ``work`` point, as a float, and the dtype it computed in.

    loss_fn gets copies; what it changes in them beyond rounding is recorded in ``changed``.
    """
    given = _copies(work)
    try:
        with np.errstate(all="ignore"):
            value = loss_fn(given)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a module that exits never finished
        raise InputError(f"{where}loss(params) raised {_raised(exc)}") from exc
    _record_changes(given, work, changed)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise InputError(f"{where}loss(params) returned {type(value).__name__}") from exc
    if arr.dtype.kind not in "fiu" or arr.size != 1:
        what = f"shape {arr.shape}" if arr.dtype.kind in "fiuc" else type(value).__name__
        raise InputError(
            f"{where}loss(params) must return one real number, got {what} "
            f"(dtype {arr.dtype}); reduce it with np.mean or .item()"
        )
    dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float64)
    return float(arr.reshape(())), dtype


def _call_grad(
    grad_fn: Callable,
    work: dict[str, np.ndarray],
    names: list[str],
    where: str,
    changed: dict[str, float],
) -> dict[str, np.ndarray]:
    """grad_fn at ``work`` (given copies), as float64 copies; InputError for key or type
    breaches. What grad_fn changes in its copies beyond rounding is recorded in ``changed``."""
    given = _copies(work)
    try:
        with np.errstate(all="ignore"):
            grads = grad_fn(given)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise InputError(f"{where}grad(params) raised {_raised(exc)}") from exc
    _record_changes(given, work, changed)
    if not isinstance(grads, Mapping):
        raise InputError(
            f"{where}grad(params) must return a dict with the keys of params "
            f"({', '.join(names)}), got {type(grads).__name__}"
        )
    missing = [k for k in names if k not in grads]
    extra = [k for k in grads if k not in names]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"unexpected {', '.join(map(repr, extra))}")
        hint = ""
        if extra and all(isinstance(k, str) and k[:1] == "d" and k[1:] in names for k in extra):
            hint = " (name each gradient like its parameter: 'W1', not 'dW1')"
        raise InputError(
            f"{where}grad(params) returned {'; '.join(parts)}: it must return exactly the keys "
            f"of params ({', '.join(names)}){hint}"
        )
    out = {}
    for name in names:
        value = grads[name]
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError) as exc:  # e.g. a ragged list
            raise InputError(
                f"{where}grad(params)[{name!r}] is {type(value).__name__} that NumPy cannot read "
                f"as an array: {exc}"
            ) from exc
        if raw.dtype.kind not in "fiu":
            what = (
                f"has dtype {raw.dtype}"
                if isinstance(value, np.ndarray)
                else (f"is {type(value).__name__}")
            )
            raise InputError(
                f"{where}grad(params)[{name!r}] {what}, expected a NumPy array of real numbers"
            )
        arr = np.array(raw, dtype=np.float64, copy=True)
        out[name] = arr
    return out


def _copies(work: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A fresh dict of fresh arrays: what one call of the user's loss or grad may change."""
    return {k: v.copy() for k, v in work.items()}


def _record_changes(given: dict, work: dict[str, np.ndarray], changed: dict[str, float]) -> None:
    """Record in ``changed`` the largest change a call made to its copies beyond IN_PLACE_ULPS
    ulps (a copy replaced by another object, or reshaped, counts as unchanged: the call's
    own business)."""
    for name, original in work.items():
        arr = given.get(name) if isinstance(given, dict) else None
        if not isinstance(arr, np.ndarray) or arr.shape != original.shape:
            continue
        if arr.dtype == original.dtype and np.array_equal(
            arr.view(np.uint64), original.view(np.uint64)
        ):
            continue
        with np.errstate(all="ignore"):
            diff = np.abs(arr.astype(np.float64) - original)
            allowed = IN_PLACE_ULPS * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(original))
        beyond = ~(diff <= allowed)  # NaN counts as a change
        if beyond.any():
            moved = diff[beyond]
            size = float("inf") if np.isnan(moved).any() else float(moved.max())
            changed[name] = max(changed.get(name, 0.0), size)


class _Timeout(Exception):
    pass


def _raised(exc: BaseException) -> str:
    """``Type: message`` of an exception from the user's code, even when its ``__str__``
    raises, on one line of at most MAX_QUOTED characters."""
    if isinstance(exc, _Timeout):
        return str(exc)
    try:
        message = str(exc)
    except BaseException:  # noqa: B036 - its __str__ is the user's code too
        message = "(its message cannot be shown: str() of it raised)"
    text = printable(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"
