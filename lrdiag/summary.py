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

import numpy as np

from lrdiag.classify import VERDICTS

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
        ok = {lr: all(r["verdict"] == "converging" for r in by_scale[scale][lr]) for lr in rates}
        converging = [lr for lr in rates if ok[lr]]
        bracket = next(
            (
                [lo, hi]
                for lo, hi in zip(rates[:-1], rates[1:], strict=True)
                if ok[lo] and not ok[hi]
            ),
            None,
        )
        finals = {
            lr: float(np.median([r["metrics"]["final"] for r in by_scale[scale][lr]]))
            for lr in converging
        }
        best = _recommended(finals)
        per_scale.append(
            {
                "init_scale": scale,
                "largest_converging_lr": max(converging) if converging else None,
                "bracket": bracket,
                "recommended_lr": best,
                "recommended_final_loss": finals[best] if best is not None else None,
            }
        )
    counts = Counter(run["verdict"] for run in runs)
    return {
        "per_scale": per_scale,
        "verdict_counts": {v: counts.get(v, 0) for v in VERDICTS},
    }


def _recommended(finals: dict[float, float]) -> float | None:
    """The rate with the lowest final loss; of rates tied with it (TIE_RTOL), the smallest."""
    if not finals:
        return None
    low = min(finals.values())
    tied = [lr for lr, f in finals.items() if f - low <= TIE_RTOL * max(abs(low), abs(f))]
    return min(tied)
