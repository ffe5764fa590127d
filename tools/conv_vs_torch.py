"""Dev check (issue 16): a conv net trained by lrdiag equals PyTorch's, step for step.

From the same initial weights (lrdiag.convnet.init_params, copied into ``nn.Conv2d`` /
``nn.Linear``), both take 20 SGD steps on the same mini-batches of digits in float64; the
loss of every step and the final weights must agree to 1e-10 (relative). Several networks:
the CNN of configs/cnn_question.yaml, and ones with stride 2, padding valid and same (even
and odd kernels: the odd pixel of padding goes bottom/right, as ``nn.ZeroPad2d`` is told),
average pooling on odd sizes, tanh and leaky ReLU.

Needs PyTorch (never a dependency of lrdiag)::

    python -m tools.conv_vs_torch        # exit 0 when every network agrees
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from lrdiag import convnet, layers
from lrdiag.config import config_from_dict
from lrdiag.data import load_dataset
from lrdiag.sweep import inputs

STEPS = 20
BATCH = 64
LR = 0.05
TOL = 1e-10

NETS = {
    "cnn_question": [
        {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same", "activation": "relu"},
        {"type": "maxpool", "size": 2},
        {"type": "conv2d", "filters": 16, "kernel": 3, "padding": "same", "activation": "relu"},
        {"type": "maxpool", "size": 2},
        {"type": "flatten"},
    ],
    "stride2_valid_avgpool": [
        {"type": "conv2d", "filters": 6, "kernel": 3, "stride": 2, "padding": "same",
         "activation": "tanh"},
        {"type": "conv2d", "filters": 5, "kernel": 2, "padding": "same", "activation": "relu"},
        {"type": "avgpool", "size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 12, "activation": "leaky_relu"},
    ],
    "valid_odd_sizes": [
        {"type": "conv2d", "filters": 4, "kernel": 2, "stride": 1, "padding": "valid",
         "activation": "relu"},  # 8x8 -> 7x7
        {"type": "maxpool", "size": 2},  # 7x7 -> 3x3, the last row and column dropped
        {"type": "conv2d", "filters": 7, "kernel": 2, "stride": 2, "padding": "same",
         "activation": "tanh"},  # 3x3 -> 2x2, padding at the bottom and right
        {"type": "flatten"},
    ],
}  # fmt: skip

ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": lambda: nn.LeakyReLU(0.01)}


def torch_net(
    net: convnet.Net, params: dict[str, np.ndarray], run: int = 0, dtype=torch.float64
) -> nn.Sequential:
    """The same network in PyTorch, holding run ``run``'s weights, in ``dtype``."""
    mods: list[nn.Module] = []
    for layer in net.layers:
        if layer.kind == "conv2d":
            (_, H, W) = layer.in_shape
            _, top, bottom = layers.conv_geometry(H, layer.kernel, layer.stride, layer.padding)
            _, left, right = layers.conv_geometry(W, layer.kernel, layer.stride, layer.padding)
            if top or bottom or left or right:
                mods.append(nn.ZeroPad2d((left, right, top, bottom)))
            conv = nn.Conv2d(layer.in_shape[0], layer.out_shape[0], layer.kernel, layer.stride)
            conv.weight.data = torch.tensor(params[f"W{layer.index}"][run])
            conv.bias.data = torch.tensor(params[f"b{layer.index}"][run, 0])
            mods.append(conv)
        elif layer.kind == "dense":
            lin = nn.Linear(layer.in_shape[0], layer.out_shape[0])
            lin.weight.data = torch.tensor(params[f"W{layer.index}"][run].T.copy())
            lin.bias.data = torch.tensor(params[f"b{layer.index}"][run, 0])
            mods.append(lin)
        elif layer.kind == "maxpool":
            mods.append(nn.MaxPool2d(layer.size))
        elif layer.kind == "avgpool":
            mods.append(nn.AvgPool2d(layer.size))
        else:
            mods.append(nn.Flatten())
        if layer.activation:
            mods.append(ACT[layer.activation]())
    return nn.Sequential(*mods).to(dtype)


def compare(name: str, layer_list) -> float:
    cfg = config_from_dict({
        "data": {"kind": "digits", "scale": 0.0625, "validation_split": 0.2},
        "model": {"layers": layer_list, "output": "softmax", "loss": "cross_entropy"},
        "init": {"scheme": "he"},
    })  # fmt: skip
    ds = load_dataset(cfg.data, cfg.model)
    X = inputs(cfg, ds.X, ds)
    net = convnet.build(cfg.model, X.shape[1:], ds.Y.shape[1])
    params = convnet.init_params(net, "he", [1.0], [0], np.float64)
    tnet = torch_net(net, params)
    opt = torch.optim.SGD(tnet.parameters(), lr=LR)
    labels = torch.tensor(np.argmax(ds.Y, axis=1))
    Xt = torch.tensor(X)
    worst = 0.0
    rng = np.random.default_rng(0)
    for step in range(STEPS):
        rows = rng.choice(len(X), BATCH, replace=False)
        ours, grads = convnet.loss_and_grads(params, X[rows], ds.Y[rows], cfg.model)
        for k in params:
            params[k] = params[k] - LR * grads[k]
        opt.zero_grad()
        theirs = nn.functional.cross_entropy(tnet(Xt[rows]), labels[rows])
        theirs.backward()
        opt.step()
        rel = abs(float(ours[0]) - theirs.item()) / abs(theirs.item())
        worst = max(worst, rel)
        if step in (0, STEPS - 1):
            print(
                f"  {name} step {step:2d}: lrdiag {float(ours[0]):.15f}  torch {theirs.item():.15f}"
            )
    for layer, mod in zip(net.param_layers, [m for m in tnet if hasattr(m, "weight")], strict=True):
        W = mod.weight.detach().numpy()
        ours_W = params[f"W{layer.index}"][0]
        ours_W = ours_W.T if layer.kind == "dense" else ours_W
        worst = max(worst, float(np.max(np.abs(ours_W - W)) / np.max(np.abs(W))))
    return worst


def main() -> int:
    torch.set_num_threads(1)
    ok = True
    for name, layer_list in NETS.items():
        worst = compare(name, layer_list)
        good = worst <= TOL
        ok &= good
        print(f"{name}: largest relative difference over {STEPS} SGD steps {worst:.2e} "
              f"({'ok' if good else 'FAILS'}, tolerance {TOL:g})")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
