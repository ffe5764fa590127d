"""The classifier against the labelled corpus in tests/data/corpus (built by tools/corpus/build.py).

The acceptance test of the classifier: every unambiguous case is right (verdict and expected
flags), and no healthy noisy mini-batch run is called diverging or oscillating. Also: the corpus
is big and varied enough, and follows its format; tools/corpus/evaluate.py counts correctly.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lrdiag.classify import VERDICTS, Verdict
from tools.corpus import evaluate as ev

CORPUS = Path(__file__).parent / "data" / "corpus"
CASES = ev.load_corpus(CORPUS)
UNAMBIGUOUS = [c for c in CASES if c.unambiguous]
HEALTHY = [c for c in CASES if "healthy_noisy" in c.tags]


def _ids(cases):
    return [c.id for c in cases]


# --------------------------------------------------------------------------------------------
# The acceptance tests


@pytest.mark.parametrize("case", UNAMBIGUOUS, ids=_ids(UNAMBIGUOUS))
def test_unambiguous_case_is_right(case):
    o = ev.judge(case)
    assert o.got.verdict == case.verdict, (
        f"expected {case.verdict} ({case.why}); got {o.got.verdict}: {o.got.reason}"
    )
    assert not o.missing_flags, f"missing flags {o.missing_flags}; got {o.got.flags}"


@pytest.mark.parametrize("case", HEALTHY, ids=_ids(HEALTHY))
def test_no_false_alarm_on_healthy_noisy_runs(case):
    o = ev.judge(case)
    assert o.got.verdict not in ev.ALARMS, f"{case.why}; got {o.got.verdict}: {o.got.reason}"


# --------------------------------------------------------------------------------------------
# The corpus itself


def test_corpus_is_big_and_covers_every_verdict_and_source():
    assert len(CASES) >= 200
    by_verdict = Counter(c.verdict for c in CASES)
    unamb = Counter(c.verdict for c in UNAMBIGUOUS)
    for v in VERDICTS:
        assert by_verdict[v] >= 20, by_verdict
        assert unamb[v] >= 10, unamb
    assert {c.source for c in CASES} >= {"sweep", "closed_form", "hand"}
    assert len(HEALTHY) >= 20
    lengths = [c.curve.size for c in CASES]
    assert min(lengths) <= 10 and max(lengths) >= 5000
    # Curves with nulls, negative values and widely different scales are all represented.
    assert any(np.isnan(c.curve).any() for c in CASES)
    assert any(np.nanmin(c.curve) < 0 for c in CASES if np.isfinite(c.curve).any())
    scales = [np.nanmax(np.abs(c.curve)) for c in CASES if np.isfinite(c.curve).any()]
    assert min(scales) <= 1e-3 and max(scales) >= 1e3


def test_corpus_files_follow_the_format():
    files = sorted(CORPUS.glob("*.jsonl"))
    assert {f.stem for f in files} >= {"closed_form", "hand", "sweep"}
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)  # strict JSON: no NaN/Infinity tokens
            assert list(d)[0] == "id" and list(d)[-1] == "curve"
            c = ev.parse_case(d, f.name)
            assert c.source == f.stem or (c.source == "sweep" and f.stem.startswith("sweep"))
            if c.loss_name == "bce":
                assert c.n_classes in (None, 2)


def test_ids_are_unique_across_files():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "exploding"}, "verdict must be one of"),
        ({"flags": ["spiky"]}, "flags must be"),
        ({"unambiguous": "yes"}, "unambiguous must be true or false"),
        ({"curve": []}, "curve must be"),
        ({"curve": [1.0, "nan"]}, "curve must be"),
        ({"source": "web"}, "source must be one of"),
        ({"why": "two\nlines"}, "why must be one non-empty line"),
        ({"n_classes": 1}, "n_classes must be"),
        ({"loss_name": "hinge"}, "loss_name must be"),
        ({"colour": "red"}, "unknown key"),
        ({"tags": ["healthy_noisy"], "verdict": "diverging"}, "healthy_noisy case cannot"),
        ({"source": "external"}, "file must be the external log's file name"),
    ],
)
def test_parse_case_rejects_bad_records(change, message):
    good = {"id": "x", "source": "hand", "verdict": "converging", "unambiguous": True}
    good |= {"why": "a line", "curve": [1.0, None, 0.5]}
    ev.parse_case(good)
    with pytest.raises(ev.CorpusError, match=message):
        ev.parse_case(good | change)


def test_load_corpus_names_file_and_line_of_a_bad_case(tmp_path):
    good = {"id": "a", "source": "hand", "verdict": "plateaued", "unambiguous": False}
    good |= {"why": "flat", "curve": [1, 1, 1]}
    bad = good | {"id": "b", "verdict": "nope"}
    (tmp_path / "g.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ev.CorpusError, match=r"g\.jsonl:2 \(b\): verdict"):
        ev.load_corpus(tmp_path)
    (tmp_path / "g.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(ev.CorpusError, match="duplicate id 'a'"):
        ev.load_corpus(tmp_path)


# --------------------------------------------------------------------------------------------
# tools/corpus/evaluate.py's arithmetic, against counts made by hand


def _outcome(expected, got, flags=(), got_flags=(), unambiguous=True, tags=()):
    c = ev.Case("i", "hand", expected, unambiguous, "w", np.ones(3), tuple(flags), tags=tags)
    return ev.Outcome(c, Verdict(got, "r", tuple(got_flags), {}))


def test_confusion_matrix_and_precision_recall():
    outs = [
        _outcome("converging", "converging"),
        _outcome("converging", "converging"),
        _outcome("converging", "plateaued"),
        _outcome("diverging", "diverging"),
        _outcome("oscillating", "diverging"),
    ]
    m = ev.confusion(outs)
    expected = np.zeros((4, 4), dtype=int)
    C, O, D, P = (VERDICTS.index(v) for v in VERDICTS)
    expected[C, C], expected[C, P], expected[D, D], expected[O, D] = 2, 1, 1, 1
    np.testing.assert_array_equal(m, expected)
    precision, recall = ev.precision_recall(m)
    assert precision == [1.0, None, 0.5, 0.0]
    assert recall[C] == pytest.approx(2 / 3) and recall[O] == 0.0 and recall[D] == 1.0
    assert recall[P] is None


def test_a_case_is_right_only_with_its_expected_flags():
    assert _outcome("converging", "converging", ["early_spike"], ["early_spike", "noisy"]).right
    o = _outcome("converging", "converging", ["early_spike"], ["noisy"])
    assert o.verdict_ok and not o.right and o.missing_flags == ("early_spike",)
    assert _outcome("converging", "oscillating", tags=("healthy_noisy",)).false_alarm
    assert not _outcome("converging", "plateaued", tags=("healthy_noisy",)).false_alarm


def test_main_exit_codes_and_report(tmp_path, capsys):
    rec = {"id": "flat", "source": "hand", "verdict": "plateaued", "unambiguous": True}
    rec |= {"why": "constant", "curve": [1.0] * 50}
    (tmp_path / "a.jsonl").write_text(json.dumps(rec) + "\n")
    assert ev.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Every unambiguous curve is right." in out and "recall" in out
    (tmp_path / "a.jsonl").write_text(json.dumps(rec | {"verdict": "diverging"}) + "\n")
    assert ev.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "UNAMBIGUOUS MISSES (1)" in out and "flat (hand, 50 points)" in out
    assert ev.main([str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize("group", ["closed_form", "hand"])
def test_committed_groups_are_what_the_builder_makes(group):
    """The formula-made groups rebuild byte for byte (sweep/external need training or
    ../shared, so they are only rebuilt by hand: python -m tools.corpus.build)."""
    from tools.corpus import build

    made = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in build.GROUPS[group]()]
    committed = (CORPUS / f"{group}.jsonl").read_text(encoding="utf-8").splitlines()
    assert made == committed
