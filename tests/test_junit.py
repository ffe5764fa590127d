"""CI formats (issue 17): `--junit FILE` on sweep, classify and compare, validated against the
JUnit XML schema CI dashboards read (tests/data/junit/junit.xsd, checked by tests/xsd_subset.py),
and the GitHub Actions paths (job summary, ::error annotations) with the environment set.

What the files must say is worked out from results.json and the config text here, not from the
code that writes them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lrdiag import github
from lrdiag.cli import cli
from tests.xsd_subset import validate

XSD = Path(__file__).resolve().parent / "data" / "junit" / "junit.xsd"
LOGS = Path(__file__).resolve().parent / "data" / "logs"

# Linear regression: lr 1e6 overflows within a few steps, lr 0.01 converges; 25% held out.
# Written by hand so that the line of each learning rate is known: 1e6 is on line 14.
CONFIG = """\
data:
  kind: linear
  n_samples: 16
  n_features: 2
  validation_split: 0.25
model:
  hidden: []
  output: identity
  loss: mse
training:
  epochs: 8
sweep:
  learning_rates:
    - 1.0e6
    - 0.01
"""
LR_LINES = {1e6: 14, 0.01: 15}


def _run(args, env=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "lr.yaml"
    path.write_text(CONFIG)
    return path


def _cases(xml_text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml_text)
    return {c.get("name"): c for c in root.iter("testcase")}


# --------------------------------------------------------------------------- the schema

VALID = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="x" tests="2" failures="1">
  <testsuite name="s" tests="2" failures="1" time="0.5">
    <testcase name="a" classname="c" time="0.25"><failure message="m" type="t">text</failure>
      <system-out>out</system-out></testcase>
    <testcase name="b" classname="c"/>
  </testsuite>
</testsuites>"""


@pytest.mark.parametrize(
    "old, new, error",
    [
        ('name="a" ', "", "required attribute name missing"),
        ('tests="2" failures="1" time', 'failures="1" time', "required attribute tests missing"),
        ('time="0.25"', 'time="0.25s"', "not a valid seconds"),
        ('time="0.25"', 'time="-1"', "not a valid seconds"),
        ("<system-out>out</system-out>", "", None),  # still valid
        ("<failure", "<system-out>x</system-out><failure", "break its content model"),
        ("<failure", "<skipped/><failure", "break its content model"),
        ("<failure", "<flop/><failure", "element not declared"),
        ('classname="c"/>', 'classname="c" weight="2"/>', "attribute not declared"),
        ('<testcase name="b"', 'stray text <testcase name="b"', "text in an element"),
    ],
)
def test_the_validator_refuses_what_the_schema_forbids(old, new, error):
    assert validate(XSD, VALID) == []
    assert old in VALID
    found = validate(XSD, VALID.replace(old, new))
    if error is None:
        assert found == []
    else:
        assert any(error in e for e in found), found


# --------------------------------------------------------------------------- --junit


def test_sweep_junit_has_a_case_per_curve_and_fails_the_fail_on_verdicts(tmp_path, config):
    junit = tmp_path / "report" / "junit.xml"
    junit.parent.mkdir()
    out = tmp_path / "out"
    code, _, err = _run(
        ["sweep", config, "-o", out, "-q", "--fail-on", "diverging", "--junit", junit]
    )
    assert code == 1, err
    text = junit.read_text()
    assert validate(XSD, text) == []
    runs = json.loads((out / "results.json").read_text())["runs"]
    cases = _cases(text)
    curves = [(r, "") for r in runs] + [(r["val"], " (validation)") for r in runs if r["val"]]
    assert len(cases) == len(curves) == 4
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    for judged, suffix in curves:
        row = judged if not suffix else next(r for r in runs if r["val"] is judged)
        name = next(
            n
            for n in cases
            if n.startswith(f"lr {row['learning_rate']:g},") and n.endswith(suffix or ", seed 0")
        )
        assert (name in failed) == (judged["verdict"] == "diverging")
        if name in failed:
            assert cases[name].find("failure").get("message") == judged["reason"]
            assert cases[name].find("failure").get("type") == "diverging"
        else:
            assert judged["reason"] in cases[name].find("system-out").text
    root = ET.fromstring(text)
    assert root.get("failures") == str(len(failed)) == "2"  # lr 1e6: training and validation


def test_classify_junit_has_a_case_per_curve(tmp_path):
    junit = tmp_path / "junit.xml"
    log = tmp_path / "loss.txt"
    log.write_text("\n".join(str(0.5 * 1.3**i) for i in range(40)))  # grows without end
    code, out, err = _run(["classify", log, "--json", "--fail-on", "diverging", "--junit", junit])
    assert code == 1, err
    text = junit.read_text()
    assert validate(XSD, text) == []
    (curve,) = json.loads(out)["curves"]
    (case,) = _cases(text).values()
    assert case.get("name") == curve["name"]
    assert case.find("failure").get("message") == curve["reason"]


SCALED = CONFIG.replace("validation_split: 0.25", "validation_split: 0.25\n  scale: 100.0")


def _two_sweeps(tmp_path, config) -> tuple[Path, Path, Path]:
    """The config, then the same with inputs 100 times larger: lr 0.01 diverges after."""
    a, b = tmp_path / "a", tmp_path / "b"
    _run(["sweep", config, "-o", a, "-q", "--no-plots"])
    after = tmp_path / "after.yaml"
    after.write_text(SCALED)
    _run(["sweep", after, "-o", b, "-q", "--no-plots"])
    return a, b, after


def test_compare_junit_fails_the_changed_runs(tmp_path, config):
    a, b, _ = _two_sweeps(tmp_path, config)
    junit = tmp_path / "junit.xml"
    code, _, err = _run(["compare", a, b, "--fail-on", "verdict-change", "--junit", junit])
    text = junit.read_text()
    assert validate(XSD, text) == []
    rb = json.loads((a / "results.json").read_text())["runs"]
    ra = json.loads((b / "results.json").read_text())["runs"]
    changed = set()
    for before, after in zip(rb, ra, strict=True):
        label = f"lr {before['learning_rate']:g}, scale 1, seed 0"
        if before["verdict"] != after["verdict"]:
            changed.add(label)
        if before["val"]["verdict"] != after["val"]["verdict"]:
            changed.add(f"{label}, validation")
    assert "lr 0.01, scale 1, seed 0" in changed
    cases = _cases(text)
    assert len(cases) == 1 + 2 * len(rb)  # the boundary, and each run's two curves
    failed = {n for n, c in cases.items() if c.find("failure") is not None}
    assert failed - {"boundary, scale 1"} == changed
    assert code == 1, err


# --------------------------------------------------------------------------- GitHub Actions


def _actions_env(tmp_path) -> dict[str, str]:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    return {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}


def test_under_actions_the_summary_and_an_error_per_match(tmp_path, config):
    env = _actions_env(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = _run(["sweep", config, "-o", out, "--json", "--fail-on", "diverging"], env)
    assert code == 1
    json.loads(stdout)  # stdout is still the document alone
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("earlier step\n")  # appended, as steps share the file
    assert (out / "report.md").read_text() in summary
    errors = [line for line in err.splitlines() if line.startswith("::error")]
    rows = json.loads(stdout)["runs"]
    diverging = [r for r in rows for j in (r, r["val"] or {}) if j.get("verdict") == "diverging"]
    assert len(errors) == len(diverging) == 2
    for line in errors:
        head, _, message = line.partition("::")[2].partition("::")
        props = dict(p.split("=", 1) for p in head.removeprefix("error ").split(","))
        assert props["file"] == str(config)
        assert props["line"] == str(LR_LINES[1e6])
        assert "sweep.learning_rates" in props["title"].replace("%3A", ":")
        assert message.startswith("lr 1e+06, scale 1, seed 0")


def test_off_actions_nothing_goes_to_the_summary(tmp_path, config):
    env = _actions_env(tmp_path)
    env["GITHUB_ACTIONS"] = "false"
    code, _, err = _run(
        ["sweep", config, "-o", tmp_path / "o", "-q", "--fail-on", "diverging"], env
    )
    assert code == 1
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text() == "earlier step\n"
    assert "::error" not in err


def test_compare_under_actions_points_at_the_learning_rates(tmp_path, config):
    a, b, after = _two_sweeps(tmp_path, config)
    env = _actions_env(tmp_path)
    args = ["compare", a, b, "--fail-on", "new-divergence", "--config", after]
    code, _, err = _run(args, env)
    assert code == 1
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## lrdiag compare" in summary and "new-divergence" in summary
    errors = [line for line in err.splitlines() if line.startswith("::error")]
    assert len(errors) == 2  # lr 0.01: its training and validation curves
    for line in errors:
        assert line.startswith(f"::error file={after},line={LR_LINES[0.01] + 1},")


def test_lr_line_finds_the_list_item_or_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    assert github.lr_line(path, 1e6) == 14 and github.lr_line(path, 0.01) == 15
    path.write_text(
        "model:\n  hidden: [4]\nsweep:\n  learning_rates: {min: 1e-3, max: 1, num: 4}\n"
    )
    assert github.lr_line(path, 0.1) == 4
    path.write_text("sweep:\n  learning_rates: [0.1, 1.0e-2]\n")
    assert github.lr_line(path, 0.01) == 2  # a flow list: its items share the key's line
    path.write_text("model: {}\n")
    assert github.lr_line(path, 0.01) is None


def test_annotations_escape_what_would_end_them():
    line = github.annotation("50% done\nnext", title="a: b, c", file="dir,x/c.yaml", line=3)
    assert line == "::error file=dir%2Cx/c.yaml,line=3,title=a%3A b%2C c::50%25 done%0Anext"
    assert "\n" not in line


# --------------------------------------------------------------------------- the workflow

CI_DOC = Path(__file__).resolve().parent.parent / "docs" / "ci.md"


def _workflow() -> dict:
    text = CI_DOC.read_text(encoding="utf-8")
    (block,) = [
        b for b in re.findall(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        if b.startswith("# .github/workflows/")
    ]  # fmt: skip
    return yaml.safe_load(block)


def _commands(step: dict) -> list[list[str]]:
    """The lrdiag command lines of a step's `run:` (a folded or literal block)."""
    text = step.get("run", "").replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.strip().startswith("lrdiag ")]


def test_the_workflow_in_docs_is_complete_and_its_commands_are_real():
    wf = _workflow()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    (job,) = wf["jobs"].values()
    steps = job["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert "actions/checkout" in uses and "actions/setup-python" in uses
    assert any("pip install" in s.get("run", "") for s in steps)
    lines = [c for s in steps for c in _commands(s)]
    by_name = {c[1]: c for c in lines}
    assert set(by_name) == {"sweep", "compare"}
    for argv in lines:  # every option is one the command has, with a value where it takes one
        command = cli.commands[argv[1]]
        ctx = command.make_context(argv[1], argv[2:], resilient_parsing=False)
        assert ctx.params is not None
    sweep, compare = by_name["sweep"], by_name["compare"]
    out = sweep[sweep.index("--out") + 1]
    assert "--junit" in sweep and "--junit" in compare
    assert compare[3] == out  # AFTER is this run's sweep
    assert "boundary-down" in compare[compare.index("--fail-on") + 1]
    download = next(s for s in steps if "gh run download" in s.get("run", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    name = upload["with"]["name"]
    assert f"--name {name}" in download["run"]
    main_dir = re.search(r"--dir (\S+)", download["run"]).group(1)
    assert compare[2] == f"{main_dir}/{Path(out).name}"  # BEFORE: the same path in main's artifact
    assert out.startswith(upload["with"]["path"].rstrip("/")) and upload["if"] == "always()"
    assert download["if"] == "github.event_name == 'pull_request'"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_junit_to_a_pipe_goes_through_it(tmp_path):
    """`--junit /dev/stdout` or a named pipe: the report goes to the pipe's reader, and the
    pipe stays one (an atomic write would put a regular file in its place)."""
    fifo = tmp_path / "junit.pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    log = tmp_path / "loss.txt"
    log.write_text("\n".join(str(0.5 * 1.3**i) for i in range(40)))  # grows without end
    code, out, err = _run(["classify", log, "--json", "--fail-on", "diverging", "--junit", fifo])
    assert code == 1, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    reader.join(timeout=10)
    (text,) = received
    assert validate(XSD, text.decode()) == []
    (curve,) = json.loads(out)["curves"]
    assert list(_cases(text.decode())) == [curve["name"]]


def test_a_junit_file_in_a_missing_directory_fails_before_the_sweep_trains(tmp_path, config):
    """Found only after training, the report's missing directory cost the sweep and turned a
    --fail-on verdict into exit 2; now it is said at once and nothing is made. A directory
    that --out creates (lrdiag-out/ for --out lrdiag-out/ci, as in ci.md) is there in time."""
    out, report = tmp_path / "out", tmp_path / "no" / "such" / "report.xml"
    code, stdout, err = _run(["sweep", config, "--out", out, "--junit", report])
    assert code == 2 and stdout == ""
    said = f"--junit: {report}: no directory {report.parent} to write the report in"
    assert err == f"lrdiag: error: {said}\n"
    assert not out.exists()
    out, report = tmp_path / "made" / "ci", tmp_path / "made" / "junit.xml"
    code, _, err = _run(["sweep", config, "--out", out, "--junit", report, "-q"])
    assert code == 0, err
    assert validate(XSD, report.read_text()) == []


def test_classify_with_a_junit_file_in_a_missing_directory_prints_nothing(tmp_path):
    """As for the sweep: the missing directory is said before any curve is judged, so no table
    goes to stdout ahead of the error."""
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n" + "".join(f"{e},{1 / (e + 1):.4f}\n" for e in range(10)))
    report = tmp_path / "no" / "report.xml"
    code, stdout, err = _run(["classify", log, "--junit", report])
    assert code == 2 and stdout == ""
    said = f"--junit: {report}: no directory {report.parent} to write the report in"
    assert err == f"lrdiag: error: {said}\n"
