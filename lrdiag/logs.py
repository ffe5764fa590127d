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
  a row), TensorBoard's scalar export ``Wall time,Step,Value``; in long form (a metric name
  column beside a ``value`` column: MLflow's metric history), a column a metric (lrdiag.longform).
* **printed training output** (lrdiag.console): Keras's console output (``Epoch 1/10`` lines and
  progress bars), or one line an epoch as PyTorch scripts print it (``Epoch [1/50], Train Loss:
  0.123, Val Loss: 0.145``); its ``epoch`` (or ``step``) column is the number printed.

Everywhere: a number printed as ``tensor(0.69, grad_fn=...)`` or ``np.float32(0.69)`` is the
number (lrdiag.console.unwrap); blank lines and lines starting with ``#`` are skipped (outside
JSON); ``nan``, ``inf``, ``-inf``, ``Infinity`` in any case are non-finite values; an empty
cell, or ``NA`` (what Keras ``CSVLogger`` writes for a metric not computed that epoch, such as
the ``val_`` columns between validations with ``validation_freq`` > 1) or ``#na#`` (fastai's
table), is a missing value (the row is skipped for that curve). A curve is indexed by its own
values in row order; a column with one value (a final ``test_loss``) is not a curve: not
judged, and named in a note.

Lines are counted as an editor counts them (1-based, the header is line 1, newlines only);
JSON records from 0, as jq counts them.

Which columns become curves, split where the log restarts, on which axis, paired with which
training curve: lrdiag.pick. ``judge`` gives each its verdict.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrdiag import consistency, console, curvestore, longform
from lrdiag.classify import LOSS_NAMES, Thresholds, classify
from lrdiag.errors import InputError
from lrdiag.logtable import (
    BAD,
    EXPECTED,
    Column,
    Curve,
    LossLog,
    Run,  # noqa: F401 (re-exported: a Curve's run)
    Table,
    is_missing,
    make_column,
    parse_number,
    short,
)
from lrdiag.pick import (
    HIGHER_IS_BETTER,
    LEARNING_RATE,  # noqa: F401 (re-exported: a Curve's kind)
    find_column,
    pick_curves,
)
from lrdiag.thresholds import CHANCE_CLASSES

STDIN = "<stdin>"
TEXT_CURVE = "loss"  # the name of the one curve of a plain-text log or a JSON list of numbers
# Files read when a directory is given: an lrdiag sweep's output, a Lightning version folder, a
# Hugging Face checkpoint folder.
DIRECTORY_LOGS = ("results.json", "metrics.csv", "trainer_state.json")

_DELIMITERS = (",", "\t", ";")
# A cell starting with one of these is no missing value (is_missing: empty, NA, N/A, #na#)
_NUMBER_STARTS = frozenset("0123456789+-.")
# What str.splitlines splits at besides a newline (a CR, a form feed, Unicode's separators)
_OTHER_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


# --------------------------------------------------------------------------- reading


MAX_LOG_BYTES = 512 * 1024**2  # a log is read whole: past this, an error, not a memory blow-up


def read_capped(stream, source: str) -> bytes:
    """At most MAX_LOG_BYTES from a binary stream (a file, stdin); InputError past that (an
    endless /dev/zero included)."""
    data = stream.read(MAX_LOG_BYTES + 1)
    if len(data) > MAX_LOG_BYTES:
        raise InputError(
            f"{source}: larger than {MAX_LOG_BYTES // 1024**2} MiB, and a log is read whole; "
            "judge a part of it (tail -n 100000 FILE | lrdiag classify -)"
        )
    return data


# TensorBoard's event files are protobuf records lrdiag does not read: what to do instead.
_TFEVENTS_HINT = "export TensorBoard scalars as CSV or JSON from its web page first"

# Compressed logs, told by their first bytes: gzip (log.csv.gz), bzip2 and xz are read through
# Python's own modules, up to MAX_LOG_BYTES decompressed; archives are named, not opened.
_COMPRESSED = {
    b"\x1f\x8b": ("gzip", "gzip"),
    b"BZh": ("bz2", "bzip2"),
    b"\xfd7zXZ\x00": ("lzma", "xz"),
}
_ARCHIVES = {b"PK\x03\x04": "a zip archive", b"\x28\xb5\x2f\xfd": "zstd-compressed"}


def _decompressed(data: bytes, source: str) -> bytes:
    """``data`` itself, or, when it starts as a gzip, bzip2 or xz file does, its content (at
    most MAX_LOG_BYTES: a small file that decompresses to gigabytes is refused as a large log)."""
    for magic, what in _ARCHIVES.items():
        if data.startswith(magic):
            raise InputError(f"{source}: {what}, not a loss log; extract the log file first")
    found = next((m for magic, m in _COMPRESSED.items() if data.startswith(magic)), None)
    if found is None:
        return data
    module, name = found
    import importlib
    import io

    opener = importlib.import_module(module).open
    try:
        with opener(io.BytesIO(data), "rb") as f:
            return read_capped(f, source)
    except (OSError, EOFError, ValueError) as e:  # BadGzipFile, LZMAError, truncated data
        raise InputError(f"{source}: {name} data that cannot be decompressed: {e}") from None


def read_log(path: str | os.PathLike, *, columns: Sequence[str] = ()) -> LossLog:
    """Read a loss log file (a directory: its results.json or metrics.csv)."""
    source = str(path)
    if not source:  # Path("") is ".": an unset shell variable would read the current directory
        raise InputError("an empty file name: give a log file (or - for stdin)")
    p = Path(path)
    if p.is_dir():
        found = [p / name for name in DIRECTORY_LOGS if (p / name).is_file()]
        if not found:
            events = next(p.glob("events.out.tfevents*"), None) or next(
                p.glob("*/events.out.tfevents*"), None
            )  # a TensorBoard log directory (runs/exp1, or its train/ and validation/)
            raise InputError(
                f"{source}: is a directory with no {', '.join(DIRECTORY_LOGS[:-1])} or "
                f"{DIRECTORY_LOGS[-1]}; "
                + (_TFEVENTS_HINT if events else "give the log file itself")
            )
        p, source = found[0], str(found[0])
    try:
        with p.open("rb") as f:
            data = read_capped(f, source)
    except FileNotFoundError:
        raise InputError(f"{source}: file not found") from None
    except PermissionError:
        raise InputError(f"{source}: permission denied") from None
    except OSError as e:
        raise InputError(f"{source}: cannot read the file: {e.strerror or e}") from None
    return parse_log(data, source, columns=columns)


def parse_log(data: bytes | str, source: str = STDIN, *, columns: Sequence[str] = ()) -> LossLog:
    """Parse the content of a loss log (gzip, bzip2 or xz compressed too); ``source`` names it
    in errors."""
    if isinstance(data, bytes):
        data = _decompressed(data, source)
    text = _decode(data, source) if isinstance(data, bytes) else data.lstrip("\ufeff")
    text = console.unwrap(text)  # "loss: tensor(0.69, grad_fn=...)", printed or in a cell
    head = text.lstrip()
    if not head:
        raise InputError(f"{source}: the file is empty; {EXPECTED}")
    if head[0] in "[{" and not console.EPOCH_BATCH.match(head.split("\n", 1)[0]):
        return _from_json(text, source, columns)
    lines = [(i, line) for i, line in _numbered(text) if (s := line.lstrip()) and s[0] != "#"]
    if not lines:
        raise InputError(f"{source}: only comments and blank lines; {EXPECTED}")
    first = lines[0][1].strip()
    if parse_number(first) is not BAD:
        return _from_text(lines, source, columns)
    printed = console.read(console.candidates(text))  # a table's rows: passed over
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
    if not _OTHER_BREAKS.search(text):  # each line one piece (an empty line none)
        yield from ((i, line) for i, line in enumerate(text.split("\n"), start=1) if line)
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
            hint = f" ({_TFEVENTS_HINT})"
        raise InputError(f"{source}: a binary file, not a loss log{hint}; {EXPECTED}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # numbers are ASCII; only column names could be off


def _from_printed(printed: console.Printed, source: str, columns) -> LossLog:
    """A Keras console log or a log of one line an epoch (lrdiag.console) as a table."""
    cols: dict[str, Column] = {}
    lines_of: dict[str, list[int]] = {}  # each column's lines (Column.lines)
    for r, row in enumerate(printed.rows):
        for name, value in row.values.items():
            if name not in cols:
                cols[name] = make_column(name)
                lines_of[name] = []
                cols[name].place, cols[name].lines = "line {line}, {name!r}", lines_of[name]
            c = cols[name]
            c.rows.append(r)
            c.cells.append(value)
            lines_of[name].append(row.last)
    spans = [(row.first, row.last) for row in printed.rows]
    table = Table(source, printed.format, list(cols.values()), len(printed.rows), spans=spans)
    return pick_curves(table, columns)


def _from_text(lines, source, columns) -> LossLog:
    values, spans = [], []
    for lineno, line in lines:
        if is_missing(line):
            continue
        spans.append((lineno, lineno))
        x = parse_number(line)
        if x is BAD:
            raise InputError(
                f"{source}: line {lineno}: {short(line.strip())} is not a number (plain text "
                "holds one number a line; for several columns use CSV with a header row)"
            )
        values.append(x)
    col = make_column(TEXT_CURVE)
    col.cells, col.rows = values, list(range(len(values)))
    return pick_curves(Table(source, "text", [col], len(values), spans=spans), columns)


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
    if all(parse_number(h) is not BAD for h in header if h):
        raise InputError(
            f"{source}: line {header_no}: expected a header row naming the columns "
            "(e.g. epoch,loss), found only numbers"
        )
    cols, sinks = [], []  # sinks[i]: cols[i]'s appends, looked up once (used once a cell)
    for i, h in enumerate(header):
        c = make_column(h or f"column {i + 1}", decimal_comma=decimal_comma)
        c.place, c.lines = "line {line}, column {name!r}", []
        c.is_index = c.is_index or not h
        cols.append(c)
        sinks.append((c.rows.append, c.cells.append, c.lines.append))
    n_rows, spans = 0, []
    body = lines[1:]
    # row by row: a list of every row's cells is the largest thing a big log would hold at once
    rows = split(line for _, line in body)
    counted = hasattr(rows, "line_num")  # csv.reader counts the lines it takes
    width, first = len(header), header[0]
    try:
        for k, ((lineno, _), cells) in enumerate(zip(body, rows, strict=False), start=1):
            if counted and rows.line_num != k:  # a quote left open swallows lines
                raise InputError(
                    f"{source}: a quoted cell is never closed (after line {header_no})"
                )
            n = len(cells)
            if n == width and cells[0].strip() == first and [c.strip() for c in cells] == header:
                continue  # the header again (logs appended to after a restart)
            if n > width and any(c.strip() for c in cells[width:]):
                raise InputError(f"{source}: line {lineno} has {n} fields, the header {width}")
            for (add_row, add_cell, add_line), cell in zip(sinks, cells, strict=False):
                if cell[:1] in _NUMBER_STARTS or not is_missing(cell):
                    add_row(n_rows)
                    add_cell(cell)
                    add_line(lineno)
            spans.append((lineno, lineno))
            n_rows += 1
    except csv.Error as e:
        raise InputError(f"{source}: not readable as {fmt.upper()}: {e}") from None
    try:
        return _pick(Table(source, fmt, cols, n_rows, spans=spans), columns)
    except InputError as e:
        if not _looks_printed(header):
            raise
        raise InputError(
            f"{source}: line {header_no} ({short(header_line.strip())}) holds numbers, so it is "
            "no header row, and the lines are no printed output lrdiag reads (an epoch or step, "
            "then its metrics: 'Epoch 3: loss=0.25'); " + EXPECTED
        ) from e


def _looks_printed(header: list[str]) -> bool:
    """A first line that holds a number among words ("loss: 0.52", "INFO epoch 1 loss 0.5"):
    printed output lrdiag did not recognise, not a header row."""
    words = [w for h in header for w in h.replace("=", " ").replace(":", " ").split()]
    return any(parse_number(w) is not BAD for w in words) and any(
        parse_number(w) is BAD for w in words
    )


def _pick(table: Table, columns) -> LossLog:
    """The table's curves (lrdiag.pick), a table in long form first given a column a metric."""
    wide = longform.widen(table)
    if wide is None:
        return pick_curves(table, columns)
    log = pick_curves(wide[0], columns)
    return dataclasses.replace(log, notes=(wide[1], *log.notes))


# --------------------------------------------------------------------------- JSON


def _from_json(text: str, source: str, columns) -> LossLog:
    try:
        doc = json.loads(text)
        fmt = "json"
    except json.JSONDecodeError as e:
        doc = _json_lines(text) if e.msg == "Extra data" else None
        if doc is None:
            printed = console.read(console.candidates(text))  # Python dicts a line: HF's prints
            if printed is not None:
                return _from_printed(printed, source, columns)
            if e.msg == "Extra data" and e.lineno == 1:  # "[0]\tvalidation_0-logloss:0.66"
                first = short(text.split("\n", 1)[0].strip())
                raise InputError(
                    f"{source}: line 1 ({first}) is no JSON, nor printed output lrdiag reads; "
                    + EXPECTED
                ) from None
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
            if not history:
                ended = doc["log_history"]  # only the summary Trainer writes when training ends
                only = " but the summary Trainer writes when training ends" if ended else ""
                raise InputError(
                    f"{source}: a Hugging Face trainer_state.json whose log_history holds no "
                    f"logged step{only}: no curve (TrainingArguments' logging_steps sets how "
                    "often the loss is logged)"
                )
            return _pick(_records(history, source, fmt, "log_history"), columns)
        metrics = doc.get("metrics")  # MLflow's REST get-history: {"metrics": [{key, ...}]}
        if isinstance(metrics, list) and metrics and isinstance(metrics[0], Mapping):
            return _pick(_records(metrics, source, fmt, "metrics"), columns)
        if "nbformat" in doc and isinstance(doc.get("cells"), list):  # a .ipynb
            raise InputError(
                f"{source}: a Jupyter notebook, not a loss log; save the training cell's "
                "printed output (or its history) to a file and give that"
            )
        if isinstance(doc.get("history"), Mapping):  # {"history": history.history, ...}
            doc = doc["history"]
        return pick_curves(_lists(doc, source), columns)
    if isinstance(doc, list):
        if not doc:
            raise InputError(f"{source}: the JSON list is empty; {EXPECTED}")
        if isinstance(doc[0], Mapping):
            return _pick(_records(doc, source, fmt, None), columns)
        if isinstance(doc[0], list):
            return pick_curves(_tensorboard_json(doc, source), columns)
        col = make_column(TEXT_CURVE)
        col.cells, col.rows = list(doc), list(range(len(doc)))
        col.place = "element {k}"
        table = Table(source, fmt, [col], len(doc))
        if not col.numeric:
            raise InputError(f"{source}: {col._bad}; expected a JSON list of numbers")
        return pick_curves(table, columns)
    raise InputError(f"{source}: the JSON holds {short(doc)}; {EXPECTED}")  # not reached


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


def _lists(doc: Mapping, source: str) -> Table:
    cols = []
    for name, v in doc.items():
        if isinstance(v, list):
            c = make_column(str(name))
            c.cells, c.rows = list(v), list(range(len(v)))
            c.place = "{name}[{k}]"
            cols.append(c)
    if not cols:
        raise InputError(f"{source}: the JSON object holds no lists of numbers; {EXPECTED}")
    lengths = {len(c.cells) for c in cols}
    return Table(source, "json", cols, max(lengths), shared_rows=len(lengths) == 1)


def _records(items: list, source: str, fmt: str, key: str | None) -> Table:
    cols: dict[str, Column] = {}
    for i, rec in enumerate(items):
        if not isinstance(rec, Mapping):
            where = f"{key}[{i}]" if key else f"element {i}"
            raise InputError(f"{source}: {where} is not an object like the others")
        for name, v in rec.items():
            name = str(name)
            if name not in cols:
                cols[name] = make_column(name)
                cols[name].place = f"{key}[{{row}}].{{name}}" if key else "record {row}, {name!r}"
            c = cols[name]
            c.rows.append(i)
            c.cells.append(v)
    if not cols:
        raise InputError(f"{source}: the records hold no values; {EXPECTED}")
    return Table(source, fmt, list(cols.values()), len(items))


def _tensorboard_json(doc: list, source: str) -> Table:
    if any(not isinstance(x, list) or len(x) != 3 for x in doc):
        raise InputError(
            f"{source}: a list of lists; expected TensorBoard's JSON export "
            "[[wall time, step, value], ...]"
        )
    cols = [make_column(n) for n in ("wall time", "step", "value")]
    for i, triple in enumerate(doc):
        for c, v in zip(cols, triple, strict=True):
            c.rows.append(i)
            c.cells.append(v)
            c.place = "element {row}, {name!r}"
    return Table(source, "json", cols, len(doc))


def _from_results(doc: Mapping, source: str, columns) -> LossLog:
    """An lrdiag results.json: every finished run's loss and val_loss (from the columnar file
    beside it, when its curves are there: ``curvestore``)."""
    from lrdiag.config import thresholds_from_dict

    if isinstance(doc.get("curves"), Mapping):
        if source == STDIN:
            raise InputError(
                f"{source}: this results.json keeps its curves in a file beside it: give its path"
            )
        doc = curvestore.join(doc, Path(source).parent)

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
    wanted = [find_column(list(available), c, source) for c in columns] or list(available)
    curves, skipped, n_classes = [], 0, None
    for r in runs:
        flags = r["flags"] if isinstance(r.get("flags"), list) else []
        if r.get("verdict") is None and "incomplete" in flags:
            skipped += 1
            continue
        metrics = r["metrics"] if isinstance(r.get("metrics"), Mapping) else {}
        chance = parse_number(metrics.get("chance", "")) if "chance" in metrics else None
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
    notes: tuple[str, ...] = ()
    if skipped:
        notes = (f"skipped {skipped} interrupted run{'s' if skipped > 1 else ''}",)
    if not curves:
        raise InputError(f"{source}: an lrdiag results.json with no finished runs to judge")
    loss_name = model.get("loss") if model.get("loss") in LOSS_NAMES else None
    training = config.get("training") if isinstance(config.get("training"), Mapping) else {}
    return LossLog(
        source,
        "lrdiag-results",
        available,
        tuple(curves),
        loss_name=loss_name,
        n_classes=n_classes,
        thresholds=thresholds,
        notes=notes,
        # a full batch is written "full" (null before schema_version 2)
        full_batch="batch_size" in training and training["batch_size"] in (None, "full"),
    )


def _run_label(r: Mapping) -> str:
    def number(v):
        return f"{v:g}" if isinstance(v, int | float) else str(v)

    lr, scale = number(r.get("learning_rate")), number(r.get("init_scale"))
    return f"lr {lr}, scale {scale}, seed {r.get('seed')}"


def _results_curve(v: Any, source: str, what: str) -> np.ndarray | None:
    if not isinstance(v, list) or not v:
        return None
    out = [parse_number(x) for x in v]
    if any(x is BAD or x is None for x in out):
        raise InputError(f"{source}: {what} holds something that is not a number")
    return np.asarray(out, dtype=float)


# --------------------------------------------------------------------------- judging


def _chance_evidence(
    log: LossLog, th: Thresholds, n_classes: int | None, loss_name: str | None
) -> dict[str, consistency.ChanceEvidence]:
    """By loss column: what the accuracy beside it says about a final level near ln K
    (``consistency.chance_evidence``), where nothing else says what chance is: no class count
    given and a loss that is not mse or bce (whose chance is ln 2, known). It applies to the
    column's last run (the accuracy's final values are the file's)."""
    if n_classes is not None or loss_name in ("mse", "bce"):
        return {}
    out = {}
    for pair in log.pairs:
        seen = consistency.chance_evidence(pair, CHANCE_CLASSES, th.chance_tol)
        if seen is not None:
            out[pair.loss] = seen
    return out


def judge(
    log: LossLog,
    thresholds: Thresholds | None = None,
    *,
    n_classes: int | None = None,
    loss_name: str | None = None,
    full_batch: bool = False,
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
    evidence = _chance_evidence(log, th, k, loss)
    read: dict[str, str] = {}  # the notes of the evidence used, by column
    rows = []
    for c in log.curves:
        is_loss = not c.column or c.kind is None  # a learning rate is no cross-entropy
        last_run = c.run is None or c.run.index == c.run.of
        seen = evidence.get(c.column) if is_loss and last_run else None
        if seen is not None:
            read[c.column] = seen.note
        v = classify(
            c.values,
            th,
            n_classes=(seen.classes if seen and seen.at_chance else k) if is_loss else None,
            loss_name=loss if is_loss else None,
            train_curve=c.train,
            x=c.x,
            x_name=c.x_name or "epoch",
            full_batch=full_batch or log.full_batch,
            guess_chance=not (seen and not seen.at_chance),
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
    notes += list(read.values())
    return {
        "file": log.source,
        "format": log.format,
        "loss": loss,
        "classes": k,
        "runs": log.runs,
        "notes": notes,
        "curves": rows,
    }
