"""The learning-rate range test (``lrdiag find``), as fastai and pytorch-lr-finder run it.

One run per (init scale, seed), all trained at once on the run axis: the learning rate grows
exponentially, one batch a step, from ``find.min`` to ``find.max``; the loss is smoothed; a run
stops once its smoothed loss is more than ``find.stop_factor`` times its best, or not finite
(it is dropped from the computation, the others go on). The suggestions are read off each
run's smoothed curve, then a short sweep (the ordinary engine, ``lrdiag.sweep``) measures the
answer the suggestions guess at: the largest converging learning rate and its bracket.

The anchors, followed to the formula (their code, read for this module):

* fastai ``fastai/callback/schedule.py``: ``LRFinder`` (``SchedExp``: lr_i = start (end /
  start)^(i / num_it), i = 0 .. num_it - 1, so ``end`` itself is never used; stop when the
  smoothed loss > 4 x the best), ``Learner.lr_find`` (defaults 1e-7, 10, 100 steps; the
  suggestions see the recorded curve without its first num_it // 10 and last 5 points, cut at
  its first NaN) and the ``SuggestionMethod``s ``steep``, ``valley``, ``minimum``, ``slide``;
  ``fastai/learner.py``: ``AvgSmoothLoss`` (val = lerp(loss, val, beta), reported as
  val / (1 - beta^count): the moving average with its bias corrected, beta 0.98). The loss
  recorded at step i is the batch's, computed before the step that uses lr_i.
* pytorch-lr-finder ``torch_lr_finder/lr_finder.py`` (``LRFinder.range_test`` and ``plot``)
  runs the same test with other constants (the ramp reaches ``end_lr`` at its last step,
  smoothing 0.05 without bias correction, stop at 5 x the best) and suggests the steepest
  point by ``np.gradient`` over the index; lrdiag uses fastai's constants throughout.

Where fastai would go on with a NaN loss (NaN > 4 x best is false), a run stops here: fastai's
lr_find cuts the curve at its first NaN before suggesting, so the suggestions are the same.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from lrdiag import __version__, model, schedule, stability
from lrdiag import sweep as engine
from lrdiag.config import config_to_dict
from lrdiag.optim import make_optimizer, select_runs

SCHEMA_VERSION = 1
METHODS = ("steep", "valley", "minimum", "slide")  # fastai's SuggestionMethod, in this order
SKIP_END = 5  # lr_find: the last 5 recorded points are left out of the suggestions
SLIDE_LR_DIFF = 15  # slide(): points between the two ends of the window it slides
SLIDE_THRESH = 0.005  # slide(): |gradient difference| (loss units a step) that ends the slide
SLIDE_ADJUST = 1.0  # slide(): the suggestion's multiplier
MINIMUM_DIVISOR = 10.0  # minimum(): one tenth of the learning rate of the lowest loss
# The limit at init, as the report names it, for the optimizers that have one on a quadratic
# (lrdiag.stability.stable_limit: lr * lambda_max below it is stable); adaptive ones have none.
LIMIT_NAMES = {
    "sgd": "2/lambda_max",
    "momentum": "2(1+beta)/lambda_max",
    "nesterov": "2(1+beta)/(1+2beta)/lambda_max",
}


def ramp(lo: float, hi: float, steps: int) -> np.ndarray:
    """(steps,) fastai's SchedExp at pos i / steps: lo (hi / lo)^(i / steps), i = 0 .. steps - 1."""
    return lo * (hi / lo) ** (np.arange(steps) / steps)


def smooth(losses: np.ndarray, beta: float) -> np.ndarray:
    """The bias-corrected moving average along the last axis (fastai's AvgSmoothLoss): a value
    and everything after it are NaN once a loss is not finite."""
    losses = np.asarray(losses, dtype=np.float64)
    out = np.full(losses.shape, np.nan)
    avg = np.zeros(losses.shape[:-1])
    ok = np.ones(losses.shape[:-1], dtype=bool)
    with np.errstate(all="ignore"):
        for i in range(losses.shape[-1]):
            avg = losses[..., i] + beta * (avg - losses[..., i])  # torch.lerp(loss, avg, beta)
            ok &= np.isfinite(avg)
            out[..., i] = np.where(ok, avg / (1.0 - beta ** (i + 1)), np.nan)
    return out


@dataclass
class RangeTest:
    """What the test recorded, one row per run (init scale slowest, then seed)."""

    lrs: np.ndarray  # (T,) the ramp
    loss: np.ndarray  # (R, T) each step's batch loss before its step, NaN after the stop
    smoothed: np.ndarray  # (R, T) the smoothed loss, NaN where not finite and after the stop
    stopped: np.ndarray  # (R,) step at which the run stopped, -1 if it ran the whole ramp
    reason: list  # (R,) "diverged" (smoothed > stop_factor x best), "not_finite" or None
    scales: np.ndarray  # (R,)
    seeds: np.ndarray  # (R,)

    def recorded(self, r: int) -> int:
        """Points fastai's Recorder holds for run r: up to and including its stopping step."""
        return len(self.lrs) if self.stopped[r] < 0 else int(self.stopped[r]) + 1


def _batches(X, Y, cfg, steps: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One batch a step: the whole set (full batch), or the sweep's batches, epoch after epoch
    in the sweep's order (``sweep.epoch_orders``), for as many epochs as the steps need (the
    last epoch may be left part way)."""
    bs = cfg.training.batch_size
    if bs is None:
        for _ in range(steps):
            yield X, Y
        return
    per_epoch = -(-len(X) // bs)
    for order in engine.epoch_orders(len(X), -(-steps // per_epoch), cfg.data.seed):
        for start in range(0, len(X), bs):
            rows = order[start : start + bs]
            yield X[rows], Y[rows]


def range_test(cfg, dataset) -> RangeTest:
    """Run the test for every (init scale, seed) of ``cfg`` at once (see the module docstring).

    The optimizer is the config's (``optim.make_optimizer``: its momentum, betas, weight decay),
    stepped with one learning rate per run; ``loss_reduction: sum`` steps on the summed loss and
    ``clip_grad_norm`` clips, as the sweep does. ``training.schedule`` (and its warmup) is not
    used: the ramp is the schedule, as fastai's lr_find replaces the learner's.
    """
    f = cfg.find
    dtype = np.dtype(cfg.training.dtype)
    X = engine.inputs(cfg, np.ascontiguousarray(dataset.X, dtype=dtype), dataset)
    Y = np.ascontiguousarray(dataset.Y, dtype=dtype)
    seeds = np.tile(np.asarray(cfg.training.seeds, dtype=np.int64), len(cfg.init.scales))
    scales = np.repeat(np.asarray(cfg.init.scales, dtype=np.float64), len(cfg.training.seeds))
    R, T = len(seeds), f.steps
    net = engine.network(cfg)  # lrdiag.model (an MLP) or lrdiag.convnet, as the sweep trains
    sizes = engine.architecture(cfg, X.shape[1:], Y.shape[1])
    params = net.init_params(sizes, cfg.init.scheme, scales, seeds, dtype, path=cfg.init.path)
    opt = make_optimizer(cfg.training)
    state = opt.init(params)
    clip_norm = cfg.training.clip_grad_norm
    lrs = ramp(f.min, f.max, T)
    loss, smoothed = np.full((R, T), np.nan), np.full((R, T), np.nan)
    stopped, reason = np.full(R, -1, dtype=np.int64), [None] * R
    live = np.arange(R)  # the runs still on the ramp
    avg, best = np.zeros(R), np.full(R, np.inf)
    ws = model.Workspace()
    summed = cfg.training.loss_reduction == "sum"
    with np.errstate(all="ignore"):
        for i, (xb, yb) in zip(range(T), _batches(X, Y, cfg, T), strict=False):
            raw, grads = net.loss_and_grads(params, xb, yb, cfg.model, ws)
            raw = raw.astype(np.float64)
            avg = raw + f.beta * (avg - raw)  # torch.lerp(loss, avg, beta): AvgSmoothLoss
            s = avg / (1.0 - f.beta ** (i + 1))
            finite = np.isfinite(s)
            loss[live, i] = np.where(np.isfinite(raw), raw, np.nan)
            smoothed[live, i] = np.where(finite, s, np.nan)
            best = np.where(finite, np.minimum(best, s), best)
            diverged = finite & (s > f.stop_factor * best) if f.stop_factor else finite & False
            out = ~finite | diverged
            stopped[live[out]] = i
            for r, why in zip(live[out], diverged[out], strict=True):
                reason[r] = "diverged" if why else "not_finite"
            if out.any():
                keep = np.flatnonzero(~out)
                params = {k: v[keep] for k, v in params.items()}
                grads = {k: g[keep] for k, g in grads.items()}
                state = select_runs(state, keep)
                avg, best, live = avg[keep], best[keep], live[keep]
            if len(live) == 0:
                break
            if summed:
                for g in grads.values():
                    g *= len(xb)
            if clip_norm is not None:  # as the sweep: clip_grad_norm_ on what the optimizer sees
                schedule.clip(grads, clip_norm)
            state = opt.apply(params, grads, state, np.full(len(live), lrs[i], dtype=dtype))
    return RangeTest(lrs, loss, smoothed, stopped, reason, scales, seeds)


# --------------------------------------------------------------------------- suggestions


def window(lrs: np.ndarray, smoothed: np.ndarray, recorded: int, steps: int):
    """The points lr_find hands its suggestion functions: the recorded curve without its first
    ``steps // 10`` and last ``SKIP_END`` points, cut at its first NaN."""
    lo, hi = steps // 10, max(recorded - SKIP_END, 0)
    x, y = np.asarray(lrs[lo:hi], dtype=np.float64), np.asarray(smoothed[lo:hi], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        x, y = x[: bad[0]], y[: bad[0]]
    return x, y


def steep(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai ``steep``: the learning rate where the loss falls fastest per unit of log lr
    (forward differences; the left end of the steepest segment)."""
    if len(losses) < 2:
        return None
    grads = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[np.argmin(grads)])


def valley(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai ``valley``: along the longest strictly decreasing subsequence (``lds[i]``: its
    length ending at point i), the point a third plus a sixth of the way.

    As fastai computes it: the end is the first point of the greatest length, the start is
    ``end - lds[end]`` (one point before the subsequence's first), or 0 when nothing
    decreases; an index of -1 is Python's, the last point."""
    n = len(losses)
    if n == 0:
        return None
    lds = np.ones(n, dtype=np.int64)
    max_start = max_end = 0
    for i in range(1, n):
        # lds[i] after each j of fastai's inner loop: a running maximum from 1; the end moves to
        # i when it first passes the longest so far
        cand = np.where(losses[i] < losses[:i], lds[:i] + 1, 1)
        after = np.maximum.accumulate(cand)
        lds[i] = after[-1]
        passed = np.flatnonzero(after > lds[max_end])
        if passed.size:
            max_end, max_start = i, i - int(after[passed[0]])
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])  # Python indexing, as fastai's: -1 is the last point


def minimum(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai ``minimum``: a tenth of the learning rate of the lowest loss."""
    if len(losses) == 0:
        return None
    return float(lrs[np.argmin(losses)]) / MINIMUM_DIVISOR


def slide(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """fastai ``slide``: from the right end, slide a window of SLIDE_LR_DIFF points left while
    the loss gradients (``np.gradient`` over the index) at its two ends differ by more than
    SLIDE_THRESH; the learning rate at its left end (before the last move) x SLIDE_ADJUST."""
    n = len(losses)
    if n < SLIDE_LR_DIFF + 1:
        return None
    grad = np.gradient(losses)
    r = -1
    left = r - SLIDE_LR_DIFF
    found = lrs[left]
    while left >= -n and abs(grad[r] - grad[left]) > SLIDE_THRESH:
        found = lrs[left]
        r -= 1
        left -= 1
    return float(found) * SLIDE_ADJUST


SUGGESTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float | None]] = {
    "steep": steep,
    "valley": valley,
    "minimum": minimum,
    "slide": slide,
}


def suggest(test: RangeTest, r: int) -> dict[str, float | None]:
    """Each method's suggestion for run r (None: too few points left to read it)."""
    x, y = window(test.lrs, test.smoothed[r], test.recorded(r), len(test.lrs))
    return {name: SUGGESTIONS[name](x, y) for name in METHODS}


def lowest_loss_lr(test: RangeTest, r: int) -> float | None:
    """The learning rate of run r's lowest smoothed loss in the suggestions' window."""
    x, y = window(test.lrs, test.smoothed[r], test.recorded(r), len(test.lrs))
    return float(x[np.argmin(y)]) if len(y) else None


def spread(values: list[float | None]) -> dict | None:
    """How much a suggestion moves from seed to seed: median, min, max and max / min."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return None
    return {
        "median": float(np.median(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "ratio": float(v.max() / v.min()),
        "seeds": int(v.size),
    }


# --------------------------------------------------------------------------- the short sweep


def sweep_grid(lrs: list[float], margin: float, per_decade: int) -> tuple[float, ...]:
    """Learning rates from min(lrs) / margin to max(lrs) x margin on a grid of ``per_decade``
    points a decade aligned to the powers of ten (10^(k / per_decade), 3 significant digits)."""
    lo, hi = min(lrs) / margin, max(lrs) * margin
    k_lo = math.floor(math.log10(lo) * per_decade + 1e-9)
    k_hi = math.ceil(math.log10(hi) * per_decade - 1e-9)
    values = {float(f"{10 ** (k / per_decade):.3g}") for k in range(k_lo, k_hi + 1)}
    return tuple(sorted(values))


def sweep_config(cfg, rows: list[dict]):
    """The config of the short sweep: ``cfg`` with learning rates around every run's
    suggestions, its lowest-loss learning rate and the last learning rate it reached (where its
    loss blew up, or the ramp's end), so that the sweep reaches where the test saw trouble;
    None when no run gave a suggestion."""
    points = [v for row in rows for v in row["suggestions"].values() if v is not None]
    if not points:
        return None
    points += [row["lowest_loss_lr"] for row in rows if row["lowest_loss_lr"] is not None]
    points += [row["last_lr"] for row in rows]
    grid = sweep_grid(points, cfg.find.sweep_margin, cfg.find.sweep_per_decade)
    return dataclasses.replace(cfg, sweep=dataclasses.replace(cfg.sweep, learning_rates=grid))


# --------------------------------------------------------------------------- the limit at init


def predicted_limits(cfg, dataset) -> np.ndarray | None:
    """(R,) the stable limit at each run's initial weights, ``stable_limit / lambda_max``
    (2 / lambda_max for sgd), in the order of ``range_test``'s runs; None where the stability
    section or the optimizer has no such limit (``stability.sharpness`` off, or auto with
    mini-batches; an adaptive optimizer)."""
    mode = cfg.stability.sharpness
    on = mode == "on" or (mode == "auto" and cfg.training.batch_size is None)
    limit = stability.stable_limit(cfg.training.optimizer, cfg.training.momentum)
    if not on or limit is None:
        return None
    seeds = np.tile(np.asarray(cfg.training.seeds, dtype=np.int64), len(cfg.init.scales))
    scales = np.repeat(np.asarray(cfg.init.scales, dtype=np.float64), len(cfg.training.seeds))
    X = engine.inputs(cfg, np.asarray(dataset.X, dtype=np.float64), dataset)
    X, Y = stability.subset(X, dataset.Y, cfg.stability.samples, seed=cfg.data.seed)
    sizes = engine.architecture(cfg, X.shape[1:], Y.shape[1])
    params = engine.network(cfg).init_params(
        sizes, cfg.init.scheme, scales, seeds, np.float64, path=cfg.init.path
    )
    summed = cfg.training.loss_reduction == "sum"
    factor = float(cfg.training.batch_size or len(dataset.X)) if summed else 1.0
    with np.errstate(all="ignore"):
        lam = factor * stability.sharpness(params, X, Y, cfg.model)
    return limit / 2.0 * stability.critical_lr(lam)  # critical_lr: 2 / lambda_max


# --------------------------------------------------------------------------- the document


def _finite_list(values) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def _rows(test: RangeTest, limits: np.ndarray | None) -> list[dict]:
    rows = []
    for r in range(len(test.seeds)):
        stop = int(test.stopped[r])
        crit = None if limits is None or not np.isfinite(limits[r]) else float(limits[r])
        rows.append(
            {
                "id": r,
                "init_scale": float(test.scales[r]),
                "seed": int(test.seeds[r]),
                "steps_done": test.recorded(r),
                "stopped_at": None if stop < 0 else stop,
                "stop_reason": test.reason[r],
                "stop_lr": None if stop < 0 else float(test.lrs[stop]),
                "last_lr": float(test.lrs[test.recorded(r) - 1]),
                "suggestions": suggest(test, r),
                "lowest_loss_lr": lowest_loss_lr(test, r),
                "critical_lr": crit,
                "loss": _finite_list(test.loss[r, : test.recorded(r)]),
                "smoothed": _finite_list(test.smoothed[r, : test.recorded(r)]),
            }
        )
    return rows


def _per_scale(rows: list[dict], sweep_doc: dict | None) -> list[dict]:
    measured = {}
    if sweep_doc is not None:
        measured = {s["init_scale"]: s for s in sweep_doc["summary"]["per_scale"]}
    out = []
    for scale in sorted({row["init_scale"] for row in rows}):
        mine = [row for row in rows if row["init_scale"] == scale]
        crits = [row["critical_lr"] for row in mine if row["critical_lr"] is not None]
        m = measured.get(scale)
        out.append(
            {
                "init_scale": scale,
                "suggestions": {
                    name: spread([row["suggestions"][name] for row in mine]) for name in METHODS
                },
                "critical_lr": float(np.median(crits)) if crits else None,
                "largest_converging_lr": None if m is None else m["largest_converging_lr"],
                "bracket": None if m is None else m["bracket"],
                "recommended_lr": None if m is None else m["recommended_lr"],
            }
        )
    return out


def document(
    cfg, test: RangeTest, limits: np.ndarray | None, sweep_doc: dict | None, rows=None
) -> dict:
    """The find document (find.json): the ramp, each run's curve, stop and suggestions, and per
    init scale the suggestions' spread over seeds beside the limit at init and the short
    sweep's measured answer (None without a sweep). Nothing in it varies between two runs of
    the same config on the same machine. ``rows``: ``_rows(test, limits)``, if already made."""
    rows = _rows(test, limits) if rows is None else rows
    sweep = None
    if sweep_doc is not None:
        sweep = {
            "learning_rates": sweep_doc["config"]["sweep"]["learning_rates"],
            "epochs": sweep_doc["config"]["training"]["epochs"],
            "complete": sweep_doc["complete"],
            "verdict_counts": sweep_doc["summary"]["verdict_counts"],
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "lrdiag_version": __version__,
        "kind": "find",
        "complete": sweep_doc is None or bool(sweep_doc["complete"]),
        "config": config_to_dict(cfg),
        "lrs": [float(x) for x in test.lrs],
        "runs": rows,
        "per_scale": _per_scale(rows, sweep_doc),
        "limit": LIMIT_NAMES.get(cfg.training.optimizer) if limits is not None else None,
        "sweep": sweep,
    }


Trainer = Callable  # (cfg, dataset, runs) -> sweep.TrainResult


def run(cfg, dataset, *, sweep: bool = True, train: Trainer | None = None):
    """The whole of ``lrdiag find``: the range test, the limit at init, and (``sweep``) the short
    sweep around the suggestions. ``train(cfg, dataset, runs)`` trains the sweep (default
    ``lrdiag.sweep.train``; the CLI passes one with a progress bar). Returns the find document
    and the sweep's results document (None without a sweep, or when no run gave a suggestion).
    """
    from lrdiag import lints, results

    test = range_test(cfg, dataset)
    limits = predicted_limits(cfg, dataset)
    rows, sweep_doc = _rows(test, limits), None
    found = lints.check_config(cfg, dataset)
    sweep_cfg = sweep_config(cfg, rows) if sweep else None
    if sweep_cfg is not None:
        runs = engine.expand_grid(sweep_cfg)
        result = (train or engine.train)(sweep_cfg, dataset, runs)
        sweep_doc = results.document(sweep_cfg, runs, result, dataset.n_classes, found)
    doc = document(cfg, test, limits, sweep_doc, rows)
    # the config's lints; with a sweep, its own too (grid_misses_boundary, dead_relu)
    doc["warnings"] = sweep_doc["warnings"] if sweep_doc else [w.to_dict() for w in found]
    return doc, sweep_doc
