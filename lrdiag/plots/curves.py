"""Plots against the epoch: a sweep's loss curves, its tracked sharpness, and one judged curve
with its verdict (the README's pictures of each verdict and flag)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from lrdiag.digest import initial_loss
from lrdiag.formatting import lr_labels
from lrdiag.plots.common import (
    UNKNOWN_COLOR,
    VERDICT_COLORS,
    add_lr_key,
    loss_array,
    loss_cap,
    lr_color,
    lr_norm,
    readable_log_ticks,
    seed_key,
    set_loss_scale,
)

# Losses more than this factor above the highest initial loss are off the top of a chart:
# a diverging run shoots out of the frame instead of squashing every other curve flat.
Y_CLIP_FACTOR = 100.0
# sharpness.png: a learning rate's 2/lr line up to this factor above the highest sharpness is
# drawn (the chart grows to it); farther up, its run is far from its limit and the line stays off.
LIMIT_REACH = 10.0
# Up to this many learning rates get their value written at the end of their curve ...
END_LABELS_MAX = 12
# ... at least this far apart (a fraction of the axes' height), so that neighbours never touch.
END_LABEL_GAP = 0.055


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
    norm = lr_norm(lrs)
    labels = lr_labels(lrs)
    seeds = sorted({r.get("seed") for r in runs}, key=seed_key)
    first_seed = seeds[0] if seeds else None
    losses = [loss_array(r.get("loss")) for r in runs]
    values = np.concatenate(losses) if losses else np.zeros(0)
    initials = [initial_loss(r) for r in runs]
    set_loss_scale(ax, values, initials, Y_CLIP_FACTOR)
    cap = loss_cap(initials, Y_CLIP_FACTOR)
    exits = []  # (line, epoch it left, colour, solid, lr)
    ends = []  # (epoch, last value, colour, lr) of the solid curves that stayed on the chart
    for r, loss in zip(runs, losses, strict=True):
        lr = r["learning_rate"]
        color = lr_color(norm, lr)
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
    readable_log_ticks(ax)
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


def plot_sharpness(ax: Axes, runs: Sequence[Mapping], *, title: str | None = None) -> Axes:
    """Tracked sharpness vs epoch, one solid line per run, and each learning rate's stability
    limit 2(1 + momentum)/lr dashed in the same colour (``limit`` in each run's ``sharpness``,
    default 2). The edge-of-stability picture: sharpness rising until it meets 2/lr."""
    runs = [r for r in runs if r.get("sharpness")]
    lrs = sorted({r["learning_rate"] for r in runs})
    norm = lr_norm(lrs)
    limits: dict[float, float] = {}
    starts = []  # each run's first finite sharpness
    for r in runs:
        tracked = r["sharpness"]
        epochs = np.asarray(tracked["epochs"], dtype=float)
        values = loss_array(tracked["values"])
        lr = r["learning_rate"]
        color = lr_color(norm, lr)
        ax.plot(epochs, values, color=color, lw=1.6, marker="." if len(epochs) < 30 else None)
        starts += [float(v) for v in values[np.isfinite(values)][:1]]
        if tracked.get("limit", 2.0) is None:  # an adaptive optimizer: no lr limit to draw
            continue
        limit = float(tracked.get("limit", 2.0)) / lr
        if lr not in limits:
            ax.axhline(limit, color=color, ls="--", lw=0.9, alpha=0.8)
            limits[lr] = limit
    tracked_values = [
        v for r in runs for v in loss_array(r["sharpness"]["values"]) if np.isfinite(v)
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
        ax.set_ylim(low / 1.5, top * 3)  # limits before the log scale, as in set_loss_scale
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("sharpness λmax (dashed: 2/lr)")
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
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
    loss = loss_array(curve)
    color = VERDICT_COLORS.get(verdict, UNKNOWN_COLOR)
    small: dict[str, Any] = {"fontsize": 7}
    marker = "o" if loss.size < 12 else None
    ax.plot(np.arange(loss.size), loss, color=color, lw=1.6, marker=marker, ms=3.5, zorder=3)
    if train is not None:
        tr = loss_array(train)
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
