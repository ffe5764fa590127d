"""Train small real models with PyTorch (and Keras 3 on its torch backend) and write their curves.

    .venv-corpus/bin/python -m tools.corpus.outside.generate            # every run, 2 processes
    .venv-corpus/bin/python -m tools.corpus.outside.generate --only eos  # runs whose id starts so
    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 2     # the held-out set 2
    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 3     # the held-out set 3
    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 4     # the held-out set 4
    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 5     # the held-out set 5
    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 6     # the held-out set 6
    .venv-corpus/bin/python -m tools.corpus.outside.generate --set 7     # the held-out set 7

Writes tests/data/outside/curves/<id>.csv (columns step,loss or epoch,loss[,val_loss]) and
tests/data/outside/manifest.csv (how each run was made). Dev-only: needs torch (and keras for the
keras-* runs, skipped with a note when it is missing); imports nothing from lrdiag. Every run is
seeded and single-threaded, so a rerun writes the same files.

Set 2 (tests/data/outside2) is made from the same families by `set2_runs`: a share of each
family's runs, each with a new seed (SET2_SEED_OFFSET added, so new data and a new init), its
learning rate moved within the family's range and its hidden widths changed (see SET2_LR).
Set 3 (tests/data/outside3) adds kinds of run the first two lack, listed in `set3.py`: other
data (rings, XOR, scikit-learn's bundled iris, wine and breast cancer, a sine), activations,
normalisation, dropout, residual MLPs, another CNN, weight decay, Nesterov, AdamW, Adagrad,
Nadam, learning-rate schedules, Huber and L1 losses, and more Keras. Set 4 (tests/data/outside4,
`set4.py`) has new seeds and more oscillating, chance-level and Keras runs. Set 5
(tests/data/outside5, `set5.py`) returns to set 1's families and proportions with new runs;
set 6 (tests/data/outside6, `set6.py`) and set 7 (tests/data/outside7, `set7.py`) do so again,
each with other combinations and new seeds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import re
import sys
import tempfile
import time
from itertools import product
from multiprocessing import Pool
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

ROOT = Path(__file__).resolve().parents[3]
OUTS = {
    1: ROOT / "tests" / "data" / "outside",
    2: ROOT / "tests" / "data" / "outside2",
    3: ROOT / "tests" / "data" / "outside3",
    4: ROOT / "tests" / "data" / "outside4",
    5: ROOT / "tests" / "data" / "outside5",
    6: ROOT / "tests" / "data" / "outside6",
    7: ROOT / "tests" / "data" / "outside7",
}
MAX_POINTS = 2000  # a per-step log is subsampled to at most this many rows
AFTER_NONFINITE = 3  # rows kept after the first non-finite loss, then the run stops
MANIFEST = (
    "id framework kind model optimizer lr batch init_scale data loss_name n_classes x_name "
    "n_train n_val seed notes"
).split()

# Good learning rates per optimizer for these tiny models; "high" and "small" runs scale them.
GOOD_LR = {"sgd": 0.1, "momentum": 0.02, "adam": 3e-3, "rmsprop": 1e-3}


# --------------------------------------------------------------------------------------------
# Data: small synthetic sets made here, and scikit-learn's bundled digits (no download)


def _moons(n, rng, noise=0.2):
    a = rng.uniform(0, math.pi, n)
    top = rng.random(n) < 0.5
    x = np.where(top, np.cos(a), 1 - np.cos(a))
    y = np.where(top, np.sin(a), 0.5 - np.sin(a))
    X = np.stack([x, y], 1) + noise * rng.standard_normal((n, 2))
    return X - X.mean(0), (~top).astype(np.int64)


def _spirals(n, rng, k, noise=0.15):
    lab = rng.integers(0, k, n)
    r = rng.uniform(0.1, 1.0, n)
    t = 2 * math.pi * lab / k + 3.0 * r
    X = np.stack([r * np.cos(t), r * np.sin(t)], 1) * 2 + noise * rng.standard_normal((n, 2))
    return X, lab.astype(np.int64)


def _blobs(n, rng, k, d=2, spread=1.0):
    centers = rng.standard_normal((k, d)) * 3
    lab = rng.integers(0, k, n)
    return centers[lab] + spread * rng.standard_normal((n, d)), lab.astype(np.int64)


def _gauss_reg(n, rng, d=5):
    w = np.random.default_rng(1234).standard_normal(d)
    X = rng.standard_normal((n, d))
    y = X @ w / math.sqrt(d) + 0.5 * np.sin(2 * X[:, 0]) + 0.3 * rng.standard_normal(n)
    return X, y


def _rings(n, rng, noise=0.1):
    lab = rng.integers(0, 2, n)
    a = rng.uniform(0, 2 * math.pi, n)
    r = np.where(lab == 1, 0.5, 1.0)
    X = np.stack([r * np.cos(a), r * np.sin(a)], 1) + noise * rng.standard_normal((n, 2))
    return X, lab.astype(np.int64)


def _xor(n, rng, noise=0.35):
    corner = rng.integers(0, 2, (n, 2))
    X = (2.0 * corner - 1.0) + noise * rng.standard_normal((n, 2))
    return X, (corner[:, 0] ^ corner[:, 1]).astype(np.int64)


def _sine_reg(n, rng):
    x = rng.uniform(-2, 2, (n, 1))
    return x, np.sin(3 * x[:, 0]) + 0.1 * rng.standard_normal(n)


def _sklearn_set(name, n, rng):
    """A bundled scikit-learn table (no download), standardised, n rows drawn without repeats."""
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    idx = rng.permutation(len(y))[:n]
    return X[idx], y[idx].astype(np.int64), len(set(y.tolist()))


def _digits(n, rng):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    idx = rng.permutation(len(y))[:n]
    return X[idx] / 16.0, y[idx].astype(np.int64)


def make_data(name: str, n: int, seed: int):
    """(X float32, y, task, K): task 'class' (y int labels, K classes) or 'reg' (y float)."""
    rng = np.random.default_rng(seed)
    if name == "moons":
        X, y = _moons(n, rng)
        k = 2
    elif name.startswith("spirals"):
        k = int(name[7:])
        X, y = _spirals(n, rng, k)
    elif name.startswith("blobs"):
        k = int(name[5:].split("d")[0])
        d = int(name.split("d")[1]) if "d" in name[5:] else 2
        X, y = _blobs(n, rng, k, d)
    elif name == "gauss_reg":
        X, y = _gauss_reg(n, rng)
        return X.astype(np.float32), y.astype(np.float32), "reg", None
    elif name == "digits":
        X, y = _digits(n, rng)
        k = 10
    elif name == "rings":
        X, y = _rings(n, rng)
        k = 2
    elif name == "xor":
        X, y = _xor(n, rng)
        k = 2
    elif name == "sine_reg":
        X, y = _sine_reg(n, rng)
        return X.astype(np.float32), y.astype(np.float32), "reg", None
    elif name in ("iris", "wine", "breast_cancer"):
        X, y, k = _sklearn_set(name, n, rng)
    else:
        raise ValueError(f"unknown data {name!r}")
    return X.astype(np.float32), y, "class", k


# --------------------------------------------------------------------------------------------
# One run: a spec dict -> columns of its curve file


def _spec(
    id,
    kind,
    data,
    *,
    framework="torch",
    model="mlp",
    hidden=(32,),
    act="tanh",
    opt="sgd",
    lr=0.1,
    batch=None,
    epochs=100,
    log="step",
    loss="cross_entropy",
    init_scale=1.0,
    n_train=512,
    n_val=0,
    seed=0,
    random_labels=False,
    label_noise=0.0,
    bias_shift=0.0,
    out_bias=0.0,
    drop_at=None,
    drop_by=0.01,
    init="torch",
    notes="",
    set=1,
    sched=None,
    norm=None,
    dropout=0.0,
):
    return dict(locals())


def _torch_model(spec, d_in, d_out):
    import torch
    from torch import nn

    acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}
    acts |= {"gelu": nn.GELU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}
    if spec["model"] in ("cnn2", "resmlp") or spec["norm"] or spec["dropout"]:
        return _torch_model3(spec, d_in, d_out, acts)
    if spec["model"] == "cnn":
        net = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 8, 3, padding=1),
            acts[spec["act"]](),
            nn.Conv2d(8, 16, 3, padding=1),
            acts[spec["act"]](),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 16, d_out),
        )
    else:
        layers, width = [], d_in
        for h in spec["hidden"]:
            layers += [nn.Linear(width, h), acts[spec["act"]]()]
            width = h
        net = nn.Sequential(*layers, nn.Linear(width, d_out))
    with torch.no_grad():
        mods = [m for m in net if isinstance(m, nn.Linear | nn.Conv2d)]
        for m in mods:
            if spec["init"] == "normal":  # N(0, 1/fan_in) weights and zero biases, then scaled
                nn.init.normal_(m.weight, std=1.0 / math.sqrt(m.weight[0].numel()))
                nn.init.zeros_(m.bias)
            m.weight.mul_(spec["init_scale"])
        for m in mods[:-1]:
            m.bias.add_(spec["bias_shift"])  # a large negative shift kills every ReLU unit
        if spec["out_bias"]:
            mods[-1].bias.copy_(spec["out_bias"] * torch.randn(d_out))
    return net


def _torch_model3(spec, d_in, d_out, acts):
    """Set 3's models: a second CNN, a residual MLP, MLPs with normalisation or dropout."""
    import torch
    from torch import nn

    act = acts[spec["act"]]
    if spec["model"] == "cnn2":
        net = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 6, 3),
            act(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 12, 3, padding=1),
            act(),
            nn.Flatten(),
            nn.Linear(12 * 3 * 3, d_out),
        )
    elif spec["model"] == "resmlp":
        net = _ResMLP(d_in, spec["hidden"][0], len(spec["hidden"]), d_out, act)
    else:
        layers, width = [], d_in
        for h in spec["hidden"]:
            layers.append(nn.Linear(width, h))
            if spec["norm"] == "batch":
                layers.append(nn.BatchNorm1d(h))
            elif spec["norm"] == "layer":
                layers.append(nn.LayerNorm(h))
            layers.append(act())
            if spec["dropout"]:
                layers.append(nn.Dropout(spec["dropout"]))
            width = h
        net = nn.Sequential(*layers, nn.Linear(width, d_out))
    with torch.no_grad():
        mods = [m for m in net.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
        for m in mods:
            m.weight.mul_(spec["init_scale"])
        for m in mods[:-1]:
            m.bias.add_(spec["bias_shift"])
        if spec["out_bias"]:
            mods[-1].bias.copy_(spec["out_bias"] * torch.randn(d_out))
    return net


def _ResMLP(d_in, width, blocks, d_out, act):
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.Linear(width, width), act(), nn.Linear(width, width))

        def forward(self, x):
            return x + self.f(x)

    return nn.Sequential(nn.Linear(d_in, width), act(), *[Block() for _ in range(blocks)],
                         nn.Linear(width, d_out))  # fmt: skip


def _torch_opt(spec, params):
    import torch

    lr = spec["lr"]
    return {
        "sgd": lambda: torch.optim.SGD(params, lr=lr),
        "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9),
        "adam": lambda: torch.optim.Adam(params, lr=lr),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr),
        "nesterov": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True),
        "sgdwd": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, weight_decay=0.01),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=lr),
        "rmsprop_m": lambda: torch.optim.RMSprop(params, lr=lr, momentum=0.9),
        "nadam": lambda: torch.optim.NAdam(params, lr=lr),
    }[spec["opt"]]()


def _torch_sched(spec, opt, total: int):
    """A per-step learning-rate schedule over `total` steps, or None."""
    import torch

    s, sch = spec["sched"], torch.optim.lr_scheduler
    if s is None:
        return None
    if s == "step":  # x0.3 at each third of the run
        return sch.StepLR(opt, step_size=max(1, total // 3), gamma=0.3)
    if s == "cosine":
        return sch.CosineAnnealingLR(opt, T_max=total)
    if s == "exp":  # down to 5% of the rate by the end
        return sch.ExponentialLR(opt, gamma=0.05 ** (1 / max(1, total)))
    if s == "warmup":  # linear warm-up over the first 10% of the steps
        return sch.LambdaLR(opt, lambda k: min(1.0, (k + 1) / max(1, total // 10)))
    if s == "onecycle":
        return sch.OneCycleLR(opt, max_lr=spec["lr"], total_steps=total + 1)
    raise ValueError(f"unknown schedule {s!r}")


def _prepare(spec):
    """Train/val arrays with the spec's label changes applied (validation labels stay true)."""
    n = spec["n_train"] + spec["n_val"]
    X, y, task, k = make_data(spec["data"], n, 10_000 + spec["seed"])
    rng = np.random.default_rng(20_000 + spec["seed"])
    Xt, yt, Xv, yv = (
        X[: spec["n_train"]],
        y[: spec["n_train"]].copy(),
        X[spec["n_train"] :],
        y[spec["n_train"] :],
    )
    if task == "class" and spec["random_labels"]:
        yt = rng.integers(0, k, len(yt))
    if task == "class" and spec["label_noise"]:
        flip = rng.random(len(yt)) < spec["label_noise"]
        yt[flip] = rng.integers(0, k, int(flip.sum()))
    return Xt, yt, Xv, yv, task, k


def _targets(spec, y, task, k):
    """Targets for the spec's loss: class ids (CE), 0/1 (BCE), or +-1 / values (MSE)."""
    if spec["loss"] == "cross_entropy":
        return y.astype(np.int64), k
    if spec["loss"] == "bce":
        return y.astype(np.float32)[:, None], 1
    if task == "class":  # MSE (or Huber, L1) on a two-class set: targets -1 and +1
        return (2.0 * y - 1.0).astype(np.float32)[:, None], 1
    return y.astype(np.float32)[:, None], 1


def train_torch(spec) -> dict[str, list[float]]:
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(spec["seed"])
    Xt, yt, Xv, yv, task, k = _prepare(spec)
    yt, d_out = _targets(spec, yt, task, k)
    X, Y = torch.from_numpy(Xt), torch.from_numpy(yt)
    net = _torch_model(spec, X.shape[1], d_out)
    loss_fn = {
        "cross_entropy": nn.CrossEntropyLoss,
        "bce": nn.BCEWithLogitsLoss,
        "mse": nn.MSELoss,
        "huber": nn.HuberLoss,
        "l1": nn.L1Loss,
    }[spec["loss"]]()
    opt = _torch_opt(spec, net.parameters())
    n, batch = len(X), spec["batch"] or len(X)
    per_epoch = -(-n // batch)
    total = spec["epochs"] * per_epoch
    drop = None if spec["drop_at"] is None else int(spec["drop_at"] * total)
    sched = _torch_sched(spec, opt, total)
    g = torch.Generator().manual_seed(spec["seed"])
    out: dict[str, list[float]] = {"loss": []}
    if spec["n_val"]:
        yv_t, _ = _targets(spec, yv, task, k)
        XV, YV = torch.from_numpy(Xv), torch.from_numpy(yv_t)
        out["val_loss"] = []
    step, bad = 0, 0
    for _ in range(spec["epochs"]):
        order = torch.randperm(n, generator=g) if batch < n else torch.arange(n)
        sums = []
        for i in range(0, n, batch):
            if step == drop:
                for group in opt.param_groups:
                    group["lr"] *= spec["drop_by"]
            idx = order[i : i + batch]
            loss = loss_fn(net(X[idx]), Y[idx])
            value = loss.item()
            sums.append(value)
            if spec["log"] == "step":
                out["loss"].append(value)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            if not math.isfinite(value):
                bad += 1
                if bad > AFTER_NONFINITE or spec["log"] == "epoch":
                    break
        if spec["log"] == "epoch":
            out["loss"].append(float(np.mean(sums)))
            if spec["n_val"]:
                net.eval()
                with torch.no_grad():
                    out["val_loss"].append(float(loss_fn(net(XV), YV)))
                net.train()
        if bad > AFTER_NONFINITE or (bad and spec["log"] == "epoch"):
            break
    return out


def train_keras(spec) -> dict[str, list[float]]:
    import keras
    import torch

    torch.set_num_threads(1)
    keras.utils.set_random_seed(spec["seed"])
    Xt, yt, Xv, yv, task, k = _prepare(spec)
    yt, d_out = _targets(spec, yt, task, k)
    init = keras.initializers.VarianceScaling(spec["init_scale"] ** 2, "fan_avg", "uniform")
    layers = [keras.Input((Xt.shape[1],))]
    for h in spec["hidden"]:
        if spec["norm"] == "batch":
            dense = keras.layers.Dense(h, kernel_initializer=init)
            layers += [dense, keras.layers.BatchNormalization()]
            layers.append(keras.layers.Activation(spec["act"]))
        else:
            layers.append(keras.layers.Dense(h, spec["act"], kernel_initializer=init))
        if spec["dropout"]:
            layers.append(keras.layers.Dropout(spec["dropout"]))
    layers.append(keras.layers.Dense(d_out, kernel_initializer=init))
    model = keras.Sequential(layers)
    lr = spec["lr"]
    if spec["sched"] is not None:  # per-step schedules over the whole run
        steps = spec["epochs"] * -(-len(Xt) // (spec["batch"] or len(Xt)))
        lr = {
            "cosine": lambda: keras.optimizers.schedules.CosineDecay(spec["lr"], steps),
            "exp": lambda: keras.optimizers.schedules.ExponentialDecay(spec["lr"], steps, 0.05),
            "step": lambda: keras.optimizers.schedules.PiecewiseConstantDecay(
                [steps // 3, 2 * steps // 3], [spec["lr"], spec["lr"] * 0.3, spec["lr"] * 0.09]
            ),
        }[spec["sched"]]()
    opt = {
        "sgd": lambda: keras.optimizers.SGD(lr),
        "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9),
        "adam": lambda: keras.optimizers.Adam(lr),
        "rmsprop": lambda: keras.optimizers.RMSprop(lr),
        "nesterov": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
        "sgdwd": lambda: keras.optimizers.SGD(lr, momentum=0.9, weight_decay=5e-4),
        "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=0.01),
        "adagrad": lambda: keras.optimizers.Adagrad(lr),
        "nadam": lambda: keras.optimizers.Nadam(lr),
    }[spec["opt"]]()
    loss = {
        "cross_entropy": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "bce": keras.losses.BinaryCrossentropy(from_logits=True),
        "mse": keras.losses.MeanSquaredError(),
        "huber": keras.losses.Huber(),
        "l1": keras.losses.MeanAbsoluteError(),
    }[spec["loss"]]
    model.compile(optimizer=opt, loss=loss)
    val = None
    if spec["n_val"]:
        val = (Xv, _targets(spec, yv, task, k)[0])
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.csv"
        callbacks = [keras.callbacks.CSVLogger(str(log)), keras.callbacks.TerminateOnNaN()]
        model.fit(
            Xt,
            yt,
            batch_size=spec["batch"] or len(Xt),
            epochs=spec["epochs"],
            validation_data=val,
            callbacks=callbacks,
            verbose=0,
            shuffle=True,
        )
        with log.open() as f:
            rows = list(csv.DictReader(f))
    out = {"loss": [float(r["loss"]) for r in rows]}
    if val is not None:
        out["val_loss"] = [float(r["val_loss"]) for r in rows]
    return out


# --------------------------------------------------------------------------------------------
# Writing


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.7g}"


def write_curve(path: Path, x_name: str, cols: dict[str, list[float]]) -> None:
    t = len(cols["loss"])
    names = [c for c in ("loss", "val_loss") if c in cols]
    idx = list(range(t))
    if t > MAX_POINTS:
        stride = -(-t // MAX_POINTS)
        idx = list(range(0, t, stride))
        if idx[-1] != t - 1:
            idx.append(t - 1)
    first = 0 if x_name == "step" else 1
    lines = [",".join([x_name, *names])]
    lines += [",".join([str(i + first), *(_fmt(cols[c][i]) for c in names)]) for i in idx]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_one(spec) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    try:
        cols = (train_keras if spec["framework"] == "keras" else train_torch)(spec)
    except ImportError as e:
        return spec["id"], 0.0, f"skipped: {e}"
    write_curve(OUTS[spec["set"]] / "curves" / f"{spec['id']}.csv", spec["log"], cols)
    return spec["id"], time.perf_counter() - t0, ""


def manifest_row(spec) -> dict[str, object]:
    _, _, _, _, task, k = _prepare(spec | {"n_train": 8, "n_val": 0})
    if spec["model"] == "cnn":
        model = f"cnn(conv8-conv16-pool-fc,{spec['act']})"
    elif spec["model"] == "cnn2":
        model = f"cnn2(conv6-pool-conv12-fc,{spec['act']})"
    elif spec["model"] == "resmlp":
        model = f"resmlp({spec['hidden'][0]}x{len(spec['hidden'])} blocks,{spec['act']})"
    else:
        model = f"mlp({'-'.join(str(h) for h in spec['hidden'])},{spec['act']})"
    notes = [spec["notes"]] if spec["notes"] else []
    if spec["sched"]:
        notes.append(f"lr schedule {spec['sched']}")
    if spec["norm"]:
        notes.append(f"{spec['norm']} norm")
    if spec["dropout"]:
        notes.append(f"dropout {spec['dropout']}")
    extra = {"nesterov": "momentum 0.9 Nesterov", "sgdwd": "momentum 0.9, weight decay 5e-4",
             "adamw": "weight decay 0.01", "rmsprop_m": "momentum 0.9"}  # fmt: skip
    if spec["opt"] in extra:
        notes.append(extra[spec["opt"]])
    if spec["random_labels"]:
        notes.append("random training labels")
    if spec["label_noise"]:
        notes.append(f"label noise {spec['label_noise']}")
    if spec["bias_shift"]:
        notes.append(f"hidden biases shifted by {spec['bias_shift']}")
    if spec["out_bias"]:
        notes.append(f"output bias ~ N(0, {spec['out_bias']}^2)")
    if spec["drop_at"] is not None:
        notes.append(f"lr x{spec['drop_by']} at {spec['drop_at']:.0%} of the steps")
    if spec["init"] == "normal":
        notes.append("weights N(0, 1/fan_in) times init_scale, zero biases")
    return {
        "id": spec["id"],
        "framework": spec["framework"],
        "kind": spec["kind"],
        "model": model,
        "optimizer": spec["opt"],
        "lr": f"{spec['lr']:g}",
        "batch": spec["batch"] or "full",
        "init_scale": f"{spec['init_scale']:g}",
        "data": spec["data"],
        "loss_name": spec["loss"],
        "n_classes": (k if spec["loss"] == "cross_entropy" else 2 if spec["loss"] == "bce" else ""),
        "x_name": spec["log"],
        "n_train": spec["n_train"],
        "n_val": spec["n_val"],
        "seed": spec["seed"],
        "notes": "; ".join(notes),
    }


# --------------------------------------------------------------------------------------------
# The runs


def _distinct(runs: list[dict], which: str) -> list[dict]:
    """``runs``, after checking that no two share an id or a seed (``which``: "set 5")."""
    ids = [x["id"] for x in runs]
    assert len(ids) == len(set(ids)), f"duplicate run id in {which}"
    seeds = [x["seed"] for x in runs]
    assert len(seeds) == len(set(seeds)), f"duplicate seed in {which}"
    return runs


def _lr_tag(lr: float) -> str:
    return f"{lr:g}".replace(".", "p").replace("-", "m")


def _loss_for(data: str) -> str:
    return "mse" if data == "gauss_reg" else "cross_entropy"


def _width(data: str) -> tuple[int, ...]:
    return (64,) if data == "digits" else (32, 32)


def runs() -> list[dict]:
    """Every run, in families; seeds are fixed numbers (those of the reviewed generation)."""
    s: list[dict] = []

    def add(id: str, kind: str, data: str, **kw) -> None:
        s.append(_spec(id, kind, data, **kw))

    full = {"batch": None, "log": "step"}  # full-batch GD, logged every step
    datasets = ["moons", "spirals3", "blobs5", "blobs10d10", "gauss_reg", "digits"]
    opts = ["sgd", "momentum", "adam", "rmsprop"]
    # Healthy mini-batch runs, per step and per epoch (with a validation split).
    for i, (data, opt, seed) in enumerate(product(datasets, opts, range(2))):
        kw = {"hidden": _width(data), "act": ("relu", "tanh")[i % 2], "opt": opt, "seed": seed}
        kw |= {"lr": GOOD_LR[opt], "batch": (16, 64)[(i // 2) % 2], "loss": _loss_for(data)}
        add(f"healthy-step-{data}-{opt}-s{seed}", "healthy", data, epochs=12, log="step",
            n_train=768, **kw)  # fmt: skip
        add(f"healthy-epoch-{data}-{opt}-s{seed}", "healthy", data, epochs=40, log="epoch",
            n_train=768, n_val=256, **kw)  # fmt: skip
    # BCE runs on two-class sets.
    for i, (data, opt) in enumerate(product(["moons", "spirals2"], opts)):
        add(f"healthy-bce-{data}-{opt}", "healthy", data, hidden=(32, 32),
            act=("relu", "sigmoid", "tanh")[i % 3], opt=opt, lr=GOOD_LR[opt] * 2, batch=32,
            epochs=30, log="epoch", loss="bce", n_train=512, n_val=256, seed=i)  # fmt: skip
    # Small CNNs on digits: good, too large and too small learning rates.
    levels = {"good": 1.0, "high": 30.0, "small": 1e-3}
    for j, (opt, level, log) in enumerate(product(opts, levels, ("step", "epoch"))):
        add(f"cnn-digits-{opt}-{level}-{log}", f"cnn_{level}", "digits", model="cnn",
            act="relu", opt=opt, lr=GOOD_LR[opt] * levels[level], batch=32,
            epochs=10 if log == "step" else 25, log=log, n_train=1200,
            n_val=300 if log == "epoch" else 0, seed=104 + j)  # fmt: skip
    # (2) learning rate far too small (1e-4 of a good one): full-batch and mini-batch.
    for i, (data, opt) in enumerate(product(datasets, opts)):
        mode = full | {"epochs": 500} if i % 2 == 0 else {"batch": 64, "epochs": 20, "log": "epoch"}
        add(f"tiny-lr-{data}-{opt}", "class2", data, hidden=_width(data),
            act=("tanh", "relu")[i % 2], opt=opt, lr=GOOD_LR[opt] * 1e-4, loss=_loss_for(data),
            n_train=512, n_val=0 if i % 2 == 0 else 128, seed=i, **mode)  # fmt: skip
    # (3) flat at chance: random labels on a small net, and dead ReLU networks.
    for i, (k, opt) in enumerate(product([2, 3, 5, 10], ["sgd", "adam", "momentum"])):
        add(f"chance-random-k{k}-{opt}", "class3", "moons" if k == 2 else f"blobs{k}",
            hidden=(4,), act="tanh", opt=opt, lr={"sgd": 0.5, "adam": 0.01, "momentum": 0.05}[opt],
            epochs=300, loss="bce" if (k == 2 and i % 2) else "cross_entropy", init_scale=3.0,
            out_bias=2.0, n_train=4000, random_labels=True, seed=i, **full)  # fmt: skip
    for i, (k, opt) in enumerate(product([2, 4, 10], ["sgd", "adam", "rmsprop"])):
        add(f"chance-dead-k{k}-{opt}", "class3", "moons" if k == 2 else f"blobs{k}",
            hidden=(32, 32), act="relu", opt=opt, lr=GOOD_LR[opt] * (10 if opt == "sgd" else 3),
            batch=64, epochs=40, log="epoch", bias_shift=-20.0, out_bias=3.0, n_train=1024,
            n_val=256, seed=i, notes="dead ReLU network")  # fmt: skip
    # (4) short validation curves: 10 epochs, small validation set, aggressive steps.
    short = ["moons", "blobs5", "digits", "spirals3", "gauss_reg"]
    for i, (data, opt) in enumerate(product(short, opts)):
        add(f"short-val-{data}-{opt}", "class4", data, hidden=_width(data), act="relu", opt=opt,
            lr=GOOD_LR[opt] * (10 if opt in ("adam", "rmsprop") else 5), batch=16, epochs=10,
            log="epoch", loss=_loss_for(data), n_train=400, n_val=40, seed=i)  # fmt: skip
    # (5) violent oscillation most of the run, then a late learning-rate drop.
    late = product(["moons", "blobs5", "gauss_reg"], ["sgd", "adam", "momentum"], (0.7, 0.85))
    for i, (data, opt, at) in enumerate(late):
        add(f"late-drop-{data}-{opt}-{int(at * 100)}", "class5", data, hidden=(32, 32),
            act="tanh", opt=opt, lr={"sgd": 3.0, "adam": 0.1, "momentum": 0.3}[opt], epochs=800,
            loss=_loss_for(data), n_train=256, drop_at=at, drop_by=0.01, seed=i,
            **full)  # fmt: skip
    # (5) again, from edge-of-stability bouncing: full-batch GD bounces for 80% of the run.
    eos_late = product(["blobs5", "blobs4", "spirals3", "blobs5d10"], [5.0, 8.0])
    for k, (data, lr) in enumerate(eos_late):
        add(f"late-drop-eos-{data}-lr{_lr_tag(lr)}", "class5", data, hidden=(16, 16), act="tanh",
            opt="sgd", lr=lr, epochs=1000, n_train=256, drop_at=0.8, drop_by=0.05,
            seed=(211 + k) % 5, **full)  # fmt: skip
    # (6) limit cycles after a huge first loss: 2-128-64-K, N(0, 1/fan_in) init x3 or x5,
    # full-batch GD (MSE runs of this shape in torch either settle or blow up; CE/BCE bounce).
    cycle = {"hidden": (128, 64), "opt": "sgd", "epochs": 800, "init": "normal", "n_train": 200}
    losses = [("cross_entropy", "blobs5"), ("bce", "moons")]
    for i, (act, (loss, data), lr, scale) in enumerate(
        product(["tanh", "sigmoid"], losses, [2.0, 3.0, 5.0], [3.0, 5.0])
    ):
        add(f"cycle-{act}-{loss[:3]}-lr{_lr_tag(lr)}-x{scale:g}", "class6", data, act=act, lr=lr,
            loss=loss, init_scale=scale, seed=(211 + i) % 7, **cycle, **full)  # fmt: skip
    for act, lr, seed in product(["tanh", "sigmoid"], [0.02, 0.15], range(2)):
        add(f"cycle-{act}-mse-lr{_lr_tag(lr)}-s{seed}", "class6", "moons", act=act, lr=lr,
            loss="mse", init_scale=3.0, seed=seed, **cycle, **full)  # fmt: skip
    # (1) edge of stability: full-batch GD on small tanh MLPs, cross-entropy.
    edges = [("blobs5", 16, 3.0), ("blobs5", 16, 5.0), ("blobs5", 32, 3.0), ("spirals3", 16, 6.0),
             ("blobs4", 16, 4.0), ("blobs5d10", 16, 4.0), ("moons", 16, 15.0),
             ("spirals2", 32, 10.0)]  # fmt: skip
    for (data, width, lr), seed in product(edges, range(4)):
        add(f"eos-{data}-tanh{width}-lr{_lr_tag(lr)}-s{seed}", "class1", data,
            hidden=(width, width), act="tanh", opt="sgd", lr=lr, epochs=1500,
            loss="bce" if data in ("moons", "spirals2") else "cross_entropy", n_train=256,
            seed=seed, **full)  # fmt: skip
    # (7) overfitting: more neurons than data, long training, noisy labels.
    over = ["moons", "spirals3", "blobs5", "digits", "gauss_reg", "blobs10d10"]
    for i, (data, opt) in enumerate(product(over, ["adam", "momentum"])):
        noise = 0.0 if data == "gauss_reg" else 0.25  # (0.3 in the mini-batch runs)
        kw = {"opt": opt, "lr": {"adam": 3e-3, "momentum": 0.03}[opt], "log": "epoch"}
        kw |= {"loss": _loss_for(data), "n_val": 500}
        add(f"overfit-{data}-{opt}", "class7", data, hidden=(256, 256), act="relu", batch=None,
            epochs=1500, n_train=40 if data != "digits" else 60, label_noise=noise, seed=i,
            **kw)  # fmt: skip
        add(f"overfit-mb-{data}-{opt}", "class7", data, hidden=(512,), act="tanh", batch=16,
            epochs=400, n_train=64, label_noise=noise and 0.3, seed=100 + i,
            **kw)  # fmt: skip
    # Divergence: too-large steps on regression and classification, plain and scaled init.
    for i, (data, opt, mult) in enumerate(
        product(["gauss_reg", "moons", "blobs5", "digits"], opts, (100, 1000))
    ):
        mode = full | {"epochs": 300} if i % 3 else {"batch": 64, "epochs": 20, "log": "epoch"}
        add(f"diverge-{data}-{opt}-x{mult}", "diverge", data, hidden=(32, 32),
            act=("relu", "tanh")[i % 2], opt=opt, lr=GOOD_LR[opt] * mult, loss=_loss_for(data),
            init_scale=(1.0, 3.0)[(i // 2) % 2], n_train=256, seed=i, **mode)  # fmt: skip
    # Learning-rate grid on full-batch GD: healthy, edge and too large, three activations.
    grid = product(["tanh", "relu", "sigmoid"], [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    for j, ((act, lr), data) in enumerate(product(grid, ("moons", "gauss_reg"))):
        add(f"grid-{act}-{data}-lr{_lr_tag(lr)}", "grid", data, hidden=(16, 16), act=act,
            opt="sgd", lr=lr, epochs=600, loss="mse", n_train=200, seed=331 + j,
            **full)  # fmt: skip
    # Full-batch Adam, RMSprop and momentum with large steps: spiky bounded runs.
    big = product(["adam", "rmsprop", "momentum"], [0.03, 0.3], ["moons", "blobs5", "gauss_reg"])
    for i, (opt, lr, data) in enumerate(big):
        lr = lr if opt != "momentum" else lr * 10
        add(f"bigstep-{opt}-{data}-lr{_lr_tag(lr)}", "bigstep", data, hidden=(32,), act="tanh",
            opt=opt, lr=lr, epochs=800, loss=_loss_for(data), n_train=256, seed=i,
            **full)  # fmt: skip
    # Saturated sigmoid units: large init scales.
    for i, (scale, opt) in enumerate(product([3.0, 10.0], ["sgd", "momentum", "adam"])):
        add(f"saturated-sigmoid-x{scale:g}-{opt}", "saturated", "blobs5d10", hidden=(64, 64),
            act="sigmoid", opt=opt, lr=GOOD_LR[opt], batch=64, epochs=30, log="epoch",
            init_scale=scale, n_train=1024, n_val=256, seed=i)  # fmt: skip
    # Healthy mini-batch runs from a large init (weights x3).
    x3 = product(["moons", "blobs5", "gauss_reg", "digits"], ["sgd", "momentum", "adam"])
    for i, (data, opt) in enumerate(x3):
        add(f"healthy-x3-{data}-{opt}", "healthy", data, hidden=_width(data),
            act=("tanh", "relu")[i % 2], opt=opt, lr=GOOD_LR[opt] / 3, batch=32, epochs=10,
            log="step", loss=_loss_for(data), init_scale=3.0, n_train=640,
            seed=200 + i)  # fmt: skip
    # Random labels on a big net: it memorises them (training falls, validation rises).
    for i, (k, opt) in enumerate(product([2, 5, 10, 3], ["adam", "momentum"])):
        add(f"memorize-random-k{k}-{opt}", "class7", "moons" if k == 2 else f"blobs{k}",
            hidden=(256, 256), act="relu", opt=opt, lr={"adam": 2e-3, "momentum": 0.03}[opt],
            batch=32, epochs=150, log="epoch", n_train=128, n_val=400, random_labels=True,
            seed=300 + i)  # fmt: skip
    # Keras 3 model.fit runs (torch backend), per epoch with validation.
    levels = {"good": 1.0, "high": 100.0, "small": 1e-4}
    kdata = ["moons", "blobs5", "digits", "gauss_reg", "spirals3"]
    for i, (data, opt, level) in enumerate(product(kdata, ["sgd", "adam", "rmsprop"], levels)):
        add(f"keras-{data}-{opt}-{level}", f"keras_{level}", data, framework="keras",
            hidden=_width(data), act=("relu", "tanh")[i % 2], opt=opt,
            lr=GOOD_LR[opt] * levels[level], batch=32, epochs=25, log="epoch",
            loss=_loss_for(data), n_train=640, n_val=160, seed=i)  # fmt: skip
    ids = [x["id"] for x in s]
    assert len(ids) == len(set(ids)), "duplicate run id"
    return s


# --------------------------------------------------------------------------------------------
# Set 2: a fresh held-out set from the same families (new seeds, moved learning rates, widths)

SET2_SEED_OFFSET = 7919  # added to every seed: new data, new init, new batch order
SET2_KEEP = 0.55  # share of each family's runs kept (the first by sha256 of the set-1 id)
# Learning-rate factors per family (one is picked per run): each keeps the family's intent
# (good rates stay good, 1e-4 of good stays far too small, 100-1000x stays divergent).
SET2_LR = {
    "healthy": (0.5, 0.7, 1.4, 2.0),
    "cnn_good": (0.5, 2.0),
    "cnn_high": (0.5, 1.5),
    "cnn_small": (0.5, 2.0),
    "keras_good": (0.5, 2.0),
    "keras_high": (0.5, 2.0),
    "keras_small": (0.5, 2.0),
    "class1": (0.8, 1.25),
    "class2": (0.5, 2.0),
    "class3": (0.7, 1.4),
    "class4": (0.7, 1.4),
    "class5": (0.8, 1.25),
    "class6": (0.8, 1.2),
    "class7": (0.7, 1.4),
    "diverge": (1.5, 3.0),
    "grid": (0.6, 1.7),
    "bigstep": (0.5, 2.0),
    "saturated": (0.7, 1.4),
}
SET2_WIDTH = (0.75, 1.5)  # hidden widths times one of these (the CNN keeps its shape)
SET2_SCALE = {3.0: 4.0, 5.0: 6.0, 10.0: 7.0}  # init scales named in ids (cycle, saturated)
GRID_RANGE = (0.03, 30.0)


def _pick(key: str, options: tuple, salt: str):
    return options[int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), 16) % len(options)]


def _set2_spec(spec: dict) -> dict:
    """One set-1 run moved to set 2: new seed, another lr in its family's range, other widths."""
    x = dict(spec)
    rid, kind = spec["id"], spec["kind"]
    f = _pick(rid, SET2_LR[kind], "lr")
    lr = spec["lr"] * f
    if kind == "grid" and not GRID_RANGE[0] <= lr <= GRID_RANGE[1]:
        lr = spec["lr"] / f
    x["lr"] = float(f"{lr:.3g}")
    w = _pick(rid, SET2_WIDTH, "width")
    if spec["model"] == "mlp":
        x["hidden"] = tuple(max(3, int(round(h * w))) for h in spec["hidden"])
    x["seed"] = spec["seed"] + SET2_SEED_OFFSET
    new_id = rid
    # Ids that name a learning rate, an lr multiple, a width or an init scale say the new one.
    new_id = re.sub(r"-lr[0-9pm.e]+", f"-lr{_lr_tag(x['lr'])}", new_id)
    if kind == "diverge":
        mult = round(x["lr"] / GOOD_LR[spec["opt"]])
        new_id = re.sub(r"-x\d+$", f"-x{mult}", new_id)
    if kind in ("class6", "saturated") and "-x" in rid and spec["init_scale"] in SET2_SCALE:
        x["init_scale"] = SET2_SCALE[spec["init_scale"]]
        new_id = re.sub(r"-x\d+", f"-x{x['init_scale']:g}", new_id)
    new_id = re.sub(r"-tanh\d+-", f"-tanh{x['hidden'][0]}-", new_id)
    x["id"] = new_id
    x["set"] = 2
    return x


def set2_runs() -> list[dict]:
    """Set 2: SET2_KEEP of each family's set-1 runs (by sha256 of the id), each moved."""
    by_kind: dict[str, list[dict]] = {}
    for spec in runs():
        by_kind.setdefault(spec["kind"], []).append(spec)
    out = []
    for specs in by_kind.values():
        order = sorted(specs, key=lambda x: hashlib.sha256(f"set2:{x['id']}".encode()).hexdigest())
        keep = max(1, round(SET2_KEEP * len(specs)))
        out += [_set2_spec(x) for x in order[:keep]]
    seen: dict[str, int] = {}
    for x in out:  # two runs moved onto the same name: the later ones get -b, -c, a new seed
        n = seen.get(x["id"], 0)
        seen[x["id"]] = n + 1
        if n:
            x["id"] += "-" + "abcdefgh"[n]
            x["seed"] += 1000 * n
    ids = [x["id"] for x in out]
    assert len(ids) == len(set(ids)), "duplicate run id in set 2"
    return out


def specs_of(set_no: int) -> list[dict]:
    if set_no == 3:
        from tools.corpus.outside.set3 import set3_runs

        return set3_runs()
    if set_no == 4:
        from tools.corpus.outside.set4 import set4_runs

        return set4_runs()
    if set_no == 5:
        from tools.corpus.outside.set5 import set5_runs

        return set5_runs()
    if set_no == 6:
        from tools.corpus.outside.set6 import set6_runs

        return set6_runs()
    if set_no == 7:
        from tools.corpus.outside.set7 import set7_runs

        return set7_runs()
    return runs() if set_no == 1 else set2_runs()


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.corpus.outside.generate", description=__doc__)
    p.add_argument("--only", default="", help="run only the ids starting with this prefix")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--manifest-only", action="store_true", help="rewrite manifest.csv only")
    p.add_argument("--set", type=int, choices=sorted(OUTS), default=1, help="which set (default 1)")
    args = p.parse_args(argv)
    if args.manifest_only:
        write_manifest(set_no=args.set)
        return 0
    specs = [x for x in specs_of(args.set) if x["id"].startswith(args.only)]
    (OUTS[args.set] / "curves").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # Longest runs first keeps both workers busy to the end.
    order = sorted(specs, key=lambda x: -x["epochs"] * (x["n_train"] // (x["batch"] or 10**9) + 1))
    skipped = []
    with Pool(args.jobs) as pool:
        for rid, secs, msg in pool.imap_unordered(run_one, order):
            if msg:
                skipped.append(rid)
                print(f"{rid}: {msg}", file=sys.stderr)
            else:
                print(f"{rid}: {secs:.1f}s", flush=True)
    write_manifest(skipped, args.set)
    print(f"{len(specs) - len(skipped)} runs in {time.perf_counter() - t0:.0f}s")
    return 0


def write_manifest(skipped=(), set_no: int = 1) -> None:
    """manifest.csv: one row per run whose curve file exists, sorted by id."""
    out = OUTS[set_no]
    made = [
        x
        for x in specs_of(set_no)
        if x["id"] not in skipped and (out / "curves" / f"{x['id']}.csv").exists()
    ]
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, MANIFEST, lineterminator="\n")
        w.writeheader()
        for x in sorted(made, key=lambda x: x["id"]):
            w.writerow(manifest_row(x))


if __name__ == "__main__":
    sys.exit(main())
