"""Corpus groups ``sweep`` (lrdiag's own MLP training runs, with the regressions of
tools/corpus/regression.py) and ``sweep_onehot`` (runs of configs/onehot_patterns.yaml),
labelled from facts of the run where possible, otherwise by the independent reading in
``read_curve``.
"""

from __future__ import annotations

import math

import numpy as np

from tools.corpus.record import LN2, ROOT, case

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
    # ending near chance makes "converging" unclear (progress only toward chance?); that cut-off
    # gets a band of doubt half as wide again, as every other cut-off here has one
    doubt_chance = chance is not None and abs(med_f - chance) <= 0.075 * chance
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
    clear = p >= 0.15 and late >= 0.8 and not bouncing and not wild and not doubt_chance
    return (
        "converging",
        clear,
        f"net progress {100 * p:.0f}% {what} ({L0:.4g} to {med_f:.4g}), keeping "
        f"{100 * min(late, 1.0):.0f}% of its best progress"
        + (", bouncing as it goes" if bouncing else "")
        + (f", ending within 7.5% of the chance loss {chance:.4g}" if doubt_chance else "")
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
