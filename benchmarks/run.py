"""``make bench``: the sweep engine against the plain per-run NumPy loop, side by side.

    python -m benchmarks.run [--quick] [--only W1,W3] [--reps 3] [--loop-budget 90]
                             [--no-memory] [--out benchmarks/results/latest.json]

What it does, all in one process (so both sides see the same machine at the same moment):

1. NumPy's matmul peak: a square float32 and float64 GEMM big enough to use every core
   (median of 3), in GFLOP/s, measured before every workload and at the end; the best is the
   peak (on a busy machine a single measurement understates it).
2. For each workload (benchmarks/workloads.py): the engine (``lrdiag.sweep.train``, training time
   only) and the loop (benchmarks/loop.py) in alternation, ``--reps`` times each, medians
   reported. The loop runs twice per rep: with NumPy's BLAS as installed (what a user gets) and
   limited to one thread (OpenBLAS's spinning threads collapse on a busy machine, and the
   engine itself trains with a one-thread BLAS); the speedup is against the faster of the two.
   When the loop would take longer than ``--loop-budget`` seconds over all reps, it trains an
   evenly spaced subset of the runs and its time is extrapolated per run-epoch trained (the
   table marks it and says from how many runs).
3. Correctness: the loop's final losses must equal the engine's, run for run, to float32
   rounding on the stable runs (finite in both, loss never rising by more than
   ``STABLE_RISE``): each within LOSS_RTOL, their median within MEDIAN_RTOL; otherwise the
   benchmark fails (exit 1), so a fast but wrong engine cannot win.
4. FLOPs: the exact count of the matrix products training needs, per applied update and run:
   forward 2*B*in*out per layer; backward 2*B*in*out per layer for dW plus 2*B*in*out for the
   input gradient of every layer except the first. Bias terms, element-wise work and the
   loss-only evaluations (the last full-batch epoch, epoch 0 of mini-batch) are not counted.
   Runs that diverged count only the updates they applied.
5. Memory: peak RSS of this process and, per workload, a fresh child process that trains the
   same grid for a few epochs (memory per step does not depend on the number of epochs): its
   RSS before training, its peak RSS (VmHWM; ru_maxrss would report the parent's peak, which a
   spawned child inherits through fork and exec), and tracemalloc's peak of the
   bytes allocated during training (NumPy reports its array buffers to tracemalloc), which is
   the engine's working set free of interpreter and library overhead.
6. The memory check: a 1,024-run W1-shaped sweep of 20 epochs trained unchunked and under
   ``max_memory`` of 256 MB (the issue's budget) and 64 MB (several chunks), each in a fresh
   child: peak RSS against the budget, and the chunked losses and verdicts equal to the
   unchunked ones.

Results go to benchmarks/results/latest.json and a table is printed. Timings on a shared
machine are noisy: compare ratios measured in the same run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import lrdiag
from benchmarks import conv_loop, loop, workloads
from lrdiag import model, sweep

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
GEMM_SIZE = 2048  # square GEMM for the peak: ~17 GFLOP, long enough to keep both cores busy
STABLE_RISE = 1e-3  # a run is "stable" if its loss never rises by more than this (relative)
# Final losses of stable runs, engine vs loop, float32. Arithmetic done in another order (a bias
# folded into a product, a fused derivative) changes the rounding, and a run escaping a plateau
# amplifies it: 2.4e-4 measured after 200 steps of W1 on a monotone curve. A wrong gradient or
# a mixed-up run is off by orders of magnitude more, on most runs.
LOSS_RTOL = 1e-3  # every stable run
MEDIAN_RTOL = 1e-5  # the median over stable runs (rounding alone: ~1e-7)
MIN_LOOP_RUNS = 4  # the loop trains at least this many runs (timing and the loss check)
MEMORY_EPOCHS = 3  # epochs of the memory children (full batch; mini-batch runs 1 epoch)
# 1,024 runs under the 256 MB, and under a budget small enough to need several chunks
# (the engine's activations are per block of runs, so 256 MB holds all 1,024 runs at once)
MEM_CHECK = {"n_lrs": 256, "epochs": 20, "budgets": (256 * 10**6, 64 * 10**6)}
MEM_CHECK_QUICK = {"n_lrs": 32, "epochs": 3, "budgets": (32 * 10**6, 26 * 10**6)}  # 128 runs


# --------------------------------------------------------------------------- small helpers


def median(xs):
    return float(np.median(np.asarray(xs, dtype=float)))


def _proc_status(field: str) -> int:
    """A ``kB`` field of /proc/self/status in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_now() -> int:
    """Resident set size of this process now, bytes (VmRSS)."""
    return _proc_status("VmRSS")


def rss_peak() -> int:
    """Peak resident set size of this process, bytes: VmHWM, which starts afresh at exec, unlike
    ru_maxrss, which a spawned child inherits from its parent (the fallback off Linux)."""
    peak = _proc_status("VmHWM")
    if peak:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.0f} MB"


# --------------------------------------------------------------------------- GEMM peak


def gemm_peak(n: int = GEMM_SIZE, reps: int = 3) -> dict:
    """Median GFLOP/s of an (n, n) @ (n, n) matmul into a preallocated output, per dtype."""
    out = {}
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        c = np.empty((n, n), dtype=dtype)
        np.matmul(a, b, out=c)  # warm-up: threads started, pages touched
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            np.matmul(a, b, out=c)
            times.append(time.perf_counter() - t)
        out[dtype] = 2 * n**3 / median(times) / 1e9
    return out


# --------------------------------------------------------------------------- FLOPs


def flops_per_update(sizes, batch: int) -> int:
    """Exact FLOPs of the matrix products of one training step of one run on ``batch`` rows."""
    layers = list(zip(sizes[:-1], sizes[1:], strict=True))
    fwd = sum(2 * batch * i * o for i, o in layers)
    dW = fwd
    dX = sum(2 * batch * i * o for i, o in layers[1:])  # no input gradient for the first layer
    return fwd + dW + dX


def conv_flops_per_sample(net) -> int:
    """A conv net's products per sample and update: a layer's forward product is 2 * out * K
    per output position (K = C*k*k for a kernel, ``in`` for a dense layer); dW costs the same,
    and the input gradient the same again for every layer but the first."""
    total = 0
    for n, layer in enumerate(net.param_layers):
        positions = int(np.prod(layer.out_shape[1:])) if layer.kind == "conv2d" else 1
        fan_in = layer.fans[0]
        fwd = 2 * layer.out_shape[0] * fan_in * positions
        total += fwd * (3 if n else 2)
    return total


def training_flops(cfg, dataset, diverged_epoch: np.ndarray) -> dict:
    """FLOPs of the updates every run applied (a run diverged at epoch d applied d epochs'
    worth for full batch; for mini-batch its diverging epoch is counted whole: an upper bound)."""
    n, d = dataset.X.shape
    E = cfg.training.epochs
    bs = cfg.training.batch_size
    batches = [n] if bs is None else [min(bs, n - s) for s in range(0, n, bs)]
    if cfg.model.layers is not None:
        per_sample = conv_flops_per_sample(sweep.architecture(cfg, sweep.input_shape(dataset),
                                                              dataset.Y.shape[1]))  # fmt: skip
        per_epoch = per_sample * n
    else:
        sizes = model.layer_sizes(d, cfg.model.hidden, dataset.Y.shape[1])
        per_epoch = sum(flops_per_update(sizes, b) for b in batches)
    epochs = np.where(diverged_epoch < 0, E, diverged_epoch).astype(np.int64)
    run_epochs = int(epochs.sum())
    return {
        "flops_per_run_epoch": per_epoch,
        "run_epochs": run_epochs,
        "flops": per_epoch * run_epochs,
        "nominal_flops": per_epoch * E * len(diverged_epoch),
    }


# --------------------------------------------------------------------------- correctness


def stable_rows(curves: np.ndarray) -> np.ndarray:
    """(R,) True where the curve is finite throughout and never rises by more than STABLE_RISE."""
    finite = np.isfinite(curves).all(axis=1)
    with np.errstate(invalid="ignore"):
        rise = np.diff(curves, axis=1) / np.abs(curves[:, :-1])
    return finite & ~(np.nan_to_num(rise, nan=np.inf) > STABLE_RISE).any(axis=1)


def compare(engine_loss: np.ndarray, loop_loss: np.ndarray) -> dict:
    """Final losses of the rows both trained, on the runs stable in both: every one within
    LOSS_RTOL and their median within MEDIAN_RTOL (relative)."""
    stable = stable_rows(engine_loss) & stable_rows(loop_loss)
    e, lo = engine_loss[stable, -1], loop_loss[stable, -1]
    rel = np.abs(e - lo) / np.maximum(np.abs(lo), 1e-30)
    worst = float(rel.max()) if rel.size else 0.0
    typical = float(np.median(rel)) if rel.size else 0.0
    same_nan = bool(np.array_equal(np.isnan(engine_loss), np.isnan(loop_loss)))
    return {
        "compared_runs": int(len(engine_loss)),
        "stable_runs": int(stable.sum()),
        "max_rel_diff_final_loss": worst,
        "median_rel_diff_final_loss": typical,
        "same_divergence_pattern": same_nan,
        "ok": worst <= LOSS_RTOL and typical <= MEDIAN_RTOL,
    }


# --------------------------------------------------------------------------- timing


def subset_indices(n_runs: int, n_sub: int) -> np.ndarray:
    """``n_sub`` evenly spaced run indices, both ends included (covers every grid axis)."""
    if n_sub >= n_runs:
        return np.arange(n_runs)
    return np.unique(np.linspace(0, n_runs - 1, n_sub).round().astype(int))


LOOP_BLAS = {"default": None, "1 thread": 1}  # the loop under each BLAS thread setting


def loop_for(cfg):
    """The per-run loop for the workload: benchmarks/conv_loop.py for conv nets (W5)."""
    return conv_loop if cfg.model.layers is not None else loop


def run_loop(cfg, ds, runs, blas_threads):
    """The loop with NumPy's BLAS as installed (None) or limited to ``blas_threads`` threads."""
    if blas_threads is None:
        return loop_for(cfg).train_runs(cfg, ds, runs)
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return loop_for(cfg).train_runs(cfg, ds, runs)


def time_workload(w, reps: int, loop_budget: float, log) -> dict:
    cfg, ds = w.cfg, w.dataset
    runs = sweep.expand_grid(cfg)
    R, E = len(runs), cfg.training.epochs

    # Probe: one mid-grid run of each loop variant decides whether the loop trains every run.
    per_run = sum(run_loop(cfg, ds, [runs[R // 2]], t).seconds for t in LOOP_BLAS.values())
    n_sub = R if per_run * R * reps <= loop_budget else int(loop_budget / (per_run * reps))
    n_sub = min(R, max(MIN_LOOP_RUNS, n_sub))
    sub = subset_indices(R, n_sub)
    sub_runs = [runs[i] for i in sub]
    log(f"  {w.name}: loop probe {per_run:.3f} s/run (both variants); {len(sub)} of {R} runs")

    eng_times, loop_times = [], {k: [] for k in LOOP_BLAS}
    eng, lps = None, {}
    for rep in range(reps):  # interleaved, so the machine's mood hits every side alike
        eng = sweep.train(cfg, ds, runs)
        eng_times.append(eng.seconds)
        for k, t in LOOP_BLAS.items():
            lps[k] = run_loop(cfg, ds, sub_runs, t)
            loop_times[k].append(lps[k].seconds)
        shown = ", ".join(f"loop/BLAS {k} {v[-1]:.2f} s" for k, v in loop_times.items())
        log(f"  {w.name} rep {rep + 1}/{reps}: engine {eng.seconds:.2f} s, {shown}")

    t_eng = median(eng_times)
    fl = training_flops(cfg, ds, eng.diverged_epoch)
    extrapolated = len(sub) < R
    loops = {}
    for k, lp in lps.items():
        sub_epochs = int(np.where(lp.diverged_epoch < 0, E, lp.diverged_epoch).sum())
        t_sub = median(loop_times[k])
        # Per run-epoch trained (a diverged run stops early in both); with every run: exact.
        t = t_sub * fl["run_epochs"] / max(sub_epochs, 1) if extrapolated else t_sub
        loops[k] = {
            "seconds": t,
            "measured": loop_times[k],
            "check": compare(eng.loss[sub], lp.loss),
        }
    best = min(loops, key=lambda k: loops[k]["seconds"])
    t_loop = loops[best]["seconds"]
    checks = [v["check"] for v in loops.values()]
    check = max(checks, key=lambda c: c["max_rel_diff_final_loss"])
    return {
        "workload": w.name,
        "title": w.title,
        "bound": w.bound,
        "n_runs": R,
        "epochs": E,
        "diverged_runs": int((eng.diverged_epoch >= 0).sum()),
        "engine_seconds": t_eng,
        "engine_seconds_all": eng_times,
        "loop": loops,
        "loop_best": best,
        "loop_seconds": t_loop,
        "loop_runs_timed": int(len(sub)),
        "loop_extrapolated": extrapolated,
        "speedup": t_loop / t_eng,
        **fl,
        "engine_gflops": fl["flops"] / t_eng / 1e9,
        "loop_gflops": fl["flops"] / t_loop / 1e9,
        "check": check,
        "dtype": cfg.training.dtype,
    }


# --------------------------------------------------------------------------- memory (children)


def _child_train(spec: dict, side: str, max_memory, queue) -> None:
    """In a fresh process: build the workload, train it, report memory (and losses)."""
    w = workloads.build(spec)
    runs = sweep.expand_grid(w.cfg)
    base = rss_now()
    tracemalloc.start()
    t = time.perf_counter()
    if side == "engine":
        res = sweep.train(w.cfg, w.dataset, runs, max_memory=max_memory)
    else:
        res = loop_for(w.cfg).train_runs(w.cfg, w.dataset, runs)
    seconds = time.perf_counter() - t
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out = {
        "rss_before": base,
        "rss_peak": rss_peak(),
        "traced_peak": traced_peak,
        "seconds_traced": seconds,  # with tracemalloc on: not a timing figure
        "loss": res.loss.tolist(),
        "diverged_epoch": res.diverged_epoch.tolist(),
    }
    if side == "engine":
        p = sweep.plan(
            w.cfg, len(w.dataset.X), 0, sweep.input_shape(w.dataset), w.dataset.Y.shape[1],
            len(runs), max_memory,
        )  # fmt: skip
        out["plan"] = {"chunk_size": p.chunk_size, "n_chunks": p.n_chunks,
                       "bytes_per_run": p.bytes_per_run, "peak_bytes": p.peak_bytes}  # fmt: skip
    queue.put(out)


def in_child(spec: dict, side: str, max_memory=None) -> dict:
    ctx = mp.get_context("spawn")  # a clean interpreter: nothing inherited, honest RSS
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_train, args=(spec, side, max_memory, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def memory_spec(w) -> dict:
    spec = json.loads(json.dumps(w.spec))
    spec["training"]["epochs"] = 1 if w.cfg.training.batch_size else MEMORY_EPOCHS
    return spec


def workload_memory(w) -> dict:
    spec = memory_spec(w)
    out = {}
    for side in ("engine", "loop"):
        r = in_child(spec, side)
        out[side] = {k: r[k] for k in ("rss_before", "rss_peak", "traced_peak")}
        if "plan" in r:
            out[side]["plan"] = r["plan"]
    out["epochs"] = spec["training"]["epochs"]
    return out


def verdicts(spec: dict, loss: np.ndarray):
    """The verdict of every curve, or None while lrdiag.classify has no classify yet."""
    try:
        from lrdiag.classify import classify

        cfg = workloads.build(spec).cfg
        return [classify(c, cfg.classify, n_classes=2, loss_name=cfg.model.loss).verdict
                for c in loss]  # fmt: skip
    except (ImportError, NotImplementedError):
        return None


def memory_check(quick: bool, log) -> dict:
    p = MEM_CHECK_QUICK if quick else MEM_CHECK
    spec = workloads.memory_check_spec(n_lrs=p["n_lrs"], epochs=p["epochs"])
    budgets = ", ".join(mb(b) for b in p["budgets"])
    log(f"  memory check: {4 * p['n_lrs']} runs x {p['epochs']} epochs, budgets {budgets}")
    whole = in_child(spec, "engine", 1 << 50)
    b = np.asarray(whole.pop("loss"))
    whole.pop("diverged_epoch")
    whole["training_rss"] = whole["rss_peak"] - whole["rss_before"]
    vb = verdicts(spec, b)
    checks = []
    for budget in p["budgets"]:
        chunked = in_child(spec, "engine", budget)
        a = np.asarray(chunked.pop("loss"))
        chunked.pop("diverged_epoch")
        chunked["training_rss"] = chunked["rss_peak"] - chunked["rss_before"]
        finite = np.isfinite(a) & np.isfinite(b)
        rel = np.abs(a - b)[finite] / np.maximum(np.abs(b[finite]), 1e-30)
        va = verdicts(spec, a)
        checks.append(
            {
                "budget": budget,
                "chunked": chunked,
                "max_rel_diff_loss": float(rel.max()) if rel.size else 0.0,
                "same_nan_pattern": bool(np.array_equal(np.isnan(a), np.isnan(b))),
                "same_verdicts": None if va is None else va == vb,
                "within_budget": chunked["traced_peak"] <= 1.25 * budget,
            }
        )
    return {"n_runs": 4 * p["n_lrs"], "epochs": p["epochs"], "unchunked": whole, "checks": checks}


# --------------------------------------------------------------------------- sharpness (hook)


def time_sharpness(w) -> dict | None:
    """The cost of the sharpness estimate, timed on its own (never inside the training figures):
    ``lrdiag.stability.sharpness`` on every run's initial weights and the subset of training
    rows the sweep uses (its ``sharpness at init``). None while lrdiag.stability does not
    exist."""
    try:
        from lrdiag import stability
    except ImportError:
        return None
    cfg, ds = w.cfg, w.dataset
    if cfg.model.layers is not None:  # W5 trains mini-batch: no sharpness (stability: auto)
        return None
    runs = sweep.expand_grid(cfg)
    dtype = np.dtype(cfg.training.dtype)
    sizes = model.layer_sizes(ds.X.shape[1], cfg.model.hidden, ds.Y.shape[1])
    params = model.init_params(
        sizes, cfg.init.scheme, [r.init_scale for r in runs], [r.seed for r in runs], dtype
    )
    samples = getattr(getattr(cfg, "stability", None), "samples", stability.DEFAULT_SAMPLES)
    X, Y = stability.subset(ds.X, ds.Y, samples, seed=cfg.data.seed)  # as the sweep does
    t = time.perf_counter()
    lam = stability.sharpness(params, X, Y, cfg.model)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "runs": len(runs),
        "samples": len(X),
        "finite": int(np.isfinite(lam).sum()),
        "note": "once, on the initial weights (defaults of lrdiag.stability.sharpness)",
    }


# --------------------------------------------------------------------------- report


def table(results: dict) -> str:
    peak = results["gemm_peak_gflops"]
    seen = ", ".join(f"{p['float32']:.0f}" for p in results["gemm_peaks"])
    lines = [
        f"NumPy matmul peak ({GEMM_SIZE}^2 GEMM, median of 3, best of "
        f"{len(results['gemm_peaks'])} measurements): "
        f"{peak['float32']:.0f} GFLOP/s float32, {peak['float64']:.0f} GFLOP/s float64 "
        f"(float32 measurements: {seen})",
        "GFLOP/s count the matrix products training needs: forward 2*B*in*out per layer, "
        "backward 2*B*in*out (dW) per layer",
        "  + 2*B*in*out (input gradient) for every layer but the first; x updates applied x runs.",
        "Loop: the plain per-run loop with BLAS as installed / limited to 1 thread; speedup, "
        "runs/s and GF/s use the faster of the two.",
        "",
        f"{'':4} {'engine s':>9} {'loop s':>9} {'loop s':>9} {'speedup':>8} {'runs/s':>8} "
        f"{'runs/s':>8} {'GF/s':>6} {'%':>4} {'GF/s':>6} {'%':>4}",
        f"{'':4} {'':>9} {'BLAS dflt':>9} {'BLAS 1':>9} {'vs best':>8} {'engine':>8} "
        f"{'loop':>8} {'eng':>6} {'peak':>4} {'loop':>6} {'peak':>4}",
    ]
    for r in results["workloads"]:
        pk = peak[r["dtype"]]
        mark = "*" if r["loop_extrapolated"] else " "
        lp = r["loop"]
        lines.append(
            f"{r['workload']:4} {r['engine_seconds']:9.2f} {lp['default']['seconds']:8.2f}{mark} "
            f"{lp['1 thread']['seconds']:8.2f}{mark} {r['speedup']:7.2f}x "
            f"{r['n_runs'] / r['engine_seconds']:8.1f} {r['n_runs'] / r['loop_seconds']:8.1f} "
            f"{r['engine_gflops']:6.1f} {100 * r['engine_gflops'] / pk:3.0f}% "
            f"{r['loop_gflops']:6.1f} {100 * r['loop_gflops'] / pk:3.0f}%"
        )
    lines.append("")
    for r in results["workloads"]:
        c = r["check"]
        extra = (
            f"; *loop times extrapolated from {r['loop_runs_timed']} of {r['n_runs']} runs "
            "(per run-epoch trained)"
            if r["loop_extrapolated"]
            else ""
        )
        lines.append(
            f"{r['workload']}: {r['title']}; {r['diverged_runs']} diverged{extra}. "
            f"Engine vs loop, final loss on {c['stable_runs']}/{c['compared_runs']} stable runs: "
            f"max rel diff {c['max_rel_diff_final_loss']:.1e}, median "
            f"{c['median_rel_diff_final_loss']:.1e} ({'OK' if c['ok'] else 'MISMATCH'}; "
            f"tolerances {LOSS_RTOL:g}, median {MEDIAN_RTOL:g})"
        )
    if results.get("memory"):
        lines += ["", "Peak memory per workload (fresh child, same grid, few epochs): "
                  "RSS before -> peak RSS; tracemalloc peak during training"]  # fmt: skip
        for name, m in results["memory"].items():
            parts = []
            for side in ("engine", "loop"):
                s = m[side]
                parts.append(f"{side} {mb(s['rss_before'])} -> {mb(s['rss_peak'])}, "
                             f"traced {mb(s['traced_peak'])}")  # fmt: skip
            lines.append(f"  {name}: " + "; ".join(parts))
    mc = results.get("memory_check")
    if mc:
        u = mc["unchunked"]
        same_v = {None: "n/a (classify not available yet)", True: "same", False: "DIFFERENT"}
        lines += [
            "",
            f"Memory check: {mc['n_runs']} runs x {mc['epochs']} epochs (W1 shape)",
            f"  unchunked: training RSS +{mb(u['training_rss'])} (peak RSS {mb(u['rss_peak'])}), "
            f"traced peak {mb(u['traced_peak'])}",
        ]
        for check in mc["checks"]:
            c, plan = check["chunked"], check["chunked"]["plan"]
            chunks = f"{plan['n_chunks']} chunk{'s' * (plan['n_chunks'] != 1)}"
            lines += [
                f"  max_memory {mb(check['budget'])}: {chunks} of up to {plan['chunk_size']} runs "
                f"(planned {mb(plan['peak_bytes'])}); training RSS +{mb(c['training_rss'])} "
                f"(peak RSS {mb(c['rss_peak'])}), traced peak {mb(c['traced_peak'])}"
                f" -> {'within' if check['within_budget'] else 'OVER'} budget",
                f"    losses vs unchunked: max rel diff {check['max_rel_diff_loss']:.1e}, same NaN "
                f"pattern: {check['same_nan_pattern']}; verdicts: {same_v[check['same_verdicts']]}",
            ]
    sharp = {k: v for k, v in results.get("sharpness", {}).items() if v}
    if sharp:
        lines += ["", "Sharpness (lrdiag.stability.sharpness, once on the initial weights, "
                  "not in the training figures):"]  # fmt: skip
        for name, v in sharp.items():
            lines.append(f"  {name}: {v['seconds']:.2f} s for {v['runs']} runs "
                         f"on {v['samples']} samples")  # fmt: skip
    lines += ["", f"Peak RSS of the benchmark process: {mb(results['rss_peak'])}"]
    return "\n".join(lines)


def _git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(lrdiag.__file__).parent,
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    return {
        "lrdiag": str(Path(lrdiag.__file__).parent),
        "git_head": _git_head(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a timing")
    ap.add_argument("--only", default="W1,W2,W3,W4,W5", help="comma-separated workloads")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (medians reported)")
    budget_help = "seconds both loop variants may take over all reps, else they are subsampled"
    ap.add_argument("--loop-budget", type=float, default=90.0, help=budget_help)
    ap.add_argument("--no-memory", action="store_true", help="skip the memory children and check")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    names = tuple(n.strip() for n in args.only.split(",") if n.strip())
    results = {"environment": environment(), "quick": args.quick, "gemm_peaks": []}
    results["workloads"], results["memory"], results["sharpness"] = [], {}, {}
    with np.errstate(all="ignore"):
        for w in workloads.workloads(names, quick=args.quick):
            results["gemm_peaks"].append(gemm_peak())
            log(f"{w.name}: {w.title} (GEMM now: {results['gemm_peaks'][-1]['float32']:.0f} GF/s)")
            results["workloads"].append(time_workload(w, args.reps, args.loop_budget, log))
            results["sharpness"][w.name] = time_sharpness(w)
            if not args.no_memory:
                log(f"  {w.name}: memory children ...")
                results["memory"][w.name] = workload_memory(w)
    if not args.no_memory:
        results["memory_check"] = memory_check(args.quick, log)
    results["gemm_peaks"].append(gemm_peak())
    results["gemm_peak_gflops"] = {
        dt: max(p[dt] for p in results["gemm_peaks"]) for dt in ("float32", "float64")
    }
    results["rss_peak"] = rss_peak()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=float))
    print(table(results))
    print(f"\nwritten: {args.out}")
    bad = [r["workload"] for r in results["workloads"] if not r["check"]["ok"]]
    if bad:
        print(f"FAIL: engine and loop disagree on {', '.join(bad)}", file=sys.stderr)
    for check in (results.get("memory_check") or {}).get("checks", ()):
        if not (
            check["within_budget"]
            and check["same_nan_pattern"]
            and check["same_verdicts"] is not False
            and check["max_rel_diff_loss"] <= LOSS_RTOL
        ):
            bad.append(f"memory check at {mb(check['budget'])}")
            print(f"FAIL: memory check at {mb(check['budget'])}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
