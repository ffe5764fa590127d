"""A comparison of two sweeps (``compare.compare``'s document) for people: a terminal report
(rich) and Markdown for a pull-request comment or a CI job summary."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lrdiag.compare import fmt, run_label, value_text
from lrdiag.markdown import _md, _md_table
from lrdiag.terminal import _box, _print_hanging, print_table

MOVED_STYLES = {"down": "bold red", "up": "green", "same": ""}
MAX_LISTED = 20  # verdict and loss changes listed before "... and N more"


def _first_failure(b) -> str:
    return fmt(b[1]) if b else "none"


def _arrow(before, after) -> str:
    return before if before == after else f"{before} -> {after}"


def _group_cells(g: Mapping) -> list[str]:
    b, a = g["before"], g["after"]
    return [
        *(
            _arrow(value_text(v), value_text(g["after_axes"].get(k, v)))
            for k, v in g["axes"].items()
        ),
        _arrow(fmt(b["boundary_lr"]), fmt(a["boundary_lr"])),
        _arrow(_first_failure(b["bracket"]), _first_failure(a["bracket"])),
        _arrow(fmt(b["largest_converging_lr"]), fmt(a["largest_converging_lr"])),
        _arrow(fmt(b["predicted_critical_lr"]), fmt(a["predicted_critical_lr"])),
    ]


GROUP_HEADER = (
    "stable up to lr",
    "first failure",
    "largest converging lr",
    "predicted critical lr",
)
AXIS_HEADER = {"init_scale": "init scale"}


def _headline(doc: Mapping) -> str:
    b, a = doc["before"], doc["after"]
    return (
        f"compare: {b['name']} ({b['file']}) -> {a['name']} ({a['file']}), "
        f"{doc['runs_compared']} run(s) compared"
    )


def _change_line(c: Mapping) -> str:
    return f"{run_label(c)}: {c['before']} -> {c['after']}"


def _loss_line(c: Mapping) -> str:
    ratio = c["after"] / c["before"] if c["before"] else float("inf")
    moved = f"x{ratio:.3g}" if not 0.5 < ratio < 2 else f"{c['change']:+.0%}"
    return f"{run_label(c)}: final loss {fmt(c['before'])} -> {fmt(c['after'])} ({moved})"


def render_compare(doc: Mapping, matched: list[dict], console: Console) -> None:
    """The comparison on a console: the boundary per group, then what changed run by run."""
    _print_hanging(console, "", Text(_headline(doc), style="bold"))
    for note in doc["notes"]:
        _print_hanging(console, "note: ", Text(note, style="yellow"))
    table = Table(box=_box(console))
    for axis in doc["axes"]:
        table.add_column(AXIS_HEADER.get(axis, axis), justify="right")
    for name in GROUP_HEADER:
        table.add_column(name, justify="right")
    for g in doc["groups"]:
        cells = [Text(c) for c in _group_cells(g)]
        cells[len(doc["axes"])].stylize(MOVED_STYLES[g["boundary_moved"]])
        table.add_row(*cells)
    print_table(console, table)
    changes = doc["verdict_changes"]
    console.print(Text(f"verdict changes: {len(changes) or 'none'}"))
    for c in changes[:MAX_LISTED]:
        style = "bold red" if c["after"] == "diverging" else ""
        _print_hanging(console, "  ", Text(_change_line(c), style=style))
    _more(console, changes)
    losses = doc["loss_changes"]
    console.print(
        Text(
            f"final losses that moved by more than {doc['tolerance']:.0%}: {len(losses) or 'none'}"
        )
    )
    for c in losses[:MAX_LISTED]:
        _print_hanging(console, "  ", Text(_loss_line(c)))
    _more(console, losses)
    for m in matched:
        _print_hanging(console, f"fail-on {m['kind']}: ", Text(m["message"], style="bold red"))


def _more(console: Console, items: list) -> None:
    if len(items) > MAX_LISTED:
        console.print(Text(f"  ... and {len(items) - MAX_LISTED} more (--json lists all)"))


def markdown_compare(doc: Mapping, matched: list[dict]) -> str:
    """The comparison as Markdown: a table per group, then the changes run by run."""
    b, a = doc["before"], doc["after"]
    lines = [
        f"## lrdiag compare: {_md(b['name'])} -> {_md(a['name'])}",
        "",
        f"{doc['runs_compared']} run(s) compared.",
        "",
    ]
    lines += [f"> Note: {_md(n)}" for n in doc["notes"]]
    if doc["notes"]:
        lines.append("")
    header = [AXIS_HEADER.get(ax, ax) for ax in doc["axes"]] + list(GROUP_HEADER)
    rows = []
    for g in doc["groups"]:
        cells = [_md(c) for c in _group_cells(g)]
        if g["boundary_moved"] == "down":
            cells[len(doc["axes"])] = f"**{cells[len(doc['axes'])]} (down)**"
        rows.append(cells)
    lines += _md_table(header, rows, ["r"] * len(header)) + [""]
    if matched:
        lines += ["**Failed** (`--fail-on`):", ""]
        lines += [f"- `{m['kind']}`: {_md(m['message'])}" for m in matched] + [""]
    for title, items, line in (
        ("Verdict changes", doc["verdict_changes"], _change_line),
        (
            f"Final losses moved by more than {doc['tolerance']:.0%}",
            doc["loss_changes"],
            _loss_line,
        ),
    ):
        lines += [f"{title}: {len(items) or 'none'}.", ""]
        lines += [f"- {_md(line(c))}" for c in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"- ... and {len(items) - MAX_LISTED} more")
        if items:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
