"""The import graph reads like the pipeline: config -> data -> model/optim -> sweep -> classify
-> report/plots -> cli, with no edge upward; plots never pulls in rich; nothing imports cli.

The edges are read from the source (every ``import`` and ``from ... import``, at the top of a
module or inside a function), so an import that runs only in one command counts too; the
last tests import modules in a fresh interpreter and look at what was loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lrdiag"

# Lowest first. A module may import modules of its own layer and of the layers below.
LAYERS = (
    ("__init__", "errors", "formatting", "thresholds", "files", "interrupt", "curvestore"),
    ("config",),
    ("data",),
    ("model", "optim", "layers", "convnet", "weights", "schedule"),
    ("stability", "trainer", "sweep"),
    (
        "classify",
        "summary",
        "consistency",
        "logtable",
        "longform",
        "console",
        "pick",
        "logs",
        "lints",
    ),
    ("gradcheck", "results", "find", "compare", "chunks", "shards", "executor"),
    ("digest", "markdown", "report", "terminal", "plots", "figures", "outdir"),
    ("find_report", "find_plot", "compare_report", "schema", "junit", "github"),
    ("pipeline",),
    ("cli", "commands", "__main__"),
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
# Inside a package split by jobs, its modules in layers too (lowest first), checked the same way.
PACKAGE_LAYERS = {
    "plots": (("common",), ("curves", "grid"), ("__init__",)),
    "stability": (("curvature", "limits"), ("lanczos",), ("__init__",)),
}


def unit(path: Path) -> str:
    """The unit of the graph a file belongs to: a top-level module, or a subpackage whole."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported(path: Path) -> set[str]:
    """The lrdiag units ``path`` imports (relative imports resolved), anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path.name}: relative import (lrdiag imports absolutely)")
            base = node.module or ""
            names = [base] if base != "lrdiag" else [f"lrdiag.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "lrdiag" and len(parts) > 1:
                found.add(parts[1] if is_module(parts[1]) else "__init__")  # __version__
    return found


def is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph.setdefault(unit(path), set()).update(imported(path) - {unit(path)})
    return graph


def test_every_module_has_a_layer():
    assert set(edges()) - set(LAYER) == set()


def test_no_module_imports_a_later_stage_of_the_pipeline():
    upward = [
        f"{source} (layer {LAYER[source]}) imports {target} (layer {LAYER[target]})"
        for source, targets in edges().items()
        for target in targets
        if LAYER[target] > LAYER[source]
    ]
    assert upward == []


def inner_edges(package: str) -> dict[str, set[str]]:
    """Which modules of ``package`` each of its modules imports (``from lrdiag.<package>.x``)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).glob("*.py")):
        found = graph.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["lrdiag", package] and len(parts) > 2:
                    found.add(parts[2])
            elif isinstance(node, ast.Import):
                found.update(
                    alias.name.split(".")[2]
                    for alias in node.names
                    if alias.name.split(".")[:2] == ["lrdiag", package]
                    and alias.name.count(".") > 1
                )
    return graph


def upward_inside(package: str, graph: dict[str, set[str]]) -> list[str]:
    """The imports of a module of ``package`` from a later layer of PACKAGE_LAYERS."""
    layer = {name: i for i, names in enumerate(PACKAGE_LAYERS[package]) for name in names}
    return [
        f"{package}/{source} imports {target}"
        for source, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer[target] > layer[source]
    ]


@pytest.mark.parametrize("package", sorted(PACKAGE_LAYERS))
def test_the_modules_of_a_package_import_only_lower_ones(package):
    graph = inner_edges(package)
    assert set(graph) == {name for names in PACKAGE_LAYERS[package] for name in names}
    assert upward_inside(package, graph) == []


def test_an_upward_edge_inside_a_package_is_seen(tmp_path, monkeypatch):
    """The check itself: plots/common importing plots/curves is seen, and is upward."""
    package = tmp_path / "lrdiag"
    (package / "plots").mkdir(parents=True)
    (package / "plots" / "common.py").write_text("from lrdiag.plots.curves import plot_curves\n")
    (package / "plots" / "curves.py").write_text("import lrdiag.plots.common\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    graph = inner_edges("plots")
    assert graph == {"common": {"curves"}, "curves": {"common"}}
    assert upward_inside("plots", graph) == ["plots/common imports curves"]


def test_nothing_imports_the_cli():
    """Only ``python -m lrdiag`` imports cli; the commands it runs never import it back."""
    assert [source for source, targets in edges().items() if "cli" in targets] == ["__main__"]


def test_config_and_report_do_not_depend_on_the_classifier():
    graph = edges()
    for name in ("config", "report", "digest", "markdown", "terminal", "plots", "figures"):
        assert "classify" not in graph[name], name


def test_a_detected_upward_edge_fails(tmp_path):
    """The check itself: an import of a later stage is seen (here, data importing cli)."""
    module = tmp_path / "lrdiag" / "data.py"
    module.parent.mkdir()
    module.write_text("def f():\n    from lrdiag import cli\n")
    assert imported(module) == {"cli"}
    assert LAYER["cli"] > LAYER["data"]


def loaded_by(module: str) -> set[str]:
    """The top-level packages and lrdiag modules in sys.modules after importing ``module``."""
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted({n if n.startswith('lrdiag') else n.split('.')[0] "
        "for n in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", ["lrdiag.plots", "lrdiag.figures", "lrdiag.markdown"])
def test_plots_and_markdown_never_load_rich(module):
    assert "rich" not in loaded_by(module)


@pytest.mark.parametrize("module", ["lrdiag.config", "lrdiag.report", "lrdiag.pipeline"])
def test_the_numeric_core_and_the_files_load_neither_rich_nor_matplotlib(module):
    loaded = loaded_by(module)
    assert "rich" not in loaded and "matplotlib" not in loaded


def test_config_loads_no_classifier():
    assert not any(name.startswith("lrdiag.classify") for name in loaded_by("lrdiag.config"))


def loaded_by_sweep(tmp_path: Path, *options: str) -> set[str]:
    """The top-level packages and lrdiag modules loaded by a sweep of quickstart.yaml run in a
    fresh interpreter, from start to exit."""
    config = PACKAGE.parent / "configs" / "quickstart.yaml"
    argv = ["sweep", str(config), "--out", str(tmp_path / "out"), "--force", *options]
    code = (
        "import json, sys\nfrom lrdiag.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(json.dumps(sorted({n if n.startswith('lrdiag') else n.split('.')[0] "
        "for n in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert (tmp_path / "out" / "results.json").is_file()
    return set(json.loads(done.stdout.splitlines()[-1]))


# What a quiet sweep without plots does without (issue 19): rich draws and prints, matplotlib
# plots, the JUnit writer (and its XML) serves --junit only, gzip reads the bundled digits.
NOT_FOR_A_QUIET_SWEEP = ("rich", "matplotlib", "xml", "lrdiag.junit", "gzip")


def test_a_quiet_sweep_without_plots_loads_only_what_it_uses(tmp_path):
    """What a script waits for: ``lrdiag sweep --quiet --no-plots``, from start to exit."""
    loaded = loaded_by_sweep(tmp_path, "--quiet", "--no-plots")
    assert [name for name in NOT_FOR_A_QUIET_SWEEP if name in loaded] == []


def test_a_sweep_loads_them_when_it_uses_them(tmp_path):
    """The check itself: a sweep that prints its table, draws (matplotlib loads gzip) and
    writes --junit loads every one."""
    loaded = loaded_by_sweep(tmp_path, "--junit", str(tmp_path / "junit.xml"))
    assert [name for name in NOT_FOR_A_QUIET_SWEEP if name in loaded] == list(NOT_FOR_A_QUIET_SWEEP)
