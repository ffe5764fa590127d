"""What a sweep says per init scale: the stable range of learning rates and the one to use.

A learning rate *converges* for an init scale when every seed's run at it converges. Going up
the learning rates, the *bracket* is the first step from a converging rate to a non-converging
one; the *recommended* rate has the lowest median final loss among converging rates.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from lrdiag.classify import VERDICTS


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
        best = min(converging, key=lambda lr: (finals[lr], lr)) if converging else None
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
