"""Corpus group ``hand``: hand-written shapes (a formula plus seeded noise), labelled from the
formula that made them.
"""

from __future__ import annotations

import math

import numpy as np

from tools.corpus.closed_form import alternation
from tools.corpus.record import LN2, LN10, case

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
    # shifted from), and a shift that lifts a curve dipping below 0 above it gives it a level
    # (a decay to 0.05 with noise below 0, x0.01 + 0.3: a 3% fall of a loss of 0.3): such a copy
    # is ambiguous.
    transforms = ((1e-4, 0.0), (1e4, 0.0), (1.0, -5.0), (1e-3, -0.01), (1e2, -1e3), (1e-2, 0.3))
    for j, (cid, (y0, verdict, why, unamb, kw)) in enumerate(sorted(base.items())):
        for a, b in (transforms[j % 6], transforms[(j + 3) % 6]):
            y = a * y0 + b
            finite = y0[np.isfinite(y0)]
            positive = finite.size > 0 and bool((finite > 0).all())
            lifted = finite.size > 0 and bool((a * finite + b > 0).all())
            moved_level = b != 0.0 and (positive or lifted)
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
