"""The sweep as one function: load config -> data -> plan -> train -> judge -> document -> write.

``run_sweep`` is what a library user calls::

    from lrdiag.pipeline import run_sweep

    doc = run_sweep("configs/quickstart.yaml", out="results/quickstart")
    doc["summary"]["per_scale"][0]["recommended_lr"]

Each step is a function of its own, so that ``lrdiag sweep`` runs the same steps with its
progress bar, notes and signal handling between them. Nothing here prints or exits: errors are
``LrdiagError`` subclasses (``ConfigError``, ``DataError``) and the CLI picks the exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrdiag import chunks, curvestore, executor, lints, outdir, results, shards
from lrdiag import sweep as engine
from lrdiag.config import Config, load_config
from lrdiag.data import Dataset, load_dataset
from lrdiag.errors import LrdiagError
from lrdiag.files import CHUNKS_NAME, JSON_NAME, atomic_write_bytes
from lrdiag.lints import Lint
from lrdiag.report import write_results
from lrdiag.sweep import Plan, Run, TrainResult


def configure(path: str | os.PathLike, *, dtype: str | None = None) -> Config:
    """The config at ``path``, with ``training.dtype`` replaced by ``dtype`` when given."""
    cfg = load_config(path)
    if dtype:
        cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, dtype=dtype))
    return cfg


def load_data(cfg: Config, path: str | os.PathLike | None = None) -> Dataset:
    """The config's dataset, in its training dtype; ``path``, the config's file, names it in
    errors."""
    file = None if path is None else str(path)
    return load_dataset(cfg.data, cfg.model, file=file, dtype=cfg.training.dtype)


def grid_size(cfg: Config) -> int:
    """The number of runs, from the grid's axes (a dry run of a huge grid builds no Run)."""
    return engine.n_runs(cfg)


def make_plan(cfg: Config, dataset: Dataset, max_memory: int | str | None = None) -> Plan:
    """How the runs are chunked to fit ``max_memory`` (bytes, or "256MB"; default 2 GiB)."""
    budget = engine.parse_memory(max_memory) if max_memory is not None else None
    n_val = 0 if dataset.X_val is None else len(dataset.X_val)
    shape = engine.input_shape(dataset)  # (features,), or an image's (channels, height, width)
    return engine.plan(
        cfg, len(dataset.X), n_val, shape, dataset.Y.shape[1], grid_size(cfg), budget
    )


def train(
    cfg: Config,
    dataset: Dataset,
    runs: list[Run],
    *,
    max_memory: int | str | None = None,
    progress: Callable[[int], None] | None = None,
) -> TrainResult:
    """Every run trained (``sweep.train``); ``progress(n)`` is told of run-epochs done."""
    budget = engine.parse_memory(max_memory) if max_memory is not None else None
    return engine.train(cfg, dataset, runs, max_memory=budget, progress=progress)


def judge(
    cfg: Config,
    dataset: Dataset,
    runs: list[Run],
    result: TrainResult,
    *,
    found: list[Lint] | None = None,
    config_hash: str | None = None,
) -> dict[str, Any]:
    """The results document: every run judged, the summary and the lints (results.json), and
    the sweep's identity (``config_hash``: what ``--resume`` and ``lrdiag merge`` check).
    ``found`` and ``config_hash``: the config's lints and hash, when the caller has them."""
    if found is None:
        found = lints.check_config(cfg, dataset)
    doc = results.document(cfg, runs, result, dataset.n_classes, found)
    doc["config_hash"] = chunks.config_hash(cfg, dataset) if config_hash is None else config_hash
    return doc


@dataclasses.dataclass
class Chunked:
    """A sweep trained chunk by chunk (``train_in_chunks``)."""

    runs: list[Run]  # the runs swept: the grid's, or the shard's
    outcome: executor.Outcome  # their TrainResult (outcome.result), chunks trained and reused
    store: chunks.Store | None  # the chunks kept in the output directory
    shard: tuple[int, int] | None  # (K, N) of --shard K/N
    span: tuple[int, int]  # the runs' first index and end in the grid
    found: list[Lint]  # the config's lints (lints.check_config), for the manifest and judging
    config_hash: str  # chunks.config_hash, likewise: each computed once a sweep


def sweep_span(
    cfg: Config, dataset: Dataset, shard: tuple[int, int] | None, grid: list[Run] | None = None
) -> tuple[int, int]:
    """The runs a sweep trains: the grid's first and end, or shard K of N's (``shards``)."""
    if shard is None:
        return 0, grid_size(cfg)
    return shards.shard_span(cfg, len(dataset.X), grid or engine.expand_grid(cfg), *shard)


def _chunk_layout(
    cfg: Config, dataset: Dataset, budget: int | None, shard: tuple[int, int] | None
) -> tuple[list[Run], tuple[int, int], list[tuple[int, int]]]:
    """The grid, the runs a sweep (or shard K of N) trains, and their chunks under ``budget``:
    one layout for training and for a dry run's account of a resume."""
    grid = engine.expand_grid(cfg)
    lo, hi = sweep_span(cfg, dataset, shard, grid)
    spans = chunks.layout(len(grid), chunks.chunk_size(cfg, dataset, len(grid), budget), lo, hi)
    return grid, (lo, hi), spans


def resume_plan(
    cfg: Config,
    dataset: Dataset,
    out_dir: str | os.PathLike,
    *,
    max_memory: int | str | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """What ``--resume`` into ``out_dir`` would do, for a dry run (nothing is written):
    {"state", "runs", "chunks", "done_runs", "done_chunks"}. state: "partial" (chunks of this
    config and data there: those done are read back, the rest trained, as ``train_in_chunks``
    does), "other" (chunks of another config or data: refused), "finished" (results and no
    chunks: refused without --force) or "fresh" (nothing there: the whole grid trains)."""
    budget = engine.parse_memory(max_memory) if max_memory is not None else None
    _, (lo, hi), spans = _chunk_layout(cfg, dataset, budget, shard)
    plan = {"runs": hi - lo, "chunks": len(spans), "done_runs": 0, "done_chunks": 0}
    out = Path(out_dir)
    if (out / CHUNKS_NAME / chunks.MANIFEST_NAME).is_file():
        store = chunks.Store.read(out)
        if store.config_hash != chunks.config_hash(cfg, dataset):
            return {"state": "other", **plan}
        held = [(a, b) for a, b in spans if store.covering(a, b) is not None]
        done = {"done_runs": sum(b - a for a, b in held), "done_chunks": len(held)}
        return {"state": "partial", **plan, **done}
    return {"state": "finished" if (out / JSON_NAME).is_file() else "fresh", **plan}


def may_replace(out: str | os.PathLike, *, force: bool, resume: bool) -> bool:
    """Whether a sweep into ``out`` may replace the results there: with ``force``, or to
    ``resume`` the unfinished sweep whose chunks are there (a finished sweep has none left:
    replacing its results still takes ``force``)."""
    return force or (resume and (Path(out) / CHUNKS_NAME).is_dir())


def _same_shard(out_dir: Path, shard: tuple[int, int] | None) -> None:
    """``--resume`` finishes the sweep or shard whose results are in ``out_dir``, or grows a
    shard into the whole grid (its results are then part of the whole's); it never replaces
    them with another shard's (a shard's directory keeps its chunks for ``lrdiag merge``, so
    ``--resume`` is allowed there)."""
    try:
        doc = json.loads((Path(out_dir) / JSON_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no results yet (killed before any): nothing another shard could replace
    held = doc.get("shard") if isinstance(doc, dict) else None
    had = (held.get("index"), held.get("of")) if isinstance(held, dict) else None
    if shard is None or had == tuple(shard):
        return

    def name(s):
        return "the whole grid" if s is None else f"shard {s[0]}/{s[1]}"

    how = "without --shard" if had is None else f"with --shard {had[0]}/{had[1]} (or without)"
    raise LrdiagError(
        f"--resume: {out_dir} holds {name(had)}, not {name(shard)}: resume it {how}, or pick "
        "another --out"
    )


def train_in_chunks(
    cfg: Config,
    dataset: Dataset,
    out_dir: Path | None,
    *,
    max_memory: int | str | None = None,
    progress: Callable[[int], None] | None = None,
    resume: bool = False,
    force: bool = False,
    shard: tuple[int, int] | None = None,
    scheduler: str | None = None,
) -> Chunked:
    """Train the grid (or shard K of N) chunk by chunk (``chunks.layout``), keeping each
    finished chunk in ``out_dir``/chunks (claimed by the caller) as it ends; ``resume``: train
    only the chunks missing there (``LrdiagError`` when the config or data changed);
    ``scheduler``: on Dask (``executor``)."""
    budget = engine.parse_memory(max_memory) if max_memory is not None else None
    grid, (lo, hi), spans = _chunk_layout(cfg, dataset, budget, shard)
    store = None
    if out_dir is not None and resume:
        _same_shard(out_dir, shard)
    found = lints.check_config(cfg, dataset)
    identity = chunks.config_hash(cfg, dataset)
    if out_dir is not None:
        info = chunks.manifest(cfg, dataset, found, len(grid), identity)
        store = chunks.Store.open(out_dir, info, resume=resume, force=force)
    try:
        outcome = executor.train_chunks(
            cfg, dataset, grid, spans, max_memory=budget, progress=progress, store=store,
            scheduler=scheduler,
        )  # fmt: skip
    except BaseException:
        if store is not None and not store.done():
            store.remove()  # nothing trained (a scheduler unreached): nothing to resume
        raise
    return Chunked(grid[lo:hi], outcome, store, shard, (lo, hi), found, identity)


def chunked_document(cfg: Config, dataset: Dataset, swept: Chunked) -> dict[str, Any]:
    """``judge`` of a chunked sweep; a shard's document says which shard and runs it holds."""
    doc = judge(
        cfg, dataset, swept.runs, swept.outcome.result, found=swept.found,
        config_hash=swept.config_hash,
    )  # fmt: skip
    if swept.shard is not None:
        k, n = swept.shard
        doc["shard"] = {"index": k, "of": n, "runs": list(swept.span)}
    return doc


def finish_chunks(swept: Chunked, doc: dict[str, Any]) -> None:
    """After the results are written: a whole sweep's chunks are no longer needed (a shard's
    stay, for ``lrdiag merge``; an unfinished sweep's, for ``--resume``)."""
    if swept.store is not None and swept.shard is None and doc["complete"]:
        swept.store.remove()


def merged_document(merged: shards.Merged) -> dict[str, Any]:
    """The results document of shards merged (``shards.merge``): one sweep's, as ``judge``
    would write it, from the config, classes and lints the shards recorded."""
    doc = results.document(merged.cfg, merged.runs, merged.result, merged.n_classes, merged.lints)
    doc["config_hash"] = merged.config_hash
    return doc


def merge(
    dirs: list[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    plots: bool = True,
    curves: str = "auto",
) -> dict[str, Any]:
    """Shards' output directories (``lrdiag sweep --shard K/N``) as one sweep: its results
    document, written to ``out`` as ``lrdiag sweep`` would (``shards.merge`` checks them)."""
    doc = merged_document(shards.merge([Path(d) for d in dirs]))
    if out is not None:
        with outdir.claim(Path(out), force=force) as claim:
            write_outputs(doc, claim, plots=plots, curves=curves)
    return doc


def write_outputs(
    doc: dict[str, Any] | None,
    claim: outdir.Claim,
    *,
    plots: bool = True,
    hold: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    extra: Callable[[Path], None] | None = None,
    curves: str = "auto",
) -> None:
    """results.json, .csv, report.md and (unless ``plots`` is false) the PNGs, written into a
    staging directory of ``claim`` and swapped in whole (``outdir``): an error while writing
    leaves the directory as it was. Plots of an earlier sweep (``--force``) that this one does
    not redraw are removed: they would contradict the new results. ``hold()`` is entered around
    the swap (the CLI holds signals there). ``doc`` None: no sweep files; ``extra(staging)``
    writes more files (``lrdiag find``'s). ``curves`` (``--curves``: auto, json, parquet or
    npz): where the loss curves go (``curvestore.choose``); the document itself keeps them."""
    fmt = None if doc is None else curvestore.choose(curves, doc)
    staging = claim.stage()
    try:
        if doc is not None and plots:
            from lrdiag import figures  # matplotlib: imported only when plots are wanted

            figures.save_sweep_plots(doc, staging)
        if doc is not None and fmt is not None:
            stripped, name, data = curvestore.split(doc, fmt)
            atomic_write_bytes(staging / name, data)
            write_results(doc, staging, json_doc=stripped)
        elif doc is not None:
            write_results(doc, staging)
        if extra is not None:
            extra(staging)
        claim.seal(staging)
    except OSError as exc:  # a full disk, a read-only or vanished directory: not our bug
        claim.discard(staging)
        raise LrdiagError(f"cannot write results to {claim.path}: {exc}") from None
    except BaseException:
        claim.discard(staging)
        raise
    try:  # a commit cut short leaves the sealed staging directory: the next claim finishes it
        with hold():
            claim.commit(staging)
    except OSError as exc:
        raise LrdiagError(f"cannot write results to {claim.path}: {exc}") from None


def run_sweep(
    config: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    plots: bool = True,
    dtype: str | None = None,
    max_memory: int | str | None = None,
    progress: Callable[[int], None] | None = None,
    resume: bool = False,
    shard: tuple[int, int] | None = None,
    scheduler: str | None = None,
    curves: str = "auto",
) -> dict[str, Any]:
    """Sweep the experiment in the YAML file ``config`` and return its results document.

    With ``out``, the files ``lrdiag sweep --out`` writes go there too (``force``: replace
    results already there; ``plots``: the PNGs), and the finished chunks as they end
    (``resume``: train only those missing). ``dtype``, ``max_memory``, ``shard`` (K, N) and
    ``scheduler`` are the CLI's ``--dtype``, ``--max-memory``, ``--shard`` and ``--scheduler``;
    ``curves``: ``--curves`` (auto, json, parquet or npz).
    """
    cfg = configure(config, dtype=dtype)
    dataset = load_data(cfg, config)
    if out is None:
        swept = train_in_chunks(
            cfg, dataset, None, max_memory=max_memory, progress=progress, shard=shard,
            scheduler=scheduler,
        )  # fmt: skip
        return chunked_document(cfg, dataset, swept)
    with outdir.claim(Path(out), force=may_replace(out, force=force, resume=resume)) as claim:
        swept = train_in_chunks(
            cfg, dataset, claim.path, max_memory=max_memory, progress=progress, resume=resume,
            force=force, shard=shard, scheduler=scheduler,
        )  # fmt: skip
        doc = chunked_document(cfg, dataset, swept)
        write_outputs(doc, claim, plots=plots, curves=curves)
        finish_chunks(swept, doc)
    return doc
