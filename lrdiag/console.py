"""Training output printed to a terminal -> rows of numbers, for ``lrdiag classify``.

Four shapes, told apart by content (never by a file's name):

* **Keras's console output** (``keras-console``): an ``Epoch 3/10`` line, then progress lines
  ``1875/1875 [====...] - 3s 2ms/step - loss: 0.3 - accuracy: 0.9 - val_loss: ...`` (Keras 2;
  Keras 3 draws ``━━━━`` and puts accuracy first; ``verbose=2`` prints one line an epoch).
  A pasted log may hold every progress update (on lines of their own, or joined by ``\\r`` or
  backspaces): an epoch's row is its first finished line (``1875/1875``), taking the updates of
  that same line after it (Keras adds the validation metrics there), else its last line with
  metrics. Lines after a finished one with another count (``313/313``: an ``evaluate`` after
  training) and lines before the first ``Epoch`` are not the epoch's.
* **one line an epoch** (``epoch-lines``), as PyTorch scripts print it: ``Epoch [1/50], Train
  Loss: 0.123, Val Loss: 0.145``; ``Epoch 1/50 - loss: 0.123 - val_loss: 0.145``; ``epoch 1:
  train_loss=0.123 val_loss=0.145``; ``Epoch: 1 | Loss: 0.123``; ``Epoch 1: train loss 0.123,
  val loss 0.145`` (a name and its number, on an epoch line with no ``:`` pair after the
  epoch); also ``step``/``iteration`` instead of epoch, after a logging prefix
  (``INFO:root:Epoch 1: loss=0.5``), Lightning's progress bar (``Epoch 3: 100%|...|
  loss=0.123``), and an epoch line without metrics (``Epoch: 01 | Epoch Time: 0m 7s``)
  followed by indented lines that hold them (``\tTrain Loss: 0.693 | Train Acc: 50.12%``,
  ``\t Val. Loss: ...``). Of a line holding several updates (joined by ``\\r``), the last one
  with metrics counts. Lines of the same epoch with other keys (a validation line after the
  training line) make one row.
* **``[epoch, mini-batch] loss: 2.014``** (``epoch-batch-lines``), as PyTorch's CIFAR-10
  tutorial prints every 2000 mini-batches: rows with ``epoch`` and ``batch`` (the count within
  the epoch, which starts again each epoch: positions are named by line).
* **a Python dict a line** (``dict-lines``), as Hugging Face's Trainer prints its logs between
  progress bars: ``{'loss': 0.52, 'learning_rate': 4e-05, 'epoch': 0.5}``, ``{'eval_loss':
  0.48, ..., 'epoch': 1.0}``; each dict is a row (its numbers; ``nan`` and ``inf`` too), but
  the summary printed when training ends (``train_runtime``, the run's mean ``train_loss``).

Metrics are ``key: number`` or ``key=number`` pairs; a key may hold spaces, and is read in
lower case with ``_`` for spaces (``Train Loss`` is ``train_loss``, ``Val Loss`` ``val_loss``,
so that validation curves pair with their training curve). ``88.3%`` is 0.883. Lines that hold
no metric (``Epoch 1: val_loss improved from inf to 0.29``, warnings, model summaries) are
skipped. The epoch (or step) logged is the row's ``epoch`` (or ``step``) value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

KERAS_EPOCH = re.compile(r"^\s*Epoch\s+(\d+)\s*/\s*(\d+)\s*$", re.IGNORECASE)
# An epoch (or step) line's start: "Epoch [1/50],", "epoch 1:", "Epoch: 1 |", "[Epoch 1/50]",
# also after a logging prefix ("INFO:root:Epoch 1:", "2024-05-01 10:00:00 INFO epoch 1 |").
LEADING = re.compile(
    r"^(?:.*?[^\w.])??(epoch|step|iteration|iter)\b\s*[:#=]?\s*\[?\s*(\d+)\s*"
    r"(?:/\s*\d+\s*)?\]?\s*[:,|-]?",
    re.IGNORECASE,
)
_NUMBER = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)"
METRIC = re.compile(
    r"(?<![\w./])([A-Za-z][\w./]*(?: [A-Za-z][\w./]*)*)\s*[:=]\s*"
    rf"({_NUMBER})(%?)(?=$|[\s,;|)\]}}])",
    re.IGNORECASE,
)
# "train loss 0.52, val loss 0.61": a name (one or two words) and its number with nothing
# between; read only where the rest of an epoch or step line is such pairs and separators alone
# (not "val_loss improved from inf to 0.29, saving model"), with no ``key: number`` pair. A
# number with a unit ("time 35.12ms", nanoGPT's iteration line) is such a pair, but not read.
_SPACED_PAIR = rf"[A-Za-z][\w./]*(?: [A-Za-z][\w./]*)?\s+{_NUMBER}(?:%|[A-Za-z/]+)?"
SPACED = re.compile(
    r"(?<![\w./])([A-Za-z][\w./]*(?: [A-Za-z][\w./]*)?)\s+"
    rf"({_NUMBER})(%?)(?=$|[\s,;|)\]}}])",
    re.IGNORECASE,
)
SPACED_LINE = re.compile(rf"^[\s,;|]*(?:{_SPACED_PAIR}(?=$|[\s,;|])[\s,;|.]*)+$", re.IGNORECASE)
# A dict printed by Python: {'loss': 0.52, 'epoch': 0.5} (no braces inside), and its pairs.
DICT = re.compile(r"\{\s*'[^{}]*\}")
DICT_PAIR = re.compile(rf"'([^'\\]+)'\s*:\s*({_NUMBER})(?=\s*[,}}])", re.IGNORECASE)
SUMMARY_KEY = "train_runtime"  # Hugging Face's end-of-training summary, not a point of a curve
PROGRESS = re.compile(r"^\s*(\d+)/(\d+)(?!\d)")  # Keras's "1875/1875" at a line's start
SEGMENTS = re.compile(r"[\r\b]+")  # terminal updates of one line: carriage returns, backspaces
SKIPPED_KEYS = frozenset({"eta"})
# A number printed in its library's wrapper: PyTorch's tensor(0.6931, grad_fn=<NllLossBackward0>)
# (print(loss) rather than loss.item()) and NumPy 2's np.float32(0.6931) read as the number.
WRAPPED = re.compile(rf"\b(?:tensor|np\.float(?:16|32|64))\(\s*({_NUMBER})\s*(?:,[^()\n]*)?\)")
# PyTorch's CIFAR-10 tutorial (and the many scripts copied from it): "[1,  2000] loss: 2.014",
# the epoch and the mini-batch count within it, every N mini-batches.
EPOCH_BATCH = re.compile(r"^\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]\s*")
# Every line a reader below takes anything from holds one of these: a metric's ``:`` or
# ``=``, or an epoch, step or iteration word (under the IGNORECASE of the patterns above, so
# the same letters match). A line with none is skipped by every reader, and leaves their
# state as it was: ``read`` of the lines ``candidates`` keeps is ``read`` of all of them.
HINT = re.compile(r"[:=]|epoch|step|iter", re.IGNORECASE)
# A line holding a character no row of numbers holds (digits, signs, points, exponents and
# the separators of a table): those that can hold a HINT, found in one scan of the text.
NOT_NUMBERS = re.compile(r"^(?![-+0-9.eE,;\t \r]*$)[^\n]*", re.MULTILINE)


@dataclass
class Row:
    values: dict[str, float] = field(default_factory=dict)
    first: int = 0  # its first line in the file (a Keras "Epoch 3/10" line)
    last: int = 0  # the line its numbers come from


@dataclass(frozen=True)
class Printed:
    format: str  # "keras-console", "dict-lines" or "epoch-lines"
    rows: list[Row]


def unwrap(text: str) -> str:
    """``text`` with each number in a library's wrapper (``tensor(0.69, grad_fn=...)``,
    ``np.float32(0.69)``) replaced by the number; lines stay where they were."""
    if "tensor(" not in text and "np.float" not in text:
        return text
    return WRAPPED.sub(r"\1", text)


def candidates(text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` a reader here could take anything from (``HINT``), each with its
    line number as an editor counts it (1-based, newlines only), a trailing ``\\r`` dropped:
    ``read(candidates(text))`` reads what reading every line would, and the rows of a table
    of numbers are passed over in one regular-expression scan."""
    out = []
    line, pos = 1, 0
    for m in NOT_NUMBERS.finditer(text):
        if HINT.search(m.group()):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            out.append((line, m.group().rstrip("\r")))
    return out


def metrics(text: str, pattern: re.Pattern = METRIC) -> dict[str, float]:
    """The ``key: number`` pairs of one line (see the module's docstring); with ``SPACED``, its
    ``key number`` pairs."""
    out = {}
    for key, number, percent in pattern.findall(text):
        # "Train Loss" -> train_loss; "Val. Loss" -> val_loss (an abbreviation's dot dropped)
        name = "_".join(word.rstrip(".") or word for word in key.lower().split())
        if name in SKIPPED_KEYS:
            continue
        value = float(number)
        out[name] = value / 100.0 if percent else value
    return out


def _updates(line: str) -> list[str]:
    """A line's terminal updates (one, unless \\r or backspaces join several)."""
    if "\r" not in line and "\b" not in line:
        return [line]
    return [s for s in SEGMENTS.split(line) if s.strip()]


def read(lines: Sequence[tuple[int, str]]) -> Printed | None:
    """Rows of a Keras console log or a log of one line an epoch; None when ``lines`` (line
    number, text) are neither."""
    if any(KERAS_EPOCH.match(text) for _, text in lines):
        rows = _keras(lines)
        return Printed("keras-console", rows) if rows else None
    rows = _dicts(lines)
    if rows:
        return Printed("dict-lines", rows)
    rows = _epoch_batch_lines(lines)
    if rows:
        return Printed("epoch-batch-lines", rows)
    rows = _epoch_lines(lines)
    return Printed("epoch-lines", rows) if rows else None


def _dicts(lines) -> list[Row]:
    rows = []
    for lineno, text in lines:
        if "{" not in text:
            continue
        for part in _updates(text):  # a progress bar and the dict may share a line
            for m in DICT.finditer(part):
                pairs = DICT_PAIR.findall(m.group(0))
                if pairs and SUMMARY_KEY not in (k for k, _ in pairs):
                    rows.append(Row({k: float(v) for k, v in pairs}, lineno, lineno))
    return rows


def _keras(lines) -> list[Row]:
    rows: list[Row] = []
    epoch: int | None = None
    header = 0
    updates: list[
        tuple[int, tuple[str, ...] | None, dict[str, float]]
    ] = []  # line, "3/10", metrics

    def close():
        if epoch is None:
            return
        row = _epoch_row(updates)
        if row is not None:
            row.values = {"epoch": float(epoch), **row.values}
            row.first = header
            rows.append(row)

    for lineno, text in lines:
        m = KERAS_EPOCH.match(text)
        if m:
            close()
            epoch, header, updates = int(m.group(1)), lineno, []
            continue
        if epoch is None:
            continue
        for part in _updates(text):
            found = metrics(part)
            if found:
                p = PROGRESS.match(part)
                updates.append((lineno, p.groups() if p else None, found))
    close()
    return rows


def _epoch_row(updates) -> Row | None:
    """An epoch's numbers: its first finished progress line and the updates of that same line
    right after it (the validation metrics), else its last line with metrics."""
    done = [i for i, (_, c, _) in enumerate(updates) if c is not None and c[0] == c[1]]
    if not done:
        if not updates:
            return None
        lineno, _, found = updates[-1]
        return Row(dict(found), lineno, lineno)
    i = done[0]
    values: dict[str, float] = {}
    lineno = updates[i][0]
    while i < len(updates) and updates[i][1] == updates[done[0]][1]:
        values.update(updates[i][2])
        lineno = updates[i][0]
        i += 1
    return Row(values, lineno, lineno)


def _epoch_lines(lines) -> list[Row]:
    rows: list[Row] = []
    heading = None  # an "Epoch: 01 | Epoch Time: 0m 7s" line without metrics: its epoch
    for lineno, text in lines:
        found, index = None, None
        for part in _updates(text):  # a terminal shows a line's last update
            m = LEADING.match(part)
            if m:
                key = "epoch" if m.group(1).lower() == "epoch" else "step"
                rest = part[m.end() :]
                got = metrics(rest)
                if not got and SPACED_LINE.match(rest):
                    got = metrics(rest, SPACED)
                if got:
                    found, index = got, (key, float(m.group(2)))
                    heading = None
                else:
                    heading = (key, float(m.group(2)))
        if found is None and heading is not None and text[:1].isspace():
            # the indented lines under such a heading ("\tTrain Loss: 0.69 | Train Acc: 50%",
            # a widely copied PyTorch tutorial) hold that epoch's metrics
            got = metrics(text)
            if got:
                found, index = got, heading
        if found is None or index is None:
            continue
        key, n = index
        row = rows[-1] if rows else None
        if row is not None and row.values.get(key) == n and not set(found) & set(row.values):
            row.values.update(found)  # the same epoch's validation line
            row.last = lineno
        else:
            rows.append(Row({key: n, **found}, lineno, lineno))
    return rows


def _epoch_batch_lines(lines) -> list[Row]:
    """Rows of ``[epoch, mini-batch] loss: 2.014`` lines (the PyTorch CIFAR-10 tutorial's print):
    ``epoch`` and ``batch`` (the mini-batches done in that epoch), then the metrics."""
    rows: list[Row] = []
    for lineno, text in lines:
        for part in reversed(_updates(text)):  # a terminal shows a line's last update
            m = EPOCH_BATCH.match(part)
            got = metrics(part[m.end() :]) if m else None
            if m is not None and got:
                values = {"epoch": float(m.group(1)), "batch": float(m.group(2)), **got}
                rows.append(Row(values, lineno, lineno))
                break
    return rows
