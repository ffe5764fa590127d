"""Loss curves as columns (issue 18): a columnar file beside results.json, read back exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrdiag import curvestore, logs, pipeline
from lrdiag.errors import LrdiagError
from lrdiag.files import JSON_NAME, to_json_text
from tests.test_chunks import write_config


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A sweep with a validation split and diverging runs (NaN curves), and its document."""
    tmp = tmp_path_factory.mktemp("curves")
    config = write_config(
        tmp, data__validation_split=0.25, model__output="identity", model__loss="mse",
        training__dtype="float32",
    )  # fmt: skip
    return config, pipeline.run_sweep(config)


FORMATS = ["npz", pytest.param("parquet", marks=pytest.mark.skipif(
    not curvestore.has_pyarrow(), reason="pyarrow is not installed"))]  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_columns_hold_every_run_and_epoch_and_join_back_exactly(swept, tmp_path, fmt):
    _, doc = swept
    assert any(None in r["loss"] for r in doc["runs"]), "some runs should diverge"
    stripped, name, data = curvestore.split(doc, fmt)
    (tmp_path / name).write_bytes(data)
    assert all(r["loss"] is None and r["val_loss"] is None for r in stripped["runs"])
    assert stripped["curves"] == {"file": name, "format": fmt}
    cols = curvestore.read(tmp_path / name)
    # one row per run and epoch, checked against the document with a plain loop
    expected = [
        (r["id"], k, v, r["val_loss"][k]) for r in doc["runs"] for k, v in enumerate(r["loss"])
    ]
    assert len(cols["run"]) == len(expected)
    got = zip(cols["run"], cols["epoch"], cols["loss"], cols["val_loss"], strict=True)
    for (run, epoch, loss, val), (i, k, v, w) in zip(got, expected, strict=True):
        assert (run, epoch) == (i, k)
        assert (np.isnan(loss) and v is None) or loss == v
        assert (np.isnan(val) and w is None) or val == w
    assert to_json_text(curvestore.join(stripped, tmp_path)) == to_json_text(doc)


def test_auto_keeps_small_curves_in_json_and_moves_large_ones(swept, monkeypatch):
    _, doc = swept
    assert curvestore.choose("auto", doc) is None
    assert curvestore.choose("npz", doc) == "npz"
    monkeypatch.setattr(curvestore, "AUTO_BYTES", 1000)
    assert curvestore.choose("auto", doc) == ("parquet" if curvestore.has_pyarrow() else "npz")
    monkeypatch.setattr(curvestore, "has_pyarrow", lambda: False)
    assert curvestore.choose("auto", doc) == "npz"
    with pytest.raises(LrdiagError, match="needs pyarrow"):
        curvestore.choose("parquet", doc)


def test_classify_reads_curves_from_the_columnar_file(swept, tmp_path):
    config, doc = swept
    pipeline.run_sweep(config, tmp_path / "npz", plots=False, curves="npz")
    written = json.loads((tmp_path / "npz" / JSON_NAME).read_text())
    assert written["curves"] == {"file": "curves.npz", "format": "npz"}
    assert (tmp_path / "npz" / "curves.npz").is_file()
    pipeline.run_sweep(config, tmp_path / "json", plots=False, curves="json")
    columnar = logs.judge(logs.read_log(tmp_path / "npz"))
    inline = logs.judge(logs.read_log(tmp_path / "json"))
    assert columnar["curves"] == inline["curves"] and len(inline["curves"]) == 2 * len(doc["runs"])
    (tmp_path / "npz" / "curves.npz").unlink()
    with pytest.raises(LrdiagError, match="curves file results.json names is missing"):
        logs.read_log(tmp_path / "npz")


def test_merged_shards_write_their_curves_as_columns(swept, tmp_path):
    config, doc = swept
    for k in (1, 2):
        pipeline.run_sweep(config, tmp_path / f"s{k}", plots=False, shard=(k, 2), curves="npz")
    pipeline.merge([tmp_path / "s1", tmp_path / "s2"], tmp_path / "m", plots=False, curves="npz")
    written = json.loads((tmp_path / "m" / JSON_NAME).read_text())
    assert to_json_text(curvestore.join(written, tmp_path / "m")) == to_json_text(doc)
