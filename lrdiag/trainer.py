"""Train one chunk of runs together: the epoch loop of ``lrdiag.sweep``.

A chunk's runs share one loop: their parameters and optimizer state carry the run on axis 0, and
each step is one batched forward and backward pass (``model.loss_and_grads``, or the conv net's)
and one optimizer step for all of them. Per-run settings (learning rate, warmup, clipping and a
sweep's other hyper-parameters) are arrays over the runs (``Steps``). A run whose loss or
weights become non-finite is recorded as diverged at that epoch and dropped from the chunk
(``Chunk.drop``), so it can neither stop nor poison the others. ``Sharpness`` computes the top
Hessian eigenvalue at init and, when asked, every few epochs beside training.

``lrdiag.sweep`` plans the chunks, shards them over threads and gathers the results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lrdiag import convnet, model, schedule, stability
from lrdiag.optim import make_optimizer, preconditioner, select_runs


def network(cfg):
    """What trains ``cfg.model``: lrdiag.convnet for ``model.layers``, else the MLP (lrdiag.model);
    both have init_params, loss and loss_and_grads with the same contract."""
    return convnet if cfg.model.layers is not None else model


def epoch_orders(n: int, epochs: int, seed: int) -> Iterator[np.ndarray]:
    """Each epoch's sample order, the same for every run of a sweep (drawn from the data seed)."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    for _ in range(epochs):
        yield rng.permutation(n)


def finite_params(params) -> np.ndarray:
    """(R,) True where every parameter of the run is finite (a sum propagates inf and NaN)."""
    ok = np.ones(next(iter(params.values())).shape[0], dtype=bool)
    for p in params.values():
        ok &= np.isfinite(p.reshape(len(p), -1).sum(axis=1))
    return ok


class Sharpness:
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
            X, Y = stability.subset(
                dataset.X if X is None else X, dataset.Y, cfg.stability.samples, seed=cfg.data.seed
            )
            # float64 whatever the dataset's dtype (a float32 sweep's data is loaded in float32)
            self.X, self.Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)

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

    def at_epoch(self, k: int, c: Chunk, spec, offset: int) -> None:
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
class Steps:
    """Per-run step settings of a chunk's runs (warmup, clipping) and what the steps did."""

    warmup: np.ndarray  # (R,) warmup steps of each run (its schedule's unit)
    clip: np.ndarray | None  # (R,) max gradient norm per run (inf: off), or None: no clipping
    clipped: np.ndarray  # (R,) int: steps whose gradients were clipped (written per run)
    steps: np.ndarray  # (R,) int: optimizer steps taken
    hyper: dict  # optimizer hyper-parameters a sweep varies: name -> (R,) (optim.make_optimizer)

    def rows(self, lo: int, hi: int) -> Steps:
        """Runs lo to hi: views, so that what their steps record lands in these arrays."""
        clip = None if self.clip is None else self.clip[lo:hi]
        hyper = {k: v[lo:hi] for k, v in self.hyper.items()}
        return Steps(self.warmup[lo:hi], clip, self.clipped[lo:hi], self.steps[lo:hi], hyper)


def steps_for(cfg, runs_or_count) -> Steps:
    """Each run's warmup, clipping and varied hyper-parameters: the run's axis value, else
    the config's."""
    runs = [None] * runs_or_count if isinstance(runs_or_count, int) else runs_or_count

    def value(run, name, default=None):  # a count of runs: every run has the config's values
        return default if run is None else run.value(name, default)

    t = cfg.training
    warmup = np.array([value(r, "warmup_steps", t.schedule.warmup_steps) for r in runs], np.int64)
    clips = [value(r, "clip_grad_norm", t.clip_grad_norm) for r in runs]
    clip = None
    if any(c is not None for c in clips):
        clip = np.array([np.inf if c is None else float(c) for c in clips])  # inf: off
    hyper = {
        key: np.array([float(value(r, key)) for r in runs])
        for key in ("momentum", "weight_decay")
        if getattr(cfg.sweep, key) is not None
    }
    zeros = np.zeros(len(runs), dtype=np.int64)
    return Steps(warmup, clip, zeros, zeros.copy(), hyper)


class Chunk:
    """The live runs of one chunk: parameters, optimizer state, learning rates, run indices."""

    def __init__(
        self, cfg, sizes, lrs, scales, seeds, dtype, steps: Steps, steps_per_epoch=1, rows=None
    ):
        self.net = network(cfg)  # lrdiag.model or lrdiag.convnet
        self.params = self.net.init_params(
            sizes, cfg.init.scheme, scales, seeds, dtype, path=cfg.init.path
        )
        if rows and self.net is model:  # rows: a step's samples; the optimizer's buffers follow
            self.params = model.training_layout(self.params, rows)
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


def train_chunk(
    cfg, sizes, data, lrs, scales, seeds, loss, val_loss, diverged, done, tick, stop, sharp, offset,
    dead=None, steps=None,
):  # fmt: skip
    """Train one chunk (``run_chunk``) of the network ``sizes`` describes (``sweep.architecture``);
    then, with ``dead`` (its rows of TrainResult.dead_end), the share of each hidden layer's ReLU
    units that never fire on the training rows.
    ``steps``: the chunk's rows of the per-run step settings and records (``Steps``)."""
    X = data[0]
    steps = steps_for(cfg, len(lrs)) if steps is None else steps
    bs = cfg.training.batch_size
    per_epoch = 1 if bs is None else -(-len(X) // bs)
    c = Chunk(cfg, sizes, lrs, scales, seeds, X.dtype, steps, per_epoch, min(bs or len(X), len(X)))
    run_chunk(
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


def run_chunk(
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
            bad = record(k, losses, ~finite_params(c.params))
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
    # A batch's rows are gathered into buffers reused every step: no shuffled copy of the whole
    # data per epoch (per thread), and the rows a step reads are the ones just written.
    x_buf = np.empty((min(bs, len(X)), *X.shape[1:]), X.dtype)
    y_buf = np.empty((min(bs, len(Y)), *Y.shape[1:]), Y.dtype)

    def batch(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # mode="clip": rows are always in range, and NumPy buffers ``out`` under the default
        # mode="raise" (a second copy: W2's gather took twice as long)
        m = len(rows)
        x = np.take(X, rows, axis=0, out=x_buf[:m], mode="clip")
        return x, np.take(Y, rows, axis=0, out=y_buf[:m], mode="clip")

    # Epoch 0's loss depends on the initial weights only: once per distinct (seed, scale).
    pairs = np.stack([np.asarray(seeds, np.float64), np.asarray(scales, np.float64)], axis=1)
    _, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    initial = c.net.loss({k: v[first] for k, v in c.params.items()}, X, Y, spec)
    retire(0, record(0, initial[np.reshape(inverse, -1)], ~finite_params(c.params)))
    done[c.rows] = 0
    if sharp.epochs and len(c.rows):
        sharp.at_epoch(0, c, spec, offset)
    for k, order in enumerate(epoch_orders(len(X), E, cfg.data.seed), start=1):
        if len(c.rows) == 0 or stop.is_set():
            return
        total = np.zeros(len(c.rows))
        for start in range(0, len(X), bs):
            xb, yb = batch(order[start : start + bs])
            losses, grads = c.net.loss_and_grads(c.params, xb, yb, spec, c.ws)
            total += losses
            c.step(grads, min(bs, len(X) - start))
            # A run whose weights overflow shows it in its next loss; its weights are checked
            # at the end of the epoch (the same epoch is recorded either way).
            bad = ~np.isfinite(total)
            if start + bs >= len(X):
                bad |= ~finite_params(c.params)
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
