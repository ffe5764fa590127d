"""report.py: strict JSON, CSV rows, atomic writes, terminal and markdown reports.

Fixtures are results documents built by hand here (the format of results.json), so these tests
do not depend on the sweep or the classifier.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np
import pytest
from factories import LRS, table_doc
from rich.console import Console

from lrdiag import digest, files, formatting, markdown, report, terminal


def plain_console(width=120):
    return Console(file=io.StringIO(), width=width, no_color=True, highlight=False)


# --------------------------------------------------------------------------- JSON


def test_json_is_strict_with_nan_inf_and_numpy_values():
    doc = {
        "a": float("nan"),
        "b": [float("inf"), -float("inf"), 1.5],
        "c": np.float32(0.25),
        "d": np.array([1.0, np.nan, np.inf]),
        "e": np.int64(7),
        "f": np.bool_(True),
        "g": {1: np.float64("nan"), "t": (np.int32(2), None)},
        "h": np.arange(4).reshape(2, 2),
    }
    text = files.to_json_text(doc)
    assert text.endswith("\n")
    assert "NaN" not in text and "Infinity" not in text

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    back = json.loads(text, parse_constant=no_constants)
    assert back == {
        "a": None,
        "b": [None, None, 1.5],
        "c": 0.25,
        "d": [1.0, None, None],
        "e": 7,
        "f": True,
        "g": {"1": None, "t": [2, None]},
        "h": [[0, 1], [2, 3]],
    }
    assert type(back["e"]) is int and type(back["f"]) is bool
    # the strict encoder accepts the converted document as it is
    json.dumps(files.to_jsonable(doc), allow_nan=False)


def test_json_of_a_results_doc_round_trips():
    doc = table_doc()
    doc["runs"][0]["loss"] = np.array([0.7, np.nan, 0.5])
    back = json.loads(files.to_json_text(doc))
    assert back["runs"][0]["loss"] == [0.7, None, 0.5]
    assert back["runs"][1] == doc["runs"][1]
    assert back["summary"] == doc["summary"]


def test_json_rejects_unknown_objects():
    with pytest.raises(TypeError, match="object"):
        files.to_json_text({"x": object()})


# --------------------------------------------------------------------------- CSV


def test_csv_one_row_per_run_with_values():
    doc = table_doc()
    doc["runs"][1]["val"] = {"verdict": "plateaued", "metrics": {"final": 0.33}}
    rows = list(csv.DictReader(io.StringIO(files.runs_to_csv_text(doc))))
    assert len(rows) == len(doc["runs"])
    for row, run in zip(rows, doc["runs"], strict=True):
        assert int(row["id"]) == run["id"]
        assert float(row["learning_rate"]) == run["learning_rate"]
        assert float(row["init_scale"]) == run["init_scale"]
        assert int(row["seed"]) == run["seed"]
        assert row["verdict"] == run["verdict"]
        assert row["reason"] == run["reason"]
        assert row["flags"].split(";") == (run["flags"] or [""])
        m = run["metrics"]
        assert float(row["initial_loss"]) == m["initial"]
        assert float(row["min_loss"]) == m["min"]
        assert int(row["min_epoch"]) == m["min_epoch"]
        if m["final"] is None:
            assert row["final_loss"] == "" and int(row["diverged_epoch"]) == 3
        else:
            assert float(row["final_loss"]) == m["final"]  # repr round-trips exactly
            assert row["diverged_epoch"] == ""
        assert float(row["sharpness_init"]) == m["sharpness_init"]  # extra metric column
    assert rows[1]["val_verdict"] == "plateaued" and float(rows[1]["val_final_loss"]) == 0.33
    assert rows[0]["val_verdict"] == ""


def test_csv_has_the_validation_flags():
    """overfitting is a flag only a validation curve gets: the spreadsheet has it, in one cell."""
    doc = table_doc()
    doc["runs"][2]["val"] = {
        "verdict": "converging",
        "flags": ["overfitting", "noisy"],
        "metrics": {"final": 0.5},
    }
    rows = list(csv.DictReader(io.StringIO(files.runs_to_csv_text(doc))))
    assert rows[2]["val_flags"] == "overfitting;noisy"
    assert rows[0]["val_flags"] == ""
    assert {len(r) for r in csv.reader(io.StringIO(files.runs_to_csv_text(doc)))} == {
        len(files.csv_columns(doc))
    }


def test_csv_columns_are_stable_and_extras_sorted():
    doc = table_doc()
    doc["runs"][0]["metrics"]["zeta"] = 1
    doc["runs"][3]["metrics"]["alpha"] = np.float64(np.nan)
    doc["runs"][3]["metrics"]["not_scalar"] = [1, 2]
    header = files.runs_to_csv_text(doc).splitlines()[0].split(",")
    assert header[: len(files.CSV_COLUMNS)] == list(files.CSV_COLUMNS)
    assert header[len(files.CSV_COLUMNS) :] == ["alpha", "sharpness_init", "zeta"]
    rows = list(csv.DictReader(io.StringIO(files.runs_to_csv_text(doc))))
    assert rows[3]["alpha"] == "" and rows[0]["zeta"] == "1" and rows[1]["zeta"] == ""


def test_csv_quotes_commas_and_newlines_in_reasons():
    doc = table_doc(lrs=(0.1,), scales=(1.0,), seeds=(0,), verdict_at={0.1: "converging"})
    doc["runs"][0]["reason"] = 'fell, then "rose"\nagain'
    rows = list(csv.DictReader(io.StringIO(files.runs_to_csv_text(doc))))
    assert rows[0]["reason"] == 'fell, then "rose"\nagain'


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_content_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "f.txt"
    files.atomic_write_text(path, "old\n")
    files.atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    files.atomic_write_bytes(path, b"\x89bytes")
    assert path.read_bytes() == b"\x89bytes"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        files.atomic_write_text(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


@pytest.mark.made_up_results  # make_doc is a sketch of a document, not a sweep's
def test_write_results_creates_dir_and_files(tmp_path):
    doc = table_doc()
    out = tmp_path / "a" / "b"
    paths = report.write_results(doc, out)
    assert sorted(p.name for p in paths) == ["report.md", "results.csv", "results.json"]
    assert sorted(os.listdir(out)) == ["report.md", "results.csv", "results.json"]
    assert json.loads((out / "results.json").read_text())["runs"][0]["id"] == 0
    report.write_results(doc, out)  # again: replaces, no leftovers
    assert sorted(os.listdir(out)) == ["report.md", "results.csv", "results.json"]


# --------------------------------------------------------------------------- terminal


def test_render_sweep_grid_plain_text():
    doc = table_doc()
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    assert "\x1b[" not in out  # no colour codes
    assert all(ord(c) < 128 for c in out), "box characters in plain output"
    for lr in ("0.01", "0.1", "1", "10"):
        assert any(line.lstrip("| ").startswith(lr + " ") for line in out.splitlines())
    for verdict in ("converging", "oscillating", "diverging", "plateaued"):
        assert verdict in out
    assert "+ converging" in out and "! diverging @3" in out
    # the bracket [0.1, 1] as "stable up to lr" 0.1 and "first failure" 1
    (row,) = [line for line in out.splitlines() if line.startswith("|") and "0.0123" in line][:1]
    assert [c.strip() for c in row.strip("|").split("|")][1:3] == ["0.1", "1"]
    assert "0.0123" in out  # recommended final loss
    assert "4 converging, 4 oscillating, 4 diverging, 4 plateaued" in out
    assert "made up for lr 1" in out  # the reason of the first non-converging run
    assert "made up for lr 0.01" in out  # and of the low-lr plateau
    assert "scale 3" in out and "seed 1" in out


def test_render_sweep_falls_back_to_short_words_then_run_list():
    doc = table_doc(scales=(1.0, 2.0, 3.0), seeds=(0, 1, 2))
    console = plain_console(width=200)
    terminal.render_sweep(doc, console)
    assert "+ conv " in console.file.getvalue() or "+ converging" in console.file.getvalue()
    narrow = plain_console(width=80)
    terminal.render_sweep(doc, narrow)
    out = narrow.file.getvalue()
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "early_spike, borderline" in out  # the run list shows flags
    assert len([line for line in lines if "diverging" in line]) >= 9


def test_render_sweep_few_lrs_lists_runs():
    doc = table_doc(lrs=(0.1, 1.0))
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    assert "verdict" in out and "flags" in out
    rows = [line for line in out.splitlines() if line.startswith("|") and "+ converging" in line]
    assert len(rows) == 4


def test_render_sweep_tolerates_missing_and_extra_parts():
    doc = table_doc()
    doc["runs"] = doc["runs"][:5]  # interrupted
    doc["complete"] = False
    doc["summary"]["stability"] = {
        "per_scale": [{"init_scale": 1.0, "predicted_critical_lr": 0.77, "observed_bracket": None}]
    }
    doc["runs"][0]["metrics"]["critical_lr"] = 0.8
    doc["extra_key"] = {"anything": 1}
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    assert "incomplete" in out and "not run" in out and "0.77" in out
    del doc["summary"]
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    assert "not run" in out and "per init scale" not in out and "verdicts:" in out
    console = plain_console()
    terminal.render_sweep({"runs": []}, console)
    assert console.file.getvalue().splitlines() == ["sweep: 0 runs", "no runs"]


def test_render_sweep_reason_with_brackets_is_not_markup():
    doc = table_doc()
    doc["runs"][2]["reason"] = "oscillating: swings [bold]between[/bold] [0.1, 2]"
    console = plain_console()
    terminal.render_sweep(doc, console)
    assert "[bold]between[/bold] [0.1, 2]" in console.file.getvalue()


def test_render_sweep_colours_verdicts_on_a_terminal():
    console = Console(file=io.StringIO(), width=120, force_terminal=True, color_system="standard")
    terminal.render_sweep(table_doc(), console)
    out = console.file.getvalue()
    assert "\x1b[32m+ converging" in out  # green
    assert "\x1b[1;31m! diverging" in out  # bold red


def test_lr_labels_distinguish_close_rates():
    labels = formatting.lr_labels([0.1, 0.1001, 1e-4])
    assert len(set(labels.values())) == 3
    assert labels[1e-4] == "0.0001"


def test_render_classify():
    doc = {
        "file": "losses.csv",
        "curves": [
            {
                "name": "run_a",
                "verdict": "oscillating",
                "reason": "oscillating: swings of 0.3",
                "flags": ["borderline"],
                "metrics": {"final": 0.5},
            },
            {"name": "run_b", "verdict": "converging", "reason": "fell", "flags": []},
        ],
    }
    console = plain_console()
    terminal.render_classify(doc, console)
    out = console.file.getvalue()
    for text in ("losses.csv", "run_a", "~ oscillating", "swings of 0.3", "borderline", "run_b"):
        assert text in out


@pytest.mark.parametrize("width", [60, 80, 100])
def test_render_classify_fits_the_console_with_long_names(width):
    """A TensorBoard tag as the curve name: the table fits, nothing is cut off (the name and
    the reason fold), the flags are shown (in their column, or after the reason when narrow),
    and no line ends in spaces."""
    name = "a_very_long_curve_name_from_tensorboard/train/epoch_loss_smoothed"
    reason = "diverging: the median of the last 3 epochs (3) sits above the initial loss 1"
    doc = {
        "file": "events.csv",
        "curves": [
            {"name": name, "verdict": "diverging", "reason": reason, "flags": ["overfitting"]},
            {"name": "loss", "verdict": "oscillating", "reason": "swings", "flags": []},
        ],
    }
    console = plain_console(width)
    terminal.render_classify(doc, console)
    lines = console.file.getvalue().splitlines()
    assert lines[0] == "events.csv"
    assert all(len(line) <= width for line in lines), max(map(len, lines))
    assert all(line == line.rstrip() for line in lines)
    rows = [line for line in lines if line.startswith("| ")]  # not the rules
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in rows][1:]  # not the header
    assert "".join(row[0] for row in cells).startswith(name)
    assert reason in " ".join(row[3] for row in cells if row[3])
    assert "overfitting" in console.file.getvalue()
    verdict = "! div" if width < terminal.CLASSIFY_SHORT_BELOW else "! diverging"
    assert cells[0][1] == verdict


# --------------------------------------------------------------------------- markdown


def test_markdown_summary():
    doc = table_doc()
    doc["runs"][1]["reason"] = "converging | with a pipe"
    md = markdown.markdown_summary(doc)
    assert md.startswith("## lrdiag: unit-doc\n") and md.endswith("\n")
    table = [line for line in md.splitlines() if line.startswith("|")]
    # grid: header + rule + one row per lr, summary: header + rule + one row per scale
    assert len(table) == 2 + len(LRS) + 2 + 2
    assert all(line.count(" | ") == table[0].count(" | ") for line in table[2 : 2 + len(LRS)])
    assert "**0.1**" in md and "| 0.1 | 1 | 0.1 | **0.1** |" in md
    assert "made up for lr 1" in md


def test_fmt_num_handles_null_and_nonfinite():
    assert formatting.fmt_num(None) == "-"
    assert formatting.fmt_num(math.nan) == "-"
    assert formatting.fmt_num(np.float32(0.012345)) == "0.0123"


def test_validation_verdicts_are_counted():
    doc = table_doc()
    for r in doc["runs"][:3]:
        r["val"] = {"verdict": "diverging", "reason": "val rose", "flags": ["overfitting"]}
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    assert "validation verdicts: 0 converging, 0 oscillating, 3 diverging" in out
    assert "overfitting x3" in out
    assert "validation verdicts" in markdown.markdown_summary(doc)


@pytest.mark.parametrize("width", [40, 60, 80, 120])
@pytest.mark.parametrize("lrs", [LRS, (0.1, 1.0)], ids=["grid", "run-list"])
def test_render_sweep_fits_the_console_without_trailing_spaces(width, lrs):
    doc = table_doc(lrs=lrs)
    console = plain_console(width)
    terminal.render_sweep(doc, console)
    for line in console.file.getvalue().splitlines():
        assert len(line) <= width and line == line.rstrip(), repr(line)


def test_flagged_runs_are_marked_and_explained():
    doc = table_doc(verdict_at={lr: "converging" for lr in LRS})
    for r in doc["runs"]:
        r["flags"] = ["early_spike"] if r["learning_rate"] == 1.0 else []
    doc["runs"][2]["reason"] = "converging: fell, with a transient spike at epoch 4"
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    assert "+ converging 0.117*" in out and "*: flagged" in out
    assert "[early_spike]: fell, with a transient spike at epoch 4" in out
    assert "0.117\\*" in markdown.markdown_summary(doc)  # escaped in markdown


def test_single_run_and_all_diverged_docs():
    single = table_doc(lrs=(0.1,), scales=(1.0,), seeds=(0,), verdict_at={0.1: "converging"})
    diverged = table_doc(verdict_at={lr: "diverging" for lr in LRS})
    for ps in diverged["summary"]["per_scale"]:
        ps.update(largest_converging_lr=None, bracket=None, recommended_lr=None)
        ps["recommended_final_loss"] = None
    for doc in (single, diverged):
        console = plain_console()
        terminal.render_sweep(doc, console)
        out = console.file.getvalue()
        md = markdown.markdown_summary(doc)
        rows = list(csv.DictReader(io.StringIO(files.runs_to_csv_text(doc))))
        assert len(rows) == len(doc["runs"])
        assert json.loads(files.to_json_text(doc))["runs"] == doc["runs"]
        if doc is single:  # one run: a row of its own, counted in words
            assert "1 run (1 learning rate x 1 init scale x 1 seed)" in out
            assert "+ converging" in out and "1 converging" in out and "1 converging" in md
    assert "16 diverging" in out and "none" in out and "! diverging @3" in out
    assert "made up for lr 0.01" in out  # why nothing converges: the lowest lr
    assert "none" in md


@pytest.mark.parametrize("width", [40, 60, 80])
def test_render_sweep_breaks_lines_between_entries_not_inside_them(width):
    """The key, the counts and the per-scale summary wrap at a narrow console, but no entry is
    split ('*:' on one line, 'flagged' on the next; '0' apart from 'plateaued'), and each scale
    of the summary in words hangs under its own label."""
    doc = table_doc(scales=(1.0,), seeds=(0,))
    for r in doc["runs"][:3]:
        r["val"] = {"verdict": "converging", "flags": ["overfitting", "early_spike"]}
    console = plain_console(width)
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    lines = out.splitlines()
    whole = [
        "+ converging",
        "~ oscillating",
        "! diverging",
        "= plateaued",
        "@N: diverged at epoch N",
        "*: flagged",
        "1 converging",
        "1 oscillating",
        "1 diverging",
        "1 plateaued",
        "early_spike x3",
        "overfitting x3",
    ]
    for phrase in whole:
        assert any(phrase in line for line in lines), (phrase, out)
    if "scale 1: largest" in out:  # the summary in words: continuation lines under the body
        start = next(i for i, line in enumerate(lines) if "scale 1: largest" in line)
        body = lines[start].index("largest")
        assert lines[start + 1].startswith(" " * body) and lines[start + 1][body] != " "
    for line in lines:
        assert len(line) <= width and line == line.rstrip(), repr(line)


def test_markdown_renders_names_as_written_and_tables_as_tables():
    """Parsed as CommonMark with tables (GitHub's base): the heading reads the config's name as
    written (no HTML tag, no formula, no emphasis), and the grid and summary are tables with a
    cell per column in every row."""
    markdown_it = pytest.importorskip("markdown_it")
    name = "<my model> costs $x$ | a*b"
    doc = table_doc()
    doc["config"]["name"] = name
    parser = markdown_it.MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(markdown.markdown_summary(doc))
    assert not [t for t in tokens if t.type.startswith("html")]
    heading = next(tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open")
    children = heading.children or []
    assert not [c for c in children if c.type.startswith("html") or c.type.endswith("_open")]
    assert "".join(c.content for c in children if c.type == "text") == f"lrdiag: {name}"
    tables, cells = [], []
    for t in tokens:
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            cells = []
            tables[-1].append(cells)
        elif t.type in ("th_open", "td_open"):
            cells.append(t)
    assert len(tables) == 2
    grid, summary = tables
    assert len(grid) == 1 + len(LRS) and {len(row) for row in grid} == {1 + 2 * 2}
    assert len(summary) == 1 + 2 and len({len(row) for row in summary}) == 1


def test_why_does_not_say_diverging_twice():
    """The classifier's reason for a loss that became non-finite starts "diverged:"; after the
    verdict it would read "! diverging: diverged: loss became ...", in markdown too."""
    doc = table_doc(verdict_at={lr: "diverging" for lr in LRS}, scales=(1.0,), seeds=(0,))
    for r in doc["runs"]:
        r["reason"] = "diverged: loss became non-finite at epoch 3 (last finite 80)"
    console = plain_console()
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    md = markdown.markdown_summary(doc)
    assert "! diverging: loss became non-finite at epoch 3" in out and "diverged:" not in out
    assert "**diverging**: loss became non-finite at epoch 3" in md and "diverged:" not in md
    csv_text = files.runs_to_csv_text(doc)  # the files keep the reason whole
    assert "diverged: loss became non-finite" in csv_text


def test_why_says_how_many_runs_it_leaves_out():
    """Six init scales, each with a bracket [0.1, 1] (lr 1 oscillates), a failure at the lowest
    rate (0.01 plateaus) and a flagged run (0.1): 18 runs are worth explaining; why shows
    MAX_NOTES of them and says how many more there are."""
    scales = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    doc = table_doc(scales=scales, seeds=(0,))
    doc["summary"]["per_scale"] = [dict(s, bracket=[0.1, 1.0]) for s in doc["summary"]["per_scale"]]
    console = plain_console(200)
    terminal.render_sweep(doc, console)
    out = console.file.getvalue()
    shown = [line for line in out.splitlines() if line.startswith("  lr ")]
    assert len(shown) == digest.MAX_NOTES
    hidden = 3 * len(scales) - digest.MAX_NOTES
    assert f"... and {hidden} more runs like these" in out
    assert f"... and {hidden} more runs like these" in markdown.markdown_summary(doc)
    small = table_doc(scales=(1.0,), seeds=(0,))
    assert "more run" not in markdown.markdown_summary(small)


@pytest.mark.parametrize(
    "n_params, flipped, last_line",
    [
        (1, False, "the parameter matches finite differences"),
        (3, False, "all 3 parameters match finite differences"),
        (1, True, "1 of 1 parameter has gradient problems"),
        (3, True, "1 of 3 parameters has gradient problems"),
    ],
)
def test_gradcheck_summary_line_counts_in_words(n_params, flipped, last_line):
    """The loss sum_k (k+1) * p_k^2 / 2 has gradient (k+1) * p_k; the first one flipped."""
    from lrdiag.gradcheck import check_gradients

    params = {f"p{k}": np.array([0.5, -1.0]) for k in range(n_params)}

    def loss(p):
        return float(sum((k + 1) * np.sum(p[f"p{k}"] ** 2) / 2 for k in range(n_params)))

    def grad(p):
        g = {f"p{k}": (k + 1) * p[f"p{k}"] for k in range(n_params)}
        if flipped:
            g["p0"] = -g["p0"]
        return g

    console = plain_console()
    terminal.render_gradcheck(check_gradients(loss, grad, params), console)
    assert console.file.getvalue().rstrip("\n").splitlines()[-1] == last_line
