"""Measure the classifier against the labelled corpus (``make eval-classify``).

    python -m tools.corpus.evaluate tests/data/corpus [--all] [--outside tests/data/outside]
        [--heldout tests/data/outside2 --heldout tests/data/outside3 ...]

The corpus is a directory of JSON-lines files (tools/corpus/build.py writes them), one curve a
line::

    {"id": "hand-spike-0", "source": "hand", "verdict": "converging", "unambiguous": true,
     "flags": ["early_spike"], "why": "one line", "loss_name": "bce", "n_classes": 2,
     "tags": ["healthy_noisy"], "file": "...", "meta": {...}, "curve": [1.0, 0.5, null, ...]}

``flags``, ``loss_name``, ``n_classes``, ``tags``, ``file`` and ``meta`` are optional; null in
``curve`` is a non-finite value. A case is right when the verdict matches and every expected flag
is among the classifier's flags. Prints the confusion matrix (rows expected, columns predicted)
and per-class precision and recall, for all cases and for the unambiguous ones, then every
unambiguous miss with its why and the classifier's reason; exits 1 if there is one.

``--outside DIR`` also measures the outside corpus (curves from real PyTorch/Keras training,
labelled without lrdiag: tools/corpus/outside): ``DIR/labels.csv`` holds one row per judged
curve column, ``DIR/curves/<id>.csv`` the curves (``step,loss`` or ``epoch,loss[,val_loss]``).
Its dev and test halves are reported apart and never change the exit code. Each set's headline is
judged from the curve alone, as a user classifying a log gives no facts; a second line gives the
accuracy with the facts a sweep knows (labels.csv's loss_name, when bce, cross_entropy or mse, and
n_classes), as the sweep passes them to the classifier. ``--heldout DIR``
(repeatable) reports a further outside set in the same format whose rows are all in the split
``heldout`` (tests/data/outside2, "held-out set 2"; tests/data/outside3, "held-out set 3";
tests/data/outside4, "held-out set 4"), also without changing the exit code.

When ``DIR/labels_second.csv`` exists (``id,column,verdict,sure,why``: a second labeller's
verdicts, made blind to lrdiag and to labels.csv), each half it covers gets one more line: on how
many of its unambiguous curves the two labellers agree, and lrdiag's accuracy on those.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lrdiag.classify import FLAGS, LOSS_NAMES, VERDICTS, Verdict, classify

SOURCES = ("sweep", "closed_form", "hand", "external", "outside")
TAGS = ("healthy_noisy",)  # a healthy mini-batch run: never diverging or oscillating
ALARMS = ("diverging", "oscillating")
REQUIRED = ("id", "source", "verdict", "unambiguous", "why", "curve")
OPTIONAL = ("flags", "loss_name", "n_classes", "tags", "file", "meta")


class CorpusError(ValueError):
    """A corpus file or case that does not follow the format (names the file, line and key)."""


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    verdict: str
    unambiguous: bool
    why: str
    curve: np.ndarray  # float64, NaN for null
    flags: tuple[str, ...] = ()
    loss_name: str | None = None
    n_classes: int | None = None
    tags: tuple[str, ...] = ()
    file: str | None = None
    meta: dict | None = None
    where: str = ""  # "file:line", for messages
    train: np.ndarray | None = None  # a validation curve's training curve
    x: np.ndarray | None = None  # the curve's step or epoch numbers, when a log gives them
    x_name: str | None = None  # "step" or "epoch", when a log gives it


def _fail(where: str, msg: str) -> CorpusError:
    return CorpusError(f"{where}: {msg}")


def parse_case(d: object, where: str = "<case>") -> Case:
    """One corpus record -> Case; raises CorpusError naming the key that is wrong."""
    if not isinstance(d, dict):
        raise _fail(where, f"a case must be a JSON object, got {type(d).__name__}")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise _fail(where, f"missing key(s) {missing}")
    unknown = sorted(set(d) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise _fail(where, f"unknown key(s) {unknown}; valid: {list(REQUIRED + OPTIONAL)}")
    cid = d["id"]
    if not isinstance(cid, str) or not cid or any(c.isspace() for c in cid):
        raise _fail(where, f"id must be a non-empty string without spaces, got {cid!r}")
    where = f"{where} ({cid})"

    def check(key, ok, expected):
        if not ok:
            raise _fail(where, f"{key} must be {expected}, got {d.get(key)!r}")

    check("source", d["source"] in SOURCES, f"one of {SOURCES}")
    check("verdict", d["verdict"] in VERDICTS, f"one of {VERDICTS}")
    check("unambiguous", isinstance(d["unambiguous"], bool), "true or false")
    why = d["why"]
    check("why", isinstance(why, str) and why.strip() and "\n" not in why, "one non-empty line")
    flags = d.get("flags", [])
    check("flags", isinstance(flags, list) and set(flags) <= set(FLAGS), f"a list from {FLAGS}")
    tags = d.get("tags", [])
    check("tags", isinstance(tags, list) and set(tags) <= set(TAGS), f"a list from {TAGS}")
    loss_name = d.get("loss_name")
    check("loss_name", loss_name is None or loss_name in LOSS_NAMES, f"one of {LOSS_NAMES}")
    k = d.get("n_classes")
    check(
        "n_classes",
        k is None or (isinstance(k, int) and not isinstance(k, bool) and k >= 2),
        "an integer >= 2",
    )
    file = d.get("file")
    check("file", file is None or (isinstance(file, str) and file), "a non-empty string")
    if d["source"] == "external":
        check("file", isinstance(file, str) and file, "the external log's file name")
    meta = d.get("meta")
    check("meta", meta is None or isinstance(meta, dict), "an object")
    curve = d["curve"]
    ok = isinstance(curve, list) and len(curve) > 0
    ok = ok and all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
        for v in curve
    )
    check("curve", ok, "a non-empty list of finite numbers and nulls")
    y = np.array([np.nan if v is None else float(v) for v in curve], dtype=float)
    if "healthy_noisy" in tags and d["verdict"] in ALARMS:
        raise _fail(where, f"a healthy_noisy case cannot be expected {d['verdict']}")
    return Case(
        id=cid,
        source=d["source"],
        verdict=d["verdict"],
        unambiguous=d["unambiguous"],
        why=why,
        curve=y,
        flags=tuple(flags),
        loss_name=loss_name,
        n_classes=k,
        tags=tuple(tags),
        file=file,
        meta=meta,
        where=where,
    )


def load_corpus(path: str | Path) -> list[Case]:
    """Every case of a corpus directory (its *.jsonl files, sorted) or of one .jsonl file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise CorpusError(f"{path}: no *.jsonl files")
    elif path.is_file():
        files = [path]
    else:
        raise CorpusError(f"{path}: no such file or directory")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for f in files:
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{f.name}:{i}"
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise _fail(where, f"not valid JSON ({e.msg})") from None
            c = parse_case(d, where)
            if c.id in seen:
                raise _fail(where, f"duplicate id {c.id!r} (first at {seen[c.id]})")
            seen[c.id] = where
            cases.append(c)
    return cases


# --------------------------------------------------------------------------------------------
# Judging


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: Verdict

    @property
    def verdict_ok(self) -> bool:
        return self.got.verdict == self.case.verdict

    @property
    def missing_flags(self) -> tuple[str, ...]:
        return tuple(f for f in self.case.flags if f not in self.got.flags)

    @property
    def right(self) -> bool:
        return self.verdict_ok and not self.missing_flags

    @property
    def false_alarm(self) -> bool:
        """A healthy noisy run called diverging or oscillating."""
        return "healthy_noisy" in self.case.tags and self.got.verdict in ALARMS


def judge(case: Case, thresholds=None) -> Outcome:
    kw = {} if thresholds is None else {"thresholds": thresholds}
    if case.train is not None:
        kw["train_curve"] = case.train
    if case.x is not None:
        kw["x"] = case.x
    if case.x_name is not None:
        kw["x_name"] = case.x_name
    if case.meta and case.meta.get("batch") == "full":
        kw["full_batch"] = True  # as a sweep judges its full-batch runs
    v = classify(case.curve, n_classes=case.n_classes, loss_name=case.loss_name, **kw)
    return Outcome(case, v)


def evaluate(cases: Iterable[Case], thresholds=None) -> list[Outcome]:
    return [judge(c, thresholds) for c in cases]


def confusion(outcomes: Iterable[Outcome]) -> np.ndarray:
    """(4, 4) counts: rows expected, columns predicted, both in VERDICTS order."""
    m = np.zeros((len(VERDICTS), len(VERDICTS)), dtype=int)
    for o in outcomes:
        m[VERDICTS.index(o.case.verdict), VERDICTS.index(o.got.verdict)] += 1
    return m


def precision_recall(m: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """Per class: precision = diagonal / column sum, recall = diagonal / row sum (None if 0)."""
    diag = np.diag(m)
    cols, rows = m.sum(axis=0), m.sum(axis=1)
    precision = [float(d / c) if c else None for d, c in zip(diag, cols, strict=True)]
    recall = [float(d / r) if r else None for d, r in zip(diag, rows, strict=True)]
    return precision, recall


# --------------------------------------------------------------------------------------------
# Report


def _pct(v: float | None) -> str:
    return "   -  " if v is None else f"{100 * v:5.1f}%"


def format_matrix(m: np.ndarray) -> list[str]:
    precision, recall = precision_recall(m)
    w = max(len(v) for v in VERDICTS) + 1
    lines = ["expected \\ predicted".ljust(w + 2) + "".join(v.rjust(w + 1) for v in VERDICTS)]
    lines[0] += "   recall"
    for i, v in enumerate(VERDICTS):
        cells = "".join(str(x).rjust(w + 1) for x in m[i])
        lines.append(f"{v:<{w + 2}}{cells}   {_pct(recall[i])}")
    lines.append("precision".ljust(w + 2) + "".join(_pct(p).rjust(w + 1) for p in precision))
    return lines


def _section(title: str, outcomes: list[Outcome]) -> list[str]:
    n = len(outcomes)
    right = sum(o.verdict_ok for o in outcomes)
    share = f"{100 * right / n:.1f}%" if n else "-"
    lines = [f"{title}: {right}/{n} verdicts right ({share})", ""]
    lines += ["  " + s for s in format_matrix(confusion(outcomes))]
    by_source = []
    for s in SOURCES:
        sub = [o for o in outcomes if o.case.source == s]
        if sub:
            by_source.append(f"{s} {sum(o.verdict_ok for o in sub)}/{len(sub)}")
    lines += ["", "  by source: " + ", ".join(by_source), ""]
    return lines


def _describe(o: Outcome) -> list[str]:
    c, v = o.case, o.got
    exp = c.verdict + (f" [{', '.join(c.flags)}]" if c.flags else "")
    got = v.verdict + (f" [{', '.join(v.flags)}]" if v.flags else "")
    what = "verdict" if not o.verdict_ok else f"missing flag(s) {', '.join(o.missing_flags)}"
    return [
        f"  {c.id} ({c.source}, {c.curve.size} points): expected {exp}, got {got} ({what})",
        f"      why: {c.why}",
        f"      classifier: {v.reason}",
    ]


def format_report(outcomes: list[Outcome], corpus: str = "corpus", *, show_all=False) -> str:
    unamb = [o for o in outcomes if o.case.unambiguous]
    lines = [
        f"lrdiag classifier on {corpus}: {len(outcomes)} curves, {len(unamb)} unambiguous",
        "",
    ]
    lines += _section("All curves", outcomes)
    lines += _section("Unambiguous curves", unamb)
    flagged = [o for o in outcomes if o.case.flags]
    flag_ok = sum(not o.missing_flags for o in flagged)
    lines.append(f"Expected flags present: {flag_ok}/{len(flagged)} curves that expect flags")
    healthy = [o for o in outcomes if "healthy_noisy" in o.case.tags]
    alarms = [o for o in healthy if o.false_alarm]
    lines.append(
        f"False diverging/oscillating alarms on healthy noisy mini-batch runs: "
        f"{len(alarms)}/{len(healthy)}"
    )
    lines.append("")
    misses = [o for o in unamb if not o.right]
    if misses:
        lines.append(f"UNAMBIGUOUS MISSES ({len(misses)}):")
        for o in misses:
            lines += _describe(o)
    else:
        lines.append("Every unambiguous curve is right.")
    for o in alarms:
        if o.case.unambiguous:
            continue  # listed above
        lines.append("False alarm on a healthy noisy run:")
        lines += _describe(o)
    others = [o for o in outcomes if not o.case.unambiguous and not o.right]
    if others:
        lines.append("")
        if show_all:
            lines.append(f"Disagreements on ambiguous curves ({len(others)}):")
            for o in others:
                lines += _describe(o)
        else:
            ids = ", ".join(o.case.id for o in others)
            lines.append(f"Disagreements on ambiguous curves ({len(others)}; --all for why): {ids}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The outside corpus (tests/data/outside: labels.csv and curves/<id>.csv)

SPLITS = ("dev", "test")
HELDOUT = "heldout"  # every row of a held-out outside set (tests/data/outside2, 3, 4)
CLASS_TAGS = {
    "class1": "edge-of-stability bouncing",
    "class2": "learning rate far too small",
    "class3": "flat at chance",
    "class4": "short jumpy validation curve",
    "class5": "violent, then a late drop",
    "class6": "limit cycle after a huge first loss",
    "class7": "overfitting validation curve",
}
OUTSIDE_COLUMNS = (
    "id column split verdict unambiguous why loss_name n_classes tags framework optimizer lr "
    "init_scale batch notes"
).split()


def read_curve_csv(path: Path) -> tuple[str, np.ndarray, dict[str, np.ndarray]]:
    """(x name, x values, {column: values}) of a curve file; 'nan' and 'inf' are read as such."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise CorpusError(f"{path}: no data rows")
    head = rows[0]
    try:
        cols = np.array([[float(v) for v in r] for r in rows[1:]], dtype=float)
    except ValueError as e:
        raise CorpusError(f"{path}: {e}") from None
    return head[0], cols[:, 0], {name: cols[:, i] for i, name in enumerate(head) if i}


def load_outside(path: str | Path, split: str | None = None) -> list[Case]:
    """The outside corpus's curve columns (of one split, or all) as Cases.

    No loss_name or n_classes is passed on (a user classifying a log rarely gives them); they
    stay in meta with the run's framework, optimizer, lr, init scale, batch and split. A
    val_loss row carries its file's loss column as its training curve."""
    path = Path(path)
    labels = path / "labels.csv"
    if not labels.is_file():
        raise CorpusError(f"{labels}: no such file")
    splits = (*SPLITS, HELDOUT)
    if split is not None and split not in splits:
        raise CorpusError(f"split must be one of {splits}, got {split!r}")
    with labels.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != OUTSIDE_COLUMNS:
            raise CorpusError(f"{labels}: columns must be {OUTSIDE_COLUMNS}")
        rows = list(reader)
    curves: dict[str, tuple[str, np.ndarray, dict[str, np.ndarray]]] = {}
    cases = []
    for i, r in enumerate(rows, start=2):
        where = f"labels.csv:{i} ({r['id']}, {r['column']})"
        if r["verdict"] not in VERDICTS:
            raise _fail(where, f"verdict must be one of {VERDICTS}, got {r['verdict']!r}")
        if r["split"] not in splits or r["unambiguous"] not in ("true", "false"):
            raise _fail(where, f"split must be one of {splits} and unambiguous true or false")
        if split is not None and r["split"] != split:
            continue
        if r["id"] not in curves:
            curves[r["id"]] = read_curve_csv(path / "curves" / f"{r['id']}.csv")
        x_name, x, cols = curves[r["id"]]
        if r["column"] not in cols:
            raise _fail(where, f"the curve file has no column {r['column']!r}")
        meta = {k: r[k] for k in OUTSIDE_COLUMNS if k not in ("id", "verdict", "why", "tags")}
        meta["n_classes"] = int(r["n_classes"]) if r["n_classes"] else None
        cid = r["id"] if r["column"] == "loss" else f"{r['id']}:{r['column']}"
        cases.append(
            Case(
                id=cid,
                source="outside",
                verdict=r["verdict"],
                unambiguous=r["unambiguous"] == "true",
                why=r["why"],
                curve=cols[r["column"]],
                tags=tuple(r["tags"].split()),
                file=f"curves/{r['id']}.csv",
                meta=meta,
                where=where,
                train=cols["loss"] if r["column"] != "loss" else None,
                x=x,
                x_name=x_name,
            )
        )
    return cases


SECOND = "labels_second.csv"  # a second, blind labeller's verdicts on some of a set's curves
SECOND_COLUMNS = ["id", "column", "verdict", "sure", "why"]


def load_second(path: str | Path) -> dict[str, str]:
    """Case id (``id`` or ``id:column``) -> the second labeller's verdict, from
    ``path/labels_second.csv``; empty when there is no such file."""
    second = Path(path) / SECOND
    if not second.is_file():
        return {}
    with second.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != SECOND_COLUMNS:
            raise CorpusError(f"{second}: columns must be {SECOND_COLUMNS}")
        out = {}
        for i, r in enumerate(reader, start=2):
            if r["verdict"] not in VERDICTS:
                raise _fail(f"{SECOND}:{i}", f"verdict must be one of {VERDICTS}")
            out[r["id"] if r["column"] == "loss" else f"{r['id']}:{r['column']}"] = r["verdict"]
    return out


def _second_line(outcomes: list[Outcome], facts: list[Outcome], second: dict[str, str]) -> str:
    """Agreement of the two labellers on the unambiguous curves the second one judged, and
    lrdiag's accuracy on the curves they agree on ("" when it judged none of them)."""
    covered = [o for o in outcomes if o.case.unambiguous and o.case.id in second]
    agreed = {o.case.id for o in covered if second[o.case.id] == o.case.verdict}
    if not covered:
        return ""
    right = sum(o.verdict_ok for o in outcomes if o.case.id in agreed)
    f_right = sum(o.verdict_ok for o in facts if o.case.id in agreed)
    n = len(agreed)
    return (
        f"  a second labeller, blind to lrdiag and to labels.csv ({SECOND}), agrees on "
        f"{n}/{len(covered)}; on those, lrdiag: {right}/{n} curve only, "
        f"{f_right}/{n} with the facts"
    )


def with_facts(case: Case) -> Case:
    """The case as a sweep would judge it: told the loss's name (labels.csv's loss_name, when
    it is one the classifier knows: bce, cross_entropy, mse) and the class count."""
    meta = case.meta or {}
    name = meta.get("loss_name")
    if name not in LOSS_NAMES:
        return case
    return replace(case, loss_name=name, n_classes=meta.get("n_classes"))


def _accuracy(outcomes: list[Outcome]) -> tuple[int, int, str]:
    """(right, unambiguous, share) over the unambiguous outcomes."""
    unamb = [o for o in outcomes if o.case.unambiguous]
    right = sum(o.verdict_ok for o in unamb)
    return right, len(unamb), f"{100 * right / len(unamb):.1f}%" if unamb else "-"


def format_outside(
    outcomes: list[Outcome],
    title: str,
    *,
    show_all=False,
    facts: list[Outcome] | None = None,
    second: dict[str, str] | None = None,
) -> str:
    """One half of the outside corpus: matrix, precision/recall, alarms, the seven kinds; with
    ``facts`` (the same curves judged with_facts), a second accuracy line for them, and with
    ``second`` (load_second) too, the two labellers' agreement."""
    unamb = [o for o in outcomes if o.case.unambiguous]
    right, total, share = _accuracy(outcomes)
    lines = [
        f"{title}: {len(outcomes)} curve columns, {total} unambiguous; "
        f"accuracy on the unambiguous: {right}/{total} ({share})",
    ]
    if facts is not None:
        f_right, f_total, f_share = _accuracy(facts)
        f_alarms = sum(o.false_alarm for o in facts)
        lines.append(
            f"  with the facts a sweep knows (loss name, class count): {f_right}/{f_total} "
            f"({f_share}), {f_alarms} false alarms on healthy noisy runs"
        )
        if second and (line := _second_line(outcomes, facts, second)):
            lines.append(line)
    lines.append("")
    lines += ["  " + s for s in format_matrix(confusion(unamb))]
    healthy = [o for o in outcomes if "healthy_noisy" in o.case.tags]
    alarms = sum(o.false_alarm for o in healthy)
    lines += [
        "",
        f"  False diverging/oscillating alarms on healthy noisy runs: {alarms}/{len(healthy)}",
    ]
    for tag, what in CLASS_TAGS.items():
        sub = [o for o in outcomes if tag in o.case.tags]
        ok = sum(o.verdict_ok for o in sub)
        sub_u = [o for o in sub if o.case.unambiguous]
        ok_u = sum(o.verdict_ok for o in sub_u)
        lines.append(f"  {tag} ({what}): {ok}/{len(sub)} right ({ok_u}/{len(sub_u)} unambiguous)")
    if show_all:
        misses = [o for o in unamb if not o.verdict_ok]
        lines += ["", f"  Unambiguous misses ({len(misses)}):"]
        for o in misses:
            lines += ["  " + s for s in _describe(o)]
    return "\n".join(lines) + "\n"


def _set_number(where: str, i: int) -> int:
    """A held-out set's number: the digits its directory name ends in (tests/data/outside3 is
    set 3), else 2 for the first --heldout, 3 for the second, ..."""
    m = re.search(r"(\d+)$", Path(where).name)
    return int(m.group(1)) if m else 2 + i


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.corpus.evaluate",
        description="Measure lrdiag.classify against a labelled corpus of loss curves.",
    )
    p.add_argument("corpus", nargs="?", default="tests/data/corpus", help="directory or .jsonl")
    p.add_argument("--all", action="store_true", help="explain the ambiguous disagreements too")
    p.add_argument(
        "--outside",
        metavar="DIR",
        help="also report the outside corpus's dev and test halves (never changes the exit code)",
    )
    p.add_argument(
        "--heldout",
        metavar="DIR",
        action="append",
        default=[],
        help="also report a held-out outside set, all rows split heldout (never the exit code); "
        "repeat for more sets",
    )
    args = p.parse_args(argv)
    try:
        cases = load_corpus(args.corpus)
        halves = {s: load_outside(args.outside, s) for s in SPLITS} if args.outside else {}
        second = load_second(args.outside) if args.outside else {}
        heldout = [load_outside(d, HELDOUT) for d in args.heldout]
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    outcomes = evaluate(cases)
    print(format_report(outcomes, args.corpus, show_all=args.all))
    for s, half in halves.items():
        print()
        title = f"Outside corpus ({args.outside}), {s} half"
        facts = evaluate(with_facts(c) for c in half)
        print(format_outside(evaluate(half), title, show_all=args.all, facts=facts, second=second))
    for i, (where, held) in enumerate(zip(args.heldout, heldout, strict=True)):
        title = f"Outside corpus, held-out set {_set_number(where, i)} ({where})"
        facts = evaluate(with_facts(c) for c in held)
        print()
        print(format_outside(evaluate(held), title, show_all=args.all, facts=facts))
    bad = any(not o.right for o in outcomes if o.case.unambiguous)
    bad = bad or any(o.false_alarm for o in outcomes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
