"""Expand the grid and train every run at once, in memory-bounded chunks.

The grid is init scales x seeds x learning rates (learning rate fastest). All runs of a chunk
train together: their weights carry the run on axis 0, so one batched matrix product per layer
per step serves every run. A run whose loss or weights become non-finite is recorded as
diverged at that epoch and dropped from the computation, so it can neither stop nor poison
the others.

Here: the grid, the plan (memory per run, chunk size), and ``train``, which splits the runs
into groups (optimizer, batch size) and shards of chunks trained on threads. The epoch loop of
one chunk is ``lrdiag.trainer``'s (``epoch_orders``, ``dead_units`` and ``network`` are
re-exported from it).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from lrdiag import convnet, model
from lrdiag.config import EXTRA_AXES
from lrdiag.errors import LrdiagError
from lrdiag.optim import BUFFERS
from lrdiag.trainer import Sharpness, steps_for, train_chunk
from lrdiag.trainer import dead_units as dead_units
from lrdiag.trainer import epoch_orders as epoch_orders
from lrdiag.trainer import network as network

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
    sharp = Sharpness(
        cfg,
        dataset,
        R,
        p.max_memory // n_threads,
        inputs(cfg, dataset.X, dataset),
    )
    sharp.track_memory = max(1, p.max_memory - p.peak_bytes) // n_threads
    relu = cfg.model.activation == "relu" and len(cfg.model.hidden) > 0
    dead = np.full((R, len(cfg.model.hidden)), np.nan) if relu else None
    steps = steps_for(cfg, runs)

    def work(lo: int, hi: int) -> None:
        try:
            with np.errstate(all="ignore"):  # error state is per thread
                train_chunk(
                    cfg, sizes, (X, Y, Xv, Yv), lrs[lo:hi], scales[lo:hi], seeds[lo:hi],
                    loss[lo:hi], None if val_loss is None else val_loss[lo:hi], diverged[lo:hi],
                    done[lo:hi],
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
