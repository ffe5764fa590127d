"""Loss logs -> named curves, and their verdicts, for ``lrdiag classify``.

The format is read from the content, never from the file's extension:

* **JSON** (starts with ``[`` or ``{``): a list of numbers (one curve, ``loss``); an object
  mapping names to lists, such as a dumped Keras ``history.history`` (also under a ``history``
  key); a list of records ``[{"step": 1, "loss": 0.7}, ...]`` (also JSON Lines, or a Hugging
  Face ``trainer_state.json``'s ``log_history``, without its end-of-training summary record),
  where a key missing from a record is a missing value; TensorBoard's JSON export
  ``[[wall time, step, value], ...]``; or an lrdiag ``results.json``, whose runs' ``loss`` (and
  ``val_loss``) become curves named ``run 3 (lr 0.1, scale 1, seed 0)`` and
  ``run 3 val (...)``, judged with the model's loss, class count and the ``classify:``
  thresholds of the config it was made with. In JSON, ``null``
  is a non-finite value (lrdiag writes non-finite numbers so), as are ``NaN`` and ``Infinity``.
* **plain text**: one number a line.
* **a table with a header row** (CSV, or tab-, semicolon- or space-separated): Keras
  ``CSVLogger``, PyTorch Lightning ``metrics.csv`` (empty cells where a metric was not logged on
  a row), TensorBoard's scalar export ``Wall time,Step,Value``.

Everywhere: blank lines and lines starting with ``#`` are skipped (outside JSON); ``nan``,
``inf``, ``-inf``, ``Infinity`` in any case are non-finite values; an empty cell, or ``NA``
(what Keras ``CSVLogger`` writes for a metric not computed that epoch, such as the ``val_``
columns between validations with ``validation_freq`` > 1), is a missing value (the row is
skipped for that curve). A curve is indexed by its own values in row order.

A curve's x-axis, which its reason names positions by ("a transient spike at step 600"), is an
index column's values at the curve's rows, when all of them are there and strictly increasing:
an epoch column holding whole numbers (one value per epoch: Keras ``CSVLogger``, Lightning's
``val_loss`` and ``train_loss_epoch``, Hugging Face's per-epoch ``eval_loss``), else a step
column (``step``, ``global step``, ``iteration``, ...: TensorBoard's exports, Lightning's
per-step losses, Hugging Face's training loss and per-step evaluations, whose epochs are
fractions: a step is exact where a fraction is rounded), else an epoch column of fractions, else
none. Wall-time columns never are. Without one (plain text, a JSON list, a Keras
``history.history``, a log whose steps restart), value k is epoch k; so it is in an lrdiag
results.json, where ``loss[k]`` is the loss after epoch k.

Curves: the ``--column`` names given, else every column whose name contains "loss" (any case),
else the single numeric column that is not an epoch/step/time column, nor a metric where higher
is better (accuracy, AUC, F1, ...) or the learning rate: judged as a loss, a rising accuracy
would read as diverging. A validation curve
(``val_loss``, ``val_output_loss``, ``validation/loss``, ``eval_loss``, ...) is judged with its
training curve (``loss``, ``train_loss``, ``train/loss``, ``train_loss_epoch``, ...), when the
log has one, averaged over the rows since the previous validation value (by step, else epoch,
else row) so that a per-step training loss lines up with a per-epoch validation loss.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lrdiag.classify import LOSS_NAMES, Thresholds, classify
from lrdiag.errors import InputError

EXPECTED = (
    "expected a loss log: CSV with a header row, JSON (a list of numbers, an object of lists, "
    "or an lrdiag results.json) or plain text with one number a line"
)
STDIN = "<stdin>"
TEXT_CURVE = "loss"  # the name of the one curve of a plain-text log or a JSON list of numbers
# Files read when a directory is given: an lrdiag sweep's output, a Lightning version folder.
DIRECTORY_LOGS = ("results.json", "metrics.csv")

# Columns that index the rows rather than measure anything (compared as lower-case words).
INDEX_NAMES = frozenset(
    {
        "epoch",
        "epochs",
        "step",
        "steps",
        "global step",
        "iteration",
        "iterations",
        "iter",
        "batch",
        "wall time",
        "walltime",
        "time",
        "timestamp",
        "relative time",
        "runtime",
        "elapsed",
        "date",
        "datetime",
        "created at",
        "index",
    }
)
# Words of columns never taken as the loss unless named with --column: metrics where higher is
# better (judged as a loss, a rising accuracy reads as diverging) and the learning rate.
NOT_LOSS_WORDS = frozenset(
    {"acc", "accuracy", "auc", "f1", "precision", "recall", "iou", "dice", "bleu", "lr", "learning"}
)
# Words that make a column a validation curve, and words a training curve may carry.
VAL_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "holdout"})
TRAIN_WORDS = frozenset({"train", "training"})
# Index columns whose value lines a training curve up with a validation curve, finest first.
ALIGN_KEYS = ("step", "global step", "iteration", "epoch")
# Index columns a curve's positions are named by (see the module's docstring): x_name -> names.
AXIS_NAMES = {
    "epoch": frozenset({"epoch", "epochs"}),
    "step": frozenset({"step", "steps", "global step", "iteration", "iterations", "iter", "batch"}),
}

_DELIMITERS = (",", "\t", ";")
# Cells that mean "not logged on this row" (Keras CSVLogger writes NA), compared upper-case.
MISSING_CELLS = frozenset({"NA", "N/A"})
_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Curve:
    name: str
    values: np.ndarray  # float64; NaN/inf as logged, missing values left out
    train: np.ndarray | None = None  # for a validation curve: its training curve, lined up
    train_name: str | None = None
    x: np.ndarray | None = None  # the step or epoch each value was logged at (None: its index)
    x_name: str | None = None  # "step" or "epoch" (None: no axis; value k reads as epoch k)


@dataclass(frozen=True)
class LossLog:
    source: str  # the file as given, or "<stdin>"
    format: str  # csv, tsv, ssv (semicolons), table (spaces), text, json, jsonl, lrdiag-results
    columns: tuple[str, ...]  # every column (curve name) the log has, for --column
    curves: tuple[Curve, ...]  # the selected curves, in the log's order
    loss_name: str | None = None  # from an lrdiag results.json
    n_classes: int | None = None  # from an lrdiag results.json
    thresholds: Thresholds | None = None  # from an lrdiag results.json
    notes: tuple[str, ...] = ()  # things the reader skipped, for stderr


# --------------------------------------------------------------------------- reading


def read_log(path: str | os.PathLike, *, columns: Sequence[str] = ()) -> LossLog:
    """Read a loss log file (a directory: its results.json or metrics.csv)."""
    source = str(path)
    p = Path(path)
    if p.is_dir():
        found = [p / name for name in DIRECTORY_LOGS if (p / name).is_file()]
        if not found:
            raise InputError(
                f"{source}: is a directory with no {' or '.join(DIRECTORY_LOGS)}; "
                "give the log file itself"
            )
        p, source = found[0], str(found[0])
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{source}: file not found") from None
    except PermissionError:
        raise InputError(f"{source}: permission denied") from None
    except OSError as e:
        raise InputError(f"{source}: cannot read the file: {e.strerror or e}") from None
    return parse_log(data, source, columns=columns)


def parse_log(data: bytes | str, source: str = STDIN, *, columns: Sequence[str] = ()) -> LossLog:
    """Parse the content of a loss log; ``source`` names it in errors."""
    text = _decode(data, source) if isinstance(data, bytes) else data.lstrip("\ufeff")
    head = text.lstrip()
    if not head:
        raise InputError(f"{source}: the file is empty; {EXPECTED}")
    if head[0] in "[{":
        return _from_json(text, source, columns)
    lines = [
        (i, line)
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(f"{source}: only comments and blank lines; {EXPECTED}")
    first = lines[0][1].strip()
    if _number(first) is not _BAD:
        return _from_text(lines, source, columns)
    return _from_table(lines, source, columns)


def _decode(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM (PowerShell's `>`)
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\0" in data[:8192]:
        hint = ""
        if "tfevents" in source:
            hint = " (export TensorBoard scalars as CSV or JSON from its web page first)"
        raise InputError(f"{source}: a binary file, not a loss log{hint}; {EXPECTED}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # numbers are ASCII; only column names could be off


class _Bad:
    """The result of a cell that is not a number."""


_BAD = _Bad()


def _number(cell: Any, *, decimal_comma: bool = False) -> float | None | _Bad:
    """A cell as a float (NaN/inf in any spelling float() takes), None when empty (missing),
    ``_BAD`` when not a number. JSON ``null`` is a non-finite value, not a missing one."""
    if cell is None:
        return math.nan
    if isinstance(cell, bool):
        return _BAD
    if isinstance(cell, float):
        return cell
    if isinstance(cell, int):
        return float(cell) if abs(cell) < 2**1023 else (math.inf if cell > 0 else -math.inf)
    if not isinstance(cell, str):
        return _BAD
    s = cell.strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    if decimal_comma and s.count(",") == 1:
        try:
            return float(s.replace(",", "."))
        except ValueError:
            pass
    return _BAD


# --------------------------------------------------------------------------- the table


@dataclass
class _Column:
    name: str
    rows: list[int]  # the row of each present value
    cells: list[Any]  # the values as read
    is_index: bool = False
    # where value k is, for messages: a template of {k}, {row}, {line} and {name}
    place: str = "value {k}"
    lines: list[int] | None = None  # the line of each value (tables)
    decimal_comma: bool = False
    _values: np.ndarray | None = None
    _bad: str | None = None

    def parse(self) -> None:
        if all(type(c) is str for c in self.cells):  # a table's cells: NumPy reads them at once
            try:  # (float()'s rules: nan, inf, Infinity in any case, surrounding spaces)
                self._values = np.asarray(self.cells, dtype=float)
                return
            except ValueError:
                pass  # find the culprit below, or read decimal commas
        values = []
        for k, cell in enumerate(self.cells):
            x = _number(cell, decimal_comma=self.decimal_comma)
            if x is _BAD:
                line = self.lines[k] if self.lines else None
                at = self.place.format(k=k, row=self.rows[k], line=line, name=self.name)
                self._bad = f"{at}: {_short(cell)} is not a number"
                return
            values.append(x)
        self._values = np.asarray(values, dtype=float)

    @property
    def numeric(self) -> bool:
        return self._values is not None and self._values.size > 0

    @property
    def values(self) -> np.ndarray:
        assert self._values is not None
        return self._values


@dataclass
class _Table:
    source: str
    format: str
    columns: list[_Column]
    n_rows: int
    shared_rows: bool = True  # rows line up across columns (not so for lists of other lengths)

    def __post_init__(self):
        seen: dict[str, int] = {}
        for c in self.columns:
            if c.name in seen:
                raise InputError(f"{self.source}: the column name {c.name!r} appears twice")
            seen[c.name] = 1
            c.parse()


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def _words(name: str) -> list[str]:
    return [w for w in _WORD.split(name.lower()) if w]


def _is_index_name(name: str) -> bool:
    key = " ".join(_words(name))
    return not key or key in INDEX_NAMES or key.startswith("unnamed")


def _missing(cell: str) -> bool:
    """An empty cell, or a spelling of "not logged here" (a missing value, not a non-finite one)."""
    s = cell.strip()
    return not s or s.upper() in MISSING_CELLS


def _make_column(name: str, **kw) -> _Column:
    name = name.strip()
    return _Column(name=name, rows=[], cells=[], is_index=_is_index_name(name), **kw)


def _from_text(lines, source, columns) -> LossLog:
    values = []
    for lineno, line in lines:
        if _missing(line):
            continue
        x = _number(line)
        if x is _BAD:
            raise InputError(
                f"{source}: line {lineno}: {_short(line.strip())} is not a number (plain text "
                "holds one number a line; for several columns use CSV with a header row)"
            )
        values.append(x)
    col = _make_column(TEXT_CURVE)
    col.cells, col.rows = values, list(range(len(values)))
    return _curves(_Table(source, "text", [col], len(values)), columns)


def _split_fn(header: str):
    counts = {d: header.count(d) for d in _DELIMITERS}
    delim = max(_DELIMITERS, key=lambda d: counts[d])
    if counts[delim]:
        fmt = {",": "csv", "\t": "tsv", ";": "ssv"}[delim]
        return (lambda lines: csv.reader(lines, delimiter=delim)), fmt, delim == ";"
    if len(header.split()) > 1:
        return (lambda lines: (line.split() for line in lines)), "table", False
    return (lambda lines: ([line.strip()] for line in lines)), "csv", False


def _from_table(lines, source, columns) -> LossLog:
    header_no, header_line = lines[0]
    split, fmt, decimal_comma = _split_fn(header_line)
    header = [h.strip() for h in next(iter(split([header_line])))]
    if all(_number(h) is not _BAD for h in header if h):
        raise InputError(
            f"{source}: line {header_no}: expected a header row naming the columns "
            "(e.g. epoch,loss), found only numbers"
        )
    cols = []
    for i, h in enumerate(header):
        c = _make_column(h or f"column {i + 1}", decimal_comma=decimal_comma)
        c.place, c.lines = "line {line}, column {name!r}", []
        c.is_index = c.is_index or not h
        cols.append(c)
    n_rows = 0
    body = lines[1:]
    try:
        rows = list(split(line for _, line in body))
    except csv.Error as e:
        raise InputError(f"{source}: not readable as {fmt.upper()}: {e}") from None
    if len(rows) != len(body):  # a quote left open swallows the lines after it
        raise InputError(f"{source}: a quoted cell is never closed (after line {header_no})")
    for (lineno, _), cells in zip(body, rows, strict=True):
        if len(cells) == len(header) and [c.strip() for c in cells] == header:
            continue  # the header again (logs appended to after a restart)
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            raise InputError(
                f"{source}: line {lineno} has {len(cells)} fields, the header {len(header)}"
            )
        for col, cell in zip(cols, cells, strict=False):
            if not _missing(cell):
                col.rows.append(n_rows)
                col.cells.append(cell)
                col.lines.append(lineno)
        n_rows += 1
    return _curves(_Table(source, fmt, cols, n_rows), columns)


# --------------------------------------------------------------------------- JSON


def _from_json(text: str, source: str, columns) -> LossLog:
    try:
        doc = json.loads(text)
        fmt = "json"
    except json.JSONDecodeError as e:
        doc = _json_lines(text) if e.msg == "Extra data" else None
        if doc is None:
            raise InputError(
                f"{source}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
            ) from None
        fmt = "jsonl"
    except (ValueError, RecursionError) as e:  # an integer of thousands of digits, deep nesting
        raise InputError(f"{source}: unreadable JSON: {e}") from None
    if isinstance(doc, Mapping):
        if isinstance(doc.get("runs"), list) and isinstance(doc.get("config"), Mapping):
            return _from_results(doc, source, columns)
        if isinstance(doc.get("log_history"), list):  # Hugging Face trainer_state.json
            history = [r for r in doc["log_history"] if not _hf_summary(r)]
            return _curves(_records(history, source, fmt, "log_history"), columns)
        if isinstance(doc.get("history"), Mapping):  # {"history": history.history, ...}
            doc = doc["history"]
        return _curves(_lists(doc, source), columns)
    if isinstance(doc, list):
        if not doc:
            raise InputError(f"{source}: the JSON list is empty; {EXPECTED}")
        if isinstance(doc[0], Mapping):
            return _curves(_records(doc, source, fmt, None), columns)
        if isinstance(doc[0], list):
            return _curves(_tensorboard_json(doc, source), columns)
        col = _make_column(TEXT_CURVE)
        col.cells, col.rows = list(doc), list(range(len(doc)))
        col.place = "element {k}"
        table = _Table(source, fmt, [col], len(doc))
        if not col.numeric:
            raise InputError(f"{source}: {col._bad}; expected a JSON list of numbers")
        return _curves(table, columns)
    raise InputError(f"{source}: the JSON holds {_short(doc)}; {EXPECTED}")  # not reached


def _hf_summary(record: Any) -> bool:
    """The record Hugging Face's Trainer logs once training ends (train_runtime, total_flos, and
    train_loss: the mean loss over the whole run, a summary rather than a point of a curve)."""
    return isinstance(record, Mapping) and "train_runtime" in record


def _json_lines(text: str) -> list | None:
    """JSON Lines: one object a line; None if it is not that."""
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except (ValueError, RecursionError):
                return None
    return out if all(isinstance(x, Mapping) for x in out) else None


def _lists(doc: Mapping, source: str) -> _Table:
    cols = []
    for name, v in doc.items():
        if isinstance(v, list):
            c = _make_column(str(name))
            c.cells, c.rows = list(v), list(range(len(v)))
            c.place = "{name}[{k}]"
            cols.append(c)
    if not cols:
        raise InputError(f"{source}: the JSON object holds no lists of numbers; {EXPECTED}")
    lengths = {len(c.cells) for c in cols}
    return _Table(source, "json", cols, max(lengths), shared_rows=len(lengths) == 1)


def _records(items: list, source: str, fmt: str, key: str | None) -> _Table:
    cols: dict[str, _Column] = {}
    for i, rec in enumerate(items):
        if not isinstance(rec, Mapping):
            where = f"{key}[{i}]" if key else f"element {i}"
            raise InputError(f"{source}: {where} is not an object like the others")
        for name, v in rec.items():
            name = str(name)
            if name not in cols:
                cols[name] = _make_column(name)
                cols[name].place = f"{key}[{{row}}].{{name}}" if key else "record {row}, {name!r}"
            c = cols[name]
            c.rows.append(i)
            c.cells.append(v)
    if not cols:
        raise InputError(f"{source}: the records hold no values; {EXPECTED}")
    return _Table(source, fmt, list(cols.values()), len(items))


def _tensorboard_json(doc: list, source: str) -> _Table:
    if any(not isinstance(x, list) or len(x) != 3 for x in doc):
        raise InputError(
            f"{source}: a list of lists; expected TensorBoard's JSON export "
            "[[wall time, step, value], ...]"
        )
    cols = [_make_column(n) for n in ("wall time", "step", "value")]
    for i, triple in enumerate(doc):
        for c, v in zip(cols, triple, strict=True):
            c.rows.append(i)
            c.cells.append(v)
            c.place = "element {row}, {name!r}"
    return _Table(source, "json", cols, len(doc))


def _from_results(doc: Mapping, source: str, columns) -> LossLog:
    """An lrdiag results.json: every finished run's loss and val_loss."""
    from lrdiag.config import thresholds_from_dict

    config = doc["config"]
    model = config.get("model") if isinstance(config.get("model"), Mapping) else {}
    data = config.get("data") if isinstance(config.get("data"), Mapping) else {}
    section = config.get("classify")
    thresholds = None
    if isinstance(section, Mapping):
        known = {f for f in Thresholds.__dataclass_fields__}
        section = {k: v for k, v in section.items() if k in known}  # other versions' keys
        thresholds = thresholds_from_dict(section, file=source, key="config.classify")
    runs = [r for r in doc["runs"] if isinstance(r, Mapping)]
    has_val = any(isinstance(r.get("val_loss"), list) for r in runs)
    available = ("loss", "val_loss") if has_val else ("loss",)
    wanted = [_find(list(available), c, source) for c in columns] or list(available)
    curves, skipped, n_classes = [], 0, None
    for r in runs:
        flags = r.get("flags") if isinstance(r.get("flags"), list) else []
        if r.get("verdict") is None and "incomplete" in flags:
            skipped += 1
            continue
        metrics = r.get("metrics") if isinstance(r.get("metrics"), Mapping) else {}
        chance = _number(metrics.get("chance", "")) if "chance" in metrics else None
        if n_classes is None and isinstance(chance, float) and math.log(2) <= chance < 20:
            n_classes = int(round(math.exp(chance)))  # the sweep's chance loss is ln K
        label = _run_label(r)
        loss = _results_curve(r.get("loss"), source, f"run {r.get('id')} loss")
        if "loss" in wanted and loss is not None:  # loss[k]: after epoch k
            curves.append(Curve(f"run {r.get('id')} ({label})", loss, x_name="epoch"))
        val = _results_curve(r.get("val_loss"), source, f"run {r.get('id')} val_loss")
        if "val_loss" in wanted and val is not None:
            curves.append(
                Curve(f"run {r.get('id')} val ({label})", val, loss, "loss", x_name="epoch")
            )
    k = data.get("n_classes")
    if n_classes is None and data.get("kind") != "file" and type(k) is int and k >= 2:
        n_classes = k
    notes = ()
    if skipped:
        notes = (f"skipped {skipped} interrupted run{'s' if skipped > 1 else ''}",)
    if not curves:
        raise InputError(f"{source}: an lrdiag results.json with no finished runs to judge")
    loss_name = model.get("loss") if model.get("loss") in LOSS_NAMES else None
    return LossLog(
        source,
        "lrdiag-results",
        available,
        tuple(curves),
        loss_name=loss_name,
        n_classes=n_classes,
        thresholds=thresholds,
        notes=notes,
    )


def _run_label(r: Mapping) -> str:
    def g(v):
        return f"{v:g}" if isinstance(v, int | float) else str(v)

    return f"lr {g(r.get('learning_rate'))}, scale {g(r.get('init_scale'))}, seed {r.get('seed')}"


def _results_curve(v: Any, source: str, what: str) -> np.ndarray | None:
    if not isinstance(v, list) or not v:
        return None
    out = [_number(x) for x in v]
    if any(x is _BAD or x is None for x in out):
        raise InputError(f"{source}: {what} holds something that is not a number")
    return np.asarray(out, dtype=float)


# --------------------------------------------------------------------------- picking curves


def _find(names: list[str], wanted: str, source: str) -> str:
    if wanted in names:
        return wanted
    folded = [n for n in names if n.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    near = difflib.get_close_matches(wanted, names, n=1, cutoff=0.5)
    hint = f"did you mean {near[0]!r}? " if near else ""
    listed = ", ".join(repr(n) for n in names)
    raise InputError(f"{source}: no column {wanted!r}; {hint}the columns are: {listed}")


def _select(table: _Table, wanted: Sequence[str]) -> list[_Column]:
    src, cols = table.source, table.columns
    by_name = {c.name: c for c in cols}
    if wanted:
        out: list[_Column] = []
        for w in wanted:
            c = by_name[_find(list(by_name), w, src)]
            if c._bad is not None:
                raise InputError(f"{src}: column {c.name!r} is not numeric: {c._bad}")
            if not c.numeric:
                raise InputError(f"{src}: column {c.name!r} holds no values")
            if c not in out:
                out.append(c)
        return out
    losses = [c for c in cols if "loss" in c.name.lower()]
    for c in losses:
        if c._bad is not None:
            raise InputError(f"{src}: {c._bad}")
    losses = [c for c in losses if c.numeric]
    if losses:
        return losses
    rest = [c for c in cols if c.numeric and not c.is_index]
    candidates = [c for c in rest if not NOT_LOSS_WORDS.intersection(_words(c.name))]
    if len(candidates) == 1:
        return candidates
    listed = ", ".join(repr(c.name) for c in cols)
    if not rest:
        numeric = any(c.numeric for c in cols)
        what = "no numeric column besides epoch/step/time columns" if numeric else "no numbers"
        raise InputError(f"{src}: {what} (columns: {listed}); {EXPECTED}")
    names = ", ".join(repr(c.name) for c in rest)
    if not candidates:
        raise InputError(
            f"{src}: no column name contains 'loss', and {names} "
            f"{'is' if len(rest) == 1 else 'are'} not a loss (an accuracy-like metric or the "
            "learning rate: judged as a loss, a rising accuracy reads as diverging); "
            "to judge one anyway, pick it with --column NAME"
        )
    names = ", ".join(repr(c.name) for c in candidates)
    raise InputError(
        f"{src}: no column name contains 'loss' and {len(candidates)} numeric columns could be the "
        f"loss: {names}; pick one or more with --column NAME"
    )


def _curves(table: _Table, wanted: Sequence[str]) -> LossLog:
    chosen = _select(table, wanted)
    curves = []
    for c in chosen:
        x, x_name = _axis(c, table)
        partner = _training_partner(c, table)
        train = None if partner is None else _lined_up(partner, c, table)
        name = None if partner is None else partner.name
        curves.append(Curve(c.name, c.values, train, name, x, x_name))
    return LossLog(table.source, table.format, tuple(c.name for c in table.columns), tuple(curves))


def _axis(col: _Column, table: _Table) -> tuple[np.ndarray | None, str | None]:
    """The x-axis col was logged against, and its name: an index column's values at col's rows,
    when all there and strictly increasing; an epoch column of whole numbers first, then a step
    column, then an epoch column of fractions (see the module's docstring)."""
    if not table.shared_rows:
        return None, None
    found: dict[str, list[np.ndarray]] = {kind: [] for kind in AXIS_NAMES}
    for c in table.columns:
        key = " ".join(_words(c.name))
        kind = next((k for k, names in AXIS_NAMES.items() if key in names), None)
        if kind is None or c is col or not c.numeric:
            continue
        full = np.full(table.n_rows, np.nan)
        full[c.rows] = c.values
        x = full[col.rows]
        if np.isfinite(x).all() and (np.diff(x) > 0).all():
            found[kind].append(x)
    whole = [x for x in found["epoch"] if (x == np.round(x)).all()]
    for x, kind in ((whole, "epoch"), (found["step"], "step"), (found["epoch"], "epoch")):
        if x:
            return x[0], kind
    return None, None


def _training_partner(col: _Column, table: _Table) -> _Column | None:
    """The training curve of a validation curve: the same name without the validation word
    (and without a training word), or with an _epoch / _step suffix (Lightning)."""
    words = _words(col.name)
    if not VAL_WORDS.intersection(words):
        return None
    base = [w for w in words if w not in VAL_WORDS]
    if not base:
        return None
    candidates = [
        c
        for c in table.columns
        if c is not col and c.numeric and not VAL_WORDS.intersection(_words(c.name))
    ]
    for suffix in ([], ["epoch"], ["step"]):
        for c in candidates:
            if [w for w in _words(c.name) if w not in TRAIN_WORDS] == base + suffix:
                if table.shared_rows or c.values.size == col.values.size:
                    return c
    return None


def _positions(table: _Table, a: _Column, b: _Column) -> tuple[np.ndarray, np.ndarray]:
    """Where a's and b's values sit: the step (or epoch) logged on their rows when every one of
    those rows has one and it never decreases; else the row number."""
    if table.shared_rows:
        for key in ALIGN_KEYS:
            for c in table.columns:
                if c.numeric and " ".join(_words(c.name)) == key:
                    full = np.full(table.n_rows, np.nan)
                    full[c.rows] = c.values
                    xa, xb = full[a.rows], full[b.rows]
                    finite = np.isfinite(xa).all() and np.isfinite(xb).all()
                    if finite and (np.diff(xa) >= 0).all() and (np.diff(xb) >= 0).all():
                        return xa, xb
    return np.asarray(a.rows, dtype=float), np.asarray(b.rows, dtype=float)


def _lined_up(train: _Column, val: _Column, table: _Table) -> np.ndarray:
    """The training curve at the validation curve's points: the mean of the training values
    since the previous validation value (up to its position); the last one before it when
    there are none in between; NaN before the first."""
    tx, vx = _positions(table, train, val)
    ty = train.values
    ends = np.searchsorted(tx, vx, side="right")
    out = np.full(vx.size, np.nan)
    start = 0
    for i, end in enumerate(ends):
        if end > start:
            out[i] = float(np.mean(ty[start:end]))
        elif end > 0:
            out[i] = ty[end - 1]
        start = max(start, int(end))
    return out


# --------------------------------------------------------------------------- judging


def judge(
    log: LossLog,
    thresholds: Thresholds | None = None,
    *,
    n_classes: int | None = None,
    loss_name: str | None = None,
) -> dict:
    """The ``lrdiag classify`` document of one log::

        {"file", "format", "loss", "classes",
         "curves": [{"name", "verdict", "reason", "flags", "metrics", "train_curve", "x"}]}

    ``thresholds``, ``n_classes`` and ``loss_name`` override those an lrdiag results.json
    carries; ``train_curve`` names the training curve a validation curve was judged with; ``x``
    the axis the reason names positions on ("step", "epoch", or None: value k reads as epoch k).
    The metrics' ``*_epoch`` entries are indices into the curve's values, whatever the axis.
    """
    th = thresholds or log.thresholds or Thresholds()
    k = n_classes if n_classes is not None else log.n_classes
    loss = loss_name if loss_name is not None else log.loss_name
    rows = []
    for c in log.curves:
        v = classify(
            c.values,
            th,
            n_classes=k,
            loss_name=loss,
            train_curve=c.train,
            x=c.x,
            x_name=c.x_name or "epoch",
        )
        rows.append(
            {
                "name": c.name,
                "verdict": v.verdict,
                "reason": v.reason,
                "flags": list(v.flags),
                "metrics": dict(v.metrics),
                "train_curve": c.train_name,
                "x": c.x_name,
            }
        )
    return {"file": log.source, "format": log.format, "loss": loss, "classes": k, "curves": rows}
