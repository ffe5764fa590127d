"""`lrdiag compare`: did the stability boundary move between two sweeps?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrdiag.commands.common import (
    ExitStatus,
    SafeHelp,
    ci_reports,
    echo_out,
    junit_option,
    make_console,
    traceback_option,
)


def _change_list(_ctx, _param, value: str | None) -> tuple[str, ...]:
    from lrdiag.compare import FAIL_ON

    names = tuple(v.strip() for v in (value or "").split(",") if v.strip())
    bad = [v for v in names if v not in FAIL_ON]
    if bad:
        raise click.BadParameter(f"unknown change {bad[0]!r}; choose from {', '.join(FAIL_ON)}")
    return names


@click.command("compare", cls=SafeHelp)
@click.argument("before", metavar="BEFORE")
@click.argument("after", metavar="AFTER")
@click.option(
    "--fail-on",
    metavar="CHANGE[,CHANGE]",
    callback=_change_list,
    help="Exit 1 if any of these changes is found: boundary-down, new-divergence, verdict-change.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0, max=1),
    default=0.1,
    show_default=True,
    help="List final losses that moved by more than this share of the larger of the two.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON, nothing else.")
@click.option("--markdown", is_flag=True, help="Print the comparison as Markdown, nothing else.")
@junit_option
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The config AFTER was swept from: GitHub annotations point at its learning rates.",
)
@traceback_option
def compare_command(before, after, fail_on, tolerance, as_json, markdown, junit, config_file):
    """Compare two sweeps of the same grid: did the stability boundary move?

    BEFORE and AFTER are results directories or results.json files (e.g. main's and a pull
    request's). Per init scale (and any other axis the sweep varies): the learning rate the
    runs are stable up to, the largest converging lr, the bracket and the predicted critical
    lr, before and after; then the verdicts that changed run by run, and the final losses that
    moved by more than --tolerance. A grid that only partly overlaps is compared on the
    overlap, with a note; an axis with one value on each side (init.scales: [1] before, [3]
    after) is compared across.

    \b
    Examples:
      lrdiag compare main-results/ lrdiag-out/quickstart --fail-on boundary-down
      lrdiag compare before.json after.json --markdown > comment.md

    Exit 1 when a --fail-on change was found, 2 when a file cannot be read or the grids have
    no run in common (the message names what differs).
    """
    from lrdiag import compare, compare_report, files

    if as_json and markdown:
        raise click.BadParameter("choose one of --json and --markdown", param_hint="--markdown")
    doc = compare.compare(compare.load(before), compare.load(after), tolerance=tolerance)
    matched = compare.matches(doc, fail_on)
    if as_json:
        echo_out(
            files.to_json_text({**doc, "fail_on": list(fail_on), "matched": matched}), nl=False
        )
    elif markdown:
        echo_out(compare_report.markdown_compare(doc, matched), nl=False)
    else:
        compare_report.render_compare(doc, matched, make_console())

    def suites():
        from lrdiag import junit as junit_xml

        return [junit_xml.compare_suite(doc, matched)]

    ci_reports(
        junit, suites, lambda: compare_report.markdown_compare(doc, matched), matched, config_file
    )
    if matched:
        sys.exit(ExitStatus.MATCHED)
