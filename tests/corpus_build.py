"""Build the labelled loss-curve corpus in tests/data/corpus/ (one JSON-lines file per source).

    .venv/bin/python tests/corpus_build.py                 # every group
    .venv/bin/python tests/corpus_build.py closed_form     # some groups

Every label comes from how the curve was made and the verdict definitions (issue 2,
"Verdicts"), never from lrdiag.classify: closed-form gradient descent iterated here in float64,
formula-made shapes with seeded noise, lrdiag's own training runs (labelled from facts of the run
where possible, otherwise by the independent reading in `read_curve`), and real external logs
labelled by eye. A case is `unambiguous` only when how it was made puts it clearly inside one
definition. The files are committed; tests read them and never rebuild them.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "corpus"
EXTERNAL = Path("/work/shared/external_logs")
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


# --------------------------------------------------------------------------------------------
# 1. Closed form: gradient descent iterated here in float64


def gd_quadratic(lams, x0, lr, epochs, beta=0.0):
    """Loss 0.5 * sum(lam_i x_i^2) under PyTorch-style SGD (v = beta v + g; x -= lr v).

    Returns epochs + 1 losses; values past float64's range become inf (then null)."""
    lams = np.asarray(lams, dtype=float)
    x = np.asarray(x0, dtype=float).copy()
    v = np.zeros_like(x)
    out = np.empty(epochs + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(epochs + 1):
            out[k] = 0.5 * np.sum(lams * x * x)
            g = lams * x
            v = beta * v + g
            x = x - lr * v
    return out


def heavy_ball_edge(lam, beta):
    """Largest stable lr of heavy-ball momentum on curvature lam: 2 (1 + beta) / lam."""
    return 2.0 * (1.0 + beta) / lam


def gd_piecewise(a, b, x0, lr, epochs, rest=None, rest_lr_lams=None):
    """GD on f(x) = a/2 x^2 (x >= 0), b/2 x^2 (x < 0): an asymmetric bowl, minimum 0 at 0.

    With lr*a = 3 and lr*b = 1.5 the steps multiply x by -2 and -0.5 in turn: a period-2 orbit
    whose loss alternates between two values forever. ``rest`` adds ordinary quadratic modes
    (eigenvalues ``rest_lr_lams`` / lr) that converge."""
    x = float(x0)
    out = np.empty(epochs + 1)
    extra = np.zeros(epochs + 1)
    if rest is not None:
        lams = np.asarray(rest_lr_lams, dtype=float) / lr
        extra = gd_quadratic(lams, rest, lr, epochs)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(epochs + 1):
            c = a if x >= 0 else b
            out[k] = 0.5 * c * x * x
            x = x - lr * c * x
    return out + extra


def gd_1d(fprime, f, x0, lr, epochs):
    x = float(x0)
    out = np.empty(epochs + 1)
    for k in range(epochs + 1):
        out[k] = f(x)
        x = x - lr * fprime(x)
    return out


def double_well(x):
    return (x * x - 1.0) ** 2 / 4.0


def double_well_grad(x):
    return x**3 - x


def alternation(y) -> float:
    """Fraction of consecutive steps that change direction."""
    d = np.diff(np.asarray(y, dtype=float))
    s = np.sign(d)
    return float(np.mean(s[1:] * s[:-1] < 0)) if s.size >= 2 else 0.0


def closed_form_cases() -> list[dict]:
    cs: list[dict] = []
    src = "closed_form"
    rng = np.random.default_rng(20240501)

    # 1-D quadratic, lr = c * 2/lam. The loss lam/2 x^2 (1 - lr lam)^(2k) is monotone in k.
    for lam in (0.5, 4.0, 64.0):
        x0 = 2.0 / math.sqrt(lam)  # initial loss 2
        for c in (0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0, 1.02, 1.1, 1.25, 1.5, 2.0):
            lr = c * 2.0 / lam
            for E in (20, 100) if c in (0.2, 0.9, 1.1) else (60,):
                y = gd_quadratic([lam], [x0], lr, E)
                r = (1.0 - lr * lam) ** 2  # loss ratio per step
                cid = f"cf-quad1d-lam{lam:g}-c{c:g}-E{E}"
                meta = {"lam": lam, "lr": lr, "epochs": E, "lr_over_edge": c}
                if c < 1.0:
                    prog = 1.0 - r**E
                    clear = c <= 0.9 and prog >= 0.5
                    why = (
                        f"GD on a 1-D quadratic at {c:g}x 2/lam: loss x{r:.3g} per epoch, "
                        f"{100 * prog:.1f}% of the way to 0 in {E} epochs"
                    )
                    verdict = "converging" if prog >= 0.05 else "plateaued"
                    cs.append(
                        case(
                            cid,
                            y,
                            verdict,
                            why,
                            unambiguous=clear,
                            source=src,
                            loss_name="mse",
                            meta=meta,
                        )
                    )
                elif c == 1.0:
                    why = (
                        "GD on a 1-D quadratic at exactly 2/lam: x flips sign, the loss is constant"
                    )
                    cs.append(
                        case(
                            cid,
                            y,
                            "plateaued",
                            why,
                            unambiguous=True,
                            source=src,
                            loss_name="mse",
                            meta=meta,
                        )
                    )
                else:
                    why = (
                        f"GD on a 1-D quadratic at {c:g}x 2/lam: loss grows x{r:.3g} per epoch "
                        "(geometric divergence)"
                    )
                    cs.append(
                        case(
                            cid,
                            y,
                            "diverging",
                            why,
                            unambiguous=c >= 1.1,
                            source=src,
                            loss_name="mse",
                            meta=meta,
                        )
                    )

    # n-D quadratics with chosen spectra; initial energy spread over the modes.
    spectra = {
        "k10": np.array([1.0, 0.5, 0.2, 0.1]),
        "k100": np.logspace(0, -2, 6),
        "k1000": np.logspace(0, -3, 8),
    }
    for sname, lams in spectra.items():
        lmax = float(lams.max())
        x0 = rng.standard_normal(lams.size) / np.sqrt(lams) * 0.5
        L0 = 0.5 * float(np.sum(lams * x0 * x0))
        for c in (0.1, 0.5, 0.9, 1.0, 1.1, 1.3, 2.0):
            lr = c * 2.0 / lmax
            E = 200
            y = gd_quadratic(lams, x0, lr, E)
            cid = f"cf-quadnd-{sname}-c{c:g}"
            meta = {"lams": [float(v) for v in lams], "lr": lr, "epochs": E}
            if c < 1.0:
                prog = 1.0 - y[-1] / L0
                why = (
                    f"GD on a {lams.size}-D quadratic (lam {lams.min():.3g}..{lmax:g}) at {c:g}x "
                    f"2/lam_max: every mode shrinks; {100 * prog:.0f}% of the way to 0"
                )
                cs.append(
                    case(
                        cid,
                        y,
                        "converging",
                        why,
                        unambiguous=c <= 0.9 and prog >= 0.5,
                        source=src,
                        loss_name="mse",
                        meta=meta,
                    )
                )
            elif c == 1.0:
                top = 0.5 * lmax * x0[int(np.argmax(lams))] ** 2
                prog = 1.0 - y[-1] / L0
                why = (
                    f"GD on a {lams.size}-D quadratic at exactly 2/lam_max: the top mode's loss "
                    f"stays at {top:.3g} (x flips sign), the others converge; {100 * prog:.0f}% "
                    "of the way to 0"
                )
                cs.append(
                    case(
                        cid,
                        y,
                        "converging",
                        why,
                        unambiguous=prog >= 0.5,
                        source=src,
                        loss_name="mse",
                        meta=meta,
                    )
                )
            else:
                r = (1.0 - lr * lmax) ** 2
                why = (
                    f"GD on a {lams.size}-D quadratic at {c:g}x 2/lam_max: the top mode grows "
                    f"x{r:.3g} per epoch"
                )
                cs.append(
                    case(
                        cid,
                        y,
                        "diverging",
                        why,
                        unambiguous=True,
                        source=src,
                        loss_name="mse",
                        meta=meta,
                    )
                )

    # Top mode holds a tiny share at first: the loss falls, then the unstable mode takes over.
    lams = np.array([1.0, 0.3, 0.1])
    x0 = np.array([1e-6, 2.0, 4.0])
    for c, E, name in ((1.1, 120, "dip-then-grow"), (1.3, 45, "dip-then-grow-short")):
        lr = c * 2.0 / 1.0
        y = gd_quadratic(lams, x0, lr, E)
        r = (1.0 - lr) ** 2
        tail = int(np.argmin(y))
        why = (
            f"GD on a 3-D quadratic at {c:g}x 2/lam_max, top mode starting at 1e-6: the loss "
            f"falls, then grows x{r:.3g} per epoch from epoch {tail} to the end"
        )
        cs.append(
            case(
                f"cf-quad3d-{name}",
                y,
                "diverging",
                why,
                unambiguous=True,
                source=src,
                loss_name="mse",
                meta={"lams": lams.tolist(), "lr": lr, "epochs": E},
            )
        )

    # Tiny learning rates, few epochs: under 1% of the way to the minimum 0 (learning too slowly).
    for lam, lr, E in ((1.0, 1e-5, 100), (4.0, 1e-6, 500), (0.5, 2e-5, 200), (10.0, 2e-5, 20)):
        y = gd_quadratic([lam, lam / 3], [1.0, 2.0], lr, E)
        prog = 1.0 - y[-1] / y[0]
        why = (
            f"GD on a quadratic with lr*lam_max = {lr * lam:.1g} over {E} epochs: only "
            f"{100 * prog:.2f}% of the way to its minimum 0 (learning far too slowly)"
        )
        cs.append(
            case(
                f"cf-quad-tinylr-{lam:g}-{lr:g}-E{E}",
                y,
                "plateaued",
                why,
                unambiguous=True,
                source=src,
                loss_name="mse",
                meta={"lam": lam, "lr": lr, "epochs": E},
            )
        )
    # Slow but not negligible: a few % to 0 (between the clear cases).
    for lr, E in ((3e-4, 100), (1e-3, 100)):
        y = gd_quadratic([1.0], [1.0], lr, E)
        prog = 1.0 - y[-1] / y[0]
        why = f"GD on a quadratic with lr*lam = {lr:g}: {100 * prog:.1f}% of the way to 0"
        verdict = "plateaued" if prog < 0.05 else "converging"
        cs.append(
            case(
                f"cf-quad-slow-{lr:g}",
                y,
                verdict,
                why,
                unambiguous=False,
                source=src,
                loss_name="mse",
                meta={"lam": 1.0, "lr": lr, "epochs": E},
            )
        )

    # Heavy-ball momentum: stable iff lr*lam < 2(1+beta).
    for beta in (0.5, 0.9):
        for lam in (1.0, 8.0):
            edge = heavy_ball_edge(lam, beta)
            for c in (0.1, 0.5, 0.9, 1.1, 1.5):
                lr = c * edge
                E = 300
                y = gd_quadratic([lam, lam / 10.0], [1.0, 3.0], lr, E, beta=beta)
                cid = f"cf-momentum-b{beta:g}-lam{lam:g}-c{c:g}"
                meta = {"lams": [lam, lam / 10.0], "lr": lr, "beta": beta, "epochs": E}
                if c < 1.0:
                    prog = 1.0 - y[-1] / y[0]
                    why = (
                        f"heavy-ball momentum {beta:g} on a quadratic at {c:g}x 2(1+beta)/lam_max:"
                        f" stable, {100 * prog:.1f}% of the way to 0 (the loss may ripple as it "
                        "falls)"
                    )
                    cs.append(
                        case(
                            cid,
                            y,
                            "converging",
                            why,
                            unambiguous=prog >= 0.5,
                            source=src,
                            loss_name="mse",
                            meta=meta,
                        )
                    )
                else:
                    why = (
                        f"heavy-ball momentum {beta:g} on a quadratic at {c:g}x 2(1+beta)/lam_max:"
                        " an eigenvalue of the iteration below -1, geometric divergence"
                    )
                    cs.append(
                        case(
                            cid,
                            y,
                            "diverging",
                            why,
                            unambiguous=True,
                            source=src,
                            loss_name="mse",
                            meta=meta,
                        )
                    )

    # Two-value bouncing: GD on an asymmetric bowl (a = 2, b = 1, lr = 1.5: x -> -2x -> x).
    for x0, E in ((1.0, 60), (0.25, 200), (3.0, 15)):
        y = gd_piecewise(2.0, 1.0, x0, 1.5, E)
        why = (
            "GD on the asymmetric bowl a/2 x^2 | b/2 x^2 (a=2, b=1, lr=1.5): x -> -2x -> x, "
            "a period-2 orbit; the loss alternates between two values forever"
        )
        cs.append(
            case(
                f"cf-bowl-period2-x{x0:g}-E{E}",
                y,
                "oscillating",
                why,
                unambiguous=True,
                source=src,
                meta={"a": 2.0, "b": 1.0, "lr": 1.5, "x0": x0, "epochs": E},
            )
        )
    # ... with ordinary quadratic modes that converge (they hold most of the initial loss).
    y = gd_piecewise(2.0, 1.0, 0.5, 1.5, 150, rest=[3.0, -2.0], rest_lr_lams=[0.3, 0.1])
    cs.append(
        case(
            "cf-bowl-period2-with-converging-modes",
            y,
            "oscillating",
            "period-2 orbit of the asymmetric bowl plus two quadratic modes that converge: "
            "the loss falls, then alternates between two values with no trend",
            unambiguous=True,
            source=src,
            meta={"lr": 1.5, "epochs": 150},
        )
    )
    # Product of the two step factors above / below 1: growing / shrinking bounce.
    for a, name, verdict in ((2.2, "grow", "diverging"), (1.8, "shrink", "converging")):
        # lr*a = 1.5a, lr*b = 1.5: factors (1 - 1.5a) and -0.5 per step, pair product 0.5(1.5a-1)
        pair = 0.5 * (1.5 * a - 1.0)
        y = gd_piecewise(a, 1.0, 1.0, 1.5, 120)
        why = (
            f"GD on the asymmetric bowl (a={a:g}, b=1, lr=1.5): x alternates sign and "
            f"shrinks/grows x{pair:.3g} every two steps, so the loss bounces on a "
            f"{'rising' if pair > 1 else 'falling'} geometric trend"
        )
        cs.append(
            case(
                f"cf-bowl-bounce-{name}",
                y,
                verdict,
                why,
                unambiguous=abs(pair - 1) >= 0.1,
                source=src,
                meta={"a": a, "b": 1.0, "lr": 1.5, "epochs": 120},
            )
        )

    # Double well f = (x^2 - 1)^2 / 4: lr 1.2 has a period-2 attractor (loss 0.022 <-> 0.054).
    for x0, E in ((0.3, 100), (1.5, 300), (0.6, 40)):
        y = gd_1d(double_well_grad, double_well, x0, 1.2, E)
        why = (
            "GD at lr 1.2 on the double well (x^2-1)^2/4 (2/f''(1) = 1): a period-2 attractor; "
            "the loss settles into bouncing between 0.022 and 0.054, no trend"
        )
        cs.append(
            case(
                f"cf-doublewell-period2-x{x0:g}",
                y,
                "oscillating",
                why,
                unambiguous=True,
                source=src,
                meta={"lr": 1.2, "x0": x0, "epochs": E},
            )
        )
    for lr in (0.5, 0.9):
        y = gd_1d(double_well_grad, double_well, 0.3, lr, 100)
        why = f"GD at lr {lr:g} < 2/f''(1) = 1 on the double well: converges to the minimum at 1"
        cs.append(
            case(
                f"cf-doublewell-lr{lr:g}",
                y,
                "converging",
                why,
                unambiguous=True,
                source=src,
                meta={"lr": lr, "x0": 0.3, "epochs": 100},
            )
        )

    # GD on the double well and on 1 - cos x at large lr: bounded bouncing (periodic or chaotic)
    # with no trend, started at the top of the band it bounces in. It is clear-cut only when
    # the steps keep alternating (a chaotic orbit that wanders like noise is not).
    def one_minus_cos(x):
        return 1.0 - math.cos(x)

    for name, f, fp, lr, x0 in (
        ("doublewell", double_well, double_well_grad, 1.8, 0.05),
        ("doublewell", double_well, double_well_grad, 1.4, 0.05),
        ("cos", one_minus_cos, math.sin, 3.5, 2.8),
        ("cos", one_minus_cos, math.sin, 4.0, 2.8),
        ("cos", one_minus_cos, math.sin, 4.5, 2.8),
    ):
        y = gd_1d(fp, f, x0, lr, 200)
        alt = alternation(y[-60:])
        clear = alt >= 0.95
        why = (
            f"GD at lr {lr:g} on {name} from x0={x0:g} (top of the band): bounded bouncing with "
            f"no trend (steps change direction {100 * alt:.0f}% of the time over the last 60)"
        )
        cs.append(
            case(
                f"cf-chaos-{name}-lr{lr:g}",
                y,
                "oscillating",
                why,
                unambiguous=clear,
                source=src,
                meta={"lr": lr, "x0": x0, "epochs": 200},
            )
        )
    # The same bouncing started below its band: the first rule (final-window median above the
    # initial loss by a margin) makes it diverging.
    y = gd_1d(math.sin, one_minus_cos, 0.5, 3.5, 200)
    cs.append(
        case(
            "cf-bounce-above-start-cos-lr3.5",
            y,
            "diverging",
            "GD at lr 3.5 on 1 - cos x from x0=0.5 (loss 0.12): it ends bouncing between 0.46 "
            "and 1.48, far above the initial loss (the first rule wins)",
            unambiguous=True,
            source=src,
            meta={"lr": 3.5, "x0": 0.5, "epochs": 200},
        )
    )
    return cs


# --------------------------------------------------------------------------------------------
# 2. Hand-written shapes (formula + seeded noise)


class Noise:
    """Seeded noise: every case gets its own stream, numbered in order of creation."""

    def __init__(self, seed: int = 7):
        self.seed = seed
        self.count = 0

    def rng(self) -> np.random.Generator:
        self.count += 1
        return np.random.default_rng([self.seed, self.count])


def exp_curve(n, start=1.0, floor=0.0, tau=None):
    t = np.arange(n, dtype=float)
    tau = tau if tau is not None else max(n / 5.0, 0.7)
    return floor + (start - floor) * np.exp(-t / tau)


def power_curve(n, start=1.0, p=1.0, t0=1.0):
    t = np.arange(n, dtype=float)
    return start * (1.0 + t / t0) ** (-p)


def hand_cases() -> list[dict]:
    nz = Noise()
    cs: list[dict] = []
    src = "hand"
    base: dict[str, tuple] = {}  # shapes re-used for the shift/scale variants

    def add(cid, y, verdict, why, *, unambiguous=True, keep=False, **kw):
        cs.append(case(cid, y, verdict, why, unambiguous=unambiguous, source=src, **kw))
        if keep:
            base[cid] = (np.asarray(y, dtype=float), verdict, why, unambiguous, kw)

    # Exponential decay, several lengths and noise levels (noise std as a fraction of the drop).
    for n in (5, 8, 10, 20, 50, 200, 1000, 5000):
        for sigma in (0.0, 0.01, 0.05):
            floor = 0.05
            y = exp_curve(n, 1.0, floor)
            y = y + sigma * (1.0 - floor) * nz.rng().standard_normal(n)
            why = (
                f"exponential decay 1 -> {floor:g} over {n} points, noise {sigma:g} of the drop: "
                "clear net progress"
            )
            add(f"hand-exp-n{n}-s{sigma:g}", y, "converging", why, keep=n in (50, 1000))
    for n in (3, 4):
        y = exp_curve(n, 1.0, 0.0, tau=1.0)
        add(
            f"hand-exp-short-n{n}",
            y,
            "converging",
            f"exponential decay over only {n} points (too few to be sure)",
            unambiguous=False,
        )
    # Power-law decay, multiplicative noise.
    for p in (0.5, 1.0, 2.0):
        for n in (30, 300, 3000):
            for sigma in (0.02, 0.1):
                y = power_curve(n, 2.0, p, t0=max(1.0, n / 100))
                y = y * (1.0 + sigma * nz.rng().standard_normal(n))
                why = (
                    f"power-law decay (1+t/t0)^-{p:g} over {n} points, multiplicative noise "
                    f"{sigma:g}: clear net progress"
                )
                add(f"hand-power-p{p:g}-n{n}-s{sigma:g}", y, "converging", why)

    # Thousands of noisy mini-batch losses around a falling trend (healthy runs).
    mb = (
        # (n, trend, noise kind, noise level as a fraction of the drop)
        (1000, "exp", "gauss", 0.1),
        (2000, "exp", "gauss", 0.3),
        (5000, "exp", "gauss", 0.2),
        (3000, "power", "gauss", 0.15),
        (4000, "power", "mult", 0.3),
        (5000, "exp", "mult", 0.5),
        (2000, "exp", "t3", 0.1),
        (3000, "power", "ar1", 0.2),
        (5000, "exp-flat", "gauss", 0.25),
        (2500, "exp-flat", "mult", 0.4),
        (4000, "linear-ish", "gauss", 0.2),
        (1500, "two-phase", "gauss", 0.15),
    )
    for i, (n, trend, kind, level) in enumerate(mb):
        r = nz.rng()
        t = np.arange(n, dtype=float)
        if trend == "exp":
            m = 0.1 + 2.2 * np.exp(-t / (n / 4))
        elif trend == "exp-flat":  # converges in the first 10%, then only noise
            m = 0.3 + 2.0 * np.exp(-t / (n / 30))
        elif trend == "power":
            m = 2.3 * (1 + t / (n / 50)) ** -0.7
        elif trend == "linear-ish":
            m = 1.5 - 1.0 * (t / n) ** 0.8
        else:  # two-phase: plateau then a drop (a typical 'aha' moment)
            m = 0.4 + 0.9 / (1 + np.exp((t - 0.4 * n) / (0.03 * n)))
        drop = float(m[0] - m[-1])
        if kind == "gauss":
            e = level * drop * r.standard_normal(n)
        elif kind == "t3":
            e = level * drop * r.standard_t(3, n) / math.sqrt(3.0)
        elif kind == "ar1":
            w = r.standard_normal(n)
            e = np.empty(n)
            e[0] = w[0]
            for k in range(1, n):
                e[k] = 0.5 * e[k - 1] + math.sqrt(0.75) * w[k]
            e *= level * drop
        else:  # multiplicative (lognormal): bigger losses, bigger noise
            e = m * (np.exp(level * r.standard_normal(n) - 0.5 * level**2) - 1.0)
        y = m + e
        why = (
            f"{n} mini-batch losses: {trend} trend falling by {drop:.2g}, {kind} noise "
            f"{level:g} (noise around a falling trend is converging, not oscillating)"
        )
        add(
            f"hand-minibatch-{i:02d}-{trend}-{kind}",
            y,
            "converging",
            why,
            unambiguous=level <= 0.5,
            tags=["healthy_noisy"],
            keep=i in (0, 5),
        )

    # Spike then recover (converging, early_spike).
    for i, (n, at, height, sigma) in enumerate(
        (
            (100, 10, 3.0, 0.0),
            (200, 30, 1.0, 0.0),
            (300, 20, 5.0, 0.01),
            (60, 6, 2.0, 0.0),
            (500, 80, 0.8, 0.01),
            (150, 15, 10.0, 0.02),
            (1000, 100, 2.0, 0.02),
        )
    ):
        y = exp_curve(n, 1.0, 0.05)
        k = np.arange(n)
        bump = np.where(k >= at, height * np.exp(-(k - at) / max(2.0, n / 50)), 0.0)
        y = y + bump * y[at]
        y = y + sigma * nz.rng().standard_normal(n)
        why = (
            f"exponential decay with a spike at epoch {at} to {1 + height:g}x the level there, "
            "recovered within a few epochs and kept falling"
        )
        add(f"hand-spike-{i}", y, "converging", why, flags=["early_spike"], keep=i in (0, 4))
    # The spike of the first question: a jump far above the initial loss, then a full recovery.
    y = np.concatenate([exp_curve(10, 0.7, 0.4), [3.0, 6.0, 2.5, 0.9], exp_curve(186, 0.5, 0.02)])
    add(
        "hand-spike-above-initial",
        y,
        "converging",
        "falls, jumps to 8x the initial loss for four epochs, then recovers and falls to 0.02",
        flags=["early_spike"],
        keep=True,
    )

    # Learns, then jumps up and stays (diverging, late_blowup).
    for i, (n, at, to, sigma) in enumerate(
        (
            (100, 60, 0.9, 0.0),
            (300, 150, 0.8, 0.01),
            (200, 100, 1.0, 0.02),
            (1000, 500, 0.95, 0.0),
            (60, 35, 0.85, 0.0),
        )
    ):
        y = exp_curve(n, 1.0, 0.05, tau=at / 5)
        y[at:] = to
        y = y + sigma * nz.rng().standard_normal(n)
        why = (
            f"falls from 1 to ~0.05, then at epoch {at} of {n} jumps to {to:g} and stays: lost "
            f"{100 * (to - 0.05) / 0.95:.0f}% of its progress, no recovery"
        )
        add(f"hand-blowup-{i}", y, "diverging", why, flags=["late_blowup"], keep=i in (0, 2))
    # ... a gradual creep back up to the initial level.
    y = np.concatenate([exp_curve(100, 1.0, 0.1, tau=15), np.linspace(0.1, 0.95, 100)])
    add(
        "hand-blowup-creep",
        y,
        "diverging",
        "falls from 1 to 0.1, then rises steadily back to 0.95: lost 94% of its progress",
        flags=["late_blowup"],
    )
    # ... half the progress lost: between the clear cases.
    y = exp_curve(200, 1.0, 0.1, tau=20)
    y[120:] = 0.55
    add(
        "hand-blowup-half",
        y,
        "diverging",
        "falls from 1 to 0.1, then jumps to 0.55 and stays: lost half of its progress",
        unambiguous=False,
    )
    # Rising from the start: above the initial loss / geometric growth.
    add(
        "hand-rise-linear",
        np.linspace(1.0, 3.0, 50),
        "diverging",
        "rises steadily from 1 to 3: the final window sits far above the initial loss",
        keep=True,
    )
    add(
        "hand-rise-geometric",
        0.5 * 1.15 ** np.arange(80),
        "diverging",
        "grows x1.15 per epoch from the first epoch to the last",
    )
    y = 1.0 + 0.02 * nz.rng().standard_normal(300)
    y[200:] += 0.01 * 1.2 ** np.arange(100)
    add(
        "hand-rise-geometric-late",
        y,
        "diverging",
        "flat and noisy for 200 epochs, then grows x1.2 per epoch to the end (ends ~7e5 above "
        "the start)",
    )

    # Non-finite at the end.
    for i, (n, at) in enumerate(((100, 50), (100, 99), (300, 270), (20, 12), (500, 100))):
        y = exp_curve(n, 1.0, 0.1)
        y[at:] = np.nan
        why = f"falls, then the loss is non-finite from epoch {at} of {n} to the end"
        add(f"hand-nan-end-{i}", y, "diverging", why, keep=i == 0)
    y = np.concatenate([np.linspace(1, 5, 30) ** 2, [np.inf, np.nan, np.nan]])
    add("hand-inf-end", y, "diverging", "rises, then inf followed by NaN to the end")
    add(
        "hand-nan-all-but-first",
        [0.7] + [None] * 30,
        "diverging",
        "non-finite from epoch 1 to the end",
    )

    # Isolated non-finite values in the middle of a converging curve.
    for i, (n, holes) in enumerate(((100, (40,)), (300, (10, 11, 150)), (50, (25, 30, 35)))):
        y = exp_curve(n, 1.0, 0.05) + 0.005 * nz.rng().standard_normal(n)
        y[list(holes)] = np.nan
        why = f"converging exponential decay with isolated NaN at epochs {list(holes)}"
        add(f"hand-nan-middle-{i}", y, "converging", why)

    # Flat at the chance loss (plateaued, stuck_at_chance).
    chance = (
        ("bce", None, LN2),
        ("cross_entropy", 10, LN10),
        ("cross_entropy", 3, math.log(3)),
        ("cross_entropy", 5, math.log(5)),
    )
    for loss_name, k, level in chance:
        for n, sigma in ((10, 0.0), (100, 1e-3), (1000, 1e-2), (200, 1e-4)):
            y = level + sigma * nz.rng().standard_normal(n)
            why = (
                f"flat at the chance loss ln {k or 2} = {level:.4g} for {n} epochs, noise {sigma:g}"
            )
            add(
                f"hand-chance-{loss_name}-k{k or 2}-n{n}",
                y,
                "plateaued",
                why,
                flags=["stuck_at_chance"],
                loss_name=loss_name,
                n_classes=k,
                keep=n == 100 and k in (None, 10),
            )
    # Flat at chance from the first epoch, without the loss being named: plateaued, no flag.
    for n, sigma in ((100, 1e-3), (500, 0.0)):
        y = LN2 + sigma * nz.rng().standard_normal(n)
        add(
            f"hand-flat-ln2-unnamed-n{n}",
            y,
            "plateaued",
            "flat at 0.693 for the whole run (loss not named)",
        )
    # Quick drop to chance, then flat: stuck, but it did make early progress.
    y = np.concatenate([[2.5, 1.4, 0.9, 0.75], LN2 + 1e-3 * nz.rng().standard_normal(200)])
    add(
        "hand-chance-after-drop",
        y,
        "plateaued",
        "falls from 2.5 to ln 2 in 4 epochs (calibrating the bias), then flat at chance for 200",
        unambiguous=False,
        flags=["stuck_at_chance"],
        loss_name="bce",
    )
    # Flat away from chance / slow learning.
    for i, (level, sigma, n, loss_name) in enumerate(
        (
            (0.37, 0.01, 300, "mse"),
            (12.0, 0.5, 100, None),
            (0.02, 1e-4, 1000, "mse"),
            (-3.0, 0.05, 200, None),
        )
    ):
        y = level + sigma * nz.rng().standard_normal(n)
        add(
            f"hand-flat-{i}",
            y,
            "plateaued",
            f"flat at {level:g} with noise {sigma:g} for {n} epochs: no net progress",
            loss_name=loss_name,
            keep=i in (1, 3),
        )
    for i, (start, frac, n, loss_name) in enumerate(
        ((LN2, 0.005, 200, "bce"), (2.3, 0.003, 100, "cross_entropy"), (1.0, 0.002, 500, "mse"))
    ):
        y = start * (1.0 - frac * np.arange(n) / (n - 1))
        add(
            f"hand-slow-{i}",
            y,
            "plateaued",
            f"smooth decline of only {100 * frac:.1f}% of the way to 0 over {n} epochs "
            "(learning far too slowly)",
            loss_name=loss_name,
            n_classes=10 if loss_name == "cross_entropy" else None,
        )

    # Oscillating: two-value bouncing, bounded chaotic bouncing, after a fall or from the start.
    for n in (10, 30, 100, 1000):
        k = np.arange(n)
        y = np.where(k % 2 == 0, 1.0, 0.5)
        add(
            f"hand-bounce-n{n}",
            y,
            "oscillating",
            f"bounces between 1.0 and 0.5 at every step for {n} epochs, no trend",
            keep=n == 100,
        )
    add(
        "hand-bounce-n5",
        [1.0, 0.5, 1.0, 0.5, 1.0],
        "oscillating",
        "five points bouncing between two values (too few to be sure)",
        unambiguous=False,
    )
    for i, (n, fall, amp, sigma) in enumerate(
        ((200, 60, 0.3, 0.0), (300, 50, 0.5, 0.02), (150, 30, 0.8, 0.0), (500, 100, 0.25, 0.01))
    ):
        k = np.arange(n)
        y = exp_curve(n, 2.0, 0.5, tau=fall / 4)
        lvl = y[fall]
        y[fall:] = lvl + amp * lvl * np.where((k[fall:] - fall) % 2 == 0, 1.0, -1.0)
        y = y + sigma * nz.rng().standard_normal(n)
        why = (
            f"falls for {fall} epochs, then bounces +-{100 * amp:.0f}% around its level at every "
            "step to the end, no trend"
        )
        add(f"hand-bounce-after-fall-{i}", y, "oscillating", why, keep=i == 0)
    for i, n in enumerate((80, 400, 2000)):
        r = nz.rng()
        k = np.arange(n)
        y = 1.0 + np.where(k % 2 == 0, 1.0, -1.0) * (0.2 + 0.8 * r.random(n))
        add(
            f"hand-chaotic-bounce-{i}",
            y,
            "oscillating",
            f"bounded chaotic bouncing for {n} epochs: direction flips at every step, random "
            "amplitude, no trend",
            keep=i == 1,
        )
    for r_, n in ((3.9, 300), (3.7, 200), (3.5, 200)):
        x = 0.97  # above the band the map bounces in
        y = np.empty(n)
        for k in range(n):
            y[k] = x
            x = r_ * x * (1 - x)
        alt = alternation(y[-60:])
        add(
            f"hand-logistic-r{r_:g}",
            y,
            "oscillating",
            f"logistic map r={r_:g} from 0.97: bounded bouncing with no trend, direction flips "
            f"{100 * alt:.0f}% of the time",
            unambiguous=alt >= 0.95,
        )
    # Edge-of-stability bouncing on a clearly falling trend: converging.
    for i, (n, amp) in enumerate(((200, 0.02), (400, 0.05), (100, 0.03))):
        k = np.arange(n)
        trend = 2.0 - 1.8 * k / n  # still falling steeply at the end
        y = trend + amp * np.where(k % 2 == 0, 1.0, -1.0)
        drop_w = 1.8 * 0.2
        why = (
            f"falls linearly from 2 to 0.2 while bouncing +-{amp:g} at every step: the trend "
            f"over the final 20% ({drop_w:.2g}) dwarfs the swings"
        )
        add(f"hand-eos-falling-{i}", y, "converging", why, keep=i == 0)
    # Bouncing that is small next to what was gained, on a flat end: not clear-cut.
    n = 300
    k = np.arange(n)
    y = exp_curve(n, 2.0, 0.2, tau=20) + 0.01 * np.where(k % 2 == 0, 1.0, -1.0) * (k > 100)
    add(
        "hand-small-bounce-flat-end",
        y,
        "converging",
        "falls from 2 to 0.2, then bounces +-0.01 (0.5% of the drop) with no trend",
        unambiguous=False,
    )

    # Short per-epoch logs (Keras-style, 6 to 10 points) of every kind.
    nan = float("nan")
    short = (
        (
            "rise-n6",
            [1.0, 1.4, 2.1, 3.3, 5.2, 8.0],
            "diverging",
            (),
            "six epochs growing about x1.55 per epoch from the first",
        ),
        (
            "nan-n7",
            [1.0, 0.6, 0.45, 0.4, nan, nan, nan],
            "diverging",
            (),
            "falls for four epochs, then non-finite to the end",
        ),
        (
            "spike-n10",
            [1.0, 0.7, 0.5, 2.5, 0.6, 0.35, 0.3, 0.25, 0.22, 0.2],
            "converging",
            ("early_spike",),
            "falls, jumps to 5x its level at epoch 3, recovers and keeps falling",
        ),
        (
            "blowup-n10",
            [1.0, 0.5, 0.3, 0.2, 0.15, 0.9, 0.95, 0.92, 0.97, 0.95],
            "diverging",
            ("late_blowup",),
            "falls 1 -> 0.15, then jumps to ~0.95 and stays: lost 94% of it",
        ),
    )
    for name, y, verdict, flags, why in short:
        add(f"hand-short-{name}", y, verdict, why, flags=flags)
    y = exp_curve(10, 2.0, 0.3) + 0.03 * nz.rng().standard_normal(10)
    add(
        "hand-short-converging-noisy-n10",
        y,
        "converging",
        "ten epochs of exponential decay 2 -> 0.3 with noise 0.03",
    )
    y = 0.25 + 1e-4 * nz.rng().standard_normal(8)
    add(
        "hand-short-flat-n8",
        y,
        "plateaued",
        "eight epochs flat at 0.25 (mse), noise 1e-4",
        loss_name="mse",
    )

    # Losses that reach exactly 0, or live near 0, or cross it.
    y = np.concatenate([10.0 ** -np.arange(13), np.zeros(27)])
    add(
        "hand-to-exact-zero",
        y,
        "converging",
        "falls x10 per epoch from 1 to 1e-12, then exactly 0 for 27 epochs",
        loss_name="mse",
    )
    y = exp_curve(300, 1e-6, 1e-9) * (1 + 0.05 * nz.rng().standard_normal(300))
    add("hand-near-zero", y, "converging", "exponential decay 1e-6 -> 1e-9, 5% noise")
    t = np.arange(300)
    y = 5.0 - 8.0 * (1 - np.exp(-t / 40)) + 0.05 * nz.rng().standard_normal(300)
    add(
        "hand-cross-zero",
        y,
        "converging",
        "a negative-valued loss (e.g. a negative log-likelihood) falling from 5 to -3, crossing 0",
        keep=True,
    )
    y = np.linspace(-3.0, -1.0, 200) + 0.05 * nz.rng().standard_normal(200)
    add(
        "hand-negative-rise",
        y,
        "diverging",
        "a negative-valued loss rising steadily from -3 to -1 (noise 0.05)",
    )
    y = np.linspace(1.0, 1.5, 300) + 0.05 * nz.rng().standard_normal(300)
    add(
        "hand-noisy-rise",
        y,
        "diverging",
        "noisy (0.05) and rising from 1 to 1.5: the final window sits ~8 noise widths above the "
        "start",
    )

    # Healthy runs with a few bad batches; a long plateau that ends; a small late uptick.
    r = nz.rng()
    y = exp_curve(1000, 1.0, 0.05) + 0.02 * r.standard_normal(1000)
    y[r.choice(np.arange(100, 1000), 5, replace=False)] += 2.0
    add(
        "hand-isolated-spikes",
        y,
        "converging",
        "noisy exponential decay with five single-epoch spikes of +2 (bad batches)",
        tags=["healthy_noisy"],
        keep=True,
    )
    t = np.arange(500)
    y = 0.1 + (LN2 - 0.1) / (1 + np.exp((t - 420) / 12)) + 1e-3 * nz.rng().standard_normal(500)
    add(
        "hand-plateau-then-drop",
        y,
        "converging",
        "flat at ln 2 for 380 epochs, then falls to 0.1 and stays: clear net progress",
        loss_name="bce",
    )
    y = np.concatenate([exp_curve(150, 1.0, 0.1, tau=20), np.linspace(0.1, 0.19, 50)])
    add(
        "hand-small-late-uptick",
        y,
        "converging",
        "falls 1 -> 0.1, then creeps up to 0.19 (kept 90% of its progress)",
    )

    # Noise with no trend at all, at length: its level is not moving, and independent noise is
    # mini-batch noise about a level, not a swing (a QA pass of issue 11: iid noise of +-25%
    # read as oscillating was a false alarm waiting for every flat mini-batch log).
    y = 2.0 + 0.3 * nz.rng().standard_normal(2000)
    add(
        "hand-noisy-flat-long",
        y,
        "plateaued",
        "2000 mini-batch losses of pure noise (0.3) around 2.0: no trend",
        keep=True,
    )
    y = LN10 + 0.05 * nz.rng().standard_normal(3000)
    add(
        "hand-noisy-chance-long",
        y,
        "plateaued",
        "3000 mini-batch losses around ln 10 (noise 0.05): stuck at chance",
        flags=["stuck_at_chance"],
        loss_name="cross_entropy",
        n_classes=10,
    )

    # Shifted and scaled copies: the verdict does not change (by definition), except that a
    # shift of a loss > 0 moves its level (or takes it away), which the verdict of a loss > 0
    # reads (issue 11: a fall from 0.32 to 0.305 is not the fall from 0.02 to 0.005 it was
    # shifted from): such a copy is ambiguous.
    transforms = ((1e-4, 0.0), (1e4, 0.0), (1.0, -5.0), (1e-3, -0.01), (1e2, -1e3), (1e-2, 0.3))
    for j, (cid, (y0, verdict, why, unamb, kw)) in enumerate(sorted(base.items())):
        for a, b in (transforms[j % 6], transforms[(j + 3) % 6]):
            y = a * y0 + b
            finite = y0[np.isfinite(y0)]
            moved_level = b != 0.0 and finite.size > 0 and bool((finite > 0).all())
            kw2 = {key: v for key, v in kw.items() if key not in ("loss_name", "n_classes")}
            named = kw.get("loss_name")
            if named == "mse" and b == 0.0:  # a scaled mse is still an mse
                kw2["loss_name"] = "mse"
            if named is not None and "loss_name" not in kw2:
                kw2["flags"] = [f for f in kw.get("flags", ()) if f != "stuck_at_chance"]
            add(
                f"{cid}-x{a:g}{b:+g}",
                y,
                verdict,
                f"{why} (scaled x{a:g}, shifted {b:+g})"
                + ("; ambiguous: a shift moves the level of a loss > 0" if moved_level else ""),
                unambiguous=unamb and not moved_level,
                **kw2,
            )
    return cs


# --------------------------------------------------------------------------------------------
# 3. lrdiag's own training runs


def read_curve(y, *, floor_known: bool, chance: float | None = None) -> tuple[str, bool, str]:
    """An independent reading of the verdict definitions: (verdict, clear-cut?, why).

    Simple, stated criteria, with a wide band around every cut-off where the answer is "not
    clear-cut" (those cases are labelled but marked ambiguous). Levels are medians, so single
    noisy values do not decide; ``floor_known`` means the loss is bounded below by 0 (bce,
    cross-entropy, mse), so progress can be measured as the share of the way to 0; ``chance``
    is the chance loss (ln 2 for bce, ln K for K-class cross-entropy).
    """
    y = np.asarray(y, dtype=float)
    fin = np.isfinite(y)
    if not fin[-1]:
        k = int(np.flatnonzero(fin)[-1]) + 1 if fin.any() else 0
        return "diverging", True, f"the loss is non-finite from epoch {k} to the end"
    y = y[fin]
    n = y.size
    w = max(10, n // 5)
    fw = y[-w:]
    L0 = float(y[0])
    med_f = float(np.median(fw))
    k5 = min(max(5, n // 50), max(1, n // 10))  # rolling-median width for the best level
    smooth = np.array([np.median(y[max(0, i - k5 // 2) : i + k5 // 2 + 1]) for i in range(n)])
    best = float(smooth.min())
    R = max(L0, float(fw.max())) - float(y.min())
    if R <= 0:
        return "plateaued", True, "the loss never changes"
    # A transient far above the start and the end (a near-blow-up): nothing after it is clear.
    wild = float(y.max()) > 100.0 * max(abs(L0), abs(med_f))
    wild_note = f" (after a transient up to {float(y.max()):.3g})" if wild else ""
    # The final window's swings: share of steps that change direction, median step, trend.
    d = np.diff(fw)
    s = np.sign(d)
    alt = float(np.mean(s[1:] * s[:-1] < 0)) if d.size >= 2 else 0.0
    swing = float(np.median(np.abs(d))) / R
    pairs = 0.5 * (fw[1:] + fw[:-1])  # a period-2 bounce averages out
    q = max(1, pairs.size // 4)
    decline = float(pairs[:q].mean() - pairs[-q:].mean()) / R
    swinging = alt >= 0.75 and swing >= 0.03
    band_low = float(np.quantile(fw, 0.1))  # with large swings, "above" must hold for the band
    # 1. above the initial loss
    rise = (med_f - L0) / R
    if rise > 0.05:
        return (
            "diverging",
            rise >= 0.25 and (not swinging or band_low > L0),
            f"the final-window median {med_f:.3g} sits {100 * rise:.0f}% of the range above the "
            f"initial loss {L0:.3g}" + (", bouncing" if swinging else ""),
        )
    # 1b. lost most of its progress
    drop = L0 - best
    kept = (L0 - med_f) / drop if drop > 0 else 1.0
    made_progress = drop > 0.2 * R and (not floor_known or drop > 0.1 * L0)
    if made_progress and kept < 0.5:
        return (
            "diverging",
            kept < 0.2 and not wild and (not swinging or band_low > best + 0.8 * drop),
            f"fell from {L0:.3g} to {best:.3g}, then came back up to {med_f:.3g}: kept only "
            f"{100 * kept:.0f}% of its progress" + (", bouncing" if swinging else "") + wild_note,
        )
    # 2. swings that keep alternating in direction, no downward trend
    if swinging and decline < swing:
        clear = alt >= 0.9 and swing >= 0.1 and decline < 0.3 * swing and not wild
        return (
            "oscillating",
            clear,
            f"over the last {w} epochs the steps change direction {100 * alt:.0f}% of the time "
            f"with a median swing of {100 * swing:.0f}% of the range and no downward trend"
            + wild_note,
        )
    # small bouncing that goes on, or bouncing on a falling trend: not oscillating, less clear
    bouncing = alt >= 0.75 and swing >= 0.01
    # 3. net progress
    if floor_known and L0 > 0:
        p = (L0 - med_f) / L0
        what = "of the way to 0"
    else:
        p = (L0 - med_f) / R
        what = "of the range"
    near_chance = chance is not None and abs(med_f - chance) <= 0.05 * chance
    if near_chance and p >= 0.01 and abs(med_f - chance) <= 0.02 * chance:
        flat = abs(decline) * R <= 0.005 * chance
        if flat:
            return (
                "plateaued",
                False,
                f"fell from {L0:.4g} to the chance loss {chance:.4g} and stays there "
                f"(final-window median {med_f:.4g}): stuck at chance, after early progress"
                + wild_note,
            )
    if p < 0.05:
        return (
            "plateaued",
            p < 0.01 and swing < 0.1 and not bouncing and not wild,
            f"net progress {100 * p:.2f}% {what} ({L0:.4g} to {med_f:.4g}){wild_note}",
        )
    late = (L0 - med_f) / (L0 - best) if L0 > best else 1.0
    clear = p >= 0.15 and late >= 0.8 and not bouncing and not wild and not near_chance
    return (
        "converging",
        clear,
        f"net progress {100 * p:.0f}% {what} ({L0:.4g} to {med_f:.4g}), keeping "
        f"{100 * min(late, 1.0):.0f}% of its best progress"
        + (", bouncing as it goes" if bouncing else "")
        + (f", ending within 5% of the chance loss {chance:.4g}" if near_chance else "")
        + wild_note,
    )


def chance_loss(loss: str, n_classes: int | None) -> float | None:
    if loss == "bce":
        return LN2
    if loss == "cross_entropy" and n_classes:
        return math.log(n_classes)
    return None


def sweep_dict(
    data,
    hidden,
    activation,
    output,
    loss,
    *,
    scheme="xavier",
    scales=(1.0,),
    optimizer="sgd",
    momentum=0.9,
    batch="full",
    epochs=200,
    seeds=(0,),
    dtype="float32",
    lrs=None,
):
    lrs = lrs if lrs is not None else {"min": 1e-3, "max": 100.0, "num": 11}
    return {
        "data": data,
        "model": {"hidden": list(hidden), "activation": activation, "output": output, "loss": loss},
        "init": {"scheme": scheme, "scales": list(scales)},
        "training": {
            "optimizer": optimizer,
            "momentum": momentum,
            "batch_size": batch,
            "epochs": epochs,
            "seeds": list(seeds),
            "dtype": dtype,
        },
        "sweep": {"learning_rates": lrs},
    }


def _data(kind, n=200, noise=0.1, seed=0, **kw):
    return {"kind": kind, "n_samples": n, "noise": noise, "seed": seed, **kw}


BCE = ("sigmoid", "bce")
CE = ("softmax", "cross_entropy")
MSE = ("identity", "mse")
TINY = [1e-6, 1e-5, 1e-4]

# name: (data, hidden, activation, head, options). One seed unless stated; 11 log-spaced lrs.
SWEEPS = {
    "moons-16tanh-xavier": (_data("moons"), [16], "tanh", BCE, {}),
    "moons-16relu-he": (_data("moons"), [16], "relu", BCE, {"scheme": "he"}),
    "moons-64x32tanh-lecun": (
        _data("moons", noise=0.2),
        [64, 32],
        "tanh",
        BCE,
        {"scheme": "lecun", "scales": (1.0, 3.0)},
    ),
    "circles-16sigmoid-xavier": (
        _data("circles", noise=0.05),
        [16],
        "sigmoid",
        BCE,
        {"epochs": 300},
    ),
    "blobs3-linear-softmax": (
        _data("blobs", noise=1.0, n_features=2, n_classes=3),
        [],
        "tanh",
        CE,
        {"epochs": 150},
    ),
    "spirals3-64x32relu-he": (
        _data("spirals", noise=0.1, n_classes=3),
        [64, 32],
        "relu",
        CE,
        {"scheme": "he", "epochs": 300},
    ),
    "xor-16tanh-normal": (_data("xor", noise=0.1), [16], "tanh", BCE, {"scheme": "normal"}),
    "moons-16sigmoid-normal-scales": (
        _data("moons"),
        [16],
        "sigmoid",
        BCE,
        {"scheme": "normal", "scales": (1.0, 5.0)},
    ),
    "blobs4-16relu-uniform01": (
        _data("blobs", noise=1.5, n_features=4, n_classes=4),
        [16],
        "relu",
        CE,
        {"scheme": "uniform01"},
    ),
    "moons-16tanh-momentum": (_data("moons"), [16], "tanh", BCE, {"optimizer": "momentum"}),
    "blobs3-16relu-momentum": (
        _data("blobs", noise=1.0, n_features=2, n_classes=3),
        [16],
        "relu",
        CE,
        {"optimizer": "momentum", "scheme": "he"},
    ),
    "moons-16tanh-batch32": (_data("moons"), [16], "tanh", BCE, {"batch": 32, "epochs": 100}),
    "circles-64x32relu-batch16": (
        _data("circles", noise=0.05),
        [64, 32],
        "relu",
        BCE,
        {"batch": 16, "epochs": 100, "scheme": "he"},
    ),
    "spirals3-16tanh-batch8-momentum": (
        _data("spirals", noise=0.1, n_classes=3),
        [16],
        "tanh",
        CE,
        {"batch": 8, "epochs": 60, "optimizer": "momentum", "momentum": 0.5},
    ),
    "linear-16tanh-mse": (
        _data("linear", noise=0.1, n_features=3),
        [16],
        "tanh",
        MSE,
        {"scheme": "xavier"},
    ),
    # Learning far too slowly, or not at all (vanishing gradients through small sigmoid layers).
    "circles-3x32sigmoid-small-init": (
        _data("circles", noise=0.05),
        [32, 32, 32],
        "sigmoid",
        BCE,
        {"scales": (0.1,), "lrs": [0.01, 0.1, 1.0]},
    ),
    "spirals3-3x32sigmoid-small-init": (
        _data("spirals", n_classes=3),
        [32, 32, 32],
        "sigmoid",
        CE,
        {"scales": (0.1,), "lrs": [0.01, 0.1, 1.0]},
    ),
    "moons-16relu-tiny-lr": (_data("moons"), [16], "relu", BCE, {"scheme": "he", "lrs": TINY}),
    "blobs3-64x32tanh-tiny-lr": (
        _data("blobs", noise=1.0, n_features=2, n_classes=3),
        [64, 32],
        "tanh",
        CE,
        {"lrs": TINY},
    ),
    "linear-16tanh-tiny-lr": (
        _data("linear", noise=0.1, n_features=3),
        [16],
        "tanh",
        MSE,
        {"lrs": TINY},
    ),
}
MAX_NONFINITE = 3  # non-finite runs kept per sweep (the lowest learning rates among them)


def _train(d):
    from lrdiag.config import config_from_dict
    from lrdiag.data import load_dataset
    from lrdiag.sweep import expand_grid, train

    cfg = config_from_dict(d)
    ds = load_dataset(cfg.data, cfg.model)
    runs = expand_grid(cfg)
    return cfg, ds, runs, train(cfg, ds, runs, threads=1)


def _run_meta(name, d, run):
    t = d["training"]
    return {
        "sweep": name,
        "data": d["data"]["kind"],
        "hidden": d["model"]["hidden"],
        "activation": d["model"]["activation"],
        "loss": d["model"]["loss"],
        "init": d["init"]["scheme"],
        "init_scale": run.init_scale,
        "optimizer": t["optimizer"]
        + (f"({t['momentum']:g})" if t["optimizer"] == "momentum" else ""),
        "batch_size": t["batch_size"],
        "epochs": t["epochs"],
        "lr": run.learning_rate,
        "seed": run.seed,
    }


def mlp_sweep_cases() -> list[dict]:
    cs = []
    for name, (data, hidden, act, (output, loss), opts) in SWEEPS.items():
        d = sweep_dict(data, hidden, act, output, loss, **opts)
        cfg, ds, runs, res = _train(d)
        nonfinite = 0
        for run, y in zip(runs, res.loss, strict=True):
            chance = chance_loss(loss, ds.n_classes)
            verdict, clear, why = read_curve(y, floor_known=True, chance=chance)
            if not np.isfinite(y[-1]):
                nonfinite += 1
                if nonfinite > MAX_NONFINITE:
                    continue
            mini = d["training"]["batch_size"] != "full"
            healthy = mini and verdict in ("converging", "plateaued") and clear
            flags = []  # ends flat at the chance loss: expect the flag too
            if clear and verdict == "plateaued" and chance is not None:
                final = float(np.median(y[-max(10, y.size // 5) :]))
                if abs(final - chance) <= 0.01 * chance:
                    flags = ["stuck_at_chance"]
            cid = f"sweep-{name}-s{run.init_scale:g}-seed{run.seed}-lr{run.learning_rate:.3g}"
            cs.append(
                case(
                    cid,
                    y,
                    verdict,
                    f"{name} lr {run.learning_rate:.3g}: {why}",
                    unambiguous=clear,
                    source="sweep",
                    flags=flags,
                    loss_name=loss,
                    n_classes=ds.n_classes if loss == "cross_entropy" else None,
                    tags=["healthy_noisy"] if healthy else (),
                    meta=_run_meta(name, d, run),
                )
            )
    return cs


def _gd_linear(A, y, theta0, lr, beta, epochs):
    """Plain full-batch GD / heavy ball on mean((A theta - y)^2): the losses, epochs + 1."""
    theta = np.array(theta0, dtype=float)
    v = np.zeros_like(theta)
    out = np.full(epochs + 1, np.nan)
    with np.errstate(all="ignore"):
        for k in range(epochs + 1):
            r = A @ theta - y
            out[k] = np.mean(r * r)
            if not np.isfinite(out[k]):
                break
            v = beta * v + 2.0 / len(y) * (A.T @ r)
            theta = theta - lr * v
    return out


def linear_regression_cases() -> list[dict]:
    """Linear regression by full-batch GD / heavy ball, labelled by theory: lr against the stable
    limit 2(1+beta)/lam_max, lam_max of the loss Hessian computed here from the data (mean
    squared error, so H = 2/n A^T A with A = [X, 1]); the expected curve is iterated here by a
    plain loop, as a check that the run is the one the theory describes."""
    from lrdiag import model
    from lrdiag.config import config_from_dict
    from lrdiag.data import Dataset, load_dataset
    from lrdiag.sweep import expand_grid, train

    cs = []
    variants = {
        # name: (data, feature stretch, optimizer, beta, epochs)
        "d5": (_data("linear", noise=0.1, n_features=5, seed=1), None, "sgd", 0.0, 100),
        "d5-stretched": (
            _data("linear", noise=0.3, n_features=5, seed=2),
            (3.0, 1.0, 0.6, 0.3, 0.3),
            "sgd",
            0.0,
            150,
        ),
        "d3-momentum": (
            _data("linear", noise=0.1, n_features=3, seed=3),
            None,
            "momentum",
            0.9,
            150,
        ),
    }
    factors = (1e-4, 0.01, 0.1, 0.3, 0.6, 0.9, 0.97, 1.03, 1.1, 1.5, 3.0)
    for variant, (data, stretch, opt, beta, E) in variants.items():
        d = sweep_dict(data, [], "identity", *MSE, optimizer=opt, momentum=beta or 0.9)
        d["training"].update(epochs=E, dtype="float64")
        d["sweep"]["learning_rates"] = [1.0]
        cfg = config_from_dict(d)
        ds = load_dataset(cfg.data, cfg.model)
        X = ds.X if stretch is None else ds.X * np.asarray(stretch)
        ds = Dataset(X, ds.Y, None, None, None, ds.feature_names, ds.target_name)
        A = np.hstack([X, np.ones((X.shape[0], 1))])
        y_t = ds.Y[:, 0]
        lam_max = float(np.linalg.eigvalsh(2.0 / X.shape[0] * A.T @ A).max())
        edge = 2.0 * (1.0 + beta) / lam_max
        d["sweep"]["learning_rates"] = [c * edge for c in factors]
        cfg = config_from_dict(d)
        runs = expand_grid(cfg)
        res = train(cfg, ds, runs, threads=1)
        p0 = model.init_params([X.shape[1], 1], cfg.init.scheme, [1.0], [0], np.float64)
        theta0 = np.concatenate([p0["W1"].ravel(), p0["b1"].ravel()])
        theta_star, *_ = np.linalg.lstsq(A, y_t, rcond=None)
        L_star = float(np.mean((A @ theta_star - y_t) ** 2))
        for c, run, y in zip(factors, runs, res.loss, strict=True):
            pred = _gd_linear(A, y_t, theta0, run.learning_rate, beta, E)
            ok = np.isfinite(y) & np.isfinite(pred)
            if not np.allclose(pred[ok], y[ok], rtol=1e-6, atol=1e-12):
                raise AssertionError(f"linreg {variant} c={c}: the run is not the plain GD loop")
            L0 = float(y[0])
            limit = f"{opt} at {c:g}x the stable limit 2(1+beta)/lam_max"
            if c < 1.0:
                p = (L0 - pred[-1]) / L0
                to_min = (L0 - pred[-1]) / (L0 - L_star)
                verdict = "converging" if p >= 0.05 else "plateaued"
                clear = (c <= 0.9 and p >= 0.2) if verdict == "converging" else p < 0.01
                why = (
                    f"linear regression, {limit}: stable by theory; {100 * p:.2f}% of the way "
                    f"to 0 ({100 * to_min:.1f}% to the least-squares minimum)"
                )
            else:
                verdict, clear = "diverging", c >= 1.1
                why = f"linear regression, {limit}: the top Hessian mode grows geometrically"
            cs.append(
                case(
                    f"sweep-linreg-{variant}-c{c:g}",
                    y,
                    verdict,
                    why,
                    unambiguous=clear,
                    source="sweep",
                    loss_name="mse",
                    meta={
                        "sweep": f"linreg-{variant}",
                        "data": "linear",
                        "optimizer": opt,
                        "beta": beta,
                        "lr": run.learning_rate,
                        "lam_max": lam_max,
                        "lr_over_edge": c,
                        "epochs": E,
                    },
                )
            )
    return cs


def _logreg_edge(X, y) -> float:
    """2 / lam_max of the logistic loss Hessian at its minimum (found here by Newton's method):
    above this lr, gradient descent cannot settle at the minimum (period doubling)."""
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    theta = np.zeros(A.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(A @ theta)))
        g = A.T @ (p - y) / len(y)
        H = (A * (p * (1 - p))[:, None]).T @ A / len(y)
        step = np.linalg.solve(H, g)
        theta -= step
        if np.abs(step).max() < 1e-12:
            break
    p = 1.0 / (1.0 + np.exp(-(A @ theta)))
    H = (A * (p * (1 - p))[:, None]).T @ A / len(y)
    return 2.0 / float(np.linalg.eigvalsh(H).max())


def logistic_regression_cases() -> list[dict]:
    """Logistic regression (hidden [], sigmoid + bce) by full-batch GD on data that are not
    separable, at learning rates around 2/lam_max of the Hessian at the minimum. Below it the
    run converges; above it the minimum is unstable and GD settles into bouncing (a period-2
    orbit) whose size grows with lr, until the bouncing band sits above the initial loss. The
    label is the reading of the curve; it is clear-cut only when the theory agrees with it
    (converging below 0.9x the edge, not converging above 1.1x)."""
    from lrdiag.config import config_from_dict
    from lrdiag.data import load_dataset

    cs = []
    variants = {
        "blobs2": (_data("blobs", noise=2.0, n_features=2, n_classes=2), 200),
        "moons": (_data("moons", noise=0.3), 200),
        "blobs2-d4": (_data("blobs", noise=3.0, n_features=4, n_classes=2, seed=3), 300),
        "blobs2-d3-s5": (_data("blobs", noise=1.5, n_features=3, n_classes=2, seed=5), 200),
        "moons-s7": (_data("moons", noise=0.2, seed=7), 250),
    }
    factors = (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 1.75, 2.0, 3.0)
    for variant, (data, E) in variants.items():
        d = sweep_dict(data, [], "tanh", *BCE, epochs=E, dtype="float64", lrs=[1.0])
        cfg = config_from_dict(d)
        ds = load_dataset(cfg.data, cfg.model)
        edge = _logreg_edge(ds.X, ds.Y[:, 0])
        d["sweep"]["learning_rates"] = [c * edge for c in factors]
        cfg, ds, runs, res = _train(d)
        for c, run, y in zip(factors, runs, res.loss, strict=True):
            verdict, clear, why = read_curve(y, floor_known=True, chance=LN2)
            back = np.percentile(y[-max(20, len(y) // 5) :], 10.0) <= y[0]
            if verdict == "diverging" and back and np.isfinite(y).all():
                # Issue 11: diverging is up and not coming back. This band comes back down to
                # its start at least a tenth of the time (a cycle whose low point is the start):
                # bounded swings above a falling start, oscillating (was diverging).
                verdict = "oscillating"
                why += "; its band comes back down to the initial loss: bounded swings"
            agrees = (c <= 0.9 and verdict == "converging") or (
                c >= 1.1 and verdict in ("oscillating", "diverging")
            )
            cs.append(
                case(
                    f"sweep-logreg-{variant}-c{c:g}",
                    y,
                    verdict,
                    f"logistic regression at {c:g}x 2/lam_max(H at the minimum): {why}",
                    unambiguous=clear and agrees,
                    source="sweep",
                    loss_name="bce",
                    meta={
                        "sweep": f"logreg-{variant}",
                        "data": data["kind"],
                        "optimizer": "sgd",
                        "lr": run.learning_rate,
                        "lr_over_edge": c,
                        "edge": edge,
                        "epochs": E,
                    },
                )
            )
    return cs


# Per-step mini-batch losses of lrdiag's own model and optimizer, a loop written here (the sweep
# records one mean loss per epoch): thousands of noisy points, as a framework's step log has.
# name: (data, hidden, activation, head, init scheme, optimizer, beta, batch, steps, lr)
STEP_RUNS = {
    "moons-16tanh-b8": (_data("moons", 400), [16], "tanh", BCE, "xavier", "sgd", 0, 8, 3000, 0.3),
    "moons-16tanh-b8-slow": (
        _data("moons", 400), [16], "tanh", BCE, "xavier", "sgd", 0, 8, 3000, 0.03),
    "spirals3-64x32relu-b16": (
        _data("spirals", 600, n_classes=3), [64, 32], "relu", CE, "he", "sgd", 0, 16, 5000, 0.1),
    "blobs3-16relu-b4-momentum": (
        _data("blobs", 300, noise=1.5, n_features=2, n_classes=3), [16], "relu", CE, "he",
        "momentum", 0.9, 4, 2000, 0.01),
    "circles-16tanh-b1": (
        _data("circles", 300, noise=0.05), [16], "tanh", BCE, "xavier", "sgd", 0, 1, 4000, 0.05),
    "linear-16tanh-b8": (
        _data("linear", 400, noise=0.3, n_features=3), [16], "tanh", MSE, "xavier", "sgd", 0, 8,
        3000, 0.02),
    "xor-16tanh-b32-momentum": (
        _data("xor", 400), [16], "tanh", BCE, "normal", "momentum", 0.9, 32, 2500, 0.05),
    "circles-64x32relu-b16": (
        _data("circles", 400, noise=0.05), [64, 32], "relu", BCE, "he", "sgd", 0, 16, 3000, 0.05),
    "moons-16sigmoid-b8-lr-huge": (
        _data("moons", 400), [16], "sigmoid", BCE, "normal", "sgd", 0, 8, 2000, 300.0),
    "blobs4-16relu-b8-uniform-lr-huge": (
        _data("blobs", 400, noise=1.5, n_features=4, n_classes=4), [16], "relu", CE, "uniform01",
        "sgd", 0, 8, 1500, 3.0),
    "moons-16sigmoid-b16-tiny-lr": (
        _data("moons", 400), [16], "sigmoid", BCE, "xavier", "sgd", 0, 16, 2000, 1e-4),
}  # fmt: skip


def step_losses(d, lr, steps, batch, seed=0):
    """Full-data loss at the initial weights, then the loss of each mini-batch step."""
    from lrdiag import model
    from lrdiag.config import config_from_dict
    from lrdiag.data import load_dataset
    from lrdiag.optim import make_optimizer

    cfg = config_from_dict(d)
    ds = load_dataset(cfg.data, cfg.model)
    X, Y = ds.X, ds.Y
    sizes = model.layer_sizes(X.shape[1], cfg.model.hidden, Y.shape[1])
    params = model.init_params(sizes, cfg.init.scheme, [1.0], [seed], np.float64)
    opt = make_optimizer(cfg.training)
    state = opt.init(params)
    lrs = np.array([lr])
    rng = np.random.default_rng([seed, 11])
    out = np.full(steps + 1, np.nan)
    with np.errstate(all="ignore"):
        out[0] = float(model.loss(params, X, Y, cfg.model)[0])
        order = rng.permutation(len(X))
        pos = 0
        for k in range(1, steps + 1):
            if pos + batch > len(X):
                order, pos = rng.permutation(len(X)), 0
            idx = order[pos : pos + batch]
            pos += batch
            loss, grads = model.loss_and_grads(params, X[idx], Y[idx], cfg.model)
            out[k] = float(loss[0])
            if not np.isfinite(out[k]):
                break
            updates, state = opt.update(grads, state, params, lrs)
            for key, u in updates.items():
                params[key] = params[key] + u
    return out, ds.n_classes


def step_log_cases() -> list[dict]:
    cs = []
    for name, (
        data,
        hidden,
        act,
        (output, loss),
        scheme,
        opt,
        beta,
        batch,
        steps,
        lr,
    ) in STEP_RUNS.items():
        d = sweep_dict(
            data, hidden, act, output, loss, scheme=scheme, optimizer=opt, momentum=beta or 0.9,
            batch=batch, epochs=1, dtype="float64", lrs=[lr],
        )  # fmt: skip
        y, k = step_losses(d, lr, steps, batch)
        chance = chance_loss(loss, k)
        verdict, clear, why = read_curve(y, floor_known=True, chance=chance)
        healthy = verdict in ("converging", "plateaued") and clear
        cs.append(
            case(
                f"sweep-steps-{name}",
                y,
                verdict,
                f"{name}, {steps} mini-batch steps at lr {lr:g}: {why}",
                unambiguous=clear,
                source="sweep",
                loss_name=loss,
                n_classes=k if loss == "cross_entropy" else None,
                tags=["healthy_noisy"] if healthy else (),
                meta={
                    "sweep": f"steps-{name}",
                    "data": data["kind"],
                    "hidden": hidden,
                    "activation": act,
                    "loss": loss,
                    "init": scheme,
                    "optimizer": opt + (f"({beta:g})" if opt == "momentum" else ""),
                    "batch_size": batch,
                    "steps": steps,
                    "lr": lr,
                    "per": "step",
                },
            )
        )
    return cs


def sweep_cases() -> list[dict]:
    return (
        linear_regression_cases()
        + logistic_regression_cases()
        + mlp_sweep_cases()
        + step_log_cases()
    )


# --------------------------------------------------------------------------------------------
# 3b. Runs of configs/onehot_patterns.yaml (written out here, so a change to the shipped config
# does not change these curves): 6 one-hot patterns, 3 classes, 6-8 ReLU-3 softmax, U[0, 1)
# weights, full batch, float32, 200 epochs. Written to sweep_onehot.jsonl.

ONEHOT = ROOT / "configs" / "data" / "onehot_patterns.csv"


def _onehot_run(lr: float, seed: int) -> np.ndarray:
    data = {"kind": "file", "path": str(ONEHOT), "target": "label"}
    d = sweep_dict(data, [8], "relu", *CE, scheme="uniform01", seeds=(seed,), lrs=[lr])
    _, _, _, res = _train(d)
    return res.loss[0]


def onehot_cases() -> list[dict]:
    cs = []
    meta = {"sweep": "onehot_patterns", "data": "file", "hidden": [8], "activation": "relu",
            "loss": "cross_entropy", "init": "uniform01", "optimizer": "sgd",
            "batch_size": "full", "epochs": 200}  # fmt: skip

    # lr 3.16, seed 1 (the config's grid was 0.01 ... 100, 9 log-spaced): falls to 0.243 by
    # epoch 22, spikes to 1.49 at epoch 25, and settles at 0.463 for good (one ReLU unit left
    # alive, for two patterns: (4/6) ln 2 = 0.462). Labelled here from the definitions.
    y = _onehot_run(10**0.5, 1)
    L0, low = float(y[0]), float(np.min(y[:25]))
    peak = int(np.argmax(y[20:30])) + 20
    rise = float(y[peak]) - low
    settled = float(np.median(y[-20:]))
    kept = (L0 - settled) / (L0 - low)
    recovered = settled - low <= 0.5 * min(rise, L0 - low)  # spike_recover, both allowances
    assert 0.6 < kept < 0.9 and recovered and y[-1] > 0.45, (kept, settled)
    cs.append(
        case(
            "sweep-onehot-lr3.16-seed1",
            y,
            "converging",
            f"falls {L0:.3g} -> {low:.3g}, spikes to {y[peak]:.3g} at epoch {peak} and settles at "
            f"{settled:.3g} (one ReLU unit left): it kept {100 * kept:.0f}% of its progress, not "
            "'lost most of it', so converging; the spike came back down within half of its "
            "rise and of the progress before it, so early_spike",
            unambiguous=True,
            source="sweep",
            flags=["early_spike"],
            loss_name="cross_entropy",
            n_classes=3,
            meta={**meta, "lr": 10**0.5, "seed": 1},
        )
    )
    # Every ReLU unit dead: the output no longer depends on the input, and the loss goes to the
    # chance level ln 3 (from above: plateaued); above lr 6 = 2/lambda of the output bias alone
    # (its Hessian has eigenvalue 1/3 at uniform outputs) the bias cycles through a permutation
    # and the loss freezes above ln 3 and above the start (diverging). Labelled by read_curve.
    for lr, seed in ((6.0, 2), (5.0, 0), (8.0, 0)):
        y = _onehot_run(lr, seed)
        verdict, clear, why = read_curve(y, floor_known=True, chance=math.log(3.0))
        final = float(np.median(y[-20:]))
        stuck = clear and abs(final - math.log(3.0)) <= 0.01 * math.log(3.0)
        cs.append(
            case(
                f"sweep-onehot-lr{lr:g}-seed{seed}",
                y,
                verdict,
                f"onehot_patterns lr {lr:g}, all ReLU units dead: {why}",
                unambiguous=clear,
                source="sweep",
                flags=["stuck_at_chance"] if stuck else (),
                loss_name="cross_entropy",
                n_classes=3,
                meta={**meta, "lr": lr, "seed": seed},
            )
        )
    return cs


# --------------------------------------------------------------------------------------------
# 4. Real logs (/work/shared/external_logs), labelled by eye from the definitions. Their own
# labels are problem types (AUTOTRAINER's "explode", "unstable", ...), not our verdicts.

_CIRCLE = ("bce", None)
_BLOB = ("cross_entropy", None)  # the number of classes is not recorded in the artifact
# file: (loss_name, n_classes, {column: (verdict, unambiguous, flags, why)})
EXTERNAL_LABELS = {
    "autotrainer/Gradient_Vanish_Case.csv": (*_CIRCLE, {
        "loss": ("plateaued", True, ["stuck_at_chance"],
                 "flat at ln 2 (0.6937 -> 0.6932, within 0.1%) for 91 epochs, accuracy 0.50"),
        "val_loss": ("plateaued", True, ["stuck_at_chance"],
                     "flat at ln 2 within 0.05% for 91 epochs, a small bump near epoch 55"),
    }),
    "autotrainer/Oscillating_Loss_Case.csv": (*_BLOB, {
        "loss": ("converging", False, [],
                 "falls 1.49 -> ~0.95 in two epochs, then noisy and flat (0.85-1.05) with no "
                 "further progress; the noise does not keep alternating"),
        "val_loss": ("plateaued", False, [],
                     "1.01 at first, then noisy around 0.9 with spikes to 1.5: little net "
                     "progress next to its swings"),
    }),
    "deepdiagnosis/MNIST_Normal_double_random_99fe3625.csv": ("cross_entropy", 10, {
        "loss": ("plateaued", True, ["stuck_at_chance"],
                 "2.40 at epoch 0, then flat at ln 10 = 2.3026 (2.3019-2.3020) for 99 epochs"),
        "val_loss": ("plateaued", True, ["stuck_at_chance"],
                     "flat at ln 10 (2.3013-2.3019) for 100 epochs, accuracy 0.11"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_config_random_22eb8478.csv": (*_BLOB, {
        "loss": ("plateaued", False, [],
                 "falls 1.59 -> 1.07 in three epochs, then flat at 1.061 (near ln 3) for 120 "
                 "epochs with accuracy ~0.36: stuck, after early progress"),
        "val_loss": ("plateaued", False, [],
                     "1.16 -> 1.07 in two epochs, then flat at 1.054 with accuracy ~0.4"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_config_random_a8640f1a.csv": (*_BLOB, {
        "loss": ("converging", True, [], "0.93 -> 0.41 over 199 epochs, most of it early"),
        "val_loss": ("converging", True, [], "1.05 -> 0.38, a small early bump"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_double_random_54f7ba3b.csv": (*_BLOB, {
        "loss": ("converging", True, [], "1.22 -> 0.55 over 370 epochs, noisy"),
        "val_loss": ("converging", True, [],
                     "1.17 -> 0.47 over 370 epochs, noisy, with single-epoch spikes"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_double_random_a4d82733.csv": (*_BLOB, {
        "loss": ("converging", True, [], "1.24 -> 0.44 over 298 epochs, small spikes"),
        "val_loss": ("converging", True, [], "1.25 -> 0.41, noisy"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_model_random_953b07b0.csv": (*_BLOB, {
        "loss": ("converging", True, [], "1.23 -> 0.51 over 289 epochs"),
        "val_loss": ("converging", True, [], "1.17 -> 0.52 over 289 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_config_random_b060fc17.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.72 -> 0.41, an S-shaped fall"),
        "val_loss": ("converging", True, [], "0.71 -> 0.35, an S-shaped fall"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_0db8c740.csv": (*_CIRCLE, {
        "loss": ("converging", True, [],
                 "1.12 -> ln 2 in five epochs, flat there until epoch 80, then falls to 0.50"),
        "val_loss": ("converging", True, [], "1.02 -> 0.69, flat, then falls to 0.51"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_41e9f616.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "at ln 2 for 25 epochs, then falls to 0.41"),
        "val_loss": ("converging", True, [], "at ln 2 for 25 epochs, then falls to 0.40"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_46edd947.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "near ln 2 for 50 epochs, then falls to 0.40"),
        "val_loss": ("converging", True, [], "near ln 2 for 50 epochs, then falls to 0.36"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_5057d0d1.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.71 -> 0.41 over 160 epochs"),
        "val_loss": ("converging", True, [], "0.70 -> 0.36 over 160 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_84b9e92c.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.79 -> 0.43 over 97 epochs"),
        "val_loss": ("converging", True, [], "0.74 -> 0.39 over 97 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_88f274c5.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.69 -> 0.48 over 91 epochs, noisy"),
        "val_loss": ("converging", False, [],
                     "0.69 -> 0.51, noisy, with a rise to 0.6 in the last ten epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_9a5b1683.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.81 -> 0.40 over 277 epochs"),
        "val_loss": ("converging", True, [], "0.81 -> 0.36 over 277 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_c06b132f.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "1.02 -> 0.48 over 157 epochs"),
        "val_loss": ("converging", True, [], "1.00 -> 0.46 over 157 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_fcaf2479.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.78 -> 0.41 over 91 epochs"),
        "val_loss": ("converging", True, [], "0.76 -> 0.36 over 91 epochs"),
    }),
    "deepdiagnosis/motivating_31880720_Gradient_Vanish_Case.csv": (*_CIRCLE, {
        "loss": ("plateaued", False, [], "a single epoch (7.67): no progress can be seen"),
    }),
    "deepfd/31556268_iter_1.csv": (None, None, {
        "loss": ("plateaued", False, [],
                 "4 epochs, 0.343241 -> 0.343234: no progress (too few points to be sure)"),
        "val_loss": ("plateaued", False, [], "4 epochs, constant at 0.96922"),
    }),
}  # fmt: skip
for _i in range(1, 11):
    EXTERNAL_LABELS[f"deepfd/59282996_iter_{_i}.csv"] = ("cross_entropy", None, {
        "loss": ("plateaued", False, [],
                 "10 epochs of noise around 0.835 (+-0.006), no trend (too few points to tell "
                 "noise from bouncing for sure)"),
        "val_loss": ("plateaued", True, [],
                     "smooth fall 0.9680 -> 0.9658 over 10 epochs: 0.2% of the way to 0"),
    })  # fmt: skip


def external_cases() -> list[dict]:
    cs = []
    for name, (loss_name, k, columns) in EXTERNAL_LABELS.items():
        with (EXTERNAL / name).open(newline="") as f:
            rows = list(csv.DictReader(f))
        for col, (verdict, unamb, flags, why) in columns.items():
            y = [float(r[col]) for r in rows]
            stem = name.replace("/", "-").removesuffix(".csv")
            cs.append(
                case(
                    f"ext-{stem}-{col.replace('_', '')}",
                    y,
                    verdict,
                    f"{col}: {why}",
                    unambiguous=unamb,
                    source="external",
                    flags=flags,
                    loss_name=loss_name,
                    n_classes=k,
                    file=f"external_logs/{name}",
                    meta={"column": col},
                )
            )
    return cs


GROUPS = {
    "closed_form": closed_form_cases,
    "hand": hand_cases,
    "sweep": sweep_cases,
    "sweep_onehot": onehot_cases,
    "external": external_cases,
}


def main(argv: list[str]) -> int:
    names = argv or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown}; choose from {list(GROUPS)}", file=sys.stderr)
        return 2
    for name in names:
        cases = GROUPS[name]()
        path = write_group(name, cases)
        print(f"{path.relative_to(ROOT)}: {len(cases)} curves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
