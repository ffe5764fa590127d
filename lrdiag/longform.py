"""A table in long form (one value a row, its metric named in a key column) -> a column a metric.

MLflow's metric history (``key, value, step, timestamp``; also with a ``run_id``) and
TensorBoard's scalars as a DataFrame (``run, tag, step, value``) hold every metric in one
``value`` column. Read as it stands, that column interleaves the loss with the accuracy and the
validation loss, and its verdict describes no curve; ``widen`` gives each metric (each run's,
when a run column holds several) a column of its own, named ``key`` or ``run/key``
(``validation/epoch_loss``, judged beside ``train/epoch_loss``).

The rows are reordered, never merged: each stays one line of the file, so every position a
reason names is a line the file has. With a step (or epoch) column that strictly increases
within every metric, the rows go in step order and that column is the axis; otherwise the k-th
values of every metric sit together, in the file's order, and value k is epoch k.
"""

from __future__ import annotations

import numpy as np

from lrdiag.logtable import Column, Table, make_column

# Column names (lower-case words, joined by spaces) of the parts of a long table.
KEY_NAMES = ("key", "tag", "metric", "metric name", "metric key", "name")
VALUE_NAMES = ("value",)
RUN_NAMES = ("run", "run id", "run uuid", "run name")
AXIS_NAMES = ("step", "global step", "iteration", "epoch")


def _find(columns: list[Column], names: tuple[str, ...]) -> Column | None:
    by_key = {" ".join(c.words): c for c in columns}
    return next((by_key[n] for n in names if n in by_key), None)


def widen(table: Table) -> tuple[Table, str] | None:
    """The long ``table`` as a column per metric, and a note that says so; None when the table
    is not long: no text key column (a metric's name on every row) beside a ``value`` column."""
    if not table.shared_rows:
        return None
    key = _find(table.columns, KEY_NAMES)
    value = _find(table.columns, VALUE_NAMES)
    if key is None or value is None or key.numeric or len(key.rows) != table.n_rows:
        return None
    names = [str(c).strip() for c in key.cells]
    run = _find(table.columns, RUN_NAMES)
    if run is not None and len(run.rows) == table.n_rows and len(set(map(str, run.cells))) > 1:
        names = [f"{str(r).strip()}/{n}" for r, n in zip(run.cells, names, strict=True)]
    at = set(value.rows)  # the rows with a value
    groups: dict[str, list[int]] = {}  # metric -> its rows, in file order
    for row, name in enumerate(names):
        if row in at:
            groups.setdefault(name, []).append(row)
    axis = _axis(table, groups)
    if axis is not None:
        order = np.argsort(axis.values, kind="stable")  # rows in step order
        groups.pop(axis.name, None)  # a metric logged under the axis's own name (MLflow's epoch)
    else:
        nth = np.full(table.n_rows, np.inf)  # rows without a value go last
        for rows in groups.values():
            nth[rows] = np.arange(len(rows))
        order = np.argsort(nth, kind="stable")  # the k-th values of every metric together
    new_row = np.empty(table.n_rows, dtype=np.intp)
    new_row[order] = np.arange(table.n_rows)
    columns = []
    if axis is not None:
        columns.append(_column(axis.name, list(range(table.n_rows)), table, axis, new_row))
    for name, rows in groups.items():
        columns.append(_column(name, rows, table, value, new_row))
    note = (
        f"long form (one value a row, its metric named in column {key.name!r}): read as "
        f"{len(groups)} metric{'s' * (len(groups) != 1)}, a column each"
    )
    if table.spans is None:  # JSON records: each row keeps its record number
        old = table.records or range(table.n_rows)
        records = [old[r] for r in order]
        wide = Table(table.source, table.format, columns, table.n_rows, records=records)
    else:
        spans = [table.spans[r] for r in order]
        wide = Table(table.source, table.format, columns, table.n_rows, spans=spans)
    return wide, note


def _axis(table: Table, groups: dict[str, list[int]]) -> Column | None:
    """The step (or epoch) column, when every row has one and it strictly increases within
    every metric; None otherwise (MLflow logs step 0 when none is given)."""
    col = _find([c for c in table.columns if c.numeric], AXIS_NAMES)
    if col is None or len(col.rows) != table.n_rows:
        return None
    v = col.values
    if not np.isfinite(v).all():
        return None
    for rows in groups.values():
        if not (np.diff(v[rows]) > 0).all():
            return None
    return col


def _column(name: str, rows: list[int], table: Table, source: Column, new_row) -> Column:
    """``source``'s cells on ``rows`` (the table's rows) as a column named ``name``, on the
    reordered rows; its messages name the file's line (or record) and column."""
    cell_of = dict(zip(source.rows, source.cells, strict=True))
    c = make_column(name, decimal_comma=source.decimal_comma)
    field = repr(source.name).replace("{", "{{").replace("}", "}}")
    if table.spans is None:
        c.place = f"record {{line}}, {field}"  # {line}: the record, for Column.parse
    else:
        c.place = f"line {{line}}, column {field}"
    c.lines = []
    for new, old in sorted((int(new_row[r]), r) for r in rows):
        c.rows.append(new)
        c.cells.append(cell_of[old])
        if table.spans is not None:
            c.lines.append(table.spans[old][1])
        else:
            c.lines.append(old if table.records is None else table.records[old])
    return c
