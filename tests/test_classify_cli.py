"""`lrdiag classify FILE...` end to end, through click's CliRunner.

Curves are made here by formula (exponential decay, a period-2 bounce, geometric growth, a flat
line at the chance loss, a run that turns NaN) and written in each format a tool writes them in;
the verdicts asserted are the ones those shapes have by the classifier's definitions, never the
classifier's output replayed. Also: exit codes 0/1/2/3, the --json shape (strict JSON), the
options, a real tiny sweep's results.json, and the real Keras logs (copies in tests/data/logs/
external, and all of ../shared/external_logs when present).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from curves import full_batch_chaos

from lrdiag import classify as classifier
from lrdiag import logs
from lrdiag.cli import cli
from lrdiag.commands.classify import LOSS_ALIASES

HERE = Path(__file__).resolve().parent
EXTERNAL_COPIES = HERE / "data" / "logs" / "external"
SHARED_EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external_logs"
MNIST = "MNIST_Normal_double_random_99fe3625.csv"
APPENDED = HERE / "data" / "logs" / "keras_appended.csv"  # four CSVLogger(append=True) runs
WIDE = {"COLUMNS": "200"}

T = np.arange(40, dtype=float)
CONVERGING = 2.0 * np.exp(-T / 8) + 0.1  # falls 95% of the way to its floor
OSCILLATING = 1.0 + 0.5 * (-1.0) ** T  # bounces between 0.5 and 1.5, no trend
DIVERGING = 0.5 * 1.3 ** T[:30]  # grows geometrically
FLAT = np.full(40, 0.7)  # no change at all
LN10 = np.full(30, math.log(10.0))  # flat at the chance loss of 10 classes
LN2 = np.full(30, math.log(2.0))  # flat at the chance loss of bce
SHAPES = {
    "converging": CONVERGING,
    "oscillating": OSCILLATING,
    "diverging": DIVERGING,
    "plateaued": FLAT,
}


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    for var in ("NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)


def run(*args, input=None, env=None):
    argv = ["classify", *(str(a) for a in args)]
    return CliRunner().invoke(cli, argv, input=input, env=env, catch_exceptions=False)


def strict_loads(text: str):
    """json.loads that rejects NaN and Infinity, as jq does."""

    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def judged(*args, input=None) -> dict:
    result = run(*args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return strict_loads(result.stdout)


def verdicts(doc: dict) -> dict[str, str]:
    return {c["name"]: c["verdict"] for c in doc["curves"]}


def fmt(x: float) -> str:
    return repr(float(x))  # nan, inf, -inf as Python spells them


# --------------------------------------------------------------------------- writers, one a format


def keras_csv(path, loss, val=None):
    lines = ["epoch,loss" + (",val_loss" if val is not None else "")]
    for i, y in enumerate(loss):
        lines.append(f"{i},{fmt(y)}" + (f",{fmt(val[i])}" if val is not None else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def lightning_csv(path, train, val, steps_per_epoch):
    """train per step, val once per epoch on a row of its own; empty cells elsewhere."""
    lines = ["step,epoch,train_loss,val_loss"]
    for s, y in enumerate(train):
        lines.append(f"{s},{s // steps_per_epoch},{fmt(y)},")
        if (s + 1) % steps_per_epoch == 0:
            e = s // steps_per_epoch
            lines.append(f"{s},{e},,{fmt(val[e])}")
    path.write_text("\n".join(lines) + "\n")
    return path


def tensorboard_csv(path, values):
    lines = ["Wall time,Step,Value"]
    lines += [f"{1.7e9 + 3.5 * k},{10 * k},{fmt(y)}" for k, y in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def history_json(path, loss, val=None):
    doc = {"loss": [float(y) for y in loss], "accuracy": [0.5] * len(loss)}
    if val is not None:
        doc["val_loss"] = [float(y) for y in val]
    path.write_text(json.dumps(doc))  # json.dump writes NaN/Infinity literals, as Keras users get
    return path


def list_json(path, values):
    path.write_text(json.dumps([float(y) for y in values]))
    return path


def text_file(path, values):
    path.write_text("# loss\n" + "\n".join(fmt(y) for y in values) + "\n")
    return path


WRITERS = {
    "keras.csv": (keras_csv, "loss"),
    "tensorboard.csv": (tensorboard_csv, "Value"),
    "history.json": (history_json, "loss"),
    "list.json": (list_json, "loss"),
    "losses.txt": (text_file, "loss"),
}


# --------------------------------------------------------------------------- formats x verdicts


@pytest.mark.parametrize("verdict", list(SHAPES))
@pytest.mark.parametrize("name", list(WRITERS))
def test_every_format_gives_the_shapes_verdict(tmp_path, name, verdict):
    write, curve = WRITERS[name]
    path = write(tmp_path / name, SHAPES[verdict])
    doc = judged(path)
    assert doc["file"] == str(path)
    assert verdicts(doc)[curve] == verdict


@pytest.mark.parametrize("verdict", list(SHAPES))
def test_stdin(verdict):
    text = "\n".join(fmt(y) for y in SHAPES[verdict]) + "\n"
    doc = judged("-", input=text)
    assert doc["file"] == "<stdin>" and doc["format"] == "text"
    assert verdicts(doc) == {"loss": verdict}
    doc = judged("-", input=json.dumps({"loss": [float(y) for y in SHAPES[verdict]]}))
    assert verdicts(doc) == {"loss": verdict}


def test_lightning_sparse_cells(tmp_path):
    steps = np.arange(200, dtype=float)
    train = 2.0 * np.exp(-steps / 30) + 0.1  # per step
    val = 2.0 * np.exp(-np.arange(10) * 20 / 30) + 0.2  # per epoch of 20 steps
    doc = judged(lightning_csv(tmp_path / "metrics.csv", train, val, 20))
    assert verdicts(doc) == {"train_loss": "converging", "val_loss": "converging"}
    by_name = {c["name"]: c for c in doc["curves"]}
    assert by_name["train_loss"]["metrics"]["n_points"] == 200  # empty cells skipped
    assert by_name["val_loss"]["metrics"]["n_points"] == 10
    assert by_name["val_loss"]["train_curve"] == "train_loss"


def test_overfitting_needs_the_training_curve(tmp_path):
    """Validation falls then climbs back while training keeps falling: overfitting, by the
    flag's definition; the flag needs the training curve, so alone the curve has none."""
    t = np.arange(60, dtype=float)
    train, val = np.exp(-t / 10), np.exp(-t / 10) + 0.01 * t
    steps = np.repeat(train, 5)  # 5 steps an epoch: averaged back to `train` per epoch
    path = lightning_csv(tmp_path / "metrics.csv", steps, val, 5)
    by_name = {c["name"]: c for c in judged(path)["curves"]}
    assert "overfitting" in by_name["val_loss"]["flags"]
    alone = {c["name"]: c for c in judged(path, "--column", "val_loss")["curves"]}
    assert "overfitting" in alone["val_loss"]["flags"]  # paired even when picked alone
    alone = judged(list_json(tmp_path / "val.json", val))["curves"][0]
    assert "overfitting" not in alone["flags"] and alone["train_curve"] is None


@pytest.mark.parametrize("spelling", ["nan", "NaN", "NAN", "inf", "Infinity", "-inf", "-Infinity"])
def test_ending_non_finite_is_diverging(tmp_path, spelling):
    lines = [fmt(y) for y in CONVERGING[:20]] + [spelling] * 3
    (tmp_path / "loss.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "log.csv").write_text(
        "epoch,loss\n" + "\n".join(f"{i},{y}" for i, y in enumerate(lines))
    )
    for name in ("loss.txt", "log.csv"):
        (c,) = judged(tmp_path / name)["curves"]
        assert c["verdict"] == "diverging"
        assert c["metrics"]["diverged_epoch"] == 20 and c["metrics"]["final"] is None


def test_empty_cells_are_skipped_not_non_finite(tmp_path):
    rows = [f"{i},{fmt(y)}," for i, y in enumerate(CONVERGING)] + ["40,,", "41,,"]
    (tmp_path / "log.csv").write_text("epoch,loss,val_loss\n" + "\n".join(rows) + "\n")
    doc = judged(tmp_path / "log.csv")
    assert verdicts(doc) == {"loss": "converging"}  # val_loss holds no values: not a curve
    assert doc["curves"][0]["metrics"]["n_points"] == 40


# --------------------------------------------------------------------------- positions in reasons
# Reasons name positions as the log does: the step or epoch the value was logged at.


def test_tensorboard_export_spike_named_by_its_step(tmp_path):
    """TensorBoard's scalar export, steps 0, 100, ..., 2900: a decay with one value lifted by
    1.0 at step 1000 (the 11th value, index 10), back on the decay right after."""
    k = np.arange(30)
    y = 0.2 + 1.8 * 0.85**k
    y[10] += 1.0
    lines = ["Wall time,Step,Value"]
    lines += [f"{1700000000.0 + 12.625 * i!r},{100 * i},{float(v)!r}" for i, v in enumerate(y)]
    (tmp_path / "run-train-tag-loss.csv").write_text("\n".join(lines) + "\n")
    (c,) = judged(tmp_path / "run-train-tag-loss.csv")["curves"]
    assert (c["verdict"], c["flags"], c["x"]) == ("converging", ["early_spike"], "step")
    assert c["metrics"]["spike_epoch"] == 10  # the metric is the index
    assert "a transient spike at step 1000 that recovered" in c["reason"]


def test_lightning_metrics_csv_best_epoch_named_by_its_epoch(tmp_path):
    """Lightning's CSVLogger (keys sorted, empty cells): 30 epochs of 20 steps,
    log_every_n_steps=5, check_val_every_n_epoch=2 (validation after epochs 1, 3, ..., 29).
    train_loss_step is logged every 5th step, with 1.5 added at step 204; train_loss_epoch and
    val_loss on rows of their own at each epoch's end. val_loss is lowest at its 5th value
    (index 4: epoch 9), then climbs by 0.02 a validation while training keeps falling."""
    val = [1.0, 0.7, 0.52, 0.42, 0.36, 0.38, 0.4, 0.42, 0.44, 0.46, 0.48, 0.5, 0.52, 0.54, 0.56]

    def train(s):
        return 0.1 + 2.0 / (1 + s / 40)

    rows = ["epoch,step,train_loss_epoch,train_loss_step,val_loss"]
    for e in range(30):
        steps = range(20 * e, 20 * e + 20)
        rows += [f"{e},{s},,{train(s) + 1.5 * (s == 204)!r}," for s in steps if (s + 1) % 5 == 0]
        if (e + 1) % 2 == 0:
            rows.append(f"{e},{steps[-1]},,,{val[(e - 1) // 2]!r}")
        rows.append(f"{e},{steps[-1]},{float(np.mean([train(s) for s in steps]))!r},,")
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    by_name = {c["name"]: c for c in judged(tmp_path / "metrics.csv")["curves"]}
    v = by_name["val_loss"]
    assert (v["x"], v["train_curve"], v["flags"]) == ("epoch", "train_loss_epoch", ["overfitting"])
    # the best level, the lowest rolling median of 3, is first reached centred on index 4
    assert v["metrics"]["best_epoch"] == 4
    assert "from its best 0.38 at epoch 9 while the training loss kept falling" in v["reason"]
    t = by_name["train_loss_step"]  # steps 4, 9, ..., 204 is the 41st value (index 40)
    assert (t["x"], t["flags"], t["metrics"]["spike_epoch"]) == ("step", ["early_spike"], 40)
    assert "a transient spike at step 204 that recovered" in t["reason"]
    assert by_name["train_loss_epoch"]["x"] == "epoch"


def test_keras_csvlogger_wording_unchanged(tmp_path):
    """Keras's CSVLogger numbers epochs 0, 1, ...: value k is epoch k, as without an axis. The
    validation loss is lowest at epoch 6 (0.35, with 0.37 before and 0.36 after: the rolling
    median of 3 first reaches its low of 0.36 centred there), then climbs 0.01 an epoch."""
    loss = [0.8 * 0.8**e + 0.1 for e in range(20)]
    val = [0.7, 0.55, 0.46, 0.41, 0.38, 0.37, 0.35] + [0.36 + 0.01 * i for i in range(13)]
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    rows += [f"{e},{0.6 + 0.01 * e!r},{loss[e]!r},0.7,{val[e]!r}" for e in range(20)]
    (tmp_path / "training.log").write_text("\n".join(rows) + "\n")
    by_name = {c["name"]: c for c in judged(tmp_path / "training.log")["curves"]}
    v = by_name["val_loss"]
    assert (v["x"], v["flags"], v["metrics"]["best_epoch"]) == ("epoch", ["overfitting"], 6)
    assert "from its best 0.36 at epoch 6 while" in v["reason"]
    assert v["reason"] == classifier.classify(val, train_curve=loss).reason  # as with no axis
    assert by_name["loss"]["reason"] == classifier.classify(loss).reason


def test_jsonl_records_non_finite_named_by_its_step(tmp_path):
    """JSON Lines {"step", "loss"} every 100 steps; NaN from step 4200 (the 43rd record) on."""
    recs = [{"step": 100 * i, "loss": 1.0 / (1 + i)} for i in range(42)]
    recs += [{"step": 4200, "loss": math.nan}, {"step": 4300, "loss": math.nan}]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    (c,) = judged(tmp_path / "log.jsonl")["curves"]
    assert (c["verdict"], c["x"], c["metrics"]["diverged_epoch"]) == ("diverging", "step", 42)
    assert "became non-finite at step 4200 " in c["reason"]


# --------------------------------------------------------------------------- columns


def test_column_picks_and_default(tmp_path):
    path = tmp_path / "log.csv"
    rows = [f"{i},{a},{b}" for i, (a, b) in enumerate(zip(CONVERGING, OSCILLATING, strict=True))]
    path.write_text("epoch,objective,bounce\n" + "\n".join(rows) + "\n")
    result = run(path)
    assert result.exit_code == 2
    assert "'objective', 'bounce'" in result.stderr and "--column" in result.stderr
    doc = judged(path, "--column", "objective", "-c", "bounce")
    assert verdicts(doc) == {"objective": "converging", "bounce": "oscillating"}
    result = run(path, "--column", "objectiv")
    assert result.exit_code == 2
    assert "did you mean 'objective'" in result.stderr and "'epoch'" in result.stderr


# --------------------------------------------------------------------------- options


def test_classes_and_loss_give_stuck_at_chance(tmp_path):
    path = text_file(tmp_path / "ln10.txt", LN10)
    (plain,) = judged(path)["curves"]
    # flat at ln 10 to rounding for the run: stuck at chance, with 10 classes found unasked
    assert plain["verdict"] == "plateaued" and "stuck_at_chance" in plain["flags"]
    assert "ln 10" in plain["reason"] and plain["metrics"]["chance_classes"] == 10
    for opts in (["--classes", "10"], ["--classes", "10", "--loss", "cross_entropy"]):
        doc = judged(path, *opts)
        (c,) = doc["curves"]
        assert c["verdict"] == "plateaued" and "stuck_at_chance" in c["flags"], opts
        assert doc["classes"] == 10
    (c,) = judged(text_file(tmp_path / "ln2.txt", LN2), "--loss", "binary_crossentropy")["curves"]
    assert "stuck_at_chance" in c["flags"]
    assert judged(path, "--loss", "categorical_crossentropy", "-k", "10")["loss"] == "cross_entropy"


def test_loss_aliases_are_the_classifiers_names():
    assert set(LOSS_ALIASES.values()) == set(classifier.LOSS_NAMES)


@pytest.mark.parametrize(
    "opts, match",
    [
        (["--loss", "hinge"], "unknown loss 'hinge'; choose from bce, cross_entropy, mse"),
        (["--classes", "1"], "--classes"),
        (["--classes", "3", "--loss", "bce"], "does not go with --loss bce"),
        (["--fail-on", "explode"], "unknown verdict 'explode'"),
    ],
)
def test_bad_options_exit_2(tmp_path, opts, match):
    result = run(text_file(tmp_path / "l.txt", CONVERGING), *opts)
    assert result.exit_code == 2 and match in result.stderr, result.stderr
    assert result.stdout == ""


def test_config_thresholds(tmp_path):
    path = text_file(tmp_path / "l.txt", CONVERGING)  # 40 points
    (c,) = judged(path)["curves"]
    assert "only 40 points" not in c["reason"]
    th = tmp_path / "th.yaml"
    th.write_text("classify:\n  short_curve: 100   # fewer points than this: borderline\n")
    (c,) = judged(path, "--config", th)["curves"]
    assert "borderline" in c["flags"] and "only 40 points" in c["reason"]
    th.write_text("classify:\n  short_curv: 100\n")
    result = run(path, "--config", th)
    assert result.exit_code == 2
    assert f"{th}: classify.short_curv: unknown key" in result.stderr
    assert "did you mean 'short_curve'" in result.stderr


# --------------------------------------------------------------------------- exit codes, output


def test_fail_on(tmp_path):
    good = text_file(tmp_path / "good.txt", CONVERGING)
    bad = text_file(tmp_path / "bad.txt", DIVERGING)
    assert run(good, "--fail-on", "diverging").exit_code == 0
    assert run(bad, "--fail-on", "diverging").exit_code == 1
    assert run(bad, "--fail-on", "oscillating,plateaued").exit_code == 0
    assert run(good, bad, "--fail-on", "oscillating,diverging").exit_code == 1
    result = run(bad, "--fail-on", "diverging", "--json")
    assert result.exit_code == 1 and strict_loads(result.stdout)["curves"]


@pytest.mark.parametrize(
    "content, match",
    [
        ("", "the file is empty; expected a loss log"),
        ("epoch,accuracy\n", "no numbers"),
        ("1.0\nfoo\n", "line 2: 'foo' is not a number"),
        ("{not json", "invalid JSON"),
    ],
)
def test_unreadable_input_exits_2(tmp_path, content, match):
    path = tmp_path / "log.csv"
    path.write_text(content)
    result = run(path, "--json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"lrdiag: error: {path}: ") and match in result.stderr
    assert result.stdout == ""


def test_one_bad_file_among_several_prints_nothing(tmp_path):
    good = text_file(tmp_path / "good.txt", CONVERGING)
    result = run(good, tmp_path / "missing.csv")
    assert result.exit_code == 2 and "missing.csv: file not found" in result.stderr
    assert result.stdout == ""
    assert run("-", "-", input="1\n").exit_code == 2


def test_internal_error_exits_3(tmp_path, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(logs, "judge", broken)
    result = CliRunner().invoke(cli, ["classify", str(text_file(tmp_path / "l.txt", FLAT))])
    assert result.exit_code == 3 and "internal error" in result.stderr


def test_traceback_option(tmp_path):
    assert run(text_file(tmp_path / "l.txt", FLAT), "--traceback").exit_code == 0
    result = CliRunner().invoke(cli, ["classify", str(tmp_path / "none.txt"), "--traceback"])
    assert result.exit_code != 0
    assert "Traceback" in result.output or isinstance(result.exception, Exception)


def test_json_shape_for_one_and_several_files(tmp_path):
    a = keras_csv(tmp_path / "a.csv", CONVERGING, CONVERGING + 0.05)
    b = text_file(tmp_path / "b.txt", np.r_[CONVERGING[:20], np.nan, np.nan])
    one = judged(a)
    assert set(one) == {"file", "format", "loss", "classes", "runs", "notes", "curves"}
    assert [c["name"] for c in one["curves"]] == ["loss", "val_loss"]
    for c in one["curves"]:
        assert set(c) == {
            *("name", "column", "run", "negated", "verdict", "reason", "flags", "metrics"),
            *("train_curve", "x"),
        }
        assert c["verdict"] in classifier.VERDICTS and isinstance(c["flags"], list)
    several = judged(a, b)
    assert list(several) == ["files"]
    assert [d["file"] for d in several["files"]] == [str(a), str(b)]
    assert several["files"][0] == one
    (div,) = several["files"][1]["curves"]
    assert div["verdict"] == "diverging" and div["metrics"]["final"] is None  # NaN -> null


def test_table_off_a_terminal_is_plain_text(tmp_path):
    path = keras_csv(tmp_path / "a.csv", CONVERGING, OSCILLATING)
    for env in (None, {"NO_COLOR": "1"}):
        result = run(path, env=env)
        assert result.exit_code == 0
        out = result.stdout
        assert "\x1b[" not in out and "curve" in out and "verdict" in out
        assert "+ converging" in out and "~ oscillating" in out and str(path) in out
        # ASCII box off a terminal (the reasons' own ≈ and ± aside)
        assert all(ord(ch) < 128 for ch in out.replace("≈", "").replace("±", ""))


def test_help():
    result = CliRunner().invoke(cli, ["classify", "--help"])
    assert result.exit_code == 0
    for word in ("--column", "--fail-on", "--config", "--classes", "--loss", "--json", "stdin"):
        assert word in result.stdout


# --------------------------------------------------------------------------- results.json


@pytest.fixture(scope="module")
def results_json(tmp_path_factory):
    """A real tiny sweep: 3-class blobs, softmax + cross-entropy, weights scaled by 1e-4 so the
    logits start near 0 and the loss near ln 3; lr 1e-20 leaves it there (flat at chance), lr
    0.5 learns. Its config sets short_curve: 1000, so every curve it judges is borderline."""
    d = tmp_path_factory.mktemp("sweep")
    cfg = {
        "data": {"kind": "blobs", "n_samples": 60, "n_classes": 3, "validation_split": 0.25},
        "model": {
            "hidden": [8],
            "activation": "tanh",
            "output": "softmax",
            "loss": "cross_entropy",
        },
        "init": {"scheme": "xavier", "scales": [1e-4]},
        "training": {"epochs": 30, "seeds": [0], "dtype": "float64"},
        "sweep": {"learning_rates": [1e-20, 0.5]},
        "classify": {"short_curve": 1000},
    }
    (d / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    out = d / "out"
    result = CliRunner().invoke(
        cli, ["sweep", str(d / "tiny.yaml"), "--out", str(out), "--no-plots", "-q"]
    )
    assert result.exit_code == 0, result.output
    return out / "results.json"


def test_results_json_rejudged(results_json, tmp_path):
    swept = json.loads(results_json.read_text())
    doc = judged(results_json)
    assert doc["format"] == "lrdiag-results"
    assert doc["loss"] == "cross_entropy" and doc["classes"] == 3  # from the sweep's model
    names = [c["name"] for c in doc["curves"]]
    assert names == [
        "run 0 (lr 1e-20, scale 0.0001, seed 0)",
        "run 0 val (lr 1e-20, scale 0.0001, seed 0)",
        "run 1 (lr 0.5, scale 0.0001, seed 0)",
        "run 1 val (lr 0.5, scale 0.0001, seed 0)",
    ]
    assert [r["id"] for r in swept["runs"]] == [0, 1]
    flat = doc["curves"][0]
    assert flat["verdict"] == "plateaued" and "stuck_at_chance" in flat["flags"]
    assert doc["curves"][1]["train_curve"] == "loss"
    # the results' own thresholds (short_curve: 1000) unless --config says otherwise
    assert all("only 31 points" in c["reason"] for c in doc["curves"])
    th = tmp_path / "th.yaml"
    th.write_text("classify: {short_curve: 5}\n")
    again = judged(results_json, "--config", th)
    assert not any("only 31 points" in c["reason"] for c in again["curves"])
    # and the sweep's own verdicts, since nothing else changed (the same loss, K, thresholds)
    swept_verdicts = [v for r in swept["runs"] for v in (r["verdict"], r["val"]["verdict"])]
    assert [c["verdict"] for c in doc["curves"]] == swept_verdicts
    only_val = judged(results_json, "--column", "val_loss", "--loss", "mse")
    assert [c["name"] for c in only_val["curves"]] == names[1::2]
    assert only_val["loss"] == "mse"
    assert judged(results_json.parent)["file"] == str(results_json)  # the output directory


# --------------------------------------------------------------------------- real logs


def _check_real_logs(files: list[Path], mnist: Path):
    doc = judged(*files)
    assert len(doc["files"]) == len(files)
    for d in doc["files"]:
        names = [c["name"] for c in d["curves"]]
        lines = [line for line in Path(d["file"]).read_text().splitlines() if line.strip()]
        if len(lines) == 2:  # a header and one epoch: no curve at all
            assert names == [] and "not curves; not judged" in d["notes"][0], d["file"]
            continue
        assert names == ["val_loss", "loss"], d["file"]  # the columns' order in the file
        for c in d["curves"]:
            assert c["verdict"] in classifier.VERDICTS
    assert {c["name"]: c["train_curve"] for c in doc["files"][0]["curves"]}["val_loss"] == "loss"
    (mnist_doc,) = [d for d in doc["files"] if d["file"] == str(mnist)]
    # unknown loss: 2.40, then ln 10 to rounding for 99 epochs is stuck at chance all the same
    assert verdicts(mnist_doc)["loss"] == "plateaued"
    # flat at ln 10 for 100 epochs, 10 classes, cross-entropy: plateaued, stuck at chance
    doc = judged(mnist, "--classes", "10", "--loss", "cross_entropy")
    (loss,) = [c for c in doc["curves"] if c["name"] == "loss"]
    assert loss["verdict"] == "plateaued" and "stuck_at_chance" in loss["flags"], loss["reason"]


def test_real_logs_copied_here():
    files = sorted(EXTERNAL_COPIES.glob("*.csv"))
    assert len(files) == 5
    _check_real_logs(files, EXTERNAL_COPIES / MNIST)


def test_real_logs_in_shared():
    if not (SHARED_EXTERNAL / "labels.csv").is_file():
        pytest.skip(f"no external logs at {SHARED_EXTERNAL}")
    files = sorted(SHARED_EXTERNAL.glob("*/*.csv"))
    assert len(files) == 30
    _check_real_logs(files, SHARED_EXTERNAL / "deepdiagnosis" / MNIST)


# --------------------------------------------------------------------------- appended runs


def test_appended_keras_runs_are_judged_one_by_one():
    """keras_appended.csv: run 1 converges, run 2 grows 2.4x an epoch and turns NaN at its
    epoch 7, run 3 sits at exactly ln 10 (a dead network), run 4 converges. No second header:
    only the epoch column going back to 0 shows the restarts."""
    result = run(APPENDED, "--json")
    assert result.exit_code == 0, result.output
    doc = strict_loads(result.stdout)
    assert doc["notes"][0] == "the epoch column restarts at lines 12, 22, 32: judged as 4 runs"
    assert result.stderr == "".join(f"lrdiag: note: {APPENDED}: {n}\n" for n in doc["notes"])
    assert doc["runs"] == 4
    assert [c["run"]["index"] for c in doc["curves"]] == [4, 4, 1, 1, 2, 2, 3, 3]  # last first
    by_run = {(c["run"]["index"], c["column"]): c for c in doc["curves"]}
    shapes = {1: "converging", 2: "diverging", 3: "plateaued", 4: "converging"}
    for (r, _), c in by_run.items():
        assert c["verdict"] == shapes[r], (c["name"], c["reason"])
        assert c["x"] == "epoch" and c["run"]["of"] == 4 and c["run"]["unit"] == "line"
        # every position a reason names is one the file has: its epochs never pass 9
        for at in re.findall(r"\bepoch (\d+)", c["reason"]):
            assert int(at) <= 9, c["reason"]
        for span in re.findall(r"\bepochs \d+-(\d+)", c["reason"]):
            assert int(span) <= 9, c["reason"]
    assert "non-finite at epoch 7" in by_run[2, "loss"]["reason"]
    assert by_run[2, "val_loss"]["train_curve"] == "loss (run 2 of 4, lines 12-21)"
    run_3 = {"index": 3, "of": 4, "first": 22, "last": 31, "unit": "line"}
    assert by_run[3, "loss"]["run"] == run_3
    # --fail-on sees every run, not only the last
    assert run(APPENDED, "--fail-on", "diverging").exit_code == 1
    assert run(APPENDED, "--fail-on", "plateaued").exit_code == 1
    assert run(APPENDED, "--fail-on", "oscillating").exit_code == 0


def test_appended_runs_table_leads_with_the_last_run():
    out = run(APPENDED, env=WIDE).stdout
    assert out.index("loss (run 4 of 4, lines 32-41)") < out.index("loss (run 1 of 4, lines 2-11)")
    assert out.index("run 1 of 4") < out.index("run 2 of 4") < out.index("run 3 of 4")
    *_, summary, earlier = out.splitlines()
    assert summary == "verdicts, run 4 of 4: 2 converging, 0 oscillating, 0 diverging, 0 plateaued"
    assert earlier == "earlier runs: 2 converging, 0 oscillating, 2 diverging, 2 plateaued"


# --------------------------------------------------------------------------- printed logs


def test_printed_logs_get_the_verdicts_of_their_shapes():
    logs_dir = HERE / "data" / "logs"
    doc = judged(logs_dir / "keras3_console.txt")  # lr 0.5 blows up to NaN, then lr 1e-3
    assert (doc["format"], doc["runs"]) == ("keras-console", 2)
    assert [(c["run"]["index"], c["verdict"]) for c in doc["curves"]] == [
        (2, "converging"),
        (2, "converging"),
        (1, "diverging"),
        (1, "diverging"),
    ]
    assert "non-finite at epoch 6 " in doc["curves"][2]["reason"]  # "Epoch 6/6"
    doc = judged(logs_dir / "pytorch_print.txt")
    assert doc["format"] == "epoch-lines" and verdicts(doc) == {
        "train_loss": "converging",
        "val_loss": "converging",
    }


def test_accuracy_that_contradicts_the_loss_is_a_note_not_a_verdict():
    """The issue's Keras log: a loss of 315 at 88% accuracy. Said on stderr and in --json;
    the verdicts are the curves' own."""
    path = HERE / "data" / "logs" / "keras_console.txt"
    result = run(path, "--json")
    assert result.exit_code == 0
    doc = strict_loads(result.stdout)
    assert verdicts(doc) == {"loss": "converging", "val_loss": "converging"}
    first, second = doc["notes"]
    assert first.startswith("'loss' 315.5 with 'accuracy' 0.8432 at line 14 (epoch 1): ")
    assert "misclassified 15.7% of samples average a loss of at least 1,938 each" in first
    assert second.startswith("'val_loss' 195.9 with 'val_accuracy' 0.8963 at line 14")
    assert result.stderr == "".join(f"lrdiag: note: {path}: {n}\n" for n in doc["notes"])
    # with the class count known, the bound uses ln 10
    doc = judged(path, "--classes", "10")
    assert "at least 2,000 each (a correctly classified one costs at most ln 10)" in doc["notes"][0]
    assert judged(path, "--loss", "mse")["notes"] == []  # not a cross-entropy: nothing to say


# --------------------------------------------------------------------------- --fail-on parity


def test_fail_on_counts_validation_curves_in_sweep_and_classify(tmp_path, monkeypatch):
    """A validation curve that gets a --fail-on verdict fails the build in both commands:
    `classify` counts every curve of a log, and `sweep` each run's validation verdict too
    (it counted only the training verdicts)."""
    log = keras_csv(tmp_path / "log.csv", CONVERGING[:30], DIVERGING)
    assert verdicts(judged(log)) == {"loss": "converging", "val_loss": "diverging"}
    assert run(log, "--fail-on", "diverging").exit_code == 1
    assert run(log, "--fail-on", "oscillating").exit_code == 0

    from lrdiag import results

    real = results.document

    def val_diverges(*args, **kwargs):  # every run converging, its validation curve not
        doc = real(*args, **kwargs)
        for r in doc["runs"]:
            r["verdict"] = "converging"
            r["val"] = {**(r["val"] or {}), "verdict": "diverging"}
        return doc

    monkeypatch.setattr(results, "document", val_diverges)
    cfg = {
        "data": {"kind": "blobs", "n_samples": 40, "n_classes": 2, "validation_split": 0.25},
        "model": {"hidden": [4], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
        "training": {"epochs": 5, "seeds": [0]},
        "sweep": {"learning_rates": [0.1]},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg))

    def sweep(fail_on, out):
        argv = ["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / out), "--no-plots"]
        return CliRunner().invoke(cli, [*argv, "-q", "--fail-on", fail_on])

    assert sweep("diverging", "a").exit_code == 1
    assert sweep("oscillating", "b").exit_code == 0


def test_a_column_that_is_not_a_loss_says_so(tmp_path):
    """--column val_accuracy: judged upside down, said on stderr, named and marked so; the
    learning rate: judged as it is, said too; one-value columns: not judged, not counted."""
    e = np.arange(20)
    acc = 0.95 - 0.5 * np.exp(-e / 4)  # an accuracy rising to 0.95: converging, read negated
    rows = [f"{i},{fmt(a)},{fmt(0.1 * 0.9**i)},{fmt(1 - a)}" for i, a in zip(e, acc, strict=True)]
    path = tmp_path / "log.csv"
    path.write_text("epoch,val_accuracy,lr,val_loss\n" + "\n".join(rows) + "\n,,,0.2\n")
    result = run(path, "--column", "val_accuracy", "-c", "lr", "-c", "val_loss", "--json")
    assert result.exit_code == 0, result.output
    doc = strict_loads(result.stdout)
    acc_curve, lr_curve, val = doc["curves"]
    assert (acc_curve["name"], acc_curve["negated"], acc_curve["verdict"]) == (
        "val_accuracy (negated)",
        True,
        "converging",
    )
    assert acc_curve["metrics"]["final"] == pytest.approx(-acc[-1])
    assert (lr_curve["name"], lr_curve["negated"]) == ("lr", False)
    assert val["name"] == "val_loss" and len(doc["curves"]) == 3
    stderr = result.stderr
    assert f"lrdiag: note: {path}: 'val_accuracy' is a metric where higher is better" in stderr
    assert f"lrdiag: note: {path}: 'lr' is the learning rate, not a loss" in stderr
    # the table's count is of the curves judged; a final one-value test_loss is not one
    with_test = tmp_path / "with_test.csv"
    with_test.write_text(
        "epoch,loss,test_loss\n" + "".join(f"{i},{fmt(0.9**i)},\n" for i in e) + ",,0.2\n"
    )
    result = run(with_test, env=WIDE)
    assert result.stdout.splitlines()[-1].startswith("verdicts: 1 converging,")
    assert "'test_loss' (0.2 at line 22) holds one value" in result.stderr


def test_notes_on_stderr_escape_control_characters_of_names(tmp_path):
    """A one-value column is named in a note, after the file's name; names holding ESC sequences
    (which erase lines in a terminal) are printed escaped, on stderr as in the table."""
    path = tmp_path / "log\x1b[2K.csv"
    rows = ["epoch,loss,\x1b[2K\x1b[1Atest_loss"]
    rows += [f"{e},{1.0 / (e + 1)!r}," for e in range(9)] + ["9,0.1,0.2"]
    path.write_text("\n".join(rows) + "\n")
    # color=True: as on a terminal, where click passes escape sequences through untouched
    result = CliRunner().invoke(cli, ["classify", str(path)], color=True, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\x1b[2K" not in result.stderr and "\\x1b[2K" in result.stderr, result.stderr


def test_full_batch_turns_irregular_swings_into_oscillation(tmp_path):
    """--full-batch: the curve has no sampling noise, so swings that last are dynamics."""
    values = full_batch_chaos()  # the logistic map: bounded, irregular, deterministic
    path = text_file(tmp_path / "chaos.txt", values)
    assert strict_loads(run(path, "--json").stdout)["curves"][0]["verdict"] == "converging"
    doc = strict_loads(run(path, "--json", "--full-batch").stdout)
    assert doc["curves"][0]["verdict"] == "oscillating"


@pytest.mark.parametrize(
    "batch_size, verdict", [("full", "oscillating"), (None, "oscillating"), (8, "converging")]
)
def test_a_full_batch_sweeps_results_are_rejudged_as_full_batch(tmp_path, batch_size, verdict):
    """A results.json of a sweep without mini-batches ("full", or null before schema 2) carries
    the hint that --full-batch gives: irregular swings of its runs are their dynamics."""
    loss = [float(v) for v in full_batch_chaos()]
    row = {"id": 0, "learning_rate": 1.0, "init_scale": 1.0, "seed": 0, "verdict": "converging"}
    doc = {"config": {"training": {"batch_size": batch_size}}, "runs": [{**row, "loss": loss}]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    assert strict_loads(run(path, "--json").stdout)["curves"][0]["verdict"] == verdict
