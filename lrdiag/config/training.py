"""The ``training:`` section (optimizer, schedule, batches, precision) and ``stability:`` (the
sharpness measured at init and during training)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lrdiag.config.checks import (
    Check,
    at_least,
    grid_axis,
    in_unit_interval,
    option,
    positive,
    seed_range,
    share,
)
from lrdiag.config.loader import Context, checked, describe, load_section, parse_value
from lrdiag.errors import quote

# OPTIMIZERS must equal the keys of lrdiag.optim.OPTIMIZERS (a test asserts it).
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
DTYPES = ("float32", "float64")
LOSS_REDUCTIONS = ("mean", "sum")

SCHEDULE_KINDS = ("constant", "step", "exponential", "cosine", "linear")
SCHEDULE_UNITS = ("step", "epoch")


@dataclass(frozen=True)
class ScheduleConfig:
    kind: str = option(
        "constant", "decay after the warmup (torch.optim.lr_scheduler)", choices=SCHEDULE_KINDS
    )
    warmup_steps: int = option(
        0, "linear warmup from start_factor x lr (LinearLR)", check=at_least(0)
    )
    start_factor: float = option(
        1 / 3,
        "the warmup's first multiplier (LinearLR's default 1/3)",
        check=Check("in (0, 1]", lambda v: 0 < v <= 1),
    )
    min_factor: float = option(
        0.0, "cosine, linear: the last multiplier (eta_min / lr)", check=share
    )
    gamma: float | None = option(
        None, "step, exponential: decay factor; null: 0.1 (StepLR)", check=positive
    )
    step_size: int | None = option(
        None, "step: decay every step_size units (StepLR)", check=at_least(1)
    )
    unit: str = option(
        "step",
        "what warmup_steps, step_size and the decay count: optimizer steps or epochs",
        choices=SCHEDULE_UNITS,
    )


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = option("sgd", "update rule, as torch.optim defines it", choices=OPTIMIZERS)
    momentum: float | None = option(
        None,
        "momentum, nesterov, rmsprop; null: 0.9 (rmsprop, adam, adamw: 0)",
        check=in_unit_interval,
    )
    dampening: float = option(0.0, "momentum's dampening (nesterov needs 0)", check=share)
    weight_decay: float | None = option(
        None, "L2 in the gradient; adamw: decoupled; null: 0 (adamw: 0.01)", check=at_least(0)
    )
    betas: tuple[float, ...] = option((0.9, 0.999), "adam, adamw: [beta1, beta2]")
    eps: float = option(1e-8, "adam, adamw, rmsprop: added outside the square root", check=positive)
    alpha: float = option(0.99, "rmsprop: smoothing of the squared gradients", check=share)
    centered: bool = option(False, "rmsprop: divide by the gradient's variance, not its 2nd moment")
    batch_size: int | None = option(None, "`full` (gradient descent) or a mini-batch size")
    epochs: int = option(100, "passes over the training set", check=at_least(1))
    seeds: tuple[int, ...] = grid_axis((0,), "grid axis: initial weights", check=seed_range)
    dtype: str = option("float32", "training precision", choices=DTYPES)
    loss_reduction: str = option(
        "mean",
        "a batch's loss: mean, or sum (the step is then lr x batch size)",
        choices=LOSS_REDUCTIONS,
    )
    schedule: ScheduleConfig = option(
        ScheduleConfig(), "learning-rate multiplier per step: {kind, warmup_steps, ...}"
    )
    clip_grad_norm: float | None = option(
        None, "clip each run's total gradient norm (clip_grad_norm_); null: off", check=positive
    )

    def __post_init__(self):
        # null means PyTorch's default for the optimizer (kept concrete, so results show it)
        for key, value in _OPTIMIZER_DEFAULTS.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value.get(self.optimizer, value[None]))


# key -> {optimizer: its default when the key is null; None: every other optimizer}
_OPTIMIZER_DEFAULTS = {
    "momentum": {"rmsprop": 0.0, "adam": 0.0, "adamw": 0.0, None: 0.9},
    "weight_decay": {"adamw": 0.01, None: 0.0},
}
# key -> the optimizers that read it (a key given for another optimizer is noted, not an error)
USED_BY = {
    "momentum": ("momentum", "nesterov", "rmsprop"),
    "dampening": ("momentum", "nesterov"),
    "betas": ("adam", "adamw"),
    "eps": ("adam", "adamw", "rmsprop"),
    "alpha": ("rmsprop",),
    "centered": ("rmsprop",),
}

SHARPNESS_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class StabilityConfig:
    sharpness: str = option(
        "auto", "sharpness at init (auto: full-batch runs only)", choices=SHARPNESS_MODES
    )
    samples: int | None = option(
        1024, "training rows it is computed on, at most", check=at_least(1)
    )
    track_every: int | None = option(
        None, "also every N epochs (null: at init only)", check=at_least(1)
    )


def parse_batch_size(v: Any, key: str, ctx: Context) -> int | None:
    if v is None or v == "full":
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        if v >= 1:
            return v
        raise ctx.error(key, f"must be 'full' or an integer >= 1, got {quote(v)}")
    raise ctx.error(key, f"must be 'full' or an integer >= 1, got {describe(v)}")


def _parse_sharpness(v: Any, key: str, ctx: Context) -> str:
    # YAML 1.1 reads a bare `on` / `off` as a boolean: take those as the words they were.
    if isinstance(v, bool):
        v = "on" if v else "off"
    return parse_value(v, str, {"choices": SHARPNESS_MODES}, key, ctx)


def _parse_betas(v: Any, key: str, ctx: Context) -> tuple[float, float]:
    betas = checked(v, tuple[float, ...], in_unit_interval, key, ctx)
    if len(betas) != 2:
        raise ctx.error(key, f"must be two numbers [beta1, beta2], got {describe(v)}")
    return betas


def _parse_schedule(v: Any, key: str, ctx: Context) -> ScheduleConfig:
    sched = load_section(ScheduleConfig, v, key, ctx)
    if sched.kind == "step" and sched.step_size is None:
        raise ctx.error(f"{key}.step_size", "kind: step needs a step_size (StepLR has no default)")
    if sched.kind == "exponential" and sched.gamma is None:
        raise ctx.error(f"{key}.gamma", "kind: exponential needs a gamma (ExponentialLR's factor)")
    if sched.gamma is None and sched.kind == "step":
        sched = dataclasses.replace(sched, gamma=0.1)
    for k, kinds in (("gamma", ("step", "exponential")), ("step_size", ("step",))):
        if getattr(sched, k) is not None and sched.kind not in kinds:
            raise ctx.error(
                f"{key}.{k}", f"is read by kind: {' or '.join(kinds)}, not {sched.kind}"
            )
    return sched


PARSERS = {
    ("stability", "sharpness"): _parse_sharpness,
    ("training", "batch_size"): parse_batch_size,
    ("training", "betas"): _parse_betas,
    ("training", "schedule"): _parse_schedule,
}


def check_training(training: TrainingConfig, swept: tuple[str, ...] | None, ctx: Context) -> None:
    """nesterov (trained, or among the ``swept`` optimizers) needs dampening 0."""
    if training.optimizer == "nesterov" or "nesterov" in (swept or ()):
        if training.dampening != 0:
            raise ctx.error(
                "training.dampening",
                f"nesterov needs dampening 0 (as torch.optim.SGD), got {training.dampening:g}",
            )
