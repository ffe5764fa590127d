"""JSON Schemas (draft 2020-12) of what lrdiag reads and writes: ``lrdiag schema NAME``.

* ``config``: generated from the config dataclasses (``config.SECTIONS``): each field is a
  property with its one-line meaning, its default, its type from the annotation, its choices and
  its bounds (``Check.bounds``); unknown keys are refused, as the loader refuses them. A new
  option appears here by itself.
* ``results``: the document ``results.document`` writes (results.json), its vocabularies (verdicts,
  flags, lint ids and fields, the schema version) read from the modules that define them, its
  ``config`` the config schema above. Unknown keys are refused: a writer that adds one fails the
  tests that validate every results.json they write, which is the cue to describe it here and
  bump ``results.SCHEMA_VERSION``.
* ``compare``: the document ``lrdiag compare --json`` prints.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from lrdiag import compare, config, lints, results
from lrdiag.classify import FLAGS, VERDICTS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# A number the config loader also accepts spelled as a string (YAML 1.1 reads 1e-4 as one).
NUMBER_STRING = r"^\s*[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


# --------------------------------------------------------------------------- config


def _type_schema(tp: Any, bounds: dict, choices: tuple = ()) -> dict:
    """The JSON Schema of a value of the annotation ``tp``, scalars within ``bounds`` and, when
    ``choices`` are given, one of them."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if choices and origin is None and not dataclasses.is_dataclass(tp):
        return {"enum": list(choices)}
    if origin in (typing.Union, types.UnionType):
        options = [_type_schema(a, bounds, choices) for a in args if a is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is tuple:
        item = _type_schema(args[0], bounds, choices)
        # a list field also takes a single value (`scales: 2.0` means [2.0])
        return {"anyOf": [item, {"type": "array", "items": item}]}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _section_schema(tp, None)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer", **bounds}
    if tp is float:
        return {
            "anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": NUMBER_STRING}]
        }
    if tp is str:
        return {"type": "string"}
    return {}  # a type the loader reads by a parser of its own: anything here


def _option_schema(cls: type, f: dataclasses.Field, hint: Any, section: str | None) -> dict:
    meta = f.metadata
    check = meta.get("check")
    if cls is config.Thresholds:
        check = config.THRESHOLD_CHECKS.get(f.name, config.THRESHOLD_CHECK)
    bounds = dict(check.bounds) if check is not None else {}
    special = SPECIAL_SCHEMAS.get((section, f.name)) if section is not None else None
    if special is not None:
        schema = special()
    elif meta.get("grid"):
        (elem,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        item = _type_schema(elem, bounds)
        schema = {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}
    else:
        schema = _type_schema(hint, bounds, tuple(meta.get("choices") or ()))
    if meta.get("help"):
        schema["description"] = meta["help"]
    default = _default(f)
    if default is not dataclasses.MISSING:
        schema["default"] = default
    return schema


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return config.jsonable(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return config.jsonable(f.default_factory())
    return dataclasses.MISSING


def _section_schema(cls: type, section: str | None) -> dict:
    hints = typing.get_type_hints(cls)
    props = {
        f.name: _option_schema(cls, f, hints[f.name], section) for f in dataclasses.fields(cls)
    }
    return {"type": "object", "properties": props, "additionalProperties": False}


def _batch_size() -> dict:
    return {"anyOf": [{"const": "full"}, {"type": "integer", "minimum": 1}, {"type": "null"}]}


def _learning_rates() -> dict:
    rate = _type_schema(float, dict(config.grid_positive.bounds))
    count = {"type": "integer", **config.grid_count.bounds}
    span = {
        "type": "object",
        "properties": {"min": rate, "max": rate, "num": count},
        "required": ["min", "max", "num"],
        "additionalProperties": False,
    }
    return {"anyOf": [rate, {"type": "array", "items": rate, "minItems": 1}, span]}


def _path() -> dict:
    return {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]}


def _sharpness() -> dict:
    # YAML 1.1 reads a bare on / off as a boolean: the loader takes it as the word
    return {"anyOf": [{"enum": list(config.SHARPNESS_MODES)}, {"type": "boolean"}]}


def _scheme() -> dict:
    # one scheme, or "file" (the weights in init.path), or a list of schemes, one per matrix
    names = {"enum": list(config.INIT_SCHEMES)}
    one = {"enum": [*config.INIT_SCHEMES, config.INIT_FILE]}
    return {"anyOf": [one, {"type": "array", "items": names, "minItems": 1}]}


def _batch_axis() -> dict:
    size = {"anyOf": [{"const": "full"}, {"type": "integer", "minimum": 1}, {"type": "null"}]}
    return {"anyOf": [size, {"type": "array", "items": size, "minItems": 1}]}


# Options read by a parser of their own (config.SPECIAL_PARSERS): their schema, by hand.
SPECIAL_SCHEMAS = {
    ("init", "scheme"): _scheme,
    ("stability", "sharpness"): _sharpness,
    ("training", "batch_size"): _batch_size,
    ("sweep", "learning_rates"): _learning_rates,
    ("sweep", "batch_size"): _batch_axis,
    ("data", "path"): _path,
}


def config_schema(*, top: bool = True) -> dict:
    """The config file's schema, from ``config.SECTIONS`` and the fields of each section."""
    props: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "description": "names the output directory"}
    }
    for name, cls in config.SECTIONS.items():
        section = _section_schema(cls, name)
        props[name] = {"anyOf": [section, {"type": "null"}]}
    body = {
        "title": "lrdiag config",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
    return {"$schema": DRAFT, **body} if top else body


# --------------------------------------------------------------------------- results

NUMBER_OR_NULL = {"type": ["number", "null"]}
CURVE = {"type": "array", "items": NUMBER_OR_NULL}
LR_PAIR = {"anyOf": [{"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                     {"type": "null"}]}  # fmt: skip


def _object(props: dict, *, required: tuple | list | None = None, extra: bool = False) -> dict:
    out: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": list(props if required is None else required),
    }
    if not extra:
        out["additionalProperties"] = False
    return out


def _verdict() -> dict:
    return {"enum": [*VERDICTS, None]}


def _judged(with_row: dict | None = None) -> dict:
    """A curve's judgement: verdict, reason, flags and metrics (open: each verdict has its own)."""
    return {
        "verdict": _verdict(),
        "reason": {"type": "string"},
        "flags": {"type": "array", "items": {"enum": [*FLAGS, "incomplete"]}},
        "metrics": {"type": "object"},
        **(with_row or {}),
    }


def _row() -> dict:
    props = {
        "id": {"type": "integer", "minimum": 0},
        "learning_rate": {"type": "number", "exclusiveMinimum": 0},
        "init_scale": {"type": "number", "exclusiveMinimum": 0},
        "seed": {"type": "integer", "minimum": 0},
        **_judged(),
        "loss": {"anyOf": [CURVE, {"type": "null"}]},  # null: in the curves file
        "sharpness": {
            "anyOf": [
                _object(
                    {
                        "epochs": {"type": "array", "items": {"type": "integer"}},
                        "values": CURVE,
                        # stable while a value < limit / lr; null: no such limit (adaptive
                        # optimizers without their preconditioned sharpness)
                        "limit": NUMBER_OR_NULL,
                        # lambda_max of the Hessian, or of P^-1 H (adaptive optimizers)
                        "kind": {"enum": ["hessian", "preconditioned"]},
                    },
                    required=["epochs", "values", "limit"],
                ),
                {"type": "null"},
            ]
        },
        "val_loss": {"anyOf": [CURVE, {"type": "null"}]},
        "val": {"anyOf": [_object(_judged()), {"type": "null"}]},
    }
    # a sweep's other axes (sweep.optimizer, ...): present when the sweep varies them
    axes = _axis_values()
    return _object({**props, **axes}, required=list(props))


def _axis_values() -> dict:
    """The value of each of a sweep's other axes (config.EXTRA_AXES), as a row holds it."""
    return {
        "optimizer": {"enum": list(config.OPTIMIZERS)},
        "batch_size": {"type": ["integer", "null"], "minimum": 1},
        "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "weight_decay": {"type": "number", "minimum": 0},
        "warmup_steps": {"type": "integer", "minimum": 0},
        "clip_grad_norm": {"type": ["number", "null"], "exclusiveMinimum": 0},
    }


def _lint() -> dict:
    fields = [f.name for f in dataclasses.fields(lints.Lint)]
    props: dict[str, dict] = {name: {"type": "string"} for name in fields}
    props["id"] = {"enum": list(lints.LINTS)}
    return _object(props)


def _summary() -> dict:
    # one entry per value of the summary's second axis: init_scale, or sweep.compare's axis
    compared = {"init_scale": {"type": "number"}, "seed": {"type": "integer"}, **_axis_values()}
    numbers = {
        "largest_converging_lr": NUMBER_OR_NULL,
        "bracket": LR_PAIR,
        "recommended_lr": NUMBER_OR_NULL,
        "recommended_final_loss": NUMBER_OR_NULL,
    }
    per_scale = _object({**compared, **numbers}, required=list(numbers))
    stability = _object(
        {
            "per_scale": {
                "type": "array",
                "items": _object(
                    {
                        **compared,
                        "predicted_critical_lr": NUMBER_OR_NULL,
                        "observed_bracket": LR_PAIR,
                    },
                    required=["predicted_critical_lr", "observed_bracket"],
                ),
            }
        }
    )
    growth = _object(
        {
            "init_scale": {"type": "number"},
            "final_exponent": NUMBER_OR_NULL,
            "first_epoch_exponent": NUMBER_OR_NULL,
            "rates": {"type": "array", "items": {"type": "number"}},
            "unscaled_inputs": {"type": "boolean"},
        }
    )
    counts = _object({v: {"type": "integer", "minimum": 0} for v in VERDICTS})
    return _object(
        {
            "per_scale": {"type": "array", "items": per_scale},
            "verdict_counts": counts,
            "stability": stability,
            "loss_scale": {"type": "array", "items": growth},
            # sweep.compare, and the answer per compared value ("with warmup_steps 50 ...")
            "compare": {"enum": list(config.COMPARE_AXES)},
            "answer": {"type": "array", "items": {"type": "string"}},
        },
        required=["per_scale", "verdict_counts"],
    )


def results_schema() -> dict:
    """The schema of results.json, version ``results.SCHEMA_VERSION``."""
    doc = _object(
        {
            "schema_version": {"const": results.SCHEMA_VERSION},
            "lrdiag_version": {"type": "string"},
            "complete": {"type": "boolean"},
            "config": {"$ref": "#/$defs/config"},
            "runs": {"type": "array", "items": _row()},
            "summary": _summary(),
            "warnings": {"type": "array", "items": _lint()},
            # the sweep's identity: its canonical config and data, hashed (lrdiag.chunks)
            "config_hash": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
            # a shard's results (lrdiag sweep --shard K/N): which one, and its runs [lo, hi)
            "shard": _object(
                {
                    "index": {"type": "integer", "minimum": 1},
                    "of": {"type": "integer", "minimum": 1},
                    "runs": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 0},
                        "minItems": 2,
                        "maxItems": 2,
                    },
                }
            ),
            # the loss curves in a columnar file beside results.json (rows' loss and val_loss
            # are then null): its name and format (lrdiag.curvestore)
            "curves": _object({"file": {"type": "string"}, "format": {"enum": ["parquet", "npz"]}}),
        },
        required=[
            "schema_version",
            "lrdiag_version",
            "complete",
            "config",
            "runs",
            "summary",
            "warnings",
        ],
    )
    return {
        "$schema": DRAFT,
        "title": f"lrdiag results.json, schema_version {results.SCHEMA_VERSION}",
        **doc,
        "$defs": {"config": _resolved_config()},
    }


def _resolved_config() -> dict:
    """The config as results.json holds it (``config_to_dict``): every option resolved, so
    learning rates are a list and sections are never null; the option schemas still apply."""
    schema = config_schema(top=False)
    props = dict(schema["properties"])
    for name in config.SECTIONS:
        section = dict(props[name]["anyOf"][0])
        section["required"] = list(section["properties"])
        props[name] = section
    return {**schema, "properties": props, "required": ["name", *config.SECTIONS]}


# --------------------------------------------------------------------------- compare


def compare_schema() -> dict:
    side = _object(
        {
            "file": {"type": ["string", "null"]},
            "name": {"type": ["string", "null"]},
            "lrdiag_version": {"type": ["string", "null"]},
            "complete": {"type": ["boolean", "null"]},
            "runs": {"type": "integer", "minimum": 0},
        }
    )
    summary = _object(
        {
            "largest_converging_lr": NUMBER_OR_NULL,
            "bracket": LR_PAIR,
            "boundary_lr": NUMBER_OR_NULL,
            "recommended_lr": NUMBER_OR_NULL,
            "predicted_critical_lr": NUMBER_OR_NULL,
        }
    )
    axes = {"type": "object"}
    group = _object(
        {
            "axes": axes,
            "after_axes": axes,
            "before": summary,
            "after": summary,
            "boundary_moved": {"enum": ["down", "up", "same"]},
        }
    )
    run = {"learning_rate": {"type": "number"}, "seed": {"type": "integer"}, "axes": axes}
    change = _object(
        {
            **run,
            "curve": {"enum": [c for c, _ in compare.CURVES]},
            "before": _verdict(),
            "after": _verdict(),
            "reason": {"type": ["string", "null"]},
        }
    )
    moved = _object({**run, "before": {"type": "number"}, "after": {"type": "number"},
                     "change": NUMBER_OR_NULL})  # fmt: skip
    match = _object(
        {
            "kind": {"enum": list(compare.FAIL_ON)},
            "key": {"type": "string"},
            "message": {"type": "string"},
            "learning_rate": NUMBER_OR_NULL,
            "axes": axes,
        }
    )
    doc = _object(
        {
            "compare_version": {"const": compare.COMPARE_VERSION},
            "before": side,
            "after": side,
            "axes": {"type": "array", "items": {"type": "string"}},
            "paired": {
                "type": "object",
                "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
            },
            "runs_compared": {"type": "integer", "minimum": 1},
            "tolerance": {"type": "number", "minimum": 0},
            "groups": {"type": "array", "items": group},
            "runs": {"type": "array", "items": change},
            "verdict_changes": {"type": "array", "items": change},
            "loss_changes": {"type": "array", "items": moved},
            "notes": {"type": "array", "items": {"type": "string"}},
            "fail_on": {"type": "array", "items": {"enum": list(compare.FAIL_ON)}},
            "matched": {"type": "array", "items": match},
        }
    )
    return {
        "$schema": DRAFT,
        "title": f"lrdiag compare --json, compare_version {compare.COMPARE_VERSION}",
        **doc,
    }


SCHEMAS = {"config": config_schema, "results": results_schema, "compare": compare_schema}
