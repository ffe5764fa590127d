"""init: {scheme: file, path} and lrdiag sweep --save-init: the layout, the round trip, and
the errors a user's file can cause (one line naming the file and the array, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from lrdiag import model, weights
from lrdiag.config import config_from_dict
from lrdiag.errors import ConfigError, DataError

SIZES = [2, 5, 1]


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def good_arrays(rng):
    return {"W1": rng.normal(size=(2, 5)), "b1": rng.normal(size=5),
            "W2": rng.normal(size=(5, 1)), "b2": rng.normal(size=1)}  # fmt: skip


def test_every_run_starts_from_the_file_times_its_scale(tmp_path):
    arrays = good_arrays(np.random.default_rng(0))
    path = write_npz(tmp_path / "w.npz", **arrays)
    params = model.init_params(SIZES, "file", [1.0, 3.0], [0, 7], np.float64, path=str(path))
    assert params["W1"].shape == (2, 2, 5) and params["b1"].shape == (2, 1, 5)
    for r, scale in enumerate([1.0, 3.0]):
        np.testing.assert_array_equal(params["W1"][r], scale * arrays["W1"])
        np.testing.assert_array_equal(params["W2"][r], scale * arrays["W2"])
        np.testing.assert_array_equal(params["b1"][r, 0], arrays["b1"])  # biases as given


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda a: a.pop("b2"), "lacks b2"),
        (lambda a: a.update(W3=np.ones((1, 1))), "has W3 too"),
        (lambda a: a.update(W1=np.ones((5, 2))), "W1 has shape (5, 2), the model needs (2, 5)"),
        (lambda a: a.update(b1=np.ones((1, 5))), "b1 has shape (1, 5)"),
        (lambda a: a.update(W2=np.full((5, 1), np.nan)), "W2 holds values that are not finite"),
        (lambda a: a.update(W2=np.full((5, 1), "x")), "W2 holds"),
    ],
)
def test_a_file_that_does_not_fit_the_model_is_a_data_error(tmp_path, change, words):
    arrays = good_arrays(np.random.default_rng(1))
    change(arrays)
    path = write_npz(tmp_path / "w.npz", **arrays)
    with pytest.raises(DataError, match="w.npz") as info:
        weights.read_weights(path, SIZES)
    assert words in str(info.value)


def test_not_an_npz(tmp_path):
    (tmp_path / "w.npz").write_text("hello")
    with pytest.raises(DataError, match="cannot read initial weights") as info:
        weights.read_weights(tmp_path / "w.npz", SIZES)
    assert "pickle" not in str(info.value)  # numpy's guess for a file it does not know


def test_a_single_npy_array_named_npz_is_a_data_error(tmp_path):
    with open(tmp_path / "w.npz", "wb") as f:
        np.save(f, good_arrays(np.random.default_rng(1))["W1"])  # np.save, not np.savez
    with pytest.raises(DataError, match=r"w.npz: .*not an \.npz"):
        weights.read_weights(tmp_path / "w.npz", SIZES)


def test_config_keys(tmp_path):
    write_npz(tmp_path / "w.npz", **good_arrays(np.random.default_rng(2)))
    cfg = config_from_dict({"init": {"scheme": "file", "path": "w.npz"}}, base_dir=tmp_path)
    assert cfg.init.path == str((tmp_path / "w.npz").resolve())
    for init, key, words in [
        ({"scheme": "file"}, "init.path", "needs a path"),
        ({"scheme": "he", "path": "w.npz"}, "init.path", "only used with scheme: file"),
        ({"scheme": "file", "path": "w.csv"}, "init.path", "allowed: .npz"),
        ({"scheme": "file", "path": "nope.npz"}, "init.path", "initial weights file not found"),
        ({"scheme": ["file", "he"]}, "init.scheme", "is not one of"),
    ]:
        with pytest.raises(ConfigError) as info:
            config_from_dict({"init": init}, file="x.yaml", base_dir=tmp_path)
        assert info.value.key == key and words in info.value.message, info.value.message


def sweep_config(tmp_path, init, seeds=(0, 1)) -> Path:
    d = {
        "data": {"kind": "moons", "n_samples": 64},
        "model": {"hidden": [5]},
        "init": init,
        "training": {"epochs": 5, "seeds": list(seeds), "dtype": "float64"},
        "sweep": {"learning_rates": [0.1, 1.0]},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def sweep_json(argv) -> dict:
    from lrdiag.cli import cli

    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_save_init_then_start_from_it_reproduces_the_sweep(tmp_path):
    """--save-init writes each seed's draws; a sweep from seed 1's file is seed 1's sweep."""
    cfg = sweep_config(tmp_path, {"scheme": "he", "scales": [1.0, 2.0]})
    first = sweep_json(["sweep", str(cfg), "--json", "--no-plots", "--out", str(tmp_path / "a"),
                        "--save-init", str(tmp_path / "init")])  # fmt: skip
    saved = sorted(p.name for p in (tmp_path / "init").iterdir())
    assert saved == ["init_seed0.npz", "init_seed1.npz"]
    with np.load(tmp_path / "init" / "init_seed1.npz") as f:
        assert sorted(f.files) == ["W1", "W2", "b1", "b2"]
        assert f["W1"].shape == (2, 5) and f["b1"].shape == (5,) and not f["b1"].any()
        drawn = model.init_params([2, 5, 1], "he", [1.0], [1], np.float64)
        np.testing.assert_array_equal(f["W1"], drawn["W1"][0])
    again_cfg = sweep_config(
        tmp_path, {"scheme": "file", "path": str(tmp_path / "init" / "init_seed1.npz"),
                   "scales": [1.0, 2.0]}, seeds=(1,),
    )  # fmt: skip
    again = sweep_json(["sweep", str(again_cfg), "--json", "--no-plots",
                        "--out", str(tmp_path / "b")])  # fmt: skip
    want = [r for r in first["runs"] if r["seed"] == 1]
    got = again["runs"]
    assert [(r["learning_rate"], r["init_scale"]) for r in got] == [
        (r["learning_rate"], r["init_scale"]) for r in want
    ]
    for a, b in zip(got, want, strict=True):
        assert a["loss"] == b["loss"]


def test_a_bad_weights_file_is_one_line_and_exit_2(tmp_path):
    arrays = good_arrays(np.random.default_rng(3))
    arrays["W1"] = np.ones((3, 5))
    write_npz(tmp_path / "w.npz", **arrays)
    cfg = sweep_config(tmp_path, {"scheme": "file", "path": "w.npz"})
    from lrdiag.cli import cli

    result = CliRunner().invoke(cli, ["sweep", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "w.npz: W1 has shape (3, 5), the model needs (2, 5)" in result.stderr
    assert "Traceback" not in result.output + result.stderr


# --------------------------------------------------------------------------- conv nets

CONV_LAYERS = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2},  # (3, 8, 8) -> (3, 4, 4)
    {"type": "conv2d", "filters": 4, "kernel": 2, "stride": 2, "padding": "valid",
     "activation": "tanh"},  # -> (4, 2, 2)
    {"type": "flatten"},
    {"type": "dense", "units": 5, "activation": "tanh"},
]  # fmt: skip


def pytorch_state_dict() -> dict[str, np.ndarray]:
    """What ``model.state_dict()`` of the same network in PyTorch holds (Conv2d.weight
    (out, in, kh, kw), Linear.weight (out, in), biases (out,)), filled by a formula."""
    shapes = {"conv1.weight": (3, 1, 3, 3), "conv1.bias": (3,), "conv2.weight": (4, 3, 2, 2),
              "conv2.bias": (4,), "fc.weight": (5, 16), "fc.bias": (5,),
              "out.weight": (10, 5), "out.bias": (10,)}  # fmt: skip
    return {
        name: 0.6 * np.sin(0.7 * np.arange(np.prod(shape)) + n).reshape(shape)
        for n, (name, shape) in enumerate(shapes.items())
    }


def exported(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The state_dict in lrdiag's names: kernels as they are, Linear weights transposed."""
    return {"W1": sd["conv1.weight"], "b1": sd["conv1.bias"],
            "W2": sd["conv2.weight"], "b2": sd["conv2.bias"],
            "W3": sd["fc.weight"].T, "b3": sd["fc.bias"],
            "W4": sd["out.weight"].T, "b4": sd["out.bias"]}  # fmt: skip


def pytorch_semantics_loss(sd, X, Y, scale) -> float:
    """The mean cross-entropy of PyTorch's network with the state_dict's weights (times
    ``scale``), one image at a time through the naive layers of tests/test_layers.py."""
    from test_layers import naive_conv, naive_flatten, naive_pool

    total = 0.0
    for x, y in zip(X, Y, strict=True):
        a = np.maximum(naive_conv(x, scale * sd["conv1.weight"], sd["conv1.bias"], 1, "same"), 0)
        a = naive_pool(a, 2, "maxpool")[0]
        a = np.tanh(naive_conv(a, scale * sd["conv2.weight"], sd["conv2.bias"], 2, "valid"))
        a = np.tanh(scale * sd["fc.weight"] @ naive_flatten(a) + sd["fc.bias"])
        z = scale * sd["out.weight"] @ a + sd["out.bias"]
        total += np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[np.argmax(y)]
    return total / len(X)


def test_a_conv_net_starts_from_pytorch_weights(tmp_path):
    """Weights exported from PyTorch's state_dict (Linear's transposed) give PyTorch's losses."""
    from lrdiag import convnet

    sd = pytorch_state_dict()
    path = write_npz(tmp_path / "torch.npz", **exported(sd))
    spec = config_from_dict(
        {"model": {"layers": CONV_LAYERS, "output": "softmax", "loss": "cross_entropy"}}
    ).model
    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, size=(6, 1, 8, 8))
    Y = np.eye(10)[rng.integers(0, 10, 6)]
    net = convnet.build(spec, (1, 8, 8), 10)
    params = convnet.init_params(net, "file", [1.0, 0.5], [0, 3], np.float64, path=str(path))
    assert params["W1"].shape == (2, 3, 1, 3, 3) and params["b4"].shape == (2, 1, 10)
    losses = convnet.loss(params, X, Y, spec)
    for r, scale in enumerate([1.0, 0.5]):
        assert losses[r] == pytest.approx(pytorch_semantics_loss(sd, X, Y, scale), rel=1e-12)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda a: a.update(W1=np.ones((3, 3, 3))),
         "W1 has shape (3, 3, 3), the model needs (3, 1, 3, 3)"),
        (lambda a: a.update(W3=a["W3"].T), "W3 has shape (5, 16), the model needs (16, 5)"),
        (lambda a: a.update(b2=np.ones((1, 4))), "b2 has shape (1, 4), the model needs (4,)"),
        (lambda a: a.pop("W4"), "lacks W4"),
    ],
)  # fmt: skip
def test_a_file_that_does_not_fit_the_conv_net_names_the_parameter(tmp_path, change, words):
    from lrdiag import convnet

    arrays = exported(pytorch_state_dict())
    change(arrays)
    path = write_npz(tmp_path / "w.npz", **arrays)
    spec = config_from_dict(
        {"model": {"layers": CONV_LAYERS, "output": "softmax", "loss": "cross_entropy"}}
    ).model
    net = convnet.build(spec, (1, 8, 8), 10)
    with pytest.raises(DataError) as info:
        convnet.init_params(net, "file", [1.0], [0], np.float64, path=str(path))
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message


def conv_sweep_config(tmp_path, init, seeds=(0, 1)) -> Path:
    d = {
        "data": {"kind": "digits", "scale": 0.0625, "validation_split": 0.2},
        "model": {"layers": CONV_LAYERS, "output": "softmax", "loss": "cross_entropy"},
        "init": init,
        "training": {"epochs": 2, "batch_size": 256, "seeds": list(seeds), "dtype": "float32"},
        "sweep": {"learning_rates": [0.01, 0.3]},
    }
    path = tmp_path / "cnn.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def test_conv_save_init_then_start_from_it_reproduces_the_sweep(tmp_path):
    """--save-init writes a conv net's kernels (out, in, kh, kw); seed 0's file is seed 0."""
    from lrdiag import convnet

    cfg = conv_sweep_config(tmp_path, {"scheme": "he", "scales": [1.0, 2.0]})
    first = sweep_json(["sweep", str(cfg), "--json", "--no-plots", "--out", str(tmp_path / "a"),
                        "--save-init", str(tmp_path / "init")])  # fmt: skip
    with np.load(tmp_path / "init" / "init_seed0.npz") as f:
        shapes = {k: f[k].shape for k in f.files}
        kernel = f["W1"]
    assert shapes == {"W1": (3, 1, 3, 3), "b1": (3,), "W2": (4, 3, 2, 2), "b2": (4,),
                      "W3": (16, 5), "b3": (5,), "W4": (5, 10), "b4": (10,)}  # fmt: skip
    # PyTorch's kaiming_normal_ for Conv2d(1, 3, 3): std sqrt(2 / fan_in), fan_in = 1 * 3 * 3
    spec = config_from_dict({"model": {"layers": CONV_LAYERS}}).model
    net = convnet.build(spec, (1, 8, 8), 10)
    drawn = np.random.default_rng(0).standard_normal((3, 1, 3, 3)) * np.sqrt(2 / 9)
    assert net.layers[0].weight_shape == (3, 1, 3, 3)
    np.testing.assert_array_equal(kernel, drawn)
    again_cfg = conv_sweep_config(
        tmp_path, {"scheme": "file", "path": str(tmp_path / "init" / "init_seed0.npz"),
                   "scales": [1.0, 2.0]}, seeds=(0,),
    )  # fmt: skip
    again = sweep_json(["sweep", str(again_cfg), "--json", "--no-plots",
                        "--out", str(tmp_path / "b")])  # fmt: skip
    want = [r for r in first["runs"] if r["seed"] == 0]
    got = again["runs"]
    assert [(r["learning_rate"], r["init_scale"]) for r in got] == [
        (r["learning_rate"], r["init_scale"]) for r in want
    ]
    for a, b in zip(got, want, strict=True):
        assert a["loss"] == b["loss"] and a["val_loss"] == b["val_loss"]


def test_a_conv_weights_file_of_the_wrong_shape_is_one_line_and_exit_2(tmp_path):
    arrays = exported(pytorch_state_dict())
    arrays["W2"] = np.ones((4, 3, 3, 3))  # a 3x3 kernel where the model has 2x2
    write_npz(tmp_path / "w.npz", **arrays)
    cfg = conv_sweep_config(tmp_path, {"scheme": "file", "path": "w.npz"})
    from lrdiag.cli import cli

    result = CliRunner().invoke(cli, ["sweep", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "w.npz: W2 has shape (4, 3, 3, 3), the model needs (4, 3, 2, 2)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output + result.stderr
