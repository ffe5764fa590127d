"""lrdiag.longform: logs in long form (one value a row, its metric named in a key column), as
MLflow's metric history and TensorBoard's scalar DataFrame hold them, read as a curve a metric.
Every expected curve is the function the test wrote the file from; the formats follow the
tools' documentation: MLflow's Metric (key, value, timestamp, step; step 0 when none is
given) and its REST get-history response {"metrics": [...]}, TensorBoard's
``ExperimentFromDev.get_scalars()`` (run, tag, step, value)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lrdiag import logs
from lrdiag.cli import cli
from lrdiag.errors import InputError

STEPS = np.arange(30) * 100


def train(s):
    return 2.0 * np.exp(-s / 800.0) + 0.1


def val(s):
    return 2.2 * np.exp(-s / 800.0) + 0.3


def accuracy(s):
    return 0.5 + s / 10000.0


METRICS = {"loss": train, "accuracy": accuracy, "val_loss": val}


def mlflow_csv(*, by_key: bool, steps=STEPS) -> tuple[str, dict[tuple[str, int], int]]:
    """MLflow's metric history as CSV (key, value, step, timestamp), the rows sorted by metric
    (a history per metric, one after the other) or by step; and the line of each (key, k)."""
    lines, where = ["key,value,step,timestamp"], {}
    order = (
        [(k, i) for k in METRICS for i in range(len(steps))]
        if by_key
        else [(k, i) for i in range(len(steps)) for k in METRICS]
    )
    for k, i in order:
        s = STEPS[i]
        lines.append(f"{k},{float(METRICS[k](s))!r},{steps[i]},{1_700_000_000_000 + 1000 * i}")
        where[k, i] = len(lines)  # 1-based: the header is line 1
    return "\n".join(lines) + "\n", where


def curves(log):
    return {c.name: c for c in log.curves}


@pytest.mark.parametrize("by_key", [True, False])
def test_mlflow_history_is_a_curve_a_metric(by_key):
    text, _ = mlflow_csv(by_key=by_key)
    log = logs.parse_log(text, "history.csv")
    got = curves(log)
    assert list(got) == ["loss", "val_loss"]  # accuracy is no loss: not judged by default
    np.testing.assert_allclose(got["loss"].values, train(STEPS), rtol=1e-15)
    np.testing.assert_allclose(got["val_loss"].values, val(STEPS), rtol=1e-15)
    assert got["loss"].x_name == "step"
    np.testing.assert_array_equal(got["loss"].x, STEPS)
    assert got["val_loss"].train_name == "loss"  # lined up step by step: the same steps
    np.testing.assert_allclose(got["val_loss"].train, train(STEPS), rtol=1e-15)
    assert log.runs == 1
    assert "long form" in log.notes[0] and "'key'" in log.notes[0]
    assert log.columns == ("step", "loss", "accuracy", "val_loss")  # what --column takes


def test_without_steps_values_keep_their_order():
    """MLflow logs step 0 when none is given: no axis, each metric's values in file order."""
    text, _ = mlflow_csv(by_key=True, steps=np.zeros(len(STEPS), dtype=int))
    got = curves(logs.parse_log(text, "history.csv"))
    np.testing.assert_allclose(got["loss"].values, train(STEPS), rtol=1e-15)
    np.testing.assert_allclose(got["val_loss"].values, val(STEPS), rtol=1e-15)
    assert got["loss"].x is None  # value k is epoch k
    np.testing.assert_allclose(got["val_loss"].train, train(STEPS), rtol=1e-15)


def test_the_verdict_is_the_metrics_not_the_interleaving():
    """Read as one column, the interleaved loss, accuracy and validation loss bounce every row
    (it was judged oscillating); each metric alone falls smoothly."""
    text, _ = mlflow_csv(by_key=False)
    result = CliRunner().invoke(cli, ["classify", "-", "--json"], input=text)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(c["name"], c["verdict"], c["flags"]) for c in doc["curves"]] == [
        ("loss", "converging", []),
        ("val_loss", "converging", []),
    ]


def test_positions_name_steps_and_lines_of_the_file():
    text, where = mlflow_csv(by_key=True)
    lines = text.splitlines()
    k = 12  # a spike the loss recovers from, on the row of step 1200
    row = where["loss", k] - 1
    key, value, step, stamp = lines[row].split(",")
    lines[row] = ",".join([key, repr(float(value) * 8), step, stamp])
    got = curves(logs.parse_log("\n".join(lines) + "\n", "history.csv"))
    result = CliRunner().invoke(cli, ["classify", "-", "--json"], input="\n".join(lines) + "\n")
    doc = json.loads(result.stdout)
    reason = next(c["reason"] for c in doc["curves"] if c["name"] == "loss")
    assert f"at step {STEPS[k]}" in reason
    assert got["loss"].values[k] == pytest.approx(8 * train(STEPS[k]))
    # a value that is not a number is named by its line in the file and the file's column
    lines[row] = ",".join([key, "oops", step, stamp])
    with pytest.raises(InputError, match=rf"line {where['loss', k]}, column 'value': 'oops'"):
        logs.parse_log("\n".join(lines) + "\n", "history.csv")


def test_a_metric_logged_once_is_named_by_its_own_line():
    text, _ = mlflow_csv(by_key=True)
    text += f"test_loss,0.25,{STEPS[-1]},1700000099000\n"
    line = text.count("\n")  # the last line
    log = logs.parse_log(text, "history.csv")
    assert "test_loss" not in curves(log)
    assert any(f"'test_loss' (0.25 at line {line})" in n for n in log.notes)


def test_tensorboard_dataframe_runs_become_train_and_validation():
    """get_scalars(): the Keras TensorBoard callback's runs 'train' and 'validation', each with
    the tag 'epoch_loss'."""
    rows = ["run,tag,step,value"]
    for e in range(20):
        rows.append(f"train,epoch_loss,{e},{float(train(100.0 * e))!r}")
        rows.append(f"validation,epoch_loss,{e},{float(val(100.0 * e))!r}")
    got = curves(logs.parse_log("\n".join(rows) + "\n", "scalars.csv"))
    assert list(got) == ["train/epoch_loss", "validation/epoch_loss"]
    np.testing.assert_allclose(got["validation/epoch_loss"].values, val(100.0 * np.arange(20)))
    assert got["validation/epoch_loss"].train_name == "train/epoch_loss"
    np.testing.assert_allclose(got["validation/epoch_loss"].train, train(100.0 * np.arange(20)))


@pytest.mark.parametrize("wrap", [False, True])
def test_mlflow_json_records_and_rest_response(wrap):
    """The records of MlflowClient.get_metric_history, dumped, sorted by metric; and the REST
    API's response, which holds them under "metrics"."""
    records = [
        {
            "key": k,
            "value": float(METRICS[k](s)),
            "timestamp": 1_700_000_000_000 + int(s),
            "step": int(s),
        }
        for k in METRICS
        for s in STEPS
    ]
    text = json.dumps({"metrics": records} if wrap else records)
    text = text.replace('"loss", "value": ' + repr(float(train(STEPS[3]))), '"loss", "value": 99.0')
    log = logs.parse_log(text, "history.json")
    got = curves(log)
    expected = train(STEPS)
    expected[3] = 99.0
    np.testing.assert_allclose(got["loss"].values, expected, rtol=1e-15)
    np.testing.assert_allclose(got["val_loss"].values, val(STEPS), rtol=1e-15)
    assert got["val_loss"].x_name == "step"
    # a one-value metric is named by its own record (0-based, as jq counts)
    text = json.dumps(records + [{"key": "test_loss", "value": 0.5, "timestamp": 0, "step": 0}])
    notes = logs.parse_log(text, "history.json").notes
    assert any(f"'test_loss' (0.5 at record {len(records)})" in n for n in notes)


def test_wide_tables_are_left_alone():
    """A 'name' or 'value' column alone, or a key column of numbers, is no long form."""
    text = "epoch,loss,value\n" + "".join(f"{e},{1 / (e + 1)},{e * 2}\n" for e in range(5))
    assert not any("long form" in n for n in logs.parse_log(text, "a.csv").notes)
    text = "key,value\n" + "".join(f"{e},{1 / (e + 1)}\n" for e in range(5))
    log = logs.parse_log(text, "b.csv", columns=["value"])
    assert not any("long form" in n for n in log.notes)
    np.testing.assert_allclose(curves(log)["value"].values, 1 / np.arange(1, 6))
