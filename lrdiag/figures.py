"""A sweep's figures laid out from its results document, and the PNG files they go to.

Each ``*_figure`` function makes a ``matplotlib.figure.Figure`` from the ``plot_*`` functions
of ``lrdiag.plots``; only ``save_sweep_plots`` writes files (atomically, as PNG through the Agg
canvas: never pyplot).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import textwrap
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import cast

from matplotlib import rcParams
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from lrdiag import digest
from lrdiag.files import (
    CURVES_NAME,
    FINAL_LOSS_NAME,
    PHASE_NAME,
    PLOT_NAMES,
    SHARPNESS_NAME,
    atomic_write_bytes,
)
from lrdiag.formatting import finite
from lrdiag.plots import (
    END_LABELS_MAX,
    add_lr_key,
    plot_curves,
    plot_final_loss_vs_lr,
    plot_phase,
    plot_sharpness,
    seed_key,
)

DPI = 100
ALL_NAMES = PLOT_NAMES
# matplotlib's warning for a character its font cannot draw (it draws a box instead)
MISSING_GLYPH = r"Glyph \d+ .*missing from font"
# The verdict map's key, under the map, has rows of at most this many entries (8 at most: four
# verdicts, "other", "not run", "seeds disagree", the predicted line), so it fits a 7-inch figure.
PHASE_LEGEND_COLS = 5
# A figure's title wraps to at most this fraction of the figure's width.
TITLE_WIDTH = 0.94


def _save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    with _missing_glyphs_quiet():
        fig.savefig(buf, format="png", dpi=DPI)
    return atomic_write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def _missing_glyphs_quiet() -> Iterator[None]:
    """Silence matplotlib's 'Glyph ... missing from font' warnings: a config name in a script
    the font lacks (名前 in DejaVu Sans) is drawn as boxes, and results.json and report.md keep
    it whole; the warnings, several per character and figure, went to the user's stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=MISSING_GLYPH, category=UserWarning)
        yield


def _predicted(doc: Mapping) -> dict[float, float]:
    stability = (doc.get("summary") or {}).get("stability") or {}
    key = digest.compare(doc)
    out = {}
    for s in stability.get("per_scale") or []:
        lr = finite(s.get("predicted_critical_lr"))
        if lr is not None and key in s:
            out[s[key]] = lr
    return out


def _legend_to_figure(fig: Figure, ax: Axes, *, below: bool = False) -> None:
    """Move the axes' legend to the figure's right margin, or with ``below`` under the axes in
    rows of up to PHASE_LEGEND_COLS entries, where constrained layout makes room for it (an axes
    legend anchored outside its axes can be cut off at the figure edge)."""
    legend = ax.get_legend()
    if legend is None:
        return
    handles = cast(list[Artist], legend.legend_handles)  # one artist per entry drawn
    texts = [t.get_text() for t in legend.get_texts()]
    legend.remove()
    if below:
        rows = math.ceil(len(handles) / PHASE_LEGEND_COLS)
        fig.legend(
            handles,
            texts,
            loc="outside lower center",
            ncols=math.ceil(len(handles) / rows),
            fontsize="small",
            frameon=False,
        )
    else:
        fig.legend(handles, texts, loc="outside right center", fontsize="small", frameon=False)


def _name(doc: Mapping) -> str:
    return str((doc.get("config") or {}).get("name") or "sweep")


def _of_seeds(runs: Sequence[Mapping], summary: str) -> str:
    """A title's note that each point sums up several seeds ("(median of 3 seeds)"), or ""."""
    seeds = {r.get("seed") for r in runs}
    return f" ({summary} of {len(seeds)} seeds)" if len(seeds) > 1 else ""


def _suptitle(fig: Figure, text: str) -> None:
    """Set the figure's title as plain text, wrapped at spaces to TITLE_WIDTH of the figure.

    Plain: the title holds the config's name, and a ``$`` there is a dollar sign, not mathtext
    (which drew "cost $5 to $10" as "cost 5to10" and raised on an odd pair such as "$x^$")."""
    prop = FontProperties(size=rcParams["figure.titlesize"], weight=rcParams["figure.titleweight"])
    renderer = RendererAgg(1, 1, fig.dpi)
    room = TITLE_WIDTH * fig.get_figwidth() * fig.dpi

    def widest(lines: str) -> float:
        with _missing_glyphs_quiet():
            return max(
                renderer.get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in lines.split("\n")
            )

    wrapped, chars = text, len(text)
    while chars > 10 and widest(wrapped) > room:
        chars -= max(1, chars // 20)
        wrapped = textwrap.fill(text, chars)
    fig.suptitle(wrapped, parse_math=False)


def curves_figure(doc: Mapping) -> Figure:
    """Loss vs epoch, a panel per init scale (up to three a row), one learning-rate key. With
    a validation split, the validation losses get panels of their own below, scale for scale
    (their verdicts, and the ``overfitting`` flag, are judged on them)."""
    runs = list(doc.get("runs") or [])
    scales = sorted({r["init_scale"] for r in runs})
    seeds = sorted({r.get("seed") for r in runs}, key=seed_key)
    val_runs = [{**r, "loss": r["val_loss"]} for r in runs if r.get("val_loss") is not None]
    kinds = [("", runs)] + ([(", validation", val_runs)] if val_runs else [])
    ncols = min(len(scales), 3)
    nrows = math.ceil(len(scales) / ncols)
    fig = Figure(
        figsize=(5.0 * ncols + 1.4, 3.8 * nrows * len(kinds) + 0.6), dpi=DPI, layout="constrained"
    )
    axes = fig.subplots(nrows * len(kinds), ncols, squeeze=False)
    diverged = False
    used = []
    for block, (label, kind_runs) in enumerate(kinds):
        for k, scale in enumerate(scales):
            ax = axes[block * nrows + k // ncols, k % ncols]
            plot_curves(
                ax,
                [r for r in kind_runs if r["init_scale"] == scale],
                title=f"init scale {scale:g}{label}",
                legend=False,
            )
            if label:
                ax.set_ylabel("validation loss")
            diverged = diverged or len(ax.collections) > 0
            used.append(ax)
        for k in range(len(scales), nrows * ncols):
            axes[block * nrows + k // ncols, k % ncols].set_visible(False)
    lrs = sorted({r["learning_rate"] for r in runs})
    labelled = len(lrs) <= END_LABELS_MAX  # each curve's end names its learning rate
    add_lr_key(fig, used, [] if labelled else lrs, diverged=diverged)
    title = f"{_name(doc)}: {'training and validation' if val_runs else 'training'} loss vs epoch"
    if len(seeds) > 1:
        others = "seed" + "s" * (len(seeds) > 2)
        title += f" (seed {seeds[0]}; {others} {', '.join(map(str, seeds[1:]))} faint)"
    _suptitle(fig, title)
    return fig


def final_loss_figure(doc: Mapping) -> Figure:
    """Final loss vs learning rate, a line per init scale."""
    runs = list(doc.get("runs") or [])
    fig = Figure(figsize=(8.0, 4.8), dpi=DPI, layout="constrained")
    _legend_to_figure(fig, plot_final_loss_vs_lr(fig.add_subplot(), runs))
    _suptitle(fig, f"{_name(doc)}: final loss vs learning rate{_of_seeds(runs, 'median')}")
    return fig


def phase_figure(doc: Mapping) -> Figure:
    """The verdict map, with the predicted critical learning rates when the doc has them."""
    runs = list(doc.get("runs") or [])
    n_lrs = len({r["learning_rate"] for r in runs})
    axis = digest.compare(doc)
    n_scales = len({r.get(axis) for r in runs})
    fig = Figure(
        figsize=(max(7.0, 0.55 * n_lrs + 2.5), max(3.2, 0.45 * n_scales + 2.2) + 0.4),
        dpi=DPI,
        layout="constrained",
    )
    # The key goes under the map: the figure's width is there for the learning rates anyway, so a
    # row of entries fits with room to spare, where a right margin is sized to its longest label
    # and left the text no slack (at some resolutions its last letters fell off the image).
    ax = plot_phase(fig.add_subplot(), runs, predicted=_predicted(doc) or None, axis=axis)
    _legend_to_figure(fig, ax, below=True)
    _suptitle(
        fig,
        f"{_name(doc)}: verdict by learning rate and {digest.axis_label(axis)}"
        + _of_seeds(runs, "majority"),
    )
    return fig


def sharpness_figure(doc: Mapping) -> Figure:
    """Sharpness vs epoch for the first seed, a panel per init scale."""
    runs = [r for r in doc.get("runs") or [] if r.get("sharpness")]
    scales = sorted({r["init_scale"] for r in runs})
    seeds = sorted({r.get("seed") for r in runs}, key=seed_key)
    ncols = max(1, min(len(scales), 3))
    nrows = max(1, math.ceil(len(scales) / ncols))
    fig = Figure(figsize=(5.0 * ncols + 1.4, 3.8 * nrows + 0.6), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, scale in enumerate(scales):
        chosen = [r for r in runs if r["init_scale"] == scale and r.get("seed") == seeds[0]]
        plot_sharpness(axes[k // ncols, k % ncols], chosen, title=f"init scale {scale:g}")
    for k in range(len(scales), nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    used = [axes[k // ncols, k % ncols] for k in range(len(scales))]
    add_lr_key(fig, used, sorted({r["learning_rate"] for r in runs}), diverged=False)
    _suptitle(fig, f"{_name(doc)}: sharpness vs epoch (seed {seeds[0] if seeds else '-'})")
    return fig


def save_sweep_plots(doc: Mapping, out_dir: str | os.PathLike) -> list[Path]:
    """Write curves.png, final_loss_vs_lr.png, phase.png (and sharpness.png when sharpness was
    tracked) into ``out_dir`` (created if needed), each atomically. Returns the paths written
    (none when the doc has no runs)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not doc.get("runs"):
        return []
    paths = [
        _save(curves_figure(doc), out / CURVES_NAME),
        _save(final_loss_figure(doc), out / FINAL_LOSS_NAME),
        _save(phase_figure(doc), out / PHASE_NAME),
    ]
    if any(r.get("sharpness") for r in doc["runs"]):
        paths.append(_save(sharpness_figure(doc), out / SHARPNESS_NAME))
    return paths
