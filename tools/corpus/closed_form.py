"""Corpus group ``closed_form``: gradient descent iterated here in float64 on closed-form
losses (quadratics, piecewise and double-well functions), labelled from the known dynamics.
"""

from __future__ import annotations

import math

import numpy as np

from tools.corpus.record import case

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
