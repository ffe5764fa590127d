"""Summaries and tables that never mislead (issue 17): the per-scale summary cannot read as a
contradiction, and off a terminal a table fits COLUMNS or keeps every name whole.

Expected values are worked out here from the runs with plain loops.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from lrdiag import markdown, summary, terminal

LRS = (0.01, 0.03, 0.1, 0.3, 1.0)


def _doc(verdicts: dict[float, str], scales=(3.0,), seeds=(0,)) -> dict:
    grid = [(lr, scale, seed) for scale in scales for seed in seeds for lr in LRS]
    runs = [
        {
            "id": i,
            "learning_rate": lr,
            "init_scale": scale,
            "seed": seed,
            "verdict": verdicts[lr],
            "reason": f"{verdicts[lr]}: made up",
            "flags": [],
            "metrics": {"initial": 0.7, "final": 0.1 + lr},
            "loss": [0.7, 0.1 + lr],
            "val_loss": None,
            "val": None,
        }
        for i, (lr, scale, seed) in enumerate(grid)
    ]
    return {"config": {"name": "made-up"}, "runs": runs, "summary": summary.summarize(runs)}


# 0.1 fails, yet 0.3 converges: the largest converging rate lies above the first failure
NOT_MONOTONE = {0.01: "converging", 0.03: "converging", 0.1: "oscillating", 0.3: "converging",
                1.0: "diverging"}  # fmt: skip


def _first_failure_and_largest(verdicts):
    ok = [lr for lr in LRS if verdicts[lr] == "converging"]
    first_fail = next(lr for lr in LRS if lr > min(ok) and verdicts[lr] != "converging")
    stable = max(lr for lr in ok if lr < first_fail)
    return stable, first_fail, max(ok)


def _render(doc, width=120) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=True, highlight=False)
    terminal.render_sweep(doc, console)
    return out.getvalue()


def test_the_summary_says_when_the_largest_converging_rate_lies_above_a_failure():
    doc = _doc(NOT_MONOTONE)
    stable, first_fail, largest = _first_failure_and_largest(NOT_MONOTONE)
    assert (stable, first_fail, largest) == (0.03, 0.1, 0.3)
    text = _render(doc)
    header = next(
        i for i, line in enumerate(text.splitlines()) if "init" in line and "stable" in line
    )
    row = next(line for line in text.splitlines()[header:] if line.strip("| ").startswith("3 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["3", f"{stable:g}", f"{first_fail:g}", f"{largest:g} (*)"]
    note = f"(*) scale 3: lr {first_fail:g} fails, yet lr {largest:g} converges"
    assert note in " ".join(text.split())
    md = markdown.markdown_summary(doc)
    assert f"| 3 | {stable:g} | {first_fail:g} | {largest:g} (\\*) |" in md
    assert "not monotone" in md


def test_a_monotone_scale_has_no_mark_and_no_note():
    verdicts = {**NOT_MONOTONE, 0.3: "diverging"}
    text = _render(_doc(verdicts))
    assert "(*)" not in text and "not monotone" not in text


@pytest.mark.parametrize("columns", [40, 60, 100])
def test_off_a_terminal_a_table_fits_columns_or_keeps_every_name_whole(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.delenv("NO_COLOR", raising=False)
    doc = _doc(NOT_MONOTONE, scales=(0.5, 3.0, 30.0), seeds=(0, 1))  # wide: 6 columns of runs
    console = terminal.make_console()
    out = io.StringIO()
    console.file = out  # off a terminal: plain text at COLUMNS
    assert console.width == columns
    terminal.render_sweep(doc, console)
    text = out.getvalue()
    assert "…" not in text  # no name cut to an ellipsis
    assert all(len(line) <= columns for line in text.splitlines()), text
    for lr in LRS:  # every learning rate whole, as a word of its own
        assert re.search(rf"(?<![\d.]){re.escape(f'{lr:g}')}(?![\d.])", text), (lr, text)
