"""The outside corpus (tests/data/outside): its format, its labelling's independence, its loader.

Curves from real PyTorch/Keras training, labelled from the verdict definitions by
tools/corpus/outside/label.py and a look at every curve (never by lrdiag). `make eval-classify`
prints the accuracy. Needs neither torch nor keras. Held-out sets 2 to 7
(tests/data/outside2 ... outside7) are checked at the end: their format and that their labels
are the rules' and overridesN.csv's alone.
"""

from __future__ import annotations

import ast
import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lrdiag.classify import VERDICTS
from tools.corpus import evaluate as ev

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = ROOT / "tests" / "data" / "outside"
OUTSIDE2 = ROOT / "tests" / "data" / "outside2"
OUTSIDE3 = ROOT / "tests" / "data" / "outside3"
OUTSIDE4 = ROOT / "tests" / "data" / "outside4"
OUTSIDE5 = ROOT / "tests" / "data" / "outside5"
OUTSIDE6 = ROOT / "tests" / "data" / "outside6"
OUTSIDE7 = ROOT / "tests" / "data" / "outside7"
TOOLS = ROOT / "tools" / "corpus" / "outside"
CLASSES = [f"class{i}" for i in range(1, 8)]
LOSS_NAMES = {"", "bce", "cross_entropy", "mse"}
TAGS = {"healthy_noisy", *CLASSES}


def _rows():
    with (OUTSIDE / "labels.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def test_labels_have_the_documented_columns():
    with (OUTSIDE / "labels.csv").open(encoding="utf-8") as f:
        assert f.readline().strip().split(",") == ev.OUTSIDE_COLUMNS


def test_every_row_is_valid_and_its_curve_file_exists():
    assert len(ROWS) >= 400
    seen = set()
    for r in ROWS:
        key = (r["id"], r["column"])
        assert key not in seen, key
        seen.add(key)
        assert r["column"] in ("loss", "val_loss"), r
        assert r["split"] in ev.SPLITS, r
        assert r["verdict"] in VERDICTS, r
        assert r["unambiguous"] in ("true", "false"), r
        assert r["why"].strip() and "\n" not in r["why"], r
        assert r["loss_name"] in LOSS_NAMES, r
        assert r["n_classes"] == "" or int(r["n_classes"]) >= 2, r
        tags = set(r["tags"].split())
        assert tags <= TAGS, r
        if "healthy_noisy" in tags:
            assert r["verdict"] not in ev.ALARMS, r
        path = OUTSIDE / "curves" / f"{r['id']}.csv"
        assert path.is_file(), path
        with path.open(encoding="utf-8") as f:
            head = f.readline().strip().split(",")
        assert head[0] in ("step", "epoch") and head[1] == "loss" and r["column"] in head, head


def test_curve_files_are_small_and_well_formed():
    files = sorted((OUTSIDE / "curves").glob("*.csv"))
    assert {f.stem for f in files} == {r["id"] for r in ROWS}
    assert sum(f.stat().st_size for f in files) < 8 * 2**20
    for f in files:
        x_name, x, cols = ev.read_curve_csv(f)
        assert 1 <= len(x) <= 2001, f  # a run that is NaN in its first epoch logs one row
        assert np.all(np.diff(x) > 0), f
        assert set(cols) <= {"loss", "val_loss"}, f


def test_a_files_rows_share_a_split():
    by_id: dict[str, set[str]] = {}
    for r in ROWS:
        by_id.setdefault(r["id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_id.values())


@pytest.mark.parametrize("split", ["dev", "test"])
def test_each_half_has_every_verdict_and_every_class(split):
    half = [r for r in ROWS if r["split"] == split]
    unamb = Counter(r["verdict"] for r in half if r["unambiguous"] == "true")
    for v in VERDICTS:
        assert unamb[v] >= 5, (split, unamb)
    tags = Counter(t for r in half for t in r["tags"].split())
    for c in CLASSES:
        assert tags[c] >= 1, (split, c, tags)
    assert tags["healthy_noisy"] >= 10, (split, tags)
    assert 0.35 <= len(half) / len(ROWS) <= 0.65


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


@pytest.mark.parametrize(
    "name", ["label.py", "generate.py", "contact.py", *(f"set{n}.py" for n in range(3, 8))]
)
def test_labelling_and_generation_import_nothing_from_lrdiag(name):
    names = _imports(TOOLS / name)
    assert names, name
    assert not any(n == "lrdiag" or n.startswith("lrdiag.") for n in names), names
    assert not any(n.startswith(".") for n in names), names  # no relative way round it


def test_the_import_check_catches_lrdiag(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import numpy\nfrom lrdiag.classify import classify\n")
    assert "lrdiag.classify" in _imports(f)


def test_labels_are_what_the_rules_and_overrides_make():
    """labels.csv is label.py's output: no hand edit outside overrides.csv (needs no torch)."""
    import io

    from tools.corpus.outside import label

    buf = io.StringIO()
    label.write_labels(label.label_all(), buf)
    assert buf.getvalue() == (OUTSIDE / "labels.csv").read_text(encoding="utf-8")


def test_overrides_each_name_a_curve_and_say_why():
    with (TOOLS / "overrides.csv").open(encoding="utf-8", newline="") as f:
        overrides = list(csv.DictReader(f))
    keys = {(r["id"], r["column"]) for r in ROWS}
    for o in overrides:
        assert (o["id"], o["column"]) in keys, o
        assert o["why"].strip(), o
        verdict = o["label"].removeprefix("ambiguous:")
        assert verdict in (*VERDICTS, "ambiguous"), o


def test_loader_round_trip():
    cases = ev.load_outside(OUTSIDE)
    assert len(cases) == len(ROWS)
    dev, test = ev.load_outside(OUTSIDE, "dev"), ev.load_outside(OUTSIDE, "test")
    assert len(dev) + len(test) == len(cases)
    assert {c.id for c in dev}.isdisjoint({c.id for c in test})
    by_key = {(r["id"], r["column"]): r for r in ROWS}
    for c in cases:
        rid, _, column = c.id.partition(":")
        r = by_key[(rid, column or "loss")]
        assert c.verdict == r["verdict"] and c.unambiguous == (r["unambiguous"] == "true")
        assert c.tags == tuple(r["tags"].split()) and c.why == r["why"]
        assert c.loss_name is None and c.n_classes is None  # the classifier is not told
        assert c.meta["loss_name"] == r["loss_name"] and c.meta["split"] == r["split"]
        _, x, cols = ev.read_curve_csv(OUTSIDE / "curves" / f"{rid}.csv")
        np.testing.assert_array_equal(c.curve, cols[column or "loss"])
        np.testing.assert_array_equal(c.x, x)
        if column:
            np.testing.assert_array_equal(c.train, cols["loss"])
        else:
            assert c.train is None


def test_loader_reads_nan_and_inf_and_rejects_bad_rows(tmp_path):
    (tmp_path / "curves").mkdir()
    (tmp_path / "curves" / "a.csv").write_text("step,loss\n0,1.5\n1,inf\n2,nan\n")
    head = ",".join(ev.OUTSIDE_COLUMNS)
    row = "a,loss,dev,diverging,true,ends non-finite,mse,,,torch,sgd,10,1,full,x"
    (tmp_path / "labels.csv").write_text(f"{head}\n{row}\n")
    (c,) = ev.load_outside(tmp_path)
    assert c.curve[0] == 1.5 and np.isinf(c.curve[1]) and np.isnan(c.curve[2])
    assert c.x_name == "step" and c.meta["batch"] == "full"
    assert ev.load_outside(tmp_path, "test") == []
    (tmp_path / "labels.csv").write_text(f"{head}\n{row.replace('diverging', 'exploding')}\n")
    with pytest.raises(ev.CorpusError, match="verdict must be"):
        ev.load_outside(tmp_path)
    (tmp_path / "labels.csv").write_text(f"{head}\n{row.replace(',loss,', ',val_loss,')}\n")
    with pytest.raises(ev.CorpusError, match="no column 'val_loss'"):
        ev.load_outside(tmp_path)


def test_format_outside_counts_by_hand():
    def outcome(expected, got, tags=(), unambiguous=True):
        c = ev.Case("i", "outside", expected, unambiguous, "w", np.ones(3), tags=tags)
        return ev.Outcome(c, ev.Verdict(got, "r", (), {}))

    outs = [
        outcome("converging", "converging", ("healthy_noisy",)),
        outcome("converging", "oscillating", ("healthy_noisy",)),
        outcome("oscillating", "oscillating", ("class1",)),
        outcome("plateaued", "converging", ("class2",), unambiguous=False),
    ]
    text = ev.format_outside(outs, "half")
    assert "4 curve columns, 3 unambiguous; accuracy on the unambiguous: 2/3 (66.7%)" in text
    assert "alarms on healthy noisy runs: 1/2" in text
    assert "class1 (edge-of-stability bouncing): 1/1 right (1/1 unambiguous)" in text
    assert "class2 (learning rate far too small): 0/1 right (0/0 unambiguous)" in text


def test_with_facts_passes_the_loss_names_the_classifier_knows_and_the_class_count():
    def case(loss_name, k):
        meta = {"loss_name": loss_name, "n_classes": k}
        return ev.Case("i", "outside", "plateaued", True, "w", np.ones(3), meta=meta)

    c = ev.with_facts(case("cross_entropy", 10))
    assert (c.loss_name, c.n_classes) == ("cross_entropy", 10)
    c = ev.with_facts(case("bce", 2))
    assert (c.loss_name, c.n_classes) == ("bce", 2)
    c = ev.with_facts(case("mse", None))
    assert (c.loss_name, c.n_classes) == ("mse", None)
    for name in ("huber", "l1", ""):  # a loss the classifier has no name for: told nothing
        c = ev.with_facts(case(name, None))
        assert (c.loss_name, c.n_classes) == (None, None)


def test_format_outside_adds_the_with_facts_line_counted_by_hand():
    def outcome(expected, got, tags=(), unambiguous=True):
        c = ev.Case("i", "outside", expected, unambiguous, "w", np.ones(3), tags=tags)
        return ev.Outcome(c, ev.Verdict(got, "r", (), {}))

    curve_only = [outcome("plateaued", "converging"), outcome("converging", "converging")]
    facts = [
        outcome("plateaued", "plateaued"),
        outcome("converging", "oscillating", ("healthy_noisy",)),
        outcome("converging", "converging", unambiguous=False),
    ]
    text = ev.format_outside(curve_only, "set", facts=facts)
    assert "accuracy on the unambiguous: 1/2 (50.0%)" in text.splitlines()[0]
    assert "with the facts a sweep knows (loss name, class count): 1/2 (50.0%), 1 false" in text
    assert "with the facts" not in ev.format_outside(curve_only, "set")


def test_the_second_labeller_judged_exactly_the_test_half_with_valid_rows():
    """labels_second.csv (a second labeller's verdicts, blind to lrdiag and to labels.csv) has
    one row per curve column of the test half, no more, each with a verdict, sure and a why."""
    with (OUTSIDE / ev.SECOND).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [(r["id"], r["column"]) for r in rows]
    with (OUTSIDE / "labels.csv").open(encoding="utf-8", newline="") as f:
        test = {(r["id"], r["column"]) for r in csv.DictReader(f) if r["split"] == "test"}
    assert len(keys) == len(set(keys)) and set(keys) == test
    for r in rows:
        assert r["verdict"] in ev.VERDICTS and r["sure"] in ("true", "false") and r["why"], r
    assert len(ev.load_second(OUTSIDE)) == len(test)


def test_the_two_labellers_agreement_line_counted_by_hand(tmp_path):
    def outcome(cid, expected, got, unambiguous=True):
        c = ev.Case(cid, "outside", expected, unambiguous, "w", np.ones(3))
        return ev.Outcome(c, ev.Verdict(got, "r", (), {}))

    (tmp_path / ev.SECOND).write_text(
        "id,column,verdict,sure,why\n"
        "a,loss,converging,true,w\nb,loss,plateaued,true,w\nb,val_loss,diverging,false,w\n"
        "c,loss,oscillating,true,w\n",
        encoding="utf-8",
    )
    second = ev.load_second(tmp_path)
    assert second == {"a": "converging", "b": "plateaued", "b:val_loss": "diverging",
                      "c": "oscillating"}  # fmt: skip
    # a, b agree with labels.csv; b:val_loss does not; c is ambiguous there; d was not judged
    curve_only = [
        outcome("a", "converging", "converging"),
        outcome("b", "plateaued", "converging"),
        outcome("b:val_loss", "converging", "converging"),
        outcome("c", "oscillating", "oscillating", unambiguous=False),
        outcome("d", "converging", "converging"),
    ]
    facts = [outcome(o.case.id, o.case.verdict, o.case.verdict) for o in curve_only]
    text = ev.format_outside(curve_only, "half", facts=facts, second=second)
    assert "agrees on 2/3; on those, lrdiag: 1/2 curve only, 2/2 with the facts" in text
    assert "second labeller" not in ev.format_outside(curve_only, "half", facts=facts)
    assert ev.load_second(tmp_path / "nowhere") == {}


# --------------------------------------------------------------------------------------------
# The classifier on the outside corpus: floors under what issue 11 reached (docs/verdicts.md
# has the numbers), so a change cannot lose ground unnoticed. The issue's own target, 98% of
# the test half, is not reached yet; raise these floors as it gets closer.


@pytest.mark.parametrize(("split", "floor"), [("dev", 0.95), ("test", 0.95)])
def test_the_classifier_keeps_its_accuracy_on_each_half(split, floor):
    cases = [c for c in ev.load_outside(OUTSIDE, split) if c.unambiguous]
    outcomes = ev.evaluate(cases)
    right = sum(o.got.verdict == o.case.verdict for o in outcomes)
    assert right >= floor * len(cases), f"{split}: {right}/{len(cases)}"


@pytest.mark.parametrize("split", ["dev", "test"])
def test_no_healthy_run_is_called_diverging_or_oscillating(split):
    healthy = [c for c in ev.load_outside(OUTSIDE, split) if "healthy_noisy" in c.tags]
    assert len(healthy) > 50
    alarms = [
        (o.case.id, o.got.verdict)
        for o in ev.evaluate(healthy)
        if o.got.verdict in ("diverging", "oscillating")
    ]
    assert not alarms


# --------------------------------------------------------------------------------------------
# Held-out sets 2 to 7 (tests/data/outside2 ... outside7): fresh runs, labelled before lrdiag
# saw them. No accuracy floor: `make eval-classify` prints the measurements of sets 2-6
# ("held-out set N"); set 7 is measured once, by hand, and is not in `make eval-classify`.

HELD = {2: OUTSIDE2, 3: OUTSIDE3, 4: OUTSIDE4, 5: OUTSIDE5, 6: OUTSIDE6, 7: OUTSIDE7}


def _held_rows(path):
    with (path / "labels.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("set_no", sorted(HELD))
def test_held_out_rows_are_valid_and_have_their_curves(set_no):
    path = HELD[set_no]
    rows = _held_rows(path)
    with (path / "labels.csv").open(encoding="utf-8") as f:
        assert f.readline().strip().split(",") == ev.OUTSIDE_COLUMNS
    assert len(rows) >= 200
    assert len({(r["id"], r["column"]) for r in rows}) == len(rows)
    for r in rows:
        assert r["split"] == ev.HELDOUT, r
        assert r["verdict"] in VERDICTS and r["unambiguous"] in ("true", "false"), r
        assert r["why"].strip() and "\n" not in r["why"], r
        assert set(r["tags"].split()) <= TAGS, r
    files = sorted((path / "curves").glob("*.csv"))
    assert {f.stem for f in files} == {r["id"] for r in rows}
    assert sum(f.stat().st_size for f in files) < 6 * 2**20
    with (path / "manifest.csv").open(encoding="utf-8", newline="") as f:
        assert {r["id"] for r in csv.DictReader(f)} == {f.stem for f in files}


def test_held_out_sets_are_new_runs_not_copies():
    """No two sets share a seed (so each set's runs have new data and a new init)."""

    def seeds(path):
        with (path / "manifest.csv").open(encoding="utf-8", newline="") as f:
            return {int(r["seed"]) for r in csv.DictReader(f)}

    sets = [seeds(path) for path in (OUTSIDE, *HELD.values())]
    for i, a in enumerate(sets):
        for b in sets[i + 1 :]:
            assert a.isdisjoint(b)


@pytest.mark.parametrize("set_no", sorted(HELD))
def test_held_out_labels_are_what_the_rules_and_overrides_make(set_no):
    """labels.csv is label.py's output with that set's overrides: no hand edit elsewhere."""
    import io

    from tools.corpus.outside import label

    buf = io.StringIO()
    label.write_labels(label.label_set(set_no), buf)
    assert buf.getvalue() == (HELD[set_no] / "labels.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("set_no", sorted(HELD))
def test_held_out_overrides_each_name_a_curve_and_say_why(set_no):
    with (TOOLS / f"overrides{set_no}.csv").open(encoding="utf-8", newline="") as f:
        overrides = list(csv.DictReader(f))
    keys = {(r["id"], r["column"]) for r in _held_rows(HELD[set_no])}
    for o in overrides:
        assert (o["id"], o["column"]) in keys, o
        assert o["why"].strip(), o
        assert o["label"].removeprefix("ambiguous:") in (*VERDICTS, "ambiguous"), o


@pytest.mark.parametrize(("path", "per_verdict"), [(OUTSIDE5, 10), (OUTSIDE6, 5), (OUTSIDE7, 3)])
def test_sets_5_to_7_have_set_1s_families_and_every_verdict(path, per_verdict):
    """Sets 5 to 7 estimate accuracy on everyday curves: set 1's families, every verdict and
    class, many healthy runs (sets 6 and 7 have fewer unambiguous oscillating curves: 6, 3)."""
    rows = _held_rows(path)
    assert len(rows) >= 400
    unamb = Counter(r["verdict"] for r in rows if r["unambiguous"] == "true")
    assert all(unamb[v] >= per_verdict for v in VERDICTS), unamb
    tags = Counter(t for r in rows for t in r["tags"].split())
    assert all(tags[c] >= 1 for c in CLASSES), tags
    assert tags["healthy_noisy"] >= 0.15 * len(rows), tags
    frameworks = Counter(r["framework"] for r in rows)
    assert frameworks["keras"] >= 20 and frameworks["torch"] >= 300, frameworks
    kinds = {}
    for where in (path, OUTSIDE):
        with (where / "manifest.csv").open(encoding="utf-8", newline="") as f:
            kinds[where] = {r["kind"] for r in csv.DictReader(f)}
    assert kinds[path] == kinds[OUTSIDE], kinds[path] ^ kinds[OUTSIDE]


@pytest.mark.parametrize("set_no", sorted(HELD))
def test_held_out_set_loads_as_one_held_out_split(set_no):
    path = HELD[set_no]
    cases = ev.load_outside(path, ev.HELDOUT)
    assert len(cases) == len(_held_rows(path))
    assert ev.load_outside(path, "dev") == [] and ev.load_outside(path, "test") == []


def test_evaluate_reports_a_held_out_set_without_changing_the_exit_code(tmp_path, capsys):
    """--heldout DIR prints "held-out set 2" for rows split heldout; its misses never fail."""
    import json

    corpus = tmp_path / "c.jsonl"
    case = {"id": "a", "source": "hand", "verdict": "converging", "unambiguous": True}
    case |= {"why": "falls", "curve": [2.0, 1.0, 0.5, 0.25, 0.12, 0.06, 0.03, 0.02]}
    corpus.write_text(json.dumps(case) + "\n")
    held = tmp_path / "held"
    (held / "curves").mkdir(parents=True)
    (held / "curves" / "b.csv").write_text("step,loss\n0,1.5\n1,inf\n")
    row = "b,loss,heldout,converging,true,made wrong on purpose,mse,,,torch,sgd,10,1,full,x"
    (held / "labels.csv").write_text(",".join(ev.OUTSIDE_COLUMNS) + f"\n{row}\n")
    assert ev.main([str(corpus), "--heldout", str(held)]) == 0
    out = capsys.readouterr().out
    assert f"Outside corpus, held-out set 2 ({held}): 1 curve columns, 1 unambiguous" in out
    assert "accuracy on the unambiguous: 0/1" in out
    # a second --heldout is reported too, numbered by its directory name's last digits
    set3 = tmp_path / "outside3"
    (set3 / "curves").mkdir(parents=True)
    (set3 / "curves" / "b.csv").write_text("step,loss\n0,1.5\n1,1.0\n2,0.5\n3,0.25\n")
    (set3 / "labels.csv").write_text(",".join(ev.OUTSIDE_COLUMNS) + f"\n{row}\n")
    assert ev.main([str(corpus), "--heldout", str(held), "--heldout", str(set3)]) == 0
    out = capsys.readouterr().out
    assert f"held-out set 2 ({held})" in out
    assert f"Outside corpus, held-out set 3 ({set3}): 1 curve columns, 1 unambiguous" in out
    assert out.count("accuracy on the unambiguous") == 2
