"""Lints: config and data mistakes that look like learning-rate problems, named with numbers.

``check_config(cfg, dataset)`` runs the lints that need no training (``saturated_init`` and
``dead_relu`` look at the initial weights of every init scale, first seed, on at most
INIT_ROWS training rows); ``check_grid(cfg, summary)`` runs ``grid_misses_boundary`` on a
sweep's summary. Each returns a list of ``Lint`` (id, one-line message with the measured
numbers, why it matters for the learning rate, the fix), in ``LINTS`` order. Plain NumPy;
nothing here prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from lrdiag.config import LINT_IDS

if TYPE_CHECKING:  # annotations only: no import at run time
    from lrdiag.config import Config
    from lrdiag.data import Dataset

LINTS = LINT_IDS

# --- Thresholds, named once -------------------------------------------------------------------
# Inputs whose root-mean-square sqrt(mean x^2) over every entry exceeds this are unscaled: it
# is large for a large scale or a large offset (raw pixels: ~100), ~1 for standardised data
# (whose max |x| can still be 40 on a rarely nonzero pixel, so the max is only quoted).
UNSCALED_RMS = 10.0
SATURATION_Z = 3.0  # a tanh/sigmoid pre-activation beyond ±this is saturated (tanh' < 0.01)
SATURATED_FRACTION = 0.5  # a layer with more than this share saturated at init fires
DEAD_FRACTION = 0.5  # a ReLU layer with more than this share of units never firing fires
GRID_BRACKET_FACTOR = 3.0  # a bracket wider than this factor asks for a finer grid
GRID_EXTEND = 100.0  # how far a grid that misses the boundary is extended (a factor)
GRID_POINTS = 5  # values in the suggested learning_rates
INIT_ROWS = 1024  # training rows the init lints look at, at most
SATURATING = ("tanh", "sigmoid")
DEAD_CAN = ("relu",)


@dataclass(frozen=True)
class Lint:
    id: str
    message: str  # one line, with the measured numbers
    why: str  # why it matters for the learning rate
    fix: str

    def to_dict(self) -> dict:
        return asdict(self)


def _per_layer(shares) -> str:
    """A share per hidden layer, in words: "layer 1 62%, layer 2 0%"."""
    return ", ".join(f"layer {i + 1} {f:.0%}" for i, f in enumerate(shares))


def _first_scale_over(share: np.ndarray, limit: float) -> tuple[int, str] | None:
    """The first init scale (row of ``share``: scales x hidden layers) with a layer over
    ``limit``, and its layers' shares in words; None when no scale has one."""
    hit = np.flatnonzero(share.max(axis=1) > limit)
    if not hit.size:
        return None
    r = int(hit[0])
    return r, _per_layer(share[r])


def check_config(cfg: Config, dataset: Dataset) -> list[Lint]:
    """The lints that need no training, on ``cfg`` and its loaded ``dataset``."""
    found = [
        _output_loss_mismatch(cfg),
        _unscaled_inputs(cfg, dataset.X),
        _sum_reduction(cfg, len(dataset.X)),
        *_init_lints(cfg, dataset.X),
    ]
    return _kept(cfg, [lint for lint in found if lint is not None])


def _kept(cfg, found: list[Lint]) -> list[Lint]:
    """``found`` without the lints the config's ``lints.ignore`` names."""
    return [lint for lint in found if lint.id not in cfg.lints.ignore]


def check_grid(cfg: Config, summary: dict, runs: list[dict]) -> list[Lint]:
    """``grid_misses_boundary`` for a sweep's summary and result rows (verdicts)."""
    notes = []
    rates = sorted(cfg.sweep.learning_rates)
    for s in summary.get("per_scale", []):
        scale = s["init_scale"]
        verdicts = [r["verdict"] for r in runs if r["init_scale"] == scale]
        bracket = s.get("bracket")
        if all(v == "converging" for v in verdicts):
            lo, hi = rates[-1], rates[-1] * GRID_EXTEND
            notes.append(f"every lr converges at init scale {scale:g}: extend upward to {hi:.3g}")
        elif all(v == "diverging" for v in verdicts):
            lo, hi = rates[0] / GRID_EXTEND, rates[0]
            notes.append(f"every lr diverges at init scale {scale:g}: extend downward to {lo:.3g}")
        elif bracket and bracket[1] / bracket[0] > GRID_BRACKET_FACTOR:
            lo, hi = bracket
            notes.append(
                f"the bracket at init scale {scale:g} is {lo:g} -> {hi:g}, a factor of "
                f"{hi / lo:.3g}: refine between them"
            )
        else:
            continue
        grid = ", ".join(f"{v:.3g}" for v in np.geomspace(lo, hi, GRID_POINTS))
        paste = f"learning_rates: [{grid}]"
        lint = Lint(
            "grid_misses_boundary",
            f"{notes[0]}; next sweep: `{paste}`",
            "the largest stable learning rate lies outside the grid or between two rates "
            f"more than {GRID_BRACKET_FACTOR:g}x apart, so the sweep cannot say where it is",
            f"sweep again with `{paste}`",
        )
        return _kept(cfg, [lint])
    return []


def _output_loss_mismatch(cfg: Config) -> Lint | None:
    output, loss = cfg.model.output, cfg.model.loss
    if (output, loss) == ("sigmoid", "cross_entropy"):
        return Lint(
            "output_loss_mismatch",
            "output sigmoid with loss cross_entropy: the loss is softmax cross-entropy of the "
            "logits (what tf.keras computes), and the sigmoid takes no part in it",
            "the loss follows the logits' scale, which each step changes by about lr x |x|: "
            "a larger learning rate gives a larger loss without anything diverging",
            "output: softmax for one label per sample (or sigmoid with bce for several)",
        )
    return None


def _unscaled_inputs(cfg: Config, X: np.ndarray) -> Lint | None:
    if not X.size:
        return None
    rms = float(np.sqrt(np.mean(X * X)))
    if rms <= UNSCALED_RMS:
        return None
    big = float(np.max(np.abs(X)))
    mean, std = X.mean(axis=0), X.std(axis=0)
    lr = max(cfg.sweep.learning_rates)
    return Lint(
        "unscaled_inputs",
        f"max |x| = {big:.3g}, rms {rms:.3g} (feature means up to "
        f"{float(np.max(np.abs(mean))):.3g}, stds up to {float(np.max(std)):.3g}): every step "
        f"moves the logits by lr x {big:.3g} x the error per input, {lr * big:.3g} at lr {lr:g}",
        "the step in the logits, and with it the loss of a misclassified sample, grows with "
        "lr x input scale: losses grow with the learning rate, and the usable rates are "
        f"up to about {rms * rms:.3g} (rms squared) times smaller than for inputs near 1",
        "data: {standardize: true} (or divide by the range, e.g. x / 255)",
    )


def _sum_reduction(cfg: Config, n_train: int) -> Lint | None:
    if cfg.training.loss_reduction != "sum":
        return None
    batch = cfg.training.batch_size or n_train
    rates = sorted(cfg.sweep.learning_rates)
    eff = ", ".join(f"{lr * batch:.3g}" for lr in rates)
    return Lint(
        "sum_reduction",
        f"loss_reduction: sum over batches of {batch}: the learning rates "
        f"{', '.join(f'{lr:g}' for lr in rates)} step like {eff} on the mean loss",
        f"a summed loss's gradient is {batch} times the mean's, so the stable learning rates "
        f"are {batch} times smaller and change with the batch size",
        f"training: {{loss_reduction: mean}} with the learning rates times {batch}",
    )


def _init_lints(cfg: Config, X: np.ndarray) -> list[Lint]:
    """saturated_init and dead_relu at the initial weights (first seed, each init scale)."""
    from lrdiag import model  # the numeric core; imported here to keep imports light

    act = cfg.model.activation
    if not cfg.model.hidden or act not in (*SATURATING, *DEAD_CAN):
        return []
    rows = X[:INIT_ROWS]
    sizes = model.layer_sizes(X.shape[1], cfg.model.hidden, 1)
    scales = np.array(cfg.init.scales, dtype=np.float64)
    params = model.init_params(
        sizes,
        cfg.init.scheme,
        scales,
        [cfg.training.seeds[0]] * len(scales),
        np.float64,
        path=cfg.init.path,
    )
    _, cache = model.forward(params, rows, cfg.model, keep=True)
    zs = [z for _, z, _ in cache[:-1]]  # the hidden layers' pre-activations, (R, B, H) each
    found = []
    if act in SATURATING:
        share = np.array(
            [[np.mean(np.abs(z[r]) > SATURATION_Z) for z in zs] for r in range(len(scales))]
        )
        worst = _first_scale_over(share, SATURATED_FRACTION)
        if worst is not None:
            r, per_layer = worst
            found.append(
                Lint(
                    "saturated_init",
                    f"at init scale {scales[r]:g}, {act} pre-activations beyond ±{SATURATION_Z:g}: "
                    f"{per_layer}",
                    f"a saturated {act} passes almost no gradient, so small learning rates look "
                    "plateaued and the rate that finally moves the weights overshoots",
                    "init: {scheme: xavier} (or lecun), or a smaller init scale",
                )
            )
    if act in DEAD_CAN:
        share = np.array(
            [[np.mean(np.all(z[r] <= 0, axis=0)) for z in zs] for r in range(len(scales))]
        )
        worst = _first_scale_over(share, DEAD_FRACTION)
        if worst is not None:
            r, per_layer = worst
            found.append(
                Lint(
                    "dead_relu",
                    f"at init scale {scales[r]:g}, ReLU units that never fire on the "
                    f"{len(rows)} training rows: {per_layer}",
                    "a dead unit gets no gradient at any learning rate, so the network is "
                    "smaller than configured and a large rate kills more units",
                    "init: {scheme: he}, standardized inputs, or activation: leaky_relu",
                )
            )
    return found


TRAINED_SHOWN = 3  # runs named in the message of dead_relu after training (the rest counted)


def check_trained(cfg: Config, runs, dead_end) -> list[Lint]:
    """``dead_relu`` after training: ``dead_end`` (R, hidden layers) is TrainResult.dead_end,
    the share of each layer's ReLU units that never fire on the training rows (NaN: diverged or
    interrupted; None: not a ReLU network). ``runs`` are the sweep's Runs, in the same order."""
    if dead_end is None or not len(runs):
        return []
    filled = np.where(np.isnan(dead_end), -1.0, dead_end)
    hit = [i for i in range(len(runs)) if filled[i].max() > DEAD_FRACTION]
    if not hit:
        return []
    hit.sort(key=lambda i: (runs[i].learning_rate, runs[i].init_scale, runs[i].seed))
    named = []
    for i in hit[:TRAINED_SHOWN]:
        r = runs[i]
        named.append(
            f"lr {r.learning_rate:g} (scale {r.init_scale:g}, seed {r.seed}): "
            f"{_per_layer(dead_end[i])}"
        )
    more = f"; and {len(hit) - TRAINED_SHOWN} more" if len(hit) > TRAINED_SHOWN else ""
    lint = Lint(
        "dead_relu",
        f"after training, ReLU units that never fire on the training rows, in {len(hit)} of "
        f"{len(runs)} runs: {'; '.join(named)}{more}",
        "a large step pushes units below zero on every sample, where they get no gradient "
        "again: the learning rate itself shrinks the network, and the loss stalls",
        "a smaller learning rate, activation: leaky_relu, or init: {scheme: he}",
    )
    return _kept(cfg, [lint])
