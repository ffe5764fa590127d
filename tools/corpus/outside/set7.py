"""Held-out set 7 of the outside corpus: set 1's families at about set 6's run counts, new runs.

    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 7    # writes tests/data/outside7

Like sets 5 and 6, set 7 estimates accuracy on the curves people usually produce, so it follows
set 1's families (the manifest's `kind`, so label.py tags them the same way) at set 6's run
counts, in combinations sets 1-6 did not use: other data (5-arm spirals, 9 blobs, 4 blobs in 3-d,
6 blobs in 5-d and 8-d, rings, XOR, the sine, the bundled tables), other widths (36, 18-18, 56,
30-15, 14-14-14; 72, 100, 60-30 on digits), activations rotated otherwise, other learning-rate
multipliers, batch sizes (12-96) and run lengths, and the optimizers rotated over SGD, momentum,
Nesterov, Adam, AdamW, RMSprop and Adagrad; full batch and mini-batch, per-step and per-epoch
logs, PyTorch and Keras. Seeds start at SEED0, far from every seed of sets 1-6.
Imports nothing from lrdiag.
"""

from __future__ import annotations

from itertools import product

from tools.corpus.outside.generate import GOOD_LR, _distinct, _lr_tag, _spec

SEED0 = 100_000  # every set-7 seed is SEED0 plus a small number
GOOD = GOOD_LR | {"nesterov": 0.02, "adamw": 3e-3, "adagrad": 0.05}  # good rates, tiny models
SIZES = {"iris": (110, 40), "wine": (130, 48), "breast_cancer": (400, 160)}  # train, val rows
OPTS = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]  # rotated through
DATA7 = ["spirals5", "blobs9", "blobs4d3", "gauss_reg", "digits", "rings"]
WIDTHS = [(36,), (18, 18), (56,), (30, 15), (14, 14, 14)]  # cycled through the MLP runs
ACTS = ["tanh", "gelu", "relu", "silu", "elu", "sigmoid", "leaky_relu"]


def _loss(data: str) -> str:
    return "mse" if data in ("gauss_reg", "sine_reg") else "cross_entropy"


def _width(data: str, i: int) -> tuple[int, ...]:
    return ((72,), (100,), (60, 30))[i % 3] if data == "digits" else WIDTHS[i % len(WIDTHS)]


def _opt(i: int) -> str:
    return OPTS[(i + 3) % len(OPTS)]


def set7_runs() -> list[dict]:
    s: list[dict] = []

    def add(id: str, kind: str, data: str, *, seed: int, **kw) -> None:
        s.append(_spec(id, kind, data, seed=SEED0 + seed, set=7, **kw))

    full = {"batch": None, "log": "step"}
    # Healthy mini-batch runs, per step and per epoch (with a validation split): four of the
    # seven optimizers per data set, rotated otherwise than set 6.
    for i, (d, j) in enumerate(product(range(len(DATA7)), range(4))):
        data, opt = DATA7[d], OPTS[(2 * d + j + 1) % len(OPTS)]
        act = ACTS[(2 * i + d) % len(ACTS)]
        if act == "sigmoid" and opt in ("sgd", "adagrad"):  # sigmoid units barely move so
            act = "tanh"
        kw = dict(hidden=_width(data, i), act=act, opt=opt, lr=GOOD[opt] * (0.45, 0.9, 1.6)[i % 3],
                  loss=_loss(data))  # fmt: skip
        add(f"healthy-step-{data}-{opt}", "healthy", data, batch=(20, 40, 96)[i % 3],
            epochs=(10, 15, 7)[i % 3], log="step", n_train=720, seed=i, **kw)  # fmt: skip
        add(f"healthy-epoch-{data}-{opt}", "healthy", data, batch=(96, 20, 40)[i % 3],
            epochs=(30, 45, 22)[i % 3], log="epoch", n_train=720, n_val=240, seed=100 + i,
            **kw)  # fmt: skip
    # Healthy runs on scikit-learn's bundled tables.
    for i, data in enumerate(["iris", "wine", "breast_cancer"]):
        n_train, n_val = SIZES[data]
        for j, (opt, log) in enumerate([("adam", "epoch"), ("momentum", "step"),
                                        ("adagrad", "step"), ("adamw", "epoch")]):  # fmt: skip
            add(f"healthy-tab-{data}-{opt}-{log}", "healthy", data,
                hidden=((20,), (12, 12))[j % 2],
                act=("silu", "sigmoid", "leaky_relu", "tanh")[(i + j) % 4],
                opt=opt, lr=GOOD[opt], batch=(12, 40)[j % 2],
                epochs=max(5, 2000 // n_train) if log == "step" else 35, log=log,
                n_train=n_train, n_val=n_val if log == "epoch" else 0,
                seed=150 + 4 * i + j)  # fmt: skip
    # BCE runs on two-class sets, per step.
    bce = product(["rings", "xor"], ["momentum", "adamw", "rmsprop", "nesterov"])
    for i, (data, opt) in enumerate(bce):
        add(f"healthy-bce-{data}-{opt}", "healthy", data, hidden=(18,),
            act=("gelu", "leaky_relu", "tanh", "relu")[i % 4], opt=opt, lr=GOOD[opt] * 1.3,
            batch=40, epochs=14, log="step", loss="bce", n_train=480, seed=170 + i)  # fmt: skip
    # Healthy mini-batch runs from a large init (weights x3).
    for i, (data, opt) in enumerate(product(["rings", "blobs9", "sine_reg", "digits"],
                                            ["adam", "nesterov"])):  # fmt: skip
        add(f"healthy-x3-{data}-{opt}", "healthy", data, hidden=_width(data, i + 2),
            act=("tanh", "relu")[i % 2], opt=opt, lr=GOOD[opt] / 3, batch=40, epochs=10,
            log="step", loss=_loss(data), init_scale=3.0, n_train=600, seed=180 + i)  # fmt: skip
    # Small CNNs on digits: good, too large and too small learning rates.
    levels = {"good": 1.0, "high": 40.0, "small": 3e-4}
    for j, (opt, level) in enumerate(product(["momentum", "adam", "adagrad", "adamw"], levels)):
        log = ("step", "epoch")[(j + j // 3) % 2]
        add(f"cnn-digits-{opt}-{level}-{log}", f"cnn_{level}", "digits",
            model=("cnn", "cnn2")[(j // 3) % 2], act=("silu", "relu")[j % 2], opt=opt,
            lr=GOOD[opt] * levels[level], batch=40, epochs=5 if log == "step" else 12, log=log,
            n_train=840, n_val=220 if log == "epoch" else 0, seed=200 + j)  # fmt: skip
    for j, (opt, level) in enumerate(product(["sgd", "rmsprop"], levels)):
        add(f"cnn2-digits-{opt}-{level}-step", f"cnn_{level}", "digits", model="cnn2",
            act="leaky_relu", opt=opt, lr=GOOD[opt] * levels[level], batch=20, epochs=3,
            log="step", n_train=840, seed=220 + j)  # fmt: skip
    # (2) learning rate far too small: full-batch and mini-batch.
    tiny = [(d, _opt(i)) for i, d in enumerate(DATA7 * 4) if i % 3 != 2]
    for i, (data, opt) in enumerate(tiny):
        mode = full | {"epochs": 250} if i % 2 else {"batch": 40, "epochs": 16, "log": "epoch"}
        add(f"tiny-lr-{data}-{opt}", "class2", data, hidden=_width(data, i + 1),
            act=("gelu", "tanh", "relu")[i % 3], opt=opt, lr=GOOD[opt] * (2e-5, 8e-5)[(i // 2) % 2],
            loss=_loss(data), n_train=360, n_val=0 if i % 2 else 120, seed=300 + i,
            **mode)  # fmt: skip
    # (3) flat at chance: random labels on a small net, and dead ReLU networks.
    chance = zip([4, 6, 9, 2, 4, 6, 9, 2], ["adam", "sgd", "rmsprop", "momentum"] * 2, strict=True)
    for i, (k, opt) in enumerate(chance):
        lr = {"sgd": 0.3, "adam": 0.02, "momentum": 0.03, "rmsprop": 3e-3}[opt]
        add(f"chance-random-k{k}-{opt}-{i}", "class3", "rings" if k == 2 else f"blobs{k}",
            hidden=(6,), act="tanh", opt=opt, lr=lr, epochs=(250, 350)[i // 4],
            loss="bce" if (k == 2 and i < 4) else "cross_entropy", init_scale=3.0,
            out_bias=2.0, n_train=2000, random_labels=True, seed=400 + i, **full)  # fmt: skip
    for i, (k, opt) in enumerate(product([4, 9], ["momentum", "adam", "rmsprop"])):
        add(f"chance-dead-k{k}-{opt}", "class3", f"blobs{k}", hidden=(20, 20), act="relu",
            opt=opt, lr=GOOD[opt] * 3, batch=40, epochs=30, log="epoch", bias_shift=-20.0,
            out_bias=3.0, n_train=880, n_val=220, seed=420 + i,
            notes="dead ReLU network")  # fmt: skip
    # (4) short validation curves: 7-12 epochs, small validation sets, aggressive steps.
    short7 = product(["blobs9", "spirals5", "digits", "rings", "sine_reg"],
                     ["nesterov", "adamw", "sgd", "rmsprop"])  # fmt: skip
    short = [(d, o) for i, (d, o) in enumerate(short7) if i % 7 != 3]
    for i, (data, opt) in enumerate(short):
        add(f"short-val-{data}-{opt}", "class4", data, hidden=_width(data, i + 3), act="elu",
            opt=opt, lr=GOOD[opt] * (6 if opt in ("adamw", "rmsprop") else 3), batch=20,
            epochs=(9, 11, 7)[i % 3], log="epoch", loss=_loss(data), n_train=330,
            n_val=(30, 40, 50)[i % 3], seed=500 + i)  # fmt: skip
    # (5) violent oscillation most of the run, then a late learning-rate drop.
    late = [("blobs9", "momentum"), ("spirals5", "sgd"), ("rings", "adam"),
            ("gauss_reg", "nesterov"), ("blobs4d3", "sgd"), ("sine_reg", "momentum"),
            ("xor", "adam"), ("spirals3", "sgd"), ("blobs6d5", "nesterov"),
            ("moons", "adam")]  # fmt: skip
    for i, (data, opt) in enumerate(late):
        at = (0.7, 0.85)[i % 2]
        lr = {"sgd": 2.5, "adam": 0.08, "momentum": 0.25, "nesterov": 0.25}[opt]
        add(f"late-drop-{data}-{opt}-{int(at * 100)}", "class5", data, hidden=(28, 28),
            act="tanh", opt=opt, lr=lr, epochs=(700, 900)[i % 2], loss=_loss(data),
            n_train=256, drop_at=at, drop_by=0.01, seed=600 + i, **full)  # fmt: skip
    for k, (data, lr) in enumerate(product(["blobs9", "spirals5", "blobs6d5"], [3.5, 6.0])):
        add(f"late-drop-eos-{data}-lr{_lr_tag(lr)}", "class5", data, hidden=(18, 18),
            act="tanh", opt="sgd", lr=lr, epochs=1000, n_train=256, drop_at=0.8, drop_by=0.05,
            seed=620 + k, **full)  # fmt: skip
    # (6) limit cycles after a huge first loss: 2-128-64-K, N(0, 1/fan_in) init x3.5 or x4.5,
    # full-batch GD with cross-entropy or BCE (MSE runs of this shape mostly settle).
    cycle = {"hidden": (128, 64), "opt": "sgd", "epochs": 750, "init": "normal", "n_train": 200}
    losses = [("cross_entropy", "blobs9"), ("bce", "rings")]
    for i, (act, (loss, data), lr, scale) in enumerate(
        product(["tanh", "sigmoid"], losses, [2.5, 4.0], [3.5, 4.5])
    ):
        add(f"cycle-{act}-{loss[:3]}-lr{_lr_tag(lr)}-x{scale:g}", "class6", data, act=act, lr=lr,
            loss=loss, init_scale=scale, seed=700 + i, **cycle, **full)  # fmt: skip
    for i, (act, lr) in enumerate(product(["tanh", "sigmoid"], [0.05, 0.2])):
        add(f"cycle-{act}-mse-lr{_lr_tag(lr)}", "class6", "xor", act=act, lr=lr, loss="mse",
            init_scale=3.0, seed=720 + i, **cycle, **full)  # fmt: skip
    # (1) edge of stability: full-batch GD on small tanh MLPs, cross-entropy or BCE.
    edges = [("blobs9", 16, 4.0), ("blobs9", 20, 3.0), ("blobs4d3", 16, 5.0), ("spirals5", 20, 4.0),
             ("blobs6d5", 16, 5.5), ("blobs6", 20, 3.5), ("rings", 20, 8.0), ("spirals2", 24, 8.0),
             ("spirals3", 18, 5.0), ("xor", 16, 7.0)]  # fmt: skip
    for k, ((data, width, lr), seed) in enumerate(product(edges, range(2))):
        add(f"eos-{data}-tanh{width}-lr{_lr_tag(lr)}-s{seed}", "class1", data,
            hidden=(width, width), act="tanh", opt="sgd", lr=lr, epochs=(1200, 900)[seed],
            loss="bce" if data in ("rings", "spirals2", "xor") else "cross_entropy",
            n_train=256, seed=800 + k, **full)  # fmt: skip
    # (7) overfitting: more neurons than data, long training, noisy labels.
    over = ["spirals5", "blobs9", "digits", "gauss_reg"]
    for i, data in enumerate(over):
        for j, (opt, lr) in enumerate([("adam", 2e-3), ("sgd", 0.2)]):
            noise = 0.0 if data == "gauss_reg" else 0.3
            kw = {"opt": opt, "lr": lr, "log": "epoch", "loss": _loss(data), "n_val": 300}
            add(f"overfit-{data}-{opt}", "class7", data, hidden=(160, 160), act="relu",
                batch=None, epochs=900, n_train=48 if data != "digits" else 80,
                label_noise=noise, seed=900 + 2 * i + j, **kw)  # fmt: skip
            mb = ("rmsprop", 1e-3) if opt == "adam" else ("nesterov", 0.02)
            add(f"overfit-mb-{data}-{mb[0]}", "class7", data, hidden=(256,), act="gelu",
                batch=12, epochs=200, n_train=60, label_noise=noise and 0.25,
                seed=920 + 2 * i + j, **kw | {"opt": mb[0], "lr": mb[1]})  # fmt: skip
    # Random labels on a big net: it memorises them (training falls, validation rises).
    for i, (k, opt) in enumerate(product([4, 9], ["adam", "rmsprop"])):
        add(f"memorize-random-k{k}-{opt}", "class7", f"blobs{k}", hidden=(192, 192),
            act="relu", opt=opt, lr={"adam": 2e-3, "rmsprop": 1e-3}[opt], batch=20,
            epochs=120, log="epoch", n_train=100, n_val=300, random_labels=True,
            seed=940 + i)  # fmt: skip
    # Divergence: too-large steps on regression and classification, plain and scaled init.
    for i, (data, j) in enumerate(product(["gauss_reg", "blobs9", "rings", "digits", "spirals5"],
                                          range(4))):  # fmt: skip
        opt = OPTS[(3 * i + j) % len(OPTS)]
        mult = (200, 800, 3000)[i % 3]
        mode = full | {"epochs": 180} if i % 3 else {"batch": 40, "epochs": 10, "log": "epoch"}
        add(f"diverge-{data}-{opt}-x{mult}", "diverge", data, hidden=_width(data, i + 4),
            act=("relu", "elu", "tanh")[i % 3], opt=opt, lr=GOOD[opt] * mult, loss=_loss(data),
            init_scale=(1.0, 3.0)[(i // 2) % 2], n_train=256, seed=1000 + i, **mode)  # fmt: skip
    # Learning-rate grid on full-batch GD (MSE): healthy, edge and too large.
    acts = {"rings": ("tanh", "leaky_relu"), "sine_reg": ("tanh", "gelu")}
    lrs = [0.05, 0.15, 0.5, 1.5, 4.0, 12.0, 35.0]
    grid = [(d, a, lr) for d in acts for a in acts[d] for lr in lrs]
    for j, (data, act, lr) in enumerate(grid):
        add(f"grid-{act}-{data}-lr{_lr_tag(lr)}", "grid", data, hidden=(20, 20), act=act,
            opt="sgd", lr=lr, epochs=500, loss="mse", n_train=200, seed=1100 + j,
            **full)  # fmt: skip
    # Full-batch AdamW, momentum and Adagrad with large steps: spiky bounded runs.
    big = product(["adamw", "momentum", "adagrad"], [0.05, 0.3], ["blobs9", "gauss_reg"])
    for i, (opt, lr, data) in enumerate(big):
        lr = lr * {"adamw": 1, "momentum": 5, "adagrad": 10}[opt]
        add(f"bigstep-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(48,), act="tanh",
            opt=opt, lr=lr, epochs=650, loss=_loss(data), n_train=256, seed=1200 + i,
            **full)  # fmt: skip
    # Saturated sigmoid units: large init scales.
    for i, (scale, opt) in enumerate(product([5.0, 12.0], ["adam", "nesterov"])):
        add(f"saturated-sigmoid-x{scale:g}-{opt}", "saturated", "blobs6d8", hidden=(40, 40),
            act="sigmoid", opt=opt, lr=GOOD[opt], batch=40, epochs=25, log="epoch",
            init_scale=scale, n_train=880, n_val=220, seed=1300 + i)  # fmt: skip
    # Keras 3 model.fit runs (torch backend), per epoch with validation.
    klev = {"good": 1.0, "high": 80.0, "small": 5e-5}
    kdata = ["spirals5", "blobs9", "digits", "gauss_reg", "rings"]
    for i, (data, pair, level) in enumerate(product(kdata, range(2), klev)):
        opt = OPTS[(2 * kdata.index(data) + pair + 4) % len(OPTS)]
        add(f"keras-{data}-{opt}-{level}", f"keras_{level}", data, framework="keras",
            hidden=_width(data, i + 2), act=("gelu", "tanh", "relu")[i % 3], opt=opt,
            lr=GOOD[opt] * klev[level], batch=(40, 20)[pair], epochs=(18, 22)[pair],
            log="epoch", loss=_loss(data), n_train=560, n_val=140, seed=1400 + i)  # fmt: skip
    return _distinct(s, "set 7")
