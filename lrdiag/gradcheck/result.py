"""What a gradient check finds: the verdicts, every threshold named once, and the result
types (``ParameterCheck`` per parameter, ``GradcheckResult`` for the check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lrdiag.formatting import finite

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
            "max_rel_error": finite(self.max_rel_error),
            "median_rel_error": finite(self.median_rel_error),
            "cosine": finite(self.cosine),
            "scale": finite(self.scale),
            "checked": self.checked,
            "skipped": self.skipped,
            "message": self.message,
            "directional_rel_error": finite(self.directional_rel_error),
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
