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
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrdiag import lints, outdir, results
from lrdiag import sweep as engine
from lrdiag.config import Config, load_config
from lrdiag.data import Dataset, load_dataset
from lrdiag.errors import LrdiagError
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


def judge(cfg: Config, dataset: Dataset, runs: list[Run], result: TrainResult) -> dict[str, Any]:
    """The results document: every run judged, the summary and the lints (results.json)."""
    found = lints.check_config(cfg, dataset)
    return results.document(cfg, runs, result, dataset.n_classes, found)


def write_outputs(
    doc: dict[str, Any] | None,
    claim: outdir.Claim,
    *,
    plots: bool = True,
    hold: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    extra: Callable[[Path], None] | None = None,
) -> None:
    """results.json, .csv, report.md and (unless ``plots`` is false) the PNGs, written into a
    staging directory of ``claim`` and swapped in whole (``outdir``): an error while writing
    leaves the directory as it was. Plots of an earlier sweep (``--force``) that this one does
    not redraw are removed: they would contradict the new results. ``hold()`` is entered around
    the swap (the CLI holds signals there). ``doc`` None: no sweep files; ``extra(staging)``
    writes more files (``lrdiag find``'s)."""
    staging = claim.stage()
    try:
        if doc is not None and plots:
            from lrdiag import figures  # matplotlib: imported only when plots are wanted

            figures.save_sweep_plots(doc, staging)
        if doc is not None:
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
) -> dict[str, Any]:
    """Sweep the experiment in the YAML file ``config`` and return its results document.

    With ``out``, the files ``lrdiag sweep --out`` writes go there too (``force``: replace
    results already there; ``plots``: the PNGs). ``dtype`` and ``max_memory`` are the CLI's
    ``--dtype`` and ``--max-memory``.
    """
    cfg = configure(config, dtype=dtype)
    dataset = load_data(cfg, config)
    runs = engine.expand_grid(cfg)
    result = train(cfg, dataset, runs, max_memory=max_memory, progress=progress)
    doc = judge(cfg, dataset, runs, result)
    if out is not None:
        with outdir.claim(Path(out), force=force) as claim:
            write_outputs(doc, claim, plots=plots)
    return doc
