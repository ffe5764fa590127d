"""Which columns of a loss log become curves, and how they are read.

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
none. Wall-time columns never are. Without one, a log that has an epoch or step column (one
that will not do for this curve), a run of a split log and a printed log are read against the
file's lines ("a spike at line 40"; JSON: records), so that a position is always one the file
has; elsewhere (plain text, a JSON list, a Keras ``history.history``, a CSV without an index
column) value k is epoch k; so it is in an lrdiag results.json, where ``loss[k]`` is the loss
after epoch k.

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

import difflib
from collections.abc import Collection, Sequence

import numpy as np

from lrdiag.consistency import AccuracyPair
from lrdiag.errors import InputError
from lrdiag.logtable import (
    EXPECTED,
    Column,
    Curve,
    LossLog,
    Run,
    Table,
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
CONSOLE_FORMATS = frozenset({"keras-console", "dict-lines", "epoch-lines"})
MAX_LISTED = 10  # restarts, one-value columns listed by name in a note; more are "..."
BAND_SUFFIXES = ("__MIN", "__MAX")  # a W&B chart's CSV: the band around the curve of that name


def find_column(names: Collection[str], wanted: str, source: str) -> str:
    """The column ``wanted`` names: itself, else the one equal to it in any case; else an
    error naming the nearest name and all of them. ``names`` in order (a dict: O(1) a hit)."""
    if wanted in names:
        return wanted
    folded = [n for n in names if n.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    names = list(names)
    near = difflib.get_close_matches(wanted, names, n=1, cutoff=0.5)
    hint = f"did you mean {near[0]!r}? " if near else ""
    listed = ", ".join(repr(n) for n in names)
    raise InputError(f"{source}: no column {wanted!r}; {hint}the columns are: {listed}")


def _select(table: Table, wanted: Sequence[str]) -> list[Column]:
    src, cols = table.source, table.columns
    by_name = {c.name: c for c in cols}
    if wanted:
        out: dict[str, Column] = {}
        for w in wanted:
            c = by_name[find_column(by_name, w, src)]
            if c._bad is not None:
                raise InputError(f"{src}: column {c.name!r} is not numeric: {c._bad}")
            if not c.numeric:
                raise InputError(f"{src}: column {c.name!r} holds no values")
            out.setdefault(c.name, c)
        return list(out.values())
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


def pick_curves(table: Table, wanted: Sequence[str]) -> LossLog:
    """The chosen columns as curves: split into runs where the log restarts, each run's curves
    read on their own axis and lined up with their own run's training curve; the last run's
    curves first (the headline), then the earlier runs' in file order."""
    chosen = _select(table, wanted)
    index = _Index(table)
    runs, notes = _runs(table, index)
    if not wanted:
        chosen, band = _without_bands(chosen)
        notes += band
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


def _without_bands(chosen: list[Column]) -> tuple[list[Column], list[str]]:
    """The curves without W&B's band columns (a chart exported as CSV: ``run - loss``, then
    ``run - loss__MIN`` and ``run - loss__MAX``, the band's bounds, wandb/wandb#5349), when the
    curve they surround is there; and a note naming them."""
    names = {c.name for c in chosen}
    band = [c for c in chosen if c.name[-5:] in BAND_SUFFIXES and c.name[:-5] in names]
    if not band:
        return chosen, []
    listed = ", ".join(repr(c.name) for c in band[:MAX_LISTED]) + (
        ", ..." if len(band) > MAX_LISTED else ""
    )
    note = (
        f"{listed}: the minimum and maximum W&B exports beside a curve (its band), not "
        "judged; pick one with --column to judge it"
    )
    return [c for c in chosen if c not in band], [note]


def _in_run(rows: np.ndarray, lo: int, hi: int) -> slice:
    """The slice of a column's values that lie on rows lo..hi-1 (its rows are ascending)."""
    start, stop = np.searchsorted(rows, [lo, hi])
    return slice(int(start), int(stop))


def _kind(col: Column) -> str | None:
    """What a column named with --column is when it is not a loss: HIGHER_IS_BETTER (accuracy,
    AUC, ...), LEARNING_RATE, or None (a loss, or nothing known)."""
    if "loss" in col.name.lower():
        return None
    if HIGHER_WORDS.intersection(col.words):
        return HIGHER_IS_BETTER
    if LR_WORDS.intersection(col.words):
        return LEARNING_RATE
    return None


def _kind_note(name: str, kind: str | None) -> str:
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
    """ "loss", "val_acc (negated)", "loss (run 3 of 4, lines 22-31)", "acc (negated, run 1 of
    2, lines 2-9)" """
    said = (["negated"] if kind == HIGHER_IS_BETTER else []) + ([run.label()] if run else [])
    return f"{column} ({', '.join(said)})" if said else column


def _single(table: Table, col: Column, k: int, name: str) -> str:
    return f"{name!r} ({_sig6(col.values[k])} at {_where(table, col.rows[k])})"


def _single_note(items: list[str]) -> str:
    if len(items) == 1:
        return f"{items[0]} holds one value: a number, not a curve; not judged"
    shown = ", ".join(items[:MAX_LISTED]) + (", ..." if len(items) > MAX_LISTED else "")
    return f"{len(items)} columns hold one value each, not curves; not judged: {shown}"


def _sig6(v: float) -> str:
    """``v`` in 6 significant digits."""
    return f"{v:.6g}"


def _where(table: Table, row: int) -> str:
    """A row as the reader finds it: "line 23" in a table or console log (1-based, the header
    is line 1), "record 20" in JSON (0-based, as jq and Python count)."""
    if table.spans is None:
        return f"record {row if table.records is None else table.records[row]}"
    return f"line {table.spans[row][1]}"


def _run_info(table: Table, r: int, n: int, lo: int, hi: int) -> Run:
    if table.spans is None:
        return Run(r + 1, n, lo, hi - 1, "record")
    return Run(r + 1, n, table.spans[lo][0], table.spans[hi - 1][1], "line")


def _runs(table: Table, index: _Index) -> tuple[list[tuple[int, int]], list[str]]:
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
    lengths = np.diff([0, *back, v.size])  # the counter's values in each would-be run
    if 2 * np.count_nonzero(lengths == 1) > lengths.size:  # a column sorted downwards
        return [(0, table.n_rows)], [
            f"the {col.name} column goes back at {back.size} of its {v.size} values, too often "
            "for restarts of a run: read as one log, in the file's order"
        ]
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

    def __init__(self, table: Table):
        self.table = table
        self.axes: list[tuple[str, Column, np.ndarray]] = []  # (kind, column, value by row)
        self.align: list[np.ndarray] = []  # ALIGN_KEYS columns' values by row, finest first
        self.train: dict[tuple[str, ...], list[Column]] = {}  # name words -> columns
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

    def restart_column(self) -> Column | None:
        """The column whose going back means a restart: the first epoch column, else the first
        step column (a step that restarts under a steady epoch counts batches within it)."""
        for kind in ("epoch", "step"):
            for k, c, _ in self.axes:
                if k == kind:
                    return c
        return None

    def axis(self, col: Column, rows: np.ndarray, *, fallback: bool):
        """The x-axis of col's values on ``rows`` and its name: an index column's values there,
        when all there and strictly increasing: an epoch column of whole numbers first, then a
        step column, then an epoch column of fractions (see the module's docstring). Else, in a
        run of a split log, a printed log or a log whose epoch or step column will not do (a
        value missing, repeated or going back on col's rows), the file's lines (or records), so
        that a reason names positions the file has; else none (value k is epoch k)."""
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
        if fallback or self.axes or self.table.format in CONSOLE_FORMATS:
            if self.table.spans is None:
                return rows.astype(float), "record"
            return np.asarray([self.table.spans[r][1] for r in rows], dtype=float), "line"
        return None, None

    def partner(self, col: Column) -> Column | None:
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


def _accuracy_pairs(table: Table, index: _Index) -> tuple[AccuracyPair, ...]:
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
                place += f" (epoch {_sig6(epoch[row])})"
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
            goes_on = bool(loss.rows[-1] > rows[-1])
            pair = AccuracyPair(
                loss.name, c.name, loss.values[li], c.values[ai], where(rows), goes_on
            )
            pairs.append(pair)
    return tuple(pairs)


def _lined_up(index: _Index, train: Column, tsub: slice, val: Column, vsub: slice) -> np.ndarray:
    """The training curve at the validation curve's points (each on the rows ``tsub`` and
    ``vsub`` of one run): the mean of the training values since the previous validation value
    (up to its position); the last one before it when there are none in between; NaN before
    the first."""
    t_rows = np.asarray(train.rows[tsub], dtype=np.intp)
    v_rows = np.asarray(val.rows[vsub], dtype=np.intp)
    tx, vx = index.positions(t_rows, v_rows)
    ty = train.values[tsub]
    ends = np.searchsorted(tx, vx, side="right")
    starts = np.maximum.accumulate(np.concatenate(([0], ends)))[:-1]  # after the previous one
    out = np.full(vx.size, np.nan)
    one = ends - starts == 1  # a value of its own (every row of a Keras CSVLogger): that value
    out[one] = ty[starts[one]]
    behind = (ends <= starts) & (ends > 0)  # none in between: the last one before
    out[behind] = ty[ends[behind] - 1]
    for i in np.flatnonzero(ends - starts > 1):
        out[i] = float(np.mean(ty[starts[i] : ends[i]]))
    return out
