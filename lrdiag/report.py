"""Terminal tables (rich) and result files (json, csv, markdown), written atomically.

Input is the results document, the dict that becomes ``results.json``::

    {"schema_version", "lrdiag_version", "complete", "config": {...},
     "runs": [{"id", "learning_rate", "init_scale", "seed", "verdict", "reason", "flags",
               "metrics": {...}, "loss": [...], "val_loss": [...] | None, "val": {...} | None}],
     "summary": {"per_scale": [...], "verdict_counts": {...}, "stability": {...}?},
     "timing": {...}}

Every reader here is tolerant: unknown keys are ignored (or, for scalar run metrics, become
extra CSV columns), missing optional keys are skipped, and a non-finite number may arrive as
None (from JSON) or NaN (from memory).

The terminal table has two layouts (see ``render_sweep``): a grid (rows: learning rates;
columns: init scale x seed) when it has at least ``GRID_MIN_LRS`` learning rates and fits the
console width, else one row per run. Every verdict carries a one-character marker (``MARKERS``)
so the table reads without colour.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from lrdiag.classify import plural
from lrdiag.errors import printable

VERDICTS = ("converging", "oscillating", "diverging", "plateaued")

INCOMPLETE = "incomplete"  # shown for a run without a verdict: the sweep was interrupted
# One ASCII character per verdict, so a table reads in plain text (piped, NO_COLOR).
MARKERS = {"converging": "+", "oscillating": "~", "diverging": "!", "plateaued": "="}
UNKNOWN_MARKER = "?"
FLAG_MARK = "*"  # after a grid cell: the run has flags (listed in the run table and notes)
SHORT = {"converging": "conv", "oscillating": "osc", "diverging": "div", "plateaued": "plat"}
STYLES = {
    "converging": "green",
    "oscillating": "yellow",
    "diverging": "bold red",
    "plateaued": "cyan",
}

# Layout: fewer distinct learning rates than this and the grid is a row or two, which reads
# worse than one row per run (where the flags fit too).
GRID_MIN_LRS = 3
# Narrower consoles than this get short verdict names in the classify table (SHORT), and the
# flags after the reason instead of in a column of their own.
CLASSIFY_SHORT_BELOW = 72
# How many notable runs ("why") the terminal and markdown reports explain at most.
MAX_NOTES = 8

JSON_NAME = "results.json"
CSV_NAME = "results.csv"
MARKDOWN_NAME = "report.md"

# The fixed leading CSV columns; every other scalar run metric follows, sorted by name.
CSV_COLUMNS = (
    "id",
    "learning_rate",
    "init_scale",
    "seed",
    "verdict",
    "flags",
    "reason",
    "initial_loss",
    "final_loss",
    "min_loss",
    "min_epoch",
    "diverged_epoch",
    "val_verdict",
    "val_flags",
    "val_final_loss",
)
# Metric keys shown under another name in the fixed columns.
_RENAMED_METRICS = {
    "initial": "initial_loss",
    "final": "final_loss",
    "min": "min_loss",
    "min_epoch": "min_epoch",
    "diverged_epoch": "diverged_epoch",
}


# --------------------------------------------------------------------------- consoles


def make_console(*, stderr: bool = False, on_broken_pipe: Callable[[], None] | None = None):
    """A rich console: styled on a terminal; plain text (no escape codes at all, not even bold)
    when not a terminal or when NO_COLOR is set (https://no-color.org). When its reader has
    gone (``lrdiag ... | head``) it falls silent and calls ``on_broken_pipe`` instead of exiting
    1 as rich's own does (1 is the exit code of a --fail-on match)."""

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            if on_broken_pipe is not None:
                on_broken_pipe()

    plain = bool(os.environ.get("NO_COLOR"))
    return _Console(
        stderr=stderr,
        highlight=False,
        no_color=plain,
        soft_wrap=False,
        **({"color_system": None} if plain else {}),
    )


@contextlib.contextmanager
def training_progress(n_runs: int, total: int, console: Console) -> Iterator[Callable[[int], None]]:
    """A transient progress bar over ``total`` run-epochs; yields the function that advances
    it (``sweep.train``'s ``progress``)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("training {task.fields[n]} runs"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("train", total=total, n=n_runs)
        yield lambda n: progress.advance(task, n)


# --------------------------------------------------------------------------- atomic files


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part.

    The bytes go to a hidden temporary file in the same directory (same filesystem), are
    flushed to disk, then ``os.replace`` swaps it in. The temporary file is removed on error.
    The parent directory must exist. Returns the path.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as open() would (mkstemp forces 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """``atomic_write_bytes`` for text; line endings are written exactly as given."""
    return atomic_write_bytes(path, text.encode(encoding))


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """A copy of ``obj`` made of plain JSON types: non-finite floats become None.

    Handles dicts (keys become strings), lists, tuples, numpy arrays and scalars, dataclasses
    and paths. Anything else is a TypeError, so a bug shows instead of a silent ``str()``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):  # complex, datetime, ...: let .item() decide
        return to_jsonable(obj.item())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON: {obj!r:.80}")


def to_json_text(doc: Any) -> str:
    """Strict JSON (no NaN or Infinity; jq accepts it), indent 2, trailing newline."""
    return json.dumps(to_jsonable(doc), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- CSV


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, np.generic))


def _csv_cell(value: Any) -> str:
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest string that round-trips
    return str(value)


def csv_columns(doc: Mapping) -> list[str]:
    """The CSV header: ``CSV_COLUMNS`` then every other scalar run metric, sorted by name."""
    extra: set[str] = set()
    for run in doc.get("runs") or []:
        for key, value in (run.get("metrics") or {}).items():
            if key not in _RENAMED_METRICS and _is_scalar(value):
                extra.add(str(key))
    extra -= set(CSV_COLUMNS)
    return [*CSV_COLUMNS, *sorted(extra)]


def _csv_row(run: Mapping) -> dict[str, Any]:
    metrics = run.get("metrics") or {}
    val = run.get("val") or {}
    row: dict[str, Any] = {
        "id": run.get("id"),
        "learning_rate": run.get("learning_rate"),
        "init_scale": run.get("init_scale"),
        "seed": run.get("seed"),
        "verdict": run.get("verdict"),
        "flags": ";".join(str(f) for f in run.get("flags") or ()),
        "reason": run.get("reason"),
        "val_verdict": val.get("verdict"),
        "val_flags": ";".join(str(f) for f in val.get("flags") or ()),
        "val_final_loss": (val.get("metrics") or {}).get("final"),
    }
    for key, value in metrics.items():
        if _is_scalar(value):
            row.setdefault(_RENAMED_METRICS.get(key, key), value)
    return row


def runs_to_csv_text(doc: Mapping) -> str:
    """One row a run (see ``csv_columns``); an empty cell for null, flags joined by ``;`` (the
    validation curve's, such as ``overfitting``, in ``val_flags``)."""
    columns = csv_columns(doc)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for run in doc.get("runs") or []:
        row = _csv_row(run)
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()


# --------------------------------------------------------------------------- shared helpers


def _finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite number, else None (None, NaN, inf, non-numbers)."""
    if isinstance(x, (bool, np.bool_)) or x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number in ``digits`` significant figures; ``-`` for null or non-finite."""
    x = _finite(x)
    return "-" if x is None else f"{x:.{digits}g}"


def lr_labels(lrs: Iterable[float]) -> dict[float, str]:
    """Short labels for learning rates, with just enough digits to tell them all apart."""
    lrs = sorted(set(lrs))
    for digits in range(3, 18):
        labels = {lr: f"{lr:.{digits}g}" for lr in lrs}
        if len(set(labels.values())) == len(lrs):
            return labels
    return {lr: repr(lr) for lr in lrs}


def _final(run: Mapping) -> float | None:
    metrics = run.get("metrics") or {}
    if "final" in metrics:
        return _finite(metrics["final"])
    loss = run.get("loss")
    return _finite(loss[-1]) if loss is not None and len(loss) else None


def _diverged_epoch(run: Mapping) -> int | None:
    value = (run.get("metrics") or {}).get("diverged_epoch")
    value = _finite(value)
    return None if value is None or value < 0 else int(value)


def _marker(verdict: Any) -> str:
    return MARKERS.get(verdict, UNKNOWN_MARKER)


def _verdict_text(verdict: Any, *, short: bool = False) -> Text:
    word = str(verdict) if verdict is not None else INCOMPLETE
    if short:
        word = SHORT.get(word, word)
    return Text(f"{_marker(verdict)} {word}", style=STYLES.get(verdict, ""))


def _axes(runs: list[Mapping]) -> tuple[list[float], list[float], list[Any]]:
    lrs = sorted({r["learning_rate"] for r in runs})
    scales = sorted({r["init_scale"] for r in runs})
    seeds = sorted({r["seed"] for r in runs}, key=lambda s: (str(type(s)), s))
    return lrs, scales, seeds


def _verdict_counts(runs: list[Mapping]) -> dict[str, int]:
    counts = Counter(r.get("verdict") or INCOMPLETE for r in runs)
    ordered = {v: counts.pop(v, 0) for v in VERDICTS}
    ordered.update({str(k): n for k, n in sorted(counts.items(), key=lambda kv: str(kv[0]))})
    return ordered


def _per_scale(doc: Mapping) -> list[Mapping]:
    return list(((doc.get("summary") or {}).get("per_scale")) or [])


def _stability(doc: Mapping) -> dict[float, Mapping]:
    stab = (doc.get("summary") or {}).get("stability") or {}
    return {s["init_scale"]: s for s in stab.get("per_scale") or [] if "init_scale" in s}


def _bracket(doc: Mapping, scale: float, runs: list[Mapping]) -> list[float] | None:
    """The summary's bracket for ``scale``; computed from the runs when the summary lacks it
    (the first step going upward from a learning rate whose seeds all converge to one where
    some seed does not)."""
    for s in _per_scale(doc):
        if s.get("init_scale") == scale and "bracket" in s:
            return s["bracket"]
    lrs = sorted({r["learning_rate"] for r in runs})
    ok = [
        all(r.get("verdict") == "converging" for r in runs if r["learning_rate"] == lr)
        for lr in lrs
    ]
    for i in range(len(lrs) - 1):
        if ok[i] and not ok[i + 1]:
            return [lrs[i], lrs[i + 1]]
    return None


def notable_runs(doc: Mapping, limit: int = MAX_NOTES) -> list[Mapping]:
    """Runs worth explaining, at most ``limit``, most telling first.

    Per init scale: the run that sets the upper end of the bracket (the first seed that does
    not converge there) and the run at the lowest learning rate when it does not converge (too
    small a step, or nothing converges at all). Then, per init scale and flag, the
    lowest-learning-rate run with that flag (a spike that recovered, edge-of-stability
    bouncing, ...), since a flag on a converging run is often the answer to "what happened?".
    """
    runs = list(doc.get("runs") or [])
    scales = sorted({r["init_scale"] for r in runs})
    ordered = {
        scale: sorted(
            (r for r in runs if r["init_scale"] == scale),
            key=lambda r: (r["learning_rate"], str(r.get("seed"))),
        )
        for scale in scales
    }
    notes: list[Mapping] = []

    def add(run: Mapping | None) -> None:
        if run is not None and all(run is not n for n in notes):
            notes.append(run)

    for scale, at_scale in ordered.items():
        bracket = _bracket(doc, scale, at_scale)
        if bracket:
            add(
                next(
                    (
                        r
                        for r in at_scale
                        if r["learning_rate"] == bracket[1] and r.get("verdict") != "converging"
                    ),
                    None,
                )
            )
        lowest = next((r for r in at_scale if r.get("verdict") != "converging"), None)
        if lowest is not None and lowest["learning_rate"] == at_scale[0]["learning_rate"]:
            add(lowest)
    for at_scale in ordered.values():
        seen: set[str] = set()
        for r in at_scale:
            new = [f for f in r.get("flags") or () if f not in seen]
            if new:
                seen.update(new)
                add(r)
    return notes[:limit]


def _more_notes(doc: Mapping, shown: list[Mapping]) -> str | None:
    """What "why" leaves out when more than MAX_NOTES runs are worth explaining (the later init
    scales' brackets, say), or None."""
    hidden = len(notable_runs(doc, limit=len(doc.get("runs") or []))) - len(shown)
    if hidden <= 0:
        return None
    return f"... and {plural(hidden, 'more run')} like these: every run's reason is in {CSV_NAME}"


def _run_label(run: Mapping, labels: Mapping[float, str]) -> str:
    return f"lr {labels[run['learning_rate']]}, scale {run['init_scale']:g}, seed {run.get('seed')}"


def _reason(run: Mapping) -> str:
    """The run's reason without a leading ``verdict:`` that would repeat the verdict (or
    ``diverged:``, which a non-finite loss's reason starts with: "! diverging: diverged: ...")."""
    reason = printable(run.get("reason") or "")
    verdict = run.get("verdict")
    for prefix in (f"{verdict}:", *(("diverged:",) if verdict == "diverging" else ())):
        if reason.startswith(prefix):
            return reason[len(prefix) :].lstrip()
    return reason


def _headline(doc: Mapping, *, with_name: bool = True) -> str:
    cfg = doc.get("config") or {}
    runs = doc.get("runs") or []
    training = cfg.get("training") or {}
    name = printable(cfg.get("name") or "sweep")
    parts = [plural(len(runs), "run")]
    if runs:
        lrs, scales, seeds = _axes(runs)
        parts[0] += (
            f" ({plural(len(lrs), 'learning rate')} x {plural(len(scales), 'init scale')} x "
            f"{plural(len(seeds), 'seed')})"
        )
    if training.get("optimizer"):
        opt = str(training["optimizer"])
        if opt == "momentum" and training.get("momentum") is not None:
            opt += f" {training['momentum']}"
        parts.append(opt)
    if training.get("epochs") is not None:
        parts.append(f"{training['epochs']} epochs")
    seconds = _finite((doc.get("timing") or {}).get("train_seconds"))
    if seconds is not None:
        parts.append(f"trained in {seconds:.3g} s")
    sharp = _finite((doc.get("timing") or {}).get("sharpness_seconds"))
    if sharp:  # computed outside the training time (at init) or beside it (tracking)
        parts.append(f"sharpness {sharp:.3g} s")
    return (f"{name}: " if with_name else "") + ", ".join(parts)


# --------------------------------------------------------------------------- terminal


def _box(console: Console) -> box.Box:
    """Rounded boxes on a UTF-8 terminal; ASCII when piped or on another encoding, so files
    and logs never hold box-drawing characters that a reader cannot display."""
    utf = (console.encoding or "").lower().replace("-", "").startswith("utf")
    return box.ROUNDED if console.is_terminal and utf else box.ASCII


def _cell(run: Mapping | None, *, short: bool) -> Text:
    if run is None:
        return Text("-  not run", style="dim")
    text = _verdict_text(run.get("verdict"), short=short)
    final = _final(run)
    if final is not None:
        text.append(f" {fmt_num(final)}")
    else:
        epoch = _diverged_epoch(run)
        text.append(f" @{epoch}" if epoch is not None else " nan")
    if run.get("flags"):
        text.append(FLAG_MARK, style="bold")
    return text


def _grid_table(doc: Mapping, console: Console, *, short: bool) -> Table:
    runs = doc["runs"]
    lrs, scales, seeds = _axes(runs)
    labels = lr_labels(lrs)
    by_key = {(r["learning_rate"], r["init_scale"], r["seed"]): r for r in runs}
    table = Table(box=_box(console), title_justify="left")
    table.add_column("lr", justify="right", no_wrap=True)
    many_seeds = len(seeds) > 1
    for scale in scales:
        for seed in seeds:
            header = f"scale {scale:g}" + (f"\nseed {seed}" if many_seeds else "")
            table.add_column(header, no_wrap=True)
    for lr in lrs:
        cells = [
            _cell(by_key.get((lr, scale, seed)), short=short) for scale in scales for seed in seeds
        ]
        table.add_row(Text(labels[lr]), *cells)
    return table


def _runs_table(doc: Mapping, console: Console) -> Table:
    runs = sorted(
        doc["runs"], key=lambda r: (r["init_scale"], str(r.get("seed")), r["learning_rate"])
    )
    labels = lr_labels(r["learning_rate"] for r in runs)
    has_val = any(r.get("val") for r in runs)
    table = Table(box=_box(console))
    for name, justify in (("id", "right"), ("lr", "right"), ("scale", "right"), ("seed", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("final", justify="right", no_wrap=True)
    if has_val:
        table.add_column("val", no_wrap=True)
    table.add_column("flags", overflow="fold")
    for r in runs:
        final = _final(r)
        epoch = _diverged_epoch(r)
        final_text = fmt_num(final) if final is not None else (f"@{epoch}" if epoch else "nan")
        row = [
            Text(str(r.get("id", ""))),
            Text(labels[r["learning_rate"]]),
            Text(f"{r['init_scale']:g}"),
            Text(str(r.get("seed"))),
            _verdict_text(r.get("verdict")),
            Text(final_text),
        ]
        if has_val:
            val = r.get("val") or {}
            row.append(_verdict_text(val["verdict"]) if val.get("verdict") else Text("-"))
        row.append(Text(", ".join(map(str, r.get("flags") or ())), style="dim"))
        table.add_row(*row)
    return table


def _table_width(table: Table, console: Console) -> int:
    """The width the table wants, measured as rich would lay it out."""
    # measured without the console width as a cap, to learn whether it would fit
    return Measurement.get(console, console.options.update_width(10**6), table).maximum


def _sweep_table(doc: Mapping, console: Console) -> tuple[Table, str]:
    """Choose the layout: a grid when there are at least GRID_MIN_LRS learning rates and it
    fits the console with verdict words, or failing that with short words; else a run list."""
    lrs, _, _ = _axes(doc["runs"])
    if len(lrs) >= GRID_MIN_LRS:
        for short in (False, True):
            table = _grid_table(doc, console, short=short)
            if _table_width(table, console) <= console.width:
                return table, "grid"
    return _runs_table(doc, console), "runs"


def _legend(runs: list[Mapping], layout: str) -> list[Text]:
    """The markers, and the ``@N`` and (grid only) flag marks when some cell uses them: one
    entry each."""
    entries = [Text(f"{MARKERS[v]} {v}", style=STYLES[v]) for v in VERDICTS]
    if any(_final(r) is None and _diverged_epoch(r) for r in runs):
        entries.append(Text("@N: diverged at epoch N", style="dim"))
    if layout == "grid" and any(r.get("flags") for r in runs):
        entries.append(Text(f"{FLAG_MARK}: flagged", style="dim"))
    return entries


def _print_entries(console: Console, entries: list[Text], sep: str = "  ") -> None:
    """``entries`` joined by ``sep`` on as few lines as fit the console, breaking lines only
    between entries (an entry wider than the console on its own wraps)."""
    line = Text()
    for entry in entries:
        if line and line.cell_len + len(sep) + entry.cell_len > console.width:
            _print_hanging(console, "", line + Text(sep.rstrip()))
            line = Text()
        line = line + Text(sep) + entry if line else entry.copy()
    if line:
        _print_hanging(console, "", line)


def _summary_table(doc: Mapping, console: Console) -> Table | None:
    per_scale = _per_scale(doc)
    if not per_scale:
        return None
    stability = _stability(doc)
    table = Table(box=_box(console))
    table.add_column("init\nscale", justify="right", no_wrap=True)
    table.add_column("largest\nconverging lr", justify="right", no_wrap=True)
    table.add_column("bracket", justify="right", no_wrap=True)
    table.add_column("recommended\nlr", justify="right", no_wrap=True)
    table.add_column("its final\nloss", justify="right", no_wrap=True)
    if stability:
        table.add_column("predicted\ncritical lr", justify="right", no_wrap=True)
    for s in per_scale:
        bracket = s.get("bracket")
        bracket_text = f"[{fmt_num(bracket[0])}, {fmt_num(bracket[1])}]" if bracket else "none"
        rec = s.get("recommended_lr")
        row = [
            Text(fmt_num(s.get("init_scale"))),
            Text(
                fmt_num(s.get("largest_converging_lr"))
                if s.get("largest_converging_lr") is not None
                else "none"
            ),
            Text(bracket_text),
            Text(fmt_num(rec), style="bold green")
            if rec is not None
            else Text("none", style="red"),
            Text(fmt_num(s.get("recommended_final_loss"))),
        ]
        if stability:
            pred = (stability.get(s.get("init_scale")) or {}).get("predicted_critical_lr")
            row.append(Text(fmt_num(pred)))
        table.add_row(*row)
    return table


def _summary_lines(doc: Mapping) -> list[tuple[str, str]]:
    """The per-scale summary in words, for a console too narrow for its table: a (label,
    body) pair per init scale, such as ("scale 1: ", "largest converging lr 10, ...")."""
    stability = _stability(doc)
    lines = []
    for s in _per_scale(doc):
        bracket = s.get("bracket")
        lcl, rec = s.get("largest_converging_lr"), s.get("recommended_lr")
        label = f"scale {fmt_num(s.get('init_scale'))}: "
        line = (
            f"largest converging lr "
            f"{fmt_num(lcl) if lcl is not None else 'none'}, bracket "
            f"{f'[{fmt_num(bracket[0])}, {fmt_num(bracket[1])}]' if bracket else 'none'}, "
            f"recommended lr {fmt_num(rec) if rec is not None else 'none'}"
        )
        if rec is not None:
            line += f" (final loss {fmt_num(s.get('recommended_final_loss'))})"
        pred = (stability.get(s.get("init_scale")) or {}).get("predicted_critical_lr")
        if pred is not None:
            line += f", predicted critical lr {fmt_num(pred)}"
        lines.append((label, line))
    return lines


def _counts_entries(runs: Iterable[Mapping], label: str = "verdicts") -> list[Text]:
    """ "n verdict" for each verdict (all four, then any other with n > 0), the first after
    ``label``: kept apart so that a narrow console breaks lines between them."""
    entries = [
        Text(f"{n} {verdict}", style=STYLES.get(verdict, "") if n else "dim")
        for verdict, n in _verdict_counts(list(runs)).items()
        if n or verdict in VERDICTS
    ]
    entries[0] = Text(f"{label}: ") + entries[0]
    return entries


def _counts_text(runs: Iterable[Mapping], label: str = "verdicts") -> Text:
    return Text(", ").join(_counts_entries(runs, label))


def _val_counts_entries(doc: Mapping) -> list[Text] | None:
    """The verdicts of the validation curves, when the sweep had a validation split, and their
    flags: "validation verdicts: 9 converging, ..., 1 plateaued (flags: noisy x2)"."""
    vals = [r["val"] for r in doc.get("runs") or [] if r.get("val")]
    if not vals:
        return None
    entries = _counts_entries(vals, "validation verdicts")
    flags = Counter(f for v in vals for f in v.get("flags") or ())
    if flags:
        entries += [Text(f"{f} x{n}") for f, n in sorted(flags.items())]
        last = len(entries) - len(flags) - 1
        entries[last : last + 2] = [entries[last] + Text(" (flags: ") + entries[last + 1]]
        entries[-1].append(")")
    return entries


def _val_counts_text(doc: Mapping) -> Text | None:
    entries = _val_counts_entries(doc)
    return None if entries is None else Text(", ").join(entries)


def _print_hanging(console: Console, label: str, body: Text) -> None:
    """``label`` then ``body`` wrapped to the console, continuation lines indented under the
    body; a label wider than half the console goes on its own line and the body under it,
    indented by four. No trailing spaces, so piped output stays clean."""
    if len(label) > console.width // 2:
        console.print(Text(label.rstrip()), soft_wrap=True)
        label = indent = " " * 4
    indent = " " * len(label)
    for i, line in enumerate(body.wrap(console, max(console.width - len(indent), 20))):
        line.rstrip()
        console.print(Text(label if i == 0 else indent) + line, soft_wrap=True)


def render_sweep(doc: Mapping, console: Console) -> None:
    """Print the sweep report: headline, verdict table, per-scale summary, counts and why.

    Layout: a grid (rows: learning rates; columns: init scale x seed; each cell a marker, the
    verdict and the final loss, or ``@N`` for a run that diverged at epoch N) when there are at
    least ``GRID_MIN_LRS`` learning rates and it fits the console width; else one row per run.
    """
    runs = list(doc.get("runs") or [])
    _print_hanging(console, "", Text(_headline(doc), style="bold"))
    if doc.get("complete") is False:
        console.print(Text("incomplete: interrupted, these are the runs so far", style="bold red"))
    if not runs:
        console.print("no runs")
        return
    table, layout = _sweep_table(doc, console)
    console.print(table)
    _print_entries(console, _legend(runs, layout))
    summary = _summary_table(doc, console)
    if summary is not None:
        console.print()
        _print_hanging(
            console, "", Text("per init scale (a learning rate converges when all its seeds do):")
        )
        if _table_width(summary, console) <= console.width:
            console.print(summary)
        else:  # too narrow for the table: a line per scale
            for label, line in _summary_lines(doc):  # each scale's lines hang under its label
                _print_hanging(console, f"  {label}", Text(line))
    for line in loss_scale_lines(doc):
        _print_hanging(console, "", Text(line, style="yellow"))
    console.print()
    _print_entries(console, _counts_entries(runs), ", ")
    val_entries = _val_counts_entries(doc)
    if val_entries is not None:
        _print_entries(console, val_entries, ", ")
    notes = notable_runs(doc)
    if notes:
        labels = lr_labels(r["learning_rate"] for r in runs)
        console.print(Text("why:"))
        for r in notes:
            body = _verdict_text(r.get("verdict"))
            if r.get("flags"):
                body.append(f" [{', '.join(map(str, r['flags']))}]", style="bold")
            body.append(f": {_reason(r)}")
            _print_hanging(console, f"  {_run_label(r, labels)}: ", body)
        more = _more_notes(doc, notes)
        if more:
            _print_hanging(console, "  ", Text(more, style="dim"))
    render_warnings(doc.get("warnings") or [], console)


def loss_scale_lines(doc: Mapping) -> list[str]:
    """One line per init scale whose losses grow as a power of lr (summary.loss_scale)."""
    lines = []
    for g in (doc.get("summary") or {}).get("loss_scale") or []:
        parts = [
            f"{what} losses grow as lr^{g[key]:.2f}"
            for what, key in (("final", "final_exponent"), ("first-epoch", "first_epoch_exponent"))
            if g.get(key) is not None
        ]
        line = (
            f"loss scale at init scale {fmt_num(g.get('init_scale'))}: {' and '.join(parts)} "
            "across the grid: the step sets the loss's scale, not a divergence"
        )
        if g.get("unscaled_inputs"):
            line += "; the inputs are unscaled (see the unscaled_inputs warning)"
        lines.append(line)
    return lines


def render_warnings(warnings: list[Mapping], console: Console) -> None:
    """The lints (lrdiag.lints): id and message, then why it matters and the fix."""
    if not warnings:
        return
    console.print(Text("warnings:", style="bold yellow"))
    for w in warnings:
        _print_hanging(console, f"  {w.get('id')}: ", Text(str(w.get("message"))))
        _print_hanging(console, "    why: ", Text(str(w.get("why")), style="dim"))
        _print_hanging(console, "    fix: ", Text(str(w.get("fix"))))


def render_classify(doc: Mapping, console: Console) -> None:
    """Print ``lrdiag classify FILE``: a row per curve: curve, verdict, final, reason, flags.
    On a console narrower than ``CLASSIFY_SHORT_BELOW`` the verdicts are short and the flags
    follow the reason, so nothing is cut off. A log split into runs where it restarts shows
    its last run first, under a rule from the earlier ones, and the summary line speaks of the
    last run (the earlier runs' verdicts are counted on a line of their own)."""
    curves = list(doc.get("curves") or [])
    title = printable(doc.get("file") or "")  # names from files: no terminal control codes
    if title:  # printed apart: a table's title is padded with spaces to the table's width
        console.print(title, soft_wrap=True, markup=False, highlight=False)
    if not curves:
        console.print("no curve to judge (see the notes)", soft_wrap=True, highlight=False)
        return
    narrow = console.width < CLASSIFY_SHORT_BELOW
    table = Table(box=_box(console))
    # a long curve name (TensorBoard tags) folds instead of squeezing the reason out
    table.add_column("curve", overflow="fold", max_width=max(10, console.width // 4))
    table.add_column("verdict", no_wrap=True)
    table.add_column("final", justify="right", no_wrap=True)
    table.add_column("reason" + (" [flags]" if narrow else ""), overflow="fold", min_width=16)
    if not narrow:
        table.add_column("flags", overflow="fold", max_width=max(10, console.width // 5))
    last = [c for c in curves if _run_index(c) == _run_index(curves[0])]
    for i, c in enumerate(curves):
        if i == len(last):
            table.add_section()  # the last run above, the earlier runs below
        flags = Text(", ".join(map(str, c.get("flags") or ())), style="dim")
        reason = Text(printable(c.get("reason") or ""))
        if narrow and flags:
            reason.append(" [").append_text(flags).append("]")
        table.add_row(
            Text(printable(c.get("name", ""))),
            _verdict_text(c.get("verdict"), short=narrow),
            Text(fmt_num((c.get("metrics") or {}).get("final"))),
            reason,
            *(() if narrow else (flags,)),
        )
    console.print(table)
    run = curves[0].get("run")
    if not run:
        _print_entries(console, _counts_entries(curves), ", ")
        return
    label = f"verdicts, run {run['index']} of {run['of']}"
    _print_entries(console, _counts_entries(last, label), ", ")
    _print_entries(console, _counts_entries(curves[len(last) :], "earlier runs"), ", ")


def _run_index(curve: Mapping) -> int | None:
    run = curve.get("run")
    return run.get("index") if isinstance(run, Mapping) else None


# --------------------------------------------------------------------------- markdown


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell, shown as written: ``<`` would open an HTML tag
    (GitHub drops "<my model>"), ``$`` a formula (GitHub renders "$x$" as math)."""
    text = printable(str(text).replace("\n", " ")).replace("\\", "\\\\")
    for char in "|*<$":
        text = text.replace(char, "\\" + char)
    return text


def _md_table(header: list[str], rows: list[list[str]], align: list[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown_summary(doc: Mapping) -> str:
    """A short markdown report (verdict grid, per-scale summary, counts, why) for CI summaries
    such as ``$GITHUB_STEP_SUMMARY``."""
    runs = list(doc.get("runs") or [])
    lines = [f"## lrdiag: {_md((doc.get('config') or {}).get('name') or 'sweep')}", ""]
    lines += [_md(_headline(doc, with_name=False)), ""]
    if doc.get("complete") is False:
        lines += ["**Incomplete**: interrupted; these are the runs so far.", ""]
    if not runs:
        return "\n".join([*lines, "No runs."]) + "\n"

    lrs, scales, seeds = _axes(runs)
    labels = lr_labels(lrs)
    by_key = {(r["learning_rate"], r["init_scale"], r["seed"]): r for r in runs}
    header = ["lr"] + [
        f"scale {s:g}" + (f", seed {seed}" if len(seeds) > 1 else "")
        for s in scales
        for seed in seeds
    ]
    rows = []
    for lr in lrs:
        row = [labels[lr]]
        for scale in scales:
            for seed in seeds:
                r = by_key.get((lr, scale, seed))
                row.append(_md(_cell(r, short=False).plain) if r is not None else "not run")
        rows.append(row)
    lines += _md_table(header, rows, ["r"] + ["l"] * (len(header) - 1))
    lines += [
        "",
        "Markers: " + ", ".join(f"`{MARKERS[v]}` {v}" for v in VERDICTS) + "; "
        f"`@N`: diverged at epoch N; `{FLAG_MARK}`: flagged.",
        "",
    ]

    per_scale = _per_scale(doc)
    if per_scale:
        stability = _stability(doc)
        header = ["init scale", "largest converging lr", "bracket", "recommended lr", "final loss"]
        if stability:
            header.append("predicted critical lr")
        rows = []
        for s in per_scale:
            bracket = s.get("bracket")
            lcl = s.get("largest_converging_lr")
            row = [
                fmt_num(s.get("init_scale")),
                fmt_num(lcl) if lcl is not None else "none",
                f"[{fmt_num(bracket[0])}, {fmt_num(bracket[1])}]" if bracket else "none",
                f"**{fmt_num(s['recommended_lr'])}**"
                if s.get("recommended_lr") is not None
                else "none",
                fmt_num(s.get("recommended_final_loss")),
            ]
            if stability:
                row.append(
                    fmt_num((stability.get(s.get("init_scale")) or {}).get("predicted_critical_lr"))
                )
            rows.append(row)
        lines += _md_table(header, rows, ["r"] * len(header)) + [""]

    lines += [f"{_md(line)}." for line in loss_scale_lines(doc)]
    if loss_scale_lines(doc):
        lines.append("")
    lines += [_md(_counts_text(runs).plain), ""]
    val_text = _val_counts_text(doc)
    if val_text is not None:
        lines += [_md(val_text.plain), ""]
    notes = notable_runs(doc)
    if notes:
        lines.append("Why:")
        lines.append("")
        for r in notes:
            flags = f" [{', '.join(map(str, r['flags']))}]" if r.get("flags") else ""
            verdict = _md(r.get("verdict") or INCOMPLETE)
            lines.append(f"- {_run_label(r, labels)}: **{verdict}**{_md(flags)}: {_md(_reason(r))}")
        more = _more_notes(doc, notes)
        if more:
            lines.append(f"- {_md(more)}")
    warnings = doc.get("warnings") or []
    if warnings:
        lines += ["", "Warnings:", ""]
        for w in warnings:
            lines.append(
                f"- `{_md(w.get('id'))}`: {_md(w.get('message'))}. Why: {_md(w.get('why'))}. "
                f"Fix: {_md(w.get('fix'))}"
            )
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- files


def write_results(doc: Mapping, out_dir: str | os.PathLike) -> list[Path]:
    """Write results.json, results.csv and report.md into ``out_dir`` (created if needed),
    each atomically. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        atomic_write_text(out / JSON_NAME, to_json_text(doc)),
        atomic_write_text(out / CSV_NAME, runs_to_csv_text(doc)),
        atomic_write_text(out / MARKDOWN_NAME, markdown_summary(doc)),
    ]


# --------------------------------------------------------------------------- gradcheck

# Gradient-check verdicts (lrdiag.gradcheck.VERDICTS): a marker and a style each, like the
# sweep verdicts, so the table reads without colour.
GRADCHECK_MARKERS = {"ok": "+", "not_finite": "?"}  # every other verdict is a bug: "!"
GRADCHECK_STYLES = {"ok": "green", "not_finite": "bold magenta"}  # other verdicts: bold red


def render_gradcheck(result: Any, console: Console) -> None:
    """Print ``lrdiag gradcheck``: a row per parameter (verdict, max relative error, cosine,
    scale, entries checked and, if any, skipped), the diagnosis of each parameter that is not
    ok, then one line of conclusion. ``result`` is a GradcheckResult or its ``to_dict()``."""
    doc = result.to_dict() if hasattr(result, "to_dict") else result
    params = list(doc.get("parameters") or [])
    for warning in doc.get("warnings") or []:
        _print_hanging(console, "warning: ", Text(printable(warning), style="yellow"))
    if doc.get("source"):
        _print_hanging(console, "", Text(f"gradcheck: {printable(doc['source'])}", style="bold"))
    any_skipped = any(p.get("skipped") for p in params)
    table = Table(box=_box(console))
    table.add_column("param", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("max err", justify="right", no_wrap=True)
    table.add_column("cosine", justify="right", no_wrap=True)
    table.add_column("scale", justify="right", no_wrap=True)
    table.add_column("checked", justify="right", no_wrap=True)
    if any_skipped:
        table.add_column("skipped", justify="right", no_wrap=True)
    for p in params:
        verdict = str(p.get("verdict"))
        row = [
            Text(printable(p.get("name", ""))),
            Text("x".join(map(str, p.get("shape") or [])) or "scalar"),
            Text(
                f"{GRADCHECK_MARKERS.get(verdict, '!')} {verdict}",
                style=GRADCHECK_STYLES.get(verdict, "bold red"),
            ),
            Text(fmt_num(p.get("max_rel_error"), 2)),
            Text(fmt_num(p.get("cosine"), 4)),
            Text(fmt_num(p.get("scale"), 4)),
            Text(str(p.get("checked", ""))),
        ]
        if any_skipped:
            row.append(Text(str(p.get("skipped") or 0)))
        table.add_row(*row)
    console.print(table)
    bad = [p for p in params if p.get("verdict") != "ok"]
    for p in bad:
        message = Text(printable(p.get("message") or ""))
        _print_hanging(console, f"  {printable(p.get('name'))}: ", message)
    skipped = sum(int(p.get("skipped") or 0) for p in params)
    if skipped:
        _print_hanging(
            console,
            "",
            Text(
                f"{skipped} entries skipped: they sit on a kink (e.g. ReLU at 0), where the "
                "two one-sided differences disagree and either side is a valid gradient",
                style="dim",
            ),
        )
    if bad:
        has = "has" if len(bad) == 1 else "have"
        line = Text(
            f"{len(bad)} of {plural(len(params), 'parameter')} {has} gradient problems", "bold red"
        )
    elif len(params) == 1:
        line = Text("the parameter matches finite differences", "bold green")
    else:
        line = Text(f"all {len(params)} parameters match finite differences", "bold green")
    _print_hanging(console, "", line)
