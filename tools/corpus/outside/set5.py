"""Held-out set 5 of the outside corpus: set 1's families in set 1's proportions, new runs.

    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 5    # writes tests/data/outside5

Sets 3 and 4 leaned toward hard cases (new ingredients, many oscillating and chance-level runs).
Set 5 estimates accuracy on the curves people usually produce, so it follows set 1: the same
families (the manifest's `kind`, so label.py tags them the same way) at about two thirds of set 1's
run counts each; mostly set 1's ingredients (tanh, ReLU and sigmoid MLPs, the small CNNs, SGD,
momentum, Adam, RMSprop, cross-entropy, BCE and MSE, full batch and mini-batch, per-step and
per-epoch logs, PyTorch and Keras) in combinations set 1 did not use: other data (4-arm spirals,
6 blobs, 8 blobs in 10-d, rings, XOR, iris, wine, breast cancer, a sine), other widths, moved
learning rates, batch sizes and run lengths. Seeds start at SEED0, far from every seed of sets
1-4. Imports nothing from lrdiag.
"""

from __future__ import annotations

from itertools import product

from tools.corpus.outside.generate import GOOD_LR, _distinct, _lr_tag, _spec

SEED0 = 80_000  # every set-5 seed is SEED0 plus a small number
SIZES = {"iris": (110, 40), "wine": (130, 48), "breast_cancer": (400, 160)}  # train, val rows
OPTS = ["sgd", "momentum", "adam", "rmsprop"]
DATA5 = ["moons", "spirals4", "blobs6", "blobs8d10", "gauss_reg", "digits"]
WIDTHS = [(32, 32), (64,), (24, 24), (48,)]  # cycled through the MLP runs


def _loss(data: str) -> str:
    return "mse" if data in ("gauss_reg", "sine_reg") else "cross_entropy"


def _width(data: str, i: int) -> tuple[int, ...]:
    return ((64,), (96,))[i % 2] if data == "digits" else WIDTHS[i % len(WIDTHS)]


def set5_runs() -> list[dict]:
    s: list[dict] = []

    def add(id: str, kind: str, data: str, *, seed: int, **kw) -> None:
        s.append(_spec(id, kind, data, seed=SEED0 + seed, set=5, **kw))

    full = {"batch": None, "log": "step"}
    # Healthy mini-batch runs, per step and per epoch (with a validation split).
    for i, (data, opt) in enumerate(product(DATA5, OPTS)):
        kw = dict(hidden=_width(data, i), act=("relu", "tanh", "sigmoid")[i % 3], opt=opt,
                  lr=GOOD_LR[opt] * (0.7, 1.0, 1.5)[i % 3], loss=_loss(data))  # fmt: skip
        if kw["act"] == "sigmoid" and opt == "sgd":  # plain SGD on sigmoid units barely moves
            kw["act"] = "tanh"
        add(f"healthy-step-{data}-{opt}", "healthy", data, batch=(16, 32, 64)[i % 3],
            epochs=(10, 14)[i % 2], log="step", n_train=768, seed=i, **kw)  # fmt: skip
        add(f"healthy-epoch-{data}-{opt}", "healthy", data, batch=(32, 64, 16)[i % 3],
            epochs=(30, 45)[i % 2], log="epoch", n_train=768, n_val=256, seed=100 + i,
            **kw)  # fmt: skip
    # Healthy runs on scikit-learn's bundled tables.
    for i, (data, opt) in enumerate(
        product(["iris", "wine", "breast_cancer"], ["adam", "momentum"])
    ):
        n_train, n_val = SIZES[data]
        add(f"healthy-tab-{data}-{opt}-step", "healthy", data, hidden=(32,), act="tanh",
            opt=opt, lr=GOOD_LR[opt], batch=16, epochs=max(8, 3000 // n_train), log="step",
            n_train=n_train, seed=150 + i)  # fmt: skip
        add(f"healthy-tab-{data}-{opt}-epoch", "healthy", data, hidden=(32, 16), act="relu",
            opt=opt, lr=GOOD_LR[opt], batch=16, epochs=40, log="epoch", n_train=n_train,
            n_val=n_val, seed=160 + i)  # fmt: skip
    # BCE runs on two-class sets.
    for i, (data, opt) in enumerate(product(["rings", "xor"], OPTS)):
        add(f"healthy-bce-{data}-{opt}", "healthy", data, hidden=(24, 24),
            act=("tanh", "relu", "sigmoid")[i % 3], opt=opt, lr=GOOD_LR[opt] * 2, batch=32,
            epochs=25, log="epoch", loss="bce", n_train=512, n_val=200, seed=170 + i)  # fmt: skip
    # Healthy mini-batch runs from a large init (weights x3).
    for i, (data, opt) in enumerate(product(["spirals3", "blobs6", "sine_reg", "digits"],
                                            ["sgd", "adam"])):  # fmt: skip
        add(f"healthy-x3-{data}-{opt}", "healthy", data, hidden=_width(data, i),
            act=("tanh", "relu")[i % 2], opt=opt, lr=GOOD_LR[opt] / 3, batch=32, epochs=10,
            log="step", loss=_loss(data), init_scale=3.0, n_train=640, seed=180 + i)  # fmt: skip
    # Small CNNs on digits: good, too large and too small learning rates.
    levels = {"good": 1.0, "high": 30.0, "small": 1e-3}
    for j, (opt, level) in enumerate(product(OPTS, levels)):
        log = ("step", "epoch")[(j + j // 3) % 2]
        add(f"cnn-digits-{opt}-{level}-{log}", f"cnn_{level}", "digits",
            model=("cnn", "cnn2")[(j // 3) % 2], act="relu", opt=opt,
            lr=GOOD_LR[opt] * levels[level], batch=32, epochs=8 if log == "step" else 20,
            log=log, n_train=1000, n_val=250 if log == "epoch" else 0, seed=200 + j)  # fmt: skip
    for j, (opt, level) in enumerate(product(["momentum", "adam"], levels)):
        add(f"cnn2-digits-{opt}-{level}-epoch", f"cnn_{level}", "digits", model="cnn2",
            act="tanh", opt=opt, lr=GOOD_LR[opt] * levels[level], batch=64, epochs=20,
            log="epoch", n_train=1000, n_val=250, seed=220 + j)  # fmt: skip
    # (2) learning rate far too small: full-batch and mini-batch.
    tiny = [(d, o) for i, (d, o) in enumerate(product(DATA5, OPTS)) if i % 3 != 2]
    for i, (data, opt) in enumerate(tiny):
        mode = full | {"epochs": 400} if i % 2 == 0 else {"batch": 32, "epochs": 15, "log": "epoch"}
        add(f"tiny-lr-{data}-{opt}", "class2", data, hidden=_width(data, i),
            act=("tanh", "relu")[i % 2], opt=opt, lr=GOOD_LR[opt] * (1e-4, 5e-5)[(i // 2) % 2],
            loss=_loss(data), n_train=512, n_val=0 if i % 2 == 0 else 128, seed=300 + i,
            **mode)  # fmt: skip
    # (3) flat at chance: random labels on a small net, and dead ReLU networks.
    chance = zip(
        [2, 4, 6, 10, 2, 4, 6, 10], ["sgd", "adam", "momentum", "rmsprop"] * 2, strict=True
    )
    for i, (k, opt) in enumerate(chance):
        lr = {"sgd": 0.5, "adam": 0.01, "momentum": 0.05, "rmsprop": 3e-3}[opt]
        add(f"chance-random-k{k}-{opt}-{i}", "class3", "moons" if k == 2 else f"blobs{k}",
            hidden=(4,), act="tanh", opt=opt, lr=lr, epochs=(250, 400)[i // 4],
            loss="bce" if (k == 2 and i >= 4) else "cross_entropy", init_scale=3.0,
            out_bias=2.0, n_train=3000, random_labels=True, seed=400 + i, **full)  # fmt: skip
    for i, (k, opt) in enumerate(product([2, 6], ["sgd", "momentum", "adam"])):
        add(f"chance-dead-k{k}-{opt}", "class3", "moons" if k == 2 else f"blobs{k}",
            hidden=(32, 32), act="relu", opt=opt, lr=GOOD_LR[opt] * (10 if opt == "sgd" else 3),
            batch=64, epochs=30, log="epoch", bias_shift=-20.0, out_bias=3.0, n_train=1024,
            n_val=256, seed=420 + i, notes="dead ReLU network")  # fmt: skip
    # (4) short validation curves: 10-12 epochs, small validation sets, aggressive steps.
    short5 = product(["moons", "blobs6", "digits", "spirals4", "sine_reg"], OPTS)
    short = [(d, o) for i, (d, o) in enumerate(short5) if i % 7 != 3]
    for i, (data, opt) in enumerate(short):
        add(f"short-val-{data}-{opt}", "class4", data, hidden=_width(data, i), act="relu",
            opt=opt, lr=GOOD_LR[opt] * (10 if opt in ("adam", "rmsprop") else 5), batch=16,
            epochs=(10, 12)[i % 2], log="epoch", loss=_loss(data), n_train=400,
            n_val=(40, 30, 50)[i % 3], seed=500 + i)  # fmt: skip
    # (5) violent oscillation most of the run, then a late learning-rate drop.
    late = [("spirals3", "sgd"), ("spirals3", "adam"), ("blobs6", "momentum"), ("blobs6", "sgd"),
            ("sine_reg", "adam"), ("sine_reg", "momentum"), ("moons", "sgd"), ("moons", "adam"),
            ("gauss_reg", "sgd"), ("blobs4", "momentum")]  # fmt: skip
    for i, (data, opt) in enumerate(late):
        at = (0.7, 0.85)[i % 2]
        add(f"late-drop-{data}-{opt}-{int(at * 100)}", "class5", data, hidden=(32, 32),
            act="tanh", opt=opt, lr={"sgd": 3.0, "adam": 0.1, "momentum": 0.3}[opt],
            epochs=(700, 900)[i % 2], loss=_loss(data), n_train=256, drop_at=at, drop_by=0.01,
            seed=600 + i, **full)  # fmt: skip
    for k, (data, lr) in enumerate(product(["blobs6", "spirals4", "blobs5d10"], [5.0, 8.0])):
        add(f"late-drop-eos-{data}-lr{_lr_tag(lr)}", "class5", data, hidden=(16, 16),
            act="tanh", opt="sgd", lr=lr, epochs=1000, n_train=256, drop_at=0.8, drop_by=0.05,
            seed=620 + k, **full)  # fmt: skip
    # (6) limit cycles after a huge first loss: 2-128-64-K, N(0, 1/fan_in) init x3 or x5,
    # full-batch GD with cross-entropy or BCE (MSE runs of this shape mostly settle).
    cycle = {"hidden": (128, 64), "opt": "sgd", "epochs": 800, "init": "normal", "n_train": 200}
    losses = [("cross_entropy", "blobs6"), ("bce", "moons")]
    for i, (act, (loss, data), lr, scale) in enumerate(
        product(["tanh", "sigmoid"], losses, [2.5, 4.0], [3.0, 5.0])
    ):
        add(f"cycle-{act}-{loss[:3]}-lr{_lr_tag(lr)}-x{scale:g}", "class6", data, act=act, lr=lr,
            loss=loss, init_scale=scale, seed=700 + i, **cycle, **full)  # fmt: skip
    for i, (act, lr) in enumerate(product(["tanh", "sigmoid"], [0.05, 0.2])):
        add(f"cycle-{act}-mse-lr{_lr_tag(lr)}", "class6", "rings", act=act, lr=lr, loss="mse",
            init_scale=3.0, seed=720 + i, **cycle, **full)  # fmt: skip
    # (1) edge of stability: full-batch GD on small tanh MLPs, cross-entropy or BCE.
    edges = [("blobs6", 16, 3.0), ("blobs6", 16, 5.0), ("blobs4", 32, 3.0), ("spirals3", 16, 6.0),
             ("blobs5", 24, 4.0), ("blobs5d10", 16, 4.0), ("moons", 16, 12.0),
             ("spirals2", 32, 10.0), ("blobs3", 16, 5.0), ("xor", 16, 8.0)]  # fmt: skip
    for k, ((data, width, lr), seed) in enumerate(product(edges, range(2))):
        add(f"eos-{data}-tanh{width}-lr{_lr_tag(lr)}-s{seed}", "class1", data,
            hidden=(width, width), act="tanh", opt="sgd", lr=lr, epochs=(1200, 1500)[seed],
            loss="bce" if data in ("moons", "spirals2", "xor") else "cross_entropy",
            n_train=256, seed=800 + k, **full)  # fmt: skip
    # (7) overfitting: more neurons than data, long training, noisy labels.
    over = ["moons", "spirals4", "digits", "gauss_reg"]
    for i, (data, opt) in enumerate(product(over, ["adam", "momentum"])):
        noise = 0.0 if data == "gauss_reg" else 0.25
        kw = {"opt": opt, "lr": {"adam": 3e-3, "momentum": 0.03}[opt], "log": "epoch"}
        kw |= {"loss": _loss(data), "n_val": 400}
        add(f"overfit-{data}-{opt}", "class7", data, hidden=(256, 256), act="relu", batch=None,
            epochs=1200, n_train=48 if data != "digits" else 60, label_noise=noise,
            seed=900 + i, **kw)  # fmt: skip
        add(f"overfit-mb-{data}-{opt}", "class7", data, hidden=(384,), act="tanh", batch=16,
            epochs=300, n_train=64, label_noise=noise and 0.3, seed=920 + i, **kw)  # fmt: skip
    # Random labels on a big net: it memorises them (training falls, validation rises).
    for i, (k, opt) in enumerate(product([2, 6], ["adam", "momentum"])):
        add(f"memorize-random-k{k}-{opt}", "class7", "moons" if k == 2 else f"blobs{k}",
            hidden=(256, 256), act="relu", opt=opt, lr={"adam": 2e-3, "momentum": 0.03}[opt],
            batch=32, epochs=120, log="epoch", n_train=128, n_val=400, random_labels=True,
            seed=940 + i)  # fmt: skip
    # Divergence: too-large steps on regression and classification, plain and scaled init.
    for i, (data, opt) in enumerate(product(["gauss_reg", "spirals3", "blobs6", "digits",
                                             "moons"], OPTS)):  # fmt: skip
        mult = (100, 300, 1000)[i % 3]
        mode = full | {"epochs": 250} if i % 3 else {"batch": 32, "epochs": 15, "log": "epoch"}
        add(f"diverge-{data}-{opt}-x{mult}", "diverge", data, hidden=_width(data, i),
            act=("relu", "tanh")[i % 2], opt=opt, lr=GOOD_LR[opt] * mult, loss=_loss(data),
            init_scale=(1.0, 3.0)[(i // 2) % 2], n_train=256, seed=1000 + i, **mode)  # fmt: skip
    # Learning-rate grid on full-batch GD (MSE): healthy, edge and too large.
    acts = {"moons": ("tanh", "sigmoid"), "gauss_reg": ("tanh", "relu")}
    lrs = [0.05, 0.15, 0.5, 1.5, 4.0, 12.0, 35.0]
    grid = [(d, a, lr) for d in acts for a in acts[d] for lr in lrs]
    for j, (data, act, lr) in enumerate(grid):
        add(f"grid-{act}-{data}-lr{_lr_tag(lr)}", "grid", data, hidden=(20, 20), act=act,
            opt="sgd", lr=lr, epochs=500, loss="mse", n_train=200, seed=1100 + j,
            **full)  # fmt: skip
    # Full-batch Adam, RMSprop and momentum with large steps: spiky bounded runs.
    big = product(["adam", "rmsprop", "momentum"], [0.05, 0.2], ["spirals3", "gauss_reg"])
    for i, (opt, lr, data) in enumerate(big):
        lr = lr if opt != "momentum" else lr * 10
        add(f"bigstep-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(48,), act="tanh",
            opt=opt, lr=lr, epochs=700, loss=_loss(data), n_train=256, seed=1200 + i,
            **full)  # fmt: skip
    # Saturated sigmoid units: large init scales.
    for i, (scale, opt) in enumerate(product([3.0, 10.0], ["sgd", "adam"])):
        add(f"saturated-sigmoid-x{scale:g}-{opt}", "saturated", "blobs6d10", hidden=(64, 64),
            act="sigmoid", opt=opt, lr=GOOD_LR[opt], batch=64, epochs=25, log="epoch",
            init_scale=scale, n_train=1024, n_val=256, seed=1300 + i)  # fmt: skip
    # Keras 3 model.fit runs (torch backend), per epoch with validation.
    klev = {"good": 1.0, "high": 100.0, "small": 1e-4}
    kdata = ["moons", "blobs6", "digits", "gauss_reg", "spirals4"]
    for i, (data, pair, level) in enumerate(product(kdata, range(2), klev)):
        opt = OPTS[(kdata.index(data) + 2 * pair) % 4]
        add(f"keras-{data}-{opt}-{level}", f"keras_{level}", data, framework="keras",
            hidden=_width(data, i), act=("relu", "tanh")[i % 2], opt=opt,
            lr=GOOD_LR[opt] * klev[level], batch=(32, 64)[pair], epochs=(25, 20)[pair],
            log="epoch", loss=_loss(data), n_train=640, n_val=160, seed=1400 + i)  # fmt: skip
    return _distinct(s, "set 5")
