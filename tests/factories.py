"""Results documents made up for tests: the dicts results.json holds, with chosen verdicts.

``table_run`` / ``table_doc``: short curves (8 epochs) with reasons, flags and a summary, for
the terminal, Markdown, JSON and CSV reports. ``curve_run`` / ``curve_doc``: longer curves of
known shape (exponential decay, alternation, blow-up) for the plots.
"""

from __future__ import annotations

import numpy as np


def run_row(i, lr, scale, seed, verdict, loss, metrics, *, flags=()):
    """A run as results.json holds it, without a validation split; its reason is its verdict."""
    return {
        "id": i,
        "learning_rate": lr,
        "init_scale": scale,
        "seed": seed,
        "verdict": verdict,
        "reason": verdict,
        "flags": list(flags),
        "metrics": metrics,
        "loss": loss,
        "val_loss": None,
        "val": None,
    }


LRS = (0.01, 0.1, 1.0, 10.0)
VERDICT_AT = {0.01: "plateaued", 0.1: "converging", 1.0: "oscillating", 10.0: "diverging"}


def table_run(i, lr, scale, seed, verdict, *, epochs=8):
    """A run dict as results.json holds it; a diverging run has nulls after epoch 3."""
    if verdict == "diverging":
        loss = [0.7, 5.0, 80.0] + [None] * (epochs - 2)
        final, div = None, 3
    else:
        loss = [0.7 * 0.8**k for k in range(epochs + 1)]
        final, div = loss[-1], None
    finite = [x for x in loss if x is not None]
    metrics = {
        "initial": 0.7,
        "final": final,
        "min": min(finite),
        "min_epoch": finite.index(min(finite)),
        "diverged_epoch": div,
        "sharpness_init": 2.5 * scale,
    }
    flags = ["early_spike", "borderline"] if verdict == "converging" else []
    run = run_row(i, lr, scale, seed, verdict, loss, metrics, flags=flags)
    return {**run, "reason": f"{verdict}: made up for lr {lr}"}


def table_doc(lrs=LRS, scales=(1.0, 3.0), seeds=(0, 1), verdict_at=None):
    verdict_at = verdict_at or VERDICT_AT
    runs = []
    for scale in scales:
        for seed in seeds:
            for lr in lrs:
                runs.append(table_run(len(runs), lr, scale, seed, verdict_at[lr]))
    return {
        "schema_version": 1,
        "lrdiag_version": "0.1.0",
        "complete": True,
        "config": {
            "name": "unit-doc",
            "training": {"optimizer": "sgd", "epochs": 8, "seeds": list(seeds)},
            "sweep": {"learning_rates": list(lrs)},
        },
        "runs": runs,
        "summary": {
            "per_scale": [
                {
                    "init_scale": s,
                    "largest_converging_lr": 0.1,
                    "bracket": [0.1, 1.0],
                    "recommended_lr": 0.1,
                    "recommended_final_loss": 0.0123,
                }
                for s in scales
            ],
            "verdict_counts": {},
        },
        "timing": {"train_seconds": 0.5, "n_runs": len(runs)},
    }


def curve_run(i, lr, scale, seed, verdict, *, epochs=30, nan=False):
    """A run: diverging runs blow up and are null (or NaN) from epoch 6."""
    t = np.arange(epochs + 1)
    if verdict == "diverging":
        loss = 0.7 * np.exp(3.0 * t)
        loss[6:] = np.nan
        final, div = None, 6
    elif verdict == "oscillating":
        loss = 0.7 * np.exp(-0.05 * t) * (1 + 0.4 * (-1.0) ** t)
        final, div = float(loss[-1]), None
    else:
        loss = 0.7 * np.exp(-lr * scale * t) + 0.01 * (seed + 1)
        final, div = float(loss[-1]), None
    values = loss if nan else [None if not np.isfinite(x) else float(x) for x in loss]
    return run_row(
        i, lr, scale, seed, verdict, values, {"initial": 0.7, "final": final, "diverged_epoch": div}
    )


def curve_doc(lrs=(0.01, 0.1, 1.0, 10.0), scales=(1.0, 3.0), seeds=(0, 1), verdict=None, nan=False):
    verdict = verdict or {0.01: "converging", 0.1: "converging", 1.0: "oscillating"}
    runs = []
    for scale in scales:
        for seed in seeds:
            for lr in lrs:
                v = verdict.get(lr, "diverging") if isinstance(verdict, dict) else verdict
                runs.append(curve_run(len(runs), lr, scale, seed, v, nan=nan))
    return {"config": {"name": "plot-doc"}, "runs": runs, "summary": {}}
