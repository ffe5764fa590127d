"""A sweep in chunks: their layout, the sweep's identity, and finished chunks kept on disk.

A grid of runs is cut into chunks of consecutive runs (``layout``), from the config and the
memory budget only, never from timing: a resumed sweep, a shard and a Dask worker cut the same
grid the same way. Each finished chunk (its runs' ``TrainResult`` rows) is written atomically to
``chunks/`` in the output directory (``Store``), beside a manifest holding the sweep's identity
(``config_hash``: the canonical config and the data's bytes) and what judging needs besides
the losses (the config, the number of classes, the config's lints), so that a resumed sweep
trains only the chunks missing and ``lrdiag merge`` judges shards without their data.

Errors are ``LrdiagError`` (one line, exit 2); nothing here prints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from lrdiag import __version__
from lrdiag import sweep as engine
from lrdiag.config import Config, config_from_dict, config_to_dict
from lrdiag.errors import LrdiagError
from lrdiag.files import CHUNKS_NAME, atomic_write_bytes, to_json_text
from lrdiag.lints import Lint
from lrdiag.sweep import TrainResult

# A grid is cut into about this many chunks (the steps a resume, a shard or a worker takes)...
TARGET_CHUNKS = 32
# ...but a chunk holds at least this many runs (fewer would waste the engine's batching),
# and never more than the memory budget allows (sweep.plan).
MIN_CHUNK_RUNS = 64
MANIFEST_NAME = "manifest.json"
_CHUNK_FILE = re.compile(r"runs-(\d{9})-(\d{9})\.npz")
# TrainResult's per-run arrays a chunk file holds (None ones are left out)
_ARRAYS = (
    "loss", "val_loss", "diverged_epoch", "epochs_done", "sharpness_init", "sharpness",
    "dead_end", "clipped", "steps",
)  # fmt: skip


def config_hash(cfg: Config, dataset) -> str:
    """The sweep's identity: a SHA-256 of its canonical config (every option resolved, and the
    training options the file gave) and of what its files hold: the data's arrays (dtype,
    shape and bytes) and, with ``init: {scheme: file}``, the initial weights. Files count by
    their content, not their path, so shards on machines with other checkouts agree."""
    h = hashlib.sha256()
    config = config_to_dict(cfg)
    config["data"]["path"] = config["init"]["path"] = None  # their content is hashed below
    canonical = {"config": config, "given": sorted(cfg.given)}
    h.update(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())
    arrays = [(name, getattr(dataset, name, None)) for name in ("X", "Y", "X_val", "Y_val")]
    if cfg.init.path is not None:
        weights = engine.initial_weights(cfg, engine.input_shape(dataset), dataset.Y.shape[1])
        arrays += [
            (f"init{seed}.{k}", v) for seed, params in weights.items() for k, v in params.items()
        ]
    for name, a in arrays:
        if a is None:
            h.update(f"{name}:none;".encode())
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.data)  # the bytes of a.tobytes(), without copying them (W2's X: 26 MB)
    return h.hexdigest()[:24]


def chunk_size(cfg: Config, dataset, n_runs: int, max_memory: int | None) -> int:
    """Runs per chunk: about ``n_runs / TARGET_CHUNKS``, at least ``MIN_CHUNK_RUNS``, at most
    what ``max_memory`` holds at once on one thread (so the layout is the same on any machine)."""
    n_val = 0 if dataset.X_val is None else len(dataset.X_val)
    fits = engine.plan(
        cfg, len(dataset.X), n_val, engine.input_shape(dataset), dataset.Y.shape[1], n_runs,
        max_memory, threads=1,
    ).chunk_size  # fmt: skip
    return max(1, min(fits, max(MIN_CHUNK_RUNS, -(-n_runs // TARGET_CHUNKS))))


def layout(n_runs: int, size: int, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """The chunks of runs ``lo`` to ``hi`` (default: the whole grid): the grid's chunks of
    ``size`` runs (``[k size, (k + 1) size)``), cut at ``lo`` and ``hi``."""
    hi = n_runs if hi is None else hi
    edges = sorted({lo, hi, *range(-(-lo // size) * size, hi, size)})
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if a < b]


# --------------------------------------------------------------------------- chunk files


def chunk_name(lo: int, hi: int) -> str:
    return f"runs-{lo:09d}-{hi:09d}.npz"


def to_bytes(part: TrainResult) -> bytes:
    """A finished chunk's ``TrainResult`` as .npz bytes (exact: the arrays as trained)."""
    arrays = {name: getattr(part, name) for name in _ARRAYS if getattr(part, name) is not None}
    if part.sharpness_epochs is not None:
        arrays["sharpness_epochs"] = np.asarray(part.sharpness_epochs, dtype=np.int64)
    arrays["seconds"] = np.array([part.seconds, part.sharpness_seconds])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_bytes(data: bytes | Path) -> TrainResult:
    """``to_bytes`` read back."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with np.load(source, allow_pickle=False) as z:
        got = {name: z[name] for name in z.files}
    seconds = got.pop("seconds")
    epochs = got.pop("sharpness_epochs", None)
    fields = {name: got.get(name) for name in _ARRAYS}
    part = TrainResult(**fields, seconds=float(seconds[0]), complete=True)  # type: ignore[arg-type]
    part.sharpness_seconds = float(seconds[1])
    part.sharpness_epochs = None if epochs is None else [int(k) for k in epochs]
    return part


def empty_result(n_runs: int, epochs: int, has_val: bool) -> TrainResult:
    """A ``TrainResult`` of ``n_runs`` runs none of which trained (what chunks fill in)."""
    return TrainResult(
        np.full((n_runs, epochs + 1), np.nan),
        np.full((n_runs, epochs + 1), np.nan) if has_val else None,
        np.full(n_runs, -1, dtype=np.int64),
        np.zeros(n_runs, dtype=np.int64),
        0.0,
        complete=False,
    )


def assemble(
    n_runs: int, epochs: int, has_val: bool, parts: Iterable[tuple[int, int, TrainResult]]
) -> TrainResult:
    """One ``TrainResult`` of ``n_runs`` runs from chunks ``(lo, hi, part)`` (``lo`` counted
    from the first of them); complete when every run trained every epoch."""
    out = empty_result(n_runs, epochs, has_val)
    whole = True
    for lo, hi, part in parts:
        engine._scatter(out, part, np.arange(lo, hi), n_runs)
        whole = whole and part.complete
    out.complete = whole and bool((out.epochs_done == epochs).all())
    return out


# --------------------------------------------------------------------------- the store


def manifest(
    cfg: Config, dataset, found: Iterable[Lint], n_runs: int, identity: str
) -> dict[str, Any]:
    """What a chunks directory records of its sweep besides the chunks (``identity``: its
    ``config_hash``)."""
    return {
        "config_hash": identity,
        "n_runs": n_runs,
        "config": config_to_dict(cfg),
        "given": list(cfg.given),
        "n_classes": dataset.n_classes,
        "has_val": dataset.X_val is not None and len(dataset.X_val) > 0,
        "lints": [lint.to_dict() for lint in found],
        "lrdiag_version": __version__,
    }


def manifest_config(m: dict[str, Any]) -> Config:
    """The config a manifest records (the options the file gave included)."""
    cfg = config_from_dict(m["config"], file=MANIFEST_NAME)
    return dataclasses.replace(cfg, given=tuple(m["given"]))


def manifest_lints(m: dict[str, Any]) -> list[Lint]:
    return [Lint(**d) for d in m["lints"]]


class Store:
    """The ``chunks/`` directory of an output directory: a manifest and one file a chunk."""

    def __init__(self, path: Path, info: dict[str, Any]):
        self.path, self.info = Path(path), info

    @property
    def config_hash(self) -> str:
        return self.info["config_hash"]

    @classmethod
    def read(cls, out_dir: str | Path) -> Store:
        """The store of a finished or interrupted sweep in ``out_dir`` (``LrdiagError`` if none)."""
        path = Path(out_dir) / CHUNKS_NAME
        try:
            info = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or exc
            file = path / MANIFEST_NAME
            raise LrdiagError(f"{file}: cannot read the chunks' manifest: {why}") from None
        return cls(path, info)

    @classmethod
    def open(cls, out_dir: Path, info: dict[str, Any], *, resume: bool, force: bool) -> Store:
        """The store for a sweep starting in the claimed ``out_dir``. ``resume``: keep the
        chunks there (of the same config, else ``LrdiagError``); ``force``: remove them."""
        path = Path(out_dir) / CHUNKS_NAME
        if path.exists() and not resume:
            if not force:
                raise LrdiagError(
                    f"--out: {out_dir} holds the chunks of an unfinished sweep ({CHUNKS_NAME}/): "
                    "pass --resume to finish it or --force to start over"
                )
            shutil.rmtree(path)
        if resume and (path / MANIFEST_NAME).exists():
            old = cls.read(out_dir)
            if old.config_hash != info["config_hash"]:
                raise LrdiagError(
                    f"--resume: {out_dir} holds chunks of another config or data (hash "
                    f"{old.config_hash}, now {info['config_hash']}): pass --force to start over"
                )
            for stray in path.glob(".*.tmp"):  # a write cut short by a kill
                stray.unlink(missing_ok=True)
            return cls(path, info)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path / MANIFEST_NAME, to_json_text(info).encode())
        return cls(path, info)

    def done(self) -> dict[tuple[int, int], Path]:
        """The chunks on disk: (first run, end) -> file."""
        found = {}
        for p in self.path.glob("runs-*.npz"):
            m = _CHUNK_FILE.fullmatch(p.name)
            if m:
                found[(int(m.group(1)), int(m.group(2)))] = p
        return found

    def save(self, lo: int, hi: int, part: TrainResult) -> None:
        """Keep a finished chunk (atomically: a kill leaves the chunk whole or absent)."""
        atomic_write_bytes(self.path / chunk_name(lo, hi), to_bytes(part))

    def load(self, lo: int, hi: int) -> TrainResult:
        file = self.path / chunk_name(lo, hi)
        try:
            return from_bytes(file)
        except (OSError, ValueError, KeyError) as exc:
            raise LrdiagError(f"{file}: cannot read this chunk: {exc}") from None

    def covering(self, lo: int, hi: int) -> list[tuple[int, int]] | None:
        """Chunks on disk that cover runs ``lo`` to ``hi`` exactly once, in order, or None."""
        spans = sorted(s for s in self.done() if lo <= s[0] and s[1] <= hi)
        at, picked = lo, []
        for a, b in spans:
            if a == at:
                picked.append((a, b))
                at = b
        return picked if at == hi else None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
