"""README.md stays true to the code it documents.

The config reference lists every key of every section with its current default (read back
through the real config loader), every option of every command is mentioned, every image and
config file it names exists, the exit-code table has every code the CLI uses, the verdict
section is docs/verdicts.md (which tests/test_docs.py checks against the classifier), and the
table of contents points at real headings.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import click
import pytest
import yaml

from lrdiag import cli, config

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_IMAGE_BYTES = 60_000
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
# A row of a config table: | `key` | `default` | allowed | meaning |
CONFIG_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*`([^`]*)`\s*\|", re.MULTILINE)


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prose(readme) -> str:
    """The README without its fenced code blocks (where `# comment` is not a heading)."""
    return FENCE.sub("", readme)


@pytest.fixture(scope="module")
def script():
    """docs/make_readme_figures.py as a module (a script, not part of the package)."""
    path = ROOT / "docs" / "make_readme_figures.py"
    spec = importlib.util.spec_from_file_location("make_readme_figures", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level or
    higher."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(heading + "\n") + len(heading) + 1
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, start)
    return text[start : end.start() if end else len(text)]


def config_rows(prose: str, name: str) -> dict[str, str]:
    return dict(CONFIG_ROW.findall(section(prose, f"#### `{name}:`")))


# --------------------------------------------------------------------------- the config


@pytest.mark.parametrize("name", [s for s in config.SECTIONS if s not in ("classify", "find")])
def test_every_config_key_is_in_the_reference_with_its_default(prose, name):
    """Each default, as the README writes it, read by the config loader gives the default."""
    cls = config.SECTIONS[name]
    rows = config_rows(prose, name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(rows) == set(fields), (
        f"{name}: README lists {sorted(rows)}, config has {sorted(fields)}"
    )
    for key, f in fields.items():
        written = yaml.safe_load(rows[key])
        cfg = config.config_from_dict({name: {key: written}})
        assert getattr(getattr(cfg, name), key) == f.default, (
            f"{name}.{key}: the README says {rows[key]!r}, the default is {f.default!r} "
            "(python docs/make_readme_figures.py --tables prints the current tables)"
        )


def test_config_reference_is_the_generated_one(readme, script):
    """Meanings and allowed values too: regenerate with --tables and paste."""
    current = script.config_tables() in readme
    assert current, "README's config tables are stale: python docs/make_readme_figures.py --tables"


def test_classify_section_points_to_the_thresholds(prose):
    text = section(prose, "#### `classify:`")
    assert "](#thresholds)" in text
    assert "### Thresholds\n" in prose


def test_the_linear_regression_config_shown_is_the_one_the_figures_use(readme, script):
    assert script.LINEAR_REGRESSION_YAML in readme
    config.config_from_dict(yaml.safe_load(script.LINEAR_REGRESSION_YAML))  # valid


# --------------------------------------------------------------------------- the commands


def commands() -> list[tuple[str, click.Command]]:
    return [("lrdiag", cli.cli), *((f"lrdiag {n}", c) for n, c in cli.cli.commands.items())]


# Commands documented on a page of their own (the README links to it), not in the README.
OWN_PAGES = {"lrdiag find": ROOT / "docs" / "find.md"}


@pytest.mark.parametrize("path,command", commands(), ids=[p for p, _ in commands()])
def test_every_option_of_every_command_is_mentioned(prose, path, command):
    if path in OWN_PAGES:
        prose = FENCE.sub("", OWN_PAGES[path].read_text(encoding="utf-8"))
    if command is not cli.cli:
        assert f"### `{path}`\n" in prose, f"no section for {path}"
    params = command.get_params(click.Context(command, info_name=path))
    opts = [o for p in params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts]
    assert opts
    for opt in opts:
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", prose), f"{path} {opt}"


def test_exit_code_table_lists_every_code(prose):
    table = section(prose, "## Exit codes")
    listed = {int(c) for c in re.findall(r"^\|\s*(\d+)\s*\|", table, re.MULTILINE)}
    assert {0, 1, 2, 3, 130} <= listed
    used = {v for k, v in vars(cli).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert used <= listed, f"codes the CLI uses but the table lacks: {sorted(used - listed)}"


def test_set_up_commands_are_named_and_exist(readme):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no make {target}"


# --------------------------------------------------------------------------- files named


def test_every_linked_image_exists_and_is_small(readme):
    links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme)
    links += re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", readme)
    assert links
    for link in links:
        path = ROOT / link
        assert path.is_file(), f"{link} does not exist"
        assert path.stat().st_size < MAX_IMAGE_BYTES, f"{link}: {path.stat().st_size} bytes"


def test_the_sweep_figures_are_all_shown(readme, script):
    for sweep in script.SWEEPS:
        for figure in sweep.figures:
            link = script.image_path(sweep, figure).relative_to(ROOT).as_posix()
            assert f"]({link})" in readme, f"{link} is made but not shown"


def test_every_config_file_named_exists(readme, script):
    named = set(re.findall(r"configs/[\w./-]+?\.ya?ml", readme))
    named |= {s.config for s in script.SWEEPS if s.text is None}
    assert named
    for name in named:
        assert (ROOT / name).is_file(), f"{name} does not exist"


# --------------------------------------------------------------------------- structure


def test_the_verdict_section_is_docs_verdicts_md(readme):
    """tests/test_docs.py reads docs/verdicts.md, so both are kept; they must not drift."""
    doc = (ROOT / "docs" / "verdicts.md").read_text(encoding="utf-8")
    body = doc[doc.index("-->") + 3 :].strip()
    same = body in section(readme, "## Verdicts")
    assert same, "README's Verdicts section differs from docs/verdicts.md: paste it again"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_anchor_link_points_at_a_heading(prose):
    anchors: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", prose, re.MULTILINE):
        base = slug(heading)
        n = anchors.get(base)
        anchors[base] = 0 if n is None else n + 1
        if n is not None:
            anchors[f"{base}-{n + 1}"] = 0
    links = re.findall(r"\]\(#([^)]+)\)", prose)
    assert links
    for link in links:
        assert link in anchors, f"#{link} is no heading"
