"""Numbers and words for people: counts with their noun, numbers in a few digits, learning-rate
labels, and the one test of "a finite number, or None" that every reader of results shares.

A leaf: it imports nothing of lrdiag, so the classifier, the reports and the plots all use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless there is exactly one: "1 epoch", "4 epochs"."""
    return f"{n} {word}{'s' * (n != 1)}"


def finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite number, else None (None, NaN, inf, booleans and
    anything that is not a number): a non-finite number may arrive as None (from JSON) or NaN
    (from memory), and both read the same."""
    if isinstance(x, (bool, np.bool_)) or x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number in ``digits`` significant figures; ``-`` for null or non-finite."""
    x = finite(x)
    return "-" if x is None else f"{x:.{digits}g}"


def lr_labels(lrs: Iterable[float]) -> dict[float, str]:
    """Short labels for learning rates, with just enough digits to tell them all apart."""
    lrs = sorted(set(lrs))
    for digits in range(3, 18):
        labels = {lr: f"{lr:.{digits}g}" for lr in lrs}
        if len(set(labels.values())) == len(lrs):
            return labels
    return {lr: repr(lr) for lr in lrs}
