"""A grid in N shards for a CI matrix, and the shards merged back into one sweep.

``--shard K/N`` trains the K-th of N slices of consecutive runs, cut where the estimated cost
(``run_costs``) reaches K/N of the grid's, so the slices take about the same time. Each shard's
output directory holds its results.json (with ``config_hash`` and ``shard``) and its chunks
(``chunks.Store``): ``merge`` checks that the shards come from one config and data and cover
the grid exactly once, and assembles their chunks into the ``TrainResult`` one sweep of the
whole grid would have given, which ``pipeline.merge`` judges and writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrdiag import chunks
from lrdiag import sweep as engine
from lrdiag.config import Config
from lrdiag.errors import LrdiagError, printable
from lrdiag.files import CHUNKS_NAME, JSON_NAME
from lrdiag.lints import Lint
from lrdiag.sweep import Run, TrainResult

# A step's fixed cost (Python and dispatch, whatever its batch), in rows of data: a run's
# cost per epoch is its rows plus this times its steps, so small batches cost more.
STEP_ROWS = 64
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3); K counts from 1."""
    m = _SHARD.match(text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise LrdiagError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/3")
    return int(m.group(1)), int(m.group(2))


def run_costs(cfg: Config, n_train: int, runs: list[Run]) -> np.ndarray:
    """(R,) a run's estimated training cost: epochs x (rows + STEP_ROWS x steps per epoch)."""
    costs = np.empty(len(runs))
    for i, run in enumerate(runs):
        bs = run.value("batch_size", cfg.training.batch_size)
        steps = 1 if bs is None else -(-n_train // bs)
        costs[i] = cfg.training.epochs * (n_train + STEP_ROWS * steps)
    return costs


def edges(costs: np.ndarray, n: int) -> list[int]:
    """The N + 1 run indices that cut the grid into N slices of about equal cost (each slice
    at least one run)."""
    R = len(costs)
    if n > R:
        raise LrdiagError(f"--shard: {n} shards for a grid of {R} runs: at most {R}")
    prefix = np.concatenate([[0.0], np.cumsum(costs)])
    cuts = [0]
    for j in range(1, n):
        target = prefix[-1] * j / n
        m = int(np.searchsorted(prefix, target))
        if m > 0 and target - prefix[m - 1] <= prefix[m] - target:
            m -= 1  # the nearer of the two prefixes
        cuts.append(min(max(m, cuts[-1] + 1), R - (n - j)))
    return [*cuts, R]


def shard_span(cfg: Config, n_train: int, runs: list[Run], k: int, n: int) -> tuple[int, int]:
    """Runs ``lo`` to ``hi`` of shard K of N."""
    cut = edges(run_costs(cfg, n_train, runs), n)
    return cut[k - 1], cut[k]


@dataclass
class Merged:
    """Shards assembled: what ``results.document`` judges, as for one sweep."""

    cfg: Config
    runs: list[Run]
    result: TrainResult
    n_classes: int | None
    lints: list[Lint]
    config_hash: str


def _which(doc: dict) -> str:
    shard = doc.get("shard")
    return f"shard {shard['index']}/{shard['of']}" if shard else "a whole sweep"


def _unfinished(name: str) -> str:
    return (
        f"merge: {name} is an unfinished sweep: finish it with lrdiag sweep CONFIG --out {name} "
        "--resume (and its --shard)"
    )


def _read_doc(path: Path) -> dict:
    name = printable(str(path))
    if not path.exists():
        raise LrdiagError(f"merge: {name}: no such directory")
    if not path.is_dir():
        raise LrdiagError(f"merge: {name}: not a directory: give the shards' output directories")
    file = path / JSON_NAME
    if not file.exists() and (path / CHUNKS_NAME).is_dir():  # killed before its results
        raise LrdiagError(_unfinished(name))
    if not file.exists():
        raise LrdiagError(
            f"merge: {name}: not a shard: it holds no {JSON_NAME} of lrdiag sweep --shard K/N"
        )
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise LrdiagError(f"merge: {printable(str(file))}: cannot read it: {why}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config_hash"), str):
        raise LrdiagError(
            f"merge: {printable(str(file))} has no config_hash: not the results of "
            "lrdiag sweep --shard K/N"
        )
    return doc


def merge(dirs: list[Path]) -> Merged:
    """The shards in ``dirs`` as one sweep; ``LrdiagError`` (one line) when they come from
    different configs or data, are unfinished, overlap or leave runs out."""
    if not dirs:
        raise LrdiagError("merge: no shard directories given")
    found, docs = [], []
    for d in dirs:
        doc = _read_doc(d)
        name = printable(str(d))
        if not doc.get("complete"):
            raise LrdiagError(_unfinished(name))
        if not (d / CHUNKS_NAME / chunks.MANIFEST_NAME).is_file():
            raise LrdiagError(
                f"merge: {name}: not a shard: it has no {CHUNKS_NAME}/ (the results of a whole "
                "sweep, or copied without them); merge the directories of lrdiag sweep --shard K/N"
            )
        store = chunks.Store.read(d)
        if store.config_hash != doc["config_hash"]:
            raise LrdiagError(f"merge: {name}: its chunks/ are of another sweep than its results")
        shard = doc.get("shard")
        lo, hi = shard["runs"] if shard else (0, store.info["n_runs"])
        found.append((int(lo), int(hi), d, store))
        docs.append((doc, d))
    first = found[0]
    for _, _, d, store in found[1:]:
        if store.config_hash != first[3].config_hash:
            raise LrdiagError(
                f"merge: {printable(str(d))} comes from another config or data than "
                f"{printable(str(first[2]))} (config hash {store.config_hash}, not "
                f"{first[3].config_hash})"
            )
    splits = {(doc.get("shard") or {}).get("of"): (doc, d) for doc, d in docs}
    if len(splits) > 1:  # 1/2 beside 2/3: they overlap or leave a gap, but say why
        (a, da), (b, db) = list(splits.values())[:2]
        raise LrdiagError(
            f"merge: {printable(str(da))} is {_which(a)} but {printable(str(db))} is "
            f"{_which(b)}: give the N shards of one --shard K/N split"
        )
    n_runs = int(first[3].info["n_runs"])
    found.sort(key=lambda f: (f[0], f[1]))
    at, last = 0, None
    for lo, hi, d, _ in found:
        if lo < at:
            raise LrdiagError(
                f"merge: runs {lo} to {min(hi, at) - 1} are in both {printable(str(last))} and "
                f"{printable(str(d))}: give each shard once"
            )
        if lo > at:
            raise LrdiagError(
                f"merge: runs {at} to {lo - 1} of {n_runs} are in no shard given: a shard is "
                "missing"
            )
        at, last = hi, d
    if at < n_runs:
        raise LrdiagError(
            f"merge: runs {at} to {n_runs - 1} of {n_runs} are in no shard given: a shard is "
            "missing"
        )
    info = first[3].info
    cfg = chunks.manifest_config(info)
    runs = engine.expand_grid(cfg)
    parts = []
    for lo, hi, d, store in found:
        spans = store.covering(lo, hi)
        if spans is None:
            name = printable(str(d))
            raise LrdiagError(f"merge: {name}: the chunks of runs {lo} to {hi - 1} are missing")
        parts += [(a, b, store.load(a, b)) for a, b in spans]
    result = chunks.assemble(n_runs, cfg.training.epochs, bool(info["has_val"]), parts)
    return Merged(
        cfg, runs, result, info["n_classes"], chunks.manifest_lints(info), info["config_hash"]
    )
