"""``make bench`` (part 3): reading large CSV logs (``lrdiag classify``'s reader) against the
reader of an earlier commit, side by side.

    python -m benchmarks.logs [--quick] [--rows 1000000] [--reps 3] [--against BASELINE]
                              [--out benchmarks/results/logs.json]

Two logs of ``--rows`` rows are written to a temporary directory: ``step,loss`` and a Keras
``CSVLogger`` file (``epoch,accuracy,loss,val_accuracy,val_loss,learning_rate``). Each is read
by ``lrdiag.logs.read_log`` (decoding, the printed-output check, the table, the curves picked
and lined up: everything before the verdicts) in a fresh child process, with this checkout's
lrdiag and with the lrdiag of ``--against`` (extracted by ``git archive`` to a temporary
directory), alternated ``--reps`` times; medians reported. A child reports its wall clock,
its RSS before reading and its peak RSS (VmHWM), and a digest of what it read (format, column
names, every curve's name and values to the bit): the benchmark fails (exit 1) when the two
sides read differently, so a fast but wrong reader cannot win.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "logs.json"
BASELINE = "edcef95"  # main before the reader's speed-up (docs/performance.md, "Reading logs")

# Run in the child: read the log, print what it cost and a digest of what it read.
CHILD = r"""
import hashlib, json, sys, time
def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0
import lrdiag, lrdiag.logs
before = status("VmRSS")
start = time.perf_counter()
log = lrdiag.logs.read_log(sys.argv[1])
seconds = time.perf_counter() - start
h = hashlib.sha256(repr((log.format, log.columns, log.notes, log.runs)).encode())
for c in log.curves:
    h.update(c.name.encode())
    for a in (c.values, c.train, c.x):
        h.update(b"-" if a is None else a.tobytes())
print(json.dumps({"seconds": seconds, "rss_before": before, "peak": status("VmHWM"),
                  "digest": h.hexdigest(), "module": lrdiag.__file__}))
"""


def median(xs) -> float:
    return float(np.median(np.asarray(xs, dtype=float)))


def write_logs(folder: Path, rows: int) -> dict[str, Path]:
    """A ``step,loss`` log and a Keras CSVLogger log of ``rows`` rows each (a noisy decay)."""
    rng = np.random.default_rng(0)
    t = np.arange(1, rows + 1)
    loss = 2 * np.exp(-t / (rows / 5)) + 0.05 * rng.random(rows)
    acc = 1 - loss / 3
    steps = folder / "steps.csv"
    with steps.open("w") as f:
        f.write("step,loss\n")
        f.writelines(f"{s},{v:.6f}\n" for s, v in zip(t, loss, strict=True))
    keras = folder / "keras.csv"
    with keras.open("w") as f:
        f.write("epoch,accuracy,loss,val_accuracy,val_loss,learning_rate\n")
        f.writelines(
            f"{e - 1},{a:.6f},{v:.6f},{a - 0.01:.6f},{v + 0.1:.6f},0.001\n"
            for e, v, a in zip(t, loss, acc, strict=True)
        )
    return {"step,loss": steps, "Keras CSVLogger (6 columns)": keras}


def baseline_tree(ref: str, folder: Path) -> Path:
    """``ref``'s lrdiag package, extracted into ``folder`` (importable from there)."""
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "lrdiag"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def read_in_child(tree: Path, log: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(log)],
        env=env,
        cwd=tree,  # python -c puts its working directory first on sys.path
        check=True,
        capture_output=True,
    )
    got = json.loads(out.stdout)
    if not Path(got["module"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the child imported {got['module']}, not the lrdiag of {tree}")
    return got


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 1 rep")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3, help="alternated reps (medians)")
    parser.add_argument("--against", default=BASELINE, help="the commit to compare with")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows, reps = (100_000, 1) if args.quick else (args.rows, args.reps)
    report: dict = {"rows": rows, "reps": reps, "against": args.against, "logs": {}}
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        logs = write_logs(Path(tmp), rows)
        trees = {"before": baseline_tree(args.against, Path(tmp, "before")), "after": ROOT}
        print(f"{rows:,} rows; before: lrdiag at {args.against}, after: this checkout")
        print(f"{'log':<30} {'MB':>5} {'before s':>9} {'after s':>8} {'speed-up':>8} "
              f"{'peak RSS before':>15} {'after':>7}")  # fmt: skip
        for name, path in logs.items():
            got: dict[str, list[dict]] = {side: [] for side in trees}
            for _ in range(reps):  # alternated, so the machine's load hits both sides alike
                for side, tree in trees.items():
                    got[side].append(read_in_child(tree, path))
            digests = {r["digest"] for side in got for r in got[side]}
            same = same and len(digests) == 1
            secs = {side: median([r["seconds"] for r in got[side]]) for side in trees}
            peak = {side: max(r["peak"] for r in got[side]) for side in trees}
            before_read = {side: min(r["rss_before"] for r in got[side]) for side in trees}
            size = path.stat().st_size
            print(f"{name:<30} {size / 1e6:>5.0f} {secs['before']:>9.2f} {secs['after']:>8.2f} "
                  f"{secs['before'] / secs['after']:>7.2f}x {peak['before'] / 1e6:>12.0f} MB "
                  f"{peak['after'] / 1e6:>4.0f} MB")  # fmt: skip
            report["logs"][name] = {
                "bytes": size,
                "seconds": secs,
                "all_seconds": {side: [r["seconds"] for r in got[side]] for side in trees},
                "speedup": secs["before"] / secs["after"],
                "peak_rss": peak,
                "rss_before_reading": before_read,
                "same_result": len(digests) == 1,
            }
    print("same curves, names and values on both sides: " + ("yes" if same else "NO"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
