"""The results document: each run's verdict, reason, flags and metrics, and the summary.

``document(cfg, runs, result, n_classes)`` is what results.json holds. Verdicts come from
``classify`` (the same function ``lrdiag classify`` uses); when the sweep measured sharpness,
the reasons say how the learning rate compares with the stable limit 2(1 + momentum)/sharpness.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from lrdiag import __version__, lints
from lrdiag.classify import FLAGS, classify
from lrdiag.config import Config, config_to_dict
from lrdiag.formatting import finite
from lrdiag.stability import adaptive_limit, stable_limit
from lrdiag.summary import loss_scale, summarize
from lrdiag.sweep import Run, TrainResult, run_config

SCHEMA_VERSION = 3  # 3: issue 18 (config_hash, shard, curves in a columnar file)
EOS_NEAR = 0.9  # edge of stability: tracked sharpness reached this fraction of 2(1 + beta)/lr


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    """A curve as JSON numbers, None for NaN and inf (``formatting.finite`` of each value; a
    float array's ``tolist`` gives the same floats, without a call per value: W1 has 25,728)."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return [finite(v) for v in values]
    out = values.tolist()
    if np.isfinite(values).all():
        return out
    return [v if math.isfinite(v) else None for v in out]


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


def judge(cfg: Config, runs: list[Run], result: TrainResult, n_classes: int | None) -> list[dict]:
    """Result rows: the run, its verdict (via classify), reason, flags, metrics and curves.

    A Ctrl-C (KeyboardInterrupt) while judging stops it: the runs not judged yet get no
    verdict and the flag ``incomplete``, as the runs an interrupted training left unfinished.
    """
    rows = []
    judging = True
    for i, run in enumerate(runs):
        if judging:
            try:
                rows.append(_row(cfg, run, i, result, n_classes, judge=True))
                continue
            except KeyboardInterrupt:
                judging = False
        rows.append(_row(cfg, run, i, result, n_classes, judge=False))
    return rows


def _row(cfg: Config, run: Run, i: int, result: TrainResult, n_classes: int | None, *, judge: bool):
    cfg = run_config(cfg, run)  # the optimizer, momentum, ... this run trained with
    curve = result.loss[i]
    E = cfg.training.epochs
    row: dict[str, Any] = {
        "id": run.id,
        "learning_rate": run.learning_rate,
        "init_scale": run.init_scale,
        "seed": run.seed,
        **dict(run.axes),  # the sweep's other axes (optimizer, warmup_steps, ...)
    }
    if result.epochs_done[i] < E or not judge:
        reason = (
            f"interrupted after {int(result.epochs_done[i])} of {E} epochs"
            if result.epochs_done[i] < E
            else "trained, but interrupted before it was judged"
        )
        row.update(
            verdict=None, reason=reason, flags=["incomplete"], metrics=_partial_metrics(curve)
        )
    else:
        v = classify(
            curve,
            cfg.classify,
            n_classes=n_classes,
            loss_name=cfg.model.loss,
            full_batch=_full_batch(cfg),
        )
        metrics = dict(v.metrics)
        if result.diverged_epoch[i] >= 0:
            metrics["diverged_epoch"] = int(result.diverged_epoch[i])
        row.update(verdict=v.verdict, reason=v.reason, flags=list(v.flags), metrics=metrics)
        if result.sharpness_init is not None and _limit(cfg) is not None:
            _explain_with_sharpness(row, cfg, result, i, n_classes)
    if result.clipped is not None and result.steps is not None:
        _note_clipping(row, int(result.clipped[i]), int(result.steps[i]))
    row["loss"] = _finite_or_none(curve)
    row["sharpness"] = None
    if result.sharpness is not None:
        adaptive = adaptive_limit(cfg.training)
        row["sharpness"] = {
            "epochs": list(result.sharpness_epochs or ()),
            "values": _finite_or_none(result.sharpness[i]),
            # stable while sharpness < limit / lr (None: no such limit)
            "limit": adaptive if adaptive is not None else _limit(cfg),
            # "hessian": lambda_max(H); "preconditioned": lambda_max(P^-1 H), adaptive optimizers
            "kind": "preconditioned" if adaptive is not None else "hessian",
        }
        if adaptive is not None and row["verdict"] is not None:
            _explain_adaptive(row, cfg, result, i, adaptive)
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
                full_batch=_full_batch(cfg),
            )
            row["val"] = {
                "verdict": v.verdict,
                "reason": v.reason,
                "flags": list(v.flags),
                "metrics": dict(v.metrics),
            }
    return row


def _note_clipping(row: dict, clipped: int, steps: int) -> None:
    """How often training.clip_grad_norm scaled the run's gradients: in the metrics, and in
    the reason when it ever did (a run held stable by clipping is not plain gradient descent)."""
    share = clipped / steps if steps else 0.0
    row["metrics"]["clipped_steps"] = clipped
    row["metrics"]["clipped_share"] = share
    if clipped:
        row["reason"] += f"; gradients clipped at {clipped} of {steps} steps ({share:.0%})"


def _explain_adaptive(row: dict, cfg, result: TrainResult, i: int, limit: float) -> None:
    """The measured preconditioned sharpness beside the adaptive threshold (a measurement along
    training, never a prediction at init: the preconditioner moves as the moments do)."""
    assert result.sharpness is not None and result.sharpness_epochs is not None  # tracked
    values = np.asarray(result.sharpness[i], dtype=np.float64)
    ok = np.isfinite(values)
    if not ok.any():
        return
    k = int(np.nanargmax(np.where(ok, values, -np.inf)))
    peak, epoch = float(values[k]), int(result.sharpness_epochs[k])
    lr = row["learning_rate"]
    edge = limit / lr
    name = "Adam's" if cfg.training.optimizer in ("adam", "adamw") else "RMSprop's"
    where = "above" if peak > edge else ("at" if peak >= EOS_NEAR * edge else "below")
    row["metrics"]["preconditioned_sharpness_max"] = peak
    row["metrics"]["adaptive_threshold"] = edge
    row["reason"] += (
        f"; measured: the preconditioned sharpness λmax(P⁻¹H) peaked at {peak:.3g} (epoch "
        f"{epoch}), {where} {name} threshold {limit:.3g}/lr = {edge:.3g}"
    )
    if where != "below":
        flags = {*row["flags"], "edge_of_stability"}
        row["flags"] = [f for f in FLAGS if f in flags]


def _limit(cfg) -> float | None:
    """lr * sharpness below which the optimizer is stable on a quadratic (None: adaptive)."""
    return stable_limit(cfg.training.optimizer, cfg.training.momentum)


def _limit_name(cfg) -> str:
    beta, opt = cfg.training.momentum, cfg.training.optimizer
    if opt == "nesterov":
        return f"2(1 + {beta:g})/(1 + 2·{beta:g})"
    return "2" if opt == "sgd" or beta == 0 else f"2(1 + {beta:g})"


def _full_batch(cfg) -> bool:
    """Whether the runs are full-batch gradient descent: no sampling noise in their losses."""
    return cfg.training.batch_size is None


def _explain_with_sharpness(row: dict, cfg: Config, result: TrainResult, i: int, n_classes) -> None:
    """Add sharpness_init and critical_lr to the metrics, and what they say to the reason.

    Gradient descent on a quadratic is stable exactly when lr < 2(1 + beta)/lambda_max; a network
    is not a quadratic, so this is a prediction at init, and the reason says how it held up.
    """
    assert result.sharpness_init is not None  # called only when sharpness was computed
    lam = float(result.sharpness_init[i])
    limit = _limit(cfg)
    assert limit is not None  # called only for an optimizer with a limit
    crit = limit / lam if np.isfinite(lam) and lam > 0 else math.nan
    m = row["metrics"]
    m["sharpness_init"] = lam if np.isfinite(lam) else None
    m["critical_lr"] = crit if np.isfinite(crit) else None
    if not np.isfinite(lam):
        return
    lr = row["learning_rate"]
    edge = limit / lr  # the sharpness above which a step at this lr is unstable
    edge_name = f"{_limit_name(cfg)}/lr = {edge:.3g}"
    product = f"lr·λmax = {lr * lam:.3g} at init (stable below {limit:g})"
    tracked = _tracked_after_init(result, i)
    verdict = row["verdict"]
    if verdict == "diverging":
        if lr * lam > limit:
            row["reason"] += f"; as predicted: {product}"
        elif tracked is None:
            row["reason"] += (
                f"; not predicted at init, where lr·λmax = {lr * lam:.3g} (stable below "
                f"{limit:g}), so the sharpness must have grown during training"
            )
        elif tracked.max() > edge:
            row["reason"] += (
                f"; not predicted at init, where lr·λmax = {lr * lam:.3g} (stable below "
                f"{limit:g}), but the sharpness grew to {tracked.max():.3g}, past {edge_name}"
            )
        else:
            row["reason"] += (
                f"; not predicted at init, where lr·λmax = {lr * lam:.3g} (stable below "
                f"{limit:g}), and the tracked sharpness stayed below {edge_name}"
            )
        return
    # Edge of stability: the sharpness *during* training (after epoch 0) reached the edge; a
    # sharpness that started above it and only fell does not count.
    if verdict == "converging" and tracked is not None and tracked.max() >= EOS_NEAR * edge:
        # at the edge of stability the bouncing is the story, not noise: judge again unflagged
        if "noisy" in row["flags"]:
            quiet = dataclasses.replace(cfg.classify, noisy_sigma=math.inf)
            v = classify(
                result.loss[i],
                quiet,
                n_classes=n_classes,
                loss_name=cfg.model.loss,
                full_batch=_full_batch(cfg),
            )
            row["reason"], row["flags"] = v.reason, list(v.flags)
        path = _sharpness_path(lam, result, i)
        body = row["reason"].removeprefix("converging: ")
        if body.startswith("loss fell ") and _rose(np.asarray(result.loss[i], dtype=float)):
            body = "the loss fell, non-monotonically, " + body.removeprefix("loss fell ")
        elif body.startswith("loss fell "):
            body = "the " + body
        where = "above" if tracked.max() > edge else "close to"
        row["reason"] = (
            f"converging at the edge of stability: {path}, {where} {edge_name}, while {body}"
        )
        flags = {*row["flags"], "edge_of_stability"}
        row["flags"] = [f for f in FLAGS if f in flags]
    elif verdict == "converging" and lr * lam > limit:
        row["reason"] += (
            f"; lr·λmax = {lr * lam:.3g} at init, above the stable limit {limit:g}, so training "
            "must have moved it to flatter ground"
        )
    elif verdict in ("oscillating", "plateaued") and lr * lam > 0.5 * limit:
        row["reason"] += f"; {product}"


def _tracked_after_init(result: TrainResult, i: int) -> np.ndarray | None:
    """Run i's finite tracked sharpness values after epoch 0, or None if there are none."""
    if result.sharpness is None:
        return None
    assert result.sharpness is not None  # called only when sharpness was tracked
    epochs = np.asarray(result.sharpness_epochs)
    values = np.asarray(result.sharpness[i], dtype=np.float64)[epochs > 0]
    values = values[np.isfinite(values)]
    return values if values.size else None


def _sharpness_path(lam: float, result: TrainResult, i: int) -> str:
    """How the tracked sharpness got to its highest point after init, in words."""
    assert result.sharpness is not None  # called only when sharpness was tracked
    epochs = np.asarray(result.sharpness_epochs)
    values = np.asarray(result.sharpness[i], dtype=np.float64)
    ok = np.isfinite(values) & (epochs > 0)
    k = int(np.flatnonzero(ok)[np.argmax(values[ok])])  # the peak after init
    peak = float(values[k])
    before = values[:k][np.isfinite(values[:k])]
    low = float(min(lam, before.min())) if before.size else lam
    if low < EOS_NEAR * lam and low < peak:  # a dip worth naming (more than 10%) on the way
        return f"the sharpness fell from {lam:.3g} at init to {low:.3g}, then rose to {peak:.3g}"
    if peak > lam:
        return f"the sharpness rose from {lam:.3g} at init to {peak:.3g}"
    return f"the sharpness was {lam:.3g} at init and at most {peak:.3g} after it"


def _rose(curve: np.ndarray) -> bool:
    """Whether the loss went up at some epoch by more than rounding (a millionth of its scale)."""
    y = curve[np.isfinite(curve)]
    if y.size < 2:
        return False
    tol = 1e-6 * max(float(np.ptp(y)), float(np.max(np.abs(y))))
    return bool(np.any(np.diff(y) > tol))


def stability_summary(
    rows: list[dict], per_scale: list[dict], compare: str = "init_scale"
) -> dict | None:
    """Per init scale (or compared value): the predicted critical lr (median over seeds) beside
    the observed bracket."""
    by_scale: dict[Any, list[float]] = {}
    for r in rows:
        crit = (r.get("metrics") or {}).get("critical_lr", "absent")
        if crit == "absent":
            return None  # sharpness was not computed
        by_scale.setdefault(r.get(compare), []).append(np.nan if crit is None else crit)
    out = []
    for s in per_scale:
        crits = np.array(by_scale.get(s[compare], [np.nan]))
        finite = crits[np.isfinite(crits)]
        out.append(
            {
                compare: s[compare],
                "predicted_critical_lr": float(np.median(finite)) if finite.size else None,
                "observed_bracket": s["bracket"],
            }
        )
    return {"per_scale": out}


def document(
    cfg: Config,
    runs: list[Run],
    result: TrainResult,
    n_classes: int | None,
    lints_found: Iterable[lints.Lint] = (),
) -> dict:
    """The results document (what results.json holds).

    It holds nothing that varies between two runs of the same config on the same machine (no
    timing, no output path), so results.json is reproducible byte for byte. ``warnings``: the
    config's lints (``lints_found``, from ``lints.check_config``) and the grid's.
    """
    rows = judge(cfg, runs, result, n_classes)
    judged = all(r["verdict"] is not None or "incomplete" not in r["flags"] for r in rows)
    summary = _summary(rows, cfg.sweep.compare or "init_scale")
    judged_rows = [r for r in rows if r["verdict"] is not None]
    found = [
        *lints_found,
        *lints.check_trained(cfg, runs, result.dead_end),
        *(lints.check_grid(cfg, summary, judged_rows) if judged_rows else []),
    ]
    unscaled = any(lint.id == "unscaled_inputs" for lint in found)
    for entry in summary.get("loss_scale", []):
        entry["unscaled_inputs"] = unscaled  # the likely cause, when that lint fired
    return {
        "schema_version": SCHEMA_VERSION,
        "lrdiag_version": __version__,
        "complete": result.complete and judged,
        "config": config_to_dict(cfg),
        "runs": rows,
        "summary": summary,
        "warnings": [lint.to_dict() for lint in found],
    }


def _summary(rows: list[dict], compare: str = "init_scale") -> dict:
    judged = [r for r in rows if r["verdict"] is not None]
    summary = summarize(judged, compare)
    stab = stability_summary(judged, summary["per_scale"], compare) if judged else None
    if stab is not None:
        summary["stability"] = stab
    growth = loss_scale(judged)
    if growth:
        summary["loss_scale"] = growth
    return summary
