"""Record every config's loss curves and verdicts, a guard against engine changes altering them.

    .venv/bin/python -m tools.reference_losses            # rewrite tests/data/reference_losses.npz

Each YAML file in configs/ is trained as ``lrdiag sweep`` would train it (``lrdiag.pipeline``:
config, data, grid, train, judge), but shorter: at most ``EPOCHS_CAP[name]`` epochs (the slow
configs, conv nets, are cut hardest) and with sharpness off (it never changes a loss, and it
would only slow the check). What is kept, per config: the training loss ``(R, E+1)`` and the
validation loss when there is one (float64, NaN where a run diverged) and each run's verdict.

tests/test_reference_losses.py trains the same shortened configs and compares: losses equal to
rounding, verdicts identical. Rewrite the file only on purpose, from main (a change meant to
alter results: a new default, a classifier rule), never to make that test pass after an engine
change. To record from another revision, export it and run this file inside the copy.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "reference_losses.npz"
DEFAULT_CAP = 60  # epochs at most: the curves' first part is where an engine change would show
EPOCHS_CAP = {"cnn_question.yaml": 3, "cnn_question_high.yaml": 3, "keras_fixed.yaml": 3,
              "keras_question.yaml": 3}  # fmt: skip


def configs(root: Path = ROOT) -> list[Path]:
    return sorted((root / "configs").glob("*.yaml"))


def shortened(path: Path):
    """The config at ``path`` with its epochs capped and sharpness off."""
    from lrdiag.pipeline import configure

    cfg = configure(path)
    cap = EPOCHS_CAP.get(path.name, DEFAULT_CAP)
    training = dataclasses.replace(cfg.training, epochs=min(cfg.training.epochs, cap))
    stab = dataclasses.replace(cfg.stability, sharpness="off", track_every=None)
    return dataclasses.replace(cfg, training=training, stability=stab)


def losses_and_verdicts(path: Path) -> tuple[np.ndarray, np.ndarray | None, list]:
    """(loss, val_loss or None, verdicts) of the shortened config at ``path``."""
    from lrdiag import pipeline
    from lrdiag import sweep as engine

    cfg = shortened(path)
    dataset = pipeline.load_data(cfg, path)
    runs = engine.expand_grid(cfg)
    result = pipeline.train(cfg, dataset, runs)
    doc = pipeline.judge(cfg, dataset, runs, result)
    return result.loss, result.val_loss, [r["verdict"] for r in doc["runs"]]


def main() -> int:
    arrays: dict[str, np.ndarray] = {}
    verdicts = {}
    for path in configs():
        loss, val, judged = losses_and_verdicts(path)
        arrays[f"{path.name}/loss"] = loss
        if val is not None:
            arrays[f"{path.name}/val_loss"] = val
        verdicts[path.name] = judged
        print(f"{path.name}: {loss.shape[0]} runs x {loss.shape[1] - 1} epochs", file=sys.stderr)
    arrays["verdicts"] = np.array(json.dumps(verdicts, sort_keys=True))
    np.savez_compressed(OUT, **arrays)
    print(f"written: {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
