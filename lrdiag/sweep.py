"""Expand the grid and train every run at once, in memory-bounded chunks.

The grid is init scales x seeds x learning rates (learning rate fastest). All runs of a chunk
train together: their weights carry the run on axis 0, so one batched matrix product per layer
per step serves every run. A run whose loss or weights become non-finite is recorded as
diverged at that epoch and dropped from the computation, so it can neither stop nor poison
the others.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from lrdiag import __version__, model
from lrdiag.classify import classify
from lrdiag.config import config_to_dict
from lrdiag.errors import LrdiagError
from lrdiag.optim import make_optimizer, select_runs
from lrdiag.summary import summarize

SCHEMA_VERSION = 1

DEFAULT_MAX_MEMORY = 2 * 1024**3  # bytes a chunk of runs may use for its working arrays
_ARRAYS_PER_ACTIVATION = 4  # z, a, delta and da of a layer live at once during backprop
_ARRAYS_PER_PARAMETER = 5  # params, grads, updates, optimizer state, a temporary


@dataclass(frozen=True)
class Run:
    id: int
    learning_rate: float
    init_scale: float
    seed: int


@dataclass(frozen=True)
class Plan:
    """How a sweep will be trained: grid size, memory per run, chunks."""

    n_runs: int
    bytes_per_run: int
    chunk_size: int
    n_chunks: int
    max_memory: int

    @property
    def peak_bytes(self) -> int:
        return self.bytes_per_run * min(self.chunk_size, self.n_runs)


@dataclass
class TrainResult:
    loss: np.ndarray  # (R, E+1) float64, NaN from a run's diverged epoch on
    val_loss: np.ndarray | None  # (R, E+1) or None without a validation split
    diverged_epoch: np.ndarray  # (R,) int, -1 for a run that stayed finite
    epochs_done: np.ndarray  # (R,) int, epochs trained (less than E when interrupted)
    seconds: float
    complete: bool = True


def expand_grid(cfg) -> list[Run]:
    """Every (init scale, seed, learning rate), learning rate fastest."""
    runs = []
    for scale in cfg.init.scales:
        for seed in cfg.training.seeds:
            for lr in cfg.sweep.learning_rates:
                runs.append(Run(len(runs), float(lr), float(scale), int(seed)))
    return runs


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_memory(text: str | int) -> int:
    """Bytes from ``"256MB"``, ``"2GiB"``, ``"1.5g"`` or a plain number of bytes."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise LrdiagError(f"cannot read memory size {text!r}: use e.g. 256MB, 2GB or 1GiB")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    binary = "i" in unit
    unit = unit.replace("i", "").replace("b", "")
    factor = 1024 ** "kmgt".index(unit) * 1024 if binary and unit else _UNITS[unit]
    value = int(number * factor)
    if value <= 0:
        raise LrdiagError(f"memory size must be positive, got {text!r}")
    return value


def plan(cfg, n_train: int, n_val: int, n_in: int, n_out: int, n_runs: int, max_memory=None):
    """Memory per run and the chunk size that keeps a chunk under ``max_memory`` bytes."""
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    sizes = model.layer_sizes(n_in, cfg.model.hidden, n_out)
    itemsize = np.dtype(cfg.training.dtype).itemsize
    units = sum(sizes[1:])
    n_params = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    step = n_train if cfg.training.batch_size is None else min(cfg.training.batch_size, n_train)
    eval_rows = max(n_train, n_val) if cfg.training.batch_size is not None or n_val else 0
    per_run = (
        itemsize * (_ARRAYS_PER_ACTIVATION * step * units + 2 * eval_rows * units)
        + itemsize * _ARRAYS_PER_PARAMETER * n_params
    )
    per_run += 2 * 8 * (cfg.training.epochs + 1)  # loss histories, float64
    chunk = max(1, min(n_runs, max_memory // max(per_run, 1)))
    return Plan(n_runs, int(per_run), int(chunk), -(-n_runs // chunk), max_memory)


def epoch_orders(n: int, epochs: int, seed: int) -> Iterator[np.ndarray]:
    """Each epoch's sample order, the same for every run of a sweep (drawn from the data seed)."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    for _ in range(epochs):
        yield rng.permutation(n)


def _finite_params(params) -> np.ndarray:
    """(R,) True where every parameter of the run is finite (a sum propagates inf and NaN)."""
    ok = np.ones(next(iter(params.values())).shape[0], dtype=bool)
    for p in params.values():
        ok &= np.isfinite(p.sum(axis=(-2, -1)))
    return ok


class _Chunk:
    """The live runs of one chunk: parameters, optimizer state, learning rates, run indices."""

    def __init__(self, cfg, sizes, lrs, scales, seeds, dtype):
        self.params = model.init_params(sizes, cfg.init.scheme, scales, seeds, dtype)
        self.opt = make_optimizer(cfg.training)
        self.state = self.opt.init(self.params)
        self.lr = np.asarray(lrs, dtype=dtype)
        self.rows = np.arange(len(lrs))  # row of each live run in the chunk's histories
        self.ws = model.Workspace()  # activation and gradient buffers reused every step

    def drop(self, bad: np.ndarray) -> None:
        keep = np.flatnonzero(~bad)
        self.params = {k: v[keep] for k, v in self.params.items()}
        self.state = select_runs(self.state, keep)
        self.lr = self.lr[keep]
        self.rows = self.rows[keep]

    def step(self, grads) -> None:
        updates, self.state = self.opt.update(grads, self.state, self.params, self.lr)
        for k, u in updates.items():
            self.params[k] += u


def _train_chunk(cfg, data, lrs, scales, seeds, loss, val_loss, diverged, done, tick, stop):
    """Train one chunk, writing its rows of ``loss``/``val_loss``/``diverged``/``done`` in place.

    Returns early, leaving ``done`` at the epochs completed, when ``stop`` is set.
    """
    X, Y, Xv, Yv = data
    spec = cfg.model
    E = cfg.training.epochs
    sizes = model.layer_sizes(X.shape[1], spec.hidden, Y.shape[1])
    c = _Chunk(cfg, sizes, lrs, scales, seeds, X.dtype)

    def record(k, losses, extra_bad=None):
        """Write epoch k's losses; a run whose loss, validation loss or weights are not finite
        is marked bad (its entries NaN)."""
        bad = ~np.isfinite(losses)
        if extra_bad is not None:
            bad |= extra_bad
        if val_loss is not None:
            val = model.loss(c.params, Xv, Yv, spec)
            bad |= ~np.isfinite(val)
            val_loss[c.rows, k] = np.where(bad, np.nan, val)
        loss[c.rows, k] = np.where(bad, np.nan, losses)
        return bad

    def retire(k, bad):
        if bad.any():
            diverged[c.rows[bad]] = k
            done[c.rows[bad]] = E
            tick(int(bad.sum()) * (E - k))  # a retired run's remaining epochs count as done
            c.drop(bad)

    full_batch = cfg.training.batch_size is None
    if full_batch:
        for k in range(E + 1):
            if len(c.rows) == 0 or stop.is_set():
                return
            if k < E:
                losses, grads = model.loss_and_grads(c.params, X, Y, spec, c.ws)
            else:
                losses, grads = model.loss(c.params, X, Y, spec), None
            bad = record(k, losses, ~_finite_params(c.params))
            done[c.rows] = k
            if grads is not None:
                grads = {key: g[~bad] for key, g in grads.items()} if bad.any() else grads
            retire(k, bad)
            if grads is not None and len(c.rows):
                c.step(grads)
                tick(len(c.rows))
        return

    bs = cfg.training.batch_size
    retire(0, record(0, model.loss(c.params, X, Y, spec), ~_finite_params(c.params)))
    done[c.rows] = 0
    for k, order in enumerate(epoch_orders(len(X), E, cfg.data.seed), start=1):
        if len(c.rows) == 0 or stop.is_set():
            return
        Xs, Ys = X[order], Y[order]
        total = np.zeros(len(c.rows))
        for start in range(0, len(X), bs):
            losses, grads = model.loss_and_grads(
                c.params, Xs[start : start + bs], Ys[start : start + bs], spec, c.ws
            )
            total += losses
            c.step(grads)
            bad = ~np.isfinite(total) | ~_finite_params(c.params)
            if bad.any():
                loss[c.rows[bad], k] = np.nan
                retire(k, bad)
                total = total[~bad]
            if len(c.rows) == 0 or stop.is_set():
                return
        n_steps = -(-len(X) // bs)
        if len(c.rows):
            retire(k, record(k, total / n_steps))
            done[c.rows] = k
            tick(len(c.rows))


def default_threads() -> int:
    """Worker threads for training: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def train(
    cfg,
    dataset,
    runs: list[Run],
    *,
    max_memory: int | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train ``runs`` on ``dataset``; ``progress(n)`` is called with run-epochs done.

    Runs are independent, so a chunk is split into ``threads`` shards trained concurrently
    (NumPy releases the GIL in ufuncs and matrix products), each with a single-threaded BLAS:
    small batched products gain nothing from BLAS threads, and its spinning threads collapse
    when the machine is busy. A Ctrl-C stops every shard at its next step; what was trained
    is returned with ``complete=False``.
    """
    dtype = np.dtype(cfg.training.dtype)
    X = np.ascontiguousarray(dataset.X, dtype=dtype)
    Y = np.ascontiguousarray(dataset.Y, dtype=dtype)
    has_val = dataset.X_val is not None and len(dataset.X_val) > 0
    Xv = np.ascontiguousarray(dataset.X_val, dtype=dtype) if has_val else None
    Yv = np.ascontiguousarray(dataset.Y_val, dtype=dtype) if has_val else None
    R, E = len(runs), cfg.training.epochs
    loss = np.full((R, E + 1), np.nan)
    val_loss = np.full((R, E + 1), np.nan) if has_val else None
    diverged = np.full(R, -1, dtype=np.int64)
    done = np.zeros(R, dtype=np.int64)
    p = plan(cfg, len(X), len(Xv) if has_val else 0, X.shape[1], Y.shape[1], R, max_memory)
    lrs = np.array([r.learning_rate for r in runs])
    scales = np.array([r.init_scale for r in runs])
    seeds = np.array([r.seed for r in runs])
    tick = progress or (lambda n: None)
    n_threads = max(1, threads or default_threads())
    shard = -(-p.chunk_size // n_threads)  # n_threads shards at a time fill one chunk's memory
    stop = threading.Event()

    def work(lo: int, hi: int) -> None:
        try:
            with np.errstate(all="ignore"):  # error state is per thread
                _train_chunk(
                    cfg, (X, Y, Xv, Yv), lrs[lo:hi], scales[lo:hi], seeds[lo:hi], loss[lo:hi],
                    None if val_loss is None else val_loss[lo:hi], diverged[lo:hi], done[lo:hi],
                    tick, stop,
                )  # fmt: skip
        except KeyboardInterrupt:  # raised in a worker (a callback, a test): same as a Ctrl-C
            stop.set()

    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            futures = []
            try:  # submitting counts too: starting a thread waits for the GIL the others hold
                for lo in range(0, R, shard):
                    futures.append(pool.submit(work, lo, min(R, lo + shard)))
                while not all(f.done() for f in futures):
                    wait(futures, timeout=0.1)
            except KeyboardInterrupt:
                stop.set()
                wait(futures)
            for f in futures:
                if not f.cancelled():
                    f.result()  # re-raise a worker's exception here
    complete = not stop.is_set() and bool((done == E).all())
    return TrainResult(loss, val_loss, diverged, done, time.perf_counter() - start, complete)


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def _partial_metrics(curve: np.ndarray) -> dict:
    """What can be said of an interrupted run: its losses so far."""
    finite = np.flatnonzero(np.isfinite(curve))
    if len(finite) == 0:
        return {"initial": None, "final": None, "min": None, "min_epoch": None}
    best = int(finite[np.argmin(curve[finite])])
    return {
        "initial": float(curve[finite[0]]),
        "final": float(curve[finite[-1]]),
        "min": float(curve[best]),
        "min_epoch": best,
        "diverged_epoch": None,
    }


def judge(cfg, runs: list[Run], result: TrainResult, n_classes: int | None) -> list[dict]:
    """Result rows: the run, its verdict (via classify), reason, flags, metrics and curves."""
    rows = []
    E = cfg.training.epochs
    for i, run in enumerate(runs):
        curve = result.loss[i]
        row = {
            "id": run.id,
            "learning_rate": run.learning_rate,
            "init_scale": run.init_scale,
            "seed": run.seed,
        }
        if result.epochs_done[i] < E:
            row.update(
                verdict=None,
                reason=f"interrupted after {int(result.epochs_done[i])} of {E} epochs",
                flags=["incomplete"],
                metrics=_partial_metrics(curve),
            )
        else:
            v = classify(curve, cfg.classify, n_classes=n_classes, loss_name=cfg.model.loss)
            metrics = dict(v.metrics)
            if result.diverged_epoch[i] >= 0:
                metrics["diverged_epoch"] = int(result.diverged_epoch[i])
            row.update(verdict=v.verdict, reason=v.reason, flags=list(v.flags), metrics=metrics)
        row["loss"] = _finite_or_none(curve)
        row["val_loss"] = None
        row["val"] = None
        if result.val_loss is not None:
            row["val_loss"] = _finite_or_none(result.val_loss[i])
            if row["verdict"] is not None:
                v = classify(
                    result.val_loss[i],
                    cfg.classify,
                    n_classes=n_classes,
                    loss_name=cfg.model.loss,
                    train_curve=curve,
                )
                row["val"] = {
                    "verdict": v.verdict,
                    "reason": v.reason,
                    "flags": list(v.flags),
                    "metrics": dict(v.metrics),
                }
        rows.append(row)
    return rows


def document(cfg, runs: list[Run], result: TrainResult, n_classes: int | None) -> dict:
    """The results document (what results.json holds).

    It holds nothing that varies between two runs of the same config on the same machine (no
    timing, no output path), so results.json is reproducible byte for byte.
    """
    rows = judge(cfg, runs, result, n_classes)
    return {
        "schema_version": SCHEMA_VERSION,
        "lrdiag_version": __version__,
        "complete": result.complete,
        "config": config_to_dict(cfg),
        "runs": rows,
        "summary": summarize([r for r in rows if r["verdict"] is not None]),
    }
