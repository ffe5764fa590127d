"""``make bench-peers``: lrdiag's engine, the NumPy loop, PyTorch and JAX on the same workloads.

    python -m benchmarks.peers.run [--quick] [--only W1,W2,W5] [--reps 3] [--budget 60]
                                   [--out benchmarks/results/peers.json]

Every framework that imports is timed in this one process, in alternation, ``--reps`` times
(medians reported), training time only (JAX: the compiled call, compilation excluded). The
vectorised sides always train every run; a per-run loop whose full run would take longer than
``--budget`` seconds over all reps trains an evenly spaced subset of the runs and is
extrapolated per run (marked ``*``). Each side's final losses
are compared with the engine's on stable runs, with the tolerances of ``make bench``
(benchmarks.run.compare): other frameworks sum in other orders, so agreement is to float32
rounding as training amplifies it.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import workloads
from benchmarks.run import compare, median, run_loop, subset_indices
from lrdiag import sweep

OUT = Path(__file__).resolve().parent.parent / "results" / "peers.json"


def _engine(cfg, ds, runs):
    res = sweep.train(cfg, ds, runs)
    return res.loss, res.seconds


def _numpy_loop(cfg, ds, runs):
    res = run_loop(cfg, ds, runs, None)
    return res.loss, res.seconds


def _torch(name, **kwargs):
    def load():
        impl = importlib.import_module("benchmarks.peers.torch_impl")
        return functools.partial(getattr(impl, name), **kwargs)

    return load


def _jax():
    impl = importlib.import_module("benchmarks.peers.jax_impl")
    cache = {}
    compile_seconds = {}  # id(cfg) -> seconds of the last compilation (reported apart)

    def train(cfg, ds, runs):
        key = (id(cfg), tuple(r.id for r in runs))
        if key not in cache:  # compile once per (workload, runs): not in the training time
            t = time.perf_counter()
            cache[key] = impl.prepare(cfg, ds, runs)
            compile_seconds[id(cfg)] = time.perf_counter() - t
        t = time.perf_counter()
        losses = cache[key]()
        return losses, time.perf_counter() - t

    train.compile_seconds = compile_seconds  # type: ignore[attr-defined]
    return train


# --------------------------------------------------------------------------- whole process
# Issue 19: what a user waits for. ``lrdiag sweep W.yaml --no-plots --quiet`` as a child
# process (benchmarks.whole), timed from start to exit in alternation with the other sides;
# its losses are read back from results.json and checked like the others'.


def _process():
    from benchmarks import whole

    written = {}  # id(cfg) -> whole.Process: the workload's .npz and config, written once

    def train(cfg, ds, runs):
        if len(runs) != whole.n_runs(cfg):
            raise ValueError("the whole process trains every run of the workload")
        if id(cfg) not in written:
            written[id(cfg)] = whole.Process(cfg, ds, "workload")
        return written[id(cfg)].run()

    return train


def whole_table(results) -> str:
    """Issue 19's table: JAX's training time against lrdiag's whole process."""
    lines = [
        "whole process: `lrdiag sweep W.yaml --no-plots --quiet` from start to exit",
        f"{'':5}{'JAX training':>14}{'lrdiag process':>16}{'JAX / process':>15}"
        f"{'lrdiag training':>17}",
    ]
    for r in results["workloads"]:
        jax, proc = r["sides"].get("jax vmap+jit"), r["sides"].get(PROCESS)
        eng = r["sides"].get("lrdiag engine")
        if not (jax and proc and eng):
            continue
        ratio = jax["seconds"] / proc["seconds"]
        lines.append(
            f"{r['workload']:5}{jax['seconds']:13.2f}s{proc['seconds']:15.2f}s"
            f"{ratio:14.2f}x{eng['seconds']:16.2f}s"
        )
    lines.append("seconds, medians of the same reps; JAX: compiled call, compilation excluded")
    return "\n".join(lines)


PROCESS = "lrdiag process"

# side -> loader of train(cfg, dataset, runs) -> (losses (R, E+1), seconds)
SIDES = {
    "lrdiag engine": lambda: _engine,
    PROCESS: _process,
    "numpy loop": lambda: _numpy_loop,
    "torch loop": _torch("train_loop"),
    "torch loop 1 thread": _torch("train_loop", threads=1),
    "torch.func vmap": _torch("train_vmap"),
    "jax vmap+jit": _jax,
}


# the sides that may be subsampled (cost is per run)
PER_RUN = ("numpy loop", "torch loop", "torch loop 1 thread")
# (workload, side) left out, and why
SKIP = {
    ("W5", "torch.func vmap"): "vmap over nn.Conv2d with per-run weights: 36x the engine's time "
    "at W5's --quick size, so its reps at the full size would take half an hour",
}


def load_sides(log) -> dict:
    sides = {}
    for name, loader in SIDES.items():
        try:
            sides[name] = loader()
        except ImportError as e:
            log(f"skipping {name}: {e}")
    return sides


def time_workload(w, sides, reps, budget, log) -> dict:
    cfg, ds = w.cfg, w.dataset
    runs = sweep.expand_grid(cfg)
    R = len(runs)
    load_start = os.getloadavg()  # (1, 5, 15 minutes), as uptime prints them
    chosen = {}
    for name in [n for n in sides if (w.name, n) in SKIP]:
        log(f"  {w.name}: skipping {name}: {SKIP[w.name, name]}")
    sides = {n: train for n, train in sides.items() if (w.name, n) not in SKIP}
    for name, train in sides.items():
        if name not in PER_RUN:  # vectorised sides always train every run
            chosen[name] = np.arange(R)
            continue
        _, probe = train(cfg, ds, [runs[R // 2]])  # also compiles JAX for one run (not used)
        _, probe = train(cfg, ds, [runs[R // 2]])
        n = R if probe * R * reps <= budget else max(2, int(budget / (probe * reps)))
        chosen[name] = subset_indices(R, n)
        log(f"  {w.name} {name}: {probe:.3f} s per run; trains {len(chosen[name])} of {R}")
    times = {name: [] for name in sides}
    losses = {}
    for rep in range(reps):
        for name, train in sides.items():
            losses[name], t = train(cfg, ds, [runs[i] for i in chosen[name]])
            times[name].append(t)
        log(
            f"  {w.name} rep {rep + 1}: "
            + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
        )
    out = {"workload": w.name, "title": w.title, "n_runs": R, "sides": {}}
    out["load_average"] = {"start": load_start, "end": os.getloadavg()}
    ref = losses.get("lrdiag engine")
    for name in sides:
        sub = chosen[name]
        t = median(times[name]) * R / len(sub)
        entry = {"seconds": t, "measured": times[name], "runs_timed": int(len(sub))}
        entry["extrapolated"] = len(sub) < R
        compiled = getattr(sides[name], "compile_seconds", {})
        if id(cfg) in compiled:
            entry["compile_seconds"] = compiled[id(cfg)]
        if ref is not None and name != "lrdiag engine":
            entry["check"] = compare(ref[sub], losses[name])
        out["sides"][name] = entry
    return out


COLUMN = 21  # characters per side in the table


def table(results) -> str:
    names = list(results["sides"])
    w = COLUMN
    lines = [f"{'':5}" + "".join(f"{n:>{w}}" for n in names)]
    for r in results["workloads"]:
        cells = []
        for n in names:
            s = r["sides"].get(n)
            cells.append(
                f"{'-':>{w}}"
                if s is None
                else f"{s['seconds']:{w - 2}.2f}{'*' if s['extrapolated'] else ' '} "
            )
        lines.append(f"{r['workload']:5}" + "".join(cells))
        eng = r["sides"].get("lrdiag engine")
        if eng:
            ratio = "".join(
                f"{r['sides'][n]['seconds'] / eng['seconds']:{w - 1}.2f}x"
                if n in r["sides"]
                else f"{'-':>{w}}"
                for n in names
            )
            lines.append(f"{'  x':5}{ratio}   (time / engine time)")
    lines.append(
        "seconds, training only (lrdiag process: the whole command), medians; "
        "* extrapolated per run from a subset"
    )
    for r in results["workloads"]:
        for n, s in r["sides"].items():
            if "compile_seconds" in s:
                lines.append(
                    f"{r['workload']} {n}: compilation {s['compile_seconds']:.2f} s (apart)"
                )
        start, end = (", ".join(f"{x:.2f}" for x in r["load_average"][k]) for k in ("start", "end"))
        lines.append(f"{r['workload']} load average (1, 5, 15 min): start {start}; end {end}")
    for r in results["workloads"]:
        for n, s in r["sides"].items():
            if "check" in s:
                c = s["check"]
                verdict = "OK" if c["ok"] else "MISMATCH"
                if not c["stable_runs"]:  # nothing compared: say so rather than OK
                    lines.append(
                        f"{r['workload']} {n}: no stable run among the {s['runs_timed']} trained: "
                        "losses not compared"
                    )
                    continue
                lines.append(
                    f"{r['workload']} {n}: final loss vs engine on {c['stable_runs']} stable runs: "
                    f"max rel diff {c['max_rel_diff_final_loss']:.1e} ({verdict})"
                )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.peers.run")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    ap.add_argument("--only", default="W1,W2,W5", help="comma-separated workloads")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per side over all reps")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    sides = load_sides(log)
    versions = {"numpy": np.__version__}
    for mod in ("torch", "jax"):
        if mod in sys.modules:
            versions[mod] = sys.modules[mod].__version__
    names = tuple(n.strip() for n in args.only.split(",") if n.strip())
    results = {"versions": versions, "quick": args.quick, "sides": list(sides), "workloads": []}
    for w in workloads.workloads(names, quick=args.quick):
        log(f"{w.name}: {w.title}")
        results["workloads"].append(time_workload(w, sides, args.reps, args.budget, log))
    results["sides"] = {n: True for n in sides}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))
    print(table(results))
    print()
    print(whole_table(results))
    print(f"\nwritten: {args.out}")
    bad = [
        f"{r['workload']} {n}"
        for r in results["workloads"]
        for n, s in r["sides"].items()
        if not s.get("check", {"ok": True})["ok"]
    ]
    if bad:
        print(f"MISMATCH with the engine: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
