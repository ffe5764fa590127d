"""A loss log read into columns: what every reader of lrdiag.logs builds (a ``Table`` of
``Column`` s), the cell and name rules they share, and the curves and logs they end in
(``Curve``, ``LossLog``, ``Run``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrdiag.consistency import AccuracyPair
from lrdiag.errors import InputError
from lrdiag.thresholds import Thresholds

EXPECTED = (
    "expected a loss log: CSV with a header row, JSON (a list of numbers, an object of lists, "
    "or an lrdiag results.json), plain text with one number a line, or training output as "
    "Keras or PyTorch scripts print it (Epoch 1/10 ... - loss: 0.52)"
)
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
# Cells that mean "not logged on this row" (Keras CSVLogger writes NA, fastai's table #na#),
# compared upper-case.
MISSING_CELLS = frozenset({"NA", "N/A", "#NA#"})
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
    full_batch: bool = False  # from an lrdiag results.json: a sweep without a batch_size
    notes: tuple[str, ...] = ()  # things the reader skipped, split or read upside down
    runs: int = 1  # runs the log was split into where it restarts
    pairs: tuple[AccuracyPair, ...] = ()  # accuracy columns beside their loss (consistency)


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


class Bad:
    """The result of a cell that is not a number."""


BAD = Bad()


def parse_number(cell: Any, *, decimal_comma: bool = False) -> float | None | Bad:
    """A cell as a float (NaN/inf in any spelling float() takes), None when empty (missing),
    ``BAD`` when not a number. JSON ``null`` is a non-finite value, not a missing one."""
    if cell is None:
        return math.nan
    if isinstance(cell, bool):
        return BAD
    if isinstance(cell, float):
        return cell
    if isinstance(cell, int):
        return float(cell) if abs(cell) < 2**1023 else (math.inf if cell > 0 else -math.inf)
    if not isinstance(cell, str):
        return BAD
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
    return BAD


@dataclass
class Column:
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
            x = parse_number(cell, decimal_comma=self.decimal_comma)
            if x is BAD:
                line = self.lines[k] if self.lines else None
                at = self.place.format(k=k, row=self.rows[k], line=line, name=self.name)
                self._bad = f"{at}: {short(cell)} is not a number"
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
class Table:
    source: str
    format: str
    columns: list[Column]
    n_rows: int
    shared_rows: bool = True  # rows line up across columns (not so for lists of other lengths)
    spans: list[tuple[int, int]] | None = None  # each row's first and last line (None: records)
    records: list[int] | None = None  # JSON: each row's record (None: row k is record k)

    def __post_init__(self):
        seen: dict[str, int] = {}
        for c in self.columns:
            if c.name in seen:
                raise InputError(f"{self.source}: the column name {c.name!r} appears twice")
            seen[c.name] = 1
            c.parse()


def short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def _words(name: str) -> list[str]:
    return [w for w in _WORD.split(name.lower()) if w]


def _is_index(words: Sequence[str]) -> bool:
    key = " ".join(words)
    return not key or key in INDEX_NAMES or key.startswith("unnamed")


def is_missing(cell: str) -> bool:
    """An empty cell, or a spelling of "not logged here" (a missing value, not a non-finite one)."""
    s = cell.strip()
    return not s or s.upper() in MISSING_CELLS


def make_column(name: str, **kw) -> Column:
    name = name.strip()
    words = tuple(_words(name))
    return Column(name=name, rows=[], cells=[], is_index=_is_index(words), words=words, **kw)
