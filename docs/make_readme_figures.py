"""Regenerate the docs' sweep figures: ``python docs/make_readme_figures.py``.

Every picture in the README and docs/ that shows a sweep comes from a real sweep, run here through
the command line exactly as the pages show it (``python -m lrdiag sweep configs/...`` with
``NO_COLOR=1`` and ``COLUMNS=100``, in a temporary directory), then drawn again from its
results.json by lrdiag's own figure functions (``lrdiag.plots``) at a lower resolution, so the
pictures stay small (under ``MAX_BYTES``). They go to ``docs/img/sweep-<name>-<plot>.png``,
each written atomically. (The terminal output the pages show is checked, and rewritten, by
``python docs/transcripts.py``.)

    python docs/make_readme_figures.py                # the figures
    python docs/make_readme_figures.py --transcripts  # ... and print each sweep's terminal output
    python docs/make_readme_figures.py --tables       # print docs/config.md's reference tables

The config reference tables are generated from the config dataclasses (``lrdiag.config``):
each option's default and one-line meaning live there, next to the code that reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import subprocess
import sys
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from lrdiag import config, figures
from lrdiag.files import atomic_write_bytes

ROOT = Path(__file__).resolve().parent.parent
IMG_DIR = ROOT / "docs" / "img"
MAX_BYTES = 60_000  # the pages' pictures stay small
ENV = {"NO_COLOR": "1", "COLUMNS": "100"}  # plain text, 100 columns: what the pages show

# The linear regression of docs/sharpness.md (the page shows this text; a test
# checks that it still does). Mean squared error on a linear model is a quadratic, so gradient
# descent is stable exactly below 2 / lambda_max. (Any data.seed works: kind linear draws from
# a stream of its own, so the model never starts at the true weights; see lrdiag.data.OWN_STREAM.)
LINEAR_REGRESSION_YAML = """\
name: linear_regression
data: {kind: linear, n_samples: 200, n_features: 4, noise: 0.1, seed: 1}
model: {hidden: [], output: identity, loss: mse}
init: {scheme: normal, scales: [1.0]}
training: {optimizer: sgd, batch_size: full, epochs: 100, seeds: [0], dtype: float64}
sweep:
  learning_rates: {min: 0.1, max: 3, num: 11}
"""

FIGURES: dict[str, Callable[[dict], Figure]] = {
    "curves": figures.curves_figure,
    "phase": figures.phase_figure,
    "sharpness": figures.sharpness_figure,
    "final_loss": figures.final_loss_figure,
}


@dataclasses.dataclass(frozen=True)
class Sweep:
    config: str  # as typed on the command line, relative to the run directory
    figures: dict[str, int]  # figure -> dots per inch
    text: str | None = None  # the config's text when it is not a file of the repository


SWEEPS = (
    Sweep("configs/quickstart.yaml", {"curves": 60}),
    Sweep("configs/tanh_spike.yaml", {"curves": 60, "phase": 70}),
    Sweep("linear_regression.yaml", {"phase": 70}, text=LINEAR_REGRESSION_YAML),
    Sweep("configs/edge_of_stability.yaml", {"sharpness": 70, "curves": 70}),
)


# --------------------------------------------------------------------------- sweeps


def run_sweep(sweep: Sweep, workdir: Path) -> tuple[str, dict]:
    """Run ``lrdiag sweep CONFIG`` in ``workdir``; return its terminal output and results.json."""
    if sweep.text is not None:
        (workdir / sweep.config).write_text(sweep.text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "lrdiag", "sweep", sweep.config],
        cwd=workdir,
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"lrdiag sweep {sweep.config} exited {proc.returncode}: {proc.stderr}")
    out_dir = workdir / "lrdiag-out" / Path(sweep.config).stem
    doc = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    return proc.stdout, doc


def png(fig: Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    # No "Software" entry: the bytes depend on the picture, not on the matplotlib version.
    # bbox_inches="tight": trims the margins, so the pages' pictures stay small.
    fig.savefig(
        buf,
        format="png",
        dpi=dpi,
        bbox_inches="tight",
        pad_inches=0.05,
        metadata={"Software": None},
    )
    return buf.getvalue()


def image_path(sweep: Sweep, figure: str) -> Path:
    return IMG_DIR / f"sweep-{Path(sweep.config).stem}-{figure}.png"


def make_figures(*, transcripts: bool = False) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory(prefix="lrdiag-readme-") as tmp:
        workdir = Path(tmp)
        (workdir / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
        for sweep in SWEEPS:
            stdout, doc = run_sweep(sweep, workdir)
            if transcripts:
                print(f"$ lrdiag sweep {sweep.config}\n{stdout}")
            for figure, dpi in sweep.figures.items():
                data = png(FIGURES[figure](doc), dpi)
                if len(data) > MAX_BYTES:
                    raise AssertionError(f"{figure} of {sweep.config}: {len(data)} bytes")
                written.append(atomic_write_bytes(image_path(sweep, figure), data))
    return written


# --------------------------------------------------------------------------- config tables

# Options whose values are not read from the annotation alone (see config.SPECIAL_PARSERS).
ALLOWED_SPECIAL = {
    ("training", "batch_size"): "`full` or an integer >= 1",
    ("sweep", "learning_rates"): "a list of numbers > 0, or `{min, max, num}`",
    ("data", "path"): "a `.npz` or `.csv` file",
    ("model", "layers"): "a list of layers, or `null`",
    ("training", "betas"): "two numbers in [0, 1)",
    ("init", "path"): "an `.npz` file",
    ("sweep", "optimizer"): "a list of `training.optimizer` values, or `null`",
    ("sweep", "momentum"): "a list of numbers in [0, 1), or `null`",
    ("sweep", "weight_decay"): "a list of numbers >= 0, or `null`",
    ("sweep", "warmup_steps"): "a list of integers >= 0, or `null`",
    ("sweep", "clip_grad_norm"): "a list of numbers > 0 or `null` (off), or `null`",
    ("sweep", "batch_size"): "a list of `full` or integers >= 1, or `null`",
    ("sweep", "compare"): "`init_scale`, `seed` or one of the axes above, or `null`",
}
TYPE_WORDS = {int: "integer", float: "number", str: "string"}


def format_default(section: str, key: str, value: Any) -> str:
    """A default as it would be written in the YAML config."""
    if section == "training" and key == "batch_size" and value is None:
        return "full"
    if value is None:
        return "null"
    if isinstance(value, float) and value == 1 / 3:
        return "0.333"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_default(section, key, v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def allowed(section: str, cls: type, f: dataclasses.Field) -> str:
    """What a value may be, from the field's type, choices and check."""
    if (section, f.name) in ALLOWED_SPECIAL:
        return ALLOWED_SPECIAL[(section, f.name)]
    meta = f.metadata
    if meta.get("choices"):
        return ", ".join(f"`{c}`" for c in meta["choices"])
    tp = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    nullable = type(None) in args
    if nullable:
        (tp,) = [a for a in args if a is not type(None)]
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    if tp is bool:
        return "`true`, `false`"
    check = meta.get("check")
    limit = f" {check.allowed}" if check is not None else ""
    if typing.get_origin(tp) is tuple:
        text = f"a list of {TYPE_WORDS[args[0]]}s{limit}"
    else:
        word = TYPE_WORDS[tp]
        text = f"{'an' if word[0] in 'aeiou' else 'a'} {word}{limit}"
    return f"{text}, or `null`" if nullable else text


def config_tables() -> str:
    """The config reference: one Markdown table per section (classify: points elsewhere), and
    one per nested mapping (training.schedule) after its section's."""
    out = []
    for section, cls in config.SECTIONS.items():
        if section != "classify":
            out += _table(section, cls)
    return "\n".join(out)


def _table(section: str, cls: type) -> list[str]:
    helps = config.option_help(cls)
    out = [f"### `{section}:`", "", "| key | default | allowed | meaning |", "|---|---|---|---|"]
    nested = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default):
            nested.append((f"{section}.{f.name}", type(f.default)))
            where = f"a mapping: see `{section}.{f.name}:`"
            first = dataclasses.fields(f.default)[0].name  # the default's first key says enough
            default = f"{{{first}: {format_default(section, first, getattr(f.default, first))}}}"
            out.append(f"| `{f.name}` | `{default}` | {where} | {helps[f.name]} |")
            continue
        default = format_default(section, f.name, f.default)
        out.append(f"| `{f.name}` | `{default}` | {allowed(section, cls, f)} | {helps[f.name]} |")
    out.append("")
    for name, sub in nested:
        out += _table(name, sub)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", action="store_true", help="print each sweep's output")
    parser.add_argument("--tables", action="store_true", help="print the config reference only")
    args = parser.parse_args(argv)
    if args.tables:
        print(config_tables())
        return 0
    for path in make_figures(transcripts=args.transcripts):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
