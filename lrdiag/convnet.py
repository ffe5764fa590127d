"""A network of layers (``model.layers``), batched over runs, backprop by hand.

The same contract as lrdiag.model's MLP, so the sweep, the optimizers and gradcheck use it
unchanged: ``init_params(net, scheme, scales, seeds, dtype)`` returns ``{"W1": ..., "b1": ...}``
numbered from 1 over the layers that have parameters; ``loss(params, X, Y, spec)`` and
``loss_and_grads(params, X, Y, spec, ws)`` return per-run losses ``(R,)`` and gradients shaped
like the parameters. ``X`` is ``(B, C, H, W)`` for images (``(B, F)`` for flat data) and is
shared by every run; the network is ``build(spec, X.shape[1:], Y.shape[1])``: the configured
layers, then a dense output layer whose width comes from the targets (as the MLP's does).

Layers and layouts are lrdiag.layers'. Runs go through forward and backward a block at a time
(``run_block``) so that activations and patches stay bounded; the first convolution's patches
depend on the data only and are built once for all blocks. ``pass_bytes`` follows the arrays a
pass makes, in order: the memory plan (``thread_bytes``) and the block size rest on it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from lrdiag import layers, model, weights
from lrdiag.errors import ConfigError

PARAMETRIC = ("conv2d", "dense")
IMAGE_LAYERS = ("conv2d", "maxpool", "avgpool")
# The arrays one block of runs has alive in a pass (pass_bytes): patches, activations, deltas.
# W5 trains as fast in blocks of 4 MB as of 16 MB (11.4 and 11.2 s, medians of 3 on a busy
# machine); the smaller keeps memory small.
BLOCK_BYTES = 4 << 20
# Per training thread, beside its arrays: what the interpreter allocates during a step (dicts of
# views, small results), which tracemalloc counts too (measured: under 100 KiB)
THREAD_SLACK = 256 << 10


@dataclass(frozen=True)
class Layer:
    """One layer of a built network, with the shapes it maps between (no run or sample axis)."""

    kind: str  # one of layers.LAYER_TYPES
    index: int | None  # i of its parameters W<i>, b<i>; None without parameters
    in_shape: tuple[int, ...]  # (C, H, W) or (F,)
    out_shape: tuple[int, ...]
    activation: str | None = None  # conv2d and hidden dense layers; None: the output layer
    kernel: int = 0  # conv2d
    stride: int = 1  # conv2d
    padding: str = "valid"  # conv2d
    size: int = 0  # pooling window (and stride)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.kind == "conv2d":
            return (self.out_shape[0], self.in_shape[0], self.kernel, self.kernel)
        return (self.in_shape[0], self.out_shape[0])

    @property
    def fans(self) -> tuple[int, int]:
        """(fan_in, fan_out) as PyTorch's ``_calculate_fan_in_and_fan_out`` computes them."""
        if self.kind == "conv2d":
            area = self.kernel * self.kernel
            return self.in_shape[0] * area, self.out_shape[0] * area
        return self.in_shape[0], self.out_shape[0]

    @property
    def n_params(self) -> int:
        return math.prod(self.weight_shape) + self.out_shape[0] if self.index else 0


@dataclass(frozen=True)
class Net:
    layers: tuple[Layer, ...]
    in_shape: tuple[int, ...]
    n_out: int

    @property
    def param_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.index)

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.layers)


def _err(i: int, message: str, file: str | None) -> ConfigError:
    return ConfigError(message, file=file, key=f"model.layers[{i}]")


def build(spec, in_shape, n_out: int, *, file: str | None = None) -> Net:
    """The network ``spec.layers`` makes on inputs of ``in_shape`` ((C, H, W) or (F,)), with
    its dense output layer of ``n_out`` units. ConfigError (at ``model.layers[i]``) for a layer
    that does not fit the shape it gets."""
    return _build(spec.layers, spec.activation, tuple(int(s) for s in in_shape), int(n_out), file)


@functools.lru_cache(maxsize=64)
def _build(configs, default_act: str, in_shape, n_out: int, file) -> Net:
    built: list[Layer] = []
    shape, index = in_shape, 0
    for i, c in enumerate(configs):
        if c.type in IMAGE_LAYERS and len(shape) != 3:
            what = "flat inputs" if i == 0 else f"the flat output of layer {i - 1}"
            raise _err(
                i,
                f"{c.type} takes images (channels, height, width) but gets {what} of "
                f"{shape[0]} features; image data: kind digits, Keras mnist.npz, or an .npz "
                "whose X is 3-D (n, H, W) or 4-D (n, C, H, W)",
                file,
            )
        if c.type == "dense" and len(shape) != 1:
            raise _err(i, f"dense takes flat inputs but gets an image {shape}: add a flatten", file)
        act = c.activation or default_act
        if c.type == "conv2d":
            C, H, W = shape
            if c.padding == "valid" and (c.kernel > H or c.kernel > W):
                raise _err(
                    i, f"kernel {c.kernel} is larger than its {H}x{W} input (padding: valid)", file
                )
            Ho = layers.conv_geometry(H, c.kernel, c.stride, c.padding)[0]
            Wo = layers.conv_geometry(W, c.kernel, c.stride, c.padding)[0]
            index += 1
            layer = Layer(
                "conv2d", index, shape, (c.filters, Ho, Wo), act, c.kernel, c.stride, c.padding
            )
        elif c.type in ("maxpool", "avgpool"):
            C, H, W = shape
            if c.size > H or c.size > W:
                raise _err(i, f"pool size {c.size} is larger than its {H}x{W} input", file)
            layer = Layer(c.type, None, shape, (C, H // c.size, W // c.size), size=c.size)
        elif c.type == "flatten":
            layer = Layer("flatten", None, shape, (math.prod(shape),))
        else:
            index += 1
            layer = Layer("dense", index, shape, (c.units,), act)
        built.append(layer)
        shape = layer.out_shape
    if len(shape) != 1:
        raise _err(
            len(configs) - 1, f"the layers end with an image {shape}: end them with a flatten", file
        )
    built.append(Layer("dense", index + 1, shape, (n_out,)))
    return Net(tuple(built), in_shape, n_out)


def n_param_layers(spec) -> int:
    """Weight matrices (and kernels) ``spec.layers`` makes, the output layer included."""
    return sum(c.type in PARAMETRIC for c in spec.layers) + 1


# --------------------------------------------------------------------------- initialisation


def init_params(
    net: Net, scheme, scales, seeds, dtype=np.float32, path: str | None = None
) -> dict[str, np.ndarray]:
    """Initial weights for R runs, as ``model.init_params``: run r draws from ``seeds[r]`` (in
    layer order, each kernel in PyTorch's layout with PyTorch's fans) times ``scales[r]``;
    biases start at zero. ``scheme``: one name, or one per parameter layer; ``"file"``: every
    run starts from the weights in ``path`` (``file_shapes``), times its scale."""
    if scheme == "file":
        layout = "kernels (out, in, kh, kw) as Conv2d.weight, dense (in, out), biases (out,)"
        return weights.stacked(
            weights.read_arrays(str(path), file_shapes(net), layout), scales, dtype
        )
    plist = net.param_layers
    schemes = [scheme] * len(plist) if isinstance(scheme, str) else list(scheme)
    if len(schemes) != len(plist):
        raise ValueError(f"{len(schemes)} init schemes for {len(plist)} parameter layers")
    scales = np.asarray(scales, dtype=np.float64)
    seeds = np.asarray(seeds, dtype=np.int64)
    base = {}
    for seed in np.unique(seeds):  # a few draws per distinct seed, shared by its runs
        rng = np.random.default_rng(int(seed))
        base[int(seed)] = [
            model.INIT_SCHEMES[name](rng, *layer.fans, layer.weight_shape)
            for name, layer in zip(schemes, plist, strict=True)
        ]
    params: dict[str, np.ndarray] = {}
    for n, layer in enumerate(plist):
        stacked = np.stack([base[int(s)][n] for s in seeds])  # (R, *weight_shape)
        per_run = scales.reshape(-1, *([1] * (stacked.ndim - 1)))
        params[f"W{layer.index}"] = (stacked * per_run).astype(dtype)
        params[f"b{layer.index}"] = np.zeros((len(seeds), 1, layer.out_shape[0]), dtype=dtype)
    return params


def file_shapes(net: Net) -> dict[str, tuple[int, ...]]:
    """The arrays of ``init: {scheme: file}`` and ``--save-init`` for ``net``: ``W<i>`` a kernel
    ``(out, in, kh, kw)`` or a dense ``(in, out)``, ``b<i>`` ``(out,)``, layer by layer."""
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in net.param_layers:
        shapes[f"W{layer.index}"] = layer.weight_shape
        shapes[f"b{layer.index}"] = (layer.out_shape[0],)
    return shapes


# --------------------------------------------------------------------------- memory


class _Ledger:
    """Bytes alive while a pass runs, and the most ever alive at once."""

    def __init__(self) -> None:
        self.live = self.peak = 0

    def alloc(self, n: int) -> None:
        self.live += n
        self.peak = max(self.peak, self.live)

    def free(self, n: int) -> None:
        self.live -= n


def _padded(layer: Layer) -> int:
    """Elements of a convolution's zero-padded input (0 without padding: no copy is made)."""
    C, H, W = layer.in_shape
    _, (top, bottom, left, right) = layers.geometry2d(
        H, W, layer.kernel, layer.stride, layer.padding
    )
    return C * (H + top + bottom) * (W + left + right) if top + bottom + left + right else 0


def pass_bytes(net: Net, rows: int, runs: int, itemsize: int, backward: bool) -> int:
    """The most bytes alive at once while ``runs`` runs (one block) go forward through the
    network on ``rows`` samples and, with ``backward``, back: the arrays ``_forward``,
    ``_backward`` and the head make, followed in their order, with the shared input's copy and
    the first convolution's patches. An upper bound on what NumPy allocates (tracemalloc's
    peak): every temporary counts, and nothing is taken as freed before it is."""
    one = rows * itemsize  # bytes of one float per sample
    run = runs * one  # ... for every run of the block
    led = _Ledger()
    if len(net.in_shape) == 3:  # _shared_input: the images moved to samples-last (a copy)
        led.alloc(math.prod(net.in_shape) * one)
    shared = True  # the layer's input is the data (no run axis): per sample, not per run
    held = 0  # what the previous layer's ``kept`` holds: a pass without backward frees it late
    for n, layer in enumerate(net.layers):
        unit = one if shared else run  # bytes of one element of the input, for all its runs
        mask = rows if shared else runs * rows  # ... of a uint8 or bool array that size
        n_in, n_out = math.prod(layer.in_shape), math.prod(layer.out_shape)
        x = n_in * unit if n else 0  # the input (the data itself is the caller's)
        keeps = 0  # what the layer's ``kept`` holds that is not also its input or output
        if layer.kind == "conv2d":
            pad, cols = _padded(layer), layer.fans[0] * math.prod(layer.out_shape[1:])
            led.alloc((pad + cols) * unit)  # im2col (the first layer's: once for all blocks)
            led.free(pad * unit)
            keeps = cols * unit if n else 0
            led.alloc(n_out * run)  # the product (bias and activation in place)
        elif layer.kind == "maxpool":
            led.alloc(n_out * unit + 3 * n_out * mask)  # output, where, bigger, step
            led.free(2 * n_out * mask)
            keeps = n_out * mask
        elif layer.kind == "dense":
            led.alloc(2 * n_out * run)  # the product, and the product plus the bias
            led.free(n_out * run)
        else:  # flatten, avgpool: a new array the output's size
            led.alloc(n_out * unit)
        if layer.activation == "leaky_relu":  # its mask (z < 0)
            led.alloc(n_out * runs * rows)
            led.free(n_out * runs * rows)
        if backward:  # kept and activation outputs stay; a dense layer keeps its input
            if n and not (layer.kind == "dense" or net.layers[n - 1].activation):
                led.free(x)
        else:  # the previous layer's kept goes now, this layer's input once it is done
            led.free(held + (0 if layer.kind == "dense" else x))
            held = keeps + (x if layer.kind == "dense" else 0)
        shared = shared and layer.index is None
    logits = net.n_out * run
    led.alloc(4 * logits + 3 * run)  # the head's temporaries: (R, B, k) and (R, B) arrays
    led.free(3 * logits + 3 * run)  # all but the first delta (dlogits)
    if not backward:
        return led.peak
    led.free(logits)
    delta = logits
    stop = next(n for n, layer in enumerate(net.layers) if layer.index)
    for n in range(len(net.layers) - 1, stop - 1, -1):
        layer = net.layers[n]
        if layer.index:  # dW and db (kept until the next layer's replace them: never freed)
            led.alloc((math.prod(layer.weight_shape) + layer.out_shape[0]) * runs * itemsize)
        if n == stop:  # the first layer with parameters needs no input gradient
            break
        n_in, n_out = math.prod(layer.in_shape), math.prod(layer.out_shape)
        new = n_in * run
        if layer.kind == "conv2d":  # the patches' gradient, folded into the padded input's
            cols = layer.fans[0] * math.prod(layer.out_shape[1:])
            new = (_padded(layer) or n_in) * run
            led.alloc(cols * run + new)
            led.free(cols * run)
        elif layer.kind == "maxpool":  # dx, and one window offset's mask at a time
            led.alloc(new + n_out * runs * rows)
            led.free(n_out * runs * rows)
        elif layer.kind == "avgpool":  # dx, and the share of each window
            led.alloc(new + n_out * run)
            led.free(n_out * run)
        else:  # dense, flatten
            led.alloc(new)
        led.free(delta)
        delta = new
    return led.peak


def thread_bytes(net: Net, runs: int, batch: int, rows: tuple[int, ...], itemsize: int) -> int:
    """Bytes one training thread needs for its arrays with ``runs`` runs (a shard), beside the
    runs' parameters, gradients and optimizer state: the larger of a training step on
    ``batch`` samples and a loss evaluation on each of ``rows`` (the training and validation
    data), a block of runs at a time; and each epoch's shuffled copy of the training data."""
    step = pass_bytes(net, batch, min(runs, run_block(net, batch, itemsize)), itemsize, True)
    evals = []
    for n in (n for n in rows if n):  # in slices of row_block samples
        rows_at_once = row_block(net, n, itemsize)
        block = min(runs, run_block(net, rows_at_once, itemsize, False))
        evals.append(pass_bytes(net, rows_at_once, block, itemsize, False))
    shuffled = data_bytes(net, rows[0], itemsize) if batch < rows[0] else 0
    return max(step, *evals, shuffled) + shuffled + THREAD_SLACK  # two copies between epochs


def data_bytes(net: Net, rows: int, itemsize: int) -> int:
    """The training and validation data (``rows`` samples) in the training dtype."""
    return rows * (math.prod(net.in_shape) + net.n_out) * itemsize


# --------------------------------------------------------------------------- forward/backward


def _net_for(params, X, spec) -> Net:
    L = model.n_layers(params)
    return build(spec, X.shape[1:], params[f"W{L}"].shape[-1])


def run_block(net: Net, rows: int, itemsize: int, backward: bool = True) -> int:
    """Runs per block: as many as keep a pass's arrays (``pass_bytes``, on ``rows`` samples,
    with or without ``backward``) within ``BLOCK_BYTES``; at least one."""
    return _run_block(net, rows, itemsize, backward, BLOCK_BYTES)


@functools.lru_cache(maxsize=256)
def _run_block(net: Net, rows: int, itemsize: int, backward: bool, limit: int) -> int:
    def fits(runs: int) -> bool:
        return pass_bytes(net, rows, runs, itemsize, backward) <= limit

    runs = 1
    while runs < 1 << 16 and fits(2 * runs):
        runs *= 2
    lo, hi = runs, 2 * runs  # lo fits (or is 1), hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _shared_input(net: Net, X: np.ndarray) -> np.ndarray:
    """The data in the network's layout: ``(C, H, W, B)`` for images, else ``(B, F)``."""
    return np.ascontiguousarray(np.moveaxis(X, 0, -1)) if X.ndim == 4 else X


def _first_cols(net: Net, x0: np.ndarray):
    """The first layer's patches ``(K, P*B)`` when it is a convolution: the same for every run."""
    first = net.layers[0]
    if first.kind != "conv2d":
        return None
    (_, H, W) = first.in_shape
    out_hw, pads = layers.geometry2d(H, W, first.kernel, first.stride, first.padding)
    return layers.im2col(x0, first.kernel, first.stride, pads, out_hw)


def _forward(net: Net, params, x0, cols0, keep: bool):
    """Logits ``(R, B, k)`` of a block of runs; with ``keep`` also what backward needs, per
    layer: ``(input or its shape, patches or pooling offsets, activation output)``."""
    x, shared = x0, True
    saved = []
    for layer in net.layers:
        kept = None
        if layer.kind == "conv2d":
            W, b = params[f"W{layer.index}"], params[f"b{layer.index}"]
            z, cols = layers.conv2d_forward(
                x, W, b, layer.stride, layer.padding, cols=cols0 if shared else None
            )
            kept = (x.shape[-4:], cols)
        elif layer.kind == "dense":
            z = layers.dense_forward(x, params[f"W{layer.index}"], params[f"b{layer.index}"])
            kept = (x, None)
        elif layer.kind == "maxpool":
            z, where = layers.maxpool_forward(x, layer.size)
            kept = (x.shape, where)
        elif layer.kind == "avgpool":
            z = layers.avgpool_forward(x, layer.size)
            kept = (x.shape, None)
        elif shared:  # flatten of the shared data: (C, H, W, B) -> (B, C*H*W)
            z = np.moveaxis(x, -1, 0).reshape(x.shape[-1], -1)
            kept = (x.shape, None)
        else:
            z = layers.flatten_forward(x)
            kept = (x.shape, None)
        if layer.activation:
            model.ACTIVATIONS[layer.activation].activate(z)
        shared = shared and layer.index is None
        if keep:
            saved.append((*kept, z if layer.activation else None))
        x = z
    return x, saved


def forward(params, X, spec, *, keep: bool = False):
    """Logits ``(R, B, k)`` of every run (one block); with ``keep`` also the saved layers."""
    net = _net_for(params, X, spec)
    x0 = _shared_input(net, X)
    logits, saved = _forward(net, params, x0, _first_cols(net, x0), keep)
    return (logits, saved) if keep else logits


def row_block(net: Net, rows: int, itemsize: int) -> int:
    """Samples per slice of a loss evaluation: as many as keep one run's forward pass within
    ``BLOCK_BYTES`` (a pass's bytes grow in proportion to its samples), all ``rows`` if they
    fit; at least one."""
    return max(1, min(rows, BLOCK_BYTES // pass_bytes(net, 1, 1, itemsize, False)))


def loss(params, X, Y, spec) -> np.ndarray:
    """Per-run mean loss ``(R,)``, a block of runs and a slice of samples at a time: memory
    stays bounded however many samples there are (the slices' means are weighted by their
    sizes)."""
    net = _net_for(params, X, spec)
    R, dtype = params["W1"].shape[0], params["W1"].dtype
    head = model.head_for(spec)
    n = X.shape[0]
    step = row_block(net, n, dtype.itemsize)
    rb = run_block(net, step, dtype.itemsize, False)
    out = np.empty(R, dtype=dtype) if step == n else np.zeros(R)
    for start in range(0, n, step):
        x0 = _shared_input(net, X[start : start + step])
        cols0 = _first_cols(net, x0)
        Ys = Y[start : start + step]
        for lo in range(0, R, rb):
            block = {k: v[lo : lo + rb] for k, v in params.items()}
            part = head.loss(_forward(net, block, x0, cols0, False)[0], Ys)
            if step == n:
                out[lo : lo + rb] = part
            else:
                out[lo : lo + rb] += part * (len(Ys) / n)
    return out.astype(dtype, copy=False)


def _backward(net: Net, params, saved, delta, grads, lo: int, hi: int) -> None:
    """Backprop ``delta`` (dL/dlogits of runs lo..hi) into ``grads[k][lo:hi]``."""
    shared_upto = next(n for n, layer in enumerate(net.layers) if layer.index)
    for n in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[n]
        first, kept, a = saved[n][0], saved[n][1], saved[n][2]
        if a is not None and layer.activation is not None:
            model.ACTIVATIONS[layer.activation].scale_by_df(delta, a)  # dL/dz
        need_input = n > shared_upto
        if layer.kind == "conv2d":
            W = params[f"W{layer.index}"]
            delta, dW, db = layers.conv2d_backward(
                delta, kept, W, first, layer.stride, layer.padding, need_input
            )
        elif layer.kind == "dense":
            W = params[f"W{layer.index}"]
            delta, dW, db = layers.dense_backward(delta, first, W, need_input)
        elif layer.kind == "maxpool":
            delta = layers.maxpool_backward(delta, kept, first, layer.size)
        elif layer.kind == "avgpool":
            delta = layers.avgpool_backward(delta, first, layer.size)
        else:
            delta = layers.flatten_backward(delta, first)
        if layer.index:
            grads[f"W{layer.index}"][lo:hi] = dW
            grads[f"b{layer.index}"][lo:hi] = db
        if not need_input:
            return


def _train_block(net: Net, block, x0, cols0, Y, head, grads, lo: int, hi: int) -> np.ndarray:
    """Loss of runs lo..hi (``block``, their parameters) and their gradients into ``grads``;
    the block's activations are freed on return, before the next block's are made."""
    logits, saved = _forward(net, block, x0, cols0, True)
    losses, delta = head.loss_and_dlogits(logits, Y)
    del logits
    _backward(net, block, saved, delta, grads, lo, hi)
    return losses


def loss_and_grads(params, X, Y, spec, ws: model.Workspace | None = None):
    """Per-run mean loss ``(R,)`` and its gradient for every parameter (``model.loss_and_grads``'s
    contract); the gradients live in ``ws`` when one is given (valid until its next use)."""
    net = _net_for(params, X, spec)
    ws = ws or model.Workspace()
    R = params["W1"].shape[0]
    dtype = params["W1"].dtype
    ws.begin(R)
    grads = {k: ws.get(f"g{k}", v.shape, dtype) for k, v in params.items()}
    losses = np.empty(R, dtype=dtype)
    head = model.head_for(spec)
    x0 = _shared_input(net, X)
    cols0 = _first_cols(net, x0)
    rb = run_block(net, X.shape[0], dtype.itemsize)
    for lo in range(0, R, rb):
        hi = min(R, lo + rb)
        block = {k: v[lo:hi] for k, v in params.items()}
        losses[lo:hi] = _train_block(net, block, x0, cols0, Y, head, grads, lo, hi)
    return losses, grads
