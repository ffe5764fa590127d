"""The Dask executor (issue 18): chunks trained on worker processes give the in-process results.

The reference is the in-process sweep of the same config and memory budget (so the same
chunks): results.json must be equal byte for byte, whatever worker trained which chunk, in
whatever order, and after a worker was killed mid-chunk.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from lrdiag import pipeline
from lrdiag.errors import LrdiagError
from lrdiag.files import JSON_NAME, to_json_text
from tests.test_chunks import budget_for, write_config


def test_without_a_scheduler_dask_is_never_imported(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    code = (
        "import json, sys; from lrdiag import pipeline, cli; "
        f"pipeline.run_sweep({str(config)!r}, {str(tmp_path / 'out')!r}, plots=False); "
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('dask', 'distributed'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
    assert (tmp_path / "out" / JSON_NAME).exists()


def test_a_scheduler_without_dask_installed_is_one_line(tmp_path):
    config = write_config(tmp_path, training__epochs=3)
    code = (
        "import sys; sys.modules['distributed'] = None; from lrdiag.cli import main; "
        f"main(['sweep', {str(config)!r}, '-o', {str(tmp_path / 'out')!r}, "
        "'--scheduler', 'local:2'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == (
        "lrdiag: error: --scheduler needs Dask: pip install 'lrdiag[dask]' (dask[distributed])"
    )


@pytest.fixture
def distributed():
    """dask.distributed (the dask extra, which `make test` installs), else the test is skipped."""
    return pytest.importorskip("distributed")


def test_a_local_cluster_gives_the_in_process_results(tmp_path, distributed):
    config = write_config(tmp_path)
    budget = budget_for(config, 4)
    whole = pipeline.run_sweep(config, max_memory=budget)
    doc = pipeline.run_sweep(
        config, tmp_path / "dask", plots=False, max_memory=budget, scheduler="local:2"
    )
    assert to_json_text(doc) == to_json_text(whole)
    assert (tmp_path / "dask" / JSON_NAME).read_text() == to_json_text(whole)


def test_a_worker_killed_mid_chunk_is_retried_and_the_sweep_completes(tmp_path, distributed):
    config = write_config(tmp_path, training__epochs=600)  # a chunk takes about a second
    budget = budget_for(config, 4)
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    whole = pipeline.run_sweep(config, max_memory=budget)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    box: dict = {}

    def sweep() -> None:
        try:
            box["swept"] = pipeline.train_in_chunks(
                cfg, ds, None, max_memory=budget, scheduler=cluster.scheduler_address
            )
        except BaseException as exc:  # re-raised by the test below
            box["error"] = exc

    thread = threading.Thread(target=sweep)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        busy: list[str] = []
        while not busy:
            assert time.monotonic() < deadline and thread.is_alive(), box
            busy = [w for w, keys in client.processing().items() if keys]
            time.sleep(0.05)
        time.sleep(0.3)  # into the chunk
        pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=180)
        assert not thread.is_alive()
    finally:
        client.close()
        cluster.close()
    if "error" in box:
        raise box["error"]
    swept = box["swept"]
    assert swept.outcome.retries >= 1
    assert swept.outcome.result.complete
    assert to_json_text(pipeline.chunked_document(cfg, ds, swept)) == to_json_text(whole)


def test_ctrl_c_cancels_the_chunks_running_and_keeps_those_finished(tmp_path, distributed):
    config = write_config(tmp_path)
    budget = budget_for(config, 6)
    cfg = pipeline.configure(config)
    ds = pipeline.load_data(cfg, config)
    whole = pipeline.run_sweep(config, max_memory=budget)

    def interrupt(n: int) -> None:  # Ctrl-C as the first chunk comes back
        raise KeyboardInterrupt

    out = tmp_path / "out"
    out.mkdir()
    swept = pipeline.train_in_chunks(
        cfg, ds, out, max_memory=budget, progress=interrupt, scheduler="local:2"
    )
    assert not swept.outcome.result.complete
    assert swept.outcome.trained >= 1
    kept = len(list((out / "chunks").glob("runs-*.npz")))
    assert kept == swept.outcome.trained < 6
    resumed = pipeline.train_in_chunks(cfg, ds, out, max_memory=budget, resume=True)
    assert resumed.outcome.reused == kept
    assert to_json_text(pipeline.chunked_document(cfg, ds, resumed)) == to_json_text(whole)


def closed_port_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    return f"tcp://127.0.0.1:{port}"


def test_a_scheduler_that_refuses_the_connection_is_one_line_naming_why(tmp_path, distributed):
    config = write_config(tmp_path, training__epochs=3)
    address = closed_port_address()
    with pytest.raises(LrdiagError, match=rf"^--scheduler {address}: cannot connect: .*refused"):
        pipeline.run_sweep(config, scheduler=address)


def test_a_sweep_that_fails_before_any_chunk_leaves_nothing_to_resume(tmp_path, distributed):
    config = write_config(tmp_path, training__epochs=3)
    out = tmp_path / "out"
    with pytest.raises(LrdiagError, match="cannot connect"):
        pipeline.run_sweep(config, out, plots=False, scheduler=closed_port_address())
    assert not out.exists()  # no chunks/ that a sweep without --resume would refuse
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(LrdiagError, match="cannot connect"):
        pipeline.run_sweep(config, kept, plots=False, scheduler=closed_port_address())
    assert list(kept.iterdir()) == []
    pipeline.run_sweep(config, kept, plots=False)  # no --resume, no --force needed
    assert (kept / JSON_NAME).is_file()
