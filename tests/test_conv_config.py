"""model.layers: the keys of issue 16, and every mistake named with its key path."""

from __future__ import annotations

import numpy as np
import pytest

from lrdiag import config as C
from lrdiag import convnet
from lrdiag.config import config_from_dict, config_to_dict
from lrdiag.errors import ConfigError

ISSUE_EXAMPLE = """
model:
  layers:
    - {type: conv2d, filters: 8, kernel: 3, stride: 1, padding: same, activation: relu}
    - {type: maxpool, size: 2}
    - {type: flatten}
    - {type: dense, units: 32, activation: relu}
  output: softmax            # the output layer's units come from the targets, as today
  loss: cross_entropy
"""


def load(text, tmp_path):
    path = tmp_path / "cnn.yaml"
    path.write_text(text, encoding="utf-8")
    return C.load_config(path)


def error_of(model: dict, **sections) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"model": model, **sections}, file="cnn.yaml")
    return info.value


def test_the_issue_example_loads_and_builds(tmp_path):
    cfg = load(ISSUE_EXAMPLE, tmp_path)
    first = cfg.model.layers[0]
    assert (first.type, first.filters, first.kernel, first.stride, first.padding) == (
        "conv2d", 8, 3, 1, "same",
    )  # fmt: skip
    assert cfg.model.hidden == ()  # the MLP's widths are not used
    net = convnet.build(cfg.model, (1, 8, 8), 10)
    assert [layer.out_shape for layer in net.layers] == [(8, 8, 8), (8, 4, 4), (128,), (32,), (10,)]
    assert [layer.index for layer in net.layers] == [1, None, None, 2, 3]


def test_round_trips_through_config_to_dict(tmp_path):
    cfg = load(ISSUE_EXAMPLE, tmp_path)
    again = config_from_dict(config_to_dict(cfg))
    assert again.model == cfg.model


def test_layer_activation_defaults_to_the_model_activation():
    cfg = config_from_dict(
        {
            "model": {
                "activation": "relu",
                "layers": [{"type": "flatten"}, {"type": "dense", "units": 4}],
            }
        }
    )
    net = convnet.build(cfg.model, (1, 3, 3), 2)
    assert net.layers[1].activation == "relu"
    assert net.layers[2].activation is None  # the output layer: logits for the head


@pytest.mark.parametrize(
    "layer_list, key, words",
    [
        ([{"type": "conv"}], "model.layers[0].type", "did you mean 'conv2d'"),
        ([{"filters": 8}], "model.layers[0]", "needs a type"),
        (
            [{"type": "conv2d", "kernel": 3}, {"type": "flatten"}],
            "model.layers[0]",
            "needs filters",
        ),
        ([{"type": "maxpool", "units": 3}], "model.layers[0].units", "valid keys: type, size"),
        (
            [{"type": "conv2d", "filters": 2, "kernel": 3, "padding": "full"}, {"type": "flatten"}],
            "model.layers[0].padding",
            "valid, same",
        ),
        (
            [{"type": "conv2d", "filters": 2, "kernel": 3, "stride": 3}, {"type": "flatten"}],
            "model.layers[0].stride",
            "1, 2",
        ),
        ([{"type": "flatten"}, {"type": "maxpool"}], "model.layers[1]", "before the flatten"),
        (
            [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "dense", "units": 3}],
            "model.layers[1]",
            "flatten",
        ),
        ([{"type": "conv2d", "filters": 2, "kernel": 3}], "model.layers[0]", "flatten"),
        ([], "model.layers", "non-empty list"),
        (["flatten"], "model.layers[0]", "mapping"),
        ([{"type": "dense", "units": 0}], "model.layers[0].units", ">= 1"),
    ],
)
def test_layer_mistakes_name_the_key(layer_list, key, words):
    e = error_of({"layers": layer_list})
    assert e.key == key, str(e)
    assert words in str(e)
    assert str(e).startswith("cnn.yaml: ")


def test_hidden_and_layers_together_is_an_error():
    e = error_of({"hidden": [16], "layers": [{"type": "flatten"}]})
    assert e.key == "model.hidden"


def test_a_scheme_list_counts_kernels_and_matrices():
    layer_list = [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "flatten"}]
    ok = config_from_dict({"model": {"layers": layer_list}, "init": {"scheme": ["he", "xavier"]}})
    assert ok.init.scheme == ("he", "xavier")
    e = error_of({"layers": layer_list}, init={"scheme": ["he", "he", "he"]})
    assert e.key == "init.scheme" and "2 weight matrices and kernels" in str(e)


@pytest.mark.parametrize(
    "in_shape, layer_list, words",
    [
        ((5,), [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "flatten"}], "images"),
        ((1, 2, 2), [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "flatten"}], "larger"),
        ((1, 3, 3), [{"type": "maxpool", "size": 4}, {"type": "flatten"}], "larger"),
    ],
)
def test_layers_that_do_not_fit_the_data_are_config_errors(in_shape, layer_list, words):
    cfg = config_from_dict({"model": {"layers": layer_list}})
    with pytest.raises(ConfigError) as info:
        convnet.build(cfg.model, in_shape, 2, file="cnn.yaml")
    assert info.value.key == "model.layers[0]" and words in str(info.value)


def test_choices_equal_what_the_network_builds():
    """Every layer type builds, and every padding gives the size it promises."""
    for kind in C.LAYER_TYPES:
        layer = {"type": kind, "filters": 2, "kernel": 3, "units": 2}
        layer = {k: v for k, v in layer.items() if k in C.LAYER_KEYS[kind]}
        layer_list = [layer] if kind in ("flatten", "dense") else [layer, {"type": "flatten"}]
        cfg = config_from_dict({"model": {"layers": layer_list}})
        net = convnet.build(cfg.model, (1, 6, 6) if kind != "dense" else (4,), 2)
        assert net.layers[0].kind == kind
    for padding in C.PADDINGS:
        layer_list = [{"type": "conv2d", "filters": 1, "kernel": 3, "padding": padding}]
        cfg = config_from_dict({"model": {"layers": [*layer_list, {"type": "flatten"}]}})
        net = convnet.build(cfg.model, (1, 7, 7), 2)
        assert net.layers[0].out_shape[1:] == {"valid": (5, 5), "same": (7, 7)}[padding]
    assert np.all(np.array(C.STRIDES) >= 1)
