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
* **printed training output** (lrdiag.console): Keras's console output (``Epoch 1/10`` lines and
  progress bars), or one line an epoch as PyTorch scripts print it (``Epoch [1/50], Train Loss:
  0.123, Val Loss: 0.145``); its ``epoch`` (or ``step``) column is the number printed.

Everywhere: blank lines and lines starting with ``#`` are skipped (outside JSON); ``nan``,
``inf``, ``-inf``, ``Infinity`` in any case are non-finite values; an empty cell, or ``NA``
(what Keras ``CSVLogger`` writes for a metric not computed that epoch, such as the ``val_``
columns between validations with ``validation_freq`` > 1), is a missing value (the row is
skipped for that curve). A curve is indexed by its own values in row order; a column with one
value (a final ``test_loss``) is not a curve: not judged, and named in a note.

Lines are counted as an editor counts them (1-based, the header is line 1, newlines only);
JSON records from 0, as jq counts them.

**Appended runs.** Where the epoch column (or, without one, the step column) goes back, the
log was appended to after a restart (Keras ``CSVLogger(append=True)`` writes no second header;
a pasted console log shows ``Epoch 1/10`` again): the rows are split into runs there, each run
judged on its own (its curves named ``loss (run 3 of 4, lines 22-31)``, a validation curve
paired with its own run's training curve), the last run first.

A curve's x-axis, which its reason names positions by ("a transient spike at step 600"), is an
index column's values at the curve's rows, when all of them are there and strictly increasing:
an epoch column holding whole numbers (one value per epoch: Keras ``CSVLogger``, Lightning's
``val_loss`` and ``train_loss_epoch``, Hugging Face's per-epoch ``eval_loss``), else a step
column (``step``, ``global step``, ``iteration``, ...: TensorBoard's exports, Lightning's
per-step losses, Hugging Face's training loss and per-step evaluations, whose epochs are
fractions: a step is exact where a fraction is rounded), else an epoch column of fractions, else
none. Wall-time columns never are. Without one, a run of a split log and a printed log are read
against the file's lines ("a spike at line 40"), so that a position is always one the file has;
elsewhere (plain text, a JSON list, a Keras ``history.history``) value k is epoch k; so it is
in an lrdiag results.json, where ``loss[k]`` is the loss after epoch k.

Curves: the ``--column`` names given, else every column whose name contains "loss" (any case),
else the single numeric column that is not an epoch/step/time column, nor a metric where higher
is better (accuracy, AUC, F1, ...) or the learning rate: judged as a loss, a rising accuracy
would read as diverging. Picked with ``--column``, such a metric is judged as its negative
(``val_accuracy (negated)``) and the learning rate as it is, each with a note. An accuracy
column beside its loss is checked against it (lrdiag.consistency). A validation curve
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

from lrdiag import consistency, console
from lrdiag.classify import LOSS_NAMES, Thresholds, classify
from lrdiag.consistency import AccuracyPair
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
HIGHER_WORDS = frozenset(
    {"acc", "accuracy", "auc", "f1", "precision", "recall", "iou", "miou", "dice", "bleu", "rouge"}
)
LR_WORDS = frozenset({"lr", "learning"})
NOT_LOSS_WORDS = HIGHER_WORDS | LR_WORDS
# What a column picked with --column is when it is not a loss (see _kind).
HIGHER_IS_BETTER, LEARNING_RATE = "higher is better", "learning rate"
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

# Formats read from console output (lrdiag.console): no axis column means the file's lines.
CONSOLE_FORMATS = frozenset({"keras-console", "epoch-lines"})
MAX_LISTED = 10  # restarts, one-value columns listed by name in a note; more are "..."

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
    x_name: str | None = None  # "step", "epoch", "line", "record" (None: value k is epoch k)
    column: str = ""  # the log's column (name is the column, "(negated)" and the run)
    run: Run | None = None  # the run of a log appended to after restarts (None: not split)
    kind: str | None = None  # a column that is not a loss: HIGHER_IS_BETTER, LEARNING_RATE


@dataclass(frozen=True)
class LossLog:
    source: str  # the file as given, or "<stdin>"
    format: str  # csv, tsv, ssv (semicolons), table (spaces), text, json, jsonl, lrdiag-results
    columns: tuple[str, ...]  # every column (curve name) the log has, for --column
    curves: tuple[Curve, ...]  # the selected curves, in the log's order
    loss_name: str | None = None  # from an lrdiag results.json
    n_classes: int | None = None  # from an lrdiag results.json
    thresholds: Thresholds | None = None  # from an lrdiag results.json
    notes: tuple[str, ...] = ()  # things the reader skipped, split or read upside down
    runs: int = 1  # runs the log was split into where it restarts
    pairs: tuple[AccuracyPair, ...] = ()  # accuracy columns beside their loss (consistency)


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
        for i, line in _numbered(text)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(f"{source}: only comments and blank lines; {EXPECTED}")
    first = lines[0][1].strip()
    if _number(first) is not _BAD:
        return _from_text(lines, source, columns)
    printed = console.read(_lines(text))
    if printed is not None:
        return _from_printed(printed, source, columns)
    return _from_table(lines, source, columns)


def _lines(text: str) -> list[tuple[int, str]]:
    """The text's lines as an editor numbers them (1-based, split at newlines only): a
    terminal's carriage returns and backspaces stay inside (lrdiag.console reads them)."""
    return list(enumerate((line.rstrip("\r") for line in text.split("\n")), start=1))


def _numbered(text: str):
    """The text's lines, split as str.splitlines splits them, each with its line number as an
    editor counts it (newlines only: a CSV ending its lines in \\r\\r\\n, or a \\r inside
    one, does not shift the lines after it). Without a newline (old Mac files end lines in \\r
    alone), every piece is a line."""
    if "\n" not in text:
        yield from enumerate(text.splitlines(), start=1)
        return
    for i, line in _lines(text):
        for piece in line.splitlines():
            yield i, piece


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
    words: tuple[str, ...] = ()  # the name's lower-case words, split once (see _words)
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
    spans: list[tuple[int, int]] | None = None  # each row's first and last line (None: records)

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


def _is_index(words: Sequence[str]) -> bool:
    key = " ".join(words)
    return not key or key in INDEX_NAMES or key.startswith("unnamed")


def _missing(cell: str) -> bool:
    """An empty cell, or a spelling of "not logged here" (a missing value, not a non-finite one)."""
    s = cell.strip()
    return not s or s.upper() in MISSING_CELLS


def _make_column(name: str, **kw) -> _Column:
    name = name.strip()
    words = tuple(_words(name))
    return _Column(name=name, rows=[], cells=[], is_index=_is_index(words), words=words, **kw)


def _from_printed(printed: console.Printed, source: str, columns) -> LossLog:
    """A Keras console log or a log of one line an epoch (lrdiag.console) as a table."""
    cols: dict[str, _Column] = {}
    for r, row in enumerate(printed.rows):
        for name, value in row.values.items():
            if name not in cols:
                cols[name] = _make_column(name)
                cols[name].place, cols[name].lines = "line {line}, {name!r}", []
            c = cols[name]
            c.rows.append(r)
            c.cells.append(value)
            c.lines.append(row.last)
    spans = [(row.first, row.last) for row in printed.rows]
    table = _Table(source, printed.format, list(cols.values()), len(printed.rows), spans=spans)
    return _curves(table, columns)


def _from_text(lines, source, columns) -> LossLog:
    values, spans = [], []
    for lineno, line in lines:
        if _missing(line):
            continue
        spans.append((lineno, lineno))
        x = _number(line)
        if x is _BAD:
            raise InputError(
                f"{source}: line {lineno}: {_short(line.strip())} is not a number (plain text "
                "holds one number a line; for several columns use CSV with a header row)"
            )
        values.append(x)
    col = _make_column(TEXT_CURVE)
    col.cells, col.rows = values, list(range(len(values)))
    return _curves(_Table(source, "text", [col], len(values), spans=spans), columns)


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
    n_rows, spans = 0, []
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
        spans.append((lineno, lineno))
        n_rows += 1
    return _curves(_Table(source, fmt, cols, n_rows, spans=spans), columns)


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
    candidates = [c for c in rest if not NOT_LOSS_WORDS.intersection(c.words)]
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
    """The chosen columns as curves: split into runs where the log restarts, each run's curves
    read on their own axis and lined up with their own run's training curve; the last run's
    curves first (the headline), then the earlier runs' in file order."""
    chosen = _select(table, wanted)
    index = _Index(table)
    runs, notes = _runs(table, index)
    kinds = {c.name: _kind(c) for c in chosen}
    notes += [_kind_note(c.name, kinds[c.name]) for c in chosen if kinds[c.name]]
    rows = {c.name: np.asarray(c.rows, dtype=np.intp) for c in chosen}
    single: list[str] = []
    curves = []
    order = [len(runs) - 1, *range(len(runs) - 1)] if len(runs) > 1 else [0]
    for r in order:
        lo, hi = runs[r]
        run = None if len(runs) == 1 else _run_info(table, r, len(runs), lo, hi)
        for c in chosen:
            sub = _in_run(rows[c.name], lo, hi)
            values = c.values[sub]
            if values.size == 0:
                continue
            name = _curve_name(c.name, kinds[c.name], run)
            if values.size == 1:
                single.append(_single(table, c, sub.start, name))
                continue
            x, x_name = index.axis(c, rows[c.name][sub], fallback=run is not None)
            partner = index.partner(c)
            train, train_name = None, None
            if partner is not None:
                psub = _in_run(np.asarray(partner.rows, dtype=np.intp), lo, hi)
                if psub.stop > psub.start:
                    train = _lined_up(index, partner, psub, c, sub)
                    if kinds[c.name] == HIGHER_IS_BETTER:
                        train = -train
                    train_name = _curve_name(partner.name, kinds[c.name], run)
            if kinds[c.name] == HIGHER_IS_BETTER:
                values = -values
            curves.append(
                Curve(
                    name,
                    values,
                    train,
                    train_name,
                    x,
                    x_name,
                    column=c.name,
                    run=run,
                    kind=kinds[c.name],
                )
            )
    if single:
        notes.append(_single_note(single))
    return LossLog(
        table.source,
        table.format,
        tuple(c.name for c in table.columns),
        tuple(curves),
        notes=tuple(notes),
        runs=len(runs),
        pairs=_accuracy_pairs(table, index),
    )


def _in_run(rows: np.ndarray, lo: int, hi: int) -> slice:
    """The slice of a column's values that lie on rows lo..hi-1 (its rows are ascending)."""
    start, stop = np.searchsorted(rows, [lo, hi])
    return slice(int(start), int(stop))


def _kind(col: _Column) -> str | None:
    """What a column named with --column is when it is not a loss: HIGHER_IS_BETTER (accuracy,
    AUC, ...), LEARNING_RATE, or None (a loss, or nothing known)."""
    if "loss" in col.name.lower():
        return None
    if HIGHER_WORDS.intersection(col.words):
        return HIGHER_IS_BETTER
    if LR_WORDS.intersection(col.words):
        return LEARNING_RATE
    return None


def _kind_note(name: str, kind: str) -> str:
    if kind == HIGHER_IS_BETTER:
        return (
            f"{name!r} is a metric where higher is better (accuracy, AUC, ...), not a loss: "
            f"judged upside down, as its negative (the curve '{name} (negated)')"
        )
    return (
        f"{name!r} is the learning rate, not a loss: its verdict describes the schedule's "
        "shape (a decaying schedule reads as converging)"
    )


def _curve_name(column: str, kind: str | None, run: Run | None) -> str:
    parts = [column + (" (negated)" if kind == HIGHER_IS_BETTER else "")]
    if run is not None:
        parts.append(f"({run.label()})")
    return " ".join(parts)


def _single(table: _Table, col: _Column, k: int, name: str) -> str:
    return f"{name!r} ({_g(col.values[k])} at {_where(table, col.rows[k])})"


def _single_note(items: list[str]) -> str:
    if len(items) == 1:
        return f"{items[0]} holds one value: a number, not a curve; not judged"
    shown = ", ".join(items[:MAX_LISTED]) + (", ..." if len(items) > MAX_LISTED else "")
    return f"{len(items)} columns hold one value each, not curves; not judged: {shown}"


def _g(v: float) -> str:
    return f"{v:.6g}"


def _where(table: _Table, row: int) -> str:
    """A row as the reader finds it: "line 23" in a table or console log (1-based, the header
    is line 1), "record 20" in JSON (0-based, as jq and Python count)."""
    if table.spans is None:
        return f"record {row}"
    return f"line {table.spans[row][1]}"


@dataclass(frozen=True)
class Run:
    """One run of a log appended to after restarts (see ``_runs``)."""

    index: int  # 1-based, in file order
    of: int  # how many runs the log holds
    first: int  # its first line (1-based) or record (0-based)
    last: int  # its last line or record
    unit: str  # "line" or "record"

    def label(self) -> str:
        """ "run 3 of 4, lines 22-31" ("line 5" for a run of one row)"""
        where = f"{self.unit} {self.first}"
        if self.last != self.first:
            where = f"{self.unit}s {self.first}-{self.last}"
        return f"run {self.index} of {self.of}, {where}"

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "of": self.of,
            "first": self.first,
            "last": self.last,
            "unit": self.unit,
        }


def _run_info(table: _Table, r: int, n: int, lo: int, hi: int) -> Run:
    if table.spans is None:
        return Run(r + 1, n, lo, hi - 1, "record")
    return Run(r + 1, n, table.spans[lo][0], table.spans[hi - 1][1], "line")


def _runs(table: _Table, index: _Index) -> tuple[list[tuple[int, int]], list[str]]:
    """The row ranges of the runs in a log appended to after restarts (Keras's
    ``CSVLogger(append=True)`` writes no second header): a new run starts wherever the epoch
    column goes back (or, without an epoch column, the step column), and a note says so."""
    col = index.restart_column()
    if col is None:
        return [(0, table.n_rows)], []
    v = col.values
    back = np.flatnonzero(v[1:] < v[:-1]) + 1  # NaN compares False: never a restart
    if not back.size:
        return [(0, table.n_rows)], []
    starts = [0, *(col.rows[i] for i in back)]
    ranges = list(zip(starts, [*starts[1:], table.n_rows], strict=True))
    unit = ("record" if table.spans is None else "line") + "s" * (len(starts) > 2)
    # where each restarting row begins (in a Keras console log, its "Epoch 1/10" line)
    at = [str(s if table.spans is None else table.spans[s][0]) for s in starts[1:]]
    listed = ", ".join(at[:MAX_LISTED]) + (", ..." if len(at) > MAX_LISTED else "")
    note = f"the {col.name} column restarts at {unit} {listed}: judged as {len(ranges)} runs"
    return ranges, [note]


class _Index:
    """What every curve of a table is looked up in, built once, so that a log of 10,000
    columns costs 10,000 look-ups, not 10,000 squared: its axis columns, the columns that line
    a validation curve up with its training curve, and the training curves by name."""

    def __init__(self, table: _Table):
        self.table = table
        self.axes: list[tuple[str, _Column, np.ndarray]] = []  # (kind, column, value by row)
        self.align: list[np.ndarray] = []  # ALIGN_KEYS columns' values by row, finest first
        self.train: dict[tuple[str, ...], list[_Column]] = {}  # name words -> columns
        align: dict[str, list[np.ndarray]] = {key: [] for key in ALIGN_KEYS}
        for c in table.columns:
            if not c.numeric:
                continue
            key = " ".join(c.words)
            kind = next((k for k, names in AXIS_NAMES.items() if key in names), None)
            if table.shared_rows and (kind is not None or key in align):
                full = np.full(table.n_rows, np.nan)
                full[c.rows] = c.values
                if kind is not None:
                    self.axes.append((kind, c, full))
                if key in align:
                    align[key].append(full)
            if not VAL_WORDS.intersection(c.words):
                base = tuple(w for w in c.words if w not in TRAIN_WORDS)
                self.train.setdefault(base, []).append(c)
        self.align = [full for key in ALIGN_KEYS for full in align[key]]

    def restart_column(self) -> _Column | None:
        """The column whose going back means a restart: the first epoch column, else the first
        step column (a step that restarts under a steady epoch counts batches within it)."""
        for kind in ("epoch", "step"):
            for k, c, _ in self.axes:
                if k == kind:
                    return c
        return None

    def axis(self, col: _Column, rows: np.ndarray, *, fallback: bool):
        """The x-axis of col's values on ``rows`` and its name: an index column's values there,
        when all there and strictly increasing: an epoch column of whole numbers first, then a
        step column, then an epoch column of fractions (see the module's docstring). Else, with
        ``fallback`` (a run of a split log, a console log), the file's lines (or records), so
        that a reason's positions are ones the file has; else none (value k is epoch k)."""
        whole = step = fraction = None
        for kind, c, full in self.axes:
            if c is col:
                continue
            x = full[rows]
            if not (np.isfinite(x).all() and (np.diff(x) > 0).all()):
                continue
            if kind == "step":
                step = x if step is None else step
            elif (x == np.round(x)).all():
                whole = x if whole is None else whole
            else:
                fraction = x if fraction is None else fraction
        for x, name in ((whole, "epoch"), (step, "step"), (fraction, "epoch")):
            if x is not None:
                return x, name
        if fallback or self.table.format in CONSOLE_FORMATS:
            if self.table.spans is None:
                return rows.astype(float), "record"
            return np.asarray([self.table.spans[r][1] for r in rows], dtype=float), "line"
        return None, None

    def partner(self, col: _Column) -> _Column | None:
        """The training curve of a validation curve: the same name without the validation word
        (and without a training word), or with an _epoch / _step suffix (Lightning)."""
        if not VAL_WORDS.intersection(col.words):
            return None
        base = tuple(w for w in col.words if w not in VAL_WORDS)
        if not base:
            return None
        for suffix in ((), ("epoch",), ("step",)):
            for c in self.train.get(base + suffix, ()):
                if c is not col and (self.table.shared_rows or c.values.size == col.values.size):
                    return c
        return None

    def positions(self, a_rows: np.ndarray, b_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where two curves' values sit: the step (or epoch) logged on their rows when every one
        of those rows has one and it never decreases; else the row number."""
        for full in self.align:
            xa, xb = full[a_rows], full[b_rows]
            finite = np.isfinite(xa).all() and np.isfinite(xb).all()
            if finite and (np.diff(xa) >= 0).all() and (np.diff(xb) >= 0).all():
                return xa, xb
        return a_rows.astype(float), b_rows.astype(float)


# Words of an accuracy column that its loss column has not: "val_sparse_categorical_accuracy"
# pairs with "val_loss", "train_acc_epoch" with "train_loss_epoch".
ACCURACY_WORDS = frozenset({"acc", "accuracy"})
ACCURACY_KINDS = frozenset({"binary", "categorical", "sparse"})


def _accuracy_pairs(table: _Table, index: _Index) -> tuple[AccuracyPair, ...]:
    """Each accuracy column with the loss column of the same name, on their common rows."""
    if not table.shared_rows:
        return ()
    losses = {c.words: c for c in table.columns if c.numeric and "loss" in c.words}
    epoch = next((full for kind, _, full in index.axes if kind == "epoch"), None)

    def where(rows: np.ndarray):
        def at(k: int) -> str:
            row = int(rows[k])
            place = _where(table, row)
            if epoch is not None and np.isfinite(epoch[row]):
                place += f" (epoch {_g(epoch[row])})"
            return place

        return at

    pairs = []
    for c in table.columns:
        if not (c.numeric and ACCURACY_WORDS.intersection(c.words)):
            continue
        key = tuple(
            "loss" if w in ACCURACY_WORDS else w for w in c.words if w not in ACCURACY_KINDS
        )
        loss = losses.get(key)
        if loss is None:
            continue
        rows, li, ai = np.intersect1d(loss.rows, c.rows, assume_unique=True, return_indices=True)
        if rows.size:
            pair = AccuracyPair(loss.name, c.name, loss.values[li], c.values[ai], where(rows))
            pairs.append(pair)
    return tuple(pairs)


def _lined_up(index: _Index, train: _Column, tsub: slice, val: _Column, vsub: slice) -> np.ndarray:
    """The training curve at the validation curve's points (each on the rows ``tsub`` and
    ``vsub`` of one run): the mean of the training values since the previous validation value
    (up to its position); the last one before it when there are none in between; NaN before
    the first."""
    t_rows = np.asarray(train.rows[tsub], dtype=np.intp)
    v_rows = np.asarray(val.rows[vsub], dtype=np.intp)
    tx, vx = index.positions(t_rows, v_rows)
    ty = train.values[tsub]
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

        {"file", "format", "loss", "classes", "runs", "notes",
         "curves": [{"name", "column", "run", "negated", "verdict", "reason", "flags",
                     "metrics", "train_curve", "x"}]}

    ``thresholds``, ``n_classes`` and ``loss_name`` override those an lrdiag results.json
    carries. ``runs`` counts the runs a log appended to after restarts was split into (1: not
    split); a curve's ``run`` is null or {"index", "of", "first", "last", "unit"} (its lines,
    1-based, or records, 0-based), and the last run's curves come first. ``notes`` are what
    the reader says beside the verdicts (a split, a one-value column skipped, a metric read
    upside down, an accuracy that contradicts its loss). ``column`` is the log's column;
    ``negated`` marks a higher-is-better column judged as its negative; ``train_curve`` names
    the training curve a validation curve was judged with; ``x`` the axis the reason names
    positions on ("step", "epoch", "line", "record", or None: value k reads as epoch k). The
    metrics' ``*_epoch`` entries are indices into the curve's values, whatever the axis.
    """
    th = thresholds or log.thresholds or Thresholds()
    k = n_classes if n_classes is not None else log.n_classes
    loss = loss_name if loss_name is not None else log.loss_name
    rows = []
    for c in log.curves:
        is_loss = not c.column or c.kind is None  # a learning rate is no cross-entropy
        v = classify(
            c.values,
            th,
            n_classes=k if is_loss else None,
            loss_name=loss if is_loss else None,
            train_curve=c.train,
            x=c.x,
            x_name=c.x_name or "epoch",
        )
        reason = v.reason
        if c.kind == HIGHER_IS_BETTER:
            reason += f" (values of -{c.column}: higher is better, so read negated)"
        rows.append(
            {
                "name": c.name,
                "column": c.column or c.name,
                "run": None if c.run is None else c.run.to_dict(),
                "negated": c.kind == HIGHER_IS_BETTER,
                "verdict": v.verdict,
                "reason": reason,
                "flags": list(v.flags),
                "metrics": dict(v.metrics),
                "train_curve": c.train_name,
                "x": c.x_name,
            }
        )
    notes = list(log.notes)
    for pair in log.pairs:
        notes += consistency.notes(pair, loss, k)
    return {
        "file": log.source,
        "format": log.format,
        "loss": loss,
        "classes": k,
        "runs": log.runs,
        "notes": notes,
        "curves": rows,
    }
