"""One training step of the engine against another revision's, side by side, thread CPU time.

    python -m benchmarks.engine_step [--against main] [--only W1,W2] [--steps 60]

The step a training thread runs (``model.loss_and_grads`` on one shard of runs and the SGD
step, one BLAS thread) is timed with ``time.thread_time`` for this checkout's ``lrdiag.model``
and for ``lrdiag/model.py`` as it is at ``--against`` (read with ``git show``), alternated step
by step in one process, on the same batches: on a shared machine the thread's CPU time is
steadier than the wall clock, and alternation puts both sides in the same minute. Each side
trains its own copy of the same runs (a W1 shard: 64 runs of full batch; a W2 shard: 8 runs of
batch 128); the last step's losses are compared (equal to float32 rounding, or bit for bit
where the arithmetic did not change). Prints medians and minima per step and their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks import workloads
from lrdiag import model, optim

ROOT = Path(__file__).resolve().parent.parent
SHARD_RUNS = {"W1": 64, "W2": 8}  # the runs one of two training threads holds
WARMUP = 2  # steps left out of the statistics (buffers allocated, caches warm)


def model_at(rev: str):
    """``lrdiag/model.py`` as it is at git revision ``rev``, imported as a separate module."""
    source = subprocess.run(
        ["git", "show", f"{rev}:lrdiag/model.py"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model_at_rev.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("model_at_rev", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def side(mod, sizes, runs: int, rows: int):
    """A side's parameters (laid out as its engine trains them), optimizer state, workspace."""
    params = mod.init_params(sizes, "lecun", np.ones(runs), np.arange(runs) % 4, np.float32)
    layout = getattr(mod, "training_layout", None)
    if layout is not None:
        params = layout(params, rows)
    opt = optim.sgd()
    return mod, params, opt, opt.init(params), mod.Workspace()


def compare(name: str, other, steps: int, log) -> None:
    w = workloads.workloads([name])[0]
    cfg, ds = w.cfg, w.dataset
    X, Y = np.ascontiguousarray(ds.X, np.float32), np.ascontiguousarray(ds.Y, np.float32)
    bs, runs = cfg.training.batch_size, SHARD_RUNS[name]
    rows = bs or len(X)
    sizes = model.layer_sizes(X.shape[1], cfg.model.hidden, Y.shape[1])
    lrs = np.geomspace(1e-3, 0.1, runs).astype(np.float32)
    sides = {"this": side(model, sizes, runs, rows), "against": side(other, sizes, runs, rows)}
    times: dict[str, list[float]] = {k: [] for k in sides}
    losses = {}
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(all="ignore"):
        for _ in range(steps + WARMUP):
            idx = rng.permutation(len(X))[:bs] if bs else slice(None)
            xb, yb = np.ascontiguousarray(X[idx]), np.ascontiguousarray(Y[idx])
            for key, (mod, params, opt, state, ws) in sides.items():
                start = time.thread_time()
                losses[key], grads = mod.loss_and_grads(params, xb, yb, cfg.model, ws)
                opt.apply(params, grads, state, lrs)
                times[key].append(time.thread_time() - start)
    diff = np.max(np.abs(losses["this"] / losses["against"] - 1))
    ms = {k: np.array(v[WARMUP:]) * 1e3 for k, v in times.items()}
    for k, v in ms.items():
        log(f"{name} {k:8} median {np.median(v):8.2f} ms  min {v.min():8.2f} ms  ({runs} runs)")
    ratio = np.median(ms["this"]) / np.median(ms["against"])
    log(f"{name} this / against: {ratio:.3f} (median), last losses max rel diff {diff:.1e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default="main", help="git revision of lrdiag/model.py")
    ap.add_argument("--only", default="W1,W2", help="comma-separated: W1, W2")
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args(argv)
    other = model_at(args.against)
    for name in args.only.split(","):
        compare(name, other, args.steps, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
