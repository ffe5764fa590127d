"""lrdiag.logs: every log format read into named curves, checked against the numbers the test
itself wrote; the curve picking rules and their errors; validation curves lined up with their
training curve; load_thresholds. Verdicts are tested in test_classify_cli.py."""

from __future__ import annotations

import importlib
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lrdiag import console, logs, logtable
from lrdiag.classify import Thresholds
from lrdiag.config import load_thresholds, thresholds_from_dict
from lrdiag.errors import ConfigError, InputError

DATA = Path(__file__).resolve().parent / "data" / "logs"


def parse(text, columns=()):
    return logs.parse_log(text, "log", columns=columns)


def curves(log):
    return {c.name: c for c in log.curves}


def error(text, columns=(), match=None):
    with pytest.raises(InputError, match=match) as info:
        parse(text, columns)
    return str(info.value)


# --------------------------------------------------------------------------- the files in data/


def test_keras_csvlogger():
    log = logs.read_log(DATA / "keras_csvlogger.csv")
    assert log.format == "csv"
    assert log.columns == ("epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss")
    got = curves(log)
    assert list(got) == ["loss", "val_loss"]
    t = np.arange(12)
    np.testing.assert_allclose(got["loss"].values, 0.1 + 0.6 * np.exp(-t / 3), atol=1e-6)
    np.testing.assert_allclose(got["val_loss"].values, 0.15 + 0.6 * np.exp(-t / 3), atol=1e-6)
    assert got["loss"].train is None
    assert got["val_loss"].train_name == "loss"
    np.testing.assert_array_equal(got["val_loss"].train, got["loss"].values)


def test_lightning_metrics_sparse_rows():
    log = logs.read_log(DATA / "lightning_metrics.csv")
    got = curves(log)
    assert list(got) == ["train_loss", "val_loss"]
    steps = np.array([e * 50 + s - 1 for e in range(5) for s in range(10, 51, 10)])
    train = 1.0 / (1 + (steps + 1) / 50)
    np.testing.assert_allclose(got["train_loss"].values, train, atol=1e-6)
    np.testing.assert_allclose(got["val_loss"].values, 1.1 / (2 + np.arange(5)), atol=1e-6)
    # per-step training loss averaged over each epoch's steps, at each validation point
    assert got["val_loss"].train_name == "train_loss"
    np.testing.assert_allclose(got["val_loss"].train, train.reshape(5, 5).mean(axis=1), atol=1e-6)


def test_tensorboard_export():
    log = logs.read_log(DATA / "tensorboard_export.csv")
    (curve,) = log.curves
    assert curve.name == "Value"
    np.testing.assert_allclose(curve.values, 2.0 * 0.7 ** np.arange(8), atol=1e-6)


def test_keras_history_json():
    log = logs.read_log(DATA / "keras_history.json")
    assert log.format == "json"
    got = curves(log)
    assert list(got) == ["loss", "val_loss"]
    np.testing.assert_allclose(got["loss"].values, 1.2 * 0.8 ** np.arange(6), atol=1e-6)
    assert got["val_loss"].train_name == "loss"


def test_list_json_and_text():
    (c,) = logs.read_log(DATA / "loss_list.json").curves
    assert c.name == "loss" and c.values.tolist() == [0.9, 0.7, 0.55, 0.46, 0.41, 0.39]
    log = logs.read_log(DATA / "losses.txt")
    assert log.format == "text"
    (c,) = log.curves
    assert c.values[:-1].tolist() == [2.30, 1.85, 1.42, 1.10, 0.95]
    assert math.isnan(c.values[-1])


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    "cell, sign",
    [
        ("nan", 0),
        ("NaN", 0),
        ("NAN", 0),
        ("-nan", 0),
        ("inf", 1),
        ("Inf", 1),
        ("+inf", 1),
        ("INF", 1),
        ("Infinity", 1),
        ("infinity", 1),
        ("-inf", -1),
        ("-Infinity", -1),
    ],
)
def test_non_finite_spellings(cell, sign):
    for text in (f"epoch,loss\n0,1.0\n1,{cell}\n", f"1.0\n{cell}\n", f'[1.0, "{cell}"]'):
        (c,) = parse(text).curves
        x = c.values[1]
        if sign == 0:
            assert math.isnan(x), text
        else:
            assert math.isinf(x) and np.sign(x) == sign, text


def test_json_non_finite_literals_and_null():
    (c,) = parse("[1.0, NaN, Infinity, -Infinity, null]").curves
    assert c.values[0] == 1.0 and math.isnan(c.values[1]) and math.isnan(c.values[4])
    assert c.values[2] == math.inf and c.values[3] == -math.inf


def test_numbers_too_big_for_a_float_are_infinite():
    (c,) = parse("[1, " + "9" * 400 + ", -" + "9" * 400 + "]").curves
    assert c.values.tolist() == [1.0, math.inf, -math.inf]


def test_empty_cell_is_missing_for_that_curve_only():
    got = curves(parse("epoch,loss,val_loss\n0,1.0,\n1,0.5,0.6\n2,,0.5\n3, 0.25 ,\n"))
    assert got["loss"].values.tolist() == [1.0, 0.5, 0.25]
    assert got["val_loss"].values.tolist() == [0.6, 0.5]


def test_keras_na_cells_are_missing():
    """Keras CSVLogger writes NA for a key not in that epoch's logs: with validation_freq=2 the
    val_ columns hold NA on the epochs without validation (written here as Keras writes it)."""
    text = (
        "epoch,accuracy,loss,val_accuracy,val_loss\n"
        "0,0.5,1.0,NA,NA\n"
        "1,0.6,0.8,0.55,0.9\n"
        "2,0.7,0.6,NA,NA\n"
        "3,0.8,0.4,0.75,0.5\n"
    )
    got = curves(parse(text))
    assert got["loss"].values.tolist() == [1.0, 0.8, 0.6, 0.4]
    assert got["val_loss"].values.tolist() == [0.9, 0.5]  # missing, not NaN (not diverged)
    # lined up by epoch: the mean of the training losses since the previous validation
    assert got["val_loss"].train.tolist() == [0.9, 0.5]
    assert parse("1.0\nNA\n0.5\n").curves[0].values.tolist() == [1.0, 0.5]


def test_fastai_na_cells_are_missing():
    """fastai's training table (printed, or its CSVLogger) shows #na# for a metric it did not
    compute, such as valid_loss without a validation set: a missing value, not a bad cell."""
    text = (
        "epoch     train_loss  valid_loss  accuracy  time    \n"
        "0         1.234567    #na#        #na#      00:05     \n"
        "1         0.912345    #na#        #na#      00:05     \n"
        "2         0.701234    0.750000    0.610000  00:05     \n"
        "3         0.598765    0.680000    0.650000  00:06     \n"
    )
    got = curves(parse(text))
    assert got["train_loss"].values.tolist() == [1.234567, 0.912345, 0.701234, 0.598765]
    assert got["valid_loss"].values.tolist() == [0.75, 0.68]
    csv_logger = "epoch,train_loss,valid_loss,time\n0,0.9,#na#,00:05\n1,0.7,#na#,00:05\n"
    assert curves(parse(csv_logger))["train_loss"].values.tolist() == [0.9, 0.7]


def test_short_row_cells_are_missing_and_trailing_empty_cells_are_fine():
    got = curves(parse("epoch,loss,val_loss\n0,1.0,0.9\n1,0.5\n2,0.4,0.3,\n"))
    assert got["loss"].values.tolist() == [1.0, 0.5, 0.4]
    assert got["val_loss"].values.tolist() == [0.9, 0.3]


def test_other_delimiters_and_decimal_comma():
    got = curves(parse("epoch\tloss\n0\t1.5\n1\t0.75\n"))
    assert got["loss"].values.tolist() == [1.5, 0.75]
    got = curves(parse("epoch;loss\n0;1,5\n1;0,75\n"))
    assert got["loss"].values.tolist() == [1.5, 0.75]
    got = curves(parse("step   loss\n 0   2.0\n 1   1.0\n"))
    assert got["loss"].values.tolist() == [2.0, 1.0]


def test_comments_blank_lines_and_repeated_header():
    text = "# run 1\nepoch,loss\n\n0,1.0\n1,0.8\nepoch,loss\n2,0.6\n"
    assert parse(text).curves[0].values.tolist() == [1.0, 0.8, 0.6]


def test_encodings():
    text = "epoch,loss\n0,1.0\n1,0.5\n"
    for data in (text.encode("utf-8-sig"), text.encode("utf-16")):
        log = logs.parse_log(data, "log")
        assert log.columns == ("epoch", "loss")
        assert log.curves[0].values.tolist() == [1.0, 0.5]


def test_format_from_content_not_extension(tmp_path):
    (tmp_path / "history.csv").write_text('{"loss": [1, 0.5]}')
    (tmp_path / "log.json").write_text("epoch,loss\n0,1\n1,0.5\n")
    (tmp_path / "loss.csv").write_text("1\n0.5\n")
    assert logs.read_log(tmp_path / "history.csv").format == "json"
    assert logs.read_log(tmp_path / "log.json").format == "csv"
    assert logs.read_log(tmp_path / "loss.csv").format == "text"


# --------------------------------------------------------------------------- JSON shapes


def test_json_records_jsonl_and_trainer_state():
    records = [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.7, "eval_loss": 0.8}]
    records += [{"step": 3, "loss": 0.6, "eval_loss": 0.75}]
    for text in (json.dumps(records), "\n".join(json.dumps(r) for r in records)):
        got = curves(parse(text))
        assert got["loss"].values.tolist() == [0.9, 0.7, 0.6]
        assert got["eval_loss"].values.tolist() == [0.8, 0.75]
        assert got["eval_loss"].train_name == "loss"
    state = {"global_step": 2, "log_history": records}
    assert list(curves(parse(json.dumps(state)))) == ["loss", "eval_loss"]
    # Trainer.train() ends by logging a summary: train_loss is the mean over the run, not a
    # 1-point curve (which would be judged plateaued and trip --fail-on plateaued)
    summary = {"epoch": 1.0, "step": 2, "total_flos": 1e12, "train_loss": 0.8,
               "train_runtime": 10.5, "train_samples_per_second": 3.0,
               "train_steps_per_second": 0.2}  # fmt: skip
    state = {"global_step": 2, "log_history": [*records, summary]}
    got = curves(parse(json.dumps(state)))
    assert list(got) == ["loss", "eval_loss"]
    assert got["loss"].values.tolist() == [0.9, 0.7, 0.6]
    assert parse("\n".join(json.dumps(r) for r in records)).format == "jsonl"


def test_json_history_key_and_tensorboard_json():
    got = curves(parse(json.dumps({"history": {"loss": [1, 0.5]}, "params": {"epochs": 2}})))
    assert got["loss"].values.tolist() == [1.0, 0.5]
    (c,) = parse("[[1700000000.0, 0, 0.9], [1700000001.0, 10, 0.8]]").curves
    assert c.name == "value" and c.values.tolist() == [0.9, 0.8]


def test_json_lists_of_other_lengths_are_not_lined_up():
    got = curves(parse(json.dumps({"loss": [1, 0.9, 0.8, 0.7], "val_loss": [1, 0.8]})))
    assert got["val_loss"].train is None
    assert got["loss"].values.size == 4


@pytest.mark.parametrize(
    "text, match",
    [
        ("[1, 2", "invalid JSON at line 1"),
        ("[]", "empty"),
        ('{"name": "x"}', "no lists of numbers"),
        ('[1, "a"]', "element 1: 'a' is not a number"),
        ("[[1, 2], [3, 4]]", "TensorBoard"),
        ('[{"loss": 1}, 2]', "element 1 is not an object"),
        ("[" + "9" * 5000 + "]", "unreadable JSON"),
        ("[" * 100_000 + "]" * 100_000, "unreadable JSON"),
    ],
)
def test_json_errors(text, match):
    error(text, match=match)


# --------------------------------------------------------------------------- lrdiag results.json


def _results(**extra):
    run = {"learning_rate": 0.1, "init_scale": 1.0, "seed": 0, "verdict": "converging"}
    runs = [
        {"id": 0, **run, "loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.6, 0.4]},
        {"id": 1, **run, "learning_rate": 10.0, "loss": [1.0, 8.0, None], "val_loss": None},
        {
            "id": 2,
            **run,
            "verdict": None,
            "flags": ["incomplete"],
            "loss": [1.0, None, None],
            "val_loss": [1.0, None, None],
        },
    ]
    config = {
        "model": {"loss": "cross_entropy"},
        "data": {"kind": "blobs", "n_classes": 3},
        "classify": {"noise_snr": 4.0, "retired_threshold": 1},
    }
    return {"schema_version": 1, "config": config, "runs": runs, **extra}


def test_results_json_runs_become_named_curves():
    log = parse(json.dumps(_results()))
    assert log.format == "lrdiag-results"
    assert log.columns == ("loss", "val_loss")
    assert [c.name for c in log.curves] == [
        "run 0 (lr 0.1, scale 1, seed 0)",
        "run 0 val (lr 0.1, scale 1, seed 0)",
        "run 1 (lr 10, scale 1, seed 0)",
    ]
    diverged = log.curves[2].values
    assert diverged[:2].tolist() == [1.0, 8.0] and math.isnan(diverged[2])  # null = non-finite
    val = log.curves[1]
    assert val.train_name == "loss" and val.train.tolist() == [1.0, 0.5, 0.25]
    assert log.loss_name == "cross_entropy" and log.n_classes == 3
    assert log.thresholds == Thresholds(noise_snr=4.0)  # keys of other versions are left out
    assert log.notes == ("skipped 1 interrupted run",)


def test_results_json_classes_from_the_chance_metric_and_column_pick():
    doc = _results()
    doc["config"]["data"] = {"kind": "file", "n_classes": 2}
    doc["runs"][0]["metrics"] = {"chance": math.log(7)}
    log = parse(json.dumps(doc), columns=["val_loss"])
    assert log.n_classes == 7
    assert [c.name for c in log.curves] == ["run 0 val (lr 0.1, scale 1, seed 0)"]
    with pytest.raises(InputError, match="no column 'accuracy'.*'loss', 'val_loss'"):
        parse(json.dumps(doc), columns=["accuracy"])


def test_results_json_bad_threshold_names_file_and_key():
    doc = _results()
    doc["config"]["classify"]["noise_snr"] = "lots"
    with pytest.raises(ConfigError) as info:
        parse(json.dumps(doc))
    assert info.value.file == "log" and info.value.key == "config.classify.noise_snr"


# --------------------------------------------------------------------------- picking curves


def test_every_loss_column_any_case():
    got = curves(parse("Epoch,Loss,val_LOSS,accuracy,cls_loss\n0,1,2,3,4\n1,1,2,3,4\n"))
    assert list(got) == ["Loss", "val_LOSS", "cls_loss"]


def test_single_numeric_column_that_is_not_an_index():
    for header in (
        "epoch,objective",
        "step,objective",
        "Wall time,Step,objective",
        "_step,_timestamp,objective",
        ",objective",
        "objective,time",
    ):
        text = (
            header + "\n" + "\n".join(",".join(["1"] * (header.count(",") + 1)) for _ in range(3))
        )
        (c,) = parse(text).curves
        assert c.name == "objective", header


def test_several_candidates_is_an_error_listing_them():
    msg = error("epoch,objective,error_rate\n0,0.5,0.1\n", match="--column")
    assert "'objective', 'error_rate'" in msg and "no column name contains 'loss'" in msg


@pytest.mark.parametrize(
    "header", ["epoch,accuracy", "epoch,val_acc", "step,AUC", "epoch,f1_score", "epoch,accuracy,lr"]
)
def test_accuracy_or_learning_rate_is_never_the_loss_by_default(header):
    """Every curve is judged as a loss: an accuracy rising from 0.5 to 0.9 would be 'diverging'.
    So no such column is taken without --column; with it, it is judged as asked."""
    n = header.count(",")
    text = (
        header + "\n" + "".join(f"{e}" + ",0.1" * (n - 1) + f",{0.5 + 0.1 * e}\n" for e in range(5))
    )
    msg = error(text, match="not a loss")
    assert "--column" in msg
    name = header.split(",")[-1]
    log = parse(text, columns=[name])
    (c,) = log.curves
    if name == "lr":  # judged as it is, with a note that says what it is
        assert c.values.tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
        assert (c.name, c.kind) == ("lr", logs.LEARNING_RATE)
        assert "'lr' is the learning rate, not a loss" in log.notes[0]
    else:  # higher is better: read upside down, and named so
        assert c.values.tolist() == pytest.approx([-0.5, -0.6, -0.7, -0.8, -0.9])
        assert (c.name, c.kind) == (f"{name} (negated)", logs.HIGHER_IS_BETTER)
        assert f"{name!r} is a metric where higher is better" in log.notes[0]
        assert "judged upside down, as its negative" in log.notes[0]
    # beside a column that is not such a metric, that one is the loss
    (c,) = parse("epoch,accuracy,objective\n0,0.5,2.0\n1,0.6,1.0\n").curves
    assert c.name == "objective" and c.values.tolist() == [2.0, 1.0]


def test_no_numbers_is_an_error():
    error("epoch,loss\n", match="no numbers")
    error("name,notes\nrun,fine\n", match="no numbers")
    error("epoch,step\n0,1\n", match="no numeric column besides epoch/step/time")


def test_column_option():
    text = "epoch,loss,val_loss,accuracy,note\n0,1,2,0.5,a\n1,0.5,1.5,0.6,b\n"
    got = curves(parse(text, columns=["accuracy", "VAL_LOSS"]))
    assert list(got) == ["accuracy (negated)", "val_loss"]
    assert got["val_loss"].train_name == "loss"  # paired even when loss is not picked
    msg = error(text, columns=["val_los"])
    assert "no column 'val_los'" in msg and "did you mean 'val_loss'" in msg
    assert "'epoch', 'loss', 'val_loss', 'accuracy', 'note'" in msg
    error(text, columns=["note"], match="column 'note' is not numeric: line 2, column 'note'")


def test_a_loss_column_with_text_is_an_error_with_its_line():
    error("epoch,loss\n0,1.0\n1,oops\n", match="line 3, column 'loss': 'oops' is not a number")


@pytest.mark.parametrize(
    "val, train",
    [
        ("val_loss", "loss"),
        ("val_loss", "train_loss"),
        ("val_output_1_loss", "output_1_loss"),
        ("validation/loss", "train/loss"),
        ("eval_loss", "loss"),
        ("val_loss", "train_loss_epoch"),
        ("loss/val", "loss/train"),
    ],
)
def test_validation_curve_pairs_with_its_training_curve(val, train):
    got = curves(parse(f"epoch,{train},{val}\n0,1,2\n1,0.5,1.5\n"))
    assert got[val].train_name == train


def test_no_training_curve_no_pair():
    got = curves(parse("epoch,val_loss,other_loss\n0,1,2\n1,0.5,1.5\n"))
    assert got["val_loss"].train is None and got["other_loss"].train is None


def test_lined_up_by_epoch_and_by_row():
    # epoch key: train every half epoch, validation once per epoch
    text = "epoch,loss,val_loss\n0,4,\n0,2,\n0,,9\n1,1,\n1,3,\n1,,8\n"
    assert curves(parse(text))["val_loss"].train.tolist() == [3.0, 2.0]
    # no index column: the rows since the previous validation value; carried forward, NaN first
    text = "val_loss,loss\n5,\n4,2\n,6\n3,\n"
    train = curves(parse(text))["val_loss"].train
    assert math.isnan(train[0]) and train[1:].tolist() == [2.0, 6.0]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "the file is empty; expected a loss log"),
        ("  \n\n", "the file is empty"),
        ("# nothing\n\n# here\n", "only comments"),
        ("1.0\n0.5\nabc\n", r"line 3: 'abc' is not a number \(plain text holds one number"),
        (
            "0 1.0\n",
            r"line 1: expected a header row naming the columns \(e.g. epoch,loss\), found only",
        ),
        ("1,2,3\n4,5,6\n", "line 1: expected a header row"),
        ("epoch,loss\n0,1,2,3\n", "line 2 has 4 fields, the header 2"),
        ("loss,loss\n1,2\n", "'loss' appears twice"),
        ('epoch,loss\n0,"1.0\n1,0.5\n', "a quoted cell is never closed"),
    ],
)
def test_errors(text, match):
    msg = error(text, match=match)
    assert msg.startswith("log: ")


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="nope.csv: file not found"):
        logs.read_log(tmp_path / "nope.csv")
    with pytest.raises(
        InputError, match="is a directory with no results.json, metrics.csv or trainer_state.json"
    ):
        logs.read_log(tmp_path)
    (tmp_path / "events.out.tfevents.1").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(InputError, match="binary file.*export TensorBoard scalars"):
        logs.read_log(tmp_path / "events.out.tfevents.1")


def test_an_empty_file_name_is_no_directory(tmp_path, monkeypatch):
    """`lrdiag classify "$LOG"` with LOG unset passes "": Path("") is the current directory,
    whose metrics.csv must not be judged in its place."""
    (tmp_path / "metrics.csv").write_text("step,train_loss\n0,1\n1,0.5\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="^an empty file name"):
        logs.read_log("")


def test_a_hugging_face_checkpoint_folder_is_read_as_its_trainer_state(tmp_path):
    """output/checkpoint-500 holds trainer_state.json beside the weights: the log to judge."""
    history = [
        {"loss": v, "step": 10 * (k + 1), "epoch": k / 4} for k, v in enumerate([0.9, 0.7, 0.6])
    ]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 64)
    log = logs.read_log(tmp_path)
    assert log.source == str(tmp_path / "trainer_state.json")
    assert curves(log)["loss"].values.tolist() == [0.9, 0.7, 0.6]


def test_a_tensorboard_log_directory_says_to_export_its_scalars(tmp_path):
    """runs/exp1 with train/ and validation/ event files: what to do, not only what is missing."""
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"\x00\x01")
    with pytest.raises(InputError, match="no results.json.*; export TensorBoard scalars as CSV"):
        logs.read_log(tmp_path)


def test_a_directory_with_metrics_csv(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,train_loss\n0,1\n1,0.5\n")
    log = logs.read_log(tmp_path)
    assert log.source == str(tmp_path / "metrics.csv")
    assert log.curves[0].name == "train_loss"


# --------------------------------------------------------------------------- judge


def test_judge_document_shape_and_overrides():
    t = np.arange(30)
    text = "\n".join(str(x) for x in np.exp(-t / 5))
    doc = logs.judge(parse(text), n_classes=3, loss_name="cross_entropy")
    assert set(doc) == {"file", "format", "loss", "classes", "runs", "notes", "curves"}
    assert doc["file"] == "log" and doc["loss"] == "cross_entropy" and doc["classes"] == 3
    assert (doc["runs"], doc["notes"]) == (1, [])
    (c,) = doc["curves"]
    assert set(c) == {
        *("name", "column", "run", "negated", "verdict", "reason", "flags", "metrics"),
        *("train_curve", "x"),
    }
    assert (c["column"], c["run"], c["negated"]) == ("loss", None, False)
    log = parse(json.dumps(_results()))
    assert logs.judge(log)["loss"] == "cross_entropy"
    assert logs.judge(log, loss_name="bce", n_classes=2)["loss"] == "bce"


# --------------------------------------------------------------------------- load_thresholds


def test_load_thresholds(tmp_path):
    only = tmp_path / "only.yaml"
    only.write_text("classify:\n  noise_snr: 5\n")
    assert load_thresholds(only) == Thresholds(noise_snr=5.0)
    full = tmp_path / "full.yaml"  # a sweep config: its other sections are not checked here
    full.write_text("data: {kind: file, path: gone.csv}\nclassify: {short_curve: 9}\n")
    assert load_thresholds(full) == Thresholds(short_curve=9)
    none = tmp_path / "none.yaml"
    none.write_text("model: {loss: bce}\n")
    assert load_thresholds(none) == Thresholds()
    assert thresholds_from_dict(None) == Thresholds()


@pytest.mark.parametrize(
    "text, key, match",
    [
        ("classify: {noise_snr: many}\n", "classify.noise_snr", "must be a number"),
        ("classify: {noise_sn: 3}\n", "classify.noise_sn", "did you mean 'noise_snr'"),
        ("noise_snr: 3\n", "noise_snr", "under a 'classify:' section"),
        ("clasify: {noise_snr: 3}\n", "clasify", "did you mean 'classify'"),
        ("", None, "the file is empty"),
        ("classify: [1\n", None, "invalid YAML"),
    ],
)
def test_load_thresholds_errors(tmp_path, text, key, match):
    path = tmp_path / "th.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_thresholds(path)
    assert info.value.file == str(path) and info.value.key == key


# --------------------------------------------------------------------------- any input


ALPHABET = '0123456789.,;\t -+eEnaifINF#\n"[]{}:lossvaltep_'


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=80) | st.binary(max_size=40))
def test_any_input_is_a_log_or_an_input_error(data):
    """Whatever the bytes, the reader returns curves or raises InputError, never a bug."""
    try:
        log = logs.parse_log(data, "log")
    except InputError as e:
        assert str(e).startswith("log: ")
        return
    assert log.curves or log.notes  # only one-value columns: nothing to judge, and a note
    for c in log.curves:
        assert c.values.dtype == np.float64 and c.values.ndim == 1 and c.values.size > 1
    logs.judge(log)


JSON_KEYS = ("loss", "val_loss", "step", "runs", "config", "history", "log_history", "model")
JSON_KEYS += ("classify", "data", "verdict", "flags", "metrics", "chance", "n_classes", "kind")
SCALARS = st.none() | st.booleans() | st.floats() | st.integers(-5, 5)
SCALARS |= st.sampled_from(["nan", "x", "", "1.5", "inf"])
JSON_DOCS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(JSON_KEYS), inner, max_size=5)
    ),
    max_leaves=25,
).filter(lambda d: isinstance(d, list | dict))


@settings(max_examples=300, deadline=None)
@given(JSON_DOCS)
def test_any_json_is_a_log_or_an_input_error(doc):
    """Odd JSON (including broken results.json documents): curves, or a message."""
    try:
        log = logs.parse_log(json.dumps(doc), "log")
    except (InputError, ConfigError) as e:
        assert str(e).startswith("log: ")
        return
    logs.judge(log)


# --------------------------------------------------------------------------- x-axis


def axes(log):
    """Each curve's axis: (name, positions) or None."""
    return {c.name: None if c.x is None else (c.x_name, c.x.tolist()) for c in log.curves}


def test_axis_of_the_files_in_data():
    got = axes(logs.read_log(DATA / "keras_csvlogger.csv"))
    assert got["loss"] == ("epoch", [float(e) for e in range(12)])
    got = axes(logs.read_log(DATA / "tensorboard_export.csv"))  # never the wall time
    assert got == {"Value": ("step", [100.0 * k for k in range(8)])}
    got = axes(logs.read_log(DATA / "lightning_metrics.csv"))
    assert got["train_loss"][0] == "step"  # epoch 0 on many rows: not one value per epoch
    assert got["train_loss"][1][:3] == [9.0, 19.0, 29.0]
    assert got["val_loss"] == ("epoch", [float(e) for e in range(len(got["val_loss"][1]))])
    for name in ("keras_history.json", "loss_list.json", "losses.txt"):
        log = logs.read_log(DATA / name)
        assert all(c.x is None and c.x_name is None for c in log.curves), name


def test_axis_lightning_prefers_the_epoch_of_per_epoch_curves():
    # Lightning's CSVLogger: keys sorted; train_loss_step on step rows, val_loss (validated
    # every 2nd epoch: epochs 1, 3) and train_loss_epoch on rows of their own at each epoch's end
    text = (
        "epoch,step,train_loss_epoch,train_loss_step,val_loss\n"
        "0,4,,0.9,\n0,9,,0.8,\n0,9,0.85,,\n"
        "1,14,,0.7,\n1,19,,0.6,\n1,19,,,0.75\n1,19,0.65,,\n"
        "2,24,,0.5,\n2,29,,0.45,\n2,29,0.48,,\n"
        "3,34,,0.4,\n3,39,,0.35,\n3,39,,,0.5\n3,39,0.38,,\n"
    )
    got = axes(parse(text))
    assert got["train_loss_step"] == ("step", [4.0, 9.0, 14.0, 19.0, 24.0, 29.0, 34.0, 39.0])
    assert got["train_loss_epoch"] == ("epoch", [0.0, 1.0, 2.0, 3.0])
    assert got["val_loss"] == ("epoch", [1.0, 3.0])


def test_axis_json_records_jsonl_and_tensorboard_json():
    records = [{"step": 100 * i, "loss": 1.0 / (i + 1)} for i in range(4)]
    for text in (json.dumps(records), "\n".join(json.dumps(r) for r in records)):
        assert axes(parse(text)) == {"loss": ("step", [0.0, 100.0, 200.0, 300.0])}
    text = "[[1700000000.5, 0, 0.9], [1700000001.5, 10, 0.8], [1700000002.5, 20, 0.7]]"
    assert axes(parse(text)) == {"value": ("step", [0.0, 10.0, 20.0])}


def test_axis_trainer_state_step_for_fractional_epochs_epoch_for_whole_ones():
    """Hugging Face logs the training loss at fractional epochs (rounded, so they may repeat):
    named by step. Evaluations at each epoch's end have whole epochs: named by epoch; with
    eval_strategy="steps" they have fractional ones: named by step."""
    history = [
        {"loss": 0.9, "learning_rate": 5e-5, "epoch": 0.33, "step": 10},
        {"loss": 0.8, "learning_rate": 4e-5, "epoch": 0.67, "step": 20},
        {"loss": 0.7, "learning_rate": 3e-5, "epoch": 1.0, "step": 30},
        {"eval_loss": 0.85, "eval_runtime": 1.5, "epoch": 1.0, "step": 30},
        {"loss": 0.6, "learning_rate": 2e-5, "epoch": 1.33, "step": 40},
        {"loss": 0.5, "learning_rate": 1e-5, "epoch": 1.67, "step": 50},
        {"loss": 0.4, "learning_rate": 0.0, "epoch": 2.0, "step": 60},
        {"eval_loss": 0.75, "eval_runtime": 1.5, "epoch": 2.0, "step": 60},
        {"train_runtime": 20.0, "train_loss": 0.65, "epoch": 2.0, "step": 60},
    ]
    got = axes(parse(json.dumps({"global_step": 60, "log_history": history})))
    assert got == {
        "loss": ("step", [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]),
        "eval_loss": ("epoch", [1.0, 2.0]),
    }
    for r in history:
        r["epoch"] = round(r["step"] / 40, 2)  # evaluations every 30 steps, 40 steps an epoch
    got = axes(parse(json.dumps({"global_step": 60, "log_history": history})))
    assert got["eval_loss"] == ("step", [30.0, 60.0])


def test_axis_none_when_no_index_column_will_do():
    # only a wall-time column: never an axis
    assert axes(parse("Wall time,loss\n1700000000,1\n1700000010,0.9\n")) == {"loss": None}
    # a step missing on one of the curve's rows, or repeated: named by the file's lines, as the
    # file has no position for the values without a step
    assert axes(parse("step,loss\n0,1\n,0.9\n20,0.8\n")) == {"loss": ("line", [2.0, 3.0, 4.0])}
    assert axes(parse("epoch,loss\n0,1\n0,0.9\n1,0.8\n1,0.7\n")) == {
        "loss": ("line", [2.0, 3.0, 4.0, 5.0])
    }
    # an epoch column of fractions, and no step column: the fractions
    assert axes(parse("epoch,loss\n0.5,1\n1.0,0.9\n1.5,0.8\n")) == {
        "loss": ("epoch", [0.5, 1.0, 1.5])
    }
    # lists of other lengths do not share rows
    assert axes(parse(json.dumps({"step": [0, 10, 20], "loss": [1.0, 0.5]}))) == {"loss": None}


def test_axis_of_a_results_json_is_the_epoch_index():
    log = parse(json.dumps(_results()))
    assert all(c.x is None and c.x_name == "epoch" for c in log.curves)
    assert {c["x"] for c in logs.judge(log)["curves"]} == {"epoch"}


# --------------------------------------------------------------------------- appended runs


def test_appended_keras_runs_are_split_where_the_epoch_goes_back():
    """keras_appended.csv: four CSVLogger(append=True) runs of 10 epochs, no second header.
    Each run is a curve of its own, on its own epochs 0-9, paired with its own training loss;
    the last run comes first; lines are the file's (the header is line 1)."""
    log = logs.read_log(DATA / "keras_appended.csv")
    assert log.runs == 4
    assert log.notes[0] == "the epoch column restarts at lines 12, 22, 32: judged as 4 runs"
    names = [c.name for c in log.curves]
    spans = {4: "32-41", 1: "2-11", 2: "12-21", 3: "22-31"}
    assert names == [
        f"{col} (run {r} of 4, lines {spans[r]})"
        for r in (4, 1, 2, 3)
        for col in ("loss", "val_loss")
    ]
    rows = np.genfromtxt(DATA / "keras_appended.csv", delimiter=",", names=True)
    for c in log.curves:
        r = c.run.index
        assert (c.run.of, c.run.unit, f"{c.run.first}-{c.run.last}") == (4, "line", spans[r])
        assert c.column in ("loss", "val_loss")
        assert (c.x_name, c.x.tolist()) == ("epoch", [float(e) for e in range(10)])
        want = rows[c.column][10 * (r - 1) : 10 * r]
        np.testing.assert_array_equal(c.values, want)  # NaN where the file has nan
        if c.column == "val_loss":  # this run's training loss, not the log's whole
            assert c.train_name == f"loss (run {r} of 4, lines {spans[r]})"
            np.testing.assert_array_equal(c.train, rows["loss"][10 * (r - 1) : 10 * r])


def test_restarts_by_step_and_what_is_not_a_restart():
    # a step column that goes back (no epoch column): two runs, each on its own steps
    log = parse("step,loss\n0,1\n10,0.9\n20,0.8\n0,0.8\n10,0.7\n20,0.6\n")
    assert [c.name for c in log.curves] == [
        "loss (run 2 of 2, lines 5-7)",
        "loss (run 1 of 2, lines 2-4)",
    ]
    assert [c.x.tolist() for c in log.curves] == [[0.0, 10.0, 20.0]] * 2
    assert log.notes == ("the step column restarts at line 5: judged as 2 runs",)
    # a resume from a checkpoint goes back to epoch 2, not 0: a restart all the same
    log = parse("epoch,loss\n0,1\n1,0.9\n2,0.8\n3,0.7\n2,0.75\n3,0.65\n4,0.6\n")
    assert [c.run.label() for c in log.curves] == ["run 2 of 2, lines 6-8", "run 1 of 2, lines 2-5"]
    # a batch counter that restarts every epoch under a steady epoch column: one run
    text = "epoch,batch,loss\n0,0,1\n0,1,0.9\n1,0,0.8\n1,1,0.7\n2,0,0.6\n2,1,0.5\n"
    (c,) = parse(text).curves
    assert (c.name, c.run, parse(text).runs) == ("loss", None, 1)
    # a step column sorted downwards (an export newest first): not restarts, one log
    log = parse("step,loss\n30,0.5\n20,0.6\n10,0.8\n0,1.0\n")
    assert (log.runs, [c.name for c in log.curves]) == (1, ["loss"])
    assert log.curves[0].x_name == "line"  # the steps go down: the file's lines name positions
    assert log.notes == (
        "the step column goes back at 3 of its 4 values, too often for restarts of a run: "
        "read as one log, in the file's order",
    )
    # a repeated header with the epochs going on (see above) and equal steps: no restart
    assert parse("epoch,loss\n0,1.0\n1,0.8\nepoch,loss\n2,0.6\n").runs == 1
    assert parse("step,loss,val_loss\n9,1,\n9,,2\n19,0.5,\n19,,1.5\n").runs == 1
    # JSON records count from 0, as jq does
    recs = [{"step": s, "loss": 1.0 / (1 + s)} for s in (0, 1, 2, 0, 1, 2)]
    log = parse(json.dumps(recs))
    assert [c.name for c in log.curves] == [
        "loss (run 2 of 2, records 3-5)",
        "loss (run 1 of 2, records 0-2)",
    ]
    assert log.notes == ("the step column restarts at record 3: judged as 2 runs",)


def test_a_run_without_its_own_axis_is_named_by_lines():
    """A split run whose epochs repeat inside it is named by the file's lines, never by a
    count from the run's start (which names epochs the file does not have)."""
    text = "epoch,loss\n0,1\n0,0.9\n1,0.8\n0,0.7\n0,0.6\n1,0.5\n"
    a, b = parse(text).curves
    assert (a.x_name, a.x.tolist(), b.x.tolist()) == ("line", [5.0, 6.0, 7.0], [2.0, 3.0, 4.0])


# --------------------------------------------------------------------------- what is a curve


def test_a_one_value_column_is_not_a_curve():
    """Lightning logs test_loss once, at the end: a number, not a curve; said in a note."""
    text = "epoch,train_loss,val_loss,test_loss\n0,1.0,1.1,\n1,0.6,0.7,\n2,0.4,0.5,\n2,,,0.52\n"
    log = parse(text)
    assert [c.name for c in log.curves] == ["train_loss", "val_loss"]
    assert log.notes == ("'test_loss' (0.52 at line 5) holds one value: a number, not a curve; "
                         "not judged",)  # fmt: skip
    assert len(logs.judge(log)["curves"]) == 2
    # a one-epoch log: nothing to judge, and every loss named
    log = parse("loss,val_loss\n0.7,0.8\n")
    assert log.curves == () and log.notes[0].startswith("2 columns hold one value each")
    assert logs.judge(log)["curves"] == []
    # a run of one epoch in an appended log is not a curve either
    log = parse("epoch,loss\n0,1\n1,0.5\n2,0.3\n0,2.0\n")
    assert [c.name for c in log.curves] == ["loss (run 1 of 2, lines 2-4)"]
    assert "'loss (run 2 of 2, line 5)' (2 at line 5) holds one value" in log.notes[1]


def test_a_negated_metric_pairs_with_its_negated_training_curve():
    text = "epoch,acc,val_acc\n0,0.5,0.4\n1,0.7,0.6\n2,0.9,0.7\n"
    log = parse(text, columns=["val_acc"])
    (c,) = log.curves
    assert (c.name, c.column, c.train_name) == ("val_acc (negated)", "val_acc", "acc (negated)")
    assert c.values.tolist() == [-0.4, -0.6, -0.7] and c.train.tolist() == [-0.5, -0.7, -0.9]
    (doc,) = logs.judge(log)["curves"]
    assert doc["negated"] is True and doc["column"] == "val_acc"
    assert doc["reason"].endswith("(values of -val_acc: higher is better, so read negated)")
    assert doc["verdict"] == "converging"  # an accuracy that rises, read upside down
    log = parse(text + "0,0.5,0.4\n1,0.6,0.5\n", columns=["acc"])  # appended: one name
    assert [c.name for c in log.curves] == [
        "acc (negated, run 2 of 2, lines 5-6)",
        "acc (negated, run 1 of 2, lines 2-4)",
    ]


# --------------------------------------------------------------------------- many columns


def test_many_columns_cost_linear_work(monkeypatch):
    """Issue 12: 10,000 columns x 20 rows took 92 s, each column's axis and training curve
    looked up by splitting every column's name again. Each name is split once now."""
    calls = 0
    real = logtable._words

    def counting(name):
        nonlocal calls
        calls += 1
        return real(name)

    monkeypatch.setattr(logtable, "_words", counting)
    n = 2000
    head = "epoch," + ",".join(f"loss_{i}" for i in range(n)) + ",val_loss_0"
    rows = [f"{e}," + ",".join([f"{1 / (e + 1):.4f}"] * (n + 1)) for e in range(20)]
    log = parse(head + "\n" + "\n".join(rows) + "\n")
    assert len(log.curves) == n + 1
    assert log.curves[-1].train_name == "loss_0"
    assert calls <= 2 * (n + 2), calls  # the old code: n squared, 4,000,000


# --------------------------------------------------------------------------- printed logs


KERAS_FINAL = {  # keras_console.txt: each epoch's finished line, as printed (line 14, 16, ...)
    "loss": [315.4696, 204.1183, 151.2245, 118.7302, 97.441, 83.0017, 72.9154, 65.5729, 60.1142,
             56.0458],
    "accuracy": [0.8432, 0.8811, 0.8953, 0.9041, 0.9102, 0.9147, 0.9183, 0.9209, 0.9232, 0.9249],
    "val_loss": [195.9139, 160.2271, 131.553, 110.9022, 97.2045, 87.6611, 80.998, 76.3517,
                 73.2206, 71.0345],
}  # fmt: skip


def test_keras_console_output_pasted_from_a_terminal():
    """Keras 2's progress bar: a model summary first, every update of an epoch's line joined
    by \\r and backspaces, the validation metrics added to the finished line, an evaluate()
    line after training. Each epoch's numbers are its finished line's."""
    log = logs.read_log(DATA / "keras_console.txt")
    assert log.format == "keras-console"
    assert log.columns == ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")
    got = curves(log)
    assert list(got) == ["loss", "val_loss"]
    for name in ("loss", "val_loss"):
        assert got[name].values.tolist() == KERAS_FINAL[name]
        assert (got[name].x_name, got[name].x.tolist()) == ("epoch", [e + 1.0 for e in range(10)])
    assert got["val_loss"].train.tolist() == KERAS_FINAL["loss"]
    (acc,) = [p for p in log.pairs if p.loss == "loss"]
    assert acc.accuracy_values.tolist() == KERAS_FINAL["accuracy"]
    assert acc.where(0) == "line 14 (epoch 1)"  # its "Epoch 1/10" is line 13


def test_keras_console_updates_on_lines_of_their_own():
    """The updates of a progress bar copied as lines (a log file, a forum post): the finished
    line and its second print with the validation metrics; an evaluate() after the last epoch
    and a ModelCheckpoint message are not the epoch's; Keras 3's bar and verbose=2 alike."""
    text = (
        "Epoch 1/3\n"
        "  1/100 [..............................] - ETA: 9s - loss: 9.0 - accuracy: 0.1\n"
        " 50/100 [==============>...............] - ETA: 1s - loss: 3.0 - accuracy: 0.5\n"
        "100/100 [==============================] - 1s 5ms/step - loss: 2.0 - accuracy: 0.6\n"
        "100/100 [==============================] - 2s 9ms/step - loss: 2.0 - accuracy: 0.6 - "
        "val_loss: 2.5 - val_accuracy: 0.55\n"
        "Epoch 1: val_loss improved from inf to 2.50000, saving model to best.keras\n"
        "Epoch 2/3\n"
        "100/100 ━━━━━━━━━━━━━━━━━━━━ 1s 5ms/step - accuracy: 0.7 - loss: 1.5e+00 - val_accuracy:"
        " 0.65 - val_loss: 1.8\n"
        "Epoch 3/3\n"
        "100/100 - 1s - loss: 1.2 - accuracy: 0.75 - val_loss: 1.6 - val_accuracy: 0.7 - "
        "1s/epoch - 5ms/step\n"
        " 20/20 [==============================] - 0s 2ms/step - loss: 9.9 - accuracy: 0.1\n"
    )
    got = curves(parse(text))
    assert got["loss"].values.tolist() == [2.0, 1.5, 1.2]
    assert got["val_loss"].values.tolist() == [2.5, 1.8, 1.6]
    # without a finished line (a paste cut short): the epoch's last line
    got = curves(
        parse("Epoch 1/2\n 10/99 [==>...] - loss: 5.0\nEpoch 2/2\n 50/99 [=>] - loss: 4.0\n")
    )
    assert got["loss"].values.tolist() == [5.0, 4.0]


@pytest.mark.parametrize(
    "line, train, val",
    [
        ("Epoch [{e}/50], Train Loss: {t}, Val Loss: {v}", "train_loss", "val_loss"),
        ("Epoch {e}/50 - loss: {t} - val_loss: {v}", "loss", "val_loss"),
        ("epoch {e}: train_loss={t} val_loss={v}", "train_loss", "val_loss"),
        ("Epoch: {e} | Loss: {t} | Val Loss: {v}", "loss", "val_loss"),
        ("[Epoch {e}/50] train loss: {t}, valid loss: {v}, time: 3.2s", "train_loss", "valid_loss"),
        ("Epoch {e}: 100%|██████| 938/938 [00:12<00:00, 75.1it/s, loss={t}, v_num=0, val_loss={v}]",
         "loss", "val_loss"),
    ],
)  # fmt: skip
def test_one_line_an_epoch_print_styles(line, train, val):
    t, v = [1.0, 0.6, 0.4, 0.3], [1.1, 0.8, 0.7, 0.75]
    text = "Using device: cpu\n" + "\n".join(line.format(e=e + 1, t=t[e], v=v[e]) for e in range(4))
    log = parse(text + "\nDone.\n")
    assert log.format == "epoch-lines"
    got = curves(log)
    assert list(got) == [train, val]
    assert got[train].values.tolist() == t and got[val].values.tolist() == v
    assert got[val].train_name == train  # Train Loss / Val Loss pair up
    assert got[train].x_name == "epoch" and got[train].x.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_pytorch_prints_and_their_variants():
    log = logs.read_log(DATA / "pytorch_print.txt")
    got = curves(log)
    assert list(got) == ["train_loss", "val_loss"] and got["train_loss"].values.size == 30
    assert got["train_loss"].values[0] == 2.3 and got["val_loss"].values[0] == 2.32
    (p,) = log.pairs
    assert (p.accuracy, p.accuracy_values[0]) == ("val_acc", 0.1)  # "Val Acc: 10.00%"
    # the validation on a line of its own: one row an epoch
    text = "epoch 1: train_loss=0.9\nepoch 1: val_loss=1.0\nepoch 2: train_loss=0.7\n"
    text += "epoch 2: val_loss=0.8\nepoch 3: train_loss=0.5\nepoch 3: val_loss=0.7\n"
    got = curves(parse(text))
    assert got["val_loss"].train.tolist() == [0.9, 0.7, 0.5]
    # per-step lines (the classic tutorial): the epoch repeats, so positions are lines
    text = "".join(
        f"Epoch [{e}/2], Step [{s}/300], Loss: {1 / (e * s):.4f}\n"
        for e in (1, 2)
        for s in (100, 200)
    )
    (c,) = parse(text).curves
    assert (c.x_name, c.x.tolist()) == ("line", [1.0, 2.0, 3.0, 4.0])
    # a step counter instead of an epoch
    (c,) = parse("step 100 loss: 0.5\nstep 200 loss: 0.4\nstep 300 loss: 0.3\n").curves
    assert (c.x_name, c.x.tolist()) == ("step", [100.0, 200.0, 300.0])


def test_printed_logs_restart_and_are_read_by_content(tmp_path):
    """Keras 3: a second model.fit pasted after the first, "Epoch 1/6" again: two runs."""
    log = logs.read_log(DATA / "keras3_console.txt")
    assert (
        log.runs == 2 and log.notes[0] == "the epoch column restarts at line 13: judged as 2 runs"
    )
    assert [c.name for c in log.curves][:2] == [
        "loss (run 2 of 2, lines 13-24)",
        "val_loss (run 2 of 2, lines 13-24)",
    ]
    (tmp_path / "history.csv").write_text((DATA / "pytorch_print.txt").read_text())
    assert logs.read_log(tmp_path / "history.csv").format == "epoch-lines"
    # a CSV ending its lines in \r\r\n: lines as an editor counts them
    error("epoch,loss\r\r\n0,1\r\r\n1,oops\r\r\n", match="line 3, column 'loss'")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(2, 12)),  # (first epoch, length) of each run
        min_size=1,
        max_size=5,
    ),
    st.integers(0, 2**32 - 1),
)
def test_appended_runs_any_layout(runs, seed):
    """Runs of any length, each restarting below where the last ended (Keras appends from 0,
    or resumes from a checkpoint's epoch): split into exactly those runs, each curve
    its run's values on its run's epochs, named by the lines they are on."""
    rng = np.random.default_rng(seed)
    layout, last = [], -1
    for first, n in runs:
        first = min(first, max(last - 1, 0))  # below the previous run's last epoch
        layout.append((first, n))
        last = first + n - 1
    lines, bounds, line = ["epoch,loss"], [], 2
    for first, n in layout:
        values = rng.uniform(0.1, 3.0, n).round(6)
        lines += [f"{first + e},{float(v)!r}" for e, v in enumerate(values)]
        bounds.append((line, line + n - 1, first, values))
        line += n
    log = parse("\n".join(lines) + "\n")
    assert log.runs == len(layout)
    order = [len(layout) - 1, *range(len(layout) - 1)] if len(layout) > 1 else [0]
    assert len(log.curves) == len(layout)
    for c, r in zip(log.curves, order, strict=True):
        first_line, last_line, first_epoch, values = bounds[r]
        assert c.values.tolist() == values.tolist()
        assert (c.x_name, c.x.tolist()) == ("epoch", [first_epoch + e for e in range(len(values))])
        if len(layout) > 1:
            assert (c.run.index, c.run.first, c.run.last) == (r + 1, first_line, last_line)
        else:
            assert c.run is None and c.name == "loss"


PRINTED = "Epoch poch[]/0123456789.:=-|, \r\b\nlosvaltrinacuy%━=>ETA"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=PRINTED, max_size=200))
def test_any_printed_output_is_a_log_or_an_input_error(text):
    """Text that looks like printed training output: curves, or a message, never a bug."""
    try:
        log = logs.parse_log(text, "log")
    except InputError as e:
        assert str(e).startswith("log: ")
        return
    for c in log.curves:
        assert c.values.size > 1 and (c.x is None or (np.diff(c.x) > 0).all())
    logs.judge(log)


# The console readers' lines and the rows of a table, for the check that reading only
# console.candidates reads what reading every line does.
PRINTED_LINES = [
    "epoch,loss",
    "step\tloss",
    "1,0.5",
    "2;0,25",
    " 3 , 1e-3 ",
    "4,inf",
    "5,nan",
    "-1.5e+2\t+.5",
    "",
    "# a comment",
    "# Epoch 3: loss=0.25",
    "Epoch 1/3",
    "  epoch 2 / 3  ",
    "1875/1875 [==============================] - 3s 2ms/step - loss: 0.3000 - accuracy: 0.9000",
    "1875/1875 - loss: 0.2500 - val_loss: 0.3000",
    "313/313 - loss: 0.5",
    "1/10 - loss: 0.9\r10/10 - loss: 0.5",
    "1/10 - loss: 0.9\b\b\b10/10 - loss: 0.4",
    "Epoch [1/50], Train Loss: 0.123, Val Loss: 0.145",
    "epoch 2: train_loss=0.1 val_loss=0.2",
    "Epoch 3: train loss 0.3, val loss 0.4",
    "Epoch: 01 | Epoch Time: 0m 7s",
    "\tTrain Loss: 0.693 | Train Acc: 50.12%",
    "\t Val. Loss: 0.690 |  Val. Acc: 51.00%",
    "\tval_loss=0.7",
    "10/10 - loss=0.2",
    "[1,  2000] loss: 2.014",
    "{'loss': 0.52, 'learning_rate': 4e-05, 'epoch': 0.5}",
    "{'train_runtime': 10.0, 'train_loss': 0.4}",
    "\u017ftep 3: loss=0.5",  # the long s: 'step' under IGNORECASE
    "\u017ftep 3 | time 7s",  # an epoch or step heading without a metric ...
    "ITER 4 | time 7s",
    "\tloss: 0.5",  # ... and the line under it that holds them
    "ITERATION 4 loss 0.5",
    "iter 5 loss 0.4, lr 0.1",
    "INFO:root:Epoch 6: loss=0.5",
    "Epoch 3: 100%|##| 10/10 [00:01<00:00, loss=0.123]",
    "val_loss improved from inf to 0.29",
    "lr = 0.1",
    "e: 0.5",
    "E=2",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(PRINTED_LINES),
            st.text(alphabet="EeSsTtPpOoCcHhIiRr\u017f\u0130\u0131:=,;. \t0123456789", max_size=12),
        ),
        max_size=30,
    ),
    st.sampled_from(["\n", "\r\n"]),
)
@example(["1,0.5", "\u017ftep 3 | time 7s", "\tloss: 0.5", "2,0.4"], "\n")
@example(["ITER 4 | time 7s", "\tval_loss=0.7", "Epoch 1/2", "10/10 - loss=0.2"], "\r\n")
def test_the_printed_output_check_reads_what_reading_every_line_reads(lines, newline):
    """lrdiag.console.read of the lines console.candidates keeps (a table's rows passed over in
    one scan) reads what it reads given every line, numbered as an editor numbers them."""
    text = newline.join(lines)
    every = list(enumerate((line.rstrip("\r") for line in text.split("\n")), start=1))
    assert repr(console.read(console.candidates(text))) == repr(console.read(every))


def test_printed_output_below_a_table_is_read_as_printed_output():
    """A table of numbers with a training's printed output after it (a log appended to by
    another script): read as printed output, as when every line is checked, however many rows
    of numbers come first."""
    table = "epoch,loss\n" + "".join(f"{e},{1 / (e + 1)!r}\n" for e in range(5000))
    keras = (
        "Epoch 1/2\n"
        "1875/1875 [=========] - 3s 2ms/step - loss: 0.5000 - val_loss: 0.6000\n"
        "Epoch 2/2\n"
        "1875/1875 [=========] - 3s 2ms/step - loss: 0.4000 - val_loss: 0.5500\n"
    )
    log = parse(table + keras)
    assert log.format == "keras-console"
    got = curves(log)
    assert got["loss"].values.tolist() == [0.5, 0.4]
    assert got["val_loss"].values.tolist() == [0.6, 0.55]
    assert got["loss"].x.tolist() == [1.0, 2.0]
    # one line an epoch, with no epoch word: the indented lines under an epoch heading
    lines = "Epoch: 01 | Epoch Time: 0m 7s\n\tTrain Loss: 0.693 | Train Acc: 50.12%\n"
    lines += "Epoch: 02 | Epoch Time: 0m 7s\n\tTrain Loss: 0.512 | Train Acc: 61.00%\n"
    log = parse(table + lines)
    assert log.format == "epoch-lines"
    assert curves(log)["train_loss"].values.tolist() == [0.693, 0.512]
    # its printed lines numbered as an editor counts them, Windows line ends included
    text = (table + "step 7 loss: 0.3\nstep 9 loss: 0.2\n").replace("\n", "\r\n")
    (c,) = parse(text).curves
    assert c.values.tolist() == [0.3, 0.2] and c.x.tolist() == [7.0, 9.0]
    assert logs.judge(parse(text))["format"] == "epoch-lines"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", " ", "NA", " na ", "N/A", "#na#", "#NA# "]),  # missing
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from(["{!r}", " {!r}", "{!r} ", "{:+}", "{:.3e}", "\t{:.2f}"]),
            st.booleans(),  # missing or not
        ),
        min_size=2,
        max_size=40,
    )
)
def test_table_cells_missing_or_numbers(cells):
    """Each cell of a CSV column either a number (in any spelling float() reads, spaces
    around) or a missing value (empty, NA, N/A, #na# in any case): the curve holds the numbers
    in row order, on the rows' steps, the missing ones left out."""
    rows, want, steps = ["step,loss"], [], []
    for step, (missing, x, spelling, is_missing) in enumerate(cells):
        cell = missing if is_missing else spelling.format(x)
        rows.append(f"{step},{cell}")
        if not is_missing:
            want.append(float(cell))
            steps.append(float(step))
    if len(want) < 2:
        return  # a one-value column is no curve (tested above)
    (c,) = parse("\n".join(rows) + "\n").curves
    assert c.values.tolist() == want and c.x.tolist() == steps


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=30),
    st.integers(0, 2**32 - 1),
)
def test_validation_lined_up_with_the_training_values_since_the_last(present, seed):
    """A validation value is judged beside the mean of the training values logged since the
    previous validation value, up to its own step; beside the last training value when none
    came between; NaN before the first (a plain loop over the rows, here)."""
    rng = np.random.default_rng(seed)
    rows, train, val, expected = ["step,loss,val_loss"], [], [], []
    last_val = -1
    for step, (has_train, has_val) in enumerate(present):
        t, v = round(float(rng.uniform(0, 3)), 4), round(float(rng.uniform(0, 3)), 4)
        rows.append(f"{step},{t if has_train else ''},{v if has_val else ''}")
        if has_train:
            train.append((step, t))
        if has_val:
            val.append(v)
            since = [x for s, x in train if last_val < s <= step]
            before = [x for s, x in train if s <= step]
            expected.append(np.mean(since) if since else before[-1] if before else math.nan)
            last_val = step
    if len(train) < 2 or len(val) < 2:
        return
    got = curves(parse("\n".join(rows) + "\n"))["val_loss"]
    assert got.values.tolist() == val
    np.testing.assert_allclose(got.train, expected, rtol=1e-12)


def test_hugging_face_trainer_prints_a_dict_a_line():
    """Trainer's printed logs: a dict per logging step after its progress bar (joined by \\r),
    an evaluation dict per epoch, the end-of-training summary (not a point of a curve)."""
    log = logs.read_log(DATA / "hf_trainer_print.txt")
    assert log.format == "dict-lines" and log.notes == ()
    got = curves(log)
    assert list(got) == ["loss", "eval_loss"]  # the summary's train_loss is no curve
    steps = 50 * np.arange(1, 31)
    np.testing.assert_allclose(got["loss"].values, 0.25 + 0.45 * np.exp(-steps / 400), atol=6e-5)
    assert got["loss"].x_name == "epoch" and got["loss"].x.tolist()[:3] == [0.1, 0.2, 0.3]
    assert got["eval_loss"].x.tolist() == [1.0, 2.0, 3.0]
    assert got["eval_loss"].train_name == "loss"  # the mean of each epoch's training losses
    np.testing.assert_allclose(got["eval_loss"].train[0], got["loss"].values[:10].mean())
    # starting with a dict, NaN as Python prints it: not JSON, still read
    text = "".join(f"{{'loss': {v}, 'epoch': {e / 2}}}\n" for e, v in enumerate([1.0, 0.8, "nan"]))
    (c,) = parse(text).curves
    assert c.values[:2].tolist() == [1.0, 0.8] and math.isnan(c.values[2])
    assert logs.judge(parse(text))["curves"][0]["verdict"] == "diverging"
    error("{'loss': [1, 2]}\n", match="invalid JSON")  # no number pair: still a JSON error


def test_a_trainer_state_with_no_logged_step_says_so():
    """A trainer_state.json saved before the first logging step, or holding only the summary
    record of a run shorter than logging_steps, has no curve: say that, not "the records hold
    no values; expected a loss log" about the very format lrdiag reads."""
    summary = {"epoch": 3.0, "step": 375, "train_loss": 0.41, "train_runtime": 80.1}
    for history, only in (([], ""), ([summary], " but the summary")):
        text = json.dumps({"log_history": history, "global_step": 375})
        msg = error(text, match="trainer_state.json whose log_history holds no logged step")
        assert ("but the summary" in msg) == bool(only) and "records hold no values" not in msg


def test_a_log_past_the_size_cap_is_an_input_error_not_a_memory_blow_up(monkeypatch, tmp_path):
    """An endless file (/dev/zero) or stdin is read to the cap and refused, one line."""
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 1000)
    big = tmp_path / "big.csv"
    big.write_text("loss\n" + "0.5\n" * 400)
    with pytest.raises(logs.InputError, match="larger than 0 MiB, and a log is read whole"):
        logs.read_log(big)
    small = tmp_path / "small.csv"
    small.write_text("loss\n" + "0.5\n" * 100)
    assert [c.name for c in logs.read_log(small).curves] == ["loss"]
    if Path("/dev/zero").exists():
        with pytest.raises(logs.InputError, match="read whole"):
            logs.read_log("/dev/zero")


@pytest.mark.parametrize("module", ["gzip", "bz2", "lzma"])
def test_a_compressed_log_is_read_as_its_content(module, monkeypatch, tmp_path):
    """log.csv.gz (and .bz2, .xz), from a file or stdin, holds the numbers written into it; a
    small file that decompresses past the cap is refused as a large log, a truncated one in a
    line."""
    compress = importlib.import_module(module).compress
    text = "epoch,loss,val_loss\n" + "".join(f"{e},{1 / (e + 1)},{2 / (e + 2)}\n" for e in range(8))
    path = tmp_path / "log.csv.compressed"
    path.write_bytes(compress(text.encode()))
    got = curves(logs.read_log(path))
    assert got["loss"].values.tolist() == [1 / (e + 1) for e in range(8)]
    assert got["val_loss"].values.tolist() == [2 / (e + 2) for e in range(8)]
    assert curves(logs.parse_log(compress(text.encode())))["loss"].values[0] == 1.0
    with pytest.raises(InputError, match="cannot be decompressed"):
        logs.parse_log(compress(text.encode())[:-9], "cut")
    monkeypatch.setattr(logs, "MAX_LOG_BYTES", 1000)
    with pytest.raises(InputError, match="larger than 0 MiB, and a log is read whole"):
        logs.parse_log(compress(b"loss\n" + b"0.5\n" * 400), "bomb")


def test_an_archive_is_named_not_read_as_binary(tmp_path):
    with zipfile.ZipFile(tmp_path / "logs.zip", "w") as z:
        z.writestr("metrics.csv", "step,loss\n0,1\n1,0.5\n")
    with pytest.raises(InputError, match="logs.zip: a zip archive, not a loss log; extract"):
        logs.read_log(tmp_path / "logs.zip")


@pytest.mark.parametrize(
    "line",
    [
        "[0]\tvalidation_0-logloss:0.66\tvalidation_1-logloss:0.67",  # XGBoost
        "[1]\tvalid_0's binary_logloss: 0.66",  # LightGBM
    ],
)
def test_a_text_log_opening_with_a_bracket_is_not_called_invalid_json(line):
    """A text log whose lines open with "[0]" was reported as "invalid JSON at line 1, column
    5: Extra data", sending the user to look for a JSON file they never had."""
    msg = error(line + "\n" + line.replace("0.66", "0.61") + "\n")
    assert msg.startswith("log: line 1 (") and "is no JSON, nor printed output" in msg
    assert "invalid JSON" not in msg
    assert "Epoch 1/10" in msg  # what lrdiag does read, printed output included
    error("[1, 2,\n 3, oops]\n", match="invalid JSON at line 2")  # broken JSON stays so


def test_reading_a_long_csv_holds_no_list_of_every_rows_cells():
    """A log is read whole, so its size in memory is what the cap protects: reading a CSV of
    50,000 rows peaks at most 36 times the file's bytes (docs/robustness.md says about 30; a
    list of every row's cells beside the columns, as before, made it 40)."""
    import tracemalloc

    values = np.linspace(2.0, 0.1, 50_000)
    data = ("step,loss\n" + "".join(f"{i},{v:.6f}\n" for i, v in enumerate(values))).encode()
    tracemalloc.start()
    try:
        log = logs.parse_log(data, "long.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(log.curves[0].values, values, atol=5e-7)
    assert peak < 36 * len(data), f"{peak / len(data):.1f} times the file"


def test_numbers_printed_as_tensors_are_read_as_numbers():
    """print(loss) instead of loss.item() prints tensor(0.6931, grad_fn=<NllLossBackward0>),
    and NumPy 2 prints a scalar as np.float32(0.6931): the number inside is the value, in
    printed epoch lines, one a line, or in a CSV cell."""
    losses = [0.6931, 0.5512, 0.441, 0.3702, 0.3301]
    grad = "grad_fn=<NllLossBackward0>"
    text = "".join(f"Epoch {e + 1}, loss: tensor({v}, {grad})\n" for e, v in enumerate(losses))
    (loss,) = parse(text).curves
    assert loss.values.tolist() == losses and loss.x.tolist() == [1, 2, 3, 4, 5]
    spaced = "".join(f"epoch {e} loss tensor({v}, device='cuda:0')\n" for e, v in enumerate(losses))
    assert parse(spaced).curves[0].values.tolist() == losses
    assert parse("".join(f"tensor({v})\n" for v in losses)).curves[0].values.tolist() == losses
    cells = "step,loss\n" + "".join(f"{k},np.float32({v})\n" for k, v in enumerate(losses))
    assert curves(parse(cells))["loss"].values.tolist() == losses
    error("epoch;loss\n0;tensor([0.5])\n1;0.4\n", match="is not a number")  # a list: not one


def test_a_notebook_is_named_not_called_a_table_with_no_numbers():
    """A .ipynb holding Keras's output was refused with "no numbers (columns: 'cells')"."""
    printed = [
        "Epoch 1/2\n",
        "10/10 [====] - 1s - loss: 0.5\n",
        "Epoch 2/2\n",
        "10/10 - loss: 0.4\n",
    ]
    cell = {"cell_type": "code", "source": ["model.fit(x, y, epochs=2)"], "metadata": {}}
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": printed}]
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    msg = error(json.dumps(notebook), match="a Jupyter notebook, not a loss log")
    assert "columns" not in msg


def test_the_pytorch_cifar_tutorial_print_is_read_not_taken_for_json():
    """`[1,  2000] loss: 2.214` every 2000 mini-batches, two epochs, then 'Finished Training'
    (PyTorch's CIFAR-10 tutorial): it starts with '[', and was refused as invalid JSON."""
    log = logs.read_log(DATA / "pytorch_cifar_tutorial.txt")
    assert log.format == "epoch-batch-lines"
    (loss,) = log.curves
    assert loss.name == "loss"
    assert list(loss.values) == [2.214, 1.868, 1.679, 1.59, 1.521, 1.469, 1.391, 1.365, 1.338,
                                 1.313, 1.309, 1.269]  # fmt: skip
    # a JSON list is still JSON
    assert logs.parse_log("[1, 0.5, 0.25]").format == "json"


def test_an_abbreviation_s_dot_does_not_stay_in_a_printed_metric_s_name():
    """`Val. Loss: 2.35` (a widely copied PyTorch tutorial) is val_loss, paired with train_loss;
    it was `val._loss`."""
    text = "".join(
        f"Epoch: {e:02d} | Train Loss: {2.3 / e:.3f} | Val. Loss: {2.35 / e:.3f}\n"
        for e in range(1, 11)
    )
    log = logs.parse_log(text)
    assert [c.name for c in log.curves] == ["train_loss", "val_loss"]
    assert log.curves[1].train_name == "train_loss"


def test_an_epoch_heading_with_its_metrics_on_indented_lines_is_read():
    """A widely copied PyTorch tutorial prints 'Epoch: 01 | Epoch Time: 0m 7s', then the
    epoch's metrics on indented lines; it was refused ('no numbers')."""
    text = "".join(
        f"Epoch: {e:02d} | Epoch Time: 0m 12s\n"
        f"\tTrain Loss: {2.3 / e:.3f} | Train Acc: {50 + e:.2f}%\n"
        f"\t Val. Loss: {2.35 / e:.3f} |  Val. Acc: {48 + e:.2f}%\n"
        for e in range(1, 11)
    )
    log = logs.parse_log(text)
    assert log.format == "epoch-lines"
    train, val = log.curves
    assert (train.name, val.name, val.train_name) == ("train_loss", "val_loss", "train_loss")
    assert list(train.x) == list(range(1, 11)) and train.x_name == "epoch"
    assert np.allclose(val.values, [round(2.35 / e, 3) for e in range(1, 11)])


# --------------------------------------------------------------------------- "name number" prints


@pytest.mark.parametrize(
    "template",
    [
        "Epoch {e}: train loss {t:.4f}, val loss {v:.4f}",  # print(f"Epoch {e}: train loss ...")
        "Epoch {e} train_loss {t:.4f} val_loss {v:.4f}",
        "epoch {e} | train loss {t:.4f} | val loss {v:.4f} | lr 1.00e-03",
        "Epoch [{e}/20], Train Loss {t:.4f}, Val Loss {v:.4f}",
    ],
)
def test_epoch_lines_with_a_name_and_its_number_and_no_colon(template):
    """A name followed by its number, as many PyTorch scripts print it; the values are the
    numbers written, the epoch printed is the axis, the validation loss is judged beside the
    training loss."""
    e = np.arange(1, 21)
    t, v = 2.0 * np.exp(-e / 5) + 0.1, 2.2 * np.exp(-e / 5) + 0.3
    text = "Training...\n" + "".join(
        template.format(e=k, t=a, v=b) + "\n" for k, a, b in zip(e, t, v, strict=True)
    )
    log = parse(text)
    assert log.format == "epoch-lines"
    got = curves(log)
    assert list(got) == ["train_loss", "val_loss"]
    np.testing.assert_allclose(got["train_loss"].values, np.round(t, 4))
    np.testing.assert_allclose(got["val_loss"].values, np.round(v, 4))
    np.testing.assert_array_equal(got["train_loss"].x, e)
    assert got["val_loss"].train_name == "train_loss"


def test_a_colon_pair_on_the_line_wins_over_name_number_pairs():
    """'Epoch 3: took 35 s, loss: 0.5': only the ``key: number`` pairs are the line's metrics."""
    text = "".join(f"Epoch {k}: took 35 s, loss: {1 / k:.4f}\n" for k in range(1, 6))
    got = curves(parse(text))
    assert list(got) == ["loss"]
    np.testing.assert_allclose(got["loss"].values, np.round(1 / np.arange(1, 6), 4))
    assert "took" not in parse(text).columns


def test_sentences_on_an_epoch_line_are_not_name_number_pairs():
    """'Epoch 2: val_loss improved from 0.29 to 0.25, saving model' (a checkpoint callback's
    message) holds no metric: no column 'improved_from' or 'to', nor 'val_loss_improved...'."""
    text = ""
    for k in range(1, 7):
        text += f"epoch {k}: train_loss={1 / k:.4f}\n"
        text += f"Epoch {k}: val_loss improved from {1.1 / k:.4f} to {1 / k:.4f}, saving model\n"
        text += f"Epoch {k}: val_loss improved from {1.1 / k:.4f} to {1 / k:.4f}\n"
    log = parse(text)
    assert log.columns == ("epoch", "train_loss")
    np.testing.assert_allclose(curves(log)["train_loss"].values, np.round(1 / np.arange(1, 7), 4))


@pytest.mark.parametrize(
    "prefix",
    ["INFO:root:", "2024-05-01 10:00:00,123 - train - INFO - ", "[2024-05-01 10:00:00] "],
)
def test_epoch_lines_after_a_logging_prefix(prefix):
    """Python's logging puts a level, a logger name or a time before the message: the epoch
    and its metrics are read after it, and the prefix's own numbers are not metrics."""
    e = np.arange(1, 11)
    loss = 1.5 * np.exp(-e / 3) + 0.2
    text = "".join(f"{prefix}Epoch {k}/10 - loss: {v:.4f}\n" for k, v in zip(e, loss, strict=True))
    log = parse(text)
    assert log.format == "epoch-lines"
    assert log.columns == ("epoch", "loss")
    np.testing.assert_allclose(curves(log)["loss"].values, np.round(loss, 4))
    np.testing.assert_array_equal(curves(log)["loss"].x, e)


def test_printed_output_lrdiag_does_not_read_is_said_so():
    """Lines of metrics with no epoch or step: no header row (it holds a number), so the error
    says that and names the printed shapes that are read, not 'column ... is not a number'."""
    message = error("loss: 0.52\nloss: 0.41\nloss: 0.33\n")
    assert message.startswith("log: line 1 ('loss: 0.52') holds numbers, so it is no header row")
    assert "'Epoch 3: loss=0.25'" in message
    # a real header with a bad cell keeps its precise message
    assert (
        error("epoch loss\n0 0.5\n1 abc\n") == "log: line 3, column 'loss': 'abc' is not a number"
    )


def test_wandb_chart_export_judges_the_curve_not_its_band():
    """W&B's "Export panel data as CSV": "Step", then "<run> - <metric>" with "__MIN" and
    "__MAX" columns beside it (wandb/wandb#5349): the band is not a curve of its own."""
    steps = np.arange(0, 1000, 10)
    loss = 2.0 * np.exp(-steps / 200) + 0.1
    rows = ['"Step","run-1 - loss","run-1 - loss__MIN","run-1 - loss__MAX","run-1 - val_loss"']
    rows += [f"{s},{v},{0.9 * v},{1.1 * v},{v + 0.2}" for s, v in zip(steps, loss, strict=True)]
    log = parse("\n".join(rows) + "\n")
    got = curves(log)
    assert list(got) == ["run-1 - loss", "run-1 - val_loss"]
    np.testing.assert_allclose(got["run-1 - loss"].values, loss)
    np.testing.assert_array_equal(got["run-1 - loss"].x, steps)
    assert got["run-1 - val_loss"].train_name == "run-1 - loss"
    assert any("'run-1 - loss__MIN', 'run-1 - loss__MAX'" in n for n in log.notes)
    # named, a band column is judged
    (c,) = parse("\n".join(rows) + "\n", columns=["run-1 - loss__MAX"]).curves
    np.testing.assert_allclose(c.values, 1.1 * loss)
    # a __MAX column without its curve is a curve
    alone = "Step,best loss__MAX\n" + "".join(
        f"{s},{v}\n" for s, v in zip(steps, loss, strict=True)
    )
    assert list(curves(parse(alone))) == ["best loss__MAX"]


def test_nanogpt_prints_iterations_and_evaluations():
    """nanoGPT's train.py prints `iter {n}: loss {l:.4f}, time {ms:.2f}ms, mfu {m:.2f}%` every
    log_interval and `step {n}: train loss {t:.4f}, val loss {v:.4f}` every eval_interval: the
    per-iteration loss is a curve on the iteration axis, beside the evaluated train and val
    losses; a number with a unit (35.12ms) is not a metric, a percentage is a fraction."""
    iters = np.arange(0, 1001, 10)
    loss = 4.2 * np.exp(-iters / 300) + 1.0
    evals = np.arange(0, 1001, 250)
    train, val = 4.1 * np.exp(-evals / 300) + 1.0, 4.15 * np.exp(-evals / 300) + 1.1
    lines = ["tokens per iteration will be: 16,384", "number of parameters: 10.65M"]
    for n, v in zip(iters, loss, strict=True):
        if n in evals:
            k = int(np.flatnonzero(evals == n)[0])
            lines.append(f"step {n}: train loss {train[k]:.4f}, val loss {val[k]:.4f}")
        lines.append(f"iter {n}: loss {v:.4f}, time {31.5 + n % 7:.2f}ms, mfu {12.34:.2f}%")
    got = curves(parse("\n".join(lines) + "\n"))
    assert set(got) == {"loss", "train_loss", "val_loss"}
    np.testing.assert_allclose(got["loss"].values, np.round(loss, 4))
    np.testing.assert_array_equal(got["loss"].x, iters)
    np.testing.assert_allclose(got["val_loss"].values, np.round(val, 4))
    np.testing.assert_array_equal(got["val_loss"].x, evals)
    assert got["val_loss"].train_name == "train_loss"
    assert "time" not in parse("\n".join(lines) + "\n").columns
