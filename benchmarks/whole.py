"""The whole ``lrdiag sweep`` process, as a user waits for it (issue 19).

    python -m benchmarks.whole [--only W1,W2] [--reps 3] [--quick] [--phases]

A workload (benchmarks.workloads) is written as a user would have it: its data as an .npz file
(X in float32, the labels) and a config beside it (``kind: file``, ``stability: {sharpness:
off}``). Then ``lrdiag sweep W.yaml --out DIR --force --no-plots --quiet`` runs as a child
process and is timed from start to exit: interpreter start-up, imports, config, data, training,
judging and writing. The losses it wrote are read back from results.json, so a caller can check
them against the engine's.

``--phases`` also runs one instrumented child per workload (``_phases``): the same command line
through ``lrdiag.cli.main`` in a process that times each step of the sweep with perf_counter
(the pipeline's functions wrapped, nothing else changed), beside a bare interpreter's start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Nothing else at the top: the child of --phases (``_phases``) times lrdiag's imports from a
# bare interpreter, so this module imports NumPy and lrdiag only inside functions.

ROOT = Path(__file__).resolve().parent.parent


def write_inputs(cfg, dataset, where: Path, name: str) -> Path:
    """``name``.npz (X float32, y: 0/1 for one output, else class indices) and ``name``.yaml
    (the config as JSON, which YAML reads: every float exact) in ``where``; the config's path."""
    import numpy as np

    Y = np.asarray(dataset.Y)
    labels = Y[:, 0] if Y.shape[1] == 1 else np.argmax(Y, axis=1)
    X = np.asarray(dataset.X, np.float32)
    if getattr(dataset, "image_shape", None):  # images as a user has them: (n, C, H, W)
        X = X.reshape(len(X), *dataset.image_shape)
    np.savez(where / f"{name}.npz", X=X, y=labels.astype(np.int64))
    from lrdiag.config import config_to_dict

    spec = config_to_dict(cfg)
    spec["name"] = name
    spec["data"] = {"kind": "file", "path": f"{name}.npz", "seed": cfg.data.seed}
    spec["stability"] = {"sharpness": "off"}
    # only the training keys the workload gave: the others would each print a note (unused)
    spec["training"] = {k: v for k, v in spec["training"].items() if k in cfg.given}
    path = where / f"{name}.yaml"
    path.write_text(json.dumps(spec, indent=1, default=float))
    return path


def n_runs(cfg) -> int:
    from lrdiag import sweep

    return sweep.n_runs(cfg)


def command(config: Path, out: Path) -> list[str]:
    """The command line a user types: the ``lrdiag`` script beside this interpreter."""
    script = Path(sys.executable).with_name("lrdiag")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "lrdiag"]
    return [*head, "sweep", str(config), "--out", str(out), "--force", "--no-plots", "--quiet"]


def run_process(config: Path, out: Path) -> tuple[np.ndarray, float]:
    """(losses (R, E+1) read from results.json, seconds from start to exit) of one sweep."""
    import numpy as np

    start = time.perf_counter()
    done = subprocess.run(command(config, out), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"lrdiag sweep exited {done.returncode}: {done.stderr.strip()}")
    doc = json.loads((out / "results.json").read_text())
    loss = np.array([[np.nan if v is None else v for v in r["loss"]] for r in doc["runs"]])
    return loss, seconds


def compiled() -> None:
    """lrdiag's modules compiled to bytecode, as an install leaves them: with
    PYTHONDONTWRITEBYTECODE set (some shells and containers set it) an editable checkout would
    otherwise compile every module from source in every timed process (~0.1-0.4 s here)."""
    import compileall

    import lrdiag

    compileall.compile_dir(Path(lrdiag.__file__).parent, quiet=1)


class Process:
    """A workload's inputs written once into a temporary directory, and its timed runs."""

    def __init__(self, cfg, dataset, name: str):
        compiled()
        self._tmp = tempfile.TemporaryDirectory(prefix="lrdiag-whole-")
        self.where = Path(self._tmp.name)
        self.config = write_inputs(cfg, dataset, self.where, name)

    def run(self) -> tuple[np.ndarray, float]:
        return run_process(self.config, self.where / "out")

    def close(self) -> None:
        self._tmp.cleanup()


# --------------------------------------------------------------------------- phases

# (label, module, function): the sweep's steps, in order, as the sweep command calls them
STEPS = (
    ("config", "lrdiag.pipeline", "configure"),
    ("data loading", "lrdiag.pipeline", "load_data"),
    ("plan", "lrdiag.pipeline", "make_plan"),
    ("grid", "lrdiag.sweep", "expand_grid"),
    ("train", "lrdiag.pipeline", "train"),
    ("judge", "lrdiag.pipeline", "judge"),
    ("write files", "lrdiag.pipeline", "write_outputs"),
)


def _phases(config: str, out: str) -> None:
    """The child of ``--phases``: seconds per step of one sweep, as JSON on stdout."""
    t0 = time.perf_counter()
    import importlib

    import lrdiag.cli

    times: dict[str, float] = {"imports (lrdiag.cli)": time.perf_counter() - t0}
    for label, module, name in STEPS:
        mod = importlib.import_module(module)
        inner = getattr(mod, name)

        def timed(*args, _inner=inner, _label=label, **kwargs):
            start = time.perf_counter()
            value = _inner(*args, **kwargs)
            times[_label] = times.get(_label, 0.0) + time.perf_counter() - start
            if _label == "train":
                times["training loop (TrainResult.seconds)"] = value.seconds
            return value

        setattr(mod, name, timed)
    sys.argv = ["lrdiag", *command(Path(config), Path(out))[-7:]]
    try:
        lrdiag.cli.main()
    except SystemExit as e:
        if e.code:
            raise
    total = time.perf_counter() - t0
    steps = sum(v for k, v in times.items() if not k.startswith("training loop"))
    # the rest: the command's own imports (lazy: pipeline, numpy), click, notes, the printing
    times["the rest in process"] = total - steps
    times["in process, total"] = total
    print(json.dumps(times))


def phases(config: Path, out: Path) -> dict[str, float]:
    """Seconds per phase of one sweep of ``config``, and the bare interpreter's start-up."""
    compiled()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    child = [sys.executable, "-m", "benchmarks.whole", "_phases", str(config), str(out)]
    done = subprocess.run(child, capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    measured = json.loads(done.stdout.splitlines()[-1])  # the last line: --quiet prints the dir
    times = {"interpreter start-up (python -c pass)": bare, **measured}
    times["start-up and exit (wall - in process)"] = wall - times["in process, total"]
    times["whole process (wall clock)"] = wall
    return times


def phase_table(name: str, times: dict[str, float]) -> str:
    train = times.get("train", 0.0)
    loop = times.get("training loop (TrainResult.seconds)", 0.0)
    rows = [(k, v) for k, v in times.items() if k != "training loop (TrainResult.seconds)"]
    lines = [f"{name}: seconds by phase"]
    for k, v in rows:
        lines.append(f"  {k:40} {v:8.3f}")
        if k == "train":
            lines.append(f"    {'of which the training loop':38} {loop:8.3f}")
            lines.append(f"    {'of which set-up (dtype, plan, threads)':38} {train - loop:8.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_phases":
        _phases(*argv[1:3])
        return 0
    ap = argparse.ArgumentParser(prog="python -m benchmarks.whole")
    ap.add_argument("--only", default="W1,W2", help="comma-separated workloads")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    ap.add_argument("--phases", action="store_true", help="also time each phase once")
    args = ap.parse_args(argv)
    from benchmarks import workloads
    from benchmarks.run import median

    names = tuple(n.strip() for n in args.only.split(",") if n.strip())
    os.environ.setdefault("NO_COLOR", "1")
    for w in workloads.workloads(names, quick=args.quick):
        proc = Process(w.cfg, w.dataset, w.name)
        try:
            seconds = [proc.run()[1] for _ in range(args.reps)]
            print(f"{w.name} ({w.title}): whole process {median(seconds):.2f} s "
                  f"(reps {', '.join(f'{s:.2f}' for s in seconds)})")  # fmt: skip
            if args.phases:
                print(phase_table(w.name, phases(proc.config, proc.where / "out")))
        finally:
            proc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
