"""Held-out set 3 of the outside corpus: kinds of run the first two sets lack.

    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 3    # writes tests/data/outside3

The families (the manifest's `kind`) are those of set 1, so label.py tags them the same way,
but every run uses something sets 1 and 2 never did: other data (two rings, XOR, scikit-learn's
bundled iris, wine and breast-cancer tables, a 1-d sine regression, blobs in 3-6 dimensions),
activations (GELU, ELU, leaky ReLU, SiLU), batch and layer normalisation, dropout, a residual MLP,
a second CNN, optimizers with Nesterov momentum, weight decay (SGD and AdamW), Adagrad, NAdam,
RMSprop with momentum, learning-rate schedules (step, cosine, exponential, warm-up, one-cycle),
Huber and L1 losses, and Keras with Nadam, AdamW, Nesterov, schedules, dropout and batch norm.
Seeds start at SEED0, far from every seed of sets 1 and 2. Imports nothing from lrdiag.
"""

from __future__ import annotations

from itertools import product

from tools.corpus.outside.generate import _lr_tag, _spec

SEED0 = 50_000  # every set-3 seed is SEED0 plus a small number
# Good learning rates for these tiny models, per optimizer (set 1's, plus the new ones).
GOOD = {
    "sgd": 0.1,
    "momentum": 0.02,
    "nesterov": 0.02,
    "sgdwd": 0.03,
    "adam": 3e-3,
    "adamw": 3e-3,
    "adagrad": 0.05,
    "rmsprop": 1e-3,
    "rmsprop_m": 3e-4,
    "nadam": 2e-3,
}
SIZES = {"iris": (110, 40), "wine": (130, 48), "breast_cancer": (400, 160)}  # train, val rows
ARCHS = [  # (model, hidden, act, norm, dropout), cycled through the healthy runs
    ("mlp", (32, 32), "gelu", None, 0.0),
    ("mlp", (64,), "elu", None, 0.0),
    ("resmlp", (32, 32), "silu", None, 0.0),
    ("mlp", (32, 32), "leaky_relu", "layer", 0.0),
    ("mlp", (64, 64), "relu", None, 0.1),
    ("mlp", (32, 32), "tanh", "batch", 0.0),
]
SCHEDS = [None, "cosine", "step", "warmup", "exp", "onecycle"]


def _loss(data: str, i: int) -> str:
    if data == "sine_reg":
        return ("mse", "huber", "l1")[i % 3]
    if data in ("rings", "xor"):
        return ("cross_entropy", "bce")[i % 2]
    return "cross_entropy"


def _sizes(data: str, n_train: int, n_val: int) -> tuple[int, int]:
    return SIZES.get(data, (n_train, n_val))


def set3_runs() -> list[dict]:
    s: list[dict] = []

    def add(id: str, kind: str, data: str, *, seed: int, **kw) -> None:
        s.append(_spec(id, kind, data, seed=SEED0 + seed, set=3, **kw))

    full = {"batch": None, "log": "step"}
    data3 = ["rings", "xor", "iris", "wine", "breast_cancer", "sine_reg"]
    opts3 = ["nesterov", "sgdwd", "adamw", "adagrad", "rmsprop_m", "nadam"]
    # Healthy mini-batch runs, per step and per epoch, new architectures and schedules.
    for i, (data, opt) in enumerate(product(data3, opts3)):
        model, hidden, act, norm, drop = ARCHS[i % len(ARCHS)]
        sched = SCHEDS[(i // 2) % len(SCHEDS)]
        kw = dict(model=model, hidden=hidden, act=act, norm=norm, dropout=drop, opt=opt,
                  lr=GOOD[opt], loss=_loss(data, i), sched=sched)  # fmt: skip
        tag = f"{data}-{opt}-{act}" + (f"-{sched}" if sched else "")
        n_train, _ = _sizes(data, 768, 0)
        add(f"healthy-step-{tag}", "healthy", data, batch=(16, 32)[i % 2],
            epochs=max(8, 3000 // n_train), log="step", n_train=n_train, seed=i,
            **kw)  # fmt: skip
        n_train, n_val = _sizes(data, 768, 256)
        add(f"healthy-epoch-{tag}", "healthy", data, batch=32, epochs=40, log="epoch",
            n_train=n_train, n_val=n_val, seed=100 + i, **kw)  # fmt: skip
    # Healthy from a large init (x3), with warm-up or cosine schedules.
    for i, (data, opt) in enumerate(product(["rings", "blobs4d6", "sine_reg", "digits"],
                                            ["nesterov", "adamw"])):  # fmt: skip
        sched = ("warmup", "cosine")[i % 2]
        add(f"healthy-x3-{data}-{opt}-{sched}", "healthy", data,
            hidden=(64,) if data == "digits" else (32, 32), act=("elu", "gelu")[i % 2], opt=opt,
            lr=GOOD[opt] / 3, batch=32, epochs=10, log="step", loss=_loss(data, i),
            init_scale=3.0, n_train=640, sched=sched, seed=200 + i)  # fmt: skip
    # A second small CNN on digits: good, too large and too small learning rates.
    levels = {"good": 1.0, "high": 30.0, "small": 1e-3}
    for j, (opt, level, log) in enumerate(product(["nesterov", "adamw", "sgdwd"], levels,
                                                  ("step", "epoch"))):  # fmt: skip
        add(f"cnn2-digits-{opt}-{level}-{log}", f"cnn_{level}", "digits", model="cnn2",
            act=("relu", "elu")[j % 2], opt=opt, lr=GOOD[opt] * levels[level], batch=32,
            epochs=8 if log == "step" else 20, log=log, n_train=1000,
            n_val=300 if log == "epoch" else 0, seed=300 + j)  # fmt: skip
    # Keras 3: Nadam, AdamW, Nesterov, schedules, dropout, batch norm; good, high, small.
    klev = {"good": 1.0, "high": 100.0, "small": 1e-4}
    kdata = ["rings", "xor", "wine", "breast_cancer", "sine_reg"]
    kopts = ["nadam", "adamw", "nesterov"]
    for i, (data, level) in enumerate(product(kdata, klev)):
        opt = kopts[i % 3]
        n_train, n_val = _sizes(data, 640, 160)
        add(f"keras-{data}-{opt}-{level}", f"keras_{level}", data, framework="keras",
            hidden=(32, 32), act=("gelu", "elu", "relu")[i % 3], opt=opt,
            lr=GOOD[opt] * klev[level], batch=32, epochs=25, log="epoch", loss=_loss(data, i),
            sched=(None, "cosine", "exp", "step")[i % 4], norm="batch" if i % 5 == 1 else None,
            dropout=0.2 if i % 4 == 3 else 0.0, n_train=n_train, n_val=n_val,
            seed=400 + i)  # fmt: skip
    # (2) learning rate far too small (1e-4 of a good one), new optimizers and schedules.
    for i, (data, opt) in enumerate(zip(data3 * 2, opts3 * 2, strict=True)):
        mode = full | {"epochs": 400} if i % 2 == 0 else {"batch": 32, "epochs": 20, "log": "epoch"}
        n_train, n_val = _sizes(data, 512, 0 if i % 2 == 0 else 128)
        add(f"tiny-lr-{data}-{opt}-{i}", "class2", data, hidden=(32, 32),
            act=("gelu", "elu", "tanh")[i % 3], opt=opt, lr=GOOD[opt] * 1e-4,
            loss=_loss(data, i), n_train=n_train, n_val=n_val if i % 2 else 0,
            sched=(None, "cosine")[i % 2], seed=500 + i, **mode)  # fmt: skip
    # (3) flat at chance: random labels on a 4-unit net; dead ReLU nets (hidden biases -20).
    for i, (data, opt) in enumerate(product(["xor", "rings", "blobs3d4", "blobs6d3"],
                                            ["nesterov", "adamw", "adagrad"])):  # fmt: skip
        add(f"chance-random-{data}-{opt}", "class3", data, hidden=(4,), act="elu", opt=opt,
            lr={"nesterov": 0.05, "adamw": 0.01, "adagrad": 0.1}[opt], epochs=300,
            loss="bce" if (data in ("xor", "rings") and i % 2) else "cross_entropy",
            init_scale=3.0, out_bias=2.0, n_train=3000, random_labels=True, seed=600 + i,
            **full)  # fmt: skip
    for i, (data, opt) in enumerate(product(["rings", "blobs4d6", "wine"],
                                            ["nesterov", "adamw", "rmsprop_m"])):  # fmt: skip
        n_train, n_val = _sizes(data, 1024, 256)
        add(f"chance-dead-{data}-{opt}", "class3", data, hidden=(32, 32), act="relu", opt=opt,
            lr=GOOD[opt] * 3, batch=64, epochs=30, log="epoch", bias_shift=-20.0, out_bias=3.0,
            n_train=n_train, n_val=n_val, seed=700 + i, notes="dead ReLU network")  # fmt: skip
    # (4) short validation curves: 10 epochs, a 40-row validation set, aggressive steps.
    for i, (data, opt) in enumerate(product(["rings", "xor", "wine", "breast_cancer",
                                             "sine_reg"], ["nesterov", "adamw", "nadam",
                                                           "sgdwd"])):  # fmt: skip
        keras = i % 3 == 0
        n_train = 130 if data == "wine" else 400
        add(f"short-val-{data}-{opt}" + ("-keras" if keras else ""), "class4", data,
            framework="keras" if keras else "torch", hidden=(32, 32),
            act=("gelu", "relu")[i % 2], opt=opt,
            lr=GOOD[opt] * (10 if opt in ("adamw", "nadam") else 5), batch=16, epochs=10,
            log="epoch", loss=_loss(data, i), n_train=n_train, n_val=40,
            seed=800 + i)  # fmt: skip
    # (5) violent bouncing most of the run, then the learning rate x0.01 late.
    for i, (data, opt, at) in enumerate(product(["rings", "xor", "sine_reg"],
                                                ["nesterov", "nadam"], (0.75,))):  # fmt: skip
        add(f"late-drop-{data}-{opt}", "class5", data, hidden=(32, 32), act="elu", opt=opt,
            lr={"nesterov": 0.5, "nadam": 0.1}[opt], epochs=700, loss=_loss(data, i),
            n_train=256, drop_at=at, drop_by=0.01, seed=900 + i, **full)  # fmt: skip
    for k, (data, lr) in enumerate(product(["blobs4d6", "wine"], [4.0, 7.0])):
        add(f"late-drop-eos-{data}-lr{_lr_tag(lr)}", "class5", data, hidden=(16, 16),
            act="tanh", opt="sgd", lr=lr, epochs=800, n_train=130 if data == "wine" else 256,
            drop_at=0.8, drop_by=0.05, seed=950 + k, **full)  # fmt: skip
    # (1) edge of stability: full-batch GD on small MLPs, new data; tanh, and ELU/GELU.
    edges = [("rings", 16, 4.0), ("xor", 16, 6.0), ("wine", 16, 3.0), ("iris", 16, 4.0),
             ("blobs4d6", 24, 4.0), ("breast_cancer", 16, 3.0)]  # fmt: skip
    for (data, width, lr), seed in product(edges, range(3)):
        act = ("tanh", "tanh", "elu")[seed]
        n_train = SIZES.get(data, (256, 0))[0]
        add(f"eos-{data}-{act}{width}-lr{_lr_tag(lr)}-s{seed}", "class1", data,
            hidden=(width, width), act=act, opt="sgd", lr=lr, epochs=1000,
            loss="bce" if data in ("rings", "xor") else "cross_entropy", n_train=n_train,
            seed=1000 + 10 * seed + len(data), **full)  # fmt: skip
    # (1) again, past the edge: larger steps, where the runs above mostly settled.
    past = [("rings", 16, 7.0), ("xor", 16, 10.0), ("wine", 16, 5.0), ("iris", 16, 7.0),
            ("blobs4d6", 24, 7.0), ("breast_cancer", 16, 5.0)]  # fmt: skip
    for (data, width, lr), seed in product(past, range(2)):
        n_train = SIZES.get(data, (256, 0))[0]
        add(f"eos-past-{data}-tanh{width}-lr{_lr_tag(lr)}-s{seed}", "class1", data,
            hidden=(width, width), act="tanh", opt="sgd", lr=lr, epochs=1000,
            loss="bce" if data in ("rings", "xor") else "cross_entropy", n_train=n_train,
            seed=1050 + 10 * seed + len(data), **full)  # fmt: skip
    # (6) limit cycles after a huge first loss: 2-128-64-K at N(0, 1/fan_in) x3 or x5.
    cycle = {"hidden": (128, 64), "opt": "sgd", "epochs": 600, "init": "normal", "n_train": 200}
    for i, (act, (loss, data), lr, scale) in enumerate(
        product(
            ["tanh", "elu"], [("cross_entropy", "blobs4d6"), ("bce", "xor")], [2.0, 4.0], [3.0, 5.0]
        )  # fmt: skip
    ):
        add(f"cycle-{act}-{loss[:3]}-{data}-lr{_lr_tag(lr)}-x{scale:g}", "class6", data,
            act=act, lr=lr, loss=loss, init_scale=scale, seed=1100 + i, **cycle,
            **full)  # fmt: skip
    # (7) overfitting: a wide net, few noisy training rows, long training, weight decay.
    over = ["rings", "xor", "wine", "breast_cancer", "sine_reg", "blobs4d6"]
    for i, (data, opt) in enumerate(product(over, ["adamw", "sgdwd"])):
        noise = 0.0 if data == "sine_reg" else 0.25
        kw = {"opt": opt, "lr": {"adamw": 3e-3, "sgdwd": 0.03}[opt], "log": "epoch"}
        kw |= {"loss": _loss(data, 0), "n_val": 40 if data == "wine" else 300}
        add(f"overfit-{data}-{opt}", "class7", data, hidden=(256, 256), act="gelu",
            batch=None, epochs=1000, n_train=40, label_noise=noise, seed=1200 + i,
            **kw)  # fmt: skip
        add(f"overfit-mb-{data}-{opt}", "class7", data, model="resmlp", hidden=(128, 128),
            act="elu", batch=16, epochs=300, n_train=64, label_noise=noise and 0.3,
            seed=1300 + i, **kw)  # fmt: skip
    for i, (data, opt) in enumerate(product(["xor", "blobs4d6", "blobs3d4"],
                                            ["adamw", "nesterov"])):  # fmt: skip
        add(f"memorize-random-{data}-{opt}", "class7", data, hidden=(256, 256), act="gelu",
            opt=opt, lr={"adamw": 2e-3, "nesterov": 0.03}[opt], batch=32, epochs=120,
            log="epoch", n_train=128, n_val=400, random_labels=True,
            seed=1400 + i)  # fmt: skip
    # Divergence: 300x and 3000x good learning rates, new optimizers.
    for i, (data, opt, mult) in enumerate(
        product(
            ["rings", "sine_reg", "wine"], ["nesterov", "adamw", "adagrad", "nadam"], (300, 3000)
        )  # fmt: skip
    ):
        mode = full | {"epochs": 250} if i % 3 else {"batch": 32, "epochs": 15, "log": "epoch"}
        add(f"diverge-{data}-{opt}-x{mult}", "diverge", data, hidden=(32, 32),
            act=("gelu", "elu")[i % 2], opt=opt, lr=GOOD[opt] * mult, loss=_loss(data, i),
            init_scale=(1.0, 2.0)[(i // 2) % 2], n_train=130 if data == "wine" else 256,
            seed=1500 + i, **mode)  # fmt: skip
    # Learning-rate grid on full-batch GD with other activations and losses.
    grid = product(["gelu", "leaky_relu"], [0.05, 0.2, 0.7, 2.5, 8.0, 25.0])
    for j, ((act, lr), data) in enumerate(product(grid, ("rings", "sine_reg"))):
        add(f"grid-{act}-{data}-lr{_lr_tag(lr)}", "grid", data, hidden=(16, 16), act=act,
            opt="sgd", lr=lr, epochs=500, loss="mse" if data == "rings" else "huber",
            n_train=200, seed=1600 + j, **full)  # fmt: skip
    # Full-batch AdamW, NAdam, Adagrad and RMSprop with momentum at large steps.
    big = product(["adamw", "nadam", "adagrad", "rmsprop_m"], [0.03, 0.3], ["rings", "sine_reg"])
    for i, (opt, lr, data) in enumerate(big):
        lr = lr * 10 if opt == "adagrad" else lr / 10 if opt == "rmsprop_m" else lr
        add(f"bigstep-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(32,), act="gelu",
            opt=opt, lr=lr, epochs=600, loss=_loss(data, i), n_train=256, seed=1700 + i,
            **full)  # fmt: skip
    # More large full-batch steps with momentum-like optimizers (catapult spikes, bouncing).
    more = [("rmsprop_m", 0.06), ("adam", 0.1), ("nadam", 0.1), ("adamw", 0.3)]
    for i, ((opt, lr), data) in enumerate(product(more, ["sine_reg", "rings", "wine"])):
        add(f"bigstep2-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(32,),
            act="tanh", opt=opt, lr=lr, epochs=600, loss=_loss(data, i + 1),
            n_train=130 if data == "wine" else 256, seed=1750 + i, **full)  # fmt: skip
    # Saturated sigmoid units from large inits, new optimizers.
    for i, (scale, opt) in enumerate(product([4.0, 8.0], ["nesterov", "adamw", "nadam"])):
        add(f"saturated-sigmoid-x{scale:g}-{opt}", "saturated", "blobs6d3", hidden=(64, 64),
            act="sigmoid", opt=opt, lr=GOOD[opt], batch=64, epochs=25, log="epoch",
            init_scale=scale, n_train=1024, n_val=256, seed=1800 + i)  # fmt: skip
    ids = [x["id"] for x in s]
    assert len(ids) == len(set(ids)), "duplicate run id in set 3"
    return s
