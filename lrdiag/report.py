"""A sweep's report files: results.json, results.csv and report.md, each written atomically.

The results document (the dict that becomes ``results.json``)::

    {"schema_version", "lrdiag_version", "complete", "config": {...},
     "runs": [{"id", "learning_rate", "init_scale", "seed", "verdict", "reason", "flags",
               "metrics": {...}, "loss": [...], "val_loss": [...] | None, "val": {...} | None}],
     "summary": {"per_scale": [...], "verdict_counts": {...}, "stability": {...}?},
     "warnings": [...]}

The JSON and CSV text come from ``lrdiag.files``, the Markdown from ``lrdiag.markdown``; the
terminal shows the same document through ``lrdiag.terminal``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lrdiag.files import (
    CSV_NAME,
    JSON_NAME,
    MARKDOWN_NAME,
    atomic_write_text,
    runs_to_csv_text,
    to_json_text,
)
from lrdiag.markdown import markdown_summary


def write_results(
    doc: Mapping, out_dir: str | os.PathLike, *, json_doc: Mapping | None = None
) -> list[Path]:
    """Write results.json, results.csv and report.md into ``out_dir`` (created if needed),
    each atomically. Returns the paths written. ``json_doc``: what results.json holds instead
    of ``doc`` (its curves moved to a columnar file: ``curvestore.split``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        atomic_write_text(out / JSON_NAME, to_json_text(doc if json_doc is None else json_doc)),
        atomic_write_text(out / CSV_NAME, runs_to_csv_text(doc)),
        atomic_write_text(out / MARKDOWN_NAME, markdown_summary(doc)),
    ]
