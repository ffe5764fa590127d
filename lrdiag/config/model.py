"""The ``model:`` and ``init:`` sections: the network (an MLP's widths or a list of layers) and
its initial weights, with the checks between them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrdiag.config.checks import at_least, grid_axis, grid_positive, option
from lrdiag.config.loader import (
    Context,
    describe,
    load_section,
    not_a_choice,
    parse_path,
    reject_unknown,
)

# ACTIVATIONS, OUTPUTS, LOSSES, INIT_SCHEMES and HEADS must equal the keys of lrdiag.model's
# registries (ACTIVATIONS, INIT_SCHEMES, HEADS); tests assert the equality.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "identity")
OUTPUTS = ("sigmoid", "softmax", "identity")
LOSSES = ("bce", "cross_entropy", "mse")
HEADS = (
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("identity", "mse"),
    ("sigmoid", "mse"),
    ("sigmoid", "cross_entropy"),  # what tf.keras computes: softmax cross-entropy of the logits
)
INIT_SCHEMES = ("uniform01", "normal", "xavier", "he", "lecun")
INIT_FILE = "file"  # init.scheme: the weights in init.path (lrdiag.weights)

LAYER_TYPES = ("conv2d", "maxpool", "avgpool", "flatten", "dense")  # model.layers[i].type
PADDINGS = ("valid", "same")  # conv2d padding (lrdiag.layers.conv_geometry)
STRIDES = (1, 2)


@dataclass(frozen=True)
class LayerConfig:
    """One entry of ``model.layers``; LAYER_KEYS says which keys each type takes."""

    type: str = option("dense", "the layer", choices=LAYER_TYPES)
    filters: int | None = option(None, "conv2d: output channels", check=at_least(1))
    kernel: int | None = option(None, "conv2d: kernel height and width", check=at_least(1))
    stride: int = option(1, "conv2d: step between patches", choices=STRIDES)
    padding: str = option(
        "valid", "conv2d: valid, or same (output ceil(size / stride))", choices=PADDINGS
    )
    size: int = option(2, "maxpool, avgpool: window and stride", check=at_least(1))
    units: int | None = option(None, "dense: width", check=at_least(1))
    activation: str | None = option(
        None, "conv2d, dense (default model.activation)", choices=ACTIVATIONS
    )


# The keys each layer type takes, and those it needs.
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "conv2d": ("type", "filters", "kernel", "stride", "padding", "activation"),
    "maxpool": ("type", "size"),
    "avgpool": ("type", "size"),
    "flatten": ("type",),
    "dense": ("type", "units", "activation"),
}
LAYER_REQUIRED: dict[str, tuple[str, ...]] = {"conv2d": ("filters", "kernel"), "dense": ("units",)}


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = option((128, 64), "hidden widths; [] = linear", check=at_least(1))
    layers: tuple[LayerConfig, ...] | None = option(
        None, "instead of hidden: conv2d, maxpool, avgpool, flatten, dense (docs/layers.md)"
    )
    activation: str = option("tanh", "hidden activation", choices=ACTIVATIONS)
    output: str = option("sigmoid", "output layer", choices=OUTPUTS)
    loss: str = option(
        "bce",
        f"loss; valid output/loss pairs: {', '.join(f'{o}+{loss}' for o, loss in HEADS)}",
        choices=LOSSES,
    )


@dataclass(frozen=True)
class InitConfig:
    scheme: str | tuple[str, ...] = option(
        "normal",
        "weight distribution, a list (one per weight matrix), or `file` (init.path)",
        choices=(*INIT_SCHEMES, INIT_FILE),
    )
    path: str | None = option(
        None, "scheme: file: an .npz of W1, b1, W2, ... relative to the config"
    )
    scales: tuple[float, ...] = grid_axis(
        (1.0,), "grid axis: weight multiplier", check=grid_positive
    )


def _parse_init_path(v: Any, key: str, ctx: Context) -> str | None:
    return parse_path(v, key, ctx, (".npz",), "initial weights")


def _parse_scheme(v: Any, key: str, ctx: Context) -> str | tuple[str, ...]:
    """One scheme for every weight matrix, or a non-empty list of them (one per matrix)."""
    if v == INIT_FILE:
        return v
    values = v if isinstance(v, list) else [v]
    if not values:
        raise ctx.error(key, "an empty list: give a scheme, or one per weight matrix")
    for item in values:
        if not isinstance(item, str) or item not in INIT_SCHEMES:
            raise ctx.error(key, not_a_choice(item, INIT_SCHEMES))
    return tuple(values) if isinstance(v, list) else v


def _parse_layers(v: Any, key: str, ctx: Context) -> tuple[LayerConfig, ...] | None:
    """A non-empty list of layer mappings, each with a ``type`` and that type's keys."""
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        raise ctx.error(key, f"must be a non-empty list of layers, got {describe(v)}")
    out = []
    for i, item in enumerate(v):
        where = f"{key}[{i}]"
        if not isinstance(item, Mapping):
            raise ctx.error(
                where, f"must be a mapping such as {{type: flatten}}, got {describe(item)}"
            )
        kind = item.get("type")
        if kind is None:
            raise ctx.error(where, f"needs a type: one of {', '.join(LAYER_TYPES)}")
        if not isinstance(kind, str) or kind not in LAYER_TYPES:
            raise ctx.error(f"{where}.type", not_a_choice(kind, LAYER_TYPES))
        reject_unknown(item, LAYER_KEYS[kind], where, ctx.file)
        missing = [k for k in LAYER_REQUIRED.get(kind, ()) if k not in item]
        if missing:
            raise ctx.error(where, f"{kind} needs {' and '.join(missing)}")
        out.append(load_section(LayerConfig, item, where, ctx))
    return tuple(out)


PARSERS = {
    ("model", "layers"): _parse_layers,
    ("init", "scheme"): _parse_scheme,
    ("init", "path"): _parse_init_path,
}


def check_head(model: ModelConfig, ctx: Context) -> None:
    """The output layer and the loss make one of the valid pairs (HEADS)."""
    if (model.output, model.loss) not in HEADS:
        pairs = ", ".join(f"{o}+{loss}" for o, loss in HEADS)
        raise ctx.error(
            "model.loss",
            f"output {model.output!r} with loss {model.loss!r} is not a valid pair; "
            f"valid output+loss pairs: {pairs}",
        )


def check_init(init: InitConfig, model: ModelConfig, ctx: Context) -> None:
    """init.path with scheme: file only; the order of model.layers; one scheme per weight
    matrix when init.scheme is a list."""
    scheme = init.scheme
    if (scheme == INIT_FILE) != (init.path is not None):
        if scheme == INIT_FILE:
            raise ctx.error("init.path", "scheme: file needs a path (an .npz of W1, b1, ...)")
        raise ctx.error("init.path", f"is only used with scheme: file (scheme is {scheme!r})")
    if model.layers is not None:
        _check_layers(model.layers, ctx)
        n_weights = sum(c.type in ("conv2d", "dense") for c in model.layers) + 1
        makes = f"model.layers make {n_weights} weight matrices and kernels (with the output)"
    else:
        n_weights = len(model.hidden) + 1
        makes = f"model.hidden {list(model.hidden)} makes {n_weights} weight matrices"
    if not isinstance(scheme, str) and len(scheme) != n_weights:
        raise ctx.error(
            "init.scheme",
            f"lists {len(scheme)} schemes, but {makes}: give one scheme per matrix, or one for all",
        )


def _check_layers(layers: tuple[LayerConfig, ...], ctx: Context) -> None:
    """The order of layers: images (conv2d, pooling) before a flatten, dense after one."""
    flat_at = None  # the first layer whose output is flat
    for i, c in enumerate(layers):
        if c.type in ("flatten", "dense") and flat_at is None:
            flat_at = i
        elif c.type in ("conv2d", "maxpool", "avgpool") and flat_at is not None:
            raise ctx.error(
                f"model.layers[{i}]",
                f"{c.type} takes images, but layer {flat_at} ({layers[flat_at].type}) made "
                "them flat: image layers come before the flatten",
            )
        if c.type == "dense" and i > 0 and layers[i - 1].type in ("conv2d", "maxpool", "avgpool"):
            raise ctx.error(
                f"model.layers[{i}]",
                f"dense after {layers[i - 1].type} needs a {{type: flatten}} between them",
            )
    last = layers[-1].type
    if last in ("conv2d", "maxpool", "avgpool"):
        raise ctx.error(
            f"model.layers[{len(layers) - 1}]",
            f"the layers end with {last} (images): the output layer needs a {{type: flatten}}",
        )


def layer_to_dict(c: LayerConfig) -> dict:
    """The keys of a layer's type only (activation when set): what config_from_dict reads."""
    out = {k: getattr(c, k) for k in LAYER_KEYS[c.type]}
    if out.get("activation", "") is None:
        del out["activation"]
    return out
