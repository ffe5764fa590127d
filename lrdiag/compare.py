"""Two sweeps of the same grid compared (``lrdiag compare BEFORE AFTER``): did a change move the
stability boundary, make runs diverge, change verdicts or final losses?

Runs are matched on the grid's axes: the learning rate, the seed, the init scale and any other
axis the config's ``sweep:`` section varies (rows carry each axis value under its name). An axis
with one value on each side that differs (``init.scales: [1]`` before, ``[3]`` after) is the change
under test: its two values are compared with each other, with a note. A grid that only partly
overlaps is compared on the overlap, with a note; grids with nothing in common (or different
axes) are an ``InputError`` naming what differs.

Per group (every axis but the learning rate and the seed) the summary is ``summary.summarize``'s
on each side; the *boundary* is the top of the first run of converging learning rates going up
(the bracket's lower end, or the largest converging rate when no rate above it fails). Nothing
here prints: ``compare_report`` renders the document this module builds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrdiag.errors import InputError, printable
from lrdiag.results import stability_summary
from lrdiag.summary import stable_up_to, summarize

COMPARE_VERSION = 1  # the compare document's layout; `lrdiag schema compare` describes it
RESULTS_NAME = "results.json"
# What --fail-on may name, each a kind of change that can fail a CI job.
FAIL_ON = ("boundary-down", "new-divergence", "verdict-change")
# Final losses that moved by more than this share of their value before are listed.
DEFAULT_TOLERANCE = 0.1
# The axes every results document has; a config's sweep: section may add more (by name).
BASE_AXES = ("init_scale", "seed", "learning_rate")
GRID_KEYS = {
    "init_scale": "init.scales",
    "seed": "training.seeds",
    "learning_rate": "sweep.learning_rates",
}
CURVES = (("train", None), ("val", "val"))  # (curve, the row key holding its verdict)
MAX_LISTED = 6  # values of an axis a note lists before "..."


class GridMismatch(InputError):
    """BEFORE and AFTER are sweeps of grids with nothing in common, or of different axes."""


def load(path: str | Path) -> dict:
    """The results document in ``path``: a results.json, or a directory holding one."""
    p = Path(path)
    file = p / RESULTS_NAME if p.is_dir() else p
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f"{printable(p)}: no {RESULTS_NAME} in this directory" if p.is_dir() else None
        raise InputError(where or f"{printable(file)}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{printable(file)}: cannot read it: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{printable(file)}: line {exc.lineno} column {exc.colno}: not JSON ({exc.msg})"
        ) from None
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if not isinstance(runs, list) or not all(_is_row(r) for r in runs):
        raise InputError(
            f"{printable(file)}: not an lrdiag results.json (expected 'runs': a list of rows "
            "with learning_rate, init_scale and seed)"
        )
    return {**doc, "_file": str(file)}


def _is_row(row: Any) -> bool:
    return isinstance(row, dict) and all(k in row for k in BASE_AXES)


def group_axes(doc: Mapping) -> tuple[str, ...]:
    """The axes runs are grouped by: the init scale, then the config's other sweep axes whose
    values the rows carry (``sweep.learning_rates`` is the learning rate itself)."""
    sweep = ((doc.get("config") or {}).get("sweep")) or {}
    rows = doc.get("runs") or [{}]
    extra = [k for k in sweep if k not in BASE_AXES and all(k in r for r in rows)]
    return ("init_scale", *sorted(extra))


def compare(before: Mapping, after: Mapping, *, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """The comparison document: per group the boundary before and after, the runs whose
    verdicts changed, the final losses that moved by more than ``tolerance``, and notes."""
    axes = group_axes(before)
    if group_axes(after) != axes:
        raise GridMismatch(
            f"BEFORE and AFTER vary different axes: {', '.join(axes)} before, "
            f"{', '.join(group_axes(after))} after"
        )
    notes: list[str] = []
    pairing = _pair_axes(before, after, (*axes, "seed", "learning_rate"), notes)
    key_axes = (*axes, "seed", "learning_rate")
    rows_b = {_key(r, key_axes): r for r in before["runs"]}
    rows_a = {_key(_mapped(r, pairing), key_axes): r for r in after["runs"]}
    common = [k for k in rows_b if k in rows_a]
    if not common:
        raise GridMismatch(_no_overlap(before, after, key_axes, pairing))
    _overlap_notes(rows_b, rows_a, key_axes, notes)
    notes += _config_notes(before, after, pairing)
    incomplete = [
        k for k in common if rows_b[k].get("verdict") is None or rows_a[k].get("verdict") is None
    ]
    if incomplete:
        notes.append(
            f"{len(incomplete)} run(s) without a verdict on one side (an interrupted sweep): "
            "left out"
        )
    judged = [k for k in common if k not in set(incomplete)]
    if not judged:  # both sides name the runs, but one never judged them: nothing to compare
        raise GridMismatch(
            f"none of the {len(common)} run(s) in common has a verdict on both sides (an "
            "interrupted sweep): nothing to compare; finish it first (lrdiag sweep --resume)"
        )
    runs = _verdicts(rows_b, rows_a, judged, key_axes)
    return {
        "compare_version": COMPARE_VERSION,
        "before": _side(before),
        "after": _side(after),
        "axes": list(axes),
        "paired": {name: [b, a] for name, (b, a) in pairing.items()},
        "runs_compared": len(judged),
        "tolerance": tolerance,
        "groups": _groups(rows_b, rows_a, judged, axes, pairing),
        "runs": runs,
        "verdict_changes": [r for r in runs if r["before"] != r["after"]],
        "loss_changes": _loss_changes(rows_b, rows_a, judged, key_axes, tolerance),
        "notes": notes,
    }


def matches(doc: Mapping, fail_on: tuple[str, ...] | list[str]) -> list[dict]:
    """The changes ``--fail-on`` names, each {"kind", "key" (the group's or run's label),
    "message", "learning_rate", "axes"}: the learning rate (a run's, or the boundary's before)
    points CI at the key to look at."""
    found = []
    if "boundary-down" in fail_on:
        for g in doc["groups"]:
            if g["boundary_moved"] == "down":
                found.append(
                    {
                        "kind": "boundary-down",
                        "key": group_label(g["axes"]),
                        "message": f"{group_label(g['axes'])}: {boundary_text(g)}",
                        "learning_rate": g["before"]["boundary_lr"],
                        "axes": g["axes"],
                    }
                )
    for change in doc["verdict_changes"]:
        new_div = change["after"] == "diverging" and change["before"] != "diverging"
        kind = "new-divergence" if new_div and "new-divergence" in fail_on else None
        kind = kind or ("verdict-change" if "verdict-change" in fail_on else None)
        if kind:
            reason = change.get("reason") or ""
            reason = reason.removeprefix(f"{change['after']}: ")
            found.append(
                {
                    "kind": kind,
                    "key": run_label(change),
                    "message": f"{run_label(change)}: {change['before']} -> {change['after']}"
                    + (f": {reason}" if reason else ""),
                    "learning_rate": change["learning_rate"],
                    "axes": change["axes"],
                }
            )
    return found


# --------------------------------------------------------------------------- words


def fmt(x: Any) -> str:
    return "none" if x is None else f"{x:.3g}"


def boundary_text(group: Mapping) -> str:
    b, a = group["before"], group["after"]
    moved = {"down": "moved down", "up": "moved up", "same": "unchanged"}[group["boundary_moved"]]
    return (
        f"stable up to lr {fmt(b['boundary_lr'])} before, {fmt(a['boundary_lr'])} after ({moved})"
    )


def run_label(change: Mapping) -> str:
    parts = [f"lr {change['learning_rate']:g}"]
    parts += [f"{_axis_word(k)} {value_text(v)}" for k, v in change["axes"].items()]
    parts.append(f"seed {change['seed']}")
    if change.get("curve") == "val":
        parts.append("validation")
    return ", ".join(parts)


def group_label(axes: Mapping) -> str:
    return ", ".join(f"{_axis_word(k)} {value_text(v)}" for k, v in axes.items())


def _axis_word(name: str) -> str:
    return {"init_scale": "scale", "learning_rate": "lr"}.get(name, name.replace("_", " "))


def value_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------- the grid


def _key(row: Mapping, axes: tuple[str, ...]) -> tuple:
    return tuple(row.get(a) for a in axes)


def _mapped(row: Mapping, pairing: Mapping[str, tuple]) -> dict:
    """An AFTER row with each paired axis given its BEFORE value."""
    return {**row, **{name: b for name, (b, _a) in pairing.items()}}


def _values(doc: Mapping, axis: str) -> list:
    return sorted({r.get(axis) for r in doc["runs"]}, key=lambda v: (str(type(v)), v))


def _pair_axes(before, after, axes, notes: list[str]) -> dict[str, tuple]:
    """Axes other than the learning rate with one value on each side, different: paired."""
    pairing = {}
    for axis in axes:
        vb, va = _values(before, axis), _values(after, axis)
        if axis != "learning_rate" and len(vb) == len(va) == 1 and vb != va:
            pairing[axis] = (vb[0], va[0])
            notes.append(
                f"{_axis_word(axis)} {value_text(vb[0])} before, {value_text(va[0])} after: "
                "compared with each other (the change under test)"
            )
    return pairing


def _listed(values) -> str:
    shown = [value_text(v) for v in values[:MAX_LISTED]]
    return ", ".join(shown) + (f", ... ({len(values)} in all)" if len(values) > MAX_LISTED else "")


def _no_overlap(before, after, axes, pairing) -> str:
    differ = []
    for axis in axes:
        vb = _values(before, axis)
        va = _values({"runs": [_mapped(r, pairing) for r in after["runs"]]}, axis)
        if vb != va:
            common = "none in common" if not set(vb) & set(va) else "some in common"
            differ.append(
                f"{GRID_KEYS.get(axis, axis)}: [{_listed(vb)}] before, [{_listed(va)}] after "
                f"({common})"
            )
    what = "; ".join(differ) or "no run in common"
    return f"BEFORE and AFTER are sweeps of different grids, with no run in common: {what}"


def _overlap_notes(rows_b, rows_a, axes, notes: list[str]) -> None:
    only_b = [k for k in rows_b if k not in rows_a]
    only_a = [k for k in rows_a if k not in rows_b]
    if not only_b and not only_a:
        return
    parts = []
    for i, axis in enumerate(axes):
        gone = sorted({k[i] for k in only_b} - {k[i] for k in rows_a})
        new = sorted({k[i] for k in only_a} - {k[i] for k in rows_b})
        if gone:
            parts.append(f"{GRID_KEYS.get(axis, axis)} only before: {_listed(gone)}")
        if new:
            parts.append(f"{GRID_KEYS.get(axis, axis)} only after: {_listed(new)}")
    n = len(rows_b) - len(only_b)
    notes.append(
        f"the grids overlap in part: compared on the {n} run(s) both have"
        + (f" ({'; '.join(parts)})" if parts else "")
    )


# Config keys that are the grid (compared above) or that name where things are.
_NOT_COMPARED = {"name", "sweep.learning_rates", "init.scales", "training.seeds", "data.path"}


def _config_notes(before, after, pairing) -> list[str]:
    """Config values outside the grid that differ: the change under test, or a mistake."""
    flat_b = _flatten(before.get("config") or {})
    flat_a = _flatten(after.get("config") or {})
    differ = [
        k
        for k in sorted(set(flat_b) | set(flat_a))
        if k not in _NOT_COMPARED
        and not any(k == f"sweep.{axis}" for axis in pairing)
        and flat_b.get(k) != flat_a.get(k)
    ]
    if not differ:
        return []
    shown = [f"{k} {_short(flat_b.get(k))} -> {_short(flat_a.get(k))}" for k in differ]
    more = f" and {len(shown) - MAX_LISTED} more" if len(shown) > MAX_LISTED else ""
    return [f"the configs differ outside the grid: {', '.join(shown[:MAX_LISTED])}{more}"]


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v, sort_keys=True)
    return out


def _short(text: str | None) -> str:
    return "(absent)" if text is None else printable(text if len(text) <= 40 else text[:39] + "…")


def _side(doc: Mapping) -> dict:
    return {
        "file": doc.get("_file"),
        "name": (doc.get("config") or {}).get("name"),
        "lrdiag_version": doc.get("lrdiag_version"),
        "complete": doc.get("complete", True),
        "runs": len(doc["runs"]),
    }


# --------------------------------------------------------------------------- the changes


def _summary(rows: list[dict]) -> dict:
    (s,) = summarize(rows)["per_scale"]
    stab = stability_summary(rows, [s])
    predicted = stab["per_scale"][0]["predicted_critical_lr"] if stab else None
    return {
        "largest_converging_lr": s["largest_converging_lr"],
        "bracket": s["bracket"],
        "boundary_lr": stable_up_to(s),
        "recommended_lr": s["recommended_lr"],
        "predicted_critical_lr": predicted,
    }


def _groups(rows_b, rows_a, keys, axes, pairing) -> list[dict]:
    groups: dict[tuple, list] = {}
    for k in keys:
        groups.setdefault(k[: len(axes)], []).append(k)
    out = []
    for g, ks in sorted(groups.items(), key=lambda kv: [(str(type(v)), v) for v in kv[0]]):
        # the paired axes' values are BEFORE's in the key: summarize each side under one scale
        side_b = [rows_b[k] for k in ks]
        side_a = [{**rows_a[k], "init_scale": rows_b[k]["init_scale"]} for k in ks]
        b, a = _summary(side_b), _summary(side_a)
        out.append(
            {
                "axes": dict(zip(axes, g, strict=True)),
                "after_axes": {ax: pairing[ax][1] for ax in axes if ax in pairing},
                "before": b,
                "after": a,
                "boundary_moved": _moved(b["boundary_lr"], a["boundary_lr"]),
            }
        )
    return out


def _moved(before: float | None, after: float | None) -> str:
    low = -math.inf  # no converging rate: below every rate
    b = low if before is None else before
    a = low if after is None else after
    return "same" if a == b else ("down" if a < b else "up")


def _verdicts(rows_b, rows_a, keys, key_axes) -> list[dict]:
    """Each compared curve (a run's training curve, and its validation curve when both sides
    judged one): its verdict before and after, and the reason after."""
    out = []
    for k in keys:
        for curve, field in CURVES:
            rb = rows_b[k] if field is None else rows_b[k].get(field)
            ra = rows_a[k] if field is None else rows_a[k].get(field)
            if not rb or not ra:
                continue
            out.append(
                {
                    **_run_fields(k, key_axes),
                    "curve": curve,
                    "before": rb.get("verdict"),
                    "after": ra.get("verdict"),
                    "reason": ra.get("reason"),
                }
            )
    return out


def _run_fields(key: tuple, key_axes: tuple[str, ...]) -> dict:
    values = dict(zip(key_axes, key, strict=True))
    return {
        "learning_rate": values.pop("learning_rate"),
        "seed": values.pop("seed"),
        "axes": values,
    }


def _final(row: Mapping) -> float | None:
    value = (row.get("metrics") or {}).get("final")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _loss_changes(rows_b, rows_a, keys, key_axes, tolerance: float) -> list[dict]:
    out = []
    for k in keys:
        fb, fa = _final(rows_b[k]), _final(rows_a[k])
        if fb is None or fa is None or fa == fb:
            continue
        change = (fa - fb) / abs(fb) if fb else math.inf
        if abs(change) > tolerance:
            out.append({**_run_fields(k, key_axes), "before": fb, "after": fa, "change": change})
    return out
