"""Training a sweep chunk by chunk: in this process, or on a Dask cluster.

``train_chunks`` trains the chunks of a grid (``chunks.layout``) that a ``chunks.Store`` does
not hold yet, keeps each finished one there as it ends, and returns every chunk's results as
one ``TrainResult``. Each chunk is one call of the engine (``sweep.train``) on its runs, so a
chunk's losses are the same bits wherever it trains: here, on a worker, before or after a
resume.

With ``scheduler`` (``tcp://host:port``, or ``local:N`` for a ``LocalCluster`` of N worker
processes), every chunk missing is a Dask task: a worker trains it and returns its
``TrainResult``; this process keeps and assembles them as they finish. A worker that dies
mid-chunk has its chunk retried (by the scheduler, up to its ``allowed-failures``); the
retries are counted. A Ctrl-C cancels what is still running and keeps what finished. Dask is
imported only here and only with a scheduler (``pip install lrdiag[dask]``).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from lrdiag import chunks
from lrdiag import sweep as engine
from lrdiag.errors import LrdiagError
from lrdiag.sweep import Run, TrainResult

SCHEDULER_ENV = "LRDIAG_SCHEDULER"
RETRIES = 2  # a chunk whose task raised (not a worker's death: the scheduler retries those)
CONNECT_SECONDS = 30  # how long to wait for a tcp:// scheduler


@dataclass
class Outcome:
    """What ``train_chunks`` did besides the results."""

    result: TrainResult  # the runs of the chunks asked for, in order
    trained: int = 0  # chunks trained now
    reused: int = 0  # chunks read back from the store (a resume)
    retries: int = 0  # chunks trained again after their worker died (Dask)
    workers: int = 0  # Dask workers when the sweep started (0: in this process)
    startup_seconds: float = 0.0  # connecting to Dask (starting a LocalCluster) and closing it


def train_chunks(
    cfg,
    dataset,
    runs: list[Run],
    spans: list[tuple[int, int]],
    *,
    max_memory: int | None = None,
    progress: Callable[[int], None] | None = None,
    store: chunks.Store | None = None,
    scheduler: str | None = None,
) -> Outcome:
    """Train the runs of ``spans`` (consecutive chunks of ``runs``, the whole grid), reusing
    those ``store`` holds and saving each one trained there. ``progress(n)``: run-epochs done.
    Interrupted (Ctrl-C), the result holds what finished and ``complete`` is false."""
    tick = progress or (lambda n: None)
    E = cfg.training.epochs
    first = spans[0][0] if spans else 0
    n_runs = spans[-1][1] - first if spans else 0
    has_val = dataset.X_val is not None and len(dataset.X_val) > 0
    parts: list[tuple[int, int, TrainResult]] = []
    todo = []
    reused = 0
    for lo, hi in spans:
        held = store.covering(lo, hi) if store is not None else None
        if held is None:
            todo.append((lo, hi))
            continue
        for a, b in held:
            parts.append((a - first, b - first, store.load(a, b)))  # type: ignore[union-attr]
        reused += 1
        tick((hi - lo) * E)

    def finished(lo: int, hi: int, part: TrainResult) -> None:
        if part.complete and store is not None:
            store.save(lo, hi, part)
        parts.append((lo - first, hi - first, part))

    outcome = Outcome(chunks.empty_result(0, E, has_val), reused=reused)  # result: below
    start = time.perf_counter()
    if scheduler is None:
        _in_process(cfg, dataset, runs, todo, max_memory, tick, finished, outcome)
    else:
        _on_dask(scheduler, cfg, dataset, runs, todo, max_memory, tick, finished, outcome)
    result = chunks.assemble(n_runs, E, has_val, sorted(parts, key=lambda p: p[0]))
    if scheduler is not None:  # chunks trained side by side: the wall clock, not their sum
        result.seconds = time.perf_counter() - start - outcome.startup_seconds
    outcome.result = result
    return outcome


def _in_process(cfg, dataset, runs, todo, max_memory, tick, finished, outcome) -> None:
    for lo, hi in todo:
        try:
            part = engine.train(cfg, dataset, runs[lo:hi], max_memory=max_memory, progress=tick)
        except KeyboardInterrupt:  # between two steps of the engine: nothing of it to keep
            return
        try:
            finished(lo, hi, part)
        except KeyboardInterrupt:  # the chunk file is whole or absent; the result has it
            return
        if not part.complete:  # the engine stopped on a Ctrl-C: keep what it trained
            return
        outcome.trained += 1


# --------------------------------------------------------------------------- Dask


def train_chunk(cfg, dataset, runs: list[Run], max_memory: int | None, threads=None):
    """A Dask task: one chunk trained by the engine on ``threads`` threads (default: the
    worker's cores over the tasks it runs at once)."""
    if threads is None:
        try:
            from distributed import get_worker

            worker = get_worker()
            slots = int(getattr(getattr(worker, "state", worker), "nthreads", 1) or 1)
            threads = max(1, engine.default_threads() // slots)
        except (ImportError, ValueError):  # not on a worker (called directly)
            pass
    return engine.train(cfg, dataset, runs, max_memory=max_memory, threads=threads)


def parse_scheduler(text: str) -> tuple[str, int | None]:
    """``("tcp://host:port", None)`` or ``("local", N)``; ``LrdiagError`` for anything else."""
    if text.startswith("local:"):
        n = text[len("local:") :]
        if not n.isdigit() or int(n) < 1:
            raise LrdiagError(f"--scheduler {text!r}: local:N needs N >= 1 worker processes")
        return "local", int(n)
    if "://" not in text:
        raise LrdiagError(
            f"--scheduler {text!r}: expected a scheduler address (tcp://host:8786) or local:N"
        )
    return text, None


def _probe(address: str) -> None:
    """A tcp:// address that refuses or does not resolve fails at once, in one line, rather
    than after Dask's CONNECT_SECONDS of retries."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number
        raise LrdiagError(f"--scheduler {address}: {exc}") from None
    if parts.scheme != "tcp" or not host or port is None:
        return  # Dask's defaults and other protocols: Client decides
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        why = exc.strerror or exc
        raise LrdiagError(f"--scheduler {address}: cannot connect: {why}") from None


def _connect(scheduler: str):
    """A Dask client (and the LocalCluster it owns, for local:N)."""
    address, n_workers = parse_scheduler(scheduler)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise LrdiagError(
            "--scheduler needs Dask: pip install 'lrdiag[dask]' (dask[distributed])"
        ) from None
    import logging

    if n_workers is not None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster), cluster
    _probe(address)
    try:
        return Client(address, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise LrdiagError(f"--scheduler {address}: cannot connect: {exc}") from None


def _retries_of(client, keys: list[str]) -> int:
    """How often the scheduler ran these tasks again after their worker died (``suspicious``)."""

    def count(dask_scheduler, keys: list[str]) -> int:
        tasks = dask_scheduler.tasks
        return sum(tasks[k].suspicious for k in keys if k in tasks)

    try:
        return int(client.run_on_scheduler(count, keys=keys))
    except Exception:  # an old scheduler, or a connection lost at the end: a count, not a result
        return 0


def _on_dask(scheduler, cfg, dataset, runs, todo, max_memory, tick, finished, outcome) -> None:
    start = time.perf_counter()
    client, cluster = _connect(scheduler)
    outcome.startup_seconds = time.perf_counter() - start
    E = cfg.training.epochs
    # local:N shares this machine's cores between N workers; a remote worker knows its own
    n_local = parse_scheduler(scheduler)[1]
    threads = None if n_local is None else max(1, engine.default_threads() // n_local)
    try:
        from distributed import as_completed

        outcome.workers = len(client.scheduler_info().get("workers", {}))
        data = client.scatter(dataset, broadcast=True)
        sweep_id = f"lrdiag-{os.getpid()}-{secrets.token_hex(4)}"  # task keys of this sweep only
        futures = {}
        for lo, hi in todo:
            f = client.submit(
                train_chunk, cfg, data, runs[lo:hi], max_memory, threads,
                key=f"{sweep_id}-{lo}-{hi}", retries=RETRIES, pure=False,
            )  # fmt: skip
            futures[f.key] = (f, lo, hi)
        try:
            for f in as_completed([f for f, _, _ in futures.values()]):
                _, lo, hi = futures[f.key]
                part = f.result()
                outcome.retries += _retries_of(client, [f.key])
                finished(lo, hi, part)
                outcome.trained += 1
                tick((hi - lo) * E)
                f.release()
        except KeyboardInterrupt:  # keep what finished; the rest is cancelled
            client.cancel([f for f, _, _ in futures.values() if not f.done()])
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                raise LrdiagError(f"--scheduler: a chunk's workers kept dying: {exc}") from None
            raise
    finally:
        start = time.perf_counter()
        client.close()
        if cluster is not None:
            cluster.close()
        outcome.startup_seconds += time.perf_counter() - start


def scheduler_from(option: str | None) -> str | None:
    """``--scheduler``, else ``$LRDIAG_SCHEDULER``, else None (train in this process)."""
    return option or os.environ.get(SCHEDULER_ENV) or None
