"""The ``lints:`` section (which lints to silence) and ``find:`` (the LR range test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrdiag.config.checks import Check, at_least, grid_positive, in_unit_interval, option
from lrdiag.config.loader import Context, not_a_choice

# The lints of `lrdiag check` and a sweep's warnings (docs/lints.md); lints.py defines them.
LINT_IDS = (
    "output_loss_mismatch",
    "unscaled_inputs",
    "sum_reduction",
    "saturated_init",
    "dead_relu",
    "grid_misses_boundary",
)


@dataclass(frozen=True)
class LintsConfig:
    ignore: tuple[str, ...] = option(
        (), "a list of lint ids neither printed nor written (docs/lints.md)", choices=LINT_IDS
    )


# The LR range test (`lrdiag find`): fastai's defaults (Learner.lr_find, LRFinder, AvgSmoothLoss).
MAX_FIND_STEPS = 100_000  # a ramp is a few hundred steps; more is a typo, not a test


@dataclass(frozen=True)
class FindConfig:
    min: float = option(1e-7, "first learning rate of the exponential ramp", check=grid_positive)
    max: float = option(10.0, "the ramp's end: lr_i = min (max/min)^(i/steps)", check=grid_positive)
    steps: int = option(
        100,
        "steps of the ramp, one batch each (fastai: at least 6)",
        check=Check(f"in [6, {MAX_FIND_STEPS}]", lambda v: 6 <= v <= MAX_FIND_STEPS),
    )
    beta: float = option(
        0.98, "smoothing of the loss (bias-corrected moving average)", check=in_unit_interval
    )
    stop_factor: float | None = option(
        4.0,
        "a seed stops once its smoothed loss exceeds this x its best (null: never)",
        check=Check("> 1", lambda v: v > 1),
    )
    sweep_margin: float = option(
        3.0,
        "the short sweep spans the lowest suggestion / this to the ramp's reach x this",
        check=at_least(1),
    )
    sweep_per_decade: int = option(
        5,
        "learning rates per decade in the short sweep",
        check=Check("in [1, 100]", lambda v: 1 <= v <= 100),
    )


def _parse_ignore(v: Any, key: str, ctx: Context) -> tuple[str, ...]:
    values = v if isinstance(v, list) else [v]
    for item in values:
        if not isinstance(item, str) or item not in LINT_IDS:
            raise ctx.error(key, not_a_choice(item, LINT_IDS))
    return tuple(dict.fromkeys(values))


PARSERS = {("lints", "ignore"): _parse_ignore}


def check_find(find: FindConfig, ctx: Context) -> None:
    """The ramp goes up."""
    if not find.min < find.max:
        raise ctx.error("find.max", f"must be above find.min ({find.min:g}), got {find.max:g}")
