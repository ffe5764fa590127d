"""What a config value must be, in words and as a predicate (``Check``), and how an option is
declared (``option``, ``grid_axis``): its default, its one-line meaning and its check together."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    allowed: str  # what is allowed, for messages: ">= 1"
    ok: Callable[[Any], bool]
    bounds: Mapping[str, float] = field(default_factory=dict)  # the same, as JSON Schema says it


def at_least(lo: float) -> Check:
    return Check(f">= {lo}", lambda v: v >= lo, {"minimum": lo})


positive = Check("> 0", lambda v: v > 0, {"exclusiveMinimum": 0})
# Learning rates and init scales far outside any experiment overflow float64 on the way (a loss
# of lr * 1e300, a plot's axis padded past 1e308): refused at load time instead.
GRID_MIN, GRID_MAX = 1e-100, 1e100
grid_positive = Check(
    f"in [{GRID_MIN:g}, {GRID_MAX:g}]",
    lambda v: GRID_MIN <= v <= GRID_MAX,
    {"minimum": GRID_MIN, "maximum": GRID_MAX},
)
# Values a log-spaced range may hold (each becomes a Python float before any other check).
MAX_GRID_VALUES = 10**7
grid_count = Check(
    f"in [1, {MAX_GRID_VALUES:,}]",
    lambda v: 1 <= v <= MAX_GRID_VALUES,
    {"minimum": 1, "maximum": MAX_GRID_VALUES},
)
# Training seeds pass through float64 on the way to NumPy's generator: exact up to 2**53.
MAX_SEED = 2**53
seed_range = Check(
    f"in [0, 2**53 = {MAX_SEED}]", lambda v: 0 <= v <= MAX_SEED, {"minimum": 0, "maximum": MAX_SEED}
)
in_unit_interval = Check("in [0, 1)", lambda v: 0 <= v < 1, {"minimum": 0, "exclusiveMaximum": 1})
# Every classifier threshold is a fraction, a count or a number of standard deviations: none
# means anything below 0 (Thresholds lives in thresholds.py, without checks of its own).
THRESHOLD_CHECK = at_least(0)
# ... and some are shares of something (of the points, of the steps, of a level): at most 1;
# others count points or steps: at least 1 (osc_alternation: 2 or min_window: 0 meant nothing).
share = Check("in [0, 1]", lambda v: 0 <= v <= 1, {"minimum": 0, "maximum": 1})
THRESHOLD_CHECKS = {
    **dict.fromkeys(
        (
            "window_frac",
            "init_frac",
            "level_frac",
            "smooth_frac",
            "borderline_margin",
            "osc_alternation",
            "noisy_turns",
            "blowup_keep",
            "chance_tol",
            "chance_round",
            "chance_settle",
            "plateau_fall",
            "osc_acf",
            "osc_corr",
        ),
        share,
    ),
    **dict.fromkeys(
        (
            "min_window",
            "noise_points",
            "short_curve",
            "never_back",
            "growth_steps",
            "rebound_count",
        ),
        at_least(1),
    ),
}


def option(default: Any, help: str, *, check: Check | None = None, choices: tuple = ()) -> Any:
    """A config option: default, one-line meaning, and its check or choices."""
    return field(default=default, metadata={"help": help, "check": check, "choices": choices})


def grid_axis(default: tuple, help: str, *, check: Check) -> Any:
    """A grid axis: a non-empty list without duplicates, stored sorted ascending."""
    meta = {"help": help, "check": check, "choices": (), "grid": True}
    return field(default=default, metadata=meta)
