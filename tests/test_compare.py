"""`lrdiag compare BEFORE AFTER` (issue 17): two sweeps of the quickstart, one with a changed init
scale, compared end to end.

The expected changes are worked out here from the two results documents with plain loops (which
runs changed verdict, which newly diverge, the top of the first run of converging rates), not
taken from lrdiag's compare; the exit codes follow from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from lrdiag import report, results, sweep
from lrdiag.cli import cli
from lrdiag.config import load_config
from lrdiag.data import load_dataset

QUICKSTART = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"
CHANGED_SCALE = 100.0  # saturates the tanh units: the boundary moves, runs change verdict


def _sweep_to(tmp: Path, scale: float) -> Path:
    text = QUICKSTART.read_text().replace("scales: [1.0]", f"scales: [{scale}]")
    assert f"scales: [{scale}]" in text
    config = tmp / f"scale{scale:g}.yaml"
    config.write_text(text)
    cfg = load_config(config)
    dataset = load_dataset(cfg.data, cfg.model, file=str(config))
    runs = sweep.expand_grid(cfg)
    doc = results.document(cfg, runs, sweep.train(cfg, dataset, runs), dataset.n_classes)
    out = tmp / f"out{scale:g}"
    report.write_results(doc, out)
    return out


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("compare")
    return _sweep_to(tmp, 1.0), _sweep_to(tmp, CHANGED_SCALE)


def _rows(out: Path) -> dict[tuple, dict]:
    doc = json.loads((out / "results.json").read_text())
    return {(r["learning_rate"], r["seed"]): r for r in doc["runs"]}


def _stable_up_to(rows: dict[tuple, dict]) -> float | None:
    """The top of the first run of learning rates, going up, at which every seed converges."""
    lrs = sorted({lr for lr, _ in rows})
    ok = [all(r["verdict"] == "converging" for (x, _), r in rows.items() if x == lr) for lr in lrs]
    top = None
    for lr, good in zip(lrs, ok, strict=True):
        if good:
            top = lr
        elif top is not None:
            break
    return top


def _compare(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["compare", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_changes_between_two_scales_are_the_runs_that_changed(two_sweeps):
    before, after = two_sweeps
    rb, ra = _rows(before), _rows(after)
    changed = {
        k: (rb[k]["verdict"], ra[k]["verdict"]) for k in rb if rb[k]["verdict"] != ra[k]["verdict"]
    }
    assert changed, "scale 100 should change some verdicts of the quickstart"
    code, out, err = _compare(str(before), str(after), "--json")
    assert code == 0, err
    doc = json.loads(out)
    got = {
        (c["learning_rate"], c["seed"]): (c["before"], c["after"]) for c in doc["verdict_changes"]
    }
    assert got == changed
    (group,) = doc["groups"]
    assert group["before"]["boundary_lr"] == _stable_up_to(rb)
    assert group["after"]["boundary_lr"] == _stable_up_to(ra)
    assert doc["paired"] == {"init_scale": [1.0, CHANGED_SCALE]}
    assert any("compared with each other" in n for n in doc["notes"])
    assert doc["runs_compared"] == len(rb)
    schema = json.loads(CliRunner().invoke(cli, ["schema", "compare"]).stdout)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []


@pytest.mark.parametrize("forward", [True, False], ids=["1->100", "100->1"])
@pytest.mark.parametrize("change", ["boundary-down", "new-divergence", "verdict-change"])
def test_fail_on_exits_1_exactly_when_the_change_is_there(two_sweeps, forward, change):
    before, after = two_sweeps if forward else two_sweeps[::-1]
    rb, ra = _rows(before), _rows(after)
    expected = {
        "verdict-change": any(rb[k]["verdict"] != ra[k]["verdict"] for k in rb),
        "new-divergence": any(
            ra[k]["verdict"] == "diverging" and rb[k]["verdict"] != "diverging" for k in rb
        ),
        "boundary-down": (_stable_up_to(ra) or 0) < (_stable_up_to(rb) or 0),
    }[change]
    code, out, err = _compare(str(before), str(after), "--fail-on", change)
    assert code == (1 if expected else 0), (out, err)
    assert (f"fail-on {change}:" in out) == expected


def test_the_quickstart_pair_matches_each_kind_one_way(two_sweeps):
    """The pair is a real test of the gate: scale 100 moves the boundary down (10 -> 1) and
    going back makes runs at lr 100 diverge that converged."""
    before, after = two_sweeps
    assert _compare(str(before), str(after), "--fail-on", "boundary-down")[0] == 1
    assert _compare(str(after), str(before), "--fail-on", "new-divergence")[0] == 1
    assert _compare(str(after), str(before), "--fail-on", "boundary-down")[0] == 0


def test_markdown_is_a_table_per_group_and_the_changes(two_sweeps):
    before, after = two_sweeps
    code, out, _ = _compare(str(before / "results.json"), str(after), "--markdown")
    assert code == 0
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| init scale"))
    assert lines[header + 1].startswith("|---:")
    assert lines[header + 2].startswith("| 1 -> 100 | **10 -> 1 (down)** |")
    assert "Verdict changes:" in out and "\x1b" not in out


# --------------------------------------------------------------------------- grids

TINY = {
    "data": {"kind": "moons", "n_samples": 24, "seed": 0},
    "model": {"hidden": [4], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
    "init": {"scheme": "xavier", "scales": [1.0, 2.0]},
    "training": {"epochs": 6, "seeds": [0]},
    "sweep": {"learning_rates": [0.01, 0.5]},
}


def _tiny(tmp_path: Path, name: str, **sections) -> Path:
    cfg = {**TINY, **sections}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(out), "-q", "--no-plots"])
    assert result.exit_code == 0, result.output
    return out


def test_grids_with_no_run_in_common_exit_2_naming_the_axis(tmp_path):
    a = _tiny(tmp_path, "a")
    b = _tiny(tmp_path, "b", sweep={"learning_rates": [0.02, 0.3]})
    code, out, err = _compare(str(a), str(b))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "sweep.learning_rates: [0.01, 0.5] before, [0.02, 0.3] after (none in common)" in err


def test_a_partial_overlap_is_compared_on_the_overlap_with_a_note(tmp_path):
    a = _tiny(tmp_path, "a")
    b = _tiny(tmp_path, "b", sweep={"learning_rates": [0.01, 0.5, 1.0]})
    code, out, err = _compare(str(a), str(b), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["runs_compared"] == 4  # 2 rates x 2 scales
    (note,) = [n for n in doc["notes"] if "overlap" in n]
    assert "sweep.learning_rates only after: 1" in note
    assert [g["axes"]["init_scale"] for g in doc["groups"]] == [1.0, 2.0]


def test_configs_that_differ_outside_the_grid_say_so(tmp_path):
    a = _tiny(tmp_path, "a")
    b = _tiny(tmp_path, "b", training={"epochs": 7, "seeds": [0]})
    code, out, _ = _compare(str(a), str(b), "--json")
    assert code == 0
    assert any("training.epochs 6 -> 7" in n for n in json.loads(out)["notes"])


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no results.json in this directory"),
        ("{", "not JSON"),
        ('{"runs": [{"lr": 1}]}', "not an lrdiag results.json"),
    ],
)
def test_unreadable_inputs_exit_2_with_one_line(tmp_path, content, message):
    good = _tiny(tmp_path, "a")
    if content is None:
        bad = tmp_path / "empty"
        bad.mkdir()
    else:
        bad = tmp_path / "bad.json"
        bad.write_text(content)
    code, out, err = _compare(str(good), str(bad))
    assert code == 2 and out == "" and message in err and err.count("\n") == 1


def test_unknown_fail_on_is_a_usage_error(tmp_path):
    a = _tiny(tmp_path, "a")
    code, _, err = _compare(str(a), str(a), "--fail-on", "boundary-up")
    assert code == 2 and "choose from boundary-down, new-divergence, verdict-change" in err


def test_no_run_judged_on_both_sides_is_an_error_not_an_empty_table(tmp_path):
    """An interrupted sweep whose results.json names its runs without verdicts: comparing it
    leaves nothing to compare, which is said (exit 2), not printed as an empty table."""
    a = _tiny(tmp_path, "a")
    b = _tiny(tmp_path, "b")
    doc = json.loads((b / "results.json").read_text())
    for run in doc["runs"]:
        run["verdict"] = None
    (b / "results.json").write_text(json.dumps(doc))
    code, out, err = _compare(str(a), str(b))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"none of the {len(doc['runs'])} run(s) in common has a verdict on both sides" in err
