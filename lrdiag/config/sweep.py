"""The ``sweep:`` section: the learning rates and the other grid axes, and which axis the
summary compares."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrdiag.config.checks import (
    at_least,
    grid_axis,
    grid_count,
    grid_positive,
    in_unit_interval,
    option,
    positive,
)
from lrdiag.config.loader import (
    Context,
    axis_parser,
    checked,
    parse_grid,
    parse_value,
    reject_unknown,
)
from lrdiag.config.training import OPTIMIZERS, parse_batch_size
from lrdiag.errors import quote
from lrdiag.files import EXTRA_AXES


@dataclass(frozen=True)
class SweepConfig:
    # a list, or {min, max, num}: num values log-spaced from min to max, both ends included
    learning_rates: tuple[float, ...] = grid_axis(
        (0.01, 0.1, 1.0),
        "grid axis: a list, or `{min, max, num}` log-spaced",
        check=grid_positive,
    )
    # More grid axes (issue 15): each replaces the training key of its name for its runs.
    optimizer: tuple[str, ...] | None = option(None, "grid axis: training.optimizer values")
    momentum: tuple[float, ...] | None = option(None, "grid axis: training.momentum values")
    weight_decay: tuple[float, ...] | None = option(None, "grid axis: training.weight_decay values")
    warmup_steps: tuple[int, ...] | None = option(
        None, "grid axis: training.schedule.warmup_steps values"
    )
    clip_grad_norm: tuple[float | None, ...] | None = option(
        None, "grid axis: training.clip_grad_norm values (null: off)"
    )
    batch_size: tuple[int | None, ...] | None = option(
        None, "grid axis: training.batch_size values (`full` or a size)"
    )
    compare: str | None = option(
        None, "the second axis of the summary, table and phase map (null: init_scale)"
    )


# The grid axes beside learning_rates, init.scales and training.seeds, in the order the grid
# nests them (outermost first); optimizer and batch_size train group by group, the others as
# per-run arrays in one loop.
# (defined in the leaf files.py, whose CSV writer names them too)
COMPARE_AXES = ("init_scale", "seed", *EXTRA_AXES)
# compare: the value an axis has "without" it (the summary's "(1e-3 without)")
AXIS_OFF = {"momentum": 0.0, "weight_decay": 0.0, "warmup_steps": 0, "clip_grad_norm": None}


def _parse_learning_rates(v: Any, key: str, ctx: Context) -> tuple[float, ...]:
    if not isinstance(v, Mapping):
        return parse_grid(v, float, grid_positive, key, ctx)
    allowed = ("min", "max", "num")
    reject_unknown(v, allowed, key, ctx.file)
    missing = [k for k in allowed if k not in v]
    if missing:
        raise ctx.error(
            key, f"a log-spaced range needs min, max and num; missing {', '.join(missing)}"
        )
    lo = checked(v["min"], float, grid_positive, f"{key}.min", ctx)
    hi = checked(v["max"], float, grid_positive, f"{key}.max", ctx)
    num = checked(v["num"], int, grid_count, f"{key}.num", ctx)
    if lo > hi:
        raise ctx.error(f"{key}.min", f"min ({lo:g}) must be <= max ({hi:g})")
    if num == 1 and lo != hi:
        raise ctx.error(
            f"{key}.num",
            f"num: 1 is one learning rate, so min must equal max (got {lo:g} and {hi:g}); "
            "num >= 2 spans the range",
        )
    if num > 1 and lo == hi:
        raise ctx.error(f"{key}.num", f"min == max gives {num} equal learning rates; use num: 1")
    values = log_spaced(lo, hi, num)
    if len(set(values)) < len(values):
        raise ctx.error(
            f"{key}.num",
            f"{num} log-spaced values from {lo:g} to {hi:g} are not all distinct in float64; "
            "use fewer or a wider range",
        )
    return values


def log_spaced(lo: float, hi: float, num: int) -> tuple[float, ...]:
    """``num`` values from ``lo`` to ``hi`` (both exact) with a constant ratio between them."""
    if num == 1:
        return (float(lo),)
    step = (math.log10(hi) - math.log10(lo)) / (num - 1)  # base 10: powers of ten come out exact
    inner = [10.0 ** (math.log10(lo) + i * step) for i in range(1, num - 1)]
    return (float(lo), *inner, float(hi))


def _parse_batch_axis(v: Any, key: str, ctx: Context) -> tuple | None:
    if v is None:
        return None
    items = v if isinstance(v, list) else [v]
    if not items:
        raise ctx.error(key, "must not be empty")
    values = []
    for i, x in enumerate(items):
        b = parse_batch_size(x, f"{key}[{i}]", ctx)
        if b in values:
            raise ctx.error(
                f"{key}[{i}]", f"duplicate value {quote(x)}; each grid value must appear once"
            )
        values.append(b)
    return tuple(sorted(values, key=lambda b: math.inf if b is None else b))  # full: the largest


PARSERS = {
    ("sweep", "learning_rates"): _parse_learning_rates,
    ("sweep", "optimizer"): axis_parser(str, choices=OPTIMIZERS),
    ("sweep", "momentum"): axis_parser(float, in_unit_interval),
    ("sweep", "weight_decay"): axis_parser(float, at_least(0)),
    ("sweep", "warmup_steps"): axis_parser(int, at_least(0)),
    ("sweep", "clip_grad_norm"): axis_parser(float, positive, nullable=True),
    ("sweep", "batch_size"): _parse_batch_axis,
    ("sweep", "compare"): lambda v, key, ctx: parse_value(
        v, str | None, {"choices": (None, *COMPARE_AXES)}, key, ctx
    ),
}


def check_sweep(sweep: SweepConfig, ctx: Context) -> None:
    """The axis the summary compares is one the sweep has."""
    compare = sweep.compare
    if compare in EXTRA_AXES and getattr(sweep, compare) is None:
        raise ctx.error(
            "sweep.compare",
            f"{compare!r} is not an axis of this sweep: add sweep.{compare}: [...] or compare "
            "init_scale or seed",
        )
