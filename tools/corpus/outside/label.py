"""Label the outside corpus from the verdict definitions alone (no lrdiag import, by design).

    python -m tools.corpus.outside.label           # writes tests/data/outside/labels.csv
    python -m tools.corpus.outside.label --set 2   # writes tests/data/outside2/labels.csv
    python -m tools.corpus.outside.label --set 3   # writes tests/data/outside3/labels.csv
    python -m tools.corpus.outside.label --set 4   # writes tests/data/outside4/labels.csv
    python -m tools.corpus.outside.label --set 5   # writes tests/data/outside5/labels.csv
    python -m tools.corpus.outside.label --set 6   # writes tests/data/outside6/labels.csv
    python -m tools.corpus.outside.label --set 7   # writes tests/data/outside7/labels.csv

Reads tests/data/outside/manifest.csv (how each run was made, written by generate.py), every
curve file, and tools/corpus/outside/overrides.csv (labels changed after looking at every curve,
each with its why). Set 2, the held-out set, is read from tests/data/outside2 with its own
overrides2.csv, by the same rules; all its rows are in the split `heldout`; set 3 likewise
(tests/data/outside3, overrides3.csv), set 4 (tests/data/outside4, overrides4.csv), set 5
(tests/data/outside5, overrides5.csv), set 6 (tests/data/outside6, overrides6.csv) and set 7
(tests/data/outside7, overrides7.csv). The rules are simple and level-relative: every measure is
a fraction of the curve's own level (the median of its final part), never of its range.

Definitions (what a practitioner would sign):
- converging: the loss ends clearly below where it started and stays down; healthy noisy
  mini-batch runs, and bouncing on a clearly falling trend, are converging.
- plateaued: not moving relative to its own level (far too small a learning rate, flat at chance
  ln K after a quick drop, dead networks); a curve swinging by 10% of its level is not plateaued.
- oscillating: sustained bounded swings without net progress over the final part, any period.
- diverging: up and not coming back (ends non-finite, ends clearly above its start, or learned
  and then jumped to a much higher level and stayed there).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "outside"
OVERRIDES = Path(__file__).resolve().parent / "overrides.csv"
SETS = {  # set number -> (data directory, overrides file, split of every row or None)
    1: (DATA, OVERRIDES, None),
    2: (ROOT / "tests" / "data" / "outside2", OVERRIDES.with_name("overrides2.csv"), "heldout"),
    3: (ROOT / "tests" / "data" / "outside3", OVERRIDES.with_name("overrides3.csv"), "heldout"),
    4: (ROOT / "tests" / "data" / "outside4", OVERRIDES.with_name("overrides4.csv"), "heldout"),
    5: (ROOT / "tests" / "data" / "outside5", OVERRIDES.with_name("overrides5.csv"), "heldout"),
    6: (ROOT / "tests" / "data" / "outside6", OVERRIDES.with_name("overrides6.csv"), "heldout"),
    7: (ROOT / "tests" / "data" / "outside7", OVERRIDES.with_name("overrides7.csv"), "heldout"),
}
VERDICTS = ("converging", "oscillating", "diverging", "plateaued")
COLUMNS = (
    "id column split verdict unambiguous why loss_name n_classes tags framework optimizer lr "
    "init_scale batch notes"
).split()

# Thresholds, each a fraction of the curve's own level unless it says otherwise.
FINAL = 0.25  # the final part: this share of the points (at least MIN_FINAL of them; on
# a run of 160 points or more it holds a period-40 bounce)
MIN_FINAL = 4
CLEAR_DROP = 0.10  # converging: the end is at least this far below the start
STILL = 0.03  # plateaued: the end moved less than this from the start ...
STILL_SWING = 0.10  # ... and the final part swings by less than this (the definition's 10%)
CHANCE_TOL = 0.05  # at chance: the final level is within this of ln K (or 1 for MSE on +-1)
CHANCE_SWING = 0.05  # ... and the final part swings by less than this
CLEAR_RISE = 0.20  # diverging: the end is at least this far above the start
BOUNCE_ABOVE = 2.0  # ... bounded bouncing under this many times the start: ambiguous
JUMP = 3.0  # diverging: the end is this many times the best (smoothed) level, and stays there
JUMP_MAYBE = 1.5  # between JUMP_MAYBE and JUMP times the best level: ambiguous
OSC_SWING = 0.15  # oscillating: the final part's 10-90% spread is at least this of its level
OSC_TREND = 0.5  # ... its linear trend over the final part is under this share of the spread
OSC_TURNS = 4  # ... and it changes direction at least this many times
MB_PROGRESS = 0.5  # a mini-batch run ending below this share of its start has progressed ...
MB_VIOLENT = 0.4  # ... and its bounce is noise unless steps are this share of its level
NEAR_CHANCE = 0.15  # converging only toward chance: the end is within this above ln K
HUGE_FIRST = 5.0  # class6: the first loss is at least this many times the final level
VIOLENT = 0.30  # class5: the middle of the run swings by this share of its level ...
LATE_DROP = 0.35  # ... and the final level is under this share of the middle's


@dataclass(frozen=True)
class Label:
    verdict: str
    unambiguous: bool
    why: str
    facts: dict


def _sig4(v: float) -> str:
    """``v`` in 4 significant digits."""
    return f"{v:.4g}"


def read_curve(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """(x name, {column: float array}) of one curve file; nan/inf parse as floats."""
    with path.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    cols = {name: np.array([float(r[i]) for r in body]) for i, name in enumerate(head)}
    return head[0], {k: v for k, v in cols.items() if k != head[0]}


def chance_level(meta: dict) -> float | None:
    """The loss of a net that learned nothing but the class balance (balanced sets)."""
    if meta["loss_name"] == "cross_entropy":
        return math.log(int(meta["n_classes"]))
    if meta["loss_name"] == "bce":
        return math.log(2.0)
    two_class = meta["data"] in ("moons", "spirals2", "rings", "xor")
    if meta["loss_name"] in ("mse", "l1") and two_class:
        return 1.0  # predicting 0 for targets -1 and +1
    if meta["loss_name"] == "huber" and two_class:
        return 0.5  # predicting 0 for targets -1 and +1 (Huber with delta 1)
    return None


def _smooth_min(y: np.ndarray) -> float:
    """The best level reached, as a rolling median (one lucky mini-batch is not a level)."""
    w = max(3, min(25, len(y) // 50)) if len(y) >= 6 else 1
    if w == 1:
        return float(y.min())
    return float(np.median(np.lib.stride_tricks.sliding_window_view(y, w), axis=1).min())


def measure(y: np.ndarray) -> dict:
    """Level-relative facts about a finite curve."""
    n = len(y)
    k0 = max(1, min(5, n // 50))
    start = float(np.median(y[:k0]))
    m = max(MIN_FINAL, int(round(FINAL * n)))
    m = min(n, m)
    fin = y[-m:]
    level = float(np.median(fin))
    scale = max(abs(level), 1e-12)
    q10, q90 = np.percentile(fin, [10, 90])
    spread = float(q90 - q10) / scale
    t = np.arange(m, dtype=float)
    slope = float(np.polyfit(t, fin, 1)[0]) if m >= 3 else 0.0
    trend = slope * (m - 1) / scale
    d = np.diff(fin)
    d = d[d != 0]
    turns = int(np.sum(np.sign(d[1:]) != np.sign(d[:-1]))) if d.size > 1 else 0
    step = float(np.median(np.abs(np.diff(fin)))) / scale if m > 1 else 0.0
    halves = [fin[: m // 2], fin[m // 2 :]] if m >= 8 else [fin]
    half_spread = min(float(np.subtract(*np.percentile(h, [90, 10]))) for h in halves) / scale
    return {
        "n": n,
        "start": start,
        "first": float(y[0]),
        "early_peak": float(np.max(y[: max(2, k0)])),
        "half_spread": half_spread,
        "level": level,
        "spread": spread,
        "trend": trend,
        "turns": turns,
        "step": step,
        "best": _smooth_min(y),
        "fin_q10": float(q10),
        "fin_min": float(fin.min()),
    }


def propose(y: np.ndarray, meta: dict) -> Label:
    """A verdict for one curve from the definitions, with the facts it rests on."""
    if not np.isfinite(y[-1]):
        first_bad = int(np.argmin(np.isfinite(y)))
        return Label("diverging", True, f"ends non-finite (first at point {first_bad})", {})
    if not np.isfinite(y).all():
        return Label("diverging", False, "non-finite values inside a finite curve", {})
    f = measure(y)
    start, level, spread = f["start"], f["level"], f["spread"]
    chance = chance_level(meta)
    mini_batch = meta["batch"] != "full"
    mb_step = mini_batch and meta["x_name"] == "step"
    rel_move = (level - start) / max(abs(start), 1e-12)
    facts = f | {"rel_move": rel_move, "chance": chance}
    # diverging: ends clearly above its start (its first value when that is lower), the whole
    # final part above it
    low = min(start, f["first"])
    if level >= (1 + CLEAR_RISE) * low and f["fin_q10"] > low:
        why = (
            f"ends at {_sig4(level)}, {level / low:.2f}x its start {_sig4(low)}, "
            "final part above it"
        )
        bouncing = spread >= OSC_SWING and f["turns"] >= OSC_TURNS and not mini_batch
        if bouncing and level < BOUNCE_ABOVE * low:
            why += ", bouncing: diverging or oscillating"
            return Label("diverging", False, why, facts)
        return Label("diverging", True, why, facts)
    # class5 shape: violent swings through the middle, then a late fall far below them
    mid = y[int(0.2 * len(y)) : int(0.6 * len(y))]
    if len(y) >= 50 and mid.size and not mb_step:
        mid_level = float(np.median(mid))
        q10, q90 = np.percentile(mid, [10, 90])
        mid_spread = (q90 - q10) / max(abs(mid_level), 1e-12)
        facts |= {"mid_spread": mid_spread, "mid_level": mid_level}
        d = np.diff(mid)
        mid_turns = int(np.sum(np.sign(d[1:]) != np.sign(d[:-1])))
        violent = mid_spread >= VIOLENT and mid_level >= LATE_DROP * low
        violent = violent and mid_turns >= 0.1 * mid.size  # bouncing, not one steep descent
        if violent and level < LATE_DROP * mid_level and level < start:
            why = (
                f"swings by {mid_spread:.0%} of its level through the middle, then drops to "
                f"{_sig4(level)} ({start / max(level, 1e-12):.1f}x below the start): converging "
                "with instability or oscillating"
            )
            return Label("converging", False, why, facts | {"late_drop": True})
    # oscillating: bounded sustained swings over the final part, no net trend there
    osc = spread >= OSC_SWING and abs(f["trend"]) < OSC_TREND * spread and f["turns"] >= OSC_TURNS
    osc = osc and f["half_spread"] >= OSC_SWING / 2  # sustained: both halves swing
    noise = mini_batch and level <= MB_PROGRESS * start and (mb_step or f["step"] < MB_VIOLENT)
    if osc and noise:
        why = (
            f"mini-batch noise ({spread:.0%} of its level) on a run that fell from {_sig4(start)} "
            f"to {_sig4(level)}"
        )
        return Label("converging", True, why, facts)
    if osc:
        why = (
            f"final part swings by {spread:.0%} of its level {_sig4(level)} "
            f"({f['turns']} turns, trend {f['trend']:+.0%} of the level)"
        )
        return Label("oscillating", True, why, facts)
    # diverging: learned, then went to a much higher level and stayed there
    best = f["best"]
    if best > 0 and f["fin_q10"] >= JUMP_MAYBE * best:
        ratio = level / best
        why = f"best level {_sig4(best)}, then up to {_sig4(level)} ({ratio:.1f}x) and stays there"
        sure = ratio >= JUMP or level >= start
        return Label(
            "diverging", sure, why if sure else why + " (a partial loss of progress)", facts
        )
    # plateaued: flat at chance
    if chance and abs(level - chance) <= CHANCE_TOL * chance and spread < CHANCE_SWING:
        why = f"flat at chance {_sig4(chance)} (final level {_sig4(level)}, start {_sig4(start)})"
        return Label("plateaued", True, why, facts | {"at_chance": True})
    # plateaued: not moving
    if abs(rel_move) < STILL and spread < STILL_SWING and f["step"] < STILL_SWING:
        why = f"moves by {abs(rel_move):.3%} of its level ({_sig4(start)} -> {_sig4(level)})"
        return Label("plateaued", True, why, facts)
    if rel_move <= -CLEAR_DROP and chance and chance <= level <= (1 + NEAR_CHANCE) * chance:
        why = (
            f"falls from {_sig4(start)} to {_sig4(level)}, only toward chance {_sig4(chance)}: "
            "converging by the numbers, a net that learns nothing but its output bias"
        )
        return Label("converging", False, why, facts | {"toward_chance": True})
    if rel_move <= -CLEAR_DROP:
        why = f"falls from {_sig4(start)} to {_sig4(level)} ({-rel_move:.0%}) and stays down"
        return Label("converging", True, why, facts)
    if rel_move < 0 and spread < STILL_SWING:
        why = f"falls by only {-rel_move:.1%} of its level: slow progress or a plateau"
        return Label("plateaued", False, why, facts)
    why = f"moves {rel_move:+.1%} with swings of {spread:.0%}: no rule fits cleanly"
    return Label("converging" if rel_move < 0 else "plateaued", False, why, facts)


# --------------------------------------------------------------------------------------------
# Tags: healthy_noisy and the seven failure kinds


def tags_for(column: str, label: Label, meta: dict, x: dict[str, np.ndarray]) -> list[str]:
    f, kind, tags = label.facts, meta["kind"], []
    full = meta["batch"] == "full"
    if column == "loss" and kind.split("_")[0] in ("healthy", "cnn", "keras") and not full:
        if kind in ("healthy", "cnn_good", "keras_good") and label.verdict == "converging":
            tags.append("healthy_noisy")
    if column != "loss":
        y, train = x[column], x["loss"]
        if 1 < len(y) <= 12 and np.isfinite(y).all():
            lvl = float(np.median(y[-max(1, len(y) // 4) :]))
            if float(np.max(np.abs(np.diff(y)))) >= abs(lvl) / 3:  # jumps by a third
                tags.append("class4")
        if np.isfinite(y).all() and np.isfinite(train).all() and len(y) >= 20:
            t_start, t_end = float(np.median(train[:3])), float(np.median(train[-5:]))
            best = int(np.argmin(y))
            rising = y[-1] >= 1.3 * y.min() and best < 0.5 * len(y)
            if rising and t_end < 0.9 * t_start and kind == "class7":
                tags.append("class7")
        return tags
    if not f:
        return tags
    osc = label.verdict == "oscillating"
    huge_first = f["early_peak"] >= HUGE_FIRST * f["level"]
    if osc and full and meta["act"] == "tanh" and meta["optimizer"] == "sgd":
        if kind in ("class1", "grid"):
            tags.append("class1")
    small_lr = kind in ("class2", "cnn_small", "keras_small")
    chance = f.get("chance")
    at_chance = chance and abs(f["level"] - chance) <= CHANCE_TOL * chance
    if small_lr and label.verdict == "plateaued":
        tags.append("class2")
    elif at_chance and label.verdict == "plateaued":
        tags.append("class3")
    if f.get("late_drop"):
        tags.append("class5")
    if osc and huge_first and full and kind not in ("class1", "grid"):
        tags.append("class6")
    return tags


# --------------------------------------------------------------------------------------------
# Splits: fixed before anyone evaluates


def _sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def assign_splits(strata: dict[str, str]) -> dict[str, str]:
    """id -> 'dev' or 'test': within each stratum, ids in sha256 order alternate dev, test.

    A curve file's rows share its split, so no run is in both halves."""
    out: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for cid, stratum in strata.items():
        groups.setdefault(stratum, []).append(cid)
    for stratum, ids in groups.items():
        first = int(_sha256(stratum), 16) % 2  # which half gets the odd one out
        for i, cid in enumerate(sorted(ids, key=_sha256)):
            out[cid] = ("dev", "test")[(i + first) % 2]
    return out


# --------------------------------------------------------------------------------------------


def read_overrides(path: Path = OVERRIDES) -> dict[tuple[str, str], tuple[str, str]]:
    """(id, column) -> (label, why); label is a verdict, 'ambiguous' or 'ambiguous:<verdict>'."""
    if not path.exists():
        return {}
    out = {}
    with path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            label = r["label"]
            verdict = label.split(":", 1)[1] if label.startswith("ambiguous:") else label
            ok = verdict in VERDICTS or label == "ambiguous"
            if not ok or not r["why"].strip():
                raise ValueError(f"{path.name}: bad override {r}")
            out[(r["id"], r["column"])] = (label, r["why"].strip())
    return out


def apply_override(label: Label, override: tuple[str, str] | None) -> Label:
    if override is None:
        return label
    lab, why = override
    if lab == "ambiguous":
        return Label(label.verdict, False, f"{why} (rules: {label.why})", label.facts)
    if lab.startswith("ambiguous:"):
        return Label(lab.split(":", 1)[1], False, f"{why} (rules: {label.why})", label.facts)
    return Label(lab, True, f"{why} (rules said {label.verdict}: {label.why})", label.facts)


def label_set(set_no: int) -> list[dict]:
    """label_all for set 1 (dev/test halves) or set 2 (all held out), with its overrides."""
    data, overrides, split = SETS[set_no]
    return label_all(data, read_overrides(overrides), split)


def label_all(data: Path = DATA, overrides=None, split: str | None = None) -> list[dict]:
    """Every curve-column of the manifest, labelled, tagged and split (all in `split` if given)."""
    overrides = read_overrides() if overrides is None else overrides
    with (data / "manifest.csv").open(encoding="utf-8") as f:
        manifest = list(csv.DictReader(f))
    rows, strata = [], {}
    for meta in manifest:
        meta = meta | {"act": meta["model"].rstrip(")").split(",")[-1]}
        x_name, cols = read_curve(data / "curves" / f"{meta['id']}.csv")
        for column in cols:
            proposed = propose(cols[column], meta)
            label = apply_override(proposed, overrides.get((meta["id"], column)))
            tags = tags_for(column, label, meta, cols)
            if label.verdict in ("oscillating", "diverging") and "healthy_noisy" in tags:
                tags.remove("healthy_noisy")
            rows.append(
                {
                    "id": meta["id"],
                    "column": column,
                    "split": "",
                    "verdict": label.verdict,
                    "unambiguous": "true" if label.unambiguous else "false",
                    "why": label.why,
                    "loss_name": meta["loss_name"],
                    "n_classes": meta["n_classes"],
                    "tags": " ".join(tags),
                    "framework": meta["framework"],
                    "optimizer": meta["optimizer"],
                    "lr": meta["lr"],
                    "init_scale": meta["init_scale"],
                    "batch": meta["batch"],
                    "notes": "; ".join(
                        x
                        for x in (
                            f"kind {meta['kind']}",
                            meta["model"],
                            f"data {meta['data']}",
                            f"per {x_name}",
                            f"n_train {meta['n_train']}",
                            meta["notes"],
                        )
                        if x
                    ),
                }
            )
        file_rows = [r for r in rows if r["id"] == meta["id"]]
        classes = sorted(t for r in file_rows for t in r["tags"].split() if t.startswith("class"))
        strata[meta["id"]] = classes[0] if classes else file_rows[0]["verdict"]
    splits = assign_splits(strata) if split is None else dict.fromkeys(strata, split)
    for r in rows:
        r["split"] = splits[r["id"]]
    return rows


def write_labels(rows: list[dict], out: Path | TextIO) -> None:
    """labels.csv to a path, or to an open text file."""
    if isinstance(out, Path):
        with out.open("w", newline="", encoding="utf-8") as f:
            write_labels(rows, f)
        return
    w = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.corpus.outside.label")
    p.add_argument("--set", type=int, choices=sorted(SETS), default=1, help="which set (default 1)")
    args = p.parse_args(argv)
    rows = label_set(args.set)
    write_labels(rows, SETS[args.set][0] / "labels.csv")
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["split"], r["verdict"] + ("" if r["unambiguous"] == "true" else "?"))
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print(*key, counts[key])
    print(f"{len(rows)} curve-columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
