"""YAML -> frozen dataclasses; every error names the file, the dotted key and what is allowed.

Each option is declared once, as a dataclass field: its default, its one-line meaning and its
check sit on the same line (``_opt``). One generic loader walks the fields of a section, so the
valid keys of a section are its dataclass fields and nothing else:

* types come from the annotations: ``bool`` is not an ``int``; an ``int`` is fine where a
  ``float`` is expected; a string that spells a number (``1e-4``, which PyYAML leaves a string)
  is a ``float``; a list field also accepts a single value (``scales: 2.0`` means ``[2.0]``);
* ranges and choices come from the field's ``check`` and ``choices``;
* grid axes (``init.scales``, ``training.seeds``, ``sweep.learning_rates``) must be non-empty and
  free of duplicates (a duplicate is an error, not silently dropped: it usually is a typo) and
  are stored sorted ascending, so the grid and its summary read upward.

Sections are listed in ``SECTIONS``; a new section is one dataclass and one entry there plus a
field on ``Config``. The ``classify:`` section is validated from the fields of
``classify.Thresholds`` the same way (type from the annotation, default from the field).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lrdiag.errors import ConfigError, printable, quote
from lrdiag.files import EXTRA_AXES
from lrdiag.thresholds import Thresholds

# --- the valid choices -------------------------------------------------------------------------
# One place each. ACTIVATIONS, OUTPUTS, LOSSES, INIT_SCHEMES and HEADS must equal the keys of
# lrdiag.model's registries (ACTIVATIONS, INIT_SCHEMES, HEADS), OPTIMIZERS the keys of
# lrdiag.optim.OPTIMIZERS, DATA_KINDS the keys of lrdiag.data.GENERATORS and BUNDLED plus "file";
# tests assert the equality once those registries exist.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity")
LOSSES = ("bce", "cross_entropy", "mse")
HEADS = (
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("identity", "mse"),
    ("sigmoid", "mse"),
    ("sigmoid", "cross_entropy"),  # what tf.keras computes: softmax cross-entropy of the logits
)
INIT_SCHEMES = ("uniform01", "normal", "xavier", "he", "lecun")
INIT_FILE = "file"  # init.scheme: the weights in init.path (lrdiag.weights)
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
DTYPES = ("float32", "float64")
LOSS_REDUCTIONS = ("mean", "sum")
DATA_KINDS = ("blobs", "moons", "circles", "spirals", "xor", "linear", "digits", "file")
DATA_SUFFIXES = (".npz", ".csv")  # what kind: file reads
LAYER_TYPES = ("conv2d", "maxpool", "avgpool", "flatten", "dense")  # model.layers[i].type
PADDINGS = ("valid", "same")  # conv2d padding (lrdiag.layers.conv_geometry)
STRIDES = (1, 2)

# Synthetic kinds with a fixed geometry: two features, two classes.
PLANAR_KINDS = ("moons", "circles", "spirals", "xor")
TWO_CLASS_KINDS = ("moons", "circles", "xor")


# --- checks: what a value must be, in words and as a predicate -----------------------------------
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


def _opt(default: Any, help: str, *, check: Check | None = None, choices: tuple = ()) -> Any:
    """A config option: default, one-line meaning, and its check or choices."""
    return field(default=default, metadata={"help": help, "check": check, "choices": choices})


def _grid(default: tuple, help: str, *, check: Check) -> Any:
    """A grid axis: a non-empty list without duplicates, stored sorted ascending."""
    meta = {"help": help, "check": check, "choices": (), "grid": True}
    return field(default=default, metadata=meta)


# --- the sections ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataConfig:
    kind: str = _opt(
        "moons", "synthetic generator, 'digits' (bundled) or 'file'", choices=DATA_KINDS
    )
    n_samples: int = _opt(1000, "samples generated (synthetic kinds)", check=at_least(1))
    noise: float = _opt(0.1, "std of the Gaussian noise added (synthetic kinds)", check=at_least(0))
    n_features: int = _opt(2, "input features (blobs, linear; others are 2-D)", check=at_least(1))
    n_classes: int = _opt(2, "classes (blobs, spirals; others have 2)", check=at_least(2))
    path: str | None = _opt(None, "kind: file: .npz (arrays X, y) or .csv, relative to the config")
    target: str | None = _opt(None, "kind: file: the .csv column (default: last) or .npz array (y)")
    scale: float = _opt(
        1.0, "multiplies the inputs after loading (255/16: digits as 0..255)", check=positive
    )
    standardize: bool = _opt(False, "zero mean, unit variance per feature (train part's stats)")
    validation_split: float = _opt(0.0, "fraction held out for validation", check=in_unit_interval)
    seed: int = _opt(0, "seed of the generator and of the validation shuffle", check=at_least(0))


@dataclass(frozen=True)
class LayerConfig:
    """One entry of ``model.layers``; LAYER_KEYS says which keys each type takes."""

    type: str = _opt("dense", "the layer", choices=LAYER_TYPES)
    filters: int | None = _opt(None, "conv2d: output channels", check=at_least(1))
    kernel: int | None = _opt(None, "conv2d: kernel height and width", check=at_least(1))
    stride: int = _opt(1, "conv2d: step between patches", choices=STRIDES)
    padding: str = _opt(
        "valid", "conv2d: valid, or same (output ceil(size / stride))", choices=PADDINGS
    )
    size: int = _opt(2, "maxpool, avgpool: window and stride", check=at_least(1))
    units: int | None = _opt(None, "dense: width", check=at_least(1))
    activation: str | None = _opt(
        None, "conv2d, dense (default model.activation)", choices=ACTIVATIONS
    )


# The keys each layer type takes, and those it needs.
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "conv2d": ("type", "filters", "kernel", "stride", "padding", "activation"),
    "maxpool": ("type", "size"),
    "avgpool": ("type", "size"),
    "flatten": ("type",),
    "dense": ("type", "units", "activation"),
}
LAYER_REQUIRED: dict[str, tuple[str, ...]] = {"conv2d": ("filters", "kernel"), "dense": ("units",)}


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = _opt((128, 64), "hidden widths; [] = linear", check=at_least(1))
    layers: tuple[LayerConfig, ...] | None = _opt(
        None, "instead of hidden: conv2d, maxpool, avgpool, flatten, dense (docs/layers.md)"
    )
    activation: str = _opt("tanh", "hidden activation", choices=ACTIVATIONS)
    output: str = _opt("sigmoid", "output layer", choices=OUTPUTS)
    loss: str = _opt(
        "bce",
        f"loss; valid output/loss pairs: {', '.join(f'{o}+{loss}' for o, loss in HEADS)}",
        choices=LOSSES,
    )


@dataclass(frozen=True)
class InitConfig:
    scheme: str | tuple[str, ...] = _opt(
        "normal",
        "weight distribution, a list (one per weight matrix), or `file` (init.path)",
        choices=(*INIT_SCHEMES, INIT_FILE),
    )
    path: str | None = _opt(None, "scheme: file: an .npz of W1, b1, W2, ... relative to the config")
    scales: tuple[float, ...] = _grid((1.0,), "grid axis: weight multiplier", check=grid_positive)


SCHEDULE_KINDS = ("constant", "step", "exponential", "cosine", "linear")
SCHEDULE_UNITS = ("step", "epoch")


@dataclass(frozen=True)
class ScheduleConfig:
    kind: str = _opt(
        "constant", "decay after the warmup (torch.optim.lr_scheduler)", choices=SCHEDULE_KINDS
    )
    warmup_steps: int = _opt(
        0, "linear warmup from start_factor x lr (LinearLR)", check=at_least(0)
    )
    start_factor: float = _opt(
        1 / 3,
        "the warmup's first multiplier (LinearLR's default 1/3)",
        check=Check("in (0, 1]", lambda v: 0 < v <= 1),
    )
    min_factor: float = _opt(0.0, "cosine, linear: the last multiplier (eta_min / lr)", check=share)
    gamma: float | None = _opt(
        None, "step, exponential: decay factor; null: 0.1 (StepLR)", check=positive
    )
    step_size: int | None = _opt(
        None, "step: decay every step_size units (StepLR)", check=at_least(1)
    )
    unit: str = _opt(
        "step",
        "what warmup_steps, step_size and the decay count: optimizer steps or epochs",
        choices=SCHEDULE_UNITS,
    )


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = _opt("sgd", "update rule, as torch.optim defines it", choices=OPTIMIZERS)
    momentum: float | None = _opt(
        None,
        "momentum, nesterov, rmsprop; null: 0.9 (rmsprop, adam, adamw: 0)",
        check=in_unit_interval,
    )
    dampening: float = _opt(0.0, "momentum's dampening (nesterov needs 0)", check=share)
    weight_decay: float | None = _opt(
        None, "L2 in the gradient; adamw: decoupled; null: 0 (adamw: 0.01)", check=at_least(0)
    )
    betas: tuple[float, ...] = _opt((0.9, 0.999), "adam, adamw: [beta1, beta2]")
    eps: float = _opt(1e-8, "adam, adamw, rmsprop: added outside the square root", check=positive)
    alpha: float = _opt(0.99, "rmsprop: smoothing of the squared gradients", check=share)
    centered: bool = _opt(False, "rmsprop: divide by the gradient's variance, not its 2nd moment")
    batch_size: int | None = _opt(None, "`full` (gradient descent) or a mini-batch size")
    epochs: int = _opt(100, "passes over the training set", check=at_least(1))
    seeds: tuple[int, ...] = _grid((0,), "grid axis: initial weights", check=seed_range)
    dtype: str = _opt("float32", "training precision", choices=DTYPES)
    loss_reduction: str = _opt(
        "mean",
        "a batch's loss: mean, or sum (the step is then lr x batch size)",
        choices=LOSS_REDUCTIONS,
    )
    schedule: ScheduleConfig = _opt(
        ScheduleConfig(), "learning-rate multiplier per step: {kind, warmup_steps, ...}"
    )
    clip_grad_norm: float | None = _opt(
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


@dataclass(frozen=True)
class SweepConfig:
    # a list, or {min, max, num}: num values log-spaced from min to max, both ends included
    learning_rates: tuple[float, ...] = _grid(
        (0.01, 0.1, 1.0),
        "grid axis: a list, or `{min, max, num}` log-spaced",
        check=grid_positive,
    )
    # More grid axes (issue 15): each replaces the training key of its name for its runs.
    optimizer: tuple[str, ...] | None = _opt(None, "grid axis: training.optimizer values")
    momentum: tuple[float, ...] | None = _opt(None, "grid axis: training.momentum values")
    weight_decay: tuple[float, ...] | None = _opt(None, "grid axis: training.weight_decay values")
    warmup_steps: tuple[int, ...] | None = _opt(
        None, "grid axis: training.schedule.warmup_steps values"
    )
    clip_grad_norm: tuple[float | None, ...] | None = _opt(
        None, "grid axis: training.clip_grad_norm values (null: off)"
    )
    batch_size: tuple[int | None, ...] | None = _opt(
        None, "grid axis: training.batch_size values (`full` or a size)"
    )
    compare: str | None = _opt(
        None, "the second axis of the summary, table and phase map (null: init_scale)"
    )


# The grid axes beside learning_rates, init.scales and training.seeds, in the order the grid
# nests them (outermost first); optimizer and batch_size train group by group, the others as
# per-run arrays in one loop.
# (defined in the leaf files.py, whose CSV writer names them too)
COMPARE_AXES = ("init_scale", "seed", *EXTRA_AXES)
# compare: the value an axis has "without" it (the summary's "(1e-3 without)")
AXIS_OFF = {"momentum": 0.0, "weight_decay": 0.0, "warmup_steps": 0, "clip_grad_norm": None}


SHARPNESS_MODES = ("auto", "on", "off")
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
class StabilityConfig:
    sharpness: str = _opt(
        "auto", "sharpness at init (auto: full-batch runs only)", choices=SHARPNESS_MODES
    )
    samples: int | None = _opt(1024, "training rows it is computed on, at most", check=at_least(1))
    track_every: int | None = _opt(
        None, "also every N epochs (null: at init only)", check=at_least(1)
    )


# The LR range test (`lrdiag find`): fastai's defaults (Learner.lr_find, LRFinder, AvgSmoothLoss).
MAX_FIND_STEPS = 100_000  # a ramp is a few hundred steps; more is a typo, not a test


@dataclass(frozen=True)
class FindConfig:
    min: float = _opt(1e-7, "first learning rate of the exponential ramp", check=grid_positive)
    max: float = _opt(10.0, "the ramp's end: lr_i = min (max/min)^(i/steps)", check=grid_positive)
    steps: int = _opt(
        100,
        "steps of the ramp, one batch each (fastai: at least 6)",
        check=Check(f"in [6, {MAX_FIND_STEPS}]", lambda v: 6 <= v <= MAX_FIND_STEPS),
    )
    beta: float = _opt(
        0.98, "smoothing of the loss (bias-corrected moving average)", check=in_unit_interval
    )
    stop_factor: float | None = _opt(
        4.0,
        "a seed stops once its smoothed loss exceeds this x its best (null: never)",
        check=Check("> 1", lambda v: v > 1),
    )
    sweep_margin: float = _opt(
        3.0,
        "the short sweep spans the lowest suggestion / this to the ramp's reach x this",
        check=at_least(1),
    )
    sweep_per_decade: int = _opt(
        5,
        "learning rates per decade in the short sweep",
        check=Check("in [1, 100]", lambda v: 1 <= v <= 100),
    )


@dataclass(frozen=True)
class LintsConfig:
    ignore: tuple[str, ...] = _opt(
        (), "a list of lint ids neither printed nor written (docs/lints.md)", choices=LINT_IDS
    )


@dataclass(frozen=True)
class Config:
    name: str = "config"  # the file's stem when loaded from a file
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    classify: Thresholds = field(default_factory=Thresholds)
    stability: StabilityConfig = field(default_factory=StabilityConfig)
    lints: LintsConfig = field(default_factory=LintsConfig)
    find: FindConfig = field(default_factory=FindConfig)
    source: str | None = None  # the config file, if any (not a config key)
    # worth knowing, not errors (printed on stderr by the CLI; not a config key)
    notes: tuple[str, ...] = field(default=(), compare=False)
    # the training keys the file gave (not a config key): a sweep over optimizers gives each
    # optimizer its own default momentum and weight_decay where the file gave none
    given: tuple[str, ...] = field(default=(), compare=False)


# The table of sections: top-level key -> dataclass. Add a section here (and on Config).
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "init": InitConfig,
    "training": TrainingConfig,
    "sweep": SweepConfig,
    "classify": Thresholds,
    "stability": StabilityConfig,
    "lints": LintsConfig,
    "find": FindConfig,
}
TOP_LEVEL_KEYS = ("name", *SECTIONS)


# --- public API --------------------------------------------------------------------------------
def load_config(path: str | os.PathLike) -> Config:
    """Read a YAML config file. Relative data paths are resolved against its directory."""
    file = str(path)
    d = read_yaml(path, "config file")
    if d is None:
        raise ConfigError("the config file is empty", file=file)
    return config_from_dict(d, file=file, base_dir=Path(path).parent)


# A config is a page of YAML: more than this is not one (/dev/zero, a data file named by mistake).
MAX_CONFIG_BYTES = 1024**2
# Values a YAML document may build, aliases counted at every use: a few hundred bytes of nested
# aliases ("billion laughs") would otherwise expand to gigabytes before any check ran.
MAX_YAML_VALUES = 100_000


def read_yaml(path: str | os.PathLike, what: str = "file") -> Any:
    """The YAML document in ``path`` (SafeLoader, duplicate keys rejected), read with size caps:
    at most MAX_CONFIG_BYTES of text and MAX_YAML_VALUES values, aliases expanded. ConfigError
    (naming the file, and the line where YAML can tell) for anything else."""
    file = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=file) from None
    except OSError as e:
        raise ConfigError(f"cannot read the {what}: {e.strerror or e}", file=file) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"the {what} is larger than {MAX_CONFIG_BYTES // 1024**2} MiB: not a config", file=file
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"cannot read the {what}: not UTF-8 text ({e.reason})", file=file
        ) from None
    loader = None
    try:
        loader = _StrictLoader(text)  # its reader already refuses some characters
        node = loader.get_single_node()
        if node is None:
            return None
        _count_values(node, file)
        return loader.construct_document(node)
    except ValueError as e:  # an integer of 5000 digits: past Python's conversion limit
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{line}invalid YAML: {e.problem or e}", file=file) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


def _count_values(root: yaml.Node, file: str) -> None:
    """Refuse a document whose values, counting an alias's at every use, exceed MAX_YAML_VALUES
    or refer to themselves; counted on the node graph (an alias is the node it names), so the
    count itself costs one visit per node."""
    sizes: dict[int, int] = {}
    pending: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in pending:
            mark = node.start_mark
            raise ConfigError(
                f"line {mark.line + 1}: invalid YAML: an alias refers to the value it is in",
                file=file,
            )
        pending.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        pending.discard(key)
        if total > MAX_YAML_VALUES:
            raise ConfigError(
                f"line {node.start_mark.line + 1}: invalid YAML: its aliases expand to more "
                f"than {MAX_YAML_VALUES:,} values",
                file=file,
            )
        sizes[key] = total
        return total

    size(root)


def config_from_dict(
    d: Mapping, *, file: str | os.PathLike | None = None, base_dir: str | os.PathLike | None = None
) -> Config:
    """Build a Config from a mapping (a parsed YAML document). ``file`` names the source in
    errors and gives the default ``name``; ``base_dir`` anchors a relative ``data.path``
    (default: the current directory)."""
    file = None if file is None else str(file)
    if not isinstance(d, Mapping):
        raise ConfigError(
            f"the top level must be a mapping of sections ({', '.join(TOP_LEVEL_KEYS)}), "
            f"got {_describe(d)}",
            file=file,
        )
    _reject_unknown(d, TOP_LEVEL_KEYS, "", file)
    ctx = _Context(file, Path(base_dir) if base_dir is not None else None)
    sections = {name: _load_section(cls, d.get(name), name, ctx) for name, cls in SECTIONS.items()}
    default_name = Path(file).stem if file else Config.name
    name = _parse_name(d.get("name", default_name), ctx)
    cfg = Config(name=name, **sections, source=file)
    _check_across(cfg, ctx)
    if cfg.model.layers is not None:  # layers replace hidden: the MLP's widths are not used
        widths = (d.get("model") or {}).get("hidden")
        if widths:
            raise ctx.error(
                "model.hidden", "give model.layers or model.hidden (the MLP's widths), not both"
            )
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, hidden=()))
    training = d.get("training")
    given = tuple(training) if isinstance(training, Mapping) else ()
    return dataclasses.replace(cfg, notes=_notes(cfg, d), given=given)


def _notes(cfg: Config, d: Mapping) -> tuple[str, ...]:
    """Options given that this config does not use (allowed: the issue's own example sets
    momentum beside optimizer: sgd), so that a user who meant them to act hears of it."""
    training = d.get("training") or {}
    if not isinstance(training, Mapping):
        return ()
    opts = cfg.sweep.optimizer or (cfg.training.optimizer,)
    return tuple(
        f"training.{key} ({_jsonable(getattr(cfg.training, key))}) is unused with optimizer: "
        f"{', '.join(opts)} (read by optimizer: {', '.join(USED_BY[key])})"
        for key in USED_BY
        if key in training and not set(opts) & set(USED_BY[key])
    )


def config_to_dict(cfg: Config) -> dict:
    """A JSON-able dict of every option (learning rates as an explicit list, full batch as
    'full') that ``config_from_dict`` reads back to an equal Config (``source`` aside)."""
    out: dict[str, Any] = {"name": cfg.name}
    for name in SECTIONS:
        section = getattr(cfg, name)
        out[name] = {
            f.name: _jsonable(getattr(section, f.name)) for f in dataclasses.fields(section)
        }
    if out["training"]["batch_size"] is None:
        out["training"]["batch_size"] = "full"
    if cfg.model.layers is not None:
        out["model"]["layers"] = [layer_to_dict(c) for c in cfg.model.layers]
    return out


def option_help(cls: type) -> dict[str, str]:
    """Each option of a section -> its one-line meaning (for docs and --help)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def thresholds_from_dict(
    d: Any, *, file: str | os.PathLike | None = None, key: str = "classify"
) -> Thresholds:
    """A ``classify:`` section (a mapping; None = the defaults) -> Thresholds; ``key`` is the
    section's dotted path in errors (``config.classify`` inside a results.json)."""
    return _load_section(Thresholds, d, key, _Context(None if file is None else str(file), None))


def load_thresholds(path: str | os.PathLike) -> Thresholds:
    """The ``classify:`` section of a YAML file: a sweep config (only that section is read; a
    config without one gives the defaults) or a file holding only ``classify:``."""
    file = str(path)
    d = read_yaml(path, "file")
    if not isinstance(d, Mapping):
        got = "nothing (the file is empty)" if d is None else _describe(d)
        raise ConfigError(f"expected a mapping with a classify: section, got {got}", file=file)
    stray = [k for k in d if k in Thresholds.__dataclass_fields__]
    if stray:
        raise ConfigError(
            f"thresholds go under a 'classify:' section, not at the top level ({quote(stray[0])})",
            file=file,
            key=str(stray[0]),
        )
    _reject_unknown(d, TOP_LEVEL_KEYS, "", file)
    return thresholds_from_dict(d.get("classify"), file=file)


# --- the generic loader ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    file: str | None
    base_dir: Path | None

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=key)


# Options whose value is not read from the annotation alone: (section, key) -> parser.
def _parse_batch_size(v: Any, key: str, ctx: _Context) -> int | None:
    if v is None or v == "full":
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        if v >= 1:
            return v
        raise ctx.error(key, f"must be 'full' or an integer >= 1, got {quote(v)}")
    raise ctx.error(key, f"must be 'full' or an integer >= 1, got {_describe(v)}")


def _parse_learning_rates(v: Any, key: str, ctx: _Context) -> tuple[float, ...]:
    if not isinstance(v, Mapping):
        return _parse_grid(v, float, grid_positive, key, ctx)
    allowed = ("min", "max", "num")
    _reject_unknown(v, allowed, key, ctx.file)
    missing = [k for k in allowed if k not in v]
    if missing:
        raise ctx.error(
            key, f"a log-spaced range needs min, max and num; missing {', '.join(missing)}"
        )
    lo = _checked(v["min"], float, grid_positive, f"{key}.min", ctx)
    hi = _checked(v["max"], float, grid_positive, f"{key}.max", ctx)
    num = _checked(v["num"], int, grid_count, f"{key}.num", ctx)
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


def _parse_path(
    v: Any, key: str, ctx: _Context, suffixes: tuple[str, ...] = DATA_SUFFIXES, what: str = "data"
) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise ctx.error(key, f"must be a file path (string), got {_describe(v)}")
    p = Path(v).expanduser()
    if not p.is_absolute():
        p = (ctx.base_dir or Path.cwd()) / p
    p = Path(os.path.abspath(p))
    if p.suffix.lower() not in suffixes:
        raise ctx.error(key, f"{quote(v)}: unsupported file type; allowed: {', '.join(suffixes)}")
    if not p.is_file():
        raise ctx.error(key, f"{what} file not found: {p}")
    return str(p)


def _parse_init_path(v: Any, key: str, ctx: _Context) -> str | None:
    return _parse_path(v, key, ctx, (".npz",), "initial weights")


def _parse_sharpness(v: Any, key: str, ctx: _Context) -> str:
    # YAML 1.1 reads a bare `on` / `off` as a boolean: take those as the words they were.
    if isinstance(v, bool):
        v = "on" if v else "off"
    return _parse_value(v, str, {"choices": SHARPNESS_MODES}, key, ctx)


def _parse_scheme(v: Any, key: str, ctx: _Context) -> str | tuple[str, ...]:
    """One scheme for every weight matrix, or a non-empty list of them (one per matrix)."""
    if v == INIT_FILE:
        return v
    values = v if isinstance(v, list) else [v]
    if not values:
        raise ctx.error(key, "an empty list: give a scheme, or one per weight matrix")
    for item in values:
        if not isinstance(item, str) or item not in INIT_SCHEMES:
            raise ctx.error(key, _not_a_choice(item, INIT_SCHEMES))
    return tuple(values) if isinstance(v, list) else v


def _parse_layers(v: Any, key: str, ctx: _Context) -> tuple[LayerConfig, ...] | None:
    """A non-empty list of layer mappings, each with a ``type`` and that type's keys."""
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        raise ctx.error(key, f"must be a non-empty list of layers, got {_describe(v)}")
    out = []
    for i, item in enumerate(v):
        where = f"{key}[{i}]"
        if not isinstance(item, Mapping):
            raise ctx.error(
                where, f"must be a mapping such as {{type: flatten}}, got {_describe(item)}"
            )
        kind = item.get("type")
        if kind is None:
            raise ctx.error(where, f"needs a type: one of {', '.join(LAYER_TYPES)}")
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            raise ctx.error(f"{where}.type", _not_a_choice(kind, LAYER_TYPES))
        _reject_unknown(item, LAYER_KEYS[kind], where, ctx.file)
        missing = [k for k in LAYER_REQUIRED.get(kind, ()) if k not in item]
        if missing:
            raise ctx.error(where, f"{kind} needs {' and '.join(missing)}")
        out.append(_load_section(LayerConfig, item, where, ctx))
    return tuple(out)


def _parse_betas(v: Any, key: str, ctx: _Context) -> tuple[float, float]:
    betas = _checked(v, tuple[float, ...], in_unit_interval, key, ctx)
    if len(betas) != 2:
        raise ctx.error(key, f"must be two numbers [beta1, beta2], got {_describe(v)}")
    return betas


def _parse_schedule(v: Any, key: str, ctx: _Context) -> ScheduleConfig:
    sched = _load_section(ScheduleConfig, v, key, ctx)
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


def _parse_ignore(v: Any, key: str, ctx: _Context) -> tuple[str, ...]:
    values = v if isinstance(v, list) else [v]
    for item in values:
        if not isinstance(item, str) or item not in LINT_IDS:
            raise ctx.error(key, _not_a_choice(item, LINT_IDS))
    return tuple(dict.fromkeys(values))


def _axis(elem: type, check: Check | None = None, choices: tuple = (), nullable: bool = False):
    """A parser for a sweep axis: a non-empty list without duplicates, stored sorted (strings
    in their given order; null, where allowed, first)."""

    def parse(v: Any, key: str, ctx: _Context) -> tuple | None:
        if v is None:
            return None
        items = v if isinstance(v, list) else [v]
        if not items:
            raise ctx.error(key, "must not be empty")
        values: list[Any] = []
        for i, x in enumerate(items):
            where = f"{key}[{i}]"
            if x is None and nullable:
                values.append(None)
                continue
            x = _parse_value(x, elem, {"check": check, "choices": choices}, where, ctx)
            if x in values:
                raise ctx.error(
                    where, f"duplicate value {quote(x)}; each grid value must appear once"
                )
            values.append(x)
        if elem is str:
            return tuple(values)
        return tuple(sorted(values, key=lambda x: (x is not None, x if x is not None else 0)))

    return parse


def _parse_batch_axis(v: Any, key: str, ctx: _Context) -> tuple | None:
    if v is None:
        return None
    items = v if isinstance(v, list) else [v]
    if not items:
        raise ctx.error(key, "must not be empty")
    values = []
    for i, x in enumerate(items):
        b = _parse_batch_size(x, f"{key}[{i}]", ctx)
        if b in values:
            raise ctx.error(
                f"{key}[{i}]", f"duplicate value {quote(x)}; each grid value must appear once"
            )
        values.append(b)
    return tuple(sorted(values, key=lambda b: math.inf if b is None else b))  # full: the largest


SPECIAL_PARSERS: dict[tuple[str, str], Callable[[Any, str, _Context], Any]] = {
    ("model", "layers"): _parse_layers,
    ("init", "scheme"): _parse_scheme,
    ("init", "path"): _parse_init_path,
    ("stability", "sharpness"): _parse_sharpness,
    ("training", "batch_size"): _parse_batch_size,
    ("training", "betas"): _parse_betas,
    ("training", "schedule"): _parse_schedule,
    ("sweep", "learning_rates"): _parse_learning_rates,
    ("sweep", "optimizer"): _axis(str, choices=OPTIMIZERS),
    ("sweep", "momentum"): _axis(float, in_unit_interval),
    ("sweep", "weight_decay"): _axis(float, at_least(0)),
    ("sweep", "warmup_steps"): _axis(int, at_least(0)),
    ("sweep", "clip_grad_norm"): _axis(float, positive, nullable=True),
    ("sweep", "batch_size"): _parse_batch_axis,
    ("sweep", "compare"): lambda v, key, ctx: _parse_value(
        v, str | None, {"choices": (None, *COMPARE_AXES)}, key, ctx
    ),
    ("data", "path"): _parse_path,
    ("lints", "ignore"): _parse_ignore,
}


def _load_section(cls: type, d: Any, name: str, ctx: _Context) -> Any:
    if d is None:  # `data:` with nothing under it
        d = {}
    if not isinstance(d, Mapping):
        raise ctx.error(name, f"must be a mapping of options, got {_describe(d)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(d, tuple(fields), name, ctx.file)
    hints = typing.get_type_hints(cls)
    values = {}
    for key, v in d.items():
        f, dotted = fields[key], f"{name}.{key}"
        meta: Mapping[str, Any] = f.metadata
        if cls is Thresholds:
            meta = {**meta, "check": THRESHOLD_CHECKS.get(key, THRESHOLD_CHECK)}
        special = SPECIAL_PARSERS.get((name, key))
        if special is not None:
            values[key] = special(v, dotted, ctx)
        elif f.metadata.get("grid"):
            (elem,) = {a for a in typing.get_args(hints[key]) if a is not Ellipsis}
            values[key] = _parse_grid(v, elem, f.metadata.get("check"), dotted, ctx)
        else:
            values[key] = _parse_value(v, hints[key], meta, dotted, ctx)
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:  # a section's own __post_init__ check
        raise ctx.error(name, str(e)) from None


def _parse_value(v: Any, tp: Any, meta: Mapping, key: str, ctx: _Context) -> Any:
    v = _checked(v, tp, meta.get("check"), key, ctx)
    choices = meta.get("choices") or ()
    if choices and v not in choices:
        raise ctx.error(key, _not_a_choice(v, choices))
    return v


def _parse_grid(v: Any, elem: type, check: Check | None, key: str, ctx: _Context) -> tuple:
    # the annotation is built at run time from the field's: tuple[float, ...], tuple[int, ...]
    values = _checked(v, tuple.__class_getitem__((elem, ...)), check, key, ctx)
    if not values:
        raise ctx.error(key, "must not be empty")
    seen = set()
    for i, x in enumerate(values):
        if x in seen:
            raise ctx.error(
                f"{key}[{i}]", f"duplicate value {quote(x)}; each grid value must appear once"
            )
        seen.add(x)
    return tuple(sorted(values))


def _checked(v: Any, tp: Any, check: Check | None, key: str, ctx: _Context) -> Any:
    """``v`` converted to the annotation ``tp``, each scalar in it passing ``check``."""
    v = _convert(v, tp, key, ctx, check)
    for i, x in enumerate(v) if isinstance(v, tuple) else [(None, v)]:
        if check is not None and x is not None and not check.ok(x):
            where = key if i is None else f"{key}[{i}]"
            raise ctx.error(where, f"must be {check.allowed}, got {quote(x)}")
    return v


_NUMBER = re.compile(r"[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _convert(v: Any, tp: Any, key: str, ctx: _Context, check: Check | None = None) -> Any:
    """Check ``v`` against the annotation ``tp`` and convert it (int -> float, list -> tuple)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(v, inner, key, ctx, check)
    if origin is tuple:
        elem = args[0]
        items = list(v) if isinstance(v, list | tuple) else [v]
        return tuple(_convert(x, elem, f"{key}[{i}]", ctx, check) for i, x in enumerate(items))
    allowed = f" {check.allowed}" if check is not None else ""
    if tp is bool:
        if isinstance(v, bool):
            return v
        raise ctx.error(key, f"must be true or false, got {_describe(v)}")
    if tp is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise ctx.error(key, f"must be an integer{allowed}, got {_describe(v)}")
    if tp is float:
        x = None
        if isinstance(v, int | float) and not isinstance(v, bool):
            x = float(v)
        elif isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
            x = float(v.strip().replace("_", ""))  # YAML reads 1e-4 as a string
        if x is None:
            raise ctx.error(key, f"must be a number{allowed}, got {_describe(v)}")
        if not math.isfinite(x):
            raise ctx.error(key, f"must be a finite number, got {quote(v)}")
        return x
    if tp is str:
        if isinstance(v, str):
            return v
        raise ctx.error(key, f"must be a string, got {_describe(v)}")
    raise ctx.error(key, f"cannot read an option of type {tp}")  # a new field's type: extend here


def _parse_name(v: Any, ctx: _Context) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ctx.error("name", f"must be a non-empty string, got {_describe(v)}")
    if printable(v) != v:  # it names a directory, printed and written as it is
        raise ctx.error("name", f"{quote(v)} holds control characters (escape codes, newlines)")
    if any(c in v for c in "/\\\0") or v in (".", ".."):
        raise ctx.error("name", f"{quote(v)} names an output directory: no '/', '\\', '.' or '..'")
    return v


# --- checks across options ---------------------------------------------------------------------
def min_samples(data: DataConfig) -> int:
    """The fewest samples a synthetic kind can be generated with (one per class, four for xor)."""
    return {"blobs": data.n_classes, "spirals": data.n_classes, "xor": 4}.get(
        data.kind, 2 if data.kind in TWO_CLASS_KINDS else 1
    )


def _check_across(cfg: Config, ctx: _Context) -> None:
    compare = cfg.sweep.compare
    if compare in EXTRA_AXES and getattr(cfg.sweep, compare) is None:
        raise ctx.error(
            "sweep.compare",
            f"{compare!r} is not an axis of this sweep: add sweep.{compare}: [...] or compare "
            "init_scale or seed",
        )
    if cfg.training.optimizer == "nesterov" or "nesterov" in (cfg.sweep.optimizer or ()):
        if cfg.training.dampening != 0:
            raise ctx.error(
                "training.dampening",
                f"nesterov needs dampening 0 (as torch.optim.SGD), got {cfg.training.dampening:g}",
            )
    data, model = cfg.data, cfg.model
    if (model.output, model.loss) not in HEADS:
        pairs = ", ".join(f"{o}+{loss}" for o, loss in HEADS)
        raise ctx.error(
            "model.loss",
            f"output {model.output!r} with loss {model.loss!r} is not a valid pair; "
            f"valid output+loss pairs: {pairs}",
        )
    if not cfg.find.min < cfg.find.max:
        raise ctx.error(
            "find.max", f"must be above find.min ({cfg.find.min:g}), got {cfg.find.max:g}"
        )
    scheme = cfg.init.scheme
    if (scheme == INIT_FILE) != (cfg.init.path is not None):
        if scheme == INIT_FILE:
            raise ctx.error("init.path", "scheme: file needs a path (an .npz of W1, b1, ...)")
        raise ctx.error("init.path", f"is only used with scheme: file (scheme is {scheme!r})")
    if model.layers is not None and scheme == INIT_FILE:
        raise ctx.error(
            "init.scheme",
            "scheme: file reads an MLP's weights (W (in, out)); model.layers cannot start "
            "from a file yet: use he, lecun, xavier, normal or uniform01",
        )
    if model.layers is not None:
        _check_layers(model.layers, ctx)
        n_weights = sum(c.type in ("conv2d", "dense") for c in model.layers) + 1
        makes = f"model.layers make {n_weights} weight matrices and kernels (with the output)"
    else:
        n_weights = len(model.hidden) + 1
        makes = f"model.hidden {list(model.hidden)} makes {n_weights} weight matrices"
    if not isinstance(scheme, str) and len(scheme) != n_weights:
        raise ctx.error(
            "init.scheme",
            f"lists {len(scheme)} schemes, but {makes}: give one scheme per matrix, or one for all",
        )
    if data.kind == "file":
        if data.path is None:
            raise ctx.error("data.path", "kind: file needs a path (.npz or .csv)")
        return
    for key in ("path", "target"):
        if getattr(data, key) is not None:
            raise ctx.error(f"data.{key}", f"is only used with kind: file (kind is {data.kind!r})")
    if data.kind in PLANAR_KINDS and data.n_features != 2:
        raise ctx.error("data.n_features", f"kind {data.kind!r} is 2-D: n_features must be 2")
    if data.kind in TWO_CLASS_KINDS and data.n_classes != 2:
        raise ctx.error("data.n_classes", f"kind {data.kind!r} has 2 classes: n_classes must be 2")
    if data.n_samples < min_samples(data):
        raise ctx.error(
            "data.n_samples",
            f"kind {data.kind!r} needs n_samples >= {min_samples(data)}, got {data.n_samples}",
        )


def _check_layers(layers: tuple[LayerConfig, ...], ctx: _Context) -> None:
    """The order of layers: images (conv2d, pooling) before a flatten, dense after one."""
    flat_at = None  # the first layer whose output is flat
    for i, c in enumerate(layers):
        if c.type in ("flatten", "dense") and flat_at is None:
            flat_at = i
        elif c.type in ("conv2d", "maxpool", "avgpool") and flat_at is not None:
            raise ctx.error(
                f"model.layers[{i}]",
                f"{c.type} takes images, but layer {flat_at} ({layers[flat_at].type}) made "
                "them flat: image layers come before the flatten",
            )
        if c.type == "dense" and i > 0 and layers[i - 1].type in ("conv2d", "maxpool", "avgpool"):
            raise ctx.error(
                f"model.layers[{i}]",
                f"dense after {layers[i - 1].type} needs a {{type: flatten}} between them",
            )
    last = layers[-1].type
    if last in ("conv2d", "maxpool", "avgpool"):
        raise ctx.error(
            f"model.layers[{len(layers) - 1}]",
            f"the layers end with {last} (images): the output layer needs a {{type: flatten}}",
        )


def layer_to_dict(c: LayerConfig) -> dict:
    """The keys of a layer's type only (activation when set): what config_from_dict reads."""
    out = {k: getattr(c, k) for k in LAYER_KEYS[c.type]}
    if out.get("activation", "") is None:
        del out["activation"]
    return out


# --- helpers -----------------------------------------------------------------------------------
def _reject_unknown(d: Mapping, allowed: tuple[str, ...], prefix: str, file: str | None) -> None:
    for k in d:
        if k in allowed:
            continue
        key = f"{prefix}.{k}" if prefix else str(k)
        near = difflib.get_close_matches(str(k), allowed, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        where = f"in {prefix!r}" if prefix else "at the top level"
        raise ConfigError(
            f"unknown key {quote(k)} {where}; {hint}valid keys: {', '.join(allowed)}",
            file=file,
            key=key,
        )


def _not_a_choice(v: Any, choices: tuple) -> str:
    near = difflib.get_close_matches(str(v), [str(c) for c in choices], n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"{quote(v)} is not one of: {', '.join(map(str, choices))}{hint}"


def _describe(v: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(v))
    if v is None:
        return "nothing (null)"
    if isinstance(v, list | tuple):
        kind = "list"
    elif isinstance(v, Mapping):
        kind = "mapping"
    return f"{kind or type(v).__name__} {quote(v)}"


def _jsonable(v: Any) -> Any:
    if dataclasses.is_dataclass(v):
        return {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: a list or mapping as a key
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain name, not a list or mapping", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {quote(key)} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
