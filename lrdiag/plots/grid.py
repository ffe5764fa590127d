"""Plots across the swept grid of learning rates: the final loss against the learning rate, a
line per init scale, and the verdict map, a cell per learning rate and init scale (or the axis
a sweep compares)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps, rcParams
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import NullLocator

from lrdiag.digest import axis_label, axis_value, final_loss, initial_loss
from lrdiag.formatting import finite, lr_labels
from lrdiag.plots.common import (
    MISSING_COLOR,
    UNKNOWN_COLOR,
    VERDICT_COLORS,
    exit_marker,
    legend_beside,
    loss_cap,
    set_loss_scale,
    set_lr_xlim,
)
from lrdiag.summary import axis_order
from lrdiag.thresholds import VERDICTS

# Final losses far above the start are "blew up", whatever the exact value: more than this
# factor above the highest initial loss is off the top of the chart.
FINAL_CLIP_FACTOR = 10.0
# Up to this many learning rates label the x axis of final loss vs lr with their own values.
LR_TICKS_MAX = 10
# Cells of the verdict map get a "k/n seeds" note only while there are at most this many lrs.
PHASE_TEXT_MAX_LRS = 24
# Severity, worst first: breaks ties of the majority vote toward the worse verdict, since a
# learning rate counts as converging only when all its seeds converge.
_SEVERITY = ("diverging", "oscillating", "plateaued", "converging")


def plot_final_loss_vs_lr(ax: Axes, runs: Sequence[Mapping]) -> Axes:
    """Final loss vs learning rate (log x), one line per init scale (``ax.get_lines()``).

    The line is the median over seeds; it breaks where a seed did not finish finite. The band
    spans the min and max finite final losses; a dotted level marks the scale's median initial
    loss. Runs that finished non-finite, or above the chart (FINAL_CLIP_FACTOR times the
    highest initial loss), are triangles along the top edge in their scale's colour.
    """
    runs = list(runs)
    scales = sorted({r["init_scale"] for r in runs})
    all_lrs = sorted({r["learning_rate"] for r in runs})
    palette = colormaps["tab10"]
    initials = [initial_loss(r) for r in runs]
    cap = loss_cap(initials, FINAL_CLIP_FACTOR)
    finite_finals = []
    off_chart = []  # (scale index, lr)
    for i, scale in enumerate(scales):
        color = palette(i % 10)
        at_scale = [r for r in runs if r["init_scale"] == scale]
        lrs = sorted({r["learning_rate"] for r in at_scale})
        med, lo, hi = [], [], []
        for lr in lrs:
            finals = [final_loss(r) for r in at_scale if r["learning_rate"] == lr]
            ok = [f for f in finals if f is not None]
            finite_finals += ok
            # inf for a seed that did not finish: the median is honest, or inf (a gap).
            m = float(np.median([f if f is not None else np.inf for f in finals]))
            # a median off the chart is a gap: the line never runs up to a triangle
            med.append(m if math.isfinite(m) and m <= cap else np.nan)
            on_chart = [f for f in ok if f <= cap]  # the band spans the finals on the chart
            lo.append(min(on_chart) if on_chart else np.nan)
            hi.append(max(on_chart) if on_chart else np.nan)
            off_chart += [(i, lr)] * sum(f is None or f > cap for f in finals)
        ax.plot(lrs, med, color=color, marker="o", ms=4, lw=1.6, label=f"init scale {scale:g}")
        lo_a, hi_a = np.array(lo), np.array(hi)
        band = np.isfinite(lo_a) & np.isfinite(hi_a)
        if band.any() and np.any(hi_a[band] > lo_a[band]):
            ax.fill_between(lrs, lo_a, hi_a, where=band, color=color, alpha=0.18, lw=0)
        start = [x for x in (initial_loss(r) for r in at_scale) if x is not None]
        if start:
            # hlines, a LineCollection: get_lines() stays one line per scale
            ax.hlines(
                float(np.median(start)),
                0,
                1,
                transform=ax.get_yaxis_transform(),
                colors=[color],
                linestyles=":",
                lw=1.2,
                alpha=0.8,
            )
    set_lr_xlim(ax, all_lrs)
    ax.set_xscale("log")
    shown = np.array(finite_finals + [x for x in initials if x is not None], dtype=float)
    if shown.size:
        set_loss_scale(ax, shown, initials, FINAL_CLIP_FACTOR)
        if off_chart:  # room along the top for the rows of triangles
            rows = len({k for k, _ in off_chart})
            grow = 0.05 + 0.045 * rows
            bottom, top = ax.get_ylim()
            if ax.get_yscale() == "log":
                ax.set_ylim(bottom, top * (top / bottom) ** grow)
            else:
                ax.set_ylim(bottom, top + grow * (top - bottom))
    if not finite_finals:
        ax.text(
            0.5,
            0.3,
            "no run finished with a finite loss",
            ha="center",
            va="center",
            transform=ax.transAxes,
            bbox={"fc": "white", "ec": "grey", "boxstyle": "round"},
        )
    if 0 < len(all_lrs) <= LR_TICKS_MAX:  # tick the swept values
        labels = lr_labels(all_lrs)
        ax.set_xticks(all_lrs, [labels[lr] for lr in all_lrs])
        ax.xaxis.set_minor_locator(NullLocator())
    for row, i in enumerate(sorted({k for k, _ in off_chart})):
        xs = [lr for k, lr in off_chart if k == i]
        if xs:
            ax.scatter(
                xs,
                [0.965 - 0.04 * row] * len(xs),
                transform=ax.get_xaxis_transform(),
                marker="^",
                s=36,
                color=palette(i % 10),
                edgecolors="black",
                linewidths=0.5,
                zorder=3,
                clip_on=False,
            )
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final training loss")
    ax.grid(True, which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="grey", ls=":", label="initial loss"))
    if len({r.get("seed") for r in runs}) > 1:
        handles.append(Patch(color="grey", alpha=0.3, label="min-max over seeds"))
    if off_chart:
        handles.append(exit_marker("diverged / off the chart"))
    legend_beside(ax, handles)
    return ax


def _majority(verdicts: list[Any]) -> tuple[Any, int]:
    """The most common verdict (ties go to the worse one) and how many seeds gave it."""
    counts = Counter(verdicts)
    rank = {v: i for i, v in enumerate(_SEVERITY)}
    best = min(counts, key=lambda v: (-counts[v], rank.get(v, len(rank)), str(v)))
    return best, counts[best]


def plot_phase(
    ax: Axes,
    runs: Sequence[Mapping],
    *,
    predicted: Mapping[Any, float] | None = None,
    axis: str = "init_scale",
) -> Axes:
    """The verdict map: a cell per (learning rate, init scale), coloured by the majority
    verdict over seeds. A cell whose seeds disagree is split by share of seeds, worst verdict
    first, the minority's parts hatched, with a ``k/n`` note (k seeds of n gave the majority).
    When every run converged, a note says the grid never reached the stability limit.
    ``axis`` is the map's second axis: init_scale, or the axis a sweep compares
    (warmup_steps, optimizer, ...); its cells then hold every run with that value.

    ``predicted`` maps init scale -> a predicted critical learning rate, drawn as diamonds
    (the only Line2D on the axes, markers only: the predictions of different init scales are
    not joined, which would read as a boundary), interpolated on the log-lr axis between
    cells; a value beyond the swept range by more than half a cell sits on the edge of the map,
    drawn whole, with its value beside it.
    """
    runs = list(runs)
    lrs = sorted({r["learning_rate"] for r in runs})
    scales = sorted({r.get(axis) for r in runs}, key=axis_order)
    kinds = [*VERDICTS, "unknown", "missing"]
    colors = [VERDICT_COLORS[v] for v in VERDICTS] + [UNKNOWN_COLOR, MISSING_COLOR]
    cell = np.full((len(scales), len(lrs)), kinds.index("missing"))
    disagree = []
    for j, scale in enumerate(scales):
        for i, lr in enumerate(lrs):
            verdicts = [
                r.get("verdict") for r in runs if r.get(axis) == scale and r["learning_rate"] == lr
            ]
            if not verdicts:
                continue
            majority, count = _majority(verdicts)
            cell[j, i] = kinds.index(majority) if majority in VERDICTS else kinds.index("unknown")
            if count < len(verdicts):
                disagree.append((i, j, count, verdicts))

    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(len(kinds) + 1) - 0.5, len(kinds))
    ax.pcolormesh(
        np.arange(len(lrs) + 1) - 0.5,
        np.arange(len(scales) + 1) - 0.5,
        cell,
        cmap=cmap,
        norm=norm,
        edgecolors="white",
        linewidth=1.5,
    )
    for i, j, count, verdicts in disagree:
        # the cell split by share of seeds, worst verdict first; the note counts the majority
        x = i - 0.5
        shares = Counter(verdicts)
        majority = _majority(verdicts)[0]
        for v in sorted(shares, key=lambda v: _SEVERITY.index(v) if v in _SEVERITY else 9):
            width = shares[v] / len(verdicts)
            color = VERDICT_COLORS.get(str(v), UNKNOWN_COLOR)
            hatch = None if v == majority else "//"
            ax.add_patch(
                Rectangle((x, j - 0.5), width, 1, fc=color, ec="white", lw=1.5, hatch=hatch)
            )
            x += width
        if len(lrs) <= PHASE_TEXT_MAX_LRS:
            ax.text(
                i,
                j,
                f"{count}/{len(verdicts)}",
                ha="center",
                va="center",
                fontsize="small",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    seen = cell[cell != kinds.index("missing")]
    if seen.size and (seen == kinds.index("converging")).all() and not disagree:
        ax.text(
            0.5,
            0.5,
            "every run converged: the grid never reached the stability limit\n"
            "(sweep larger learning rates to find it)",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize="small",
            bbox={"boxstyle": "round", "fc": "white", "ec": "grey", "alpha": 0.9},
            zorder=1.5,  # over the map, under the predicted diamonds
        )

    handles: list[Artist] = [Patch(color=VERDICT_COLORS[v], label=v) for v in VERDICTS]
    if (cell == kinds.index("unknown")).any():
        handles.append(Patch(color=UNKNOWN_COLOR, label="other"))
    if (cell == kinds.index("missing")).any():
        handles.append(Patch(facecolor=MISSING_COLOR, edgecolor="grey", label="not run"))
    if disagree:
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="#333333",
                hatch="//",
                label="seeds disagree (split by share)",
            )
        )

    tick_pad = rcParams["ytick.major.pad"]
    if predicted and lrs:
        log_lrs = np.log10(lrs)
        xs, ys = [], []
        for j, scale in enumerate(scales):
            lr = finite(predicted.get(scale))
            if lr is None or lr <= 0:
                continue
            if len(lrs) == 1:
                x = 0.0 if lr == lrs[0] else (-0.5 if lr < lrs[0] else 0.5)
            else:  # linear in log lr between cell centres, half a cell beyond the ends
                x = float(np.interp(np.log10(lr), log_lrs, np.arange(len(lrs))))
                step = (log_lrs[-1] - log_lrs[0]) / (len(lrs) - 1)
                if np.log10(lr) < log_lrs[0]:
                    x = max(-0.5, (np.log10(lr) - log_lrs[0]) / step)
                elif np.log10(lr) > log_lrs[-1]:
                    x = min(len(lrs) - 0.5, len(lrs) - 1 + (np.log10(lr) - log_lrs[-1]) / step)
            xs.append(x)
            ys.append(j)
            if not -0.5 < x < len(lrs) - 0.5:  # pinned to an edge: say how far off it is
                left = x <= -0.5
                ax.annotate(
                    f"← {lr:.3g}" if left else f"{lr:.3g} →",
                    (x, j),
                    xytext=(8 if left else -8, 0),
                    textcoords="offset points",
                    ha="left" if left else "right",
                    va="center",
                    fontsize="small",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                )
        if xs and min(xs) <= -0.5:  # the tick labels make room for a diamond on the left edge
            tick_pad = 7.0
        if xs:
            # unclipped: a diamond on the map's edge is drawn whole, not halved
            (line,) = ax.plot(
                xs,
                ys,
                color="black",
                marker="D",
                ms=7,
                mfc="white",
                mew=1.5,
                ls="none",  # one per init scale: joined, they would read as a boundary
                label="predicted critical lr (per scale)",
                clip_on=False,
            )
            handles.append(line)

    labels = lr_labels(lrs)
    ax.set_xticks(range(len(lrs)))
    ax.set_xticklabels([labels[lr] for lr in lrs], rotation=45 if len(lrs) > 6 else 0)
    ax.set_yticks(range(len(scales)))
    ax.set_yticklabels([axis_value(s, axis) for s in scales])
    ax.set_xlim(-0.5, len(lrs) - 0.5)
    ax.set_ylim(-0.5, len(scales) - 0.5)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(axis_label(axis))
    ax.tick_params(length=0)
    ax.tick_params(axis="y", pad=tick_pad)
    for spine in ax.spines.values():
        spine.set_visible(False)
    legend_beside(ax, handles)
    return ax
