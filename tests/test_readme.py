"""README.md and the pages of docs/ stay true to the code they document.

The README is a storefront: at most 12 KB, and it links every page of docs/. docs/config.md lists
every key of every section with its current default (read back through the real config loader),
docs/commands.md mentions every option of every command, every image, config file and page named
exists, the exit-code table has every code the CLI uses, and every link to a heading finds it.
docs/verdicts.md is checked against the classifier by tests/test_docs.py, the terminal output the
pages show by tests/test_transcripts.py, their ``>>>`` examples by tests/test_doc_examples.py.
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
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAX_README_BYTES = 12 * 1024  # a storefront: httpie's is ~5 KB, optax's ~6 KB
MAX_IMAGE_BYTES = 60_000
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
# A row of a config table: | `key` | `default` | allowed | meaning |
CONFIG_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*`([^`]*)`\s*\|", re.MULTILINE)
# A Markdown link or image: [text](target) or ![alt](target); the target without a title.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def read(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def without_code(text: str) -> str:
    """The text without its fenced code blocks (where `# comment` is not a heading)."""
    return FENCE.sub("", text)


@pytest.fixture(scope="module")
def readme() -> str:
    return read(README)


@pytest.fixture(scope="module")
def prose(readme) -> str:
    return without_code(readme)


@pytest.fixture(scope="module")
def all_pages() -> str:
    return "\n".join(read(page) for page in PAGES)


@pytest.fixture(scope="module")
def script():
    """docs/make_readme_figures.py as a module (a script, not part of the package)."""
    path = DOCS / "make_readme_figures.py"
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
    return dict(CONFIG_ROW.findall(section(prose, f"### `{name}:`")))


# --------------------------------------------------------------------------- the storefront


def test_the_readme_is_a_storefront_of_at_most_12_kb():
    size = README.stat().st_size
    assert size <= MAX_README_BYTES, f"README.md is {size} bytes: move reference text to docs/"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=page_id)
def test_every_docs_page_is_linked_from_the_readme(readme, page):
    assert f"](docs/{page.name})" in readme, f"README.md has no link to docs/{page.name}"


def test_set_up_commands_are_named_and_exist(readme):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no make {target}"


def test_exit_code_table_lists_every_code(prose):
    table = section(prose, "## Exit codes")
    listed = {int(c) for c in re.findall(r"^\|\s*(\d+)\s*\|", table, re.MULTILINE)}
    assert {0, 1, 2, 3, 130} <= listed
    used = {v for k, v in vars(cli).items() if k.startswith("EXIT_") and isinstance(v, int)}
    assert used <= listed, f"codes the CLI uses but the table lacks: {sorted(used - listed)}"


def test_every_command_is_shown(readme):
    """Each in a few lines (its example runs: tests/test_transcripts.py)."""
    for name in cli.cli.commands:
        assert f"**`lrdiag {name} " in readme, f"the README does not show lrdiag {name}"


# --------------------------------------------------------------------------- the config


@pytest.fixture(scope="module")
def config_md() -> str:
    return read(DOCS / "config.md")


@pytest.mark.parametrize("name", [s for s in config.SECTIONS if s != "classify"])
def test_every_config_key_is_in_the_reference_with_its_default(config_md, name):
    """Each default, as docs/config.md writes it, read by the config loader gives the default."""
    cls = config.SECTIONS[name]
    rows = config_rows(without_code(config_md), name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(rows) == set(fields), (
        f"{name}: docs/config.md lists {sorted(rows)}, config has {sorted(fields)}"
    )
    defaults = getattr(config.config_from_dict({}), name)  # null resolved (training.momentum)
    for key, f in fields.items():
        written = yaml.safe_load(rows[key])
        cfg = config.config_from_dict({name: {key: written}})
        assert getattr(getattr(cfg, name), key) == getattr(defaults, key), (
            f"{name}.{key}: docs/config.md says {rows[key]!r}, the default is {f.default!r} "
            "(python docs/make_readme_figures.py --tables prints the current tables)"
        )


def test_config_reference_is_the_generated_one(config_md, script):
    """Meanings and allowed values too: regenerate with --tables and paste."""
    current = script.config_tables() in config_md
    assert current, "docs/config.md's tables are stale: python docs/make_readme_figures.py --tables"


def test_classify_section_points_to_the_thresholds(config_md):
    text = section(without_code(config_md), "### `classify:`")
    assert "](verdicts.md#thresholds)" in text
    assert "## Thresholds\n" in read(DOCS / "verdicts.md")


def test_the_complete_config_shown_is_the_quickstart(config_md):
    blocks = re.findall(r"^```yaml\n(.*?)^```$", config_md, re.MULTILINE | re.DOTALL)
    quickstart = (ROOT / "configs" / "quickstart.yaml").read_text(encoding="utf-8")
    assert quickstart in blocks, "docs/config.md's complete config is not configs/quickstart.yaml"


def test_the_linear_regression_config_shown_is_the_one_the_figures_use(script):
    assert script.LINEAR_REGRESSION_YAML in read(DOCS / "sharpness.md")
    config.config_from_dict(yaml.safe_load(script.LINEAR_REGRESSION_YAML))  # valid


# --------------------------------------------------------------------------- the commands


def commands() -> list[tuple[str, click.Command]]:
    return [("lrdiag", cli.cli), *((f"lrdiag {n}", c) for n, c in cli.cli.commands.items())]


@pytest.mark.parametrize("path,command", commands(), ids=[p for p, _ in commands()])
def test_every_option_of_every_command_is_mentioned(path, command):
    prose = without_code(read(DOCS / "commands.md"))
    if command is not cli.cli:
        assert f"## `{path}`\n" in prose, f"docs/commands.md has no section for {path}"
    params = command.get_params(click.Context(command, info_name=path))
    opts = [o for p in params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts]
    assert opts
    for opt in opts:
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", prose), f"{path} {opt}"


def test_the_buggy_module_is_the_contract_example_with_two_bugs():
    """docs/gradcheck.md shows a module, then checks examples/buggy_model.py as that module with
    the `/ m` dropped from dZ2 and the hidden bias gradient summed over every axis."""
    doc = read(DOCS / "gradcheck.md")
    (example,) = re.findall(r"^```python\n(.*?)^```$", doc, re.MULTILINE | re.DOTALL)
    buggy = read(ROOT / "examples" / "buggy_model.py")
    fixed = re.sub(r'^""".*?"""\n\n', "", buggy, flags=re.DOTALL)
    fixed = fixed.replace(
        "    dZ2 = A2 - Y  # bug: the 1/m of the mean is missing\n",
        "    dZ2 = (A2 - Y) / m  # the 1/m of the mean\n",
    ).replace(
        '        "b1": np.sum(dZ1),  # bug: summed over every axis, not only the samples\n',
        '        "b1": dZ1.sum(axis=0, keepdims=True),  # sum over the samples only\n',
    )
    assert fixed != buggy
    assert fixed == example


# --------------------------------------------------------------------------- files named


def links(page: Path) -> list[str]:
    return LINK.findall(without_code(read(page)))


def test_every_linked_image_exists_and_is_small():
    images = [
        (page, link) for page in PAGES for link in links(page) if link.endswith((".png", ".svg"))
    ]
    assert any(page == README for page, _ in images), "the README shows no figure"
    for page, link in images:
        path = (page.parent / link).resolve()
        assert path.is_file(), f"{page_id(page)}: {link} does not exist"
        assert path.stat().st_size < MAX_IMAGE_BYTES, f"{link}: {path.stat().st_size} bytes"


def test_the_sweep_figures_are_all_shown(script):
    shown = {(page.parent / link).resolve() for page in PAGES for link in links(page)}
    for sweep in script.SWEEPS:
        for figure in sweep.figures:
            path = script.image_path(sweep, figure)
            assert path.resolve() in shown, f"{path.relative_to(ROOT)} is made but not shown"


def test_every_config_file_named_exists(all_pages, script):
    named = set(re.findall(r"configs/[\w./-]+?\.ya?ml", all_pages))
    named |= {s.config for s in script.SWEEPS if s.text is None}
    assert named
    for name in named:
        assert (ROOT / name).is_file(), f"{name} does not exist"


# --------------------------------------------------------------------------- links


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", without_code(read(page)), re.MULTILINE):
        base = slug(heading)
        n = found.get(base)
        found[base] = 0 if n is None else n + 1
        if n is not None:
            found[f"{base}-{n + 1}"] = 0
    return set(found)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_link_finds_its_page_and_heading(page):
    """Relative links name files that exist; a #fragment names a heading of its page."""
    for link in links(page):
        if re.match(r"^[a-z]+:", link):  # https:, mailto:
            continue
        target, _, fragment = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page_id(page)}: {link}: no {target}"
        if fragment:
            assert fragment in anchors(path), f"{page_id(page)}: {link}: #{fragment} is no heading"


def test_the_pages_link_to_headings_of_other_pages():
    """So the test above has something to check."""
    assert any(re.match(r"[\w./]+\.md#", link) for page in PAGES for link in links(page))
