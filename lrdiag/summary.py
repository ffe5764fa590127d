"""What a sweep says per init scale: the stable range of learning rates and the one to use.

A learning rate *converges* for an init scale when every seed's run at it converges. Going up
the learning rates, the *bracket* is the first step from a converging rate to a non-converging
one; the *recommended* rate has the lowest median final loss among converging rates. Final
losses within TIE_RTOL of the lowest tie with it (rounding cannot choose between them), and a
tie goes to the smallest of those rates: the sweep's budget was enough for each, so the larger
rates' speed bought nothing here, while the smallest has the most room below the rates that
fail (and below a sharpness that may grow during training).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from lrdiag.thresholds import VERDICTS

# Final losses this close (relative) are a tie: above the rounding of a float32 loss (eps 1.2e-7,
# a few times over in a mean over samples), far below any difference worth choosing a rate for.
TIE_RTOL = 1e-6


def summarize(runs: list[dict]) -> dict:
    """``runs`` are result rows with learning_rate, init_scale, verdict and metrics.final."""
    by_scale: dict[float, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        by_scale[run["init_scale"]][run["learning_rate"]].append(run)
    per_scale = []
    for scale in sorted(by_scale):
        rates = sorted(by_scale[scale])
        ok = {lr: _converges(by_scale[scale][lr]) for lr in rates}
        converging = [lr for lr in rates if ok[lr]]
        finals = {
            lr: float(np.median([r["metrics"]["final"] for r in by_scale[scale][lr]]))
            for lr in converging
        }
        best = _recommended(finals)
        per_scale.append(
            {
                "init_scale": scale,
                "largest_converging_lr": max(converging) if converging else None,
                "bracket": _first_failure(ok),
                "recommended_lr": best,
                "recommended_final_loss": finals[best] if best is not None else None,
            }
        )
    counts = Counter(run["verdict"] for run in runs)
    return {
        "per_scale": per_scale,
        "verdict_counts": {v: counts.get(v, 0) for v in VERDICTS},
    }


def bracket(runs: Iterable[Mapping]) -> list[float] | None:
    """The bracket of ``runs`` at one init scale: ``[lo, hi]``, the first step going up the
    learning rates from one where every seed converges to one where some seed does not."""
    by_rate: dict[float, list[Mapping]] = defaultdict(list)
    for run in runs:
        by_rate[run["learning_rate"]].append(run)
    return _first_failure({lr: _converges(by_rate[lr]) for lr in sorted(by_rate)})


def stable_up_to(entry: Mapping) -> float | None:
    """The top of the first run of converging rates going up, for a ``per_scale`` entry: the
    bracket's lower end, else the largest converging rate (no rate above it fails)."""
    step = entry.get("bracket")
    return step[0] if step else entry.get("largest_converging_lr")


def _converges(runs: Iterable[Mapping]) -> bool:
    """A learning rate converges when the run of every seed at it converges."""
    return all(run.get("verdict") == "converging" for run in runs)


def _first_failure(ok: dict[float, bool]) -> list[float] | None:
    """``[lo, hi]``: the first neighbouring rates (ascending keys of ``ok``) where ``lo``
    converges and ``hi`` does not; None when there is no such step."""
    rates = sorted(ok)
    return next(
        ([lo, hi] for lo, hi in zip(rates[:-1], rates[1:], strict=True) if ok[lo] and not ok[hi]),
        None,
    )


def _recommended(finals: dict[float, float]) -> float | None:
    """The rate with the lowest final loss; of rates tied with it (TIE_RTOL), the smallest."""
    if not finals:
        return None
    low = min(finals.values())
    tied = [lr for lr, f in finals.items() if f - low <= TIE_RTOL * max(abs(low), abs(f))]
    return min(tied)


# Loss scale vs learning rate: the losses of a grid "grow as a power of the learning rate" when
# the least-squares slope of log(loss) on log(lr), over at least LOSS_SCALE_MIN_RATES rates,
# is at least LOSS_SCALE_EXPONENT and the fit explains at least LOSS_SCALE_R2 of the variance.
# A healthy grid's final losses fall (or stay) as lr grows: a loss that grows with lr while it
# still trains says the loss's scale is set by the step (logits moved by lr x |x|), not that
# larger rates diverge.
LOSS_SCALE_EXPONENT = 0.5
LOSS_SCALE_R2 = 0.9
LOSS_SCALE_MIN_RATES = 3


def loss_scale(runs: list[dict]) -> list[dict]:
    """Per init scale whose final or first-epoch losses grow as a power of lr: {"init_scale",
    "final_exponent", "first_epoch_exponent" (None when not fitted), "rates"}.

    Each rate's loss is the median over its seeds of runs whose losses are finite; the first
    epoch's is ``loss[1]`` (the loss after one epoch)."""
    by_scale: dict[float, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        by_scale[run["init_scale"]][run["learning_rate"]].append(run)
    found = []
    for scale in sorted(by_scale):
        fits = {}
        for key, pick in (("final_exponent", -1), ("first_epoch_exponent", 1)):
            points = []
            for lr in sorted(by_scale[scale]):
                values = [_at(r.get("loss"), pick) for r in by_scale[scale][lr]]
                positive = [v for v in values if v is not None and v > 0]
                if positive:
                    points.append((lr, float(np.median(positive))))
            fits[key] = _power_fit(points)
        if any(f is not None for f in fits.values()):
            found.append({"init_scale": scale, **fits, "rates": sorted(by_scale[scale])})
    return found


def _at(loss, index: int) -> float | None:
    """loss[index] when it is a finite number (None for a diverged or missing value)."""
    if not loss or len(loss) <= max(index, 1):
        return None
    value = loss[index]
    return float(value) if value is not None and np.isfinite(value) else None


def _power_fit(points: list[tuple[float, float]]) -> float | None:
    """The exponent of loss ~ lr^k when the fit is good and k >= LOSS_SCALE_EXPONENT."""
    if len(points) < LOSS_SCALE_MIN_RATES:
        return None
    x = np.log([p[0] for p in points])
    y = np.log([p[1] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    spread = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 0.0
    return float(slope) if slope >= LOSS_SCALE_EXPONENT and r2 >= LOSS_SCALE_R2 else None
