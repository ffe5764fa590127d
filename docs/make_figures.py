"""Draw docs/verdicts.md's pictures of each verdict and flag: ``python docs/make_figures.py``.

Every picture is a typical curve made by a formula here (fixed seed), judged by
``lrdiag.classify.classify``; the script stops before writing anything if the classifier does
not give exactly the verdict and flags the picture claims, so the docs cannot drift from the
code. The PNGs (about 320 x 200 px) go to docs/img/<name>.png, each written atomically.
"""

from __future__ import annotations

import io
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lrdiag.classify import FLAGS, VERDICTS, Verdict, classify
from lrdiag.files import atomic_write_bytes
from lrdiag.plots import plot_verdict_example

IMG_DIR = Path(__file__).resolve().parent / "img"
SIZE = (3.2, 2.0)  # inches, at DPI: 320 x 200 px
DPI = 100
SEED = 0
LN2 = math.log(2.0)
LN10 = math.log(10.0)


@dataclass(frozen=True)
class Example:
    name: str  # the verdict or flag it shows; the file is docs/img/<name>.png
    curve: np.ndarray
    verdict: str  # what classify must say ...
    flags: tuple[str, ...] = ()  # ... with exactly these flags (in FLAGS order)
    train: np.ndarray | None = None  # the training curve, when `curve` is a validation curve
    kwargs: dict[str, Any] = field(default_factory=dict)  # loss_name, n_classes for classify
    log: bool = False  # log y-scale
    chance: float | None = None  # draw the chance loss
    ylim: tuple[float, float] | None = None  # y limits, when the default zoom misleads


def examples() -> list[Example]:
    """One typical curve per verdict and per flag (index = epoch, element 0 = initial loss)."""
    rng = np.random.default_rng(SEED)
    t = np.arange(101.0)

    def noise(sd: float, n: int = t.size) -> np.ndarray:
        return sd * rng.standard_normal(n)

    def decay(floor: float, start: float, tau: float) -> np.ndarray:
        return floor + (start - floor) * np.exp(-t / tau)

    # Logistic map at r = 3.63: chaotic on two bands visited in strict alternation.
    x, chaos = 0.3, []
    for _ in range(40):
        chaos.append(x)
        x = 3.63 * x * (1.0 - x)
    diverging = 0.7 * 1.6 ** np.arange(41.0)  # grows x1.6 an epoch ...
    diverging[-4:] = np.inf  # ... until it overflows
    blowup = decay(0.05, 0.7, 10.0) + noise(0.004)
    blowup[60:] = 0.55 + noise(0.004, 41)  # jumps back up and stays
    spike = decay(0.05, 0.7, 15.0) + noise(0.004)
    spike[12:15] += [0.5, 0.9, 0.3]  # a three-epoch spike
    noisy = decay(0.2, 0.7, 25.0) + noise(0.04)
    noisy[0] = 0.7  # the exact loss at initialisation
    train = decay(0.05, 0.7, 15.0) + noise(0.003)
    val = decay(0.25, 0.75, 12.0) + 0.002 * np.maximum(t - 35.0, 0.0) + noise(0.004)
    eos = decay(0.1, 0.7, 30.0) + 0.03 * np.exp(-t / 60.0) * (-1.0) ** t + noise(0.002)
    # Above its start, bouncing between 1 and 3 for 80 epochs, then down to 0.05 at the end.
    unstable = np.r_[0.7, 1.0 + 2.0 * rng.random(80), np.geomspace(0.9, 0.05, 20)]

    return [
        Example("converging", decay(0.05, 0.7, 20.0) + noise(0.004), "converging"),
        Example("oscillating", np.r_[0.9, 0.2 + 0.6 * np.array(chaos)], "oscillating"),
        Example("diverging", diverging, "diverging", log=True),
        Example(
            "plateaued",
            LN2 + noise(0.01),
            "plateaued",
            ("noisy", "stuck_at_chance"),
            ylim=(0.5, 0.9),
        ),
        Example("early_spike", spike, "converging", ("early_spike",)),
        Example("late_blowup", blowup, "diverging", ("late_blowup",)),
        Example("noisy", noisy, "converging", ("noisy",)),
        Example(
            "stuck_at_chance",
            LN10 + 0.25 * np.exp(-t / 3.0) + noise(0.004),
            "plateaued",
            ("stuck_at_chance",),
            kwargs={"loss_name": "cross_entropy", "n_classes": 10},
            chance=LN10,
        ),
        Example("overfitting", val, "converging", ("overfitting",), train=train),
        Example("borderline", np.array([0.7, 0.52, 0.43, 0.39]), "converging", ("borderline",)),
        Example("edge_of_stability", eos, "converging", ("edge_of_stability",)),
        Example("unstable", unstable, "converging", ("unstable",), log=True),
    ]


def judge(ex: Example) -> Verdict:
    """Classify the example; raise AssertionError unless it gets the claimed verdict and flags."""
    v = classify(ex.curve, train_curve=ex.train, **ex.kwargs)
    if v.verdict != ex.verdict or set(v.flags) != set(ex.flags):
        raise AssertionError(
            f"{ex.name}: the picture claims {ex.verdict} {list(ex.flags)}, the classifier says "
            f"{v.verdict} {list(v.flags)} ({v.reason})"
        )
    return v


def title(ex: Example) -> str:
    if ex.name in VERDICTS:
        return " · ".join([ex.verdict, *ex.flags])
    others = [f for f in ex.flags if f != ex.name]
    return f"{ex.name} ({', '.join([ex.verdict, *others])})"


def figure(ex: Example, v: Verdict) -> Figure:
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    ax = plot_verdict_example(
        fig.add_subplot(),
        ex.curve,
        v.verdict,
        title=title(ex),
        flags=v.flags,
        window=v.metrics["window"],
        train=ex.train,
        chance=ex.chance,
        log=ex.log,
    )
    if ex.ylim is not None:
        ax.set_ylim(*ex.ylim)
    return fig


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No "Software" entry: the bytes depend on the picture, not on the matplotlib version.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def main() -> int:
    exs = examples()
    names = [ex.name for ex in exs]
    missing = [n for n in (*VERDICTS, *FLAGS) if n not in names]
    if missing:
        raise AssertionError(f"no example for {', '.join(missing)}")
    judged = [(ex, judge(ex)) for ex in exs]  # every check passes before any file is written
    IMG_DIR.mkdir(parents=True, exist_ok=True)
    for ex, v in judged:
        path = atomic_write_bytes(IMG_DIR / f"{ex.name}.png", png(figure(ex, v)))
        print(f"{path.relative_to(IMG_DIR.parent.parent)}  {v.verdict} {list(v.flags)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
