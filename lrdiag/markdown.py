"""The Markdown report (report.md): verdict grid, per-scale summary, counts and why, for CI
summaries such as ``$GITHUB_STEP_SUMMARY``. Its words and numbers come from ``lrdiag.digest``,
as the terminal's do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrdiag import digest
from lrdiag.digest import FLAG_MARK, INCOMPLETE, MARKERS
from lrdiag.errors import printable
from lrdiag.formatting import lr_labels
from lrdiag.thresholds import VERDICTS


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
    lines += [_md(digest.headline(doc, with_name=False)), ""]
    if doc.get("complete") is False:
        lines += ["**Incomplete**: interrupted; these are the runs so far.", ""]
    if not runs:
        return "\n".join([*lines, "No runs."]) + "\n"

    lrs, scales, seeds = digest.axes(runs)
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
                row.append(_md(digest.cell_text(r)) if r is not None else "not run")
        rows.append(row)
    lines += _md_table(header, rows, ["r"] + ["l"] * (len(header) - 1))
    lines += [
        "",
        "Markers: " + ", ".join(f"`{MARKERS[v]}` {v}" for v in VERDICTS) + "; "
        f"`@N`: diverged at epoch N; `{FLAG_MARK}`: flagged.",
        "",
    ]

    scale_rows = digest.scale_rows(doc)
    if scale_rows:
        header = [
            "init scale",
            "stable up to lr",
            "first failure",
            "largest converging lr",
            "recommended lr",
            "final loss",
        ]
        if scale_rows[0].with_stability:
            header.append("predicted critical lr")
        rows = []
        for s in scale_rows:
            row = [
                s.init_scale,
                s.stable_up_to,
                s.first_failure,
                _md(digest.largest_text(s)),
                f"**{s.recommended_lr}**" if s.recommended_lr is not None else "none",
                s.final_loss,
            ]
            if s.with_stability:
                row.append(s.predicted_critical_lr or "-")
            rows.append(row)
        lines += _md_table(header, rows, ["r"] * len(header)) + [""]
        notes = digest.not_monotone_lines(scale_rows)
        lines += [_md(line) for line in notes] + ([""] if notes else [])

    lines += [f"{_md(line)}." for line in digest.loss_scale_lines(doc)]
    if digest.loss_scale_lines(doc):
        lines.append("")
    lines += [_md(digest.counts_text(runs)), ""]
    val_text = digest.val_counts_text(doc)
    if val_text is not None:
        lines += [_md(val_text), ""]
    notes = digest.notable_runs(doc)
    if notes:
        lines.append("Why:")
        lines.append("")
        for r in notes:
            flags = f" [{', '.join(map(str, r['flags']))}]" if r.get("flags") else ""
            verdict = _md(r.get("verdict") or INCOMPLETE)
            label, why = digest.run_label(r, labels), _md(digest.reason(r))
            lines.append(f"- {label}: **{verdict}**{_md(flags)}: {why}")
        more = digest.more_notes(doc, notes)
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
