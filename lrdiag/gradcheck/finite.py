"""The check by central finite differences: ``check_gradients`` probes a sample of entries of
every parameter (and, for a parameter larger than the sample, DIRECTIONS random directions)
and compares them with the analytic gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from lrdiag.gradcheck.contract import (
    _call_grad,
    _check_repeatable,
    _Loss,
    _loss_precision,
    _validate_params,
)
from lrdiag.gradcheck.diagnosis import (
    _cosine_and_scale,
    _describe_shape,
    _diagnose,
    _entries,
    _fmt,
    _fmt_cos,
    _join,
)
from lrdiag.gradcheck.result import (
    _NAN,
    BELOW_NOISE,
    DEFAULT_SAMPLES,
    DIRECTIONS,
    NOISE_FACTOR,
    REL_ERROR_FLOOR,
    REL_TOL,
    RETRY_STEP_RATIO,
    STEP_FACTOR,
    TOP_FRACTION,
    GradcheckResult,
    ParameterCheck,
)


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
