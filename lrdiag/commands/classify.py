"""`lrdiag classify`: judge the loss curves of log files as the sweep judges its runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lrdiag.commands.common import (
    ExitStatus,
    SafeHelp,
    ci_reports,
    echo_out,
    fail_on_option,
    junit_option,
    make_console,
    traceback_option,
)
from lrdiag.errors import LrdiagError, printable

# --loss: lrdiag's names (classify.LOSS_NAMES), and the Keras / PyTorch names people type.
LOSS_ALIASES = {
    "bce": "bce",
    "binary_crossentropy": "bce",
    "binary_cross_entropy": "bce",
    "cross_entropy": "cross_entropy",
    "crossentropy": "cross_entropy",
    "ce": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "mse": "mse",
    "mean_squared_error": "mse",
}


def _loss_name(_ctx, _param, value: str | None) -> str | None:
    if value is None:
        return None
    name = LOSS_ALIASES.get(value.strip().lower().replace("-", "_"))
    if name is None:
        raise click.BadParameter(
            f"unknown loss {value!r}; choose from bce, cross_entropy, mse "
            "(Keras names such as categorical_crossentropy work too)"
        )
    return name


@click.command("classify", cls=SafeHelp)
@click.argument("files", metavar="FILE...", nargs=-1, required=True)
@click.option(
    "--column",
    "-c",
    "columns",
    multiple=True,
    metavar="NAME",
    help="Judge this column (repeatable) [default: every column whose name contains 'loss', "
    "else the one numeric column that is not an epoch/step/time column].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON, nothing else.")
@fail_on_option
@junit_option
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take the thresholds from this YAML file's classify: section (a sweep config, or a "
    "file with only that section) [default: built in; a results.json's own].",
)
@click.option(
    "--classes",
    "-k",
    type=click.IntRange(min=2),
    metavar="K",
    help="Number of classes: a cross-entropy loss flat near ln K is stuck_at_chance.",
)
@click.option(
    "--loss",
    "loss_name",
    metavar="NAME",
    callback=_loss_name,
    help="The loss: bce, cross_entropy or mse (Keras names work too), for stuck_at_chance "
    "and progress towards 0 [default: unknown; a results.json's own].",
)
@click.option(
    "--full-batch",
    is_flag=True,
    help="The curves come from full-batch gradient descent (no sampling noise): sustained "
    "swings are oscillation however irregular [default: off; a results.json's own].",
)
@traceback_option
def classify_command(
    files, columns, as_json, fail_on, junit, config_file, classes, loss_name, full_batch
):
    """Judge the loss curves in log files the way the sweep judges its runs.

    \b
    FILE is read by its content, whatever its name (- reads stdin; .gz, .xz too):
      CSV with a header  Keras CSVLogger, Lightning metrics.csv, TensorBoard export
      JSON               a list of numbers; {"loss": [...], ...} (Keras history);
                         records [{"step": 1, "loss": 0.7}, ...]; an lrdiag
                         results.json (every run re-judged)
      plain text         one number a line (# comments and blank lines skipped)
      printed output     Keras's console output (Epoch 1/10, progress bars); one
                         line an epoch: Epoch [1/50], Train Loss: 0.1, Val Loss: 0.2;
                         PyTorch's CIFAR-10 tutorial: [1,  2000] loss: 2.014;
                         Hugging Face Trainer's dicts: {'loss': 0.52, 'epoch': 0.5}
    nan and inf (any spelling) are non-finite values; an empty cell or NA is a missing one.
    Validation curves (val_loss, ...) are judged with their training curve. A log whose
    epoch (or step) column goes back was appended to after a restart: each run is judged
    on its own, named 'loss (run 3 of 4, lines 22-31)' (file lines; JSON records from 0),
    the last run first. A column with one value is not a curve. A --column that is not a
    loss says so on stderr: accuracy-like metrics are judged negated, a learning rate as
    is. An accuracy column that contradicts its cross-entropy loss is a note; one at chance
    (or far above it) beside a loss near ln K says whether that loss is stuck at chance.

    \b
    Examples:
      lrdiag classify training.csv
      lrdiag classify lightning_logs/version_0/metrics.csv --column val_loss
      lrdiag classify history.json --loss cross_entropy --classes 10
      lrdiag classify lrdiag-out/quickstart/results.json --config strict.yaml
      tail -n 500 losses.txt | lrdiag classify - --fail-on diverging

    --json prints {"file", "format", "loss", "classes", "runs", "notes", "curves":
    [{"name", "column", "run", "negated", "verdict", "reason", "flags", "metrics",
    "train_curve", "x"}]} for one FILE ("runs": how many runs the log was split into;
    "notes": what stderr said; "run": null or {"index", "of", "first", "last", "unit"};
    "negated": a higher-is-better column read upside down; "x": the epoch, step or line
    column the reason's positions come from), and {"files": [...]} of those for several.
    Exit 1 when a --fail-on verdict matched (any curve: validation curves and every run
    included), 2 when a file cannot be read (nothing is printed then).
    """
    from lrdiag import logs, terminal
    from lrdiag.config import load_thresholds
    from lrdiag.files import to_json_text

    if files.count("-") > 1:
        raise click.BadParameter("- (stdin) can be read once", param_hint="FILE")
    if junit is not None and not junit.parent.is_dir():  # before anything is judged or printed
        raise LrdiagError(
            f"--junit: {printable(str(junit))}: no directory {printable(str(junit.parent))} to "
            "write the report in"
        )
    if classes is not None and (loss_name == "mse" or (loss_name == "bce" and classes != 2)):
        raise click.BadParameter(
            f"--classes {classes} does not go with --loss {loss_name} "
            "(a chance loss is ln K for cross_entropy, ln 2 for bce)",
            param_hint="--classes",
        )
    thresholds = load_thresholds(config_file) if config_file is not None else None
    read = []
    for file in files:
        if file == "-":
            with click.open_file("-", "rb") as stdin:
                if stdin.isatty():
                    click.echo(
                        "lrdiag: reading a loss log from the terminal; end with Ctrl-D", err=True
                    )
                data = logs.read_capped(stdin, logs.STDIN)
            read.append(logs.parse_log(data, logs.STDIN, columns=columns))
        else:
            read.append(logs.read_log(file, columns=columns))
    docs = [
        logs.judge(log, thresholds, n_classes=classes, loss_name=loss_name, full_batch=full_batch)
        for log in read
    ]
    for doc in docs:
        for note in doc["notes"]:
            click.echo(f"lrdiag: note: {printable(doc['file'])}: {printable(note)}", err=True)
    if as_json:
        echo_out(to_json_text(docs[0] if len(docs) == 1 else {"files": docs}), nl=False)
    else:
        console = make_console()
        for i, doc in enumerate(docs):
            if i:
                console.print()
            terminal.render_classify(doc, console)
    from lrdiag import github

    def suites():
        from lrdiag import junit as junit_xml

        return junit_xml.classify_suites(docs, fail_on)

    matched = github.curve_matches(docs, fail_on)
    ci_reports(junit, suites, lambda: github.classify_markdown(docs), matched)
    if matched:
        sys.exit(ExitStatus.MATCHED)
