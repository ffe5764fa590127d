"""YAML -> frozen dataclasses; every error names the file, the dotted key and what is allowed.

Each option is declared once, as a dataclass field: its default, its one-line meaning and its
check sit on the same line (``checks.option``). One generic loader (``loader``) walks the fields
of a section, so the valid keys of a section are its dataclass fields and nothing else:

* types come from the annotations: ``bool`` is not an ``int``; an ``int`` is fine where a
  ``float`` is expected; a string that spells a number (``1e-4``, which PyYAML leaves a string)
  is a ``float``; a list field also accepts a single value (``scales: 2.0`` means ``[2.0]``);
* ranges and choices come from the field's ``check`` and ``choices``;
* grid axes (``init.scales``, ``training.seeds``, ``sweep.learning_rates``) must be non-empty and
  free of duplicates (a duplicate is an error, not silently dropped: it usually is a typo) and
  are stored sorted ascending, so the grid and its summary read upward.

The modules: ``checks`` (Check, option, grid_axis), ``yaml_file`` (reading YAML safely),
``loader`` (the generic loader), one module per group of sections, each with its dataclasses,
its choices, the parsers of its special options (``PARSERS``) and its checks across options
(``data``; ``model``: model and init; ``training``: training and stability; ``sweep``;
``find``: lints and find), and ``load`` (``Config``, ``SECTIONS`` and the public functions).
Sections are listed in ``load.SECTIONS``; a new section is one dataclass and one entry there
plus a field on ``Config``. The ``classify:`` section is validated from the fields of
``thresholds.Thresholds`` the same way (type from the annotation, default from the field).

Everything is imported from ``lrdiag.config`` as before the split.
"""

from lrdiag.config.checks import (
    GRID_MAX,
    GRID_MIN,
    MAX_GRID_VALUES,
    MAX_SEED,
    THRESHOLD_CHECK,
    THRESHOLD_CHECKS,
    Check,
    at_least,
    grid_axis,
    grid_count,
    grid_positive,
    in_unit_interval,
    option,
    positive,
    seed_range,
    share,
)
from lrdiag.config.data import (
    DATA_KINDS,
    DATA_SUFFIXES,
    PLANAR_KINDS,
    TWO_CLASS_KINDS,
    DataConfig,
    min_samples,
)
from lrdiag.config.find import LINT_IDS, MAX_FIND_STEPS, FindConfig, LintsConfig
from lrdiag.config.load import (
    SECTIONS,
    SPECIAL_PARSERS,
    TOP_LEVEL_KEYS,
    Config,
    config_from_dict,
    config_to_dict,
    load_config,
    load_thresholds,
    option_help,
    thresholds_from_dict,
)
from lrdiag.config.loader import jsonable
from lrdiag.config.model import (
    ACTIVATIONS,
    HEADS,
    INIT_FILE,
    INIT_SCHEMES,
    LAYER_KEYS,
    LAYER_REQUIRED,
    LAYER_TYPES,
    LOSSES,
    OUTPUTS,
    PADDINGS,
    STRIDES,
    InitConfig,
    LayerConfig,
    ModelConfig,
    layer_to_dict,
)
from lrdiag.config.sweep import AXIS_OFF, COMPARE_AXES, SweepConfig, log_spaced
from lrdiag.config.training import (
    DTYPES,
    LOSS_REDUCTIONS,
    OPTIMIZERS,
    SCHEDULE_KINDS,
    SCHEDULE_UNITS,
    SHARPNESS_MODES,
    USED_BY,
    ScheduleConfig,
    StabilityConfig,
    TrainingConfig,
)
from lrdiag.config.yaml_file import MAX_CONFIG_BYTES, MAX_YAML_VALUES, read_yaml
from lrdiag.files import EXTRA_AXES
from lrdiag.thresholds import Thresholds

__all__ = [
    "ACTIVATIONS",
    "AXIS_OFF",
    "COMPARE_AXES",
    "DATA_KINDS",
    "DATA_SUFFIXES",
    "DTYPES",
    "EXTRA_AXES",
    "GRID_MAX",
    "GRID_MIN",
    "HEADS",
    "INIT_FILE",
    "INIT_SCHEMES",
    "LAYER_KEYS",
    "LAYER_REQUIRED",
    "LAYER_TYPES",
    "LINT_IDS",
    "LOSSES",
    "LOSS_REDUCTIONS",
    "MAX_CONFIG_BYTES",
    "MAX_FIND_STEPS",
    "MAX_GRID_VALUES",
    "MAX_SEED",
    "MAX_YAML_VALUES",
    "OPTIMIZERS",
    "OUTPUTS",
    "PADDINGS",
    "PLANAR_KINDS",
    "SCHEDULE_KINDS",
    "SCHEDULE_UNITS",
    "SECTIONS",
    "SHARPNESS_MODES",
    "SPECIAL_PARSERS",
    "STRIDES",
    "THRESHOLD_CHECK",
    "THRESHOLD_CHECKS",
    "TOP_LEVEL_KEYS",
    "TWO_CLASS_KINDS",
    "USED_BY",
    "Check",
    "Config",
    "DataConfig",
    "FindConfig",
    "InitConfig",
    "LayerConfig",
    "LintsConfig",
    "ModelConfig",
    "ScheduleConfig",
    "StabilityConfig",
    "SweepConfig",
    "Thresholds",
    "TrainingConfig",
    "at_least",
    "config_from_dict",
    "config_to_dict",
    "grid_axis",
    "grid_count",
    "grid_positive",
    "in_unit_interval",
    "jsonable",
    "layer_to_dict",
    "load_config",
    "load_thresholds",
    "log_spaced",
    "min_samples",
    "option",
    "option_help",
    "positive",
    "read_yaml",
    "seed_range",
    "share",
    "thresholds_from_dict",
]
