"""The whole config: ``Config``, the table of its sections, and loading one from a YAML file
or a mapping (then the checks across sections); ``classify:`` alone for ``lrdiag classify``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrdiag.config import data, find, model, sweep, training
from lrdiag.config.data import DataConfig
from lrdiag.config.find import FindConfig, LintsConfig
from lrdiag.config.loader import Context, Parser, describe, jsonable, load_section, reject_unknown
from lrdiag.config.model import InitConfig, ModelConfig, layer_to_dict
from lrdiag.config.sweep import SweepConfig
from lrdiag.config.training import USED_BY, StabilityConfig, TrainingConfig
from lrdiag.config.yaml_file import read_yaml
from lrdiag.errors import ConfigError, printable, quote
from lrdiag.thresholds import Thresholds


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

# Options whose value is not read from the annotation alone: (section, key) -> parser.
SPECIAL_PARSERS: dict[tuple[str, str], Parser] = {
    **model.PARSERS,
    **training.PARSERS,
    **sweep.PARSERS,
    **data.PARSERS,
    **find.PARSERS,
}


def load_config(path: str | os.PathLike) -> Config:
    """Read a YAML config file. Relative data paths are resolved against its directory."""
    file = str(path)
    d = read_yaml(path, "config file")
    if d is None:
        raise ConfigError("the config file is empty", file=file)
    return config_from_dict(d, file=file, base_dir=Path(path).parent)


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
            f"got {describe(d)}",
            file=file,
        )
    reject_unknown(d, TOP_LEVEL_KEYS, "", file)
    ctx = Context(file, Path(base_dir) if base_dir is not None else None, SPECIAL_PARSERS)
    sections = {name: load_section(cls, d.get(name), name, ctx) for name, cls in SECTIONS.items()}
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
        f"training.{key} ({jsonable(getattr(cfg.training, key))}) is unused with optimizer: "
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
            f.name: jsonable(getattr(section, f.name)) for f in dataclasses.fields(section)
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
    return load_section(Thresholds, d, key, Context(None if file is None else str(file), None))


def load_thresholds(path: str | os.PathLike) -> Thresholds:
    """The ``classify:`` section of a YAML file: a sweep config (only that section is read; a
    config without one gives the defaults) or a file holding only ``classify:``."""
    file = str(path)
    d = read_yaml(path, "file")
    if not isinstance(d, Mapping):
        got = "nothing (the file is empty)" if d is None else describe(d)
        raise ConfigError(f"expected a mapping with a classify: section, got {got}", file=file)
    stray = [k for k in d if k in Thresholds.__dataclass_fields__]
    if stray:
        raise ConfigError(
            f"thresholds go under a 'classify:' section, not at the top level ({quote(stray[0])})",
            file=file,
            key=str(stray[0]),
        )
    reject_unknown(d, TOP_LEVEL_KEYS, "", file)
    return thresholds_from_dict(d.get("classify"), file=file)


def _parse_name(v: Any, ctx: Context) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ctx.error("name", f"must be a non-empty string, got {describe(v)}")
    if printable(v) != v:  # it names a directory, printed and written as it is
        raise ctx.error("name", f"{quote(v)} holds control characters (escape codes, newlines)")
    if any(c in v for c in "/\\\0") or v in (".", ".."):
        raise ctx.error("name", f"{quote(v)} names an output directory: no '/', '\\', '.' or '..'")
    return v


# --- checks across options ---------------------------------------------------------------------
def _check_across(cfg: Config, ctx: Context) -> None:
    """What one option's value says of another's, section by section (the first found is the
    error)."""
    sweep.check_sweep(cfg.sweep, ctx)
    training.check_training(cfg.training, cfg.sweep.optimizer, ctx)
    model.check_head(cfg.model, ctx)
    find.check_find(cfg.find, ctx)
    model.check_init(cfg.init, cfg.model, ctx)
    data.check_data(cfg.data, ctx)
