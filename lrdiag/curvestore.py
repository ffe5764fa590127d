"""Loss curves as columns: one row per run and epoch, in Parquet (pyarrow) or .npz.

A sweep of 10^5 runs and thousands of epochs holds its curves in a results.json of gigabytes
(about 20 bytes a number as JSON text). Past ``AUTO_BYTES`` (or when asked), ``split`` moves
them to a columnar file beside results.json, whose runs then hold ``"loss": null`` and whose
``"curves"`` names the file and its format; ``join`` puts them back (``lrdiag classify`` and
every reader of a results.json call it). The columns: ``run`` (the run's id), ``epoch``,
``loss`` and, with a validation split, ``val_loss``; NaN where results.json has null (a
diverged run's epochs). Parquet when pyarrow is installed, else .npz (NumPy alone). A leaf:
it imports nothing of lrdiag but errors and files.
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lrdiag.errors import InputError, LrdiagError
from lrdiag.files import CURVES_NPZ_NAME, CURVES_PARQUET_NAME

FORMATS = ("parquet", "npz")  # columnar formats; "json" keeps the curves in results.json
CHOICES = ("auto", "json", *FORMATS)  # --curves
FILE_NAMES = {"parquet": CURVES_PARQUET_NAME, "npz": CURVES_NPZ_NAME}
# auto: curves whose JSON text would pass this many bytes go to a columnar file
AUTO_BYTES = 50 * 2**20
JSON_BYTES_PER_VALUE = 40  # a loss in results.json, indented: "        0.6931471805599453,"


def has_pyarrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def choose(mode: str, doc: Mapping) -> str | None:
    """The columnar format for ``doc``'s curves under ``--curves mode``, or None (JSON)."""
    if mode == "json":
        return None
    if mode == "parquet" and not has_pyarrow():
        raise LrdiagError("--curves parquet needs pyarrow: pip install pyarrow (or --curves npz)")
    if mode in FORMATS:
        return mode
    values = sum(len(r.get("loss") or ()) + len(r.get("val_loss") or ()) for r in doc["runs"])
    if values * JSON_BYTES_PER_VALUE <= AUTO_BYTES:
        return None
    return "parquet" if has_pyarrow() else "npz"


def columns(doc: Mapping) -> dict[str, np.ndarray]:
    """The runs' curves as columns, one row per run and epoch (runs in document order)."""
    runs = doc["runs"]
    has_val = any(r.get("val_loss") is not None for r in runs)
    lengths = np.array([len(r.get("loss") or ()) for r in runs], dtype=np.int64)
    ids = np.array([r["id"] for r in runs], dtype=np.int64)
    out = {
        "run": np.repeat(ids, lengths),
        "epoch": np.concatenate([np.zeros(0, np.int64), *(np.arange(n) for n in lengths)]),
        "loss": _values([r.get("loss") or () for r in runs]),
    }
    if has_val:
        out["val_loss"] = _values(
            [r.get("val_loss") or [None] * len(r.get("loss") or ()) for r in runs]
        )
    out["epoch"] = out["epoch"].astype(np.int64)
    return out


def _values(curves: list) -> np.ndarray:
    flat = [np.nan if v is None else v for curve in curves for v in curve]
    return np.asarray(flat, dtype=np.float64)


def to_bytes(cols: dict[str, np.ndarray], fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(cols), buf, compression="zstd")
    else:
        arrays: dict[str, Any] = dict(cols)
        np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def read(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A curves file's columns (``InputError`` when it cannot be read)."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            if not has_pyarrow():
                raise InputError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow")
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            return {name: table.column(name).to_numpy() for name in table.column_names}
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: the curves file results.json names is missing") from None
    except Exception as exc:  # a truncated or foreign file: pyarrow and numpy raise many kinds
        raise InputError(f"{path}: cannot read the curves: {exc}") from None


def split(doc: Mapping, fmt: str) -> tuple[dict[str, Any], str, bytes]:
    """``doc`` without its curves (rows' loss and val_loss null, ``curves`` naming the file),
    the file's name and its bytes."""
    data = to_bytes(columns(doc), fmt)
    out = dict(doc)
    out["runs"] = [{**r, "loss": None, "val_loss": None} for r in doc["runs"]]
    out["curves"] = {"file": FILE_NAMES[fmt], "format": fmt}
    return out, FILE_NAMES[fmt], data


def join(doc: Mapping, base_dir: str | os.PathLike) -> dict[str, Any]:
    """``doc`` with the curves of its columnar file (in ``base_dir``) back in its rows."""
    ref = doc.get("curves")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("file"), str):
        return dict(doc)
    name = Path(ref["file"]).name  # a name beside results.json, never a path elsewhere
    cols = read(Path(base_dir) / name)
    if "run" not in cols or "epoch" not in cols or "loss" not in cols:
        raise InputError(f"{Path(base_dir) / name}: expected columns run, epoch and loss")
    order = np.lexsort((cols["epoch"], cols["run"]))
    run = cols["run"][order]
    loss = cols["loss"][order]
    val = cols["val_loss"][order] if "val_loss" in cols else None
    ids = [r.get("id") for r in doc["runs"]]
    starts = np.searchsorted(run, ids, side="left")
    ends = np.searchsorted(run, ids, side="right")
    out = dict(doc)
    out.pop("curves")
    rows = []
    for r, a, b in zip(doc["runs"], starts, ends, strict=True):
        row = dict(r)
        row["loss"] = _curve(loss[a:b])
        row["val_loss"] = None if val is None else _curve(val[a:b])
        rows.append(row)
    out["runs"] = rows
    return out


def _curve(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]
