"""The whole ``lrdiag sweep`` process, as a user waits for it (issue 19).

    python -m benchmarks.whole [--only W1,W2] [--reps 3] [--quick] [--phases] [--against DIR]

A workload (benchmarks.workloads) is written as a user would have it: its data as an .npz file
(X in float32, the labels) and a config beside it (``kind: file``, ``stability: {sharpness:
off}``). Then ``lrdiag sweep W.yaml --out DIR --force --no-plots --quiet`` runs as a child
process and is timed from start to exit: interpreter start-up, imports, config, data, training,
judging and writing. The losses it wrote are read back from results.json, so a caller can check
them against the engine's.

``--phases`` also runs one instrumented child per rep (``_phases``): the same command line
through ``lrdiag.cli.main`` in a process that times each step of the sweep with perf_counter
(the pipeline's functions wrapped, nothing else changed; the imports a step triggers counted as
imports, not as the step), beside a bare interpreter's start-up; the table holds medians.

``--against DIR`` times another checkout of lrdiag (DIR holds its ``lrdiag/`` package, e.g. from
``git worktree add`` or ``git archive``) side by side with this one, rep by rep in alternation,
with this checkout's harness: before and after a change, measured in the same minutes.
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


def _env(root: Path | None) -> dict[str, str] | None:
    """A child's environment: lrdiag from the checkout ``root`` (None: the installed one)."""
    if root is None:
        return None
    return {**os.environ, "PYTHONPATH": str(root)}


def command(config: Path, out: Path) -> list[str]:
    """The command line a user types, as ``python -m lrdiag`` (what the ``lrdiag`` script runs,
    whichever checkout PYTHONPATH picks and however old the installed script is)."""
    head = [sys.executable, "-m", "lrdiag"]
    return [*head, "sweep", str(config), "--out", str(out), "--force", "--no-plots", "--quiet"]


def run_process(config: Path, out: Path, root: Path | None = None) -> tuple[np.ndarray, float]:
    """(losses (R, E+1) read from results.json, seconds from start to exit) of one sweep, by
    the lrdiag of the checkout ``root`` (None: the installed one)."""
    import numpy as np

    start = time.perf_counter()
    done = subprocess.run(command(config, out), capture_output=True, text=True, env=_env(root))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"lrdiag sweep exited {done.returncode}: {done.stderr.strip()}")
    doc = json.loads((out / "results.json").read_text())
    loss = np.array([[np.nan if v is None else v for v in r["loss"]] for r in doc["runs"]])
    return loss, seconds


def compiled(root: Path | None = None) -> None:
    """lrdiag's modules compiled to bytecode, as an install leaves them: with
    PYTHONDONTWRITEBYTECODE set (some shells and containers set it) an editable checkout would
    otherwise compile every module from source in every timed process (~0.1-0.4 s here).
    ``root``: another checkout's."""
    import compileall

    if root is None:
        import lrdiag

        compileall.compile_dir(Path(lrdiag.__file__).parent, quiet=1)
    else:
        compileall.compile_dir(root / "lrdiag", quiet=1)


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

# (label, module, function, nested): the sweep's steps as the sweep command calls them; a nested
# step runs inside the step before it and is shown as part of it
STEPS = (
    ("config", "lrdiag.pipeline", "configure", False),
    ("data loading", "lrdiag.pipeline", "load_data", False),
    ("plan", "lrdiag.pipeline", "make_plan", False),
    ("train", "lrdiag.pipeline", "train_in_chunks", False),
    ("lints", "lrdiag.lints", "check_config", True),
    ("config hash", "lrdiag.chunks", "config_hash", True),
    ("chunks' manifest written", "lrdiag.chunks", "Store.open", True),
    ("chunks written", "lrdiag.chunks", "Store.save", True),
    ("judge", "lrdiag.pipeline", "judge", False),
    ("write files", "lrdiag.pipeline", "write_outputs", False),
    ("remove chunks", "lrdiag.pipeline", "finish_chunks", False),
    ("print", "lrdiag.commands.sweep", "print_sweep", False),
)
IMPORTS = "imports"
LOOP = "training loop (TrainResult)"


class _Clock:
    """Seconds per step, without the imports a step triggers (those count as imports): every
    import statement and ``importlib.import_module`` is timed, the outermost ones only (one
    count for all threads: a training thread's import during another's counts once)."""

    def __init__(self):
        self.times: dict[str, float] = {}
        self.imported = 0.0  # seconds in outermost imports so far
        self._depth = 0

    def add(self, label: str, seconds: float) -> None:
        self.times[label] = self.times.get(label, 0.0) + seconds

    def timing_imports(self, inner):
        def timed(*args, **kwargs):
            if self._depth:
                return inner(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self._depth -= 1
                self.imported += time.perf_counter() - start

        return timed

    def step(self, label: str, inner):
        def timed(*args, **kwargs):
            start, imported = time.perf_counter(), self.imported
            value = inner(*args, **kwargs)
            self.add(label, time.perf_counter() - start - (self.imported - imported))
            if label == "train":
                self.add(LOOP, value.outcome.result.seconds)
            return value

        return timed


def _phases(config: str, out: str) -> None:
    """The child of ``--phases``: seconds per step of one sweep, as JSON on stdout."""
    t0 = time.perf_counter()
    import atexit
    import builtins
    import importlib

    clock = _Clock()
    builtins.__import__ = clock.timing_imports(builtins.__import__)
    importlib.import_module = clock.timing_imports(importlib.import_module)
    import lrdiag.cli

    def report() -> None:
        times = {IMPORTS: clock.imported, **clock.times}
        nested = {label for label, _, _, inside in STEPS if inside} | {LOOP}
        steps = sum(v for k, v in times.items() if k not in nested)
        # the rest: click parsing the command line, notes, the output directory's claim, signals
        times["the rest in process"] = total[0] - steps
        times["in process, total"] = total[0]
        print(json.dumps(times))

    def wrap_steps() -> None:
        for label, module, name, _nested in STEPS:
            owner = importlib.import_module(module)
            *path, attr = name.split(".")  # a function, or a class's method ("Store.open")
            for part in path:
                owner = getattr(owner, part, None)
            inner = getattr(owner, attr, None)
            if inner is None:  # a revision without the step: its time stays in "the rest"
                continue
            if isinstance(owner, type) and hasattr(inner, "__self__"):  # a classmethod
                setattr(owner, attr, classmethod(clock.step(label, inner.__func__)))
            else:
                setattr(owner, attr, clock.step(label, inner))

    main, total = lrdiag.cli.main, []

    def timed_main(*args, **kwargs):
        # the steps wrapped (their modules imported) only now: as in the script, nothing
        # registers an exit handler before ``run`` registers its own
        wrap_steps()
        try:
            return main(*args, **kwargs)
        finally:
            total.append(time.perf_counter() - t0)
            # registered after the script's own exit handler (``run``), so it runs before it
            atexit.register(report)

    lrdiag.cli.main = timed_main
    sys.argv = ["lrdiag", *command(Path(config), Path(out))[-7:]]
    # the script's entry point (``run``: main, then its exit), or main in a revision without it
    getattr(lrdiag.cli, "run", timed_main)()


def phases(config: Path, out: Path, root: Path | None = None) -> dict[str, float]:
    """Seconds per phase of one sweep of ``config`` by the lrdiag of the checkout ``root``
    (None: the installed one), and the bare interpreter's start-up."""
    compiled(root)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    # this file run as a script: its own directory first on sys.path, so lrdiag comes from
    # PYTHONPATH (``root``) or the install, never from this checkout by accident
    child = [sys.executable, str(Path(__file__).resolve()), "_phases", str(config), str(out)]
    done = subprocess.run(child, capture_output=True, text=True, check=True, env=_env(root))
    wall = time.perf_counter() - start
    measured = json.loads(done.stdout.splitlines()[-1])  # the last line: --quiet prints the dir
    times = {"interpreter start-up (python -c pass)": bare, **measured}
    times["start-up and exit (wall - in process)"] = wall - times["in process, total"]
    times["whole process (wall clock)"] = wall
    return times


def _rows(times: dict[str, float]) -> list[tuple[str, str]]:
    """(label shown, phase) in the table's order: the steps inside training beneath it."""
    nested = tuple(label for label, _, _, inside in STEPS if inside)
    rows = []
    for k in times:
        if k == LOOP or k in nested:
            continue
        rows.append((k, k))
        if k == "train":
            rows += [(f"  of which {k2}", k2) for k2 in (LOOP, *nested) if k2 in times]
    return rows


def phase_table(name: str, times: dict[str, float]) -> str:
    lines = [f"{name}: seconds by phase"]
    lines += [f"  {label:40} {times[k]:8.3f}" for label, k in _rows(times)]
    return "\n".join(lines)


def median_phases(reps: list[dict[str, float]]) -> dict[str, float]:
    """Each phase's median over reps (a phase missing from a rep counts as 0)."""
    from benchmarks.run import median

    keys = list(dict.fromkeys(k for times in reps for k in times))
    return {k: median([times.get(k, 0.0) for times in reps]) for k in keys}


def side_by_side(name: str, tables: dict[str, dict[str, float]]) -> str:
    """Phase tables of several sides, one column a side (the rows of the last side's)."""
    last = list(tables.values())[-1]
    rows = [f"{name}: seconds by phase, medians".ljust(44) + "".join(f"{s:>9}" for s in tables)]
    for label, k in _rows(last):
        rows.append(f"  {label:42}" + "".join(f"{t.get(k, 0.0):9.3f}" for t in tables.values()))
    return "\n".join(rows)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_phases":
        _phases(*argv[1:3])
        return 0
    ap = argparse.ArgumentParser(prog="python -m benchmarks.whole")
    ap.add_argument("--only", default="W1,W2", help="comma-separated workloads")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    ap.add_argument("--phases", action="store_true", help="also time each phase, every rep")
    ap.add_argument(
        "--against",
        metavar="DIR",
        type=Path,
        help="another checkout of lrdiag (DIR/lrdiag/), timed in alternation with this one",
    )
    args = ap.parse_args(argv)
    from benchmarks import workloads
    from benchmarks.run import median

    names = tuple(n.strip() for n in args.only.split(",") if n.strip())
    os.environ.setdefault("NO_COLOR", "1")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the children use the compiled modules
    sides: dict[str, Path | None] = {"this": None}
    if args.against is not None:
        if not (args.against / "lrdiag" / "__init__.py").is_file():
            ap.error(f"--against {args.against}: no lrdiag/ package there")
        sides = {"against": args.against.resolve(), "this": None}
        compiled(sides["against"])
    for w in workloads.workloads(names, quick=args.quick):
        proc = Process(w.cfg, w.dataset, w.name)
        seconds: dict[str, list[float]] = {side: [] for side in sides}
        times: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        try:
            for _ in range(args.reps):
                for side, root in sides.items():
                    out = proc.where / f"out-{side}"
                    seconds[side].append(run_process(proc.config, out, root)[1])
                    if args.phases:
                        times[side].append(phases(proc.config, out, root))
        finally:
            proc.close()
        for side, s in seconds.items():
            label = "" if len(sides) == 1 else f" [{side}]"
            print(f"{w.name} ({w.title}){label}: whole process {median(s):.2f} s "
                  f"(reps {', '.join(f'{x:.2f}' for x in s)})")  # fmt: skip
        if args.phases:
            medians = {side: median_phases(t) for side, t in times.items()}
            print(side_by_side(w.name, medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
