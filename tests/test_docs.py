"""docs/verdicts.md matches the classifier it documents.

Every threshold is in its table with its current default, every verdict and flag is defined and
has its picture, the pictures' formulas still get the verdicts their titles claim, and the
function that draws them returns its axes with one line per curve.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.image import imread

from lrdiag import classify
from lrdiag.plots import VERDICT_COLORS, plot_verdict_example

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "verdicts.md"
# A row of the thresholds table: | `name` | default | meaning | decides |
ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*([^|]+?)\s*\|", re.MULTILINE)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def make_figures():
    """docs/make_figures.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "docs" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_every_threshold_in_the_table_with_its_default(doc):
    rows = dict(ROW.findall(doc))
    fields = {f.name: f.default for f in dataclasses.fields(classify.Thresholds)}
    assert set(rows) == set(fields), "the thresholds table must list exactly the fields"
    for name, default in fields.items():
        assert float(rows[name]) == default, f"{name}: docs {rows[name]}, default {default}"


@pytest.mark.parametrize("name", classify.VERDICTS)
def test_every_verdict_defined_with_its_picture(doc, name):
    assert re.search(rf"^\*\*\d\. {name}\*\*:", doc, re.MULTILINE), f"no definition of {name}"
    assert f"](img/{name}.png)" in doc  # relative to docs/
    assert (ROOT / "docs" / "img" / f"{name}.png").is_file()


@pytest.mark.parametrize("name", classify.FLAGS)
def test_every_flag_defined_with_its_picture(doc, name):
    assert re.search(rf"^\*\*`{name}`\*\*:", doc, re.MULTILINE), f"no definition of {name}"
    assert f"](img/{name}.png)" in doc  # relative to docs/
    assert (ROOT / "docs" / "img" / f"{name}.png").is_file()


def test_every_picture_linked_is_small_and_there(doc):
    links = re.findall(r"\]\((img/[\w.-]+\.png)\)", doc)
    assert len(links) == len(classify.VERDICTS) + len(classify.FLAGS)
    for link in links:
        path = DOC.parent / link
        assert path.stat().st_size < 30_000, f"{link} is {path.stat().st_size} bytes"
        height, width = imread(path).shape[:2]
        assert (width, height) == (320, 200), link


def test_pictures_get_the_verdicts_they_claim(make_figures):
    """The formulas behind the pictures, judged by today's classifier (judge raises if not)."""
    examples = make_figures.examples()
    names = [ex.name for ex in examples]
    assert sorted(names) == sorted((*classify.VERDICTS, *classify.FLAGS))
    for ex in examples:
        v = make_figures.judge(ex)
        if ex.name in classify.FLAGS:
            assert ex.name in v.flags
        else:
            assert v.verdict == ex.name


def test_judge_refuses_a_picture_that_lies(make_figures):
    ex = make_figures.Example("converging", np.full(30, 0.7), "converging")  # flat: plateaued
    with pytest.raises(AssertionError, match="plateaued"):
        make_figures.judge(ex)


# --------------------------------------------------------------------------- the drawing


def test_plot_verdict_example_one_line_in_the_verdict_colour():
    curve = 0.7 * np.exp(-np.arange(50) / 10.0)
    ax = Figure().add_subplot()
    out = plot_verdict_example(ax, curve, "converging", flags=("noisy",), window=20, chance=0.5)
    assert out is ax
    (line,) = ax.get_lines()  # the chance level is a LineCollection, not a line
    np.testing.assert_array_equal(line.get_xdata(), np.arange(50))
    np.testing.assert_array_equal(line.get_ydata(), curve)
    assert line.get_color() == VERDICT_COLORS["converging"]
    assert ax.get_title() == "converging · noisy"
    assert any(isinstance(c, LineCollection) for c in ax.collections)
    (span,) = ax.patches  # the final window: epochs 30 to 49 (a Polygon or a Rectangle)
    xs = span.get_patch_transform().transform(span.get_path().vertices)[:, 0]
    assert (xs.min(), xs.max()) == (30, 49)


def test_plot_verdict_example_validation_with_training_curve():
    train = np.linspace(1.0, 0.1, 40)
    val = np.r_[np.linspace(1.0, 0.4, 20), np.linspace(0.4, 0.6, 20)]
    ax = Figure().add_subplot()
    assert plot_verdict_example(ax, val, "converging", train=train, title="t") is ax
    first, second = ax.get_lines()
    np.testing.assert_array_equal(first.get_ydata(), val)
    np.testing.assert_array_equal(second.get_ydata(), train)
    assert ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["validation", "training"]


def test_plot_verdict_example_marks_the_last_finite_value_of_a_diverged_curve():
    curve = [0.7, 1.4, 2.8, 5.6, None, float("nan")]
    ax = Figure().add_subplot()
    plot_verdict_example(ax, curve, "diverging", log=True)
    (line,) = ax.get_lines()
    assert np.isnan(line.get_ydata()[4:]).all()
    assert ax.get_yscale() == "log"
    (marker,) = ax.collections
    np.testing.assert_array_equal(marker.get_offsets(), [[3, 5.6]])
    assert any("from epoch 4" in t.get_text() for t in ax.texts)
