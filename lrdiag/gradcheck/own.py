"""lrdiag's own model checked: ``check_config`` checks backprop for a config, with the
ReLU kinks (the signs of the pre-activations) passed to the check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lrdiag.gradcheck.finite import check_gradients
from lrdiag.gradcheck.result import DEFAULT_SAMPLES, GradcheckResult

if TYPE_CHECKING:  # annotations only: no import at run time
    from lrdiag.config import Config

# --- lrdiag's own model -------------------------------------------------------------------------

# check_config uses at most this many training samples: whether backprop is right does not
# depend on the data size, and a big dataset would make every probe slow.
CONFIG_MAX_ROWS = 256
KINKED_ACTIVATIONS = ("relu", "leaky_relu")  # lrdiag's activations with a kink (at 0)


def _conv_kinks(layer, saved) -> list[np.ndarray]:
    """A conv net layer's kink pattern from what its forward pass kept (lrdiag.convnet):
    the signs of a (leaky) ReLU's outputs, the winning offset of each max pooling window."""
    _, kept, out = saved
    parts = []
    if layer.activation in KINKED_ACTIVATIONS:
        parts.append((out > 0).ravel().astype(np.int64))
    if layer.kind == "maxpool":
        parts.append(kept.ravel().astype(np.int64))
    return parts


def check_config(cfg: Config, *, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> GradcheckResult:
    """Check lrdiag's own model for ``cfg`` at the first run's initial weights, in float64.

    The first run is the first init scale and the first seed; the data are the config's dataset
    (its first CONFIG_MAX_ROWS samples). Parameters are reported without the run axis.
    """
    from lrdiag import data, sweep  # the numeric core; imported here to keep imports light

    dataset = data.load_dataset(cfg.data, cfg.model, file=cfg.source)
    X = np.asarray(sweep.inputs(cfg, dataset.X, dataset), dtype=np.float64)[:CONFIG_MAX_ROWS]
    Y = np.asarray(dataset.Y, dtype=np.float64)[:CONFIG_MAX_ROWS]
    net = sweep.network(cfg)  # lrdiag.model (the MLP) or lrdiag.convnet
    batched = net.init_params(
        sweep.architecture(cfg, X.shape[1:], Y.shape[1]),
        cfg.init.scheme,
        np.array([cfg.init.scales[0]], dtype=np.float64),
        np.array([cfg.training.seeds[0]]),
        np.float64,
        path=cfg.init.path,
    )
    params = {k: np.array(v[0], dtype=np.float64) for k, v in batched.items()}

    def loss_fn(p):
        return net.loss({k: v[None] for k, v in p.items()}, X, Y, cfg.model)[0]

    def grad_fn(p):
        _, grads = net.loss_and_grads({k: v[None] for k, v in p.items()}, X, Y, cfg.model)
        return {k: v[0] for k, v in grads.items()}

    kinks = None
    if cfg.model.layers is not None:  # ReLU kinks, and which entry wins each max pooling window
        built = sweep.architecture(cfg, X.shape[1:], Y.shape[1])

        def kinks(p):
            _, saved = net.forward({k: v[None] for k, v in p.items()}, X, cfg.model, keep=True)
            pairs = zip(built.layers, saved, strict=True)
            return np.concatenate([part for pair in pairs for part in _conv_kinks(*pair)])

    elif cfg.model.activation in KINKED_ACTIVATIONS and cfg.model.hidden:  # kinks at z = 0

        def kinks(p):
            _, cache = net.forward({k: v[None] for k, v in p.items()}, X, cfg.model, keep=True)
            return np.concatenate([(z > 0).ravel() for _, z, _ in cache[:-1]])

    result = check_gradients(
        loss_fn,
        grad_fn,
        params,
        samples=samples,
        seed=seed,
        n_samples=X.shape[0],
        source=cfg.source or cfg.name,
        kinks=kinks,
    )
    if dataset.X.shape[0] > X.shape[0]:
        note = f"checked on the first {X.shape[0]} of {dataset.X.shape[0]} samples"
        result = GradcheckResult(
            result.parameters, (*result.warnings, note), result.source, result.samples, seed
        )
    return result
