"""`lrdiag schema`: the JSON Schemas of a config, results.json and compare --json."""

from __future__ import annotations

import click

from lrdiag.commands.common import SafeHelp, echo_out, traceback_option


@click.command("schema", cls=SafeHelp)
@click.argument("name", type=click.Choice(["config", "results", "compare"]))
@traceback_option
def schema_command(name):
    """Print the JSON Schema (draft 2020-12) of a config file, results.json or compare --json.

    \b
    Examples:
      lrdiag schema config > lrdiag-config.schema.json
      lrdiag schema results > results.schema.json

    Point the YAML language server at the config schema with a first line
    `# yaml-language-server: $schema=lrdiag-config.schema.json` and editors complete and
    check the keys as you type.
    """
    from lrdiag import files
    from lrdiag.schema import SCHEMAS

    echo_out(files.to_json_text(SCHEMAS[name]()), nl=False)
