"""Sweeps beyond one process: chunks kept on disk, --resume, shards and their merge (issue 18).

The reference is always an uninterrupted, unsharded sweep of the same config: a resumed or
merged sweep must write the same results.json, byte for byte (it holds no timing).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from lrdiag import chunks, pipeline, shards
from lrdiag import sweep as engine
from lrdiag.config import config_to_dict
from lrdiag.errors import LrdiagError
from lrdiag.files import JSON_NAME, to_json_text

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, name="tiny", **changes) -> Path:
    """A small sweep: 2 seeds x 12 learning rates x 2 batch sizes (full and 16) = 48 runs."""
    cfg = {
        "name": name,
        "data": {"kind": "moons", "n_samples": 64, "noise": 0.1, "seed": 0},
        "model": {"hidden": [8], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
        "init": {"scheme": "xavier", "scales": [1.0]},
        "training": {"optimizer": "sgd", "epochs": 30, "seeds": [0, 1], "dtype": "float64"},
        "sweep": {
            "learning_rates": {"min": 1e-3, "max": 300, "num": 12},
            "batch_size": ["full", 16],
        },
    }
    for key, value in changes.items():
        section, option = key.split("__")
        cfg[section][option] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def budget_for(config: Path, n_chunks: int) -> int:
    """A memory budget under which the grid is cut into at least ``n_chunks`` chunks."""
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    R = engine.n_runs(cfg)
    budget = engine.plan(cfg, len(ds.X), 0, (2,), 1, R, threads=1).peak_bytes
    while chunks.chunk_size(cfg, ds, R, budget) > R // n_chunks:
        budget = int(budget * 0.9)
    return budget


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The config, and its uninterrupted, unsharded sweep's results.json (bytes)."""
    tmp = tmp_path_factory.mktemp("tiny")
    config = write_config(tmp)
    pipeline.run_sweep(config, tmp / "whole", plots=False)
    return config, (tmp / "whole" / JSON_NAME).read_bytes()


def test_layout_cuts_the_grid_into_chunks_and_at_a_span():
    assert chunks.layout(100, 32) == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert chunks.layout(100, 32, 10, 70) == [(10, 32), (32, 64), (64, 70)]
    for lo, hi in [(0, 7), (3, 64), (31, 33), (99, 100)]:
        spans = chunks.layout(100, 32, lo, hi)
        covered = [i for a, b in spans for i in range(a, b)]
        assert covered == list(range(lo, hi))
        # every chunk lies inside one of the grid's chunks of 32
        assert all(a // 32 == (b - 1) // 32 for a, b in spans)


def test_chunk_size_follows_the_budget_and_not_the_machine(tmp_path, monkeypatch):
    config = write_config(tmp_path)
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    R = engine.n_runs(cfg)
    assert chunks.chunk_size(cfg, ds, R, None) == R  # 48 runs: fewer than MIN_CHUNK_RUNS
    small = budget_for(config, 4)
    size = chunks.chunk_size(cfg, ds, R, small)
    monkeypatch.setattr(engine, "default_threads", lambda: 64)
    assert chunks.chunk_size(cfg, ds, R, small) == size  # the layout ignores the cores


def test_a_chunk_file_holds_the_trained_arrays_exactly(tmp_path):
    config = write_config(
        tmp_path, model__output="identity", model__loss="mse", training__dtype="float32"
    )
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    runs = engine.expand_grid(cfg)[-10:]
    part = engine.train(cfg, ds, runs)
    back = chunks.from_bytes(chunks.to_bytes(part))
    assert np.isnan(part.loss).any(), "the largest rates should diverge: NaN must survive"
    assert part.sharpness_init is not None  # full batch, mse: sharpness at init too
    for name in ("loss", "diverged_epoch", "epochs_done", "sharpness_init"):
        assert getattr(back, name).tobytes() == getattr(part, name).tobytes()
        assert getattr(back, name).dtype == getattr(part, name).dtype
    assert back.val_loss is None and back.complete


def test_the_config_hash_names_config_and_data(tmp_path):
    def digest(**changes):
        config = write_config(tmp_path, **changes)
        cfg = pipeline.configure(config)
        return chunks.config_hash(cfg, pipeline.load_data(cfg, config))

    same = digest()
    assert digest() == same
    assert digest(training__epochs=31) != same
    assert digest(data__noise=0.2) != same  # same config shape, other data
    assert digest(data__seed=1) != same


def test_the_config_hash_is_sha256_of_the_canonical_config_then_each_array(tmp_path):
    """The layout, computed here by hand: a sweep's identity must not change between versions
    (a resume or a merge compares hashes written by an older lrdiag)."""
    config = write_config(tmp_path, data__validation_split=0.25)
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    spec = config_to_dict(cfg)
    spec["data"]["path"] = spec["init"]["path"] = None
    canonical = {"config": spec, "given": sorted(cfg.given)}
    h = hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())
    for name in ("X", "Y", "X_val", "Y_val"):
        a = getattr(ds, name)
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode() + a.tobytes())
    assert chunks.config_hash(cfg, ds) == h.hexdigest()[:24]


def test_shards_balance_the_cost_of_their_runs():
    costs = np.array([1.0] * 30 + [10.0] * 10)  # full batch, then 10x dearer mini-batch runs
    for n in (1, 2, 3, 7):
        cut = shards.edges(costs, n)
        pairs = list(zip(cut[:-1], cut[1:], strict=True))
        assert cut[0] == 0 and cut[-1] == len(costs) and all(a < b for a, b in pairs)
        share = [costs[a:b].sum() for a, b in pairs]
        # each slice within one run's cost of an equal share
        assert max(abs(s - costs.sum() / n) for s in share) <= costs.max()
    with pytest.raises(LrdiagError, match="at most 40"):
        shards.edges(costs, 41)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_a_bad_shard_is_refused(text):
    with pytest.raises(LrdiagError, match="--shard"):
        shards.parse_shard(text)


def test_three_shards_merged_equal_the_whole_sweep(tiny, tmp_path):
    config, whole = tiny
    for k in (1, 2, 3):
        doc = pipeline.run_sweep(config, tmp_path / f"s{k}", plots=False, shard=(k, 3))
        assert doc["shard"]["index"] == k and len(doc["runs"]) < 48
        assert (tmp_path / f"s{k}" / "chunks").is_dir()  # kept for the merge
    pipeline.merge([tmp_path / f"s{k}" for k in (2, 3, 1)], tmp_path / "merged", plots=False)
    assert (tmp_path / "merged" / JSON_NAME).read_bytes() == whole


def test_merge_refuses_overlapping_missing_and_mismatched_shards(tiny, tmp_path):
    config, _ = tiny
    for k in (1, 2):
        pipeline.run_sweep(config, tmp_path / f"s{k}", plots=False, shard=(k, 2))
    pipeline.run_sweep(config, tmp_path / "t1", plots=False, shard=(1, 3))
    other = write_config(tmp_path, name="other", training__epochs=31)
    pipeline.run_sweep(other, tmp_path / "o2", plots=False, shard=(2, 2))
    with pytest.raises(LrdiagError, match="a shard is missing"):
        pipeline.merge([tmp_path / "s1"])
    with pytest.raises(LrdiagError, match=r"runs 0 to \d+ are in both"):
        pipeline.merge([tmp_path / "s1", tmp_path / "s2", tmp_path / "s1"])
    with pytest.raises(LrdiagError, match=r"is shard \d/2 but .* is shard 1/3"):
        pipeline.merge([tmp_path / "s1", tmp_path / "s2", tmp_path / "t1"])
    with pytest.raises(LrdiagError, match="another config or data"):
        pipeline.merge([tmp_path / "s1", tmp_path / "o2"])
    with pytest.raises(LrdiagError, match="nothing: no such directory"):
        pipeline.merge([tmp_path / "s1", tmp_path / "nothing"])
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / JSON_NAME).write_text('{"runs": []}')
    with pytest.raises(LrdiagError, match="no config_hash"):
        pipeline.merge([tmp_path / "s1", tmp_path / "old"])
    assert not (tmp_path / "merged").exists()


SLOW_SWEEP = """
import sys, time
from lrdiag import pipeline
pipeline.run_sweep(sys.argv[1], sys.argv[2], plots=False, max_memory=int(sys.argv[3]),
                   progress=lambda n: time.sleep(0.002))
"""


def test_a_sweep_killed_midway_resumes_to_the_same_results(tiny, tmp_path):
    config, whole = tiny
    budget = budget_for(config, 6)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SWEEP, str(config), str(out), str(budget)],
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    try:
        while len(list((out / "chunks").glob("runs-*.npz"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / JSON_NAME).exists(), "killed after it finished: the test proves nothing"
    kept = set(chunks.Store.read(out).done())
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    with pytest.raises(LrdiagError, match="--resume to finish it"):  # not without --resume
        pipeline.run_sweep(config, out, plots=False, max_memory=budget)
    swept = pipeline.train_in_chunks(cfg, ds, out, max_memory=budget, resume=True)
    assert swept.outcome.reused == len(kept) >= 2
    n_chunks = len(chunks.layout(48, chunks.chunk_size(cfg, ds, 48, budget)))
    assert swept.outcome.trained == n_chunks - len(kept) > 0
    doc = pipeline.chunked_document(cfg, ds, swept)
    assert to_json_text(doc).encode() == whole
    # and through run_sweep: written, and the chunks are gone once the sweep is whole
    pipeline.run_sweep(config, out, plots=False, max_memory=budget, resume=True)
    assert (out / JSON_NAME).read_bytes() == whole
    assert not (out / "chunks").exists()


def test_resume_refuses_chunks_of_another_config(tiny, tmp_path):
    config, _ = tiny
    out = tmp_path / "out"
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    chunks.Store.open(
        out,
        chunks.manifest(cfg, ds, [], 48, chunks.config_hash(cfg, ds)),
        resume=False,
        force=False,
    )
    changed = write_config(tmp_path, name="changed", data__noise=0.3)
    with pytest.raises(LrdiagError, match="another config or data"):
        pipeline.run_sweep(changed, out, plots=False, resume=True)
    # --force starts over: the old chunks go
    pipeline.run_sweep(changed, out, plots=False, force=True)
    assert (out / JSON_NAME).exists() and not (out / "chunks").exists()


def test_the_config_hash_counts_a_data_file_by_its_content_not_its_path(tmp_path):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.6f},{b:.6f},{int(a > b)}" for a, b in rng.normal(size=(40, 2)))

    def digest(where: str, text: str) -> str:
        (tmp_path / where).mkdir(exist_ok=True)
        (tmp_path / where / "points.csv").write_text("x1,x2,label\n" + text + "\n")
        config = write_config(tmp_path / where, data__kind="file", data__path="points.csv")
        cfg = pipeline.configure(config)
        return chunks.config_hash(cfg, pipeline.load_data(cfg, config))

    here = digest("a", rows)
    assert digest("b", rows) == here  # the same file elsewhere (another checkout)
    assert digest("c", rows.replace("1\n", "0\n", 1)) != here  # one label changed
