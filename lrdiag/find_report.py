"""The range test's report: the terminal tables (rich) and its files, find.json and find.csv.

Input is the find document (``lrdiag.find.document``)::

    {"kind": "find", "complete", "config", "lrs": [...], "limit": "2/lambda_max" | None,
     "runs": [{"init_scale", "seed", "steps_done", "stopped_at", "stop_reason", "stop_lr",
               "suggestions": {method: lr | None}, "lowest_loss_lr", "critical_lr",
               "loss": [...], "smoothed": [...]}],
     "per_scale": [{"init_scale", "suggestions": {method: {"median", "min", "max", "ratio",
                    "seeds"} | None}, "critical_lr", "largest_converging_lr", "bracket",
                    "recommended_lr"}],
     "sweep": {"learning_rates", "epochs", "complete", "verdict_counts"} | None,
     "warnings": [{"id", "message", "why", "fix"}]}

The summary puts each suggestion (its median over seeds, its range, how many times the
largest is the smallest) beside the limit at init and the short sweep's measured answer.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lrdiag.errors import printable
from lrdiag.files import FIND_CSV_NAME, FIND_JSON_NAME, atomic_write_text, to_json_text
from lrdiag.formatting import fmt_num, plural
from lrdiag.terminal import _box, _print_hanging, render_warnings

CSV_COLUMNS = ("init_scale", "seed", "step", "lr", "loss", "smoothed_loss")
STOPS = {"diverged": ">{factor}x best", "not_finite": "not finite"}


def _ramp_line(doc: Mapping) -> str:
    cfg = doc.get("config") or {}
    f, training = cfg.get("find") or {}, cfg.get("training") or {}
    bs = training.get("batch_size")
    batch = "full batch" if bs in (None, "full") else f"batches of {bs}"
    stop = f.get("stop_factor")
    stop_text = f"stop at {fmt_num(stop)} x best" if stop else "no stop but a non-finite loss"
    runs = doc.get("runs") or []
    return (
        f"{printable(str(cfg.get('name', 'find')))}: range test, lr {fmt_num(f.get('min'))} -> "
        f"{fmt_num(f.get('max'))} in {plural(int(f.get('steps', 0)), 'step')} "
        f"({training.get('optimizer', '?')}, {batch}), {plural(len(runs), 'run')}; "
        f"loss smoothed (beta {fmt_num(f.get('beta'))}), {stop_text}"
    )


def _stop_text(run: Mapping, factor) -> str:
    """Where a run stopped: "6.92 (step 98, >4x best)", or "-" when it ran the whole ramp."""
    if run.get("stopped_at") is None:
        return "-"
    why = STOPS.get(run.get("stop_reason"), str(run.get("stop_reason")))
    why = why.format(factor=fmt_num(factor))
    return f"{fmt_num(run.get('stop_lr'))} (step {run['stopped_at']}, {why})"


def _methods(doc: Mapping) -> list[str]:
    runs = doc.get("runs") or []
    return list((runs[0].get("suggestions") or {}) if runs else ())


def _runs_table(doc: Mapping, console: Console) -> Table:
    factor = ((doc.get("config") or {}).get("find") or {}).get("stop_factor")
    methods = _methods(doc)
    table = Table(box=_box(console))
    table.add_column("init\nscale", justify="right", no_wrap=True)
    table.add_column("seed", justify="right", no_wrap=True)
    for m in methods:
        table.add_column(m, justify="right", no_wrap=True)
    if doc.get("limit"):
        table.add_column(f"{doc['limit']}\nat init", justify="right", no_wrap=True)
    table.add_column("stopped at lr", justify="left", no_wrap=True)
    for run in doc.get("runs") or []:
        row = [fmt_num(run.get("init_scale")), str(run.get("seed"))]
        row += [fmt_num((run.get("suggestions") or {}).get(m)) for m in methods]
        if doc.get("limit"):
            row.append(fmt_num(run.get("critical_lr")))
        row.append(_stop_text(run, factor))
        table.add_row(*(Text(cell) for cell in row))
    return table


def _vs(lr, measured) -> str:
    """``lr`` as a multiple of the measured largest converging lr."""
    if lr is None or measured is None:
        return "-"
    return f"{lr / measured:.2g} x"


def _summary_table(doc: Mapping, scale: Mapping, console: Console) -> Table:
    measured = scale.get("largest_converging_lr")
    table = Table(box=_box(console))
    table.add_column("", no_wrap=True)
    table.add_column("lr\n(median)", justify="right", no_wrap=True)
    table.add_column(Text("over seeds\n[min, max]; measured"), justify="right", no_wrap=True)
    table.add_column("moves\nmax/min", justify="right", no_wrap=True)
    table.add_column("/ largest\nconverging", justify="right", no_wrap=True)
    for name, s in (scale.get("suggestions") or {}).items():
        if s is None:
            table.add_row(f"{name} (suggested)", "none", "-", "-", "-")
            continue
        table.add_row(
            f"{name} (suggested)",
            fmt_num(s["median"]),
            Text(f"[{fmt_num(s['min'])}, {fmt_num(s['max'])}]"),
            f"{s['ratio']:.3g} x",
            _vs(s["median"], measured),
        )
    if doc.get("limit"):
        crit = scale.get("critical_lr")
        table.add_row(
            f"{doc['limit']} at init (predicted)", fmt_num(crit), "", "", _vs(crit, measured)
        )
    if doc.get("sweep") is not None:
        table.add_row(
            Text("largest converging (measured)", style="bold"),
            Text(fmt_num(measured) if measured is not None else "none", style="bold green"),
            Text(_bracket_text(doc, scale)),
            "",
            "1 x" if measured is not None else "-",
        )
    return table


def _bracket_text(doc: Mapping, scale: Mapping) -> str:
    """The measured bracket, or why there is none (the answer lies outside the sweep)."""
    bracket, measured = scale.get("bracket"), scale.get("largest_converging_lr")
    if bracket:
        return f"bracket [{fmt_num(bracket[0])}, {fmt_num(bracket[1])}]"
    if measured is None:
        return "none converged"
    if measured == max((doc.get("sweep") or {}).get("learning_rates") or [measured]):
        return "no bracket: the top converged"
    return "no bracket"


def _sweep_line(doc: Mapping) -> str:
    sweep = doc.get("sweep")
    if sweep is None:
        return "no sweep (--no-sweep, or no run suggested anything): nothing measured"
    lrs = sweep.get("learning_rates") or []
    counts = ", ".join(f"{n} {v}" for v, n in (sweep.get("verdict_counts") or {}).items() if n)
    seeds = len(((doc.get("config") or {}).get("training") or {}).get("seeds") or [])
    epochs = plural(int(sweep.get("epochs", 0)), "epoch")
    return (
        f"measured: a sweep of {plural(len(lrs), 'learning rate')} from {fmt_num(lrs[0])} to "
        f"{fmt_num(lrs[-1])} x {plural(seeds, 'seed')}, {epochs}"
        f" each ({counts}); the bracket is its last converging -> first failing lr"
    )


def render_find(doc: Mapping, console: Console) -> None:
    """Print the range test's report: the ramp, each run's suggestions and stop, and per init
    scale the suggestions beside the limit at init and the measured answer."""
    _print_hanging(console, "", Text(_ramp_line(doc), style="bold"))
    if doc.get("complete") is False:
        console.print(Text("incomplete: the sweep was interrupted", style="bold red"))
    console.print("each run's suggestions:", markup=False)
    console.print(_runs_table(doc, console))
    for scale in doc.get("per_scale") or []:
        title = f"init scale {fmt_num(scale.get('init_scale'))}: the guesses beside the answer:"
        console.print(title, markup=False)
        console.print(_summary_table(doc, scale, console))
    _print_hanging(console, "", Text(_sweep_line(doc)))
    render_warnings(doc.get("warnings") or [], console)
    if doc.get("limit"):
        _print_hanging(
            console,
            "",
            Text(
                f"predicted: {doc['limit']} from the Hessian at the initial weights (exact for a "
                "quadratic loss, a guide for a network, whose curvature changes as it trains)"
            ),
        )


def csv_text(doc: Mapping) -> str:
    """find.csv: one row per run and recorded step: its lr, batch loss and smoothed loss."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    lrs = doc.get("lrs") or []
    for run in doc.get("runs") or []:
        for i, (loss, smoothed) in enumerate(zip(run["loss"], run["smoothed"], strict=True)):
            writer.writerow(
                [run["init_scale"], run["seed"], i, repr(lrs[i]), _cell(loss), _cell(smoothed)]
            )
    return out.getvalue()


def _cell(x) -> str:
    return "" if x is None else repr(float(x))


def write_find(doc: Mapping, out_dir: str | os.PathLike) -> list[Path]:
    """find.json and find.csv into ``out_dir``, each written atomically."""
    out_dir = Path(out_dir)
    return [
        atomic_write_text(out_dir / FIND_JSON_NAME, to_json_text(doc)),
        atomic_write_text(out_dir / FIND_CSV_NAME, csv_text(doc)),
    ]
