"""The benchmark workloads of issue 6, as lrdiag config dicts plus the dataset they train on.

* W1 (seed 000's shape): two moons, 1,000 samples, noise 0.2, standardised; 2-128-64-1, tanh,
  sigmoid + bce; full-batch gradient descent, 200 epochs; 32 learning rates log-spaced
  1e-3 ... 10 x 4 seeds = 128 runs; lecun init; float32. Element-wise bound.
* W2 (MNIST-sized): 8,192 samples of 784 features, 10 classes, synthetic (class-dependent
  Gaussian means: lrdiag's ``blobs``, standardised; nothing downloaded); 784-128-64-10, relu,
  softmax + cross_entropy; mini-batch 128, 3 epochs; 16 learning rates 1e-3 ... 1 x 1 seed;
  lecun; float32. Matrix-product bound.
* W4 (Adam + warmup): W1 with Adam, a 20-step linear warmup from 0.1 x lr and a cosine
  decay; 32 learning rates 1e-4 ... 1 x 4 seeds. Element-wise bound (Adam's moments).
* W3 (many tiny runs): 2-16-1 tanh, sigmoid + bce on moons (256 samples, noise 0.2,
  standardised), full batch, 500 epochs, 1,024 runs = 64 learning rates (1e-3 ... 10) x 4 init
  scales (0.5, 1, 2, 4) x 4 seeds; lecun; float32. Per-run overhead bound.

``--quick`` shrinks every workload (fewer runs, epochs and samples) for a smoke test; its
numbers say nothing about speed.

Each workload is a plain dict (what a YAML file would hold) turned into a ``Config`` by
``lrdiag.config.config_from_dict`` and a ``Dataset`` by ``lrdiag.data.load_dataset``, so the
benchmark exercises exactly the objects the CLI builds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset


@dataclass(frozen=True)
class Workload:
    name: str  # "W1"
    title: str  # one line for the table
    bound: str  # what limits it: "element-wise", "matmul", "per-run overhead"
    spec: dict[str, Any]  # the config dict (YAML-shaped)
    cfg: Any  # lrdiag.config.Config
    dataset: Any  # lrdiag.data.Dataset

    @property
    def n_runs(self) -> int:
        c = self.cfg
        return len(c.sweep.learning_rates) * len(c.init.scales) * len(c.training.seeds)


def _lrs(lo: float, hi: float, num: int) -> dict:
    return {"min": lo, "max": hi, "num": num}


# Training timings exclude sharpness (issue 6): the sweep's own sharpness at init is off here,
# and run.py times lrdiag.stability.sharpness separately.
NO_SHARPNESS = {"sharpness": "off"}

W1 = {
    "name": "W1",
    "data": {"kind": "moons", "n_samples": 1000, "noise": 0.2, "standardize": True, "seed": 0},
    "model": {"hidden": [128, 64], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
    "init": {"scheme": "lecun", "scales": [1.0]},
    "training": {
        "optimizer": "sgd",
        "batch_size": "full",
        "epochs": 200,
        "seeds": [0, 1, 2, 3],
        "dtype": "float32",
    },
    "sweep": {"learning_rates": _lrs(1e-3, 10.0, 32)},
    "stability": NO_SHARPNESS,
}

W2 = {
    "name": "W2",
    "data": {
        "kind": "blobs",
        "n_samples": 8192,
        "n_features": 784,
        "n_classes": 10,
        "noise": 1.0,
        "standardize": True,
        "seed": 0,
    },
    "model": {
        "hidden": [128, 64],
        "activation": "relu",
        "output": "softmax",
        "loss": "cross_entropy",
    },
    "init": {"scheme": "lecun", "scales": [1.0]},
    "training": {
        "optimizer": "sgd",
        "batch_size": 128,
        "epochs": 3,
        "seeds": [0],
        "dtype": "float32",
    },
    "sweep": {"learning_rates": _lrs(1e-3, 1.0, 16)},
    "stability": NO_SHARPNESS,
}

W3 = {
    "name": "W3",
    "data": {"kind": "moons", "n_samples": 256, "noise": 0.2, "standardize": True, "seed": 0},
    "model": {"hidden": [16], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
    "init": {"scheme": "lecun", "scales": [0.5, 1.0, 2.0, 4.0]},
    "training": {
        "optimizer": "sgd",
        "batch_size": "full",
        "epochs": 500,
        "seeds": [0, 1, 2, 3],
        "dtype": "float32",
    },
    "sweep": {"learning_rates": _lrs(1e-3, 10.0, 64)},
    "stability": NO_SHARPNESS,
}

# W4: W1's network and data trained with Adam after a warmup (issue 15): the optimizer's extra
# element-wise work and the per-step schedule, beside W1's plain gradient descent.
W4 = copy.deepcopy(W1)
W4["name"] = "W4"
W4["training"].update(
    optimizer="adam",
    schedule={"kind": "cosine", "warmup_steps": 20, "start_factor": 0.1, "min_factor": 0.0},
)
W4["sweep"]["learning_rates"] = _lrs(1e-4, 1.0, 32)


# W5 (issue 16): the CNN of configs/cnn_question.yaml on digits (1,797 images 8x8, inputs
# 0..1): conv 8 (3x3 same) relu -> maxpool 2 -> conv 16 (3x3 same) relu -> maxpool 2 ->
# flatten -> 10, softmax + cross_entropy; SGD, mini-batch 64, 10 epochs; 8 learning rates
# 1e-4 ... 1e-1 x 4 seeds = 32 runs; he init; float32. Patches (im2col) and pooling bound.
CNN_LAYERS = [
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "conv2d", "filters": 16, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},
    {"type": "flatten"},
]
W5 = {
    "name": "W5",
    "data": {"kind": "digits", "scale": 0.0625, "seed": 0},
    "model": {
        "layers": CNN_LAYERS,
        "activation": "relu",
        "output": "softmax",
        "loss": "cross_entropy",
    },
    "init": {"scheme": "he", "scales": [1.0]},
    "training": {
        "optimizer": "sgd",
        "batch_size": 64,
        "epochs": 10,
        "seeds": [0, 1, 2, 3],
        "dtype": "float32",
    },
    "sweep": {"learning_rates": _lrs(1e-4, 1e-1, 8)},
    "stability": NO_SHARPNESS,
}

SPECS = {"W1": W1, "W2": W2, "W3": W3, "W4": W4, "W5": W5}
BOUNDS = {
    "W1": "element-wise",
    "W2": "matmul",
    "W3": "per-run overhead",
    "W4": "element-wise",
    "W5": "conv",
}

# --quick: (dotted key, value) overrides that keep each workload's shape but cut its cost.
LRS = "sweep.learning_rates"
QUICK = {
    "W1": {"training.epochs": 20, "training.seeds": [0, 1], LRS: _lrs(1e-3, 10.0, 8)},
    "W2": {"data.n_samples": 1024, "training.epochs": 1, LRS: _lrs(1e-3, 1.0, 4)},
    "W3": {"training.epochs": 50, "init.scales": [1.0, 2.0], "training.seeds": [0, 1],
           LRS: _lrs(1e-3, 10.0, 16)},
    "W4": {"training.epochs": 20, "training.seeds": [0, 1], LRS: _lrs(1e-4, 1.0, 8)},
    "W5": {"training.epochs": 2, "training.seeds": [0, 1], LRS: _lrs(1e-4, 1e-1, 4)},
}  # fmt: skip


def memory_check_spec(n_lrs: int = 256, epochs: int = 20) -> dict:
    """The memory check: W1's shape with 1,024 runs (256 learning rates x 4 seeds), 20 epochs."""
    spec = copy.deepcopy(W1)
    spec["name"] = "W1-mem"
    spec["training"]["epochs"] = epochs
    spec["sweep"]["learning_rates"] = _lrs(1e-3, 10.0, n_lrs)
    return spec


def _override(spec: dict, changes: dict) -> dict:
    spec = copy.deepcopy(spec)
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        spec[section][key] = value
    return spec


def title(cfg, dataset) -> str:
    """One line: data, layer sizes and activation, batch, epochs, runs."""
    n, d = dataset.X.shape
    sizes = "-".join(str(s) for s in (d, *cfg.model.hidden, dataset.Y.shape[1]))
    if cfg.model.layers is not None:
        names = {"conv2d": "conv", "maxpool": "pool", "avgpool": "avgpool", "dense": "dense"}
        parts = [f"{names[c.type]}{c.filters or c.units or ''}" for c in cfg.model.layers
                 if c.type != "flatten"]  # fmt: skip
        sizes = "-".join(["x".join(map(str, dataset.image_shape)), *parts, str(dataset.Y.shape[1])])
    t = cfg.training
    batch = "full batch" if t.batch_size is None else f"bs {t.batch_size}"
    runs = len(cfg.sweep.learning_rates) * len(cfg.init.scales) * len(t.seeds)
    act = cfg.model.activation
    return f"{cfg.data.kind} {n}x{d}, {sizes} {act}, {batch}, {t.epochs} ep, {runs} runs"


def build(spec: dict, *, bound: str = "") -> Workload:
    cfg = config_from_dict(spec)
    dataset = load_dataset(cfg.data, cfg.model)
    return Workload(spec["name"], title(cfg, dataset), bound, spec, cfg, dataset)


def workloads(names=("W1", "W2", "W3", "W4", "W5"), *, quick: bool = False) -> list[Workload]:
    """The named workloads (full size, or the --quick sizes)."""
    out = []
    for name in names:
        spec = SPECS[name]
        if quick:
            spec = _override(spec, QUICK[name])
        out.append(build(spec, bound=BOUNDS[name]))
    return out
