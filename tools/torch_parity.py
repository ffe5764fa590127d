"""lrdiag's optimizers, schedules and clipping against PyTorch itself (a dev script: needs torch).

The same MLP is trained from the same initial weights (written by ``--save-init``'s code and
read back through ``init: {scheme: file}``) in lrdiag's vectorised sweep and in a plain PyTorch
loop (``nn.Sequential``, ``torch.optim``, ``SequentialLR(LinearLR, CosineAnnealingLR)``,
``clip_grad_norm_``), in float64, for adam, adamw, rmsprop (centered, with momentum) and
nesterov, full batch and mini-batch; it prints the largest relative difference between the
two loss histories, and between lrdiag's learning-rate multipliers and the scheduler's.

    PYTHONPATH=. python tools/torch_parity.py            # exit 1 when a difference > 1e-10
    PYTHONPATH=. python tools/torch_parity.py --steps 100 --json

torch is never imported by lrdiag or by ``make test``; run this from a virtualenv that has it
(``make bench-peers`` builds one: .venv-peers).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from lrdiag import schedule, sweep, weights
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset

GOAL = 1e-10  # largest relative loss difference allowed (issue 15, float64)
OPTIMIZERS = {  # optimizer -> its keys, as the config writes them
    "adam": {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-3},
    "adamw": {"betas": [0.85, 0.99], "eps": 1e-8, "weight_decay": 0.05},
    "rmsprop": {
        "alpha": 0.95,
        "eps": 1e-6,
        "momentum": 0.5,
        "centered": True,
        "weight_decay": 1e-3,
    },  # fmt: skip
    "nesterov": {"momentum": 0.9, "weight_decay": 1e-3},
}
LEARNING_RATES = {  # small and large enough that clipping acts on some runs and not others
    "adam": [1e-3, 1e-2, 0.1],
    "adamw": [1e-3, 1e-2, 0.1],
    "rmsprop": [1e-4, 1e-3, 1e-2],
    "nesterov": [1e-2, 0.1, 0.5],
}
SCHEDULE = {"kind": "cosine", "warmup_steps": 10, "start_factor": 0.1, "min_factor": 0.05}
CLIP = 0.5


def make_config(optimizer: str, steps: int, batch_size, init_path: str | None):
    """The sweep: ``steps`` optimizer steps (full batch: epochs; mini-batch: fewer epochs)."""
    n = 128
    epochs = steps if batch_size is None else max(1, steps // -(-n // batch_size))
    init = {"scheme": "file", "path": init_path} if init_path else {"scheme": "xavier"}
    return config_from_dict(
        {
            "data": {"kind": "moons", "n_samples": n, "noise": 0.2, "seed": 1},
            "model": {"hidden": [16, 16], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
            "init": init,
            "training": {
                "optimizer": optimizer,
                **OPTIMIZERS[optimizer],
                "batch_size": batch_size or "full",
                "epochs": epochs,
                "seeds": [0],
                "dtype": "float64",
                "schedule": SCHEDULE,
                "clip_grad_norm": CLIP,
            },
            "sweep": {"learning_rates": LEARNING_RATES[optimizer]},
            "stability": {"sharpness": "off"},
        }
    )


def torch_run(cfg, dataset, init: dict, lr: float):
    """One PyTorch run: (loss history like lrdiag's, lr multiplier per step, steps clipped)."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.optim import lr_scheduler

    torch.set_default_dtype(torch.float64)
    X, Y = torch.as_tensor(dataset.X), torch.as_tensor(dataset.Y)
    layers = []
    n = len(cfg.model.hidden) + 1
    for i in range(1, n + 1):
        W, b = init[f"W{i}"], init[f"b{i}"].reshape(-1)
        lin = nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T))
            lin.bias.copy_(torch.as_tensor(b))
        layers += [lin] + ([nn.Tanh()] if i < n else [])
    net = nn.Sequential(*layers)
    t = cfg.training
    params = list(net.parameters())
    opt = {
        "adam": lambda: torch.optim.Adam(params, lr, tuple(t.betas), t.eps, t.weight_decay),
        "adamw": lambda: torch.optim.AdamW(params, lr, tuple(t.betas), t.eps, t.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(
            params, lr, t.alpha, t.eps, t.weight_decay, t.momentum, t.centered
        ),
        "nesterov": lambda: torch.optim.SGD(
            params, lr, momentum=t.momentum, weight_decay=t.weight_decay, nesterov=True
        ),
    }[t.optimizer]()
    bs = t.batch_size
    per_epoch = 1 if bs is None else -(-len(X) // bs)
    total, w = t.epochs * per_epoch, t.schedule.warmup_steps
    warm = lr_scheduler.LinearLR(opt, t.schedule.start_factor, 1.0, total_iters=w)
    cos = lr_scheduler.CosineAnnealingLR(opt, total - w, eta_min=t.schedule.min_factor * lr)
    sched = lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[w])

    def loss_of(xb, yb):
        return F.binary_cross_entropy_with_logits(net(xb), yb)

    factors, clipped = [], 0

    def step(xb, yb):
        nonlocal clipped
        opt.zero_grad()
        loss = loss_of(xb, yb)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        clipped += bool(CLIP / (float(norm) + 1e-6) < 1)
        factors.append(opt.param_groups[0]["lr"] / lr)
        opt.step()
        sched.step()
        return float(loss)

    with torch.no_grad():
        history = [float(loss_of(X, Y))]
    orders = sweep.epoch_orders(len(X), t.epochs, cfg.data.seed)
    for _, order in zip(range(t.epochs), orders, strict=False):
        if bs is None:
            step(X, Y)
            with torch.no_grad():
                history.append(float(loss_of(X, Y)))
        else:
            idx = torch.as_tensor(order)
            losses = [step(X[idx[s : s + bs]], Y[idx[s : s + bs]]) for s in range(0, len(X), bs)]
            history.append(float(np.mean(losses)))
    return np.array(history), np.array(factors), clipped


def compare(optimizer: str, steps: int, batch_size, workdir: Path) -> dict:
    plain = make_config(optimizer, steps, batch_size, None)
    dataset = load_dataset(plain.data, plain.model)
    init = sweep.initial_weights(plain, dataset.X.shape[1], dataset.Y.shape[1])
    (path,) = weights.save_init(init, workdir)  # what --save-init writes
    cfg = make_config(optimizer, steps, batch_size, str(path))
    runs = sweep.expand_grid(cfg)
    result = sweep.train(cfg, dataset, runs)
    with np.load(path) as f:
        saved = {k: f[k] for k in f.files}
    worst_loss = worst_lr = 0.0
    clipped = []
    for i, run in enumerate(runs):
        history, factors, n_clipped = torch_run(cfg, dataset, saved, run.learning_rate)
        ours = result.loss[i]
        rel = np.abs(ours - history) / np.abs(history)
        worst_loss = max(worst_loss, float(np.max(rel)))
        t = cfg.training
        per_epoch = len(factors) // t.epochs
        total = t.epochs * per_epoch
        mult = [
            schedule.multipliers(t.schedule, k, total, np.array([t.schedule.warmup_steps]))[0]
            for k in range(total)
        ]
        worst_lr = max(worst_lr, float(np.max(np.abs(np.array(mult) - factors) / factors)))
        clipped.append((int(result.clipped[i]), n_clipped, int(result.steps[i])))
    return {
        "optimizer": optimizer,
        "batch_size": batch_size or "full",
        "steps": int(result.steps[0]),
        "learning_rates": [r.learning_rate for r in runs],
        "max_rel_loss_diff": worst_loss,
        "max_rel_lr_diff": worst_lr,
        "clipped_lrdiag_torch_of": clipped,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per run")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for optimizer in OPTIMIZERS:
            for batch_size in (None, 32):
                rows.append(compare(optimizer, args.steps, batch_size, Path(tmp) / optimizer))
    worst = max(r["max_rel_loss_diff"] for r in rows)
    if args.json:
        print(json.dumps({"rows": rows, "max_rel_loss_diff": worst, "goal": GOAL}, indent=2))
    else:
        for r in rows:
            print(
                f"{r['optimizer']:9} batch {r['batch_size']!s:5} {r['steps']:4} steps: "
                f"loss rel. diff {r['max_rel_loss_diff']:.2e}, lr {r['max_rel_lr_diff']:.2e}, "
                f"clipped (lrdiag, torch, of) {r['clipped_lrdiag_torch_of']}"
            )
        print(f"largest relative loss difference: {worst:.2e} (goal <= {GOAL:g})")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
