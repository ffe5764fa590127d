"""lrdiag.plots: axes functions return their axes with the promised artists; files are real PNGs.

Documents are built by hand (the results.json format), so these tests stand alone.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
from factories import curve_doc, curve_run
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.image import imread

from lrdiag import figures, plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_axes(**kw):
    return Figure(**kw).add_subplot()


def check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05, f"{path.name} is blank"
    return image


# --------------------------------------------------------------------------- axes functions


def test_plot_curves_one_line_per_run_log_scale():
    doc = curve_doc()
    ax = new_axes()
    assert plots.plot_curves(ax, doc["runs"], title="t") is ax
    assert len(ax.get_lines()) == len(doc["runs"])
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "t"
    assert ax.get_legend() is not None
    # diverged runs end where they left the chart: 0.7 e^(3t) passes the top (70) at epoch 2
    (markers,) = ax.collections
    assert len(markers.get_offsets()) == 4
    assert set(np.asarray(markers.get_offsets())[:, 0]) == {2}
    # the top is capped so the blow-up (0.7 e^15) does not flatten the other curves
    assert ax.get_ylim()[1] == pytest.approx(plots.Y_CLIP_FACTOR * 0.7)


def test_plot_curves_seeds_after_the_first_are_faint():
    ax = new_axes()
    runs = curve_doc(lrs=(0.1,), scales=(1.0,), seeds=(0, 1, 2))["runs"]
    plots.plot_curves(ax, runs)
    alphas = [line.get_alpha() for line in ax.get_lines()]
    assert alphas[0] > 0.9 and all(a < 0.5 for a in alphas[1:])


def test_plot_curves_accepts_nan_arrays_and_none():
    runs = curve_doc(nan=True)["runs"]
    runs[0]["loss"] = np.asarray(runs[0]["loss"], dtype=np.float32)
    ax = plots.plot_curves(new_axes(), runs)
    assert len(ax.get_lines()) == len(runs)


def test_plot_curves_zero_loss_uses_symlog_and_many_lrs_a_colorbar():
    lrs = tuple(np.logspace(-3, 0, 12))
    runs = curve_doc(lrs=lrs, scales=(1.0,), seeds=(0,), verdict="converging")["runs"]
    runs[0]["loss"][-1] = 0.0
    fig = Figure()
    ax = plots.plot_curves(fig.add_subplot(), runs)
    assert ax.get_yscale() == "symlog"
    assert len(fig.axes) == 2  # the colour bar


def test_a_loss_near_the_largest_float_draws_without_overflow(tmp_path):
    """A run that blew up to 4e303 without becoming inf (float64, lr 1e8): switching to a log
    scale let matplotlib pad the data's limits in log space, and 10**(303 + padding) overflowed
    in its exp (a RuntimeWarning on stderr). The chart is capped at Y_CLIP_FACTOR times the
    initial loss whatever the data, so nothing near 1e308 needs drawing."""
    doc = curve_doc(lrs=(0.1, 1e8), scales=(1.0,), seeds=(0,), verdict="converging")
    doc["runs"][1]["loss"] = [2.2, 5.9e50, 4.5e303]
    doc["runs"][1]["metrics"].update(initial=2.2, final=4.5e303)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plots.plot_curves(new_axes(), doc["runs"])
        paths = figures.save_sweep_plots(doc, tmp_path)
    assert ax.get_yscale() == "log"
    assert ax.get_ylim()[1] == pytest.approx(plots.Y_CLIP_FACTOR * 2.2)
    for p in paths:
        check_png(p)


def test_plot_final_loss_vs_lr_one_line_per_scale():
    doc = curve_doc()
    ax = new_axes()
    assert plots.plot_final_loss_vs_lr(ax, doc["runs"]) is ax
    lines = ax.get_lines()
    assert len(lines) == 2
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    # the median over seeds; a gap where the runs diverged
    ydata = np.asarray(lines[0].get_ydata(), dtype=float)
    expected = np.median(
        [[0.7 * np.exp(-lr * 30) + 0.01 * (s + 1) for s in (0, 1)] for lr in (0.01, 0.1)], axis=1
    )
    np.testing.assert_allclose(ydata[:2], expected)
    assert np.isnan(ydata[3])
    # diverged runs: two scales x two seeds at lr 10, as triangles along the top
    triangles = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in triangles) == 4


def test_plot_final_loss_vs_lr_all_diverged():
    runs = curve_doc(verdict="diverging")["runs"]
    ax = plots.plot_final_loss_vs_lr(new_axes(), runs)
    assert len(ax.get_lines()) == 2
    assert all(np.isnan(np.asarray(line.get_ydata(), dtype=float)).all() for line in ax.get_lines())
    assert any("no run finished" in t.get_text() for t in ax.texts)


def test_plot_phase_majority_and_disagreement():
    doc = curve_doc(seeds=(0, 1, 2))
    # at lr 0.1, scale 1: two seeds converge, one diverges -> converging, hatched, "2/3"
    for r in doc["runs"]:
        if r["learning_rate"] == 0.1 and r["init_scale"] == 1.0 and r["seed"] == 2:
            r["verdict"] = "diverging"
    ax = new_axes()
    assert plots.plot_phase(ax, doc["runs"]) is ax
    assert len(ax.get_lines()) == 0
    (mesh,) = ax.collections
    cells = np.asarray(mesh.get_array()).reshape(2, 4)
    kinds = list(plots.VERDICTS)
    expected_row = [
        kinds.index(v) for v in ("converging", "converging", "oscillating", "diverging")
    ]
    assert cells.tolist() == [expected_row, expected_row]
    assert [t.get_text() for t in ax.texts] == ["2/3"]
    # the split cell: 1/3 diverging (hatched, the minority) then 2/3 converging, left to right
    parts = [(p.get_x(), p.get_width(), p.get_hatch()) for p in ax.patches]
    assert parts == [
        (pytest.approx(0.5), pytest.approx(1 / 3), "//"),
        (pytest.approx(0.5 + 1 / 3), pytest.approx(2 / 3), None),
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1", "1", "10"]


def test_plot_phase_ties_go_to_the_worse_verdict():
    doc = curve_doc(lrs=(0.1,), scales=(1.0,), seeds=(0, 1), verdict="converging")
    doc["runs"][1]["verdict"] = "oscillating"
    ax = plots.plot_phase(new_axes(), doc["runs"])
    assert np.asarray(ax.collections[0].get_array()).ravel().tolist() == [
        plots.VERDICTS.index("oscillating")
    ]


def test_plot_phase_predicted_line():
    doc = curve_doc()
    ax = plots.plot_phase(new_axes(), doc["runs"], predicted={1.0: 1.0, 3.0: 1e-6})
    (line,) = ax.get_lines()
    xs, ys = line.get_data()
    assert list(ys) == [0, 1]
    assert xs[0] == pytest.approx(2.0)  # lr 1 is the third cell
    assert xs[1] == pytest.approx(-0.5)  # below the swept range: the left edge


@pytest.mark.parametrize("dpi", [60, 70, 100, 150])
@pytest.mark.parametrize("n_lrs", [1, 5, 16])
def test_phase_figure_key_sits_inside_the_image_with_room_to_spare(dpi, n_lrs):
    """Every label of the verdict map's key, as drawn at this resolution, lies inside the image
    with at least 2% of its width (or height) to spare on every side, and below the map, not
    over it. A key squeezed against the right edge loses its last letters at some resolutions."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    lrs = tuple(float(x) for x in np.logspace(-3, 1, n_lrs))
    doc = curve_doc(lrs=lrs, seeds=(0, 1, 2), verdict={lr: "converging" for lr in lrs[:2]})
    doc["runs"][1]["verdict"] = "plateaued"  # seeds disagree somewhere: one more entry
    doc["summary"]["stability"] = {
        "per_scale": [
            {"init_scale": 1.0, "predicted_critical_lr": lrs[0], "observed_bracket": None}
        ]
    }
    fig = figures.phase_figure(doc)
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "predicted critical lr (per scale)" in labels
    assert "seeds disagree (split by share)" in labels
    (ax,) = fig.axes
    map_box = ax.get_window_extent(renderer)
    for text in legend.get_texts():
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0.02 * width and box.x1 <= 0.98 * width, (text.get_text(), box, width)
        assert box.y0 >= 0.02 * height and box.y1 <= 0.98 * height, (text.get_text(), box)
        assert box.y1 <= map_box.y0, text.get_text()  # under the map


# --------------------------------------------------------------------------- files


def test_save_sweep_plots_writes_valid_pngs(tmp_path):
    doc = curve_doc()
    doc["summary"]["stability"] = {
        "per_scale": [{"init_scale": 1.0, "predicted_critical_lr": 2.0, "observed_bracket": None}]
    }
    out = tmp_path / "new" / "dir"
    paths = figures.save_sweep_plots(doc, out)
    assert [p.name for p in paths] == ["curves.png", "final_loss_vs_lr.png", "phase.png"]
    for p in paths:
        image = check_png(p)
        # ~100 dpi, a few inches: neither a thumbnail nor a poster
        assert 250 < image.shape[0] < 1500 and 400 < image.shape[1] < 2500
    assert sorted(os.listdir(out)) == sorted(p.name for p in paths)  # no temp files


@pytest.mark.parametrize(
    "doc",
    [
        curve_doc(verdict="diverging"),
        curve_doc(lrs=(0.1,), scales=(1.0,), seeds=(0,)),
        curve_doc(lrs=tuple(np.logspace(-4, 1, 16)), scales=(0.5, 1.0, 2.0, 4.0), seeds=(0,)),
    ],
    ids=["all-diverged", "single-run", "wide"],
)
def test_save_sweep_plots_edge_cases(tmp_path, doc):
    for p in figures.save_sweep_plots(doc, tmp_path):
        check_png(p)


def test_save_sweep_plots_no_runs(tmp_path):
    assert figures.save_sweep_plots({"runs": []}, tmp_path) == []


PYPLOT_CHECK = """
import json, sys
from pathlib import Path

from lrdiag import figures

doc, out, with_pyplot = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), sys.argv[3]
if with_pyplot == "yes":  # a user's pyplot session, open before the plots are saved
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure()
    backend = matplotlib.get_backend()
figures.save_sweep_plots(doc, out)
if with_pyplot == "yes":
    assert plt.get_fignums() == [1], plt.get_fignums()  # the user's figure, and no other
    assert matplotlib.get_backend() == backend
else:
    assert "matplotlib.pyplot" not in sys.modules, "saving the plots imported pyplot"
print("ok")
"""


@pytest.mark.parametrize("with_pyplot", ["yes", "no"])
def test_no_pyplot_state(tmp_path, with_pyplot):
    """The figures are Figure objects: saving them never imports pyplot, and leaves a user's
    pyplot session (its figures, its backend) as it was. In a fresh interpreter, so that it
    checks the same thing whatever other tests imported before it."""
    import json
    import subprocess
    import sys

    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(curve_doc()))
    script = [sys.executable, "-c", PYPLOT_CHECK, str(doc), str(tmp_path / "out"), with_pyplot]
    done = subprocess.run(script, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr[-2000:]
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    "name",
    ["bad $x^$ math", "cost $5 to $10", "very long experiment name " * 8],
    ids=["odd-dollars", "dollar-pair", "long"],
)
def test_figure_titles_are_the_name_verbatim_and_fit_the_image(name):
    """A config name is text: its dollar signs are drawn as dollar signs (not mathtext, which
    raised on "$x^$") and a long one wraps onto more lines, every character inside the image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    doc = curve_doc(seeds=(0, 1, 2))
    doc["config"]["name"] = name
    doc["runs"][0]["sharpness"] = {"epochs": [0, 5], "values": [1.0, 2.0], "limit": 2.0}
    for make in (
        figures.curves_figure,
        figures.final_loss_figure,
        figures.phase_figure,
        figures.sharpness_figure,
    ):
        fig = make(doc)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        title = fig.get_suptitle()
        font = {"fontproperties": fig._suptitle.get_fontproperties()}
        assert " ".join(title.split()).startswith(" ".join(name.split())), make.__name__
        box = fig._suptitle.get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (make.__name__, box, fig.bbox.width)
        assert box.y1 <= fig.bbox.height, make.__name__
        # as wide as its first line set as plain text: "$5 to $" as math is "5to", narrower
        plain = fig.text(0, 0, title.split("\n")[0], parse_math=False, **font)
        assert box.width >= plain.get_window_extent(canvas.get_renderer()).width - 1


def test_a_name_the_font_cannot_draw_warns_nothing(tmp_path):
    """A config name in a script DejaVu Sans lacks (名前): matplotlib draws boxes and warned
    'Glyph 21517 missing from font(s)' several times a figure on the user's stderr."""
    doc = curve_doc()
    doc["config"]["name"] = "名前 実験"
    doc["runs"][0]["sharpness"] = {"epochs": [0, 5], "values": [1.0, 2.0], "limit": 2.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = figures.save_sweep_plots(doc, tmp_path)
    assert len(paths) == 4
    for p in paths:
        check_png(p)
    assert figures.curves_figure(doc).get_suptitle().startswith("名前 実験")


def test_curves_figure_draws_validation_losses_in_panels_of_their_own():
    """With a validation split: a validation panel under each scale's training panel, each
    holding that scale's validation curves (here the training loss + 1, so they differ)."""
    doc = curve_doc(seeds=(0,))
    for r in doc["runs"]:
        r["val_loss"] = [None if v is None else v + 1.0 for v in r["loss"]]
    fig = figures.curves_figure(doc)
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    titles = [ax.get_title() for ax in shown]
    assert titles == [
        "init scale 1", "init scale 3", "init scale 1, validation", "init scale 3, validation"
    ]  # fmt: skip
    val_3 = [r for r in doc["runs"] if r["init_scale"] == 3.0]
    lines = shown[3].get_lines()
    assert len(lines) == len(val_3)
    drawn = {tuple(np.round(ln.get_ydata()[:2], 9)) for ln in lines}  # before any left the chart
    assert drawn == {tuple(np.round(np.asarray(r["val_loss"][:2], float), 9)) for r in val_3}
    assert "training and validation loss" in fig.get_suptitle()
    assert [ax.get_ylabel() for ax in shown] == ["training loss"] * 2 + ["validation loss"] * 2
    without = figures.curves_figure(curve_doc(seeds=(0,)))
    assert [ax.get_title() for ax in without.axes if ax.get_title()] == titles[:2]


def test_curves_title_names_the_faint_seeds():
    assert "(seed 0; seed 1 faint)" in figures.curves_figure(curve_doc()).get_suptitle()
    doc = curve_doc(seeds=(0, 1, 2))
    assert "(seed 0; seeds 1, 2 faint)" in figures.curves_figure(doc).get_suptitle()


def test_plot_sharpness_shows_the_limits_the_runs_cross_and_caps_a_blow_up():
    """Sharpness from 8, tracked every 5 epochs: lr 0.01 and 0.1 stay at 8 (below 2/lr = 200
    and 20); lr 0.5, 1 and 2 (2/lr = 4, 2, 1) start above their limit and blow up to 1e17 as
    they diverge. Their limits are drawn on the chart, and the blow-up leaves through the top
    instead of squeezing the rest of the chart into the bottom few millimetres."""
    runs = []
    for i, lr in enumerate((0.01, 0.1, 0.5, 1.0, 2.0)):
        values = [8.0] * 5 if lr < 0.5 else [8.0, 1e3, 1e9, 1e17, None]
        runs.append(
            {
                "id": i,
                "learning_rate": lr,
                "init_scale": 1.0,
                "seed": 0,
                "sharpness": {"epochs": [0, 5, 10, 15, 20], "values": values, "limit": 2.0},
            }
        )
    ax = plots.plot_sharpness(new_axes(), runs)
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "log"
    for limit in (4.0, 2.0, 1.0, 20.0):
        assert lo < limit < hi, limit
    assert 8.0 / hi > 1e-4  # 8 is in the top 4 decades, not squashed under 1e17


def test_plot_sharpness_near_float64_s_largest_warns_nothing():
    """A diverging run's sharpness reaching 1e305 (finite): no overflow RuntimeWarning while
    the axis is laid out and drawn (matplotlib's autoscale padding of it overflowed exp)."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    runs = [
        {
            "id": 0,
            "learning_rate": 2.0,
            "init_scale": 1.0,
            "seed": 0,
            "sharpness": {"epochs": [0, 5, 10], "values": [8.0, 1e150, 1e305], "limit": 2.0},
        }
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plots.plot_sharpness(new_axes(), runs)
        FigureCanvasAgg(ax.figure).draw()
    assert ax.get_yscale() == "log" and ax.get_ylim()[1] < 1e6


def test_plot_sharpness_draws_a_limit_just_above_the_data_not_one_far_above():
    """Edge of stability: sharpness 8 -> 20 at lr 0.02, 0.1, 0.2 (2/lr = 100, 20, 10), and a
    tiny lr 1e-4 (2/lr = 20000). lr 0.02's run stays below its limit, 5x the highest sharpness:
    that line is on the chart; 20000 is 1000x above the data and stays off it."""
    runs = [
        {
            "id": i,
            "learning_rate": lr,
            "init_scale": 1.0,
            "seed": 0,
            "sharpness": {"epochs": [0, 5, 10], "values": [8.0, 14.0, 20.0], "limit": 2.0},
        }
        for i, lr in enumerate((1e-4, 0.02, 0.1, 0.2))
    ]
    lo, hi = plots.plot_sharpness(new_axes(), runs).get_ylim()
    for limit in (100.0, 20.0, 10.0):
        assert lo < limit < hi, limit
    assert hi < 20000.0
    assert 8.0 / hi > 1e-2  # the data keep most of the chart


@pytest.mark.parametrize("n_lrs", [1, 3])
def test_phase_predicted_beyond_the_grid_is_drawn_whole_with_its_value(n_lrs):
    """Predictions 1e-6 (below every swept rate) and 1e3 (above): the diamonds sit on the map's
    edges, whole (inside the image, clear of the tick labels), each with its value beside it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    lrs = (0.01, 0.1, 1.0)[:n_lrs]
    doc = curve_doc(lrs=lrs, seeds=(0,), verdict="converging")
    doc["summary"]["stability"] = {
        "per_scale": [
            {"init_scale": 1.0, "predicted_critical_lr": 1e-6},
            {"init_scale": 3.0, "predicted_critical_lr": 1e3},
        ]
    }
    fig = figures.phase_figure(doc)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    pixels = ax.transData.transform(np.column_stack(line.get_data()))
    half = line.get_markersize() / 2 * fig.dpi / 72 + line.get_markeredgewidth()
    map_box = ax.get_window_extent(renderer)
    assert pixels[0, 0] == pytest.approx(map_box.x0) and pixels[1, 0] == pytest.approx(map_box.x1)
    assert pixels[:, 0].min() - half >= 0 and pixels[:, 0].max() + half <= fig.bbox.width
    labels = [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
    assert all(box.x1 <= pixels[0, 0] - half for box in labels)  # clear of "1" and "3"
    texts = [t.get_text() for t in ax.texts]
    assert any("1e-06" in t for t in texts) and any("1e+03" in t for t in texts), texts


def test_plot_curves_a_bouncing_large_lr_does_not_hide_a_small_one():
    """2000 epochs: lr 0.01 sits at loss 1, lr 10 bounces between 0.1 and 10 every epoch, a
    solid band across the chart. Along y = 1 the image shows lr 0.01's colour, not lr 10's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    epochs = 2000
    bounce = np.where(np.arange(epochs + 1) % 2 == 0, 0.1, 10.0)
    runs = [
        curve_run(0, 0.01, 1.0, 0, "converging", epochs=epochs),
        curve_run(1, 10.0, 1.0, 0, "converging", epochs=epochs),
    ]
    runs[0]["loss"] = [1.0] * (epochs + 1)
    runs[1]["loss"] = bounce.tolist()
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = plots.plot_curves(fig.add_subplot(), runs, legend=False)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].astype(float) / 255
    small, large = (np.array(line.get_color()[:3]) for line in ax.get_lines())
    xs = np.linspace(200, 1800, 50)
    pixels = ax.transData.transform(np.column_stack([xs, np.ones_like(xs)]))
    rows = (image.shape[0] - pixels[:, 1]).round().astype(int)
    colours = image[rows, pixels[:, 0].round().astype(int)]
    nearer_small = np.linalg.norm(colours - small, axis=1) < np.linalg.norm(colours - large, axis=1)
    assert nearer_small.mean() > 0.9


# --------------------------------------------------------------------------- issue 17: honest plots


def _axes_y(ax, y):
    """A data y as a fraction of the axes' height (0 bottom, 1 top)."""
    return ax.transAxes.inverted().transform(ax.transData.transform((0, y)))[1]


def test_curves_diverged_runs_stop_at_the_edge_where_they_left_with_a_marker():
    doc = curve_doc(lrs=(0.01, 0.1, 10.0), scales=(1.0,), seeds=(0,))
    ax = plots.plot_curves(new_axes(), doc["runs"], legend=False)
    top = ax.get_ylim()[1]
    for run, line in zip(doc["runs"], ax.get_lines(), strict=True):
        xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
        loss = np.array([np.nan if v is None else v for v in run["loss"]])
        if run["verdict"] == "diverging":
            left = int(np.flatnonzero(~(loss <= top))[0])  # the first epoch off the chart
            assert xs[-1] == left and ys[-1] == pytest.approx(top)
            assert np.all(ys[:-1] <= top) and len(xs) == left + 1  # nothing after it
        else:
            assert len(xs) == len(loss)
    (markers,) = ax.collections
    np.testing.assert_allclose(markers.get_offsets(), [[2, top]])


def test_curves_a_run_that_spikes_above_the_chart_and_recovers_is_drawn_whole():
    run = curve_run(0, 0.1, 1.0, 0, "converging")
    run["loss"][3] = 1e6  # a spike far above the top, then back
    ax = plots.plot_curves(new_axes(), [run], legend=False)
    assert len(ax.get_lines()[0].get_xdata()) == len(run["loss"])
    assert len(ax.collections) == 0  # no marker: it came back


def test_curves_every_learning_rate_is_named_at_its_curve_s_end_apart_from_its_neighbours():
    lrs = (0.01, 0.012, 0.014, 0.1, 10.0)  # three neighbours whose curves end close together
    doc = curve_doc(
        lrs=lrs, scales=(1.0,), seeds=(0, 1), verdict=dict.fromkeys(lrs[:4], "converging")
    )
    ax = plots.plot_curves(new_axes(), doc["runs"], legend=False)
    labels = {t.get_text(): t for t in ax.texts}
    assert set(labels) == {"0.01", "0.012", "0.014", "0.1", "10"}  # one per lr, the solid seed
    pairs = zip(doc["runs"], ax.get_lines(), strict=True)
    colors = {r["learning_rate"]: line.get_color() for r, line in pairs}
    for lr, text in zip(lrs, ("0.01", "0.012", "0.014", "0.1", "10"), strict=True):
        assert text and labels[text].get_color() == colors[lr]
    right = sorted(t.get_position()[1] for t in ax.texts if t.get_position()[0] == 1.01)
    assert len(right) == 4  # lr 10 left the chart: its name is beside its marker instead
    assert np.all(np.diff(right) >= plots.END_LABEL_GAP - 1e-9)
    # each name sits near its curve's end: within the gap times the number of names
    for r, line in zip(doc["runs"][:4], ax.get_lines()[:4], strict=True):
        text = labels[
            {0.01: "0.01", 0.012: "0.012", 0.014: "0.014", 0.1: "0.1"}[r["learning_rate"]]
        ]
        end = _axes_y(ax, line.get_ydata()[-1])
        assert abs(text.get_position()[1] - end) <= 4 * plots.END_LABEL_GAP


def test_curves_a_small_log_range_gets_plain_tick_labels():
    run = curve_run(0, 0.1, 1.0, 0, "converging")
    run["loss"] = list(0.7 - 0.1 * np.linspace(0, 1, 31))  # 0.7 down to 0.6: a sixth of a decade
    fig = Figure()
    ax = plots.plot_curves(fig.add_subplot(), [run], legend=False)
    fig.canvas.draw()  # tick labels are set at draw time
    shown = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(shown) >= 3 and all(re.fullmatch(r"0\.\d+", t) for t in shown), shown


def test_final_loss_markers_only_for_runs_off_the_chart_and_never_under_a_line():
    doc = curve_doc(lrs=(0.01, 0.1, 1.0, 10.0), scales=(1.0,), seeds=(0, 1))
    # lr 1: one seed ends far above the chart (finite), the other on it
    for r in doc["runs"]:
        if r["learning_rate"] == 1.0:
            r["metrics"]["final"] = 500.0 if r["seed"] == 0 else 0.5
    ax = plots.plot_final_loss_vs_lr(new_axes(), doc["runs"])
    (line,) = ax.get_lines()
    ys = np.asarray(line.get_ydata(), dtype=float)
    cap = plots.FINAL_CLIP_FACTOR * 0.7
    assert np.all(ys[np.isfinite(ys)] <= cap)  # the line never runs off the chart
    triangles = [c for c in ax.collections if isinstance(c, PathCollection)]
    xs = sorted(x for c in triangles for x in np.asarray(c.get_offsets())[:, 0])
    off = sorted(
        r["learning_rate"]
        for r in doc["runs"]
        if r["metrics"]["final"] is None or r["metrics"]["final"] > cap
    )
    assert xs == off == [1.0, 10.0, 10.0]
    # the triangles sit above every point drawn: in the strip over the chart's data
    data_top = max(_axes_y(ax, y) for y in ys[np.isfinite(ys)])
    for c in triangles:
        for y in np.asarray(c.get_offsets())[:, 1]:
            assert y > data_top and y > _axes_y(ax, cap)


def test_phase_predicted_lrs_of_different_scales_are_not_joined():
    ax = plots.plot_phase(new_axes(), curve_doc()["runs"], predicted={1.0: 1.0, 3.0: 0.1})
    (line,) = ax.get_lines()
    assert line.get_linestyle() == "None" and line.get_marker() == "D"


@pytest.mark.parametrize("all_converge", [True, False])
def test_phase_says_when_the_grid_never_reached_the_limit(all_converge):
    verdict = "converging" if all_converge else {0.01: "converging"}
    ax = plots.plot_phase(new_axes(), curve_doc(verdict=verdict)["runs"])
    notes = [t.get_text() for t in ax.texts if "never reached" in t.get_text()]
    assert len(notes) == (1 if all_converge else 0)
