"""The case record of the labelled corpus (tests/data/corpus): ``case`` builds one, ``write_group``
writes a group as JSON lines. Every label comes from how a curve was made, never from
lrdiag.classify (see tools/corpus/build.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # the repository
OUT = ROOT / "tests" / "data" / "corpus"
LN2, LN10 = math.log(2.0), math.log(10.0)
DIGITS = 10  # significant digits stored per value (the files stay small; shapes are unchanged)


# --------------------------------------------------------------------------------------------
# The case record


def _num(v: float) -> float | None:
    v = float(v)
    return float(f"{v:.{DIGITS}g}") if math.isfinite(v) else None


def case(
    id: str,
    curve,
    verdict: str,
    why: str,
    *,
    unambiguous: bool,
    source: str,
    flags=(),
    loss_name: str | None = None,
    n_classes: int | None = None,
    tags=(),
    meta: dict | None = None,
    file: str | None = None,
) -> dict:
    rec = {"id": id, "source": source, "verdict": verdict, "unambiguous": bool(unambiguous)}
    if flags:
        rec["flags"] = list(flags)
    rec["why"] = why
    if loss_name is not None:
        rec["loss_name"] = loss_name
    if n_classes is not None:
        rec["n_classes"] = int(n_classes)
    if tags:
        rec["tags"] = list(tags)
    if file is not None:
        rec["file"] = file
    if meta:
        rec["meta"] = meta
    rec["curve"] = [_num(v) for v in np.asarray(curve, dtype=float).reshape(-1)]
    return rec


def write_group(name: str, cases: list[dict]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, separators=(",", ":"), allow_nan=False) + "\n")
    return path
