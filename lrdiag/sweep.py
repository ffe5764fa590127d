"""Expand the grid and train every run at once, in memory-bounded chunks.

The grid is init scales x seeds x learning rates (learning rate fastest). All runs of a chunk
train together: their weights carry the run on axis 0, so one batched matrix product per layer
per step serves every run. A run whose loss or weights become non-finite is recorded as
diverged at that epoch and dropped from the computation, so it can neither stop nor poison
the others.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from lrdiag import convnet, model, schedule, stability
from lrdiag.config import EXTRA_AXES
from lrdiag.errors import LrdiagError
from lrdiag.optim import BUFFERS, make_optimizer, preconditioner, select_runs

if TYPE_CHECKING:  # annotations only: no import at run time
    from lrdiag.config import Config
    from lrdiag.data import Dataset

DEFAULT_MAX_MEMORY = 2 * 1024**3  # bytes a chunk of runs may use for its working arrays
# Per run: params, gradients, the first layer's [W1; b1] and its gradient, and the optimizer's
# buffers (optim.BUFFERS; at least one array's worth: the scratch of an in-place step).
_ARRAYS_PER_PARAMETER = 4
# Per training thread: activations and deltas of one block of runs, the logits' arrays, and
# the full-data loss evaluation's activations (also computed a block of runs at a time).
_BLOCKS_PER_THREAD = 3


@dataclass(frozen=True)
class Run:
    id: int
    learning_rate: float
    init_scale: float
    seed: int
    # the run's values of the sweep's other axes (config.EXTRA_AXES), as (name, value) pairs
    axes: tuple[tuple[str, Any], ...] = ()

    def value(self, name: str, default: Any = None) -> Any:
        """The run's value on axis ``name``, or ``default`` when the sweep does not vary it."""
        return dict(self.axes).get(name, default)


@dataclass(frozen=True)
class Plan:
    """How a sweep will be trained: grid size, memory per run, chunks."""

    n_runs: int
    bytes_per_run: int
    chunk_size: int
    n_chunks: int
    max_memory: int
    # what does not grow with a chunk's runs: the blocks of the shards trained at once, and the
    # loss histories of every run of the sweep
    fixed_bytes: int = 0

    @property
    def peak_bytes(self) -> int:
        return self.fixed_bytes + self.bytes_per_run * min(self.chunk_size, self.n_runs)


@dataclass
class TrainResult:
    loss: np.ndarray  # (R, E+1) float64, NaN from a run's diverged epoch on
    val_loss: np.ndarray | None  # (R, E+1) or None without a validation split
    diverged_epoch: np.ndarray  # (R,) int, -1 for a run that stayed finite
    epochs_done: np.ndarray  # (R,) int, epochs trained (less than E when interrupted)
    seconds: float
    complete: bool = True
    sharpness_init: np.ndarray | None = None  # (R,) largest Hessian eigenvalue at init, or None
    sharpness_epochs: list[int] | None = None  # epochs at which sharpness was tracked
    sharpness: np.ndarray | None = None  # (R, len(sharpness_epochs)), NaN once diverged
    sharpness_seconds: float = 0.0  # time spent on sharpness (not counted as training)
    # (R, hidden layers): share of ReLU units never firing on the training rows after training
    # (NaN for a diverged or interrupted run); None unless the activation is relu
    dead_end: np.ndarray | None = None
    # (R,) steps whose gradients were clipped, and steps taken; None without clip_grad_norm
    clipped: np.ndarray | None = None
    steps: np.ndarray | None = None


def initial_weights(cfg, n_in, n_out: int) -> dict[int, dict[str, np.ndarray]]:
    """Each seed's initial weights at scale 1, one network's arrays (W (in, out), b (out,)) in
    float64: what ``lrdiag sweep --save-init`` writes (lrdiag.weights). ``n_in``: the input's
    width, or its shape (``input_shape``); a conv net's kernels are (out, in, kh, kw)."""
    sizes = architecture(cfg, tuple(int(s) for s in np.atleast_1d(n_in)), n_out)
    seeds = list(cfg.training.seeds)
    params = network(cfg).init_params(
        sizes, cfg.init.scheme, np.ones(len(seeds)), seeds, np.float64, path=cfg.init.path
    )
    return {s: {k: v[r] for k, v in params.items()} for r, s in enumerate(seeds)}


def axes(cfg) -> list[tuple[str, tuple]]:
    """The sweep's other axes (config.EXTRA_AXES) that it varies: (name, values)."""
    return [(a, getattr(cfg.sweep, a)) for a in EXTRA_AXES if getattr(cfg.sweep, a) is not None]


def n_runs(cfg) -> int:
    """The grid's size, from its axes (without building a Run for each)."""
    n = len(cfg.sweep.learning_rates) * len(cfg.init.scales) * len(cfg.training.seeds)
    for _, values in axes(cfg):
        n *= len(values)
    return n


def expand_grid(cfg: Config) -> list[Run]:
    """Every (init scale, seed, other axes, learning rate), learning rate fastest."""
    runs: list[Run] = []
    names = [name for name, _ in axes(cfg)]
    combos = list(itertools.product(*(values for _, values in axes(cfg))))
    for scale in cfg.init.scales:
        for seed in cfg.training.seeds:
            for combo in combos:
                pairs = tuple(zip(names, combo, strict=True))
                for lr in cfg.sweep.learning_rates:
                    runs.append(Run(len(runs), float(lr), float(scale), int(seed), pairs))
    return runs


def run_config(cfg, run: Run):
    """The config as ``run`` saw it: its group's (optimizer, batch size) and its momentum,
    weight decay, warmup and clipping written into training (for reasons and limits)."""
    if not run.axes:
        return cfg
    t = cfg.training
    cfg = group_config(
        cfg, run.value("optimizer", t.optimizer), run.value("batch_size", t.batch_size)
    )
    changes = {k: v for k, v in run.axes if k in ("momentum", "weight_decay", "clip_grad_norm")}
    if "warmup_steps" in dict(run.axes):
        sched = dataclasses.replace(t.schedule, warmup_steps=run.value("warmup_steps"))
        changes["schedule"] = sched
    return dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, **changes))


def group_config(cfg, optimizer: str, batch_size: int | None):
    """The config one group of a sweep trains with: its optimizer and batch size, and that
    optimizer's own default momentum and weight_decay unless the file gave them."""
    changes = {"optimizer": optimizer, "batch_size": batch_size}
    for key in ("momentum", "weight_decay"):
        if key not in cfg.given:
            changes[key] = None  # resolved by TrainingConfig for the group's optimizer
    return dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, **changes))


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
MAX_MEMORY_SIZE = 1e18  # bytes: a budget beyond any machine (and within int64)


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
    if not number * factor < MAX_MEMORY_SIZE:  # 1e400 reads as inf
        raise LrdiagError(f"memory size {text!r} is too large: at most 1 EB")
    value = int(number * factor)
    if value <= 0:
        raise LrdiagError(f"memory size must be positive, got {text!r}")
    return value


def network(cfg):
    """What trains ``cfg.model``: lrdiag.convnet for ``model.layers``, else the MLP (lrdiag.model);
    both have init_params, loss and loss_and_grads with the same contract."""
    return convnet if cfg.model.layers is not None else model


def inputs(cfg, X: np.ndarray, dataset) -> np.ndarray:
    """Rows of ``dataset``'s inputs as the network takes them: images ``(n, C, H, W)`` for
    conv layers (a dataset built by hand may leave out ``image_shape``)."""
    image_shape = getattr(dataset, "image_shape", None)
    if cfg.model.layers is not None and image_shape is not None:
        return X.reshape(len(X), *image_shape)
    return X


def input_shape(dataset) -> tuple[int, ...]:
    """One sample's shape: ``(C, H, W)`` for images, else ``(features,)``."""
    return tuple(getattr(dataset, "image_shape", None) or dataset.X.shape[1:])


def architecture(cfg, in_shape, n_out: int):
    """What ``network(cfg).init_params`` takes: the MLP's layer sizes, or the built conv net
    (a ConfigError names the layer that does not fit inputs of ``in_shape``)."""
    if cfg.model.layers is not None:
        return convnet.build(cfg.model, in_shape, n_out, file=cfg.source)
    return model.layer_sizes(in_shape[0], cfg.model.hidden, n_out)


def plan(
    cfg: Config,
    n_train: int,
    n_val: int,
    n_in: int | tuple[int, ...],
    n_out: int,
    n_runs: int,
    max_memory=None,
    threads: int | None = None,
) -> Plan:
    """Memory per run, the fixed working set, and the chunk size under ``max_memory`` bytes.

    Activations never grow with the number of runs: forward and backward passes go a block
    of runs at a time (``model.run_block``), so they cost a fixed working set per thread, of
    at least one run's activations. What grows with a chunk's runs is their parameters,
    gradients and optimizer state; the loss histories of every run of the sweep are kept
    from start to end, whatever the chunks. ``n_in``: the input's width, or its shape
    (``input_shape``: a conv net's images).
    """
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    threads = threads or default_threads()
    itemsize = np.dtype(cfg.training.dtype).itemsize
    histories = n_runs * (2 if n_val else 1) * 8 * (cfg.training.epochs + 1)  # float64, all runs
    rows = max(n_train, n_val)  # the loss evaluations see every row
    data = 0  # a conv net's data in the training dtype (the MLP's blocks cover its small data)
    if cfg.model.layers is not None:  # n_in: the input's shape
        net = architecture(cfg, tuple(int(s) for s in np.atleast_1d(n_in)), n_out)
        n_params = net.n_params
        batch = min(cfg.training.batch_size or n_train, n_train)

        def thread_bytes(runs: int) -> int:  # blocks, patches and data copies (lrdiag.convnet)
            return convnet.thread_bytes(net, runs, batch, (n_train, n_val), itemsize)

        data = convnet.data_bytes(net, n_train + n_val, itemsize)
    else:
        sizes = model.layer_sizes(int(np.prod(n_in)), cfg.model.hidden, n_out)
        n_params = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
        one_run = 2 * rows * sum(sizes[1:]) * itemsize  # activations and deltas of one run
        per_block = model.run_block(sizes, rows, itemsize)

        def thread_bytes(runs: int) -> int:
            return _BLOCKS_PER_THREAD * one_run * min(per_block, runs)

    optimizers = cfg.sweep.optimizer or (cfg.training.optimizer,)  # the hungriest group's
    arrays = _ARRAYS_PER_PARAMETER + max(1, *(BUFFERS[o] for o in optimizers))
    per_run = itemsize * arrays * n_params

    def working(chunk: int) -> int:
        """The blocks of the shards trained at once (``train``: a chunk is split into
        ``threads`` shards); a shard smaller than a block needs only its own runs' worth."""
        shard = -(-chunk // threads)
        at_once = min(threads, -(-n_runs // shard))
        return at_once * thread_bytes(shard)

    lo, hi = 1, n_runs  # the largest chunk within the budget (at least one run)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if per_run * mid + working(mid) + histories + data <= max_memory:
            lo = mid
        else:
            hi = mid - 1
    chunk = lo
    fixed = working(chunk) + histories + data
    return Plan(n_runs, int(per_run), int(chunk), -(-n_runs // chunk), max_memory, int(fixed))


def epoch_orders(n: int, epochs: int, seed: int) -> Iterator[np.ndarray]:
    """Each epoch's sample order, the same for every run of a sweep (drawn from the data seed)."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    for _ in range(epochs):
        yield rng.permutation(n)


def _finite_params(params) -> np.ndarray:
    """(R,) True where every parameter of the run is finite (a sum propagates inf and NaN)."""
    ok = np.ones(next(iter(params.values())).shape[0], dtype=bool)
    for p in params.values():
        ok &= np.isfinite(p.reshape(len(p), -1).sum(axis=1))
    return ok


class _Sharpness:
    """Sharpness (top Hessian eigenvalue) at init and every ``track_every`` epochs, per run.

    ``stability.sharpness: auto`` computes it for full-batch runs, where 2/lr is the limit that
    matters; ``on`` for every run; ``off`` never. It is computed in float64 on a fixed subset of
    at most ``stability.samples`` training rows, and its time is kept apart from training's.
    """

    def __init__(self, cfg, dataset, n_runs: int, max_memory: int, X=None):
        mode = cfg.stability.sharpness
        # auto: where a step's stability is read against lr * sharpness (full-batch, and not an
        # adaptive optimizer, whose preconditioner changes the curvature a step sees)
        auto = cfg.training.batch_size is None and stability.stable_limit(
            cfg.training.optimizer, cfg.training.momentum
        )
        self.enabled = mode == "on" or (mode == "auto" and bool(auto))
        # adaptive optimizers: tracking measures the preconditioned sharpness (P^-1 H)
        self.training = cfg.training
        self.adaptive = stability.adaptive_limit(cfg.training) is not None
        every = cfg.stability.track_every if self.enabled else None
        E = cfg.training.epochs
        self.epochs = list(range(0, E + 1, every)) if every else []
        self._index = {k: i for i, k in enumerate(self.epochs)}
        self.init = np.full(n_runs, np.nan)
        self.track = np.full((n_runs, len(self.epochs)), np.nan)
        self.max_memory = max_memory  # bytes per thread for the sharpness at init
        self.track_memory = max_memory  # bytes per thread for tracking, beside training
        self.init_seconds = 0.0  # wall-clock time of the sharpness at init
        self.track_seconds = 0.0  # thread-seconds of tracking, summed over training threads
        self._lock = threading.Lock()
        # loss_reduction: sum multiplies the loss of a step, and so its Hessian, by the batch size
        summed = cfg.training.loss_reduction == "sum"
        self.factor = float(cfg.training.batch_size or len(dataset.X)) if summed else 1.0
        if self.enabled:
            self.X, self.Y = stability.subset(
                dataset.X if X is None else X, dataset.Y, cfg.stability.samples, seed=cfg.data.seed
            )

    def at_init(self, cfg, sizes, scales, seeds, dtype, pool, n_threads: int) -> None:
        """Sharpness at the initial weights of every run, before training starts.

        Runs that share (seed, init scale) start from the same weights, so each distinct pair
        is computed once; the pairs are split over the training threads.
        """
        if not self.enabled:
            return
        start = time.perf_counter()
        pairs = np.stack([np.asarray(seeds, np.float64), np.asarray(scales, np.float64)], axis=1)
        unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
        lam = np.full(len(unique), np.nan)

        def work(lo: int, hi: int) -> None:
            with np.errstate(all="ignore"):
                part = unique[lo:hi]
                params = network(cfg).init_params(
                    sizes,
                    cfg.init.scheme,
                    part[:, 1],
                    part[:, 0].astype(np.int64),
                    dtype,
                    path=cfg.init.path,
                )
                lam[lo:hi] = self.factor * stability.sharpness(
                    params, self.X, self.Y, cfg.model, max_memory=self.max_memory
                )

        shard = -(-len(unique) // n_threads)
        futures = [
            pool.submit(work, lo, min(len(unique), lo + shard))
            for lo in range(0, len(unique), shard)
        ]
        for f in futures:
            f.result()
        self.init = lam[np.reshape(inverse, -1)]
        self.init_seconds = time.perf_counter() - start

    def at_epoch(self, k: int, c: _Chunk, spec, offset: int) -> None:
        """Track epoch k's sharpness for the live runs (warm-started from the last vectors)."""
        if k not in self._index:
            return
        pre = None
        if self.adaptive:  # with the preconditioner the next step divides by
            pre = preconditioner(c.state, self.training)
            if pre is None:
                return  # before the first step: the moments are still zero
        start = time.perf_counter()
        est = stability.top_eigenpair(
            c.params,
            self.X,
            self.Y,
            spec,
            start=c.eigvecs,
            max_memory=self.track_memory,
            precondition=pre,
        )
        with self._lock:
            self.track_seconds += time.perf_counter() - start
        c.eigvecs = est.vectors
        self.track[offset + c.rows, self._index[k]] = self.factor * est.values


@dataclass
class _Steps:
    """Per-run step settings of a chunk's runs (warmup, clipping) and what the steps did."""

    warmup: np.ndarray  # (R,) warmup steps of each run (its schedule's unit)
    clip: np.ndarray | None  # (R,) max gradient norm per run (inf: off), or None: no clipping
    clipped: np.ndarray  # (R,) int: steps whose gradients were clipped (written per run)
    steps: np.ndarray  # (R,) int: optimizer steps taken
    hyper: dict  # optimizer hyper-parameters a sweep varies: name -> (R,) (optim.make_optimizer)

    def rows(self, lo: int, hi: int) -> _Steps:
        """Runs lo to hi: views, so that what their steps record lands in these arrays."""
        clip = None if self.clip is None else self.clip[lo:hi]
        hyper = {k: v[lo:hi] for k, v in self.hyper.items()}
        return _Steps(self.warmup[lo:hi], clip, self.clipped[lo:hi], self.steps[lo:hi], hyper)


def _steps_for(cfg, runs_or_count) -> _Steps:
    """Each run's warmup, clipping and varied hyper-parameters: the run's axis value, else
    the config's."""
    runs = (
        [Run(0, 0.0, 1.0, 0)] * runs_or_count if isinstance(runs_or_count, int) else runs_or_count
    )
    t = cfg.training
    warmup = np.array([r.value("warmup_steps", t.schedule.warmup_steps) for r in runs], np.int64)
    clips = [r.value("clip_grad_norm", t.clip_grad_norm) for r in runs]
    clip = None
    if any(c is not None for c in clips):
        clip = np.array([np.inf if c is None else float(c) for c in clips])  # inf: off
    hyper = {
        key: np.array([float(r.value(key)) for r in runs])
        for key in ("momentum", "weight_decay")
        if getattr(cfg.sweep, key) is not None
    }
    zeros = np.zeros(len(runs), dtype=np.int64)
    return _Steps(warmup, clip, zeros, zeros.copy(), hyper)


class _Chunk:
    """The live runs of one chunk: parameters, optimizer state, learning rates, run indices."""

    def __init__(self, cfg, sizes, lrs, scales, seeds, dtype, steps: _Steps, steps_per_epoch=1):
        self.net = network(cfg)  # lrdiag.model or lrdiag.convnet
        self.params = self.net.init_params(
            sizes, cfg.init.scheme, scales, seeds, dtype, path=cfg.init.path
        )
        self.opt = make_optimizer(cfg.training, steps.hyper)
        self.state = self.opt.init(self.params)
        self.lr = np.asarray(lrs, dtype=dtype)
        self.rows = np.arange(len(lrs))  # row of each live run in the chunk's histories
        self.ws = model.Workspace()  # activation and gradient buffers reused every step
        # the last sharpness eigenvectors (a warm start for tracking)
        self.eigvecs: dict[str, np.ndarray] | None = None
        self.summed = cfg.training.loss_reduction == "sum"
        self.record = steps  # the chunk's rows of the per-run step records
        self.warmup = steps.warmup.copy()
        self.clip = None if steps.clip is None else steps.clip.copy()
        self.schedule = cfg.training.schedule
        self.scheduled = self.schedule.kind != "constant" or bool(self.warmup.any())
        by_epoch = self.schedule.unit == "epoch"
        self.per_unit = steps_per_epoch if by_epoch else 1  # optimizer steps per schedule unit
        self.total = cfg.training.epochs * (1 if by_epoch else steps_per_epoch)
        self.t = 0  # optimizer steps taken so far

    def drop(self, bad: np.ndarray) -> None:
        keep = np.flatnonzero(~bad)
        self.params = {k: v[keep] for k, v in self.params.items()}
        self.state = select_runs(self.state, keep)
        self.lr = self.lr[keep]
        self.rows = self.rows[keep]
        self.warmup = self.warmup[keep]
        if self.clip is not None:
            self.clip = self.clip[keep]
        if self.eigvecs is not None:
            self.eigvecs = {k: v[keep] for k, v in self.eigvecs.items()}

    def step(self, grads, rows: int) -> None:
        """One optimizer step in place on a batch of ``rows`` samples; ``grads`` (workspace
        buffers, gradients of the mean loss) are consumed. With ``loss_reduction: sum`` the
        step is the summed loss's: the gradients times ``rows``; then clipping (on the
        gradients the optimizer sees, as clip_grad_norm_ after backward) and the schedule."""
        if self.summed:
            for g in grads.values():
                g *= rows
        if self.clip is not None:
            self.record.clipped[self.rows] += schedule.clip(grads, self.clip)
        lr = self.lr
        if self.scheduled:
            unit = self.t // self.per_unit
            lr = lr * schedule.multipliers(self.schedule, unit, self.total, self.warmup)
        self.state = self.opt.apply(self.params, grads, self.state, lr)
        self.record.steps[self.rows] += 1
        self.t += 1


def _train_chunk(
    cfg, data, lrs, scales, seeds, loss, val_loss, diverged, done, tick, stop, sharp, offset,
    dead=None, steps=None,
):  # fmt: skip
    """Train one chunk (``_run_chunk``); then, with ``dead`` (its rows of TrainResult.dead_end),
    the share of each hidden layer's ReLU units that never fire on the training rows.
    ``steps``: the chunk's rows of the per-run step settings and records (``_Steps``)."""
    X, Y = data[0], data[1]
    sizes = architecture(cfg, X.shape[1:], Y.shape[1])
    steps = _steps_for(cfg, len(lrs)) if steps is None else steps
    bs = cfg.training.batch_size
    per_epoch = 1 if bs is None else -(-len(X) // bs)
    c = _Chunk(cfg, sizes, lrs, scales, seeds, X.dtype, steps, per_epoch)
    _run_chunk(
        c, cfg, data, scales, seeds, loss, val_loss, diverged, done, tick, stop, sharp, offset
    )
    if dead is not None and len(c.rows) and not stop.is_set():
        dead[c.rows] = dead_units(c.params, X, cfg.model)


# Rows dead_units looks at, at most (the share is a property of the weights), and the bytes a
# block of runs' (runs, rows, width) pre-activations may take: small beside any memory budget.
DEAD_ROWS = 1024
DEAD_BYTES = 4 * 2**20


def dead_units(params, X, spec) -> np.ndarray:
    """(R, hidden layers): the share of each hidden layer's units whose pre-activation is <= 0 on
    every one of the first DEAD_ROWS rows of ``X`` (ReLU units that never fire)."""
    rows = X[:DEAD_ROWS]
    R = next(iter(params.values())).shape[0]
    per_run = 2 * len(rows) * max(spec.hidden) * rows.itemsize * len(spec.hidden)
    step = max(1, DEAD_BYTES // per_run)
    out = np.empty((R, len(spec.hidden)))
    for lo in range(0, R, step):
        block = {k: v[lo : lo + step] for k, v in params.items()}
        _, cache = model.forward(block, rows, spec, keep=True)
        for layer, (_, z, _) in enumerate(cache[:-1]):  # z: (runs, rows, H)
            out[lo : lo + step, layer] = np.mean(np.all(z <= 0, axis=1), axis=-1)
    return out


def _run_chunk(
    c, cfg, data, scales, seeds, loss, val_loss, diverged, done, tick, stop, sharp, offset
):
    """Train the chunk ``c``, writing its rows of ``loss``/``val_loss``/``diverged``/``done`` in
    place. Returns early, leaving ``done`` at the epochs completed, when ``stop`` is set.
    """
    X, Y, Xv, Yv = data
    spec = cfg.model
    E = cfg.training.epochs

    def record(k, losses, extra_bad=None):
        """Write epoch k's losses; a run whose loss, validation loss or weights are not finite
        is marked bad (its entries NaN)."""
        bad = ~np.isfinite(losses)
        if extra_bad is not None:
            bad |= extra_bad
        if val_loss is not None:
            val = c.net.loss(c.params, Xv, Yv, spec)
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
                losses, grads = c.net.loss_and_grads(c.params, X, Y, spec, c.ws)
            else:
                losses, grads = c.net.loss(c.params, X, Y, spec), None
            bad = record(k, losses, ~_finite_params(c.params))
            done[c.rows] = k
            if grads is not None:
                grads = {key: g[~bad] for key, g in grads.items()} if bad.any() else grads
            retire(k, bad)
            if sharp.epochs and len(c.rows):
                sharp.at_epoch(k, c, spec, offset)
            if grads is not None and len(c.rows):
                c.step(grads, len(X))
                tick(len(c.rows))
        return

    bs = cfg.training.batch_size
    # Epoch 0's loss depends on the initial weights only: once per distinct (seed, scale).
    pairs = np.stack([np.asarray(seeds, np.float64), np.asarray(scales, np.float64)], axis=1)
    _, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    initial = c.net.loss({k: v[first] for k, v in c.params.items()}, X, Y, spec)
    retire(0, record(0, initial[np.reshape(inverse, -1)], ~_finite_params(c.params)))
    done[c.rows] = 0
    if sharp.epochs and len(c.rows):
        sharp.at_epoch(0, c, spec, offset)
    for k, order in enumerate(epoch_orders(len(X), E, cfg.data.seed), start=1):
        if len(c.rows) == 0 or stop.is_set():
            return
        Xs, Ys = X[order], Y[order]
        total = np.zeros(len(c.rows))
        for start in range(0, len(X), bs):
            losses, grads = c.net.loss_and_grads(
                c.params, Xs[start : start + bs], Ys[start : start + bs], spec, c.ws
            )
            total += losses
            c.step(grads, min(bs, len(X) - start))
            # A run whose weights overflow shows it in its next loss; its weights are checked
            # at the end of the epoch (the same epoch is recorded either way).
            bad = ~np.isfinite(total)
            if start + bs >= len(X):
                bad |= ~_finite_params(c.params)
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
        if sharp.epochs and len(c.rows):
            sharp.at_epoch(k, c, spec, offset)


def default_threads() -> int:
    """Worker threads for training: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def train(
    cfg: Config,
    dataset: Dataset,
    runs: list[Run],
    *,
    max_memory: int | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> TrainResult:
    """Train ``runs`` on ``dataset``; ``progress(n)`` is called with run-epochs done.

    Runs that differ in optimizer or batch size cannot share a loop: they train group by
    group (``group_config``), every group with the whole memory budget; within a group, the
    runs' momentum, weight decay, warmup and clipping are per-run arrays of one loop.
    """
    groups: dict[tuple, list[int]] = {}
    for i, run in enumerate(runs):
        key = (
            run.value("optimizer", cfg.training.optimizer),
            run.value("batch_size", cfg.training.batch_size),
        )
        groups.setdefault(key, []).append(i)
    if len(groups) == 1 and (cfg.sweep.optimizer is None and cfg.sweep.batch_size is None):
        return _train_group(cfg, dataset, runs, max_memory, progress, threads)
    R, E = len(runs), cfg.training.epochs
    has_val = dataset.X_val is not None and len(dataset.X_val) > 0
    out = TrainResult(
        np.full((R, E + 1), np.nan),
        np.full((R, E + 1), np.nan) if has_val else None,
        np.full(R, -1, dtype=np.int64),
        np.zeros(R, dtype=np.int64),
        0.0,
    )
    complete = True
    for (optimizer, batch_size), rows in groups.items():
        gcfg = group_config(cfg, optimizer, batch_size)
        part = _train_group(gcfg, dataset, [runs[i] for i in rows], max_memory, progress, threads)
        _scatter(out, part, np.array(rows), R)
        if not part.complete:
            complete = False
            break  # interrupted: the groups not yet trained stay at 0 epochs done
    out.complete = complete and bool((out.epochs_done == E).all())
    return out


def _scatter(out: TrainResult, part: TrainResult, rows: np.ndarray, R: int) -> None:
    """Copy one group's result into the sweep's at ``rows``."""
    out.loss[rows] = part.loss
    if out.val_loss is not None:
        out.val_loss[rows] = part.val_loss
    out.diverged_epoch[rows] = part.diverged_epoch
    out.epochs_done[rows] = part.epochs_done
    out.seconds += part.seconds
    out.sharpness_seconds += part.sharpness_seconds
    for name, shape in (("sharpness_init", ()), ("clipped", ()), ("steps", ())):
        value = getattr(part, name)
        if value is not None:
            if getattr(out, name) is None:
                fill = np.nan if name == "sharpness_init" else 0
                setattr(out, name, np.full((R, *shape), fill, dtype=value.dtype))
            getattr(out, name)[rows] = value
    if part.sharpness is not None:
        if out.sharpness is None:
            out.sharpness_epochs = part.sharpness_epochs
            out.sharpness = np.full((R, part.sharpness.shape[1]), np.nan)
        out.sharpness[rows] = part.sharpness
    if part.dead_end is not None:
        if out.dead_end is None:
            out.dead_end = np.full((R, part.dead_end.shape[1]), np.nan)
        out.dead_end[rows] = part.dead_end


def _train_group(cfg, dataset, runs, max_memory, progress, threads) -> TrainResult:
    """``train`` for runs that share an optimizer and a batch size.

    Runs are independent, so a chunk is split into ``threads`` shards trained concurrently
    (NumPy releases the GIL in ufuncs and matrix products), each with a single-threaded BLAS:
    small batched products gain nothing from BLAS threads, and its spinning threads collapse
    when the machine is busy. A Ctrl-C stops every shard at its next step; what was trained
    is returned with ``complete=False``.
    """
    dtype = np.dtype(cfg.training.dtype)
    X = inputs(cfg, np.ascontiguousarray(dataset.X, dtype=dtype), dataset)
    Y = np.ascontiguousarray(dataset.Y, dtype=dtype)
    has_val = dataset.X_val is not None and len(dataset.X_val) > 0
    Xv = Yv = None
    if has_val:
        Xv = inputs(cfg, np.ascontiguousarray(dataset.X_val, dtype=dtype), dataset)
        Yv = np.ascontiguousarray(dataset.Y_val, dtype=dtype)
    R, E = len(runs), cfg.training.epochs
    loss = np.full((R, E + 1), np.nan)
    val_loss = np.full((R, E + 1), np.nan) if has_val else None
    diverged = np.full(R, -1, dtype=np.int64)
    done = np.zeros(R, dtype=np.int64)
    n_threads = max(1, threads or default_threads())
    n_val = 0 if Xv is None else len(Xv)
    p = plan(cfg, len(X), n_val, X.shape[1:], Y.shape[1], R, max_memory, n_threads)
    lrs = np.array([r.learning_rate for r in runs])
    scales = np.array([r.init_scale for r in runs])
    seeds = np.array([r.seed for r in runs])
    tick = progress or (lambda n: None)
    shard = -(-p.chunk_size // n_threads)  # n_threads shards at a time fill one chunk's memory
    stop = threading.Event()
    # Sharpness at init runs alone, before training; tracking shares memory with training.
    sharp = _Sharpness(
        cfg,
        dataset,
        R,
        p.max_memory // n_threads,
        inputs(cfg, dataset.X, dataset),
    )
    sharp.track_memory = max(1, p.max_memory - p.peak_bytes) // n_threads
    relu = cfg.model.activation == "relu" and len(cfg.model.hidden) > 0
    dead = np.full((R, len(cfg.model.hidden)), np.nan) if relu else None
    steps = _steps_for(cfg, runs)

    def work(lo: int, hi: int) -> None:
        try:
            with np.errstate(all="ignore"):  # error state is per thread
                _train_chunk(
                    cfg, (X, Y, Xv, Yv), lrs[lo:hi], scales[lo:hi], seeds[lo:hi], loss[lo:hi],
                    None if val_loss is None else val_loss[lo:hi], diverged[lo:hi], done[lo:hi],
                    tick, stop, sharp, lo, None if dead is None else dead[lo:hi],
                    steps.rows(lo, hi),
                )  # fmt: skip
        except KeyboardInterrupt:  # raised in a worker (a callback, a test): same as a Ctrl-C
            stop.set()

    sizes = architecture(cfg, X.shape[1:], Y.shape[1])
    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            futures = []
            start = time.perf_counter()
            try:  # submitting counts too: starting a thread waits for the GIL the others hold
                sharp.at_init(cfg, sizes, scales, seeds, dtype, pool, n_threads)
                start = time.perf_counter()  # training time excludes the sharpness at init
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
    wall = time.perf_counter() - start
    # Tracking runs inside the training threads: its share of the wall clock is its
    # thread-seconds over the threads that ran concurrently.
    tracking = sharp.track_seconds / max(1, min(n_threads, len(futures)))
    complete = not stop.is_set() and bool((done == E).all())
    result = TrainResult(loss, val_loss, diverged, done, wall - tracking, complete)
    result.dead_end = dead
    if steps.clip is not None:
        result.clipped, result.steps = steps.clipped, steps.steps
    if sharp.enabled:
        result.sharpness_init = sharp.init
        result.sharpness_seconds = sharp.init_seconds + tracking
        if sharp.epochs:
            result.sharpness_epochs, result.sharpness = sharp.epochs, sharp.track
    return result
