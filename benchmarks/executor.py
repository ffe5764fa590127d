"""``make bench`` (part 2): the Dask executor against the in-process engine, on the same cores.

    python -m benchmarks.executor [--quick] [--workers 2] [--out benchmarks/results/executor.json]

A 4,096-run sweep (moons, a 2-32-1 tanh MLP, full batch, 64 learning rates x 8 init scales x
8 seeds) is trained both ways, alternated ``--reps`` times (medians reported):

1. in process: ``pipeline.train_in_chunks`` without a scheduler (chunk after chunk, each on
   every core), the wall clock of training and each chunk's own time;
2. on ``local:N``: the same chunks on a LocalCluster of N worker processes (one task at a
   time each, the cores shared out), the wall clock with and without the cluster's start and
   close (``Outcome.startup_seconds``);
3. what moves: the pickled dataset (sent once to each worker) and each chunk's pickled
   ``TrainResult`` (sent back), in bytes.

The executor's overhead is (local - in process) / in process, both measured here, side by
side. From the per-chunk times and transfer sizes it also prints the wall clock one would
expect on M machines of the same speed (docs/performance.md explains the model): the chunks
spread over the machines, each result crossing a network of ``--bandwidth`` bytes/s.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np

from lrdiag import chunks, pipeline
from lrdiag import sweep as engine
from lrdiag.config import config_from_dict

RESULTS = Path(__file__).resolve().parent / "results" / "executor.json"
BANDWIDTH = 125e6  # bytes/s: a 1 Gbit/s network, for the expected scaling
MACHINES = (1, 2, 4, 8, 16, 32)


def median(xs) -> float:
    return float(np.median(np.asarray(xs, dtype=float)))


def bench_config(quick: bool):
    n_lrs, scales, seeds = (16, 4, 4) if quick else (64, 8, 8)  # 256 or 4,096 runs
    return config_from_dict(
        {
            "name": "bench-executor",
            "data": {"kind": "moons", "n_samples": 256, "noise": 0.1, "seed": 0},
            "model": {"hidden": [32], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
            "init": {"scheme": "xavier", "scales": list(np.geomspace(0.25, 4, scales))},
            "training": {
                "optimizer": "sgd",
                "batch_size": "full",
                "epochs": 100 if quick else 200,
                "seeds": list(range(seeds)),
                "dtype": "float32",
            },
            "sweep": {"learning_rates": {"min": 1e-3, "max": 1e3, "num": n_lrs}},
            "stability": {"sharpness": "off"},
        }
    )


def expected_seconds(chunk_seconds, result_bytes, data_bytes, machines, bandwidth, judge):
    """Wall clock on ``machines`` machines: chunks dealt longest first to the least loaded
    machine, each result's transfer queued at the client, the dataset sent once to each, and
    the client's judging after the last chunk."""
    loads = np.zeros(machines)
    for t in sorted(chunk_seconds, reverse=True):
        loads[np.argmin(loads)] += t
    transfer = sum(result_bytes) / bandwidth + machines * data_bytes / bandwidth
    return float(max(loads.max(), transfer) + judge)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 runs, 100 epochs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3, help="alternated reps (medians)")
    parser.add_argument("--bandwidth", type=float, default=BANDWIDTH)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cfg = bench_config(args.quick)
    ds = pipeline.load_data(cfg)
    R = engine.n_runs(cfg)
    spans = chunks.layout(R, chunks.chunk_size(cfg, ds, R, None))
    runs = engine.expand_grid(cfg)
    print(f"{R:,} runs x {cfg.training.epochs} epochs in {len(spans)} chunks; "
          f"{engine.default_threads()} cores")  # fmt: skip

    # 1. and 2., alternated: in process chunk by chunk (each chunk's own time too), then
    # local:N (its cluster's start and close timed apart)
    local = f"local:{args.workers}"
    inproc, dask_wall, dask_started, chunk_times = [], [], [], []
    same = True
    doc = judge = None
    for _ in range(args.reps):
        start = time.perf_counter()
        parts = []
        for lo, hi in spans:
            t = time.perf_counter()
            part = engine.train(cfg, ds, runs[lo:hi])
            parts.append((lo, hi, part, time.perf_counter() - t))
        inproc.append(time.perf_counter() - start)
        chunk_times.append([p[3] for p in parts])
        if doc is None:
            t = time.perf_counter()
            reference = chunks.assemble(R, cfg.training.epochs, False, [p[:3] for p in parts])
            doc = pipeline.judge(cfg, ds, runs, reference)
            judge = time.perf_counter() - t
        start = time.perf_counter()
        swept = pipeline.train_in_chunks(cfg, ds, None, scheduler=local)
        dask_wall.append(time.perf_counter() - start)
        dask_started.append(dask_wall[-1] - swept.outcome.startup_seconds)
        same = same and pipeline.judge(cfg, ds, runs, swept.outcome.result) == doc
    in_process, with_start, started = median(inproc), median(dask_wall), median(dask_started)
    chunk_seconds = list(np.median(np.array(chunk_times), axis=0))
    assert judge is not None

    # 3. what moves
    data_bytes = len(pickle.dumps(ds, protocol=5))
    result_bytes = [len(pickle.dumps(p[2], protocol=5)) for p in parts]
    one_core = sum(chunk_seconds)  # the chunks trained on every core of this machine
    expected = {
        m: expected_seconds(chunk_seconds, result_bytes, data_bytes, m, args.bandwidth, judge)
        for m in MACHINES
    }
    report = {
        "runs": R,
        "epochs": cfg.training.epochs,
        "chunks": len(spans),
        "workers": args.workers,
        "reps": args.reps,
        "in_process_all": inproc,
        "local_all": dask_wall,
        "cores": engine.default_threads(),
        "in_process_seconds": in_process,
        "local_seconds_with_start": with_start,
        "local_seconds_started": started,
        "overhead_with_start": with_start / in_process - 1,
        "overhead_started": started / in_process - 1,
        "same_results": same,
        "judge_seconds": judge,
        "sweep_seconds_in_process": in_process + judge,
        "chunk_seconds_median": float(np.median(chunk_seconds)),
        "chunk_seconds_sum": one_core,
        "data_bytes": data_bytes,
        "result_bytes_median": int(np.median(result_bytes)),
        "result_bytes_sum": int(sum(result_bytes)),
        "bandwidth": args.bandwidth,
        "expected_seconds": expected,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"in process            {in_process:8.2f} s")
    print(f"{local} (with start)  {with_start:8.2f} s  "
          f"overhead {report['overhead_with_start']:+.1%}")  # fmt: skip
    print(f"{local} (started)     {started:8.2f} s  "
          f"overhead {report['overhead_started']:+.1%}")  # fmt: skip
    print(f"same results: {same}; judging {judge:.2f} s")
    print(f"per chunk: {report['chunk_seconds_median']:.3f} s, result "
          f"{report['result_bytes_median']:,} bytes; dataset {data_bytes:,} bytes")  # fmt: skip
    whole = in_process + judge  # the sweep on this machine: training, then judging
    print(f"the sweep here: {whole:.2f} s (training {in_process:.2f} s, judging {judge:.2f} s)")
    for m, s in expected.items():
        print(f"expected on {m:2d} machine(s): {s:8.2f} s  (x{whole / s:.1f})")
    print(f"written to {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
