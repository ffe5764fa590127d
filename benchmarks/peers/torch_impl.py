"""The workloads in PyTorch (CPU): a per-run loop, and torch.func's vmap over runs.

* ``loop``: what most users write: one ``nn.Sequential`` per run, ``torch.optim.SGD``,
  ``loss.backward()``, one run after the other.
* ``vmap``: ``torch.func.stack_module_state`` stacks the runs' parameters, and
  ``vmap(grad_and_value(loss))`` computes every run's loss and gradient in one call per step;
  the SGD update is an in-place ``sub_`` with a per-run learning rate.

Both start from lrdiag's initial weights (``init_params`` of lrdiag.model, or of
lrdiag.convnet for a conv net: W5, built as tools.conv_vs_torch builds it, ``nn.Conv2d`` with
``nn.ZeroPad2d`` where padding is needed, ``nn.MaxPool2d``, ``nn.Flatten``, ``nn.Linear``;
nn.Linear stores W transposed, ``(out, in)``), use PyTorch's own mean losses
(``binary_cross_entropy_with_logits``, ``cross_entropy`` with class indices, ``mse_loss``),
record the loss before each full-batch update and the mean of the batch losses for a mini-batch
epoch, and visit the samples in the engine's order. A run that turns non-finite stops (loop) or
is recorded as NaN from then on (vmap, which cannot drop it).
PyTorch uses as many threads as the engine trains with (``torch.set_num_threads``); the loop
also runs on one thread (``threads=1``): on a busy machine OpenMP's threads wait for each other
on every small operator, and one thread is then many times faster.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lrdiag import convnet, sweep
from tools.conv_vs_torch import torch_net

ACT = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "identity": nn.Identity,
}


def _loss_fn(spec):
    pair = (spec.output, spec.loss)
    if pair == ("sigmoid", "bce"):
        return F.binary_cross_entropy_with_logits
    if pair == ("softmax", "cross_entropy"):
        return lambda z, y: F.cross_entropy(z, y.argmax(dim=-1))
    if pair == ("identity", "mse"):
        return F.mse_loss
    return lambda z, y: F.mse_loss(torch.sigmoid(z), y)


def _setup(cfg, dataset, runs, threads=None):
    if cfg.training.optimizer != "sgd":
        raise ValueError("the PyTorch peers implement plain sgd only")
    torch.set_num_threads(threads or sweep.default_threads())
    dtype = {"float32": torch.float32, "float64": torch.float64}[cfg.training.dtype]
    X_np = sweep.inputs(cfg, np.asarray(dataset.X, dtype=cfg.training.dtype), dataset)
    X = torch.as_tensor(X_np)  # (n, C, H, W) for a conv net
    Y = torch.as_tensor(np.asarray(dataset.Y, dtype=cfg.training.dtype))
    sizes = sweep.architecture(cfg, sweep.input_shape(dataset), Y.shape[1])
    p = sweep.network(cfg).init_params(
        sizes, cfg.init.scheme, [r.init_scale for r in runs], [r.seed for r in runs],
        cfg.training.dtype,
    )  # fmt: skip
    orders = [
        torch.as_tensor(o) for o in sweep.epoch_orders(len(X), cfg.training.epochs, cfg.data.seed)
    ]
    return dtype, X, Y, sizes, p, orders


def _network(spec, sizes, p, r, dtype):
    """Run r's network: ``sizes`` is the MLP's layer widths or a built lrdiag.convnet.Net."""
    if isinstance(sizes, convnet.Net):
        return torch_net(sizes, p, run=r, dtype=dtype)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        lin = nn.Linear(fan_in, fan_out, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(p[f"W{i}"][r].T))
            lin.bias.copy_(torch.as_tensor(p[f"b{i}"][r, 0]))
        layers.append(lin)
        if i < len(sizes) - 1:
            layers.append(ACT[spec.activation]())
    return nn.Sequential(*layers)


def train_loop(cfg, dataset, runs, threads=None):
    """(losses (R, E+1), seconds): one run at a time, nn.Sequential + torch.optim.SGD, on
    ``threads`` threads (default: the engine's)."""
    dtype, X, Y, sizes, p, orders = _setup(cfg, dataset, runs, threads)
    E, bs = cfg.training.epochs, cfg.training.batch_size
    loss_fn = _loss_fn(cfg.model)
    out = np.full((len(runs), E + 1), np.nan)
    nets = [_network(cfg.model, sizes, p, r, dtype) for r in range(len(runs))]
    t = time.perf_counter()
    for r, run in enumerate(runs):
        net = nets[r]
        opt = torch.optim.SGD(net.parameters(), lr=run.learning_rate)
        if bs is None:
            for k in range(E):
                opt.zero_grad()
                loss = loss_fn(net(X), Y)
                value = loss.item()
                if not np.isfinite(value):
                    break
                out[r, k] = value
                loss.backward()
                opt.step()
            else:
                with torch.no_grad():
                    out[r, E] = loss_fn(net(X), Y).item()
            continue
        with torch.no_grad():
            out[r, 0] = loss_fn(net(X), Y).item()
        for k, order in enumerate(orders, start=1):
            Xs, Ys = X[order], Y[order]
            total, steps = 0.0, 0
            for start in range(0, len(X), bs):
                opt.zero_grad()
                loss = loss_fn(net(Xs[start : start + bs]), Ys[start : start + bs])
                loss.backward()
                opt.step()
                total += loss.item()
                steps += 1
            if not np.isfinite(total):
                break
            out[r, k] = total / steps
    return out, time.perf_counter() - t


def train_vmap(cfg, dataset, runs):
    """(losses (R, E+1), seconds): torch.func.vmap(grad_and_value(loss)) over stacked runs."""
    from torch.func import functional_call, grad_and_value, stack_module_state, vmap

    dtype, X, Y, sizes, p, orders = _setup(cfg, dataset, runs)
    E, bs = cfg.training.epochs, cfg.training.batch_size
    loss_fn = _loss_fn(cfg.model)
    nets = [_network(cfg.model, sizes, p, r, dtype) for r in range(len(runs))]
    params, _ = stack_module_state(nets)
    params = {k: v.detach() for k, v in params.items()}
    base = copy.deepcopy(nets[0]).to("meta")
    lr = torch.tensor([r.learning_rate for r in runs], dtype=dtype)
    lr_of = {k: lr.reshape(-1, *([1] * (v.dim() - 1))) for k, v in params.items()}

    def loss_of(prm, xb, yb):
        return loss_fn(functional_call(base, prm, (xb,)), yb)

    step_fn = vmap(grad_and_value(loss_of), in_dims=(0, None, None))
    value_fn = vmap(loss_of, in_dims=(0, None, None))
    out = torch.full((len(runs), E + 1), float("nan"), dtype=torch.float64)

    def step(xb, yb):
        grads, values = step_fn(params, xb, yb)
        for k, g in grads.items():
            params[k].sub_(lr_of[k] * g)
        return values

    t = time.perf_counter()
    with torch.no_grad():
        if bs is None:
            for k in range(E):
                out[:, k] = step(X, Y)
            out[:, E] = value_fn(params, X, Y)
        else:
            out[:, 0] = value_fn(params, X, Y)
            for k, order in enumerate(orders, start=1):
                Xs, Ys = X[order], Y[order]
                total = torch.zeros(len(runs), dtype=torch.float64)
                steps = 0
                for start in range(0, len(X), bs):
                    total += step(Xs[start : start + bs], Ys[start : start + bs])
                    steps += 1
                out[:, k] = total / steps
    seconds = time.perf_counter() - t
    curves = out.numpy()
    bad = ~np.isfinite(curves)
    first = np.where(bad.any(axis=1), bad.argmax(axis=1), curves.shape[1])
    curves[np.arange(curves.shape[1])[None, :] >= first[:, None]] = np.nan
    return curves, seconds
