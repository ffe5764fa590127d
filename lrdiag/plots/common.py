"""What every plot shares: the verdict colours, the learning-rate colour key, loss scales,
legends beside the axes, and runs read as float arrays.

Runs are the dicts of ``results.json`` (see results.py); a loss may hold None or NaN after a
divergence, and ``metrics`` may be missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.figure import FigureBase
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from lrdiag.formatting import lr_labels

# Verdict colours (colour-blind aware: green / amber / red / blue differ in lightness too).
VERDICT_COLORS = {
    "converging": "#2e9e5b",
    "oscillating": "#f2b134",
    "diverging": "#c8334a",
    "plateaued": "#5b8fd1",
}
UNKNOWN_COLOR = "#b0b0b0"  # a verdict this module does not know
MISSING_COLOR = "#ffffff"  # no run in this cell (an interrupted sweep)

# Up to this many learning rates get a legend entry each; more get a colour bar.
LEGEND_MAX_LRS = 8
# The colour map of learning rates: viridis without its pale yellow end, which vanishes on white.
LR_CMAP = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.88, 256)), name="lr")


# --------------------------------------------------------------------------- runs


def loss_array(values: Any) -> np.ndarray:
    """A float array with NaN for None (JSON) and for non-finite values."""
    if values is None:
        return np.zeros(0)
    arr = np.array(values, dtype=float).ravel()  # None becomes NaN
    arr[~np.isfinite(arr)] = np.nan
    return arr


def seed_key(seed: Any) -> tuple[str, Any]:
    """Seeds sort by type name, then value (a hand-made doc's seeds may not be ints)."""
    return (type(seed).__name__, seed)


# --------------------------------------------------------------------------- scales


def lr_norm(lrs: Sequence[float]) -> Normalize:
    """The learning rates' colour scale: logarithmic over the positive ones."""
    positive = [lr for lr in lrs if lr > 0]
    lo, hi = (min(positive), max(positive)) if positive else (1.0, 1.0)
    if lo == hi:  # one learning rate: give the norm a range so it maps to mid-colour
        lo, hi = lo / math.sqrt(10), hi * math.sqrt(10)
    return LogNorm(vmin=lo, vmax=hi)


def lr_color(norm: Normalize, lr: float) -> Any:
    """A learning rate's colour on ``norm`` (black for a rate of 0 or below, off the scale)."""
    return LR_CMAP(norm(lr)) if lr > 0 else "black"


def loss_cap(initials: Iterable[float | None], clip_factor: float) -> float:
    """The top of a loss chart: ``clip_factor`` times the highest initial loss (inf if none)."""
    inits = [abs(x) for x in initials if x is not None and x != 0]
    return clip_factor * max(inits) if inits else np.inf


def _log_pad(lo: float, hi: float) -> float:
    """The factor that pads log limits lo..hi by 5% of the decades shown (at least one)."""
    return 10 ** (0.05 * max(math.log10(hi / lo), 1.0))


def set_loss_scale(
    ax: Axes, values: np.ndarray, initials: Iterable[float | None], clip_factor: float
) -> None:
    """Log scale when every finite value is positive (limits padded by 5% of the decades
    shown), symlog when some are zero or negative. The top is capped at ``clip_factor`` times
    the highest initial loss, so a run that blows up leaves through the top edge."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    cap = loss_cap(initials, clip_factor)
    if np.all(values > 0):
        lo, hi = float(values.min()), float(values.max())
        clipped = hi > cap
        hi = max(min(hi, cap), lo)
        pad = _log_pad(lo, hi)
        # limits first: they turn autoscaling off, whose padding of a loss near float64's
        # largest (1e303) overflowed matplotlib's exp (a RuntimeWarning) when the scale changed
        ax.set_ylim(lo / pad, hi if clipped else hi * pad)
        ax.set_yscale("log")
        return
    if np.any(values != 0):
        nonzero = np.abs(values[values != 0])
        ax.set_yscale("symlog", linthresh=float(nonzero.min()))
    if values.max() > cap:
        ax.set_ylim(top=cap)


def set_lr_xlim(ax: Axes, lrs: Sequence[float]) -> None:
    """Log-x limits that show every learning rate, padded by 5% of the decades."""
    positive = [lr for lr in lrs if lr > 0]
    if not positive:
        return
    lo, hi = min(positive), max(positive)
    pad = _log_pad(lo, hi)
    ax.set_xlim(lo / pad, hi * pad)


def readable_log_ticks(ax: Axes) -> None:
    """On a log axis spanning less than a decade, plain numbers at a few steps (0.6, 0.7), not
    the one power of ten (or none) matplotlib would label."""
    if ax.get_yscale() != "log":
        return
    lo, hi = ax.get_ylim()
    if lo <= 0 or hi / lo >= 10:
        return
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))
    ax.yaxis.set_minor_locator(NullLocator())


# --------------------------------------------------------------------------- keys and legends


def exit_marker(label: str) -> Line2D:
    """The legend entry of the ``^`` that marks a run where it left the top of a chart."""
    return Line2D([], [], color="grey", marker="^", mec="black", ls="none", label=label)


def legend_beside(ax: Axes, handles: Sequence[Artist]) -> None:
    """The axes' legend to the right of the axes, its top level with theirs, without a frame."""
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        frameon=False,
    )


def _lr_handles(lrs: Sequence[float], *, diverged: bool) -> list[Any]:
    """Legend handles: a line per learning rate, then the divergence marker."""
    norm = lr_norm(lrs)
    labels = lr_labels(lrs)
    handles: list[Any] = [
        Line2D([], [], color=lr_color(norm, lr), lw=1.6, label=f"lr {labels[lr]}") for lr in lrs
    ]
    if diverged:
        handles.append(exit_marker("diverged: left the chart here"))
    return handles


def add_lr_key(fig: FigureBase, axes: Any, lrs: Sequence[float], *, diverged: bool) -> None:
    """One key for the learning-rate colours of ``axes``: a legend up to LEGEND_MAX_LRS learning
    rates, else a colour bar (plus a one-entry legend for the divergence marker). With
    ``lrs`` empty (the curves carry their labels), only the divergence marker's entry."""
    if not lrs:
        if diverged:
            fig.legend(handles=_lr_handles([], diverged=True), loc="outside right center",
                       fontsize="small", frameon=False)  # fmt: skip
        return
    target = axes if isinstance(axes, Axes) else list(np.ravel(axes))
    if len(lrs) <= LEGEND_MAX_LRS:
        handles = _lr_handles(lrs, diverged=diverged)
        if isinstance(axes, Axes):
            legend_beside(axes, handles)
        else:
            fig.legend(handles=handles, loc="outside right center", fontsize="small", frameon=False)
        return
    sm = ScalarMappable(norm=lr_norm(lrs), cmap=LR_CMAP)
    fig.colorbar(sm, ax=target, label="learning rate", pad=0.02, aspect=30)
    if diverged and isinstance(axes, Axes):
        axes.legend(handles=_lr_handles([], diverged=True), loc="lower left", fontsize="small")
    elif diverged:
        fig.legend(
            handles=_lr_handles([], diverged=True),
            loc="outside lower right",
            fontsize="small",
            frameon=False,
        )
