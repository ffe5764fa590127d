"""Gradient checking: compare a model's analytic gradients with central finite differences.

The contract
------------
``check_gradients(loss_fn, grad_fn, params)`` takes ``params``, a dict of NumPy arrays,
``loss_fn(params) -> float`` and ``grad_fn(params) -> dict`` with the same keys and shapes. It
probes a sample of entries of every parameter in float64 and returns a ``GradcheckResult``: per
parameter the relative errors, the cosine and best-fit scale between analytic and numerical
gradients, and a verdict naming the bug class (``VERDICTS``). A parameter larger than the sample
is also checked as a whole, along DIRECTIONS random directions (as PyTorch's fast gradcheck):
a bug confined to entries outside the sample (one wrong row) makes it ``wrong``.

``load_user_module(path)`` imports a user's ``.py`` file that defines ``params``, ``loss`` and
``grad``; ``check_module(path)`` loads and checks it; ``check_config(cfg)`` checks lrdiag's own
model for a config. Every contract breach raises ``InputError``; nothing here prints.

Decisions
---------
- The check always works on float64 copies of the parameters: the caller's arrays are never
  written to. Each probe changes one entry of the copy (a directional probe: every entry of
  one parameter) and puts back the saved values bit for bit before the next probe, so every
  call of ``loss_fn`` sees the base point plus at most one changed entry or parameter.
- Every call of ``loss_fn`` and ``grad_fn`` gets its own copies of the arrays, so code that
  nudges an entry in place and puts it back (textbook central differences, ``v[i] += h; ...;
  v[i] -= 2*h; ...; v[i] += h``, which restores only to within rounding) is checked like any
  other. A change beyond IN_PLACE_ULPS ulps is a warning in the result, never a refusal.
  Parameters held in another dtype (float32, ints) are checked as float64 copies with a warning
  in the result.
- ``grad_fn`` returning a non-dict, a missing or an extra key, or a value NumPy cannot read as
  real numbers is a contract breach (``InputError``), not a verdict: the keys are how the two
  functions are matched, so nothing can be checked until they agree. A value of the wrong shape
  is a verdict (``wrong_shape``): that is a gradient bug.
- ``loss_fn`` may return a Python float, a NumPy scalar or any array with exactly one element
  (``(1, 1)`` from ``Y @ np.log(A).T`` is common); anything else is a contract breach.
- ``loss_fn`` must be repeatable: it is called again after ``grad_fn`` and after the probes,
  and another value at the same params (beyond rounding) is a contract breach, since finite
  differences of unseeded dropout or of state that ``grad_fn`` updates mean nothing. A loss
  computed in float32 (its float64 values exact float32 numbers) gets float32's step.
- Errors raised inside the user's functions become ``InputError`` naming the function, the
  exception's type and message (chained, so ``--traceback`` shows where).
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrdiag.errors import MAX_QUOTED, InputError, printable

VERDICTS = ("ok", "sign_flipped", "scaled", "wrong_shape", "wrong", "not_finite")

# --- Thresholds, named once -------------------------------------------------------------------

# Entries probed per parameter when it has more entries than this (all entries otherwise).
DEFAULT_SAMPLES = 48
DEFAULT_TIMEOUT = 120.0  # seconds one call of a user's module (import, params, loss, grad) may take
# Fraction of the sample given to the entries with the largest |analytic gradient|; the rest
# are drawn uniformly at random (seeded) from the other entries.
TOP_FRACTION = 0.25
# Central-difference step: h = STEP_FACTOR * max(1, |x|). eps^(1/3) balances the truncation
# error (~h^2) against the rounding error (~eps/h) of a central difference; eps is the loss's
# (a loss computed in float32 gets float32's, ~5e-3: float64's step would drown in rounding).
STEP_FACTOR = float(np.finfo(np.float64).eps ** (1 / 3))
# An entry that disagrees is probed again with a step this many times smaller: that crosses
# fewer kinks and has less truncation error (and more rounding noise, which tol accounts for).
# For a loss in float32 (or float16) the retry keeps the first step's noise allowance: 10 times
# that (~1000 eps/h of the loss) would let a gradient off by half pass.
RETRY_STEP_RATIO = 0.1
# Denominator floor of the per-entry relative error |a - n| / max(|a| + |n|, floor).
REL_ERROR_FLOOR = 1e-8
# An entry agrees when |a - n| <= REL_TOL * (|a| + |n|) ...
REL_TOL = 1e-5
# ... or when |a - n| is within rounding noise of the difference quotient:
# NOISE_FACTOR * eps(loss dtype) * (|f(x+h)| + |f(x-h)|) / (2h). Entries whose gradient is
# far below the loss value (big layers, mean losses) are otherwise judged on rounding alone.
NOISE_FACTOR = 100.0
# The message of an ok parameter whose every checked entry is within rounding noise (repeated
# as a warning: a table shows no message for ok).
BELOW_NOISE = "finite differences cannot check it at this loss scale"
# A parameter with more entries than the sample is also checked as a whole: the derivative
# along this many random directions (random signs over every entry, unit length, seeded) is
# compared with a central difference, with the entry check's step, retry and tolerance. Each
# costs 2 loss evaluations (4 when it disagrees at the first step). A wrong row of a 784 x 128
# matrix shifts it by ~1/28 relative (1.5e-3 in the worst of 40 measured directions), over a
# hundred times REL_TOL; on correct float64 models the disagreement stayed under 1% of the
# tolerance (825 directions, every activation and loss of the tests).
DIRECTIONS = 2
# "Near +1 / -1" for the cosine between the analytic and numerical gradients.
COSINE_TOL = 1e-3
# A best-fit scale k counts as "far from 1" (verdict scaled) when |k - 1| > SCALE_TOL.
SCALE_TOL = 1e-2
# k "matches" a count (the number of samples, an integer, 2) within this relative tolerance.
FACTOR_MATCH_TOL = 1e-2
# loss or grad leaving an entry of its copy of params changed by more than this many ulps of
# max(1, |entry|) changed it (a nudge and restore, x + h - 2h + h, is off by a few at most).
IN_PLACE_ULPS = 16

_user_module_ids = itertools.count()
# An undefined metric: one object, so results of the same check compare equal.
_NAN = float("nan")


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterCheck:
    """The check of one parameter. Metrics are over the checked entries; NaN when undefined.

    ``checked`` counts the probed entries that were compared; ``skipped`` those left out because
    they sit on a kink (the two one-sided differences disagree and the analytic value lies
    between them, as at ReLU's 0). ``grad_shape`` is the shape grad returned.
    ``directional_rel_error``: for a sampled parameter, the largest relative error of the
    derivatives along ``directions`` random directions over all its entries (directions that
    cross a kink are not counted); NaN and 0 when it was not sampled.
    """

    name: str
    shape: tuple[int, ...]
    grad_shape: tuple[int, ...]
    verdict: str
    max_rel_error: float
    median_rel_error: float
    cosine: float
    scale: float
    checked: int
    skipped: int
    message: str
    directional_rel_error: float = _NAN
    directions: int = 0

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "verdict": self.verdict,
            "max_rel_error": _json_float(self.max_rel_error),
            "median_rel_error": _json_float(self.median_rel_error),
            "cosine": _json_float(self.cosine),
            "scale": _json_float(self.scale),
            "checked": self.checked,
            "skipped": self.skipped,
            "message": self.message,
            "directional_rel_error": _json_float(self.directional_rel_error),
            "directions": self.directions,
        }


@dataclass(frozen=True)
class GradcheckResult:
    """Every parameter's check, in the order of ``params``; ``ok`` when every verdict is ok."""

    parameters: tuple[ParameterCheck, ...]
    warnings: tuple[str, ...] = ()
    source: str | None = None
    samples: int = DEFAULT_SAMPLES
    seed: int = 0

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parameters)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: non-finite numbers become None, so strict parsers accept the document."""
        return {
            "source": self.source,
            "parameters": [p.to_dict() for p in self.parameters],
            "ok": self.ok,
            "warnings": list(self.warnings),
        }


def _json_float(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


# --- The core -----------------------------------------------------------------------------------


def check_gradients(
    loss_fn: Callable[[dict[str, np.ndarray]], Any],
    grad_fn: Callable[[dict[str, np.ndarray]], Any],
    params: Mapping[str, np.ndarray],
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    n_samples: int | None = None,
    source: str | None = None,
    kinks: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
) -> GradcheckResult:
    """Check ``grad_fn`` against central differences of ``loss_fn`` at ``params``.

    ``samples``: entries probed per parameter (all of them when the parameter is smaller).
    ``seed``: seeds the random part of the sample. ``n_samples``: the number of training
    samples, when known; a gradient off by exactly that factor is named a sum-for-mean bug.
    ``source``: prefixed to error messages (a file name). ``kinks``: when the loss's kinks are
    known (lrdiag's own ReLU models), the on/off pattern they make at params, such as the sign
    of every ReLU pre-activation: a probe that changes it crossed a kink and is skipped, even
    where the pre-activations sit so close to 0 (1e-15) that the loss changes only by rounding
    and the one-sided differences cannot tell. Raises InputError on contract breaches.
    """
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    where = f"{source}: " if source else ""
    names, warnings = _validate_params(params, where)
    base = {k: np.array(params[k], dtype=np.float64, copy=True) for k in names}
    work = {k: v.copy() for k, v in base.items()}  # probed in place, restored after each probe

    changed: dict[str, float] = {}  # parameter -> the largest change loss or grad made
    call_loss = _Loss(loss_fn, work, where, kinks, changed)
    f0, loss_dtype = call_loss()
    if loss_dtype == np.float64:
        loss_dtype = _loss_precision(f0, call_loss, work, base)
        if loss_dtype != np.float64:
            warnings.append(
                f"loss() returns float64 numbers that are all exact {loss_dtype} values: it "
                f"computes in {loss_dtype}, so the check uses {loss_dtype} steps and "
                "tolerances and is less sensitive (make loss and grad compute in float64)"
            )
    else:
        warnings.append(
            f"loss() returned {loss_dtype}: the check needs float64 arithmetic, so it is less "
            "sensitive (make loss and grad compute in the dtype of params)"
        )
    eps = float(np.finfo(loss_dtype).eps)
    grads = _call_grad(grad_fn, work, names, where, changed)
    _check_repeatable(f0, call_loss()[0], eps, "after grad(params) ran", where)

    checks = []
    shapes = {k: tuple(v.shape) for k, v in work.items()}
    for index, name in enumerate(names):
        rng = np.random.default_rng([seed, index])
        checks.append(
            _check_parameter(
                name, work[name], grads[name], call_loss, f0, eps, samples, rng, n_samples, shapes
            )
        )
    _check_repeatable(f0, call_loss()[0], eps, "after the probes", where)
    warnings += [f"{c.name}: {c.message}" for c in checks if c.message.startswith(BELOW_NOISE)]
    warnings += [
        f"loss or grad changed params[{name!r}] in place (by up to {_fmt(size)}): each call got "
        "its own copy, so the check is unaffected, but in training such code moves the weights "
        "(copy before changing, or restore exactly)"
        for name, size in changed.items()
    ]
    return GradcheckResult(tuple(checks), tuple(warnings), source, int(samples), int(seed))


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
        if self.kinks is not None and not np.array_equal(self.kinks(dict(self.work)), self.pattern):
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


# --- One parameter ------------------------------------------------------------------------------


def _check_parameter(
    name: str,
    x: np.ndarray,
    g: np.ndarray,
    call_loss: _Loss,
    f0: float,
    eps: float,
    samples: int,
    rng: np.random.Generator,
    n_samples: int | None,
    shapes: dict[str, tuple[int, ...]] | None = None,
) -> ParameterCheck:
    shape, grad_shape = tuple(x.shape), tuple(g.shape)
    nan = _NAN

    directional: tuple[float, int] = (nan, 0)  # (rel. error, directions compared)

    def result(verdict, message, checked=0, skipped=0, metrics=(nan, nan, nan, nan)):
        return ParameterCheck(
            name, shape, grad_shape, verdict, *metrics, checked, skipped, message, *directional
        )

    shape_note = ""
    if grad_shape != shape:
        effective, shape_note = _describe_shape(name, shape, grad_shape, g, shapes)
        if effective is None:
            return result("wrong_shape", shape_note)
        g = effective

    if not np.isfinite(f0):
        return result("not_finite", _join(shape_note, f"the loss is {f0} at these params"))
    bad_analytic = int(np.count_nonzero(~np.isfinite(g)))
    if bad_analytic:
        return result(
            "not_finite",
            _join(shape_note, f"grad[{name!r}] is NaN or inf at {_entries(bad_analytic)}"),
        )

    idx = _pick_entries(g, samples, rng)
    a = g.reshape(-1)[idx]
    n, tol, kink = _probe(x, idx, a, call_loss, f0, eps)

    bad_numeric = int(np.count_nonzero(~np.isfinite(n)))
    if bad_numeric:
        return result(
            "not_finite",
            _join(
                shape_note,
                f"the loss is not finite at {bad_numeric} of {idx.size} probes of {name} "
                f"(moving one entry by ~{_step_factor(eps):.0e} overflows it)",
            ),
        )

    # a sampled parameter is also checked as a whole: entries outside the sample may disagree
    outside = whole_note = ""
    if idx.size < x.size:
        directional, outside, whole_note = _check_directions(
            name, x, g, idx.size, call_loss, f0, eps, rng
        )

    keep = ~kink
    a, n, tol = a[keep], n[keep], tol[keep]
    checked, skipped = int(a.size), int(np.count_nonzero(kink))
    diff = np.abs(a - n)
    rel = diff / np.maximum(np.abs(a) + np.abs(n), REL_ERROR_FLOOR)
    agree = diff <= tol
    cosine, scale = _cosine_and_scale(a, n)
    metrics = (
        float(rel.max()) if checked else nan,
        float(np.median(rel)) if checked else nan,
        cosine,
        scale,
    )
    skip_note = f"{_entries(skipped)} on kinks (e.g. ReLU at 0) skipped" if skipped else ""

    if shape_note:
        values = (
            "its values match the numerical gradient"
            if agree.all()
            else f"as applied, it disagrees with the numerical gradient (cosine {_fmt_cos(cosine)})"
        )
        return result("wrong_shape", _join(shape_note, values), checked, skipped, metrics)
    if outside and agree.all():  # the sampled entries pass (or all sit on kinks)
        return result("wrong", _join(outside, skip_note), checked, skipped, metrics)
    if checked == 0:
        message = f"all {skipped} probed entries sit on kinks; none disagrees"
        return result("ok", _join(message, whole_note), 0, skipped, metrics)
    if agree.all():
        message = f"analytic and numerical gradients agree (max rel. error {_fmt(metrics[0])})"
        # a flipped sign would agree too when every |a| and |n| is within half the tolerance
        if np.any(a) and np.all(tol >= 2 * np.maximum(np.abs(a), np.abs(n))):
            message = (
                f"{BELOW_NOISE}: its gradient (|grad| up to {_fmt(float(np.abs(a).max()))}) is "
                f"below the loss's rounding noise (~{_fmt(float(tol.min()))} per unit step), so "
                "a flipped sign would agree too (is the loss dominated by a large term that "
                f"does not depend on {name}?)"
            )
        return result("ok", _join(message, skip_note, whole_note), checked, skipped, metrics)
    verdict, message = _diagnose(name, a, n, agree, cosine, scale, n_samples)
    return result(verdict, _join(message, skip_note), checked, skipped, metrics)


def _check_directions(
    name: str,
    x: np.ndarray,
    g: np.ndarray,
    sampled: int,
    call_loss: _Loss,
    f0: float,
    eps: float,
    rng: np.random.Generator,
) -> tuple[tuple[float, int], str, str]:
    """Derivatives along DIRECTIONS random directions over every entry of ``x`` (restored bit
    for bit), as PyTorch's fast gradcheck does: the analytic <g, v> against a central difference
    of the loss along v, with the entry check's retry, tolerance and kink test (``_difference``).

    v has random signs and unit length; h v moves every entry by its entry-check step over
    sqrt(x.size), so the entries of magnitude up to 1 (most weights) weigh the same and a larger
    entry moves in proportion to its size, as in the entry check. Returns (the largest relative
    error, the directions compared: not on a kink, finite), the message saying that entries
    outside the sample disagree when a direction disagrees beyond its tolerance (else ""), and
    a note when the check says nothing (every direction on a kink, or within rounding noise).
    """
    flat, gflat = x.reshape(-1), g.reshape(-1)
    size = np.maximum(1.0, np.abs(flat))  # the entry check's step is STEP_FACTOR times this
    h = _step_factor(eps) * float(np.linalg.norm(size)) / np.sqrt(flat.size)
    rel, worst, below_noise = [], None, True
    for _ in range(DIRECTIONS):
        v = rng.choice(np.array([-1.0, 1.0]), size=flat.size) * size
        v /= np.linalg.norm(v)
        a = float(gflat @ v)
        numeric, tol, kink = _difference(flat, slice(None), v, h, a, call_loss, f0, eps)
        if kink or not np.isfinite(numeric):
            continue
        rel.append(abs(a - numeric) / max(abs(a) + abs(numeric), REL_ERROR_FLOOR))
        below_noise &= tol >= 2 * max(abs(a), abs(numeric))
        if abs(a - numeric) > tol and (worst is None or rel[-1] > worst[2]):
            worst = (a, numeric, rel[-1])
    measured = (max(rel) if rel else _NAN, len(rel))
    whole = f"the check along {DIRECTIONS} random directions over all {x.size} entries"
    unchecked = "entries outside the sample are unchecked"
    if not rel:
        return measured, "", f"{whole} crossed kinks (e.g. ReLU at 0): {unchecked}"
    if worst is None:
        note = f"{whole} is within the loss's rounding noise: {unchecked}" if below_noise else ""
        return measured, "", note
    a, numeric, r = worst
    return (
        measured,
        f"the {sampled} sampled entries agree, but entries outside the sample disagree: along a "
        f"random direction over all {x.size} entries the analytic derivative is {_fmt(a)}, the "
        f"numerical {_fmt(numeric)} (rel. error {_fmt(r)}); a larger --samples finds them "
        f"(--samples {x.size} checks every entry of {name}, 2 loss evaluations each)",
        "",
    )


def _step_factor(eps: float) -> float:
    """STEP_FACTOR for a loss whose machine epsilon is ``eps``."""
    return STEP_FACTOR if eps == np.finfo(np.float64).eps else float(eps ** (1 / 3))


def _pick_entries(g: np.ndarray, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to probe: all, or the largest |g| entries plus a seeded random rest."""
    size = g.size
    if size <= samples:
        return np.arange(size)
    n_top = max(1, int(round(samples * TOP_FRACTION)))
    order = np.argsort(-np.abs(g.reshape(-1)), kind="stable")
    top = order[:n_top]
    rest = rng.choice(order[n_top:], size=samples - n_top, replace=False)
    return np.sort(np.concatenate([top, rest]))


def _probe(
    x: np.ndarray,
    idx: np.ndarray,
    a: np.ndarray,
    call_loss: _Loss,
    f0: float,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences at the flat entries ``idx`` of ``x`` (restored bit for bit).

    Returns the numerical gradient, each entry's agreement tolerance, and the kink mask (see
    ``_difference``).
    """
    flat = x.reshape(-1)  # a view: x is a contiguous copy made by check_gradients
    numeric = np.empty(idx.size)
    tol = np.empty(idx.size)
    kink = np.zeros(idx.size, dtype=bool)
    for i, j in enumerate(idx):
        h = _step_factor(eps) * max(1.0, abs(float(flat[j])))
        numeric[i], tol[i], kink[i] = _difference(
            flat, int(j), np.float64(1.0), h, a[i], call_loss, f0, eps
        )
    return numeric, tol, kink


def _difference(
    flat: np.ndarray,
    where: int | slice,
    v: np.ndarray,
    h: float,
    a: float,
    call_loss: _Loss,
    f0: float,
    eps: float,
) -> tuple[float, float, bool]:
    """The derivative of the loss along ``v`` at ``flat[where]``: (numerical, tolerance, kink).

    ``where`` is one entry (``v`` = 1) or ``slice(None)``, the whole parameter (``v`` a unit
    direction). When the central difference with step ``h`` disagrees with the analytic value
    ``a``, it is taken once more with a step RETRY_STEP_RATIO times smaller (fewer kinks crossed,
    less truncation error); unless the loss is float64, with the first step's noise allowance.
    ``kink``: it still disagrees, the two one-sided differences disagree with each other, and
    ``a`` lies between them (a kink such as ReLU at 0, where the analytic code picks one side);
    or the two steps' differences disagree with each other (kinks inside the steps).
    """
    retry_noise = 1.0 if eps == np.finfo(np.float64).eps else RETRY_STEP_RATIO
    first = None
    for step, noise in ((h, 1.0), (h * RETRY_STEP_RATIO, retry_noise)):
        numeric, tol, kink = _central(flat, where, v, step, a, call_loss, f0, eps * noise)
        if abs(a - numeric) <= tol or not np.isfinite(numeric):
            break
        if first is None:
            first = (numeric, tol)
        elif abs(numeric - first[0]) > first[1]:
            # Unsettled: the two steps' differences disagree beyond the first's tolerance
            # (ten times the retry's rounding noise). A smooth loss's agree, whether a is right
            # or not, so a wrong gradient is still found; this loss has kinks inside the steps,
            # often several (under tiny weights many samples' ReLUs sit within a step of 0,
            # and the difference grows like 1/step), so a need not lie between the one-sided
            # differences as _central's kink test asks.
            kink = True
    return numeric, tol, kink


def _central(
    flat: np.ndarray,
    where: int | slice,
    v: np.ndarray,
    h: float,
    a: float,
    call_loss: _Loss,
    f0: float,
    eps: float,
) -> tuple[float, float, bool]:
    """One central difference along ``v`` at ``flat[where]``: (numerical, tolerance, on a kink).

    ``flat[where]`` is put back bit for bit. ``eps`` sets the rounding-noise allowance of the
    tolerance (NOISE_FACTOR eps |f| / h).
    """
    x0 = flat[where].copy()
    xp, xm = x0 + h * v, x0 - h * v
    call_loss.crossed = False
    try:
        flat[where] = xp
        fp, _ = call_loss()
        flat[where] = xm
        fm, _ = call_loss()
    finally:
        flat[where] = x0
    crossed = call_loss.crossed  # a known kink (check_gradients' ``kinks``) inside the step
    # the steps actually taken along v, after rounding
    vv = float(np.vdot(v, v))
    hp, hm = float(np.vdot(xp - x0, v)) / vv, float(np.vdot(x0 - xm, v)) / vv
    numeric = (fp - fm) / (hp + hm)
    tol = REL_TOL * (abs(a) + abs(numeric)) + NOISE_FACTOR * eps * (abs(fp) + abs(fm)) / (hp + hm)
    forward, backward = (fp - f0) / hp, (f0 - fm) / hm
    lo, hi = min(forward, backward), max(forward, backward)
    kink = bool(abs(a - numeric) > tol and hi - lo > 2 * tol and lo - tol <= a <= hi + tol)
    return numeric, tol, kink or (crossed and abs(a - numeric) > tol)


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
        what += "; it has the transposed shape (a transposed matmul?)"
    elif (
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


# --- User modules -------------------------------------------------------------------------------


def load_user_module(
    path: str | Path, *, timeout: float | None = None
) -> tuple[Callable, Callable, dict[str, np.ndarray]]:
    """Import the user's file and return ``(loss, grad, params)``.

    The file is imported under a unique module name (not ``__main__``, so code under
    ``if __name__ == "__main__":`` does not run); its directory is on ``sys.path`` while it
    imports, so it can import its neighbours. ``params`` is a dict of NumPy arrays or a
    zero-argument function returning one. InputError, naming the file, for every breach: no such
    file, import raising (``SystemExit`` included), a missing or non-callable name, bad params,
    the import or ``params()`` taking longer than ``timeout`` seconds. Call it inside
    ``user_output_to_stderr()`` to keep the module's prints off stdout.
    """
    path = Path(path)
    where = f"{path}: "
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if path.suffix != ".py":
        raise InputError(f"{where}expected a Python module (.py)")
    module_name = f"lrdiag_user_module_{next(_user_module_ids)}_{_identifier(path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always get a spec
        raise InputError(f"{where}cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses, pickle and the like look modules up here
    directory = str(path.resolve().parent)
    sys.path.insert(0, directory)
    try:
        with np.errstate(all="ignore"):
            _limited(spec.loader.exec_module, timeout)(module)
    except KeyboardInterrupt:
        sys.modules.pop(module_name, None)
        raise
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        raise InputError(
            f"{where}importing it raised {_raised(exc)}"
            + (
                ' (put script code under `if __name__ == "__main__":`)'
                if isinstance(exc, SystemExit)
                else ""
            )
        ) from exc
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)

    defined = [n for n in vars(module) if not n.startswith("_")]

    def need(attr: str, what: str) -> Any:
        if not hasattr(module, attr):
            close = difflib.get_close_matches(attr, defined, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{where}defines no `{attr}`{hint}; a module for lrdiag gradcheck defines "
                "`params`, `loss(params) -> float` and `grad(params) -> dict`"
            )
        value = getattr(module, attr)
        if what == "function" and not callable(value):
            raise InputError(f"{where}`{attr}` must be a function, got {type(value).__name__}")
        return value

    loss_fn = need("loss", "function")
    grad_fn = need("grad", "function")
    params = need("params", "value")
    if callable(params) and not isinstance(params, Mapping):
        try:
            with np.errstate(all="ignore"):
                params = _limited(params, timeout)()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise InputError(f"{where}params() raised {_raised(exc)}") from exc
    _validate_params(params, where)
    return loss_fn, grad_fn, params


def check_module(
    path: str | Path,
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    n_samples: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> GradcheckResult:
    """Load the user's module and check its gradients. Whatever the module writes to stdout
    (print, os.write(1, ...), C code, a subprocess) goes to stderr; each call of its code (the
    import, params(), every loss and grad) may take at most ``timeout`` seconds (None: no
    limit), else InputError."""
    with user_output_to_stderr():
        loss_fn, grad_fn, params = load_user_module(path, timeout=timeout)
        return check_gradients(
            _limited(loss_fn, timeout),
            _limited(grad_fn, timeout),
            params,
            samples=samples,
            seed=seed,
            n_samples=n_samples,
            source=str(path),
        )


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """Send writes to stdout, file descriptor 1 itself included, to stderr, so that the user's
    code cannot corrupt ``--json`` (a test capturing stdout without a descriptor: sys.stdout
    only)."""
    with contextlib.redirect_stdout(sys.stderr):
        try:
            sys.__stdout__.flush()
            saved = os.dup(1)
        except (AttributeError, OSError, ValueError):  # no descriptor 1 to redirect
            yield
            return
        try:
            os.dup2(2, 1)
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)


class _Timeout(Exception):
    pass


def _limited(fn: Callable, seconds: float | None) -> Callable:
    """``fn`` stopped with an exception after ``seconds`` per call (SIGALRM: the main thread on
    POSIX; elsewhere, or with None, unlimited). Code that never returns to Python (a C loop)
    cannot be stopped this way."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        return fn

    def alarm(_signum, _frame):
        raise _Timeout(f"it took longer than {seconds:g} s (--timeout)")

    def call(*args, **kwargs):
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return call


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


def _identifier(stem: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in stem)


# --- lrdiag's own model -------------------------------------------------------------------------

# check_config uses at most this many training samples: whether backprop is right does not
# depend on the data size, and a big dataset would make every probe slow.
CONFIG_MAX_ROWS = 256
KINKED_ACTIVATIONS = ("relu", "leaky_relu")  # lrdiag's activations with a kink (at 0)


def _conv_kinks(layer, saved) -> list[np.ndarray]:
    """A conv net layer's kink pattern from what its forward pass kept (lrdiag.convnet):
    the signs of a (leaky) ReLU's outputs, the winning offset of each max pooling window."""
    _, kept, out = saved
    parts = []
    if layer.activation in KINKED_ACTIVATIONS:
        parts.append((out > 0).ravel().astype(np.int64))
    if layer.kind == "maxpool":
        parts.append(kept.ravel().astype(np.int64))
    return parts


def check_config(cfg: Any, *, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> GradcheckResult:
    """Check lrdiag's own model for ``cfg`` at the first run's initial weights, in float64.

    The first run is the first init scale and the first seed; the data are the config's dataset
    (its first CONFIG_MAX_ROWS samples). Parameters are reported without the run axis.
    """
    from lrdiag import data, sweep  # the numeric core; imported here to keep imports light

    dataset = data.load_dataset(cfg.data, cfg.model, file=cfg.source)
    X = np.asarray(sweep.inputs(cfg, dataset.X, dataset), dtype=np.float64)[:CONFIG_MAX_ROWS]
    Y = np.asarray(dataset.Y, dtype=np.float64)[:CONFIG_MAX_ROWS]
    net = sweep.network(cfg)  # lrdiag.model (the MLP) or lrdiag.convnet
    batched = net.init_params(
        sweep.architecture(cfg, X.shape[1:], Y.shape[1]),
        cfg.init.scheme,
        np.array([cfg.init.scales[0]], dtype=np.float64),
        np.array([cfg.training.seeds[0]]),
        np.float64,
        path=cfg.init.path,
    )
    params = {k: np.array(v[0], dtype=np.float64) for k, v in batched.items()}

    def loss_fn(p):
        return net.loss({k: v[None] for k, v in p.items()}, X, Y, cfg.model)[0]

    def grad_fn(p):
        _, grads = net.loss_and_grads({k: v[None] for k, v in p.items()}, X, Y, cfg.model)
        return {k: v[0] for k, v in grads.items()}

    kinks = None
    if cfg.model.layers is not None:  # ReLU kinks, and which entry wins each max pooling window
        built = sweep.architecture(cfg, X.shape[1:], Y.shape[1])

        def kinks(p):
            _, saved = net.forward({k: v[None] for k, v in p.items()}, X, cfg.model, keep=True)
            pairs = zip(built.layers, saved, strict=True)
            return np.concatenate([part for pair in pairs for part in _conv_kinks(*pair)])

    elif cfg.model.activation in KINKED_ACTIVATIONS and cfg.model.hidden:  # kinks at z = 0

        def kinks(p):
            _, cache = net.forward({k: v[None] for k, v in p.items()}, X, cfg.model, keep=True)
            return np.concatenate([(z > 0).ravel() for _, z, _ in cache[:-1]])

    result = check_gradients(
        loss_fn,
        grad_fn,
        params,
        samples=samples,
        seed=seed,
        n_samples=X.shape[0],
        source=cfg.source or cfg.name,
        kinks=kinks,
    )
    if dataset.X.shape[0] > X.shape[0]:
        note = f"checked on the first {X.shape[0]} of {dataset.X.shape[0]} samples"
        result = GradcheckResult(
            result.parameters, (*result.warnings, note), result.source, result.samples, seed
        )
    return result
