"""Plots of a sweep drawn on axes: loss curves, final loss vs learning rate, the verdict map,
sharpness, and one curve with its verdict.

Like pytorch-lr-finder's ``plot(ax=None)``, each ``plot_*`` function draws on the axes it is
given and returns them; the caller decides the figure and the file (``lrdiag.figures`` lays out
a sweep's figures and writes them).

No pyplot: figures are ``matplotlib.figure.Figure`` objects rendered by the Agg canvas that
``savefig`` picks for PNG, so there is no global figure registry to leak into, no backend to
select, no GUI, and importing this module leaves a user's own pyplot session alone.

Runs are the dicts of ``results.json`` (see results.py); a loss may hold None or NaN after a
divergence, and ``metrics`` may be missing.

One job a module: ``common.py`` (the verdict colours, the learning-rate colour key, loss scales,
legends), ``curves.py`` (against the epoch: ``plot_curves``, ``plot_sharpness``,
``plot_verdict_example``) and ``grid.py`` (across the learning rates: ``plot_final_loss_vs_lr``,
``plot_phase``). This module re-exports their public names.
"""

from lrdiag.plots.common import (
    LEGEND_MAX_LRS,
    MISSING_COLOR,
    UNKNOWN_COLOR,
    VERDICT_COLORS,
    add_lr_key,
    seed_key,
)
from lrdiag.plots.curves import (
    END_LABEL_GAP,
    END_LABELS_MAX,
    LIMIT_REACH,
    Y_CLIP_FACTOR,
    plot_curves,
    plot_sharpness,
    plot_verdict_example,
)
from lrdiag.plots.grid import (
    FINAL_CLIP_FACTOR,
    LR_TICKS_MAX,
    PHASE_TEXT_MAX_LRS,
    plot_final_loss_vs_lr,
    plot_phase,
)
from lrdiag.thresholds import VERDICTS

__all__ = [
    "END_LABELS_MAX",
    "END_LABEL_GAP",
    "FINAL_CLIP_FACTOR",
    "LEGEND_MAX_LRS",
    "LIMIT_REACH",
    "LR_TICKS_MAX",
    "MISSING_COLOR",
    "PHASE_TEXT_MAX_LRS",
    "UNKNOWN_COLOR",
    "VERDICTS",
    "VERDICT_COLORS",
    "Y_CLIP_FACTOR",
    "add_lr_key",
    "plot_curves",
    "plot_final_loss_vs_lr",
    "plot_phase",
    "plot_sharpness",
    "plot_verdict_example",
    "seed_key",
]
