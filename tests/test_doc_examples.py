"""The ``>>>`` examples of README.md and docs/*.md run, under doctest, as shown.

A page is read as one docstring with its fence lines blanked, so a block's closing ```` ``` ````
ends the expected output of its last example. Examples run from the repository's root, where
``configs/`` is, as the pages say to run them.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE_LINE = re.compile(r"^\s*```.*$", re.MULTILINE)


def examples(page: Path) -> doctest.DocTest:
    text = FENCE_LINE.sub("", page.read_text(encoding="utf-8"))
    name = page.relative_to(ROOT).as_posix()
    return doctest.DocTestParser().get_doctest(text, {}, name, str(page), 0)


WITH_EXAMPLES = [page for page in PAGES if examples(page).examples]


def test_the_readme_and_the_library_page_have_examples():
    names = {page.name for page in WITH_EXAMPLES}
    assert {"README.md", "library.md"} <= names


@pytest.mark.parametrize("page", WITH_EXAMPLES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_examples_of_the_page_run_as_shown(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    test = examples(page)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert runner.tries == len(test.examples) > 0


def test_a_wrong_example_fails():
    """The runner above does compare: a page whose example shows the wrong value fails."""
    text = ">>> 1 + 1\n3\n"
    test = doctest.DocTestParser().get_doctest(text, {}, "wrong", "wrong.md", 0)
    runner = doctest.DocTestRunner()
    runner.run(test, out=lambda _: None)
    assert runner.failures == 1
