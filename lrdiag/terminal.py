"""What a terminal shows: consoles, the progress bar, and the tables of every command (rich).

The sweep table has two layouts (see ``render_sweep``): a grid (rows: learning rates; columns:
init scale x seed) when it has at least ``GRID_MIN_LRS`` learning rates and fits the console
width, else one row per run. Every verdict carries a one-character marker (``digest.MARKERS``)
so the table reads without colour. The words and numbers come from ``lrdiag.digest``, shared
with the Markdown report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from lrdiag import digest
from lrdiag.digest import FLAG_MARK, MARKERS
from lrdiag.errors import printable
from lrdiag.formatting import fmt_num, lr_labels, plural
from lrdiag.thresholds import VERDICTS

STYLES = {
    "converging": "green",
    "oscillating": "yellow",
    "diverging": "bold red",
    "plateaued": "cyan",
}

# Layout: fewer distinct learning rates than this and the grid is a row or two, which reads
# worse than one row per run (where the flags fit too).
GRID_MIN_LRS = 3
# Narrower consoles than this get short verdict names in the classify table (digest.SHORT), and the
# flags after the reason instead of in a column of their own.
CLASSIFY_SHORT_BELOW = 72


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
        color_system=None if plain else "auto",  # "auto": rich's default
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


# --------------------------------------------------------------------------- pieces


def _verdict_text(verdict: Any, *, short: bool = False) -> Text:
    return Text(digest.verdict_label(verdict, short=short), style=STYLES.get(verdict, ""))


def _box(console: Console) -> box.Box:
    """Rounded boxes on a UTF-8 terminal; ASCII when piped or on another encoding, so files
    and logs never hold box-drawing characters that a reader cannot display."""
    utf = (console.encoding or "").lower().replace("-", "").startswith("utf")
    return box.ROUNDED if console.is_terminal and utf else box.ASCII


def _cell(run: Mapping | None, *, short: bool) -> Text:
    if run is None:
        return Text("-  not run", style="dim")
    text = _verdict_text(run.get("verdict"), short=short)
    text.append(f" {digest.cell_value(run)}")
    if run.get("flags"):
        text.append(FLAG_MARK, style="bold")
    return text


def _table_width(table: Table, console: Console) -> int:
    """The width the table wants, measured as rich would lay it out."""
    # measured without the console width as a cap, to learn whether it would fit
    return Measurement.get(console, console.options.update_width(10**6), table).maximum


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


def _counts_entries(runs: Iterable[Mapping], label: str = "verdicts") -> list[Text]:
    """ "n verdict" for each verdict (all four, then any other with n > 0), the first after
    ``label``: kept apart so that a narrow console breaks lines between them."""
    entries = [
        Text(f"{n} {verdict}", style=STYLES.get(verdict, "") if n else "dim")
        for verdict, n in digest.shown_counts(runs)
    ]
    entries[0] = Text(f"{label}: ") + entries[0]
    return entries


def _val_counts_entries(doc: Mapping) -> list[Text] | None:
    """The verdicts of the validation curves and their flags, as ``digest.val_counts_text``
    words them, one entry a count."""
    vals, flags = digest.validation(doc)
    if not vals:
        return None
    entries = _counts_entries(vals, "validation verdicts")
    if flags:
        named = [Text(text) for text in digest.flag_counts_text(flags)]
        entries[-1] = entries[-1] + Text(" (flags: ") + named[0]
        entries += named[1:]
        entries[-1].append(")")
    return entries


# --------------------------------------------------------------------------- sweep


def _grid_table(doc: Mapping, console: Console, *, short: bool) -> Table:
    runs = doc["runs"]
    lrs, scales, seeds = digest.axes(runs)
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
    for name in ("id", "lr", "scale", "seed"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("final", justify="right", no_wrap=True)
    if has_val:
        table.add_column("val", no_wrap=True)
    table.add_column("flags", overflow="fold")
    for r in runs:
        final = digest.final_loss(r)
        epoch = digest.diverged_epoch(r)
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


def print_table(console: Console, table: Table) -> None:
    """A table at the console's width when it fits, else at its own width: a long line rather
    than a name cut to an ellipsis or split over lines (off a terminal the width is COLUMNS, or
    80 when unset, and a log or file is read whole)."""
    need, width = _table_width(table, console), console.width
    if need <= width:
        console.print(table)
        return
    console.width = need  # print() caps its own width at the console's
    try:
        console.print(table)
    finally:
        console.width = width


def _sweep_table(doc: Mapping, console: Console) -> tuple[Table, str]:
    """Choose the layout: a grid when there are at least GRID_MIN_LRS learning rates and it
    fits the console with verdict words, or failing that with short words; else a run list."""
    lrs, _, _ = digest.axes(doc["runs"])
    if len(lrs) >= GRID_MIN_LRS:
        for short in (False, True):
            table = _grid_table(doc, console, short=short)
            if _table_width(table, console) <= console.width:
                return table, "grid"
    return _runs_table(doc, console), "runs"


def _print_run_lines(doc: Mapping, console: Console) -> None:
    """The runs as lines, "lr 0.1, scale 1, seed 0: + converging 0.31 [flags]", for a console
    too narrow for the run table: wrapped at spaces under their label, never cut."""
    runs = sorted(
        doc["runs"], key=lambda r: (r["init_scale"], str(r.get("seed")), r["learning_rate"])
    )
    labels = lr_labels(r["learning_rate"] for r in runs)
    for r in runs:
        body = _cell(r, short=False)
        if r.get("flags"):
            body.append(f" [{', '.join(map(str, r['flags']))}]", style="dim")
        _print_hanging(console, f"{digest.run_label(r, labels)}: ", body)


def _legend(runs: list[Mapping], layout: str) -> list[Text]:
    """The markers, and the ``@N`` and (grid only) flag marks when some cell uses them: one
    entry each."""
    entries = [Text(f"{MARKERS[v]} {v}", style=STYLES[v]) for v in VERDICTS]
    if any(digest.final_loss(r) is None and digest.diverged_epoch(r) for r in runs):
        entries.append(Text("@N: diverged at epoch N", style="dim"))
    if layout == "grid" and any(r.get("flags") for r in runs):
        entries.append(Text(f"{FLAG_MARK}: flagged", style="dim"))
    return entries


def _summary_table(doc: Mapping, console: Console) -> Table | None:
    rows = digest.scale_rows(doc)
    if not rows:
        return None
    table = Table(box=_box(console))
    table.add_column("init\nscale", justify="right", no_wrap=True)
    table.add_column("stable\nup to lr", justify="right", no_wrap=True)
    table.add_column("first\nfailure", justify="right", no_wrap=True)
    table.add_column("largest\nconverging lr", justify="right", no_wrap=True)
    table.add_column("recommended\nlr", justify="right", no_wrap=True)
    table.add_column("its final\nloss", justify="right", no_wrap=True)
    if rows[0].with_stability:
        table.add_column("predicted\ncritical lr", justify="right", no_wrap=True)
    for s in rows:
        row = [
            Text(s.init_scale),
            Text(s.stable_up_to),
            Text(s.first_failure),
            Text(digest.largest_text(s), style="yellow" if s.not_monotone else ""),
            Text(s.recommended_lr, style="bold green")
            if s.recommended_lr is not None
            else Text("none", style="red"),
            Text(s.final_loss),
        ]
        if s.with_stability:
            row.append(Text(s.predicted_critical_lr or "-"))
        table.add_row(*row)
    return table


def render_sweep(doc: Mapping, console: Console) -> None:
    """Print the sweep report: headline, verdict table, per-scale summary, counts and why.

    Layout: a grid (rows: learning rates; columns: init scale x seed; each cell a marker, the
    verdict and the final loss, or ``@N`` for a run that diverged at epoch N) when there are at
    least ``GRID_MIN_LRS`` learning rates and it fits the console width; else one row per run;
    on a console too narrow for that too, a line per run (a name is never cut to fit).
    """
    runs = list(doc.get("runs") or [])
    _print_hanging(console, "", Text(digest.headline(doc), style="bold"))
    if doc.get("complete") is False:
        console.print(Text("incomplete: interrupted, these are the runs so far", style="bold red"))
    if not runs:
        console.print("no runs")
        return
    table, layout = _sweep_table(doc, console)
    if _table_width(table, console) <= console.width:
        console.print(table)
    else:  # narrower than any table: a line per run, no name cut or split
        _print_run_lines(doc, console)
    _print_entries(console, _legend(runs, layout))
    summary = _summary_table(doc, console)
    if summary is not None:
        console.print()
        _print_hanging(
            console, "", Text("per init scale (a learning rate converges when all its seeds do):")
        )
        if _table_width(summary, console) <= console.width:
            console.print(summary)
        else:  # too narrow for the table: a line per scale, hanging under its label
            for label, line in map(digest.scale_line, digest.scale_rows(doc)):
                _print_hanging(console, f"  {label}", Text(line))
        for line in digest.not_monotone_lines(digest.scale_rows(doc)):
            _print_hanging(console, "", Text(line, style="yellow"))
    for line in digest.loss_scale_lines(doc):
        _print_hanging(console, "", Text(line, style="yellow"))
    console.print()
    _print_entries(console, _counts_entries(runs), ", ")
    val_entries = _val_counts_entries(doc)
    if val_entries is not None:
        _print_entries(console, val_entries, ", ")
    notes = digest.notable_runs(doc)
    if notes:
        labels = lr_labels(r["learning_rate"] for r in runs)
        console.print(Text("why:"))
        for r in notes:
            body = _verdict_text(r.get("verdict"))
            if r.get("flags"):
                body.append(f" [{', '.join(map(str, r['flags']))}]", style="bold")
            body.append(f": {digest.reason(r)}")
            _print_hanging(console, f"  {digest.run_label(r, labels)}: ", body)
        more = digest.more_notes(doc, notes)
        if more:
            _print_hanging(console, "  ", Text(more, style="dim"))
    render_warnings(doc.get("warnings") or [], console)


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
