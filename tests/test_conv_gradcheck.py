"""gradcheck and conv nets: lrdiag's own conv model passes (and a planted bug in it is found);
bugs planted in a user's conv module (examples/my_conv_model.py) are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrdiag import gradcheck, layers
from lrdiag.config import config_from_dict

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "my_conv_model.py"

CNN = {
    "data": {"kind": "digits", "scale": 0.0625, "standardize": True},
    "model": {
        "layers": [
            {"type": "conv2d", "filters": 3, "kernel": 3, "padding": "same", "activation": "relu"},
            {"type": "maxpool", "size": 2},
            {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "activation": "tanh"},
            {"type": "flatten"},
            {"type": "dense", "units": 6, "activation": "leaky_relu"},
        ],
        "output": "softmax",
        "loss": "cross_entropy",
    },
    "init": {"scheme": "he", "scales": [1.0]},
}


def test_own_conv_model_passes():
    result = gradcheck.check_config(config_from_dict(CNN), samples=12)
    assert result.ok, [(p.name, p.verdict, p.message) for p in result.parameters]
    assert [p.name for p in result.parameters] == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    assert result.parameters[0].shape == (3, 1, 3, 3)  # PyTorch's layout, without the run axis


def test_a_bug_planted_in_the_conv_backward_pass_is_found(monkeypatch):
    real = layers.conv2d_backward

    def doubled(*args, **kwargs):
        dx, dW, db = real(*args, **kwargs)
        return dx, 2 * dW, db

    monkeypatch.setattr(layers, "conv2d_backward", doubled)
    result = gradcheck.check_config(config_from_dict(CNN), samples=12)
    verdicts = {p.name: p.verdict for p in result.parameters}
    assert verdicts["W1"] == "scaled" and verdicts["W2"] == "scaled"
    assert verdicts["W4"] == "ok" and verdicts["b4"] == "ok"


def test_the_example_conv_module_passes():
    assert gradcheck.check_module(str(EXAMPLE), samples=12).ok


@pytest.mark.parametrize(
    "old, new, bad, good",
    [
        # the kernel's gradient flipped (a convolution's gradient written as a correlation's)
        (
            '"K": np.einsum("mop,mkp->ok", dZ1, cols).reshape(p["K"].shape),',
            '"K": np.einsum("mop,mkp->ok", dZ1, cols).reshape(p["K"].shape)[..., ::-1, ::-1],',
            {"K"},
            {"c", "W", "b"},
        ),
        # max pooling's gradient sent to every entry of the window, not to its maximum
        (
            "dwin = (np.arange(4) == first[..., None]) * dP[..., None]",
            "dwin = np.ones(4) * dP[..., None]",
            {"K", "c"},
            {"W", "b"},
        ),
        # the channels and positions of the flatten swapped in the backward pass
        (
            'dP = (dZ2 @ p["W"].T).reshape(P.shape)',
            'dP = (dZ2 @ p["W"].T).reshape(m, 3, 3, 4).transpose(0, 3, 1, 2)',
            {"K", "c"},
            {"W", "b"},
        ),
    ],
)
def test_bugs_planted_in_a_user_conv_module_are_named(tmp_path, old, new, bad, good):
    text = EXAMPLE.read_text()
    assert text.count(old) == 1
    path = tmp_path / "conv_model.py"
    path.write_text(text.replace(old, new))
    result = gradcheck.check_module(str(path), samples=12)
    verdicts = {p.name: p.verdict for p in result.parameters}
    assert not result.ok
    assert all(verdicts[name] != "ok" for name in bad), verdicts
    assert all(verdicts[name] == "ok" for name in good), verdicts


def test_example_gradient_is_right_against_a_plain_difference():
    """The example itself, checked without lrdiag: one central difference per entry of K."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("my_conv_model", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    p = mod.params()
    g = mod.grad(p)["K"]
    for idx in np.ndindex(*p["K"].shape):
        plus = {k: v.copy() for k, v in p.items()}
        minus = {k: v.copy() for k, v in p.items()}
        plus["K"][idx] += 1e-6
        minus["K"][idx] -= 1e-6
        assert abs((mod.loss(plus) - mod.loss(minus)) / 2e-6 - g[idx]) < 1e-7
