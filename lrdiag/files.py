"""Result files: written atomically, as strict JSON, or as a CSV of the runs.

``atomic_write_bytes`` swaps a whole file in (a reader sees the old file or the new one, never a
part); ``to_json_text`` is strict JSON (non-finite numbers as null); ``runs_to_csv_text`` is one
row a run of a results document. A leaf: it imports nothing of lrdiag.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

# The sweep's grid axes beside learning_rates, init.scales and training.seeds, in the order the
# grid nests them (outermost first); config validates them, results rows and the CSV carry them.
EXTRA_AXES = (
    "optimizer",
    "batch_size",
    "momentum",
    "weight_decay",
    "warmup_steps",
    "clip_grad_norm",
)


JSON_NAME = "results.json"
CSV_NAME = "results.csv"
MARKDOWN_NAME = "report.md"
CURVES_NAME = "curves.png"
FINAL_LOSS_NAME = "final_loss_vs_lr.png"
PHASE_NAME = "phase.png"
SHARPNESS_NAME = "sharpness.png"
PLOT_NAMES = (CURVES_NAME, FINAL_LOSS_NAME, PHASE_NAME, SHARPNESS_NAME)
# lrdiag find's own files (lrdiag.find_report, lrdiag.find_plot), beside its sweep's.
FIND_JSON_NAME = "find.json"
FIND_CSV_NAME = "find.csv"
FIND_PNG_NAME = "find.png"
FIND_NAMES = (FIND_JSON_NAME, FIND_CSV_NAME, FIND_PNG_NAME)
# Every file a sweep or lrdiag find may write into its directory (lrdiag.outdir guards them).
# the loss curves as columns (lrdiag.curvestore), when results.json would be too large
CURVES_PARQUET_NAME = "curves.parquet"
CURVES_NPZ_NAME = "curves.npz"
# the finished chunks of a sweep (lrdiag.chunks), kept for --resume and lrdiag merge
CHUNKS_NAME = "chunks"
OUTPUT_NAMES = (
    JSON_NAME, CSV_NAME, MARKDOWN_NAME, CURVES_PARQUET_NAME, CURVES_NPZ_NAME, *PLOT_NAMES,
    *FIND_NAMES,
)  # fmt: skip

# The fixed leading CSV columns; every other scalar run metric follows, sorted by name.
CSV_COLUMNS = (
    "id",
    "learning_rate",
    "init_scale",
    "seed",
    "verdict",
    "flags",
    "reason",
    "initial_loss",
    "final_loss",
    "min_loss",
    "min_epoch",
    "diverged_epoch",
    "val_verdict",
    "val_flags",
    "val_final_loss",
)
# Metric keys shown under another name in the fixed columns.
_RENAMED_METRICS = {
    "initial": "initial_loss",
    "final": "final_loss",
    "min": "min_loss",
    "min_epoch": "min_epoch",
    "diverged_epoch": "diverged_epoch",
}


# --------------------------------------------------------------------------- atomic files


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part.

    The bytes go to a hidden temporary file in the same directory (same filesystem), are
    flushed to disk, then ``os.replace`` swaps it in. The temporary file is removed on error.
    The parent directory must exist. A path that is there and is no regular file (a FIFO, or a
    device: ``--junit /dev/stdout``) is written in place: replacing it would put a file where
    its readers expect the pipe or the device. Returns the path.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        with open(path, "wb") as f:
            f.write(data)
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as open() would (mkstemp forces 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """``atomic_write_bytes`` for text; line endings are written exactly as given."""
    return atomic_write_bytes(path, text.encode(encoding))


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """A copy of ``obj`` made of plain JSON types: non-finite floats become None.

    Handles dicts (keys become strings), lists, tuples, numpy arrays and scalars, dataclasses
    and paths. Anything else is a TypeError, so a bug shows instead of a silent ``str()``.
    """
    if type(obj) is float:  # the most common by far (every loss): checked first
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):  # complex, datetime, ...: let .item() decide
        return to_jsonable(obj.item())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON: {obj!r:.80}")


def to_json_text(doc: Any) -> str:
    """Strict JSON (no NaN or Infinity; jq accepts it), indent 2, trailing newline."""
    return json.dumps(to_jsonable(doc), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- CSV


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, np.generic))


def _csv_cell(value: Any) -> str:
    value = to_jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest string that round-trips
    return str(value)


def csv_columns(doc: Mapping) -> list[str]:
    """The CSV header: ``CSV_COLUMNS`` then every other scalar run metric, sorted by name."""
    extra: set[str] = set()
    for run in doc.get("runs") or []:
        for key, value in (run.get("metrics") or {}).items():
            if key not in _RENAMED_METRICS and _is_scalar(value):
                extra.add(str(key))
    extra -= set(CSV_COLUMNS)
    axes = [a for a in EXTRA_AXES if any(a in r for r in doc.get("runs") or [])]
    lead = list(CSV_COLUMNS)
    lead[lead.index("seed") + 1 : lead.index("seed") + 1] = axes  # a sweep's other axes
    return [*lead, *sorted(extra - set(axes))]


def _csv_row(run: Mapping) -> dict[str, Any]:
    metrics = run.get("metrics") or {}
    val = run.get("val") or {}
    row: dict[str, Any] = {
        "id": run.get("id"),
        "learning_rate": run.get("learning_rate"),
        "init_scale": run.get("init_scale"),
        "seed": run.get("seed"),
        "verdict": run.get("verdict"),
        "flags": ";".join(str(f) for f in run.get("flags") or ()),
        "reason": run.get("reason"),
        "val_verdict": val.get("verdict"),
        "val_flags": ";".join(str(f) for f in val.get("flags") or ()),
        "val_final_loss": (val.get("metrics") or {}).get("final"),
    }
    for axis in EXTRA_AXES:
        if axis in run:
            row[axis] = run[axis]
    for key, value in metrics.items():
        if _is_scalar(value):
            row.setdefault(_RENAMED_METRICS.get(key, key), value)
    return row


def runs_to_csv_text(doc: Mapping) -> str:
    """One row a run (see ``csv_columns``); an empty cell for null, flags joined by ``;`` (the
    validation curve's, such as ``overfitting``, in ``val_flags``)."""
    columns = csv_columns(doc)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for run in doc.get("runs") or []:
        row = _csv_row(run)
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return buf.getvalue()
