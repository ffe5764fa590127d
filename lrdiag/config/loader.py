"""The generic loader: a section's mapping -> its dataclass, from the fields' annotations,
checks and choices; the errors name the file, the dotted key and what is allowed.

Options a field's annotation cannot describe are read by a parser of their own, looked up in
``Context.parsers`` by (section, key): each section module lists its own in ``PARSERS``.
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

from lrdiag.config.checks import THRESHOLD_CHECK, THRESHOLD_CHECKS, Check
from lrdiag.errors import ConfigError, quote
from lrdiag.thresholds import Thresholds


@dataclass(frozen=True)
class Context:
    file: str | None
    base_dir: Path | None
    # (section, key) -> the parser of an option not read from its annotation alone
    parsers: Mapping[tuple[str, str], Parser] = field(default_factory=dict)

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=key)


Parser = Callable[[Any, str, Context], Any]


def load_section(cls: type, d: Any, name: str, ctx: Context) -> Any:
    if d is None:  # `data:` with nothing under it
        d = {}
    if not isinstance(d, Mapping):
        raise ctx.error(name, f"must be a mapping of options, got {describe(d)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    reject_unknown(d, tuple(fields), name, ctx.file)
    hints = typing.get_type_hints(cls)
    values = {}
    for key, v in d.items():
        f, dotted = fields[key], f"{name}.{key}"
        meta: Mapping[str, Any] = f.metadata
        if cls is Thresholds:
            meta = {**meta, "check": THRESHOLD_CHECKS.get(key, THRESHOLD_CHECK)}
        special = ctx.parsers.get((name, key))
        if special is not None:
            values[key] = special(v, dotted, ctx)
        elif f.metadata.get("grid"):
            (elem,) = {a for a in typing.get_args(hints[key]) if a is not Ellipsis}
            values[key] = parse_grid(v, elem, f.metadata.get("check"), dotted, ctx)
        else:
            values[key] = parse_value(v, hints[key], meta, dotted, ctx)
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:  # a section's own __post_init__ check
        raise ctx.error(name, str(e)) from None


def parse_value(v: Any, tp: Any, meta: Mapping, key: str, ctx: Context) -> Any:
    v = checked(v, tp, meta.get("check"), key, ctx)
    choices = meta.get("choices") or ()
    if choices and v not in choices:
        raise ctx.error(key, not_a_choice(v, choices))
    return v


def parse_grid(v: Any, elem: type, check: Check | None, key: str, ctx: Context) -> tuple:
    # the annotation is built at run time from the field's: tuple[float, ...], tuple[int, ...]
    values = checked(v, tuple.__class_getitem__((elem, ...)), check, key, ctx)
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


def checked(v: Any, tp: Any, check: Check | None, key: str, ctx: Context) -> Any:
    """``v`` converted to the annotation ``tp``, each scalar in it passing ``check``."""
    v = convert(v, tp, key, ctx, check)
    for i, x in enumerate(v) if isinstance(v, tuple) else [(None, v)]:
        if check is not None and x is not None and not check.ok(x):
            where = key if i is None else f"{key}[{i}]"
            raise ctx.error(where, f"must be {check.allowed}, got {quote(x)}")
    return v


_NUMBER = re.compile(r"[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d+)?")


def convert(v: Any, tp: Any, key: str, ctx: Context, check: Check | None = None) -> Any:
    """Check ``v`` against the annotation ``tp`` and convert it (int -> float, list -> tuple)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert(v, inner, key, ctx, check)
    if origin is tuple:
        elem = args[0]
        items = list(v) if isinstance(v, list | tuple) else [v]
        return tuple(convert(x, elem, f"{key}[{i}]", ctx, check) for i, x in enumerate(items))
    allowed = f" {check.allowed}" if check is not None else ""
    if tp is bool:
        if isinstance(v, bool):
            return v
        raise ctx.error(key, f"must be true or false, got {describe(v)}")
    if tp is int:
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise ctx.error(key, f"must be an integer{allowed}, got {describe(v)}")
    if tp is float:
        x = None
        if isinstance(v, int | float) and not isinstance(v, bool):
            x = float(v)
        elif isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
            x = float(v.strip().replace("_", ""))  # YAML reads 1e-4 as a string
        if x is None:
            raise ctx.error(key, f"must be a number{allowed}, got {describe(v)}")
        if not math.isfinite(x):
            raise ctx.error(key, f"must be a finite number, got {quote(v)}")
        return x
    if tp is str:
        if isinstance(v, str):
            return v
        raise ctx.error(key, f"must be a string, got {describe(v)}")
    raise ctx.error(key, f"cannot read an option of type {tp}")  # a new field's type: extend here


def axis_parser(
    elem: type, check: Check | None = None, choices: tuple = (), nullable: bool = False
):
    """A parser for a sweep axis: a non-empty list without duplicates, stored sorted (strings
    in their given order; null, where allowed, first)."""

    def parse(v: Any, key: str, ctx: Context) -> tuple | None:
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
            x = parse_value(x, elem, {"check": check, "choices": choices}, where, ctx)
            if x in values:
                raise ctx.error(
                    where, f"duplicate value {quote(x)}; each grid value must appear once"
                )
            values.append(x)
        if elem is str:
            return tuple(values)
        return tuple(sorted(values, key=lambda x: (x is not None, x if x is not None else 0)))

    return parse


def parse_path(v: Any, key: str, ctx: Context, suffixes: tuple[str, ...], what: str) -> str | None:
    """A file path, relative to the config's directory: absolute, of one of ``suffixes``, and
    existing (``what`` names the file in the error)."""
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise ctx.error(key, f"must be a file path (string), got {describe(v)}")
    p = Path(v).expanduser()
    if not p.is_absolute():
        p = (ctx.base_dir or Path.cwd()) / p
    p = Path(os.path.abspath(p))
    if p.suffix.lower() not in suffixes:
        raise ctx.error(key, f"{quote(v)}: unsupported file type; allowed: {', '.join(suffixes)}")
    if not p.is_file():
        raise ctx.error(key, f"{what} file not found: {p}")
    return str(p)


# --- helpers -----------------------------------------------------------------------------------
def reject_unknown(d: Mapping, allowed: tuple[str, ...], prefix: str, file: str | None) -> None:
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


def not_a_choice(v: Any, choices: tuple) -> str:
    near = difflib.get_close_matches(str(v), [str(c) for c in choices], n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"{quote(v)} is not one of: {', '.join(map(str, choices))}{hint}"


def describe(v: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(v))
    if v is None:
        return "nothing (null)"
    if isinstance(v, list | tuple):
        kind = "list"
    elif isinstance(v, Mapping):
        kind = "mapping"
    return f"{kind or type(v).__name__} {quote(v)}"


def jsonable(v: Any) -> Any:
    if dataclasses.is_dataclass(v):
        return {f.name: jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, tuple | list):
        return [jsonable(x) for x in v]
    return v
