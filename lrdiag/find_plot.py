"""The range test's figure: smoothed loss against learning rate, one curve per seed, with every
suggestion on its curve, the limit at init and the short sweep's measured bracket.

``plot_find(ax, doc, init_scale)`` draws on the axes it is given and returns them, as
pytorch-lr-finder's ``LRFinder.plot(ax=...)`` does and fastai's ``plot_lr_find`` draws the
suggestions (a marker per method on the curve); ``find_figure`` lays out one axes per init scale;
only ``save_find_plot`` writes a file. No pyplot (see figures.py).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lrdiag.files import FIND_PNG_NAME, atomic_write_bytes

DPI = 100
MARKERS = {"steep": "v", "valley": "o", "minimum": "s", "slide": "D"}  # one per method
BRACKET_COLOR = "#2e9e5b"  # the converging green of plots.VERDICT_COLORS
LIMIT_COLOR = "#c8334a"
# Smoothed losses above this factor of a scale's lowest starting loss are off the top: the last
# points of a stopped run shoot up and would squash the valley every suggestion is read from.
Y_CLIP_FACTOR = 4.0


def _curve(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _on_curve(lrs: np.ndarray, y: np.ndarray, lr: float) -> float:
    """The smoothed loss at ``lr``, interpolated in log lr (where fastai plots a suggestion)."""
    ok = np.isfinite(y)
    return float(np.interp(math.log(lr), np.log(lrs[ok]), y[ok])) if ok.any() else math.nan


def plot_find(ax: Axes, doc: Mapping, init_scale: float, *, title: str | None = None) -> Axes:
    """Smoothed loss vs lr for each seed at ``init_scale``, its suggestions as markers (one
    shape per method, the seed's colour), the limit at init (dashed) and the measured bracket
    (shaded from its last converging to its first failing lr)."""
    runs = [r for r in doc.get("runs") or [] if r.get("init_scale") == init_scale]
    scale = next((s for s in doc.get("per_scale") or [] if s["init_scale"] == init_scale), {})
    lrs = np.asarray(doc.get("lrs") or [], dtype=np.float64)
    colors = colormaps["tab10"](np.arange(max(len(runs), 1)) % 10)
    handles, top, bottom = [], -math.inf, math.inf
    for run, color in zip(runs, colors, strict=False):
        y = _curve(run.get("smoothed") or [])
        x = lrs[: len(y)]
        (line,) = ax.plot(x, y, color=color, lw=1.3, label=f"seed {run.get('seed')}")
        handles.append(line)
        finite = y[np.isfinite(y)]
        if finite.size:
            top, bottom = max(top, Y_CLIP_FACTOR * finite[0]), min(bottom, finite.min())
        for name, lr in (run.get("suggestions") or {}).items():
            if lr is not None and len(x):
                ax.plot(lr, _on_curve(x, y, lr), MARKERS.get(name, "x"), color=color, ms=6,
                        mec="black", mew=0.6, zorder=3)  # fmt: skip
    for name, marker in MARKERS.items():
        handles.append(Line2D([], [], ls="", marker=marker, color="grey", mec="black",
                              label=f"{name} (suggested)"))  # fmt: skip
    crit = scale.get("critical_lr")
    if crit is not None:
        handles.append(ax.axvline(crit, color=LIMIT_COLOR, ls="--", lw=1.2,
                                  label=f"{doc.get('limit')} at init (predicted)"))  # fmt: skip
    bracket = scale.get("bracket")
    if bracket:
        handles.append(ax.axvspan(bracket[0], bracket[1], color=BRACKET_COLOR, alpha=0.2,
                                  label="measured bracket"))  # fmt: skip
    largest = scale.get("largest_converging_lr")
    if largest is not None:
        handles.append(ax.axvline(largest, color=BRACKET_COLOR, lw=1.5,
                                  label="largest converging (measured)"))  # fmt: skip
    ax.set_xscale("log")
    if math.isfinite(top) and math.isfinite(bottom) and top > bottom:
        pad = 0.05 * (top - bottom)
        ax.set_ylim(bottom - pad, top)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed loss")
    ax.set_title(title or f"init scale {init_scale:g}", fontsize="medium")
    ax.legend(handles=handles, fontsize="small", loc="upper left")
    return ax


def find_figure(doc: Mapping) -> Figure:
    """One axes per init scale, side by side."""
    scales = [s["init_scale"] for s in doc.get("per_scale") or []] or [1.0]
    fig = Figure(figsize=(7 * len(scales), 5), layout="constrained")
    axes = fig.subplots(1, len(scales), squeeze=False)[0]
    for ax, scale in zip(axes, scales, strict=True):
        plot_find(ax, doc, scale)
    name = str((doc.get("config") or {}).get("name") or "find")
    fig.suptitle(f"{name}: LR range test", parse_math=False)
    return fig


def save_find_plot(doc: Mapping, out_dir: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    find_figure(doc).savefig(buf, format="png", dpi=DPI)
    return atomic_write_bytes(Path(out_dir) / FIND_PNG_NAME, buf.getvalue())
