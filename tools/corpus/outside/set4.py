"""Held-out set 4 of the outside corpus: new seeds, and more of what set 3 had little of.

    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 4    # writes tests/data/outside4

Set 3 held only three sure oscillating curves, few chance-level networks and 22 Keras runs. Set 4
keeps the families (the manifest's `kind`, so label.py tags them the same way) and mixes the
data, models and optimizers of sets 1-3 in combinations none of them used, with more of:
full-batch runs past the edge of stability (GD on tanh, ELU and sigmoid MLPs, heavy-ball and
Nesterov momentum, Adam-type steps that catapult) for oscillating curves; chance-level networks
(random labels, dead ReLU units) of 10 to 600 epochs or steps; and Keras runs (good, too large,
too small, random labels, full batch at large steps, short validation curves).
Seeds start at SEED0, far from every seed of sets 1-3. Imports nothing from lrdiag.
"""

from __future__ import annotations

from itertools import product

from tools.corpus.outside.generate import _lr_tag, _spec
from tools.corpus.outside.set3 import GOOD

SEED0 = 70_000  # every set-4 seed is SEED0 plus a small number
SIZES = {"iris": (110, 40), "wine": (130, 48), "breast_cancer": (400, 160)}  # train, val rows
ARCHS = [  # (model, hidden, act, norm, dropout), cycled through the healthy runs
    ("mlp", (48,), "silu", None, 0.0),
    ("mlp", (24, 24), "tanh", "layer", 0.0),
    ("resmlp", (48, 48), "gelu", None, 0.0),
    ("mlp", (64, 32), "relu", "batch", 0.0),
    ("mlp", (32, 32), "elu", None, 0.2),
    ("mlp", (32,), "leaky_relu", None, 0.0),
]
SCHEDS = [None, "exp", "cosine", None, "onecycle", "step", "warmup"]


def _loss(data: str, i: int) -> str:
    if data in ("sine_reg", "gauss_reg"):
        return ("mse", "huber", "l1")[i % 3]
    if data in ("rings", "xor", "moons"):
        return ("bce", "cross_entropy")[i % 2]
    return "cross_entropy"


def _sizes(data: str, n_train: int, n_val: int) -> tuple[int, int]:
    return SIZES.get(data, (n_train, n_val))


def set4_runs() -> list[dict]:
    s: list[dict] = []

    def add(id: str, kind: str, data: str, *, seed: int, **kw) -> None:
        s.append(_spec(id, kind, data, seed=SEED0 + seed, set=4, **kw))

    full = {"batch": None, "log": "step"}
    data4 = ["moons", "spirals3", "blobs5d4", "gauss_reg", "iris", "breast_cancer"]
    opts4 = ["momentum", "adam", "rmsprop", "nadam", "sgdwd", "adagrad"]
    # Healthy mini-batch runs, per step and per epoch.
    for i, (data, opt) in enumerate(product(data4, opts4)):
        model, hidden, act, norm, drop = ARCHS[(i + 2) % len(ARCHS)]
        sched = SCHEDS[i % len(SCHEDS)]
        if opt == "adagrad" and sched == "onecycle":  # one-cycle cycles a momentum Adagrad lacks
            sched = "cosine"
        kw = dict(model=model, hidden=hidden, act=act, norm=norm, dropout=drop, opt=opt,
                  lr=GOOD[opt] * (0.5, 1.0, 2.0)[i % 3], loss=_loss(data, i),
                  sched=sched)  # fmt: skip
        tag = f"{data}-{opt}-{act}" + (f"-{sched}" if sched else "")
        n_train, _ = _sizes(data, 640, 0)
        add(f"healthy-step-{tag}", "healthy", data, batch=(32, 16)[i % 2],
            epochs=max(6, 2400 // n_train), log="step", n_train=n_train, seed=i,
            **kw)  # fmt: skip
        n_train, n_val = _sizes(data, 640, 200)
        add(f"healthy-epoch-{tag}", "healthy", data, batch=32, epochs=(30, 50)[i % 2],
            log="epoch", n_train=n_train, n_val=n_val, seed=100 + i, **kw)  # fmt: skip
    # CNN on digits (both shapes): good, too large, too small.
    levels = {"good": 1.0, "high": 40.0, "small": 3e-4}
    for j, (model, opt, level) in enumerate(product(["cnn", "cnn2"], ["momentum", "rmsprop"],
                                                    levels)):  # fmt: skip
        log = ("step", "epoch")[j % 2]
        add(f"cnn-{model}-digits-{opt}-{level}-{log}", f"cnn_{level}", "digits", model=model,
            act=("relu", "silu")[j % 2], opt=opt, lr=GOOD[opt] * levels[level], batch=32,
            epochs=6 if log == "step" else 15, log=log, n_train=800,
            n_val=240 if log == "epoch" else 0, seed=200 + j)  # fmt: skip
    # Keras 3: good, too large, too small, on data and optimizers set 3's Keras runs lacked.
    klev = {"good": 1.0, "high": 100.0, "small": 1e-4}
    kdata = ["moons", "spirals3", "iris", "blobs5d4", "gauss_reg", "digits"]
    kopts = ["adam", "rmsprop", "momentum", "adagrad"]
    for i, (data, level) in enumerate(product(kdata, klev)):
        opt = kopts[i % 4]
        n_train, n_val = _sizes(data, 600, 150)
        add(f"keras-{data}-{opt}-{level}", f"keras_{level}", data, framework="keras",
            hidden=(48,) if i % 2 else (32, 16), act=("relu", "tanh", "selu")[i % 3], opt=opt,
            lr=GOOD[opt] * klev[level], batch=(32, 64)[i % 2], epochs=(20, 40)[i % 2],
            log="epoch", loss=_loss(data, i), sched=(None, "exp", None, "cosine")[i % 4],
            dropout=0.1 if i % 5 == 2 else 0.0, n_train=n_train, n_val=n_val,
            seed=300 + i)  # fmt: skip
    # (2) learning rate far too small (3e-5 to 3e-4 of a good one).
    for i, (data, opt) in enumerate(zip(data4 * 2, (opts4 + opts4[::-1]), strict=True)):
        mode = full | {"epochs": 600} if i % 2 == 0 else {"batch": 32, "epochs": 25, "log": "epoch"}
        n_train, n_val = _sizes(data, 512, 0 if i % 2 == 0 else 128)
        add(f"tiny-lr-{data}-{opt}-{i}", "class2", data, hidden=(32,),
            act=("silu", "tanh", "relu")[i % 3], opt=opt, lr=GOOD[opt] * (3e-5, 3e-4)[i % 2],
            loss=_loss(data, i), n_train=n_train, n_val=n_val if i % 2 else 0,
            sched=(None, "exp")[(i // 2) % 2], seed=400 + i, **mode)  # fmt: skip
    # (3) flat at chance, at many run lengths: random labels on a tiny net (per step) ...
    lengths = [40, 120, 400, 900]
    for i, (data, opt) in enumerate(product(["moons", "spirals3", "blobs5d4", "blobs8d2"],
                                            ["momentum", "adam", "rmsprop"])):  # fmt: skip
        add(f"chance-random-{data}-{opt}-n{lengths[i % 4]}", "class3", data, hidden=(4,),
            act="tanh", opt=opt, lr={"momentum": 0.02, "adam": 0.01, "rmsprop": 3e-3}[opt],
            epochs=lengths[i % 4], loss="bce" if (data == "moons" and i % 2) else "cross_entropy",
            init_scale=2.0, out_bias=(1.0, 3.0)[i % 2], n_train=3000, random_labels=True,
            seed=500 + i, **full)  # fmt: skip
    # ... dead ReLU networks (hidden biases -20) per epoch, 10 to 80 epochs ...
    for i, (data, opt) in enumerate(product(["moons", "spirals3", "blobs5d4", "digits"],
                                            ["momentum", "adam", "nadam"])):  # fmt: skip
        epochs = (10, 20, 45, 80)[i % 4]
        add(f"chance-dead-{data}-{opt}-e{epochs}", "class3", data, hidden=(32, 32), act="relu",
            opt=opt, lr=GOOD[opt] * 3, batch=64, epochs=epochs, log="epoch",
            bias_shift=-20.0, out_bias=(0.0, 1.0, 3.0)[i % 3], n_train=1024, n_val=256,
            seed=600 + i, notes="dead ReLU network")  # fmt: skip
    # ... and Keras on random labels (per epoch, with validation curves on true labels).
    for i, (data, opt) in enumerate(product(["moons", "spirals3", "blobs5d4"],
                                            ["adam", "momentum"])):  # fmt: skip
        add(f"keras-chance-random-{data}-{opt}", "class3", data, framework="keras", hidden=(4,),
            act="tanh", opt=opt, lr=GOOD[opt], batch=64, epochs=(15, 60)[i % 2], log="epoch",
            loss="cross_entropy", n_train=2000, n_val=300, random_labels=True,
            seed=650 + i)  # fmt: skip
    # (4) short validation curves: 10-12 epochs, small validation sets, aggressive steps.
    for i, (data, opt) in enumerate(product(["moons", "spirals3", "iris", "gauss_reg",
                                             "blobs5d4"], ["adam", "momentum", "rmsprop",
                                                           "adagrad"])):  # fmt: skip
        keras = i % 2 == 1
        n_train = 110 if data == "iris" else 300
        add(f"short-val-{data}-{opt}" + ("-keras" if keras else ""), "class4", data,
            framework="keras" if keras else "torch", hidden=(32, 32),
            act=("silu", "tanh")[i % 2], opt=opt, lr=GOOD[opt] * (8 if i % 3 else 20),
            batch=16, epochs=(10, 12)[i % 2], log="epoch", loss=_loss(data, i),
            n_train=n_train, n_val=30, seed=700 + i)  # fmt: skip
    # (5) violent bouncing most of the run, then the learning rate x0.01 late.
    for i, (data, opt) in enumerate(product(["moons", "spirals3", "gauss_reg"],
                                            ["momentum", "adam"])):  # fmt: skip
        add(f"late-drop-{data}-{opt}", "class5", data, hidden=(32, 32), act="tanh", opt=opt,
            lr={"momentum": 0.6, "adam": 0.15}[opt], epochs=600, loss=_loss(data, i),
            n_train=256, drop_at=(0.7, 0.85)[i % 2], drop_by=0.01, seed=800 + i,
            **full)  # fmt: skip
    # (1) edge of stability and past it: full-batch GD on small MLPs, several activations.
    edges = [("moons", 16, "tanh"), ("spirals3", 24, "tanh"), ("blobs5d4", 16, "elu"),
             ("iris", 16, "tanh"), ("gauss_reg", 16, "tanh"), ("breast_cancer", 16, "sigmoid"),
             ("digits", 32, "tanh"), ("blobs8d2", 16, "gelu")]  # fmt: skip
    for k, ((data, width, act), mult) in enumerate(product(edges, (1.0, 2.0, 3.5))):
        n_train = SIZES.get(data, (240, 0))[0]
        base = 0.5 if data == "gauss_reg" else 8.0 if act == "sigmoid" else 3.0
        loss = "mse" if data == "gauss_reg" else "bce" if data == "moons" else "cross_entropy"
        add(f"eos-{data}-{act}{width}-lr{_lr_tag(base * mult)}", "class1", data,
            hidden=(width, width), act=act, opt="sgd", lr=base * mult, epochs=1000, loss=loss,
            n_train=n_train, seed=900 + k, **full)  # fmt: skip
    # (1) heavy-ball and Nesterov momentum past the edge (full batch): bounded bouncing.
    heavy = [("moons", 0.6), ("moons", 1.2), ("spirals3", 0.5), ("blobs5d4", 0.8),
             ("gauss_reg", 0.15), ("gauss_reg", 0.3), ("iris", 0.8), ("xor", 1.0)]  # fmt: skip
    for i, (data, lr) in enumerate(heavy):
        opt = ("momentum", "nesterov")[i % 2]
        add(f"eos-heavy-{data}-{opt}-lr{_lr_tag(lr)}", "class1", data, hidden=(16, 16),
            act="tanh", opt=opt, lr=lr, epochs=800,
            loss="mse" if data == "gauss_reg" else "cross_entropy",
            n_train=SIZES.get(data, (200, 0))[0], seed=1000 + i, **full)  # fmt: skip
    # (1) Adam-type steps at large rates, full batch: catapults and bounded chaos.
    big = [("adam", 0.05), ("adam", 0.2), ("rmsprop", 0.03), ("rmsprop", 0.1),
           ("nadam", 0.1), ("adamw", 0.5)]  # fmt: skip
    for i, ((opt, lr), data) in enumerate(product(big, ["moons", "gauss_reg"])):
        add(f"bigstep-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(32,),
            act=("tanh", "silu")[i % 2], opt=opt, lr=lr, epochs=700, loss=_loss(data, i),
            n_train=256, seed=1100 + i, **full)  # fmt: skip
    # (1) Keras full batch at large steps (SGD, momentum), per epoch = per step.
    for i, (data, (opt, lr)) in enumerate(product(["moons", "blobs5d4", "gauss_reg"],
                                                  [("sgd", 4.0), ("momentum", 0.5)])):  # fmt: skip
        lr = lr / 8 if data == "gauss_reg" else lr
        add(f"keras-eos-{data}-{opt}-lr{_lr_tag(lr)}", "class1", data, framework="keras",
            hidden=(16, 16), act="tanh", opt=opt, lr=lr, batch=None, epochs=400, log="epoch",
            loss="mse" if data == "gauss_reg" else "cross_entropy", n_train=200,
            seed=1150 + i)  # fmt: skip
    # (6) limit cycles after a huge first loss: 2-128-64-K at N(0, 1/fan_in) x3 to x6.
    cycle = {"hidden": (128, 64), "opt": "sgd", "epochs": 500, "init": "normal", "n_train": 200}
    for i, (act, (loss, data), lr, scale) in enumerate(
        product(
            ["tanh", "silu"],
            [("cross_entropy", "spirals3"), ("bce", "moons")],
            [1.5, 3.0],
            [3.0, 6.0],
        )  # fmt: skip
    ):
        add(f"cycle-{act}-{loss[:3]}-{data}-lr{_lr_tag(lr)}-x{scale:g}", "class6", data,
            act=act, lr=lr, loss=loss, init_scale=scale, seed=1200 + i, **cycle,
            **full)  # fmt: skip
    # (7) overfitting: a wide net, few noisy training rows, long training.
    over = ["moons", "spirals3", "iris", "gauss_reg", "blobs5d4"]
    for i, (data, opt) in enumerate(product(over, ["adam", "momentum"])):
        noise = 0.0 if data == "gauss_reg" else 0.3
        kw = {"opt": opt, "lr": {"adam": 2e-3, "momentum": 0.02}[opt], "log": "epoch"}
        kw |= {"loss": _loss(data, 1), "n_val": 30 if data == "iris" else 250}
        add(f"overfit-{data}-{opt}", "class7", data, hidden=(200, 200), act="relu",
            batch=None, epochs=800, n_train=32, label_noise=noise, seed=1300 + i,
            **kw)  # fmt: skip
        add(f"overfit-mb-{data}-{opt}", "class7", data, hidden=(128, 128), act="tanh",
            batch=16, epochs=200, n_train=48, label_noise=noise and 0.25, seed=1350 + i,
            **kw)  # fmt: skip
    # Divergence: 200x to 5000x good learning rates.
    for i, (data, opt, mult) in enumerate(
        product(["moons", "gauss_reg", "iris"], ["momentum", "adam", "rmsprop"], (200, 5000))
    ):
        mode = full | {"epochs": 200} if i % 3 else {"batch": 32, "epochs": 12, "log": "epoch"}
        add(f"diverge-{data}-{opt}-x{mult}", "diverge", data, hidden=(32, 32),
            act=("silu", "tanh")[i % 2], opt=opt, lr=GOOD[opt] * mult, loss=_loss(data, i),
            init_scale=(1.0, 2.5)[(i // 2) % 2], n_train=110 if data == "iris" else 256,
            seed=1400 + i, **mode)  # fmt: skip
    # Learning-rate grid on full-batch GD.
    grid = product(["silu", "tanh"], [0.03, 0.3, 1.0, 3.0, 10.0, 30.0])
    for j, ((act, lr), data) in enumerate(product(grid, ("moons", "gauss_reg"))):
        add(f"grid-{act}-{data}-lr{_lr_tag(lr)}", "grid", data, hidden=(24,), act=act,
            opt="sgd", lr=lr, epochs=400, loss="bce" if data == "moons" else "mse",
            n_train=200, seed=1500 + j, **full)  # fmt: skip
    # Saturated sigmoid units from large inits.
    for i, (scale, opt) in enumerate(product([5.0, 10.0], ["momentum", "adam", "rmsprop"])):
        add(f"saturated-sigmoid-x{scale:g}-{opt}", "saturated", "spirals3", hidden=(64, 64),
            act="sigmoid", opt=opt, lr=GOOD[opt], batch=64, epochs=20, log="epoch",
            init_scale=scale, n_train=900, n_val=240, seed=1600 + i)  # fmt: skip
    ids = [x["id"] for x in s]
    assert len(ids) == len(set(ids)), "duplicate run id in set 4"
    return s
