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

The package, one job a module: ``result`` (verdicts, thresholds, result types) <- ``contract``
(calling loss and grad under the contract) <- ``diagnosis`` (measurements -> verdict and
message) <- ``finite`` (``check_gradients``: the finite differences) <- ``usermodule`` (a user's
``.py`` file) and ``own`` (lrdiag's own model).
"""

from lrdiag.gradcheck.finite import check_gradients
from lrdiag.gradcheck.own import CONFIG_MAX_ROWS, KINKED_ACTIVATIONS, check_config
from lrdiag.gradcheck.result import (
    BELOW_NOISE,
    COSINE_TOL,
    DEFAULT_SAMPLES,
    DEFAULT_TIMEOUT,
    DIRECTIONS,
    FACTOR_MATCH_TOL,
    IN_PLACE_ULPS,
    NOISE_FACTOR,
    REL_ERROR_FLOOR,
    REL_TOL,
    RETRY_STEP_RATIO,
    SCALE_TOL,
    STEP_FACTOR,
    TOP_FRACTION,
    VERDICTS,
    GradcheckResult,
    ParameterCheck,
)
from lrdiag.gradcheck.usermodule import check_module, load_user_module, user_output_to_stderr

__all__ = [
    "BELOW_NOISE",
    "CONFIG_MAX_ROWS",
    "COSINE_TOL",
    "DEFAULT_SAMPLES",
    "DEFAULT_TIMEOUT",
    "DIRECTIONS",
    "FACTOR_MATCH_TOL",
    "IN_PLACE_ULPS",
    "KINKED_ACTIVATIONS",
    "NOISE_FACTOR",
    "REL_ERROR_FLOOR",
    "REL_TOL",
    "RETRY_STEP_RATIO",
    "SCALE_TOL",
    "STEP_FACTOR",
    "TOP_FRACTION",
    "VERDICTS",
    "GradcheckResult",
    "ParameterCheck",
    "check_config",
    "check_gradients",
    "check_module",
    "load_user_module",
    "user_output_to_stderr",
]
