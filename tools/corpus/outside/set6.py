"""Held-out set 6 of the outside corpus: set 1's families at about set 5's run counts, new runs.

    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 6    # writes tests/data/outside6

Like set 5, set 6 estimates accuracy on the curves people usually produce, so it follows set 1's
families (the manifest's `kind`, so label.py tags them the same way) at about set 5's run
counts, in combinations neither set 1 nor set 5 used: other data (3-arm spirals, 7 blobs,
3 blobs in 6-d, 5 blobs in 12-d, a sine, XOR, rings, the bundled tables), other widths (one,
two or three hidden layers), activations (tanh, ReLU, sigmoid, ELU, GELU, leaky ReLU, SiLU),
learning-rate multipliers, batch sizes and run lengths, and the optimizers rotated over SGD,
momentum, Nesterov, Adam, AdamW, RMSprop and Adagrad; full batch and mini-batch, per-step and
per-epoch logs, PyTorch and Keras. Seeds start at SEED0, far from every seed of sets 1-5.
Imports nothing from lrdiag.
"""

from __future__ import annotations

from itertools import product

from tools.corpus.outside.generate import GOOD_LR, _distinct, _lr_tag, _spec

SEED0 = 90_000  # every set-6 seed is SEED0 plus a small number
GOOD = GOOD_LR | {"nesterov": 0.02, "adamw": 3e-3, "adagrad": 0.05}  # good rates, tiny models
SIZES = {"iris": (110, 40), "wine": (130, 48), "breast_cancer": (400, 160)}  # train, val rows
OPTS = ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"]  # rotated through
CORE = ["sgd", "momentum", "adam", "rmsprop"]
DATA6 = ["spirals3", "blobs7", "blobs3d6", "sine_reg", "digits", "moons"]
WIDTHS = [(40,), (16, 16), (80,), (28, 28), (12, 12, 12)]  # cycled through the MLP runs
ACTS = ["relu", "tanh", "elu", "gelu", "sigmoid", "leaky_relu", "silu"]


def _loss(data: str) -> str:
    return "mse" if data in ("gauss_reg", "sine_reg") else "cross_entropy"


def _width(data: str, i: int) -> tuple[int, ...]:
    return ((48,), (128,), (64, 32))[i % 3] if data == "digits" else WIDTHS[i % len(WIDTHS)]


def _opt(i: int) -> str:
    return OPTS[i % len(OPTS)]


def set6_runs() -> list[dict]:
    s: list[dict] = []

    def add(id: str, kind: str, data: str, *, seed: int, **kw) -> None:
        s.append(_spec(id, kind, data, seed=SEED0 + seed, set=6, **kw))

    full = {"batch": None, "log": "step"}
    # Healthy mini-batch runs, per step and per epoch (with a validation split): four of the
    # seven optimizers per data set, rotated, so every optimizer meets several data sets.
    for i, (d, j) in enumerate(product(range(len(DATA6)), range(4))):
        data, opt = DATA6[d], OPTS[(3 * d + j) % len(OPTS)]
        act = ACTS[(i + d) % len(ACTS)]
        if act == "sigmoid" and opt in ("sgd", "adagrad"):  # sigmoid units barely move so
            act = "tanh"
        kw = dict(hidden=_width(data, i), act=act, opt=opt, lr=GOOD[opt] * (0.6, 1.2, 1.8)[i % 3],
                  loss=_loss(data))  # fmt: skip
        add(f"healthy-step-{data}-{opt}", "healthy", data, batch=(24, 48, 128)[i % 3],
            epochs=(12, 8, 20)[i % 3], log="step", n_train=768, seed=i, **kw)  # fmt: skip
        add(f"healthy-epoch-{data}-{opt}", "healthy", data, batch=(48, 128, 24)[i % 3],
            epochs=(35, 25, 50)[i % 3], log="epoch", n_train=768, n_val=256, seed=100 + i,
            **kw)  # fmt: skip
    # Healthy runs on scikit-learn's bundled tables.
    for i, data in enumerate(["iris", "wine", "breast_cancer"]):
        n_train, n_val = SIZES[data]
        for j, (opt, log) in enumerate([("adamw", "step"), ("nesterov", "step"),
                                        ("rmsprop", "epoch"), ("sgd", "epoch")]):  # fmt: skip
            add(f"healthy-tab-{data}-{opt}-{log}", "healthy", data,
                hidden=((24,), (16, 16))[j % 2], act=("elu", "tanh", "relu", "gelu")[(i + j) % 4],
                opt=opt, lr=GOOD[opt], batch=(8, 32)[j % 2],
                epochs=max(6, 2400 // n_train) if log == "step" else 30, log=log,
                n_train=n_train, n_val=n_val if log == "epoch" else 0,
                seed=150 + 4 * i + j)  # fmt: skip
    # BCE runs on two-class sets, per step.
    for i, (data, opt) in enumerate(product(["moons", "breast_cancer"],
                                            ["sgd", "nesterov", "adam", "adagrad"])):  # fmt: skip
        n_train = 512 if data == "moons" else SIZES[data][0]
        add(f"healthy-bce-{data}-{opt}", "healthy", data, hidden=(20,),
            act=("relu", "tanh", "silu", "elu")[i % 4], opt=opt, lr=GOOD[opt] * 1.5, batch=32,
            epochs=12, log="step", loss="bce", n_train=n_train, seed=170 + i)  # fmt: skip
    # Healthy mini-batch runs from a large init (weights x3).
    for i, (data, opt) in enumerate(product(["moons", "blobs7", "gauss_reg", "digits"],
                                            ["momentum", "rmsprop"])):  # fmt: skip
        add(f"healthy-x3-{data}-{opt}", "healthy", data, hidden=_width(data, i + 1),
            act=("relu", "tanh")[i % 2], opt=opt, lr=GOOD[opt] / 3, batch=48, epochs=12,
            log="step", loss=_loss(data), init_scale=3.0, n_train=640, seed=180 + i)  # fmt: skip
    # Small CNNs on digits: good, too large and too small learning rates.
    levels = {"good": 1.0, "high": 50.0, "small": 5e-4}
    for j, (opt, level) in enumerate(product(["sgd", "nesterov", "adamw", "rmsprop"], levels)):
        log = ("epoch", "step")[(j + j // 3) % 2]
        add(f"cnn-digits-{opt}-{level}-{log}", f"cnn_{level}", "digits",
            model=("cnn2", "cnn")[(j // 3) % 2], act=("relu", "elu")[j % 2], opt=opt,
            lr=GOOD[opt] * levels[level], batch=48, epochs=6 if log == "step" else 15, log=log,
            n_train=900, n_val=250 if log == "epoch" else 0, seed=200 + j)  # fmt: skip
    for j, (opt, level) in enumerate(product(["momentum", "adam"], levels)):
        add(f"cnn2-digits-{opt}-{level}-step", f"cnn_{level}", "digits", model="cnn2",
            act="tanh", opt=opt, lr=GOOD[opt] * levels[level], batch=24, epochs=4,
            log="step", n_train=900, seed=220 + j)  # fmt: skip
    # (2) learning rate far too small: full-batch and mini-batch.
    tiny = [(d, _opt(i)) for i, d in enumerate(DATA6 * 4) if i % 3 != 1]
    for i, (data, opt) in enumerate(tiny):
        mode = full | {"epochs": 300} if i % 2 else {"batch": 64, "epochs": 20, "log": "epoch"}
        add(f"tiny-lr-{data}-{opt}", "class2", data, hidden=_width(data, i + 2),
            act=("relu", "tanh", "elu")[i % 3], opt=opt, lr=GOOD[opt] * (3e-5, 1e-4)[(i // 2) % 2],
            loss=_loss(data), n_train=384, n_val=0 if i % 2 else 128, seed=300 + i,
            **mode)  # fmt: skip
    # (3) flat at chance: random labels on a small net, and dead ReLU networks.
    chance = zip([3, 5, 8, 2, 3, 5, 8, 2], ["momentum", "rmsprop", "sgd", "adam"] * 2, strict=True)
    for i, (k, opt) in enumerate(chance):
        lr = {"sgd": 0.4, "adam": 0.015, "momentum": 0.04, "rmsprop": 4e-3}[opt]
        add(f"chance-random-k{k}-{opt}-{i}", "class3", "moons" if k == 2 else f"blobs{k}",
            hidden=(5,), act="tanh", opt=opt, lr=lr, epochs=(300, 200)[i // 4],
            loss="bce" if (k == 2 and i < 4) else "cross_entropy", init_scale=3.0,
            out_bias=2.0, n_train=2500, random_labels=True, seed=400 + i, **full)  # fmt: skip
    for i, (k, opt) in enumerate(product([3, 8], ["sgd", "nesterov", "adamw"])):
        add(f"chance-dead-k{k}-{opt}", "class3", f"blobs{k}", hidden=(24, 24), act="relu",
            opt=opt, lr=GOOD[opt] * (10 if opt == "sgd" else 3), batch=48, epochs=25,
            log="epoch", bias_shift=-20.0, out_bias=3.0, n_train=960, n_val=240, seed=420 + i,
            notes="dead ReLU network")  # fmt: skip
    # (4) short validation curves: 8-12 epochs, small validation sets, aggressive steps.
    short6 = product(["blobs7", "spirals3", "digits", "moons", "gauss_reg"], CORE)
    short = [(d, o) for i, (d, o) in enumerate(short6) if i % 7 != 5]
    for i, (data, opt) in enumerate(short):
        add(f"short-val-{data}-{opt}", "class4", data, hidden=_width(data, i), act="relu",
            opt=opt, lr=GOOD[opt] * (8 if opt in ("adam", "rmsprop") else 4), batch=24,
            epochs=(8, 12, 10)[i % 3], log="epoch", loss=_loss(data), n_train=360,
            n_val=(35, 45, 25)[i % 3], seed=500 + i)  # fmt: skip
    # (5) violent oscillation most of the run, then a late learning-rate drop.
    late = [("blobs7", "sgd"), ("blobs7", "adam"), ("spirals4", "momentum"), ("xor", "sgd"),
            ("gauss_reg", "adam"), ("sine_reg", "sgd"), ("moons", "momentum"),
            ("spirals3", "nesterov"), ("blobs3d6", "adam"), ("rings", "sgd")]  # fmt: skip
    for i, (data, opt) in enumerate(late):
        at = (0.75, 0.8)[i % 2]
        lr = {"sgd": 2.5, "adam": 0.08, "momentum": 0.25, "nesterov": 0.25}[opt]
        add(f"late-drop-{data}-{opt}-{int(at * 100)}", "class5", data, hidden=(24, 24),
            act="tanh", opt=opt, lr=lr, epochs=(800, 600)[i % 2], loss=_loss(data),
            n_train=256, drop_at=at, drop_by=0.01, seed=600 + i, **full)  # fmt: skip
    for k, (data, lr) in enumerate(product(["blobs7", "spirals3", "blobs4d8"], [4.0, 7.0])):
        add(f"late-drop-eos-{data}-lr{_lr_tag(lr)}", "class5", data, hidden=(20, 20),
            act="tanh", opt="sgd", lr=lr, epochs=900, n_train=256, drop_at=0.8, drop_by=0.05,
            seed=620 + k, **full)  # fmt: skip
    # (6) limit cycles after a huge first loss: 2-128-64-K, N(0, 1/fan_in) init x3 or x5,
    # full-batch GD with cross-entropy or BCE (MSE runs of this shape mostly settle).
    cycle = {"hidden": (128, 64), "opt": "sgd", "epochs": 700, "init": "normal", "n_train": 200}
    losses = [("cross_entropy", "blobs7"), ("bce", "xor")]
    for i, (act, (loss, data), lr, scale) in enumerate(
        product(["tanh", "sigmoid"], losses, [1.8, 3.5], [3.0, 5.0])
    ):
        add(f"cycle-{act}-{loss[:3]}-lr{_lr_tag(lr)}-x{scale:g}", "class6", data, act=act, lr=lr,
            loss=loss, init_scale=scale, seed=700 + i, **cycle, **full)  # fmt: skip
    for i, (act, lr) in enumerate(product(["tanh", "sigmoid"], [0.08, 0.3])):
        add(f"cycle-{act}-mse-lr{_lr_tag(lr)}", "class6", "moons", act=act, lr=lr, loss="mse",
            init_scale=3.0, seed=720 + i, **cycle, **full)  # fmt: skip
    # (1) edge of stability: full-batch GD on small tanh MLPs, cross-entropy or BCE.
    edges = [("blobs7", 16, 4.0), ("blobs7", 24, 2.5), ("blobs3d6", 16, 4.0), ("spirals4", 16, 5.0),
             ("blobs4", 20, 3.5), ("blobs4d8", 16, 6.0), ("moons", 24, 9.0), ("rings", 16, 10.0),
             ("spirals3", 24, 4.5), ("xor", 20, 6.0)]  # fmt: skip
    for k, ((data, width, lr), seed) in enumerate(product(edges, range(2))):
        add(f"eos-{data}-tanh{width}-lr{_lr_tag(lr)}-s{seed}", "class1", data,
            hidden=(width, width), act="tanh", opt="sgd", lr=lr, epochs=(1000, 1400)[seed],
            loss="bce" if data in ("moons", "rings", "xor") else "cross_entropy",
            n_train=256, seed=800 + k, **full)  # fmt: skip
    # (7) overfitting: more neurons than data, long training, noisy labels.
    over = ["spirals3", "blobs7", "digits", "sine_reg"]
    for i, data in enumerate(over):
        for j, (opt, lr) in enumerate([("adamw", 3e-3), ("nesterov", 0.03)]):
            noise = 0.0 if data == "sine_reg" else 0.3
            kw = {"opt": opt, "lr": lr, "log": "epoch", "loss": _loss(data), "n_val": 300}
            add(f"overfit-{data}-{opt}", "class7", data, hidden=(200, 200), act="relu",
                batch=None, epochs=1000, n_train=40 if data != "digits" else 70,
                label_noise=noise, seed=900 + 2 * i + j, **kw)  # fmt: skip
            mb = ("adam", 3e-3) if opt == "adamw" else ("momentum", 0.03)
            add(f"overfit-mb-{data}-{mb[0]}", "class7", data, hidden=(320,), act="tanh",
                batch=8, epochs=250, n_train=56, label_noise=noise and 0.25,
                seed=920 + 2 * i + j, **kw | {"opt": mb[0], "lr": mb[1]})  # fmt: skip
    # Random labels on a big net: it memorises them (training falls, validation rises).
    for i, (k, opt) in enumerate(product([3, 7], ["adamw", "nesterov"])):
        add(f"memorize-random-k{k}-{opt}", "class7", f"blobs{k}", hidden=(256, 128),
            act="relu", opt=opt, lr={"adamw": 2e-3, "nesterov": 0.03}[opt], batch=24,
            epochs=100, log="epoch", n_train=120, n_val=360, random_labels=True,
            seed=940 + i)  # fmt: skip
    # Divergence: too-large steps on regression and classification, plain and scaled init.
    for i, (data, j) in enumerate(product(["sine_reg", "blobs7", "spirals3", "digits", "xor"],
                                          range(4))):  # fmt: skip
        opt = OPTS[(2 * i + j) % len(OPTS)]
        mult = (150, 500, 2000)[i % 3]
        mode = full | {"epochs": 200} if i % 3 else {"batch": 48, "epochs": 12, "log": "epoch"}
        add(f"diverge-{data}-{opt}-x{mult}", "diverge", data, hidden=_width(data, i + 3),
            act=("tanh", "relu", "elu")[i % 3], opt=opt, lr=GOOD[opt] * mult, loss=_loss(data),
            init_scale=(1.0, 3.0)[(i // 2) % 2], n_train=256, seed=1000 + i, **mode)  # fmt: skip
    # Learning-rate grid on full-batch GD (MSE): healthy, edge and too large.
    acts = {"xor": ("relu", "tanh"), "gauss_reg": ("sigmoid", "elu")}
    lrs = [0.04, 0.12, 0.4, 1.2, 3.0, 9.0, 25.0]
    grid = [(d, a, lr) for d in acts for a in acts[d] for lr in lrs]
    for j, (data, act, lr) in enumerate(grid):
        add(f"grid-{act}-{data}-lr{_lr_tag(lr)}", "grid", data, hidden=(24, 24), act=act,
            opt="sgd", lr=lr, epochs=450, loss="mse", n_train=200, seed=1100 + j,
            **full)  # fmt: skip
    # Full-batch Adam, RMSprop and Nesterov momentum with large steps: spiky bounded runs.
    big = product(["adam", "rmsprop", "nesterov"], [0.04, 0.25], ["blobs7", "sine_reg"])
    for i, (opt, lr, data) in enumerate(big):
        lr = lr if opt != "nesterov" else lr * 10
        add(f"bigstep-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(40,), act="tanh",
            opt=opt, lr=lr, epochs=600, loss=_loss(data), n_train=256, seed=1200 + i,
            **full)  # fmt: skip
    # Saturated sigmoid units: large init scales.
    for i, (scale, opt) in enumerate(product([4.0, 8.0], ["momentum", "rmsprop"])):
        add(f"saturated-sigmoid-x{scale:g}-{opt}", "saturated", "blobs5d12", hidden=(48, 48),
            act="sigmoid", opt=opt, lr=GOOD[opt], batch=48, epochs=20, log="epoch",
            init_scale=scale, n_train=960, n_val=240, seed=1300 + i)  # fmt: skip
    # Keras 3 model.fit runs (torch backend), per epoch with validation.
    klev = {"good": 1.0, "high": 100.0, "small": 1e-4}
    kdata = ["spirals3", "blobs7", "digits", "sine_reg", "moons"]
    for i, (data, pair, level) in enumerate(product(kdata, range(2), klev)):
        opt = OPTS[(3 * kdata.index(data) + pair) % len(OPTS)]
        add(f"keras-{data}-{opt}-{level}", f"keras_{level}", data, framework="keras",
            hidden=_width(data, i + 1), act=("tanh", "relu", "elu")[i % 3], opt=opt,
            lr=GOOD[opt] * klev[level], batch=(48, 24)[pair], epochs=(20, 15)[pair],
            log="epoch", loss=_loss(data), n_train=600, n_val=150, seed=1400 + i)  # fmt: skip
    return _distinct(s, "set 6")
