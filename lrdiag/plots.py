"""Plots of a sweep drawn on axes: loss curves, final loss vs learning rate, the verdict map,
sharpness, and one curve with its verdict.

Like pytorch-lr-finder's ``plot(ax=None)``, each ``plot_*`` function draws on the axes it is
given and returns them; the caller decides the figure and the file (``lrdiag.figures`` lays out
a sweep's figures and writes them).

No pyplot: figures are ``matplotlib.figure.Figure`` objects rendered by the Agg canvas that
``savefig`` picks for PNG, so there is no global figure registry to leak into, no backend to
select, no GUI, and importing this module leaves a user's own pyplot session alone.

Runs are the dicts of ``results.json`` (see report.py); a loss may hold None or NaN after a
divergence, and ``metrics`` may be missing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps, rcParams
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm, Normalize
from matplotlib.figure import FigureBase
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

from lrdiag.digest import final_loss, initial_loss
from lrdiag.formatting import finite, lr_labels
from lrdiag.thresholds import VERDICTS

# Verdict colours (colour-blind aware: green / amber / red / blue differ in lightness too).
VERDICT_COLORS = {
    "converging": "#2e9e5b",
    "oscillating": "#f2b134",
    "diverging": "#c8334a",
    "plateaued": "#5b8fd1",
}
UNKNOWN_COLOR = "#b0b0b0"  # a verdict this module does not know
MISSING_COLOR = "#ffffff"  # no run in this cell (an interrupted sweep)

# Losses more than this factor above the highest initial loss are off the top of a chart:
# a diverging run shoots out of the frame instead of squashing every other curve flat.
Y_CLIP_FACTOR = 100.0
# sharpness.png: a learning rate's 2/lr line up to this factor above the highest sharpness is
# drawn (the chart grows to it); farther up, its run is far from its limit and the line stays off.
LIMIT_REACH = 10.0
# The same for final losses: far above the start is "blew up", whatever the exact value.
FINAL_CLIP_FACTOR = 10.0
# Up to this many learning rates get a legend entry each; more get a colour bar.
LEGEND_MAX_LRS = 8
# Up to this many learning rates get their value written at the end of their curve ...
END_LABELS_MAX = 12
# ... at least this far apart (a fraction of the axes' height), so that neighbours never touch.
END_LABEL_GAP = 0.055
# Up to this many learning rates label the x axis of final loss vs lr with their own values.
LR_TICKS_MAX = 10
# Cells of the verdict map get a "k/n seeds" note only while there are at most this many lrs.
PHASE_TEXT_MAX_LRS = 24
# Severity, worst first: breaks ties of the majority vote toward the worse verdict, since a
# learning rate counts as converging only when all its seeds converge.
_SEVERITY = ("diverging", "oscillating", "plateaued", "converging")
# The colour map of learning rates: viridis without its pale yellow end, which vanishes on white.
_LR_CMAP = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.88, 256)), name="lr")


# --------------------------------------------------------------------------- helpers


def _loss_array(values: Any) -> np.ndarray:
    """A float array with NaN for None (JSON) and for non-finite values."""
    if values is None:
        return np.zeros(0)
    arr = np.array(values, dtype=float).ravel()  # None becomes NaN
    arr[~np.isfinite(arr)] = np.nan
    return arr


def seed_key(seed: Any) -> tuple[str, Any]:
    """Seeds sort by type name, then value (a hand-made doc's seeds may not be ints)."""
    return (type(seed).__name__, seed)


def _lr_norm(lrs: Sequence[float]) -> Normalize:
    positive = [lr for lr in lrs if lr > 0]
    lo, hi = (min(positive), max(positive)) if positive else (1.0, 1.0)
    if lo == hi:  # one learning rate: give the norm a range so it maps to mid-colour
        lo, hi = lo / math.sqrt(10), hi * math.sqrt(10)
    return LogNorm(vmin=lo, vmax=hi)


def _set_loss_scale(
    ax: Axes, values: np.ndarray, initials: Iterable[float | None], clip_factor: float
) -> None:
    """Log scale when every finite value is positive (limits padded by 5% of the decades
    shown), symlog when some are zero or negative. The top is capped at ``clip_factor`` times
    the highest initial loss, so a run that blows up leaves through the top edge."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    inits = [abs(x) for x in initials if x is not None and x != 0]
    cap = clip_factor * max(inits) if inits else np.inf
    if np.all(values > 0):
        lo, hi = float(values.min()), float(values.max())
        clipped = hi > cap
        hi = max(min(hi, cap), lo)
        pad = 10 ** (0.05 * max(math.log10(hi / lo), 1.0))
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


def _set_lr_xlim(ax: Axes, lrs: Sequence[float]) -> None:
    """Log-x limits that show every learning rate, padded by 5% of the decades."""
    positive = [lr for lr in lrs if lr > 0]
    if not positive:
        return
    lo, hi = min(positive), max(positive)
    pad = 10 ** (0.05 * max(math.log10(hi / lo), 1.0))
    ax.set_xlim(lo / pad, hi * pad)


# --------------------------------------------------------------------------- axes functions


def _lr_handles(lrs: Sequence[float], *, diverged: bool) -> list[Any]:
    """Legend handles: a line per learning rate, then the divergence marker."""
    norm = _lr_norm(lrs)
    labels = lr_labels(lrs)
    handles: list[Any] = [
        Line2D(
            [],
            [],
            color=_LR_CMAP(norm(lr)) if lr > 0 else "black",
            lw=1.6,
            label=f"lr {labels[lr]}",
        )
        for lr in lrs
    ]
    if diverged:
        handles.append(
            Line2D(
                [],
                [],
                color="grey",
                marker="^",
                mec="black",
                ls="none",
                label="diverged: left the chart here",
            )
        )
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
            axes.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                fontsize="small",
                frameon=False,
            )
        else:
            fig.legend(handles=handles, loc="outside right center", fontsize="small", frameon=False)
        return
    sm = ScalarMappable(norm=_lr_norm(lrs), cmap=_LR_CMAP)
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


def plot_curves(
    ax: Axes,
    runs: Sequence[Mapping],
    *,
    title: str | None = None,
    legend: bool = True,
    end_labels: bool = True,
) -> Axes:
    """Loss vs epoch, one line per run (``ax.get_lines()`` has one Line2D a run, in order).

    Colour encodes the learning rate on a log scale; smaller learning rates are drawn over
    larger ones. When the runs hold several seeds, the first seed is drawn solid and the others
    faint (under every solid line). The top is capped at Y_CLIP_FACTOR times the highest initial
    loss. A run that diverged (its verdict, or a non-finite loss) ends where it left the chart
    (went above the top, or non-finite): its line rises to the top edge at that epoch and stops
    there under a ``^`` marker (``ax.collections[0]``), instead of a tangle along the top.
    With ``end_labels`` (up to END_LABELS_MAX learning rates) each solid curve's learning rate
    is written at its end, in its colour: beside the right edge for a curve that stayed, beside
    its marker for one that left. With ``legend``: an entry per learning rate, or a colour bar
    when there are more than LEGEND_MAX_LRS of them (needs ``ax.figure``).
    """
    runs = list(runs)
    lrs = sorted({r["learning_rate"] for r in runs})
    norm = _lr_norm(lrs)
    labels = lr_labels(lrs)
    seeds = sorted({r.get("seed") for r in runs}, key=seed_key)
    first_seed = seeds[0] if seeds else None
    losses = [_loss_array(r.get("loss")) for r in runs]
    values = np.concatenate(losses) if losses else np.zeros(0)
    _set_loss_scale(ax, values, (initial_loss(r) for r in runs), Y_CLIP_FACTOR)
    inits = [abs(x) for x in (initial_loss(r) for r in runs) if x]
    cap = Y_CLIP_FACTOR * max(inits) if inits else np.inf
    exits = []  # (line, epoch it left, colour, solid, lr)
    ends = []  # (epoch, last value, colour, lr) of the solid curves that stayed on the chart
    for r, loss in zip(runs, losses, strict=True):
        lr = r["learning_rate"]
        color = _LR_CMAP(norm(lr)) if lr > 0 else "black"
        solid = r.get("seed") == first_seed
        # smaller learning rates on top: a large one's bouncing would paint over them
        above = 0.05 * (len(lrs) - 1 - lrs.index(lr)) / max(len(lrs) - 1, 1)
        left = _left_chart(loss, cap, diverged=r.get("verdict") == "diverging")
        shown = loss if left is None else loss[:left]
        (line,) = ax.plot(
            np.arange(shown.size),
            shown,
            color=color,
            lw=1.6 if solid else 1.0,
            alpha=0.95 if solid else 0.3,
            zorder=(2.0 if solid else 1.9) + above,
        )
        if left is not None:
            exits.append((line, left, color, solid, lr))
        elif solid and np.isfinite(loss).any():
            last = int(np.flatnonzero(np.isfinite(loss))[-1])
            ends.append((last, float(loss[last]), color, lr))
    longest = max((v.size for v in losses), default=0)
    if longest > 1:
        ax.set_xlim(-0.02 * (longest - 1), 1.02 * (longest - 1))  # show epochs after a blow-up
    if exits:
        top = ax.get_ylim()[1]
        ax.set_ylim(top=top)  # fixed: the points on the edge must not move it
        for line, left, *_ in exits:
            xs, ys = line.get_data()
            line.set_data(np.append(xs, left), np.append(ys, top))
        ax.scatter(
            [e[1] for e in exits],
            [top] * len(exits),
            c=[e[2] for e in exits],
            marker="^",
            s=40,
            edgecolors="black",
            linewidths=0.5,
            zorder=3,
            clip_on=False,
        )
    if not np.isfinite(values).any():
        ax.text(0.5, 0.5, "no finite loss", ha="center", va="center", transform=ax.transAxes)
    if end_labels and 0 < len(lrs) <= END_LABELS_MAX:
        _label_ends(ax, ends, [(e[1], e[2], e[4]) for e in exits if e[3]], labels)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _readable_log_ticks(ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    if legend:
        add_lr_key(ax.figure, ax, lrs, diverged=bool(exits))
    return ax


def _left_chart(loss: np.ndarray, cap: float, *, diverged: bool) -> int | None:
    """The epoch a diverged run left the chart: its first loss above ``cap`` or non-finite
    (None for a run that did not diverge, or stayed on the chart)."""
    gone = ~np.isfinite(loss)
    if not (diverged or gone.any()):
        return None
    out = np.flatnonzero(gone | (np.nan_to_num(loss, nan=np.inf) > cap))
    return int(out[0]) if out.size else None


def _label_ends(ax: Axes, ends: list, exits: list, labels: Mapping[float, str]) -> None:
    """Each solid curve's learning rate at its end: beside the right edge at its last value
    (labels pushed apart to END_LABEL_GAP of the height), or beside its exit marker."""
    to_axes = ax.transAxes.inverted()
    placed = []
    for x, y, color, lr in ends:
        fy = float(to_axes.transform(ax.transData.transform((x, y)))[1])
        placed.append([min(max(fy, 0.0), 1.0), color, lr])
    placed.sort(key=lambda p: p[0])
    for i in range(1, len(placed)):  # upward, then back down from the top
        placed[i][0] = max(placed[i][0], placed[i - 1][0] + END_LABEL_GAP)
    for i in range(len(placed) - 1, -1, -1):
        ceiling = 1.0 if i == len(placed) - 1 else placed[i + 1][0] - END_LABEL_GAP
        placed[i][0] = min(placed[i][0], ceiling)
    for fy, color, lr in placed:
        ax.text(1.01, fy, labels[lr], transform=ax.transAxes, color=color, fontsize="small",
                va="center", ha="left", clip_on=False)  # fmt: skip
    top = ax.get_ylim()[1]
    row_of: dict[int, int] = {}
    span = max(ax.get_xlim()[1] - ax.get_xlim()[0], 1e-12)
    for x, color, lr in sorted(exits, key=lambda e: e[0]):
        near = [k for k in row_of if abs(k - x) < END_LABEL_GAP * 2 * span]
        row = len(near)
        row_of[x + row * 1e-9 * span] = row
        ax.annotate(labels[lr], (x, top), xytext=(6, -4 - 9 * row), textcoords="offset points",
                    color=color, fontsize="x-small", ha="left", va="top",
                    annotation_clip=False)  # fmt: skip


def _readable_log_ticks(ax: Axes) -> None:
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
    known = [abs(x) for x in initials if x is not None and x != 0]
    cap = FINAL_CLIP_FACTOR * max(known) if known else np.inf
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
            shown = [f for f in ok if f <= cap]  # the band spans the finals on the chart
            lo.append(min(shown) if shown else np.nan)
            hi.append(max(shown) if shown else np.nan)
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
    _set_lr_xlim(ax, all_lrs)
    ax.set_xscale("log")
    shown = np.array(finite_finals + [x for x in initials if x is not None], dtype=float)
    if shown.size:
        _set_loss_scale(ax, shown, initials, FINAL_CLIP_FACTOR)
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
        handles.append(
            Line2D(
                [],
                [],
                color="grey",
                marker="^",
                mec="black",
                ls="none",
                label="diverged / off the chart",
            )
        )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        frameon=False,
    )
    return ax


def _majority(verdicts: list[Any]) -> tuple[Any, int]:
    """The most common verdict (ties go to the worse one) and how many seeds gave it."""
    counts = Counter(verdicts)
    rank = {v: i for i, v in enumerate(_SEVERITY)}
    best = min(counts, key=lambda v: (-counts[v], rank.get(v, len(rank)), str(v)))
    return best, counts[best]


def plot_phase(
    ax: Axes, runs: Sequence[Mapping], *, predicted: Mapping[float, float] | None = None
) -> Axes:
    """The verdict map: a cell per (learning rate, init scale), coloured by the majority
    verdict over seeds. A cell whose seeds disagree is split by share of seeds, worst verdict
    first, the minority's parts hatched, with a ``k/n`` note (k seeds of n gave the majority).
    When every run converged, a note says the grid never reached the stability limit.

    ``predicted`` maps init scale -> a predicted critical learning rate, drawn as diamonds
    (the only Line2D on the axes, markers only: the predictions of different init scales are
    not joined, which would read as a boundary), interpolated on the log-lr axis between
    cells; a value beyond the swept range by more than half a cell sits on the edge of the map,
    drawn whole, with its value beside it.
    """
    runs = list(runs)
    lrs = sorted({r["learning_rate"] for r in runs})
    scales = sorted({r["init_scale"] for r in runs})
    kinds = [*VERDICTS, "unknown", "missing"]
    colors = [VERDICT_COLORS[v] for v in VERDICTS] + [UNKNOWN_COLOR, MISSING_COLOR]
    cell = np.full((len(scales), len(lrs)), kinds.index("missing"))
    disagree = []
    for j, scale in enumerate(scales):
        for i, lr in enumerate(lrs):
            verdicts = [
                r.get("verdict")
                for r in runs
                if r["init_scale"] == scale and r["learning_rate"] == lr
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
            color = VERDICT_COLORS.get(v, UNKNOWN_COLOR)
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
    ax.set_yticklabels([f"{s:g}" for s in scales])
    ax.set_xlim(-0.5, len(lrs) - 0.5)
    ax.set_ylim(-0.5, len(scales) - 0.5)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("init scale")
    ax.tick_params(length=0)
    ax.tick_params(axis="y", pad=tick_pad)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize="small",
        frameon=False,
    )
    return ax


def plot_verdict_example(
    ax: Axes,
    curve: Sequence[float | None] | np.ndarray,
    verdict: str,
    *,
    title: str | None = None,
    flags: Sequence[str] = (),
    window: int | None = None,
    train: Sequence[float | None] | np.ndarray | None = None,
    chance: float | None = None,
    log: bool = False,
) -> Axes:
    """A small picture of one judged curve, as the README shows each verdict and flag.

    The curve is drawn in its verdict's colour (with markers when it has few points; an ``x``
    marks its last finite value when it ends non-finite). ``window`` shades its last that many
    finite points (the classifier's final window, ``metrics["window"]``); ``train`` adds the
    training curve, grey and dashed, behind a validation curve; ``chance`` draws the chance loss
    as a dotted level. The title is ``title``, or the verdict followed by ``flags``.
    ``ax.get_lines()`` has one line per curve: the curve, then the training curve.
    """
    loss = _loss_array(curve)
    color = VERDICT_COLORS.get(verdict, UNKNOWN_COLOR)
    small: dict[str, Any] = {"fontsize": 7}
    marker = "o" if loss.size < 12 else None
    ax.plot(np.arange(loss.size), loss, color=color, lw=1.6, marker=marker, ms=3.5, zorder=3)
    if train is not None:
        tr = _loss_array(train)
        ax.plot(np.arange(tr.size), tr, color="#555555", lw=1.2, ls="--", zorder=2)
        ax.legend(["validation", "training"], frameon=False, handlelength=1.8, **small)
    finite = np.flatnonzero(np.isfinite(loss))
    if window and finite.size:
        start = finite[-min(window, finite.size)]
        ax.axvspan(start, finite[-1], color="black", alpha=0.07, lw=0, zorder=0)
    if log:
        ax.set_yscale("log")
    if chance is not None:  # a LineCollection, so get_lines() stays one line per curve
        ax.hlines(chance, 0, 1, transform=ax.get_yaxis_transform(), colors="#555555", ls=":")
        lo, hi = ax.get_ylim()
        if not log and lo < hi and chance - lo < 0.2 * (hi - lo):  # room for the label
            ax.set_ylim(chance - 0.25 * (hi - chance), hi)
        ax.annotate(
            f"chance {chance:.3g}",
            (1.0, chance),
            xycoords=ax.get_yaxis_transform(),
            xytext=(-3, -4),
            textcoords="offset points",
            ha="right",
            va="top",
            color="#555555",
            **small,
        )
    if finite.size and finite[-1] < loss.size - 1:  # non-finite at the end: diverged
        last = finite[-1]
        ax.scatter([last], [loss[last]], color=color, marker="x", s=36, lw=1.5, zorder=4)
        ax.text(
            0.97,
            0.05,
            f"NaN/inf from epoch {last + 1}",
            ha="right",
            va="bottom",
            transform=ax.transAxes,
            **small,
        )
    if loss.size > 1:
        ax.set_xlim(-0.03 * (loss.size - 1), 1.03 * (loss.size - 1))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.tick_params(labelsize=7, length=2.5, pad=1.5)
    ax.set_xlabel("epoch", labelpad=1, **small)
    ax.set_ylabel("loss", labelpad=1, **small)
    ax.grid(True, which="major", alpha=0.3)
    ax.set_title(title if title is not None else " · ".join([verdict, *flags]), fontsize=9)
    return ax


# --------------------------------------------------------------------------- files


def plot_sharpness(ax: Axes, runs: Sequence[Mapping], *, title: str | None = None) -> Axes:
    """Tracked sharpness vs epoch, one solid line per run, and each learning rate's stability
    limit 2(1 + momentum)/lr dashed in the same colour (``limit`` in each run's ``sharpness``,
    default 2). The edge-of-stability picture: sharpness rising until it meets 2/lr."""
    runs = [r for r in runs if r.get("sharpness")]
    lrs = sorted({r["learning_rate"] for r in runs})
    norm = _lr_norm(lrs)
    limits: dict[float, float] = {}
    starts = []  # each run's first finite sharpness
    for r in runs:
        tracked = r["sharpness"]
        epochs = np.asarray(tracked["epochs"], dtype=float)
        values = _loss_array(tracked["values"])
        lr = r["learning_rate"]
        color = _LR_CMAP(norm(lr)) if lr > 0 else "black"
        ax.plot(epochs, values, color=color, lw=1.6, marker="." if len(epochs) < 30 else None)
        starts += [float(v) for v in values[np.isfinite(values)][:1]]
        if tracked.get("limit", 2.0) is None:  # an adaptive optimizer: no lr limit to draw
            continue
        limit = float(tracked.get("limit", 2.0)) / lr
        if lr not in limits:
            ax.axhline(limit, color=color, ls="--", lw=0.9, alpha=0.8)
            limits[lr] = limit
    tracked_values = [
        v for r in runs for v in _loss_array(r["sharpness"]["values"]) if np.isfinite(v)
    ]
    if tracked_values and min(tracked_values) > 0:
        # The top: the 2/lr lines far above stay off the chart, and a run whose sharpness blows
        # up as it diverges leaves through the top edge (at Y_CLIP_FACTOR times the highest
        # starting sharpness) instead of squashing the rest into the bottom.
        top = min(max(tracked_values), Y_CLIP_FACTOR * max(starts))
        # ... while a 2/lr line a little above the data is drawn: where the run's limit is
        # matters even when its sharpness stays below it (up to LIMIT_REACH times the top).
        near = [x for x in limits.values() if top < x <= LIMIT_REACH * top]
        if near:
            top = max(near) / 2  # the top is padded by 3 below
        # The bottom: the limits of the learning rates that are past them, down to
        # Y_CLIP_FACTOR below the data: a sharpness above its 2/lr is what the chart is for.
        low = min(tracked_values)
        below = [x for x in limits.values() if 0 < x < low]
        if below:
            low = max(min(below), low / Y_CLIP_FACTOR)
        ax.set_ylim(low / 1.5, top * 3)  # limits before the log scale, as in _set_loss_scale
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("sharpness λmax (dashed: 2/lr)")
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    return ax
