"""JUnit XML for CI test dashboards (``--junit FILE`` on sweep, classify and compare).

One test case per run (a sweep), per curve (classify) or per compared run and group (compare);
a case fails when ``--fail-on`` names what it found, with the verdict as the failure's type and
the reason as its message; a run without a verdict (interrupted) is skipped; a passing case
carries its verdict and reason in ``system-out``. The layout is the one Jenkins, GitLab and
GitHub's test reporters read (Ant's): ``testsuites > testsuite > testcase > failure | skipped``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lrdiag.errors import printable


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    time: float = 0.0
    output: str = ""  # verdict and reason, for a case that passed
    failure: str | None = None  # the failure's type (a verdict, a kind of change)
    message: str = ""  # the failure's or skip's message: the reason
    skipped: bool = False


@dataclass(frozen=True)
class Suite:
    name: str
    cases: tuple[Case, ...]


def _text(value: str) -> str:
    """Text XML 1.0 can hold: control characters (forbidden even escaped) written as escapes."""
    return printable(value)


def _seconds(t: float) -> str:
    return f"{max(t, 0.0):.6f}"


def to_xml(suites: Iterable[Suite], name: str = "lrdiag") -> str:
    suites = list(suites)
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for s in suites:
        failures = sum(c.failure is not None for c in s.cases)
        skipped = sum(c.skipped for c in s.cases)
        time = sum(c.time for c in s.cases)
        el = ET.SubElement(
            root,
            "testsuite",
            name=_text(s.name),
            tests=str(len(s.cases)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=_seconds(time),
        )
        for c in s.cases:
            case = ET.SubElement(
                el, "testcase", name=_text(c.name), classname=_text(c.classname),
                time=_seconds(c.time),
            )  # fmt: skip
            if c.skipped:
                ET.SubElement(case, "skipped", message=_text(c.message))
            elif c.failure is not None:
                fail = ET.SubElement(case, "failure", message=_text(c.message), type=c.failure)
                fail.text = _text(c.output or c.message)
            if c.output and c.failure is None:
                ET.SubElement(case, "system-out").text = _text(c.output)
        totals["tests"] += len(s.cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
        total_time += time
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", _seconds(total_time))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# --------------------------------------------------------------------------- the commands


def _judged(verdict, reason, flags, fail_on) -> dict:
    """A case's fields from a verdict, its reason and flags."""
    flags_text = f" [{', '.join(map(str, flags))}]" if flags else ""
    if verdict is None:
        return {"skipped": True, "message": str(reason or "no verdict")}
    out = f"{verdict}{flags_text}: {reason}"
    if verdict in fail_on:
        return {"failure": str(verdict), "message": str(reason), "output": out}
    return {"output": out}


def sweep_suite(doc: Mapping, fail_on: tuple[str, ...], seconds: float | None = None) -> Suite:
    """A case per run (and per validation curve). All runs train at once, so each run's time
    is an equal share of the training's wall time ``seconds``."""
    from lrdiag.formatting import lr_labels

    name = str((doc.get("config") or {}).get("name") or "sweep")
    runs = list(doc.get("runs") or [])
    share = (seconds or 0.0) / max(len(runs), 1)
    labels = lr_labels(r["learning_rate"] for r in runs)
    classname = f"lrdiag.sweep.{name}"
    cases = []
    for r in runs:
        label = f"lr {labels[r['learning_rate']]}, scale {r['init_scale']:g}, seed {r['seed']}"
        fields = _judged(r.get("verdict"), r.get("reason"), r.get("flags"), fail_on)
        cases.append(Case(label, classname, share, **fields))
        val = r.get("val")
        if val:
            fields = _judged(val.get("verdict"), val.get("reason"), val.get("flags"), fail_on)
            cases.append(Case(f"{label} (validation)", classname, 0.0, **fields))
    return Suite(f"lrdiag sweep {name}", tuple(cases))


def classify_suites(docs: list[Mapping], fail_on: tuple[str, ...]) -> list[Suite]:
    """A suite per log file, a case per curve."""
    suites = []
    for doc in docs:
        file = str(doc.get("file"))
        cases = [
            Case(
                str(c.get("name")),
                f"lrdiag.classify.{file}",
                **_judged(c.get("verdict"), c.get("reason"), c.get("flags"), fail_on),
            )
            for c in doc.get("curves") or []
        ]
        suites.append(Suite(f"lrdiag classify {file}", tuple(cases)))
    return suites


def compare_suite(doc: Mapping, matched: list[Mapping]) -> Suite:
    """A case per group (its boundary) and per compared run (its verdict before and after)."""
    from lrdiag.compare import boundary_text, group_label, run_label

    failed = {(m["kind"], m["key"]): m for m in matched}
    classname = "lrdiag.compare"
    cases = []
    for g in doc["groups"]:
        key = ("boundary-down", group_label(g["axes"]))
        text = boundary_text(g)
        m = failed.get(key)
        fields = {"failure": m["kind"], "message": text} if m else {"output": text}
        cases.append(Case(f"boundary, {group_label(g['axes'])}", classname, **fields))
    for run in doc["runs"]:
        label = run_label(run)
        text = f"{run['before']} -> {run['after']}"
        if run.get("reason") and run["before"] != run["after"]:
            text += f": {run['reason']}"
        m = failed.get(("new-divergence", label)) or failed.get(("verdict-change", label))
        fields = {"failure": m["kind"], "message": text} if m else {"output": text}
        cases.append(Case(label, classname, **fields))
    return Suite("lrdiag compare", tuple(cases))
