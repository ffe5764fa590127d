"""The figures of docs/cnn_question.md, from the results.json of two real sweeps.

    lrdiag sweep configs/cnn_question.yaml --out lrdiag-out/cnn_question
    lrdiag sweep configs/cnn_question_high.yaml --out lrdiag-out/cnn_question_high
    python docs/cnn_question_figures.py lrdiag-out/cnn_question lrdiag-out/cnn_question_high

Writes docs/img/cnn-question-phase.png (the verdict of every run of the question's grid) and
docs/img/cnn-question-behaviours.png (training and validation loss of one run of each
behaviour, from the second sweep).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from matplotlib.figure import Figure

from lrdiag import figures

IMG = Path(__file__).resolve().parent / "img"
# (learning rate, seed) of the runs shown, from configs/cnn_question_high.yaml (init scale 1)
SHOWN = [
    ((0.3, 0), "(a) trains fine"),
    ((1.0, 3), "(b) bounces, does not learn"),
    ((1.0, 2), "(c) learns, then jumps up for good"),
]


def load(directory: str) -> dict:
    return json.loads((Path(directory) / "results.json").read_text())


def behaviours_figure(doc: dict) -> Figure:
    fig = Figure(figsize=(10, 3.3), layout="constrained")
    axes = fig.subplots(1, len(SHOWN), sharey=True)
    rows = {(r["learning_rate"], r["seed"]): r for r in doc["runs"] if r["init_scale"] == 1.0}
    for ax, (key, title) in zip(axes, SHOWN, strict=True):
        r = rows[key]
        epochs = range(len(r["loss"]))
        ax.plot(epochs, [float("nan") if v is None else v for v in r["loss"]], label="training")
        val = [float("nan") if v is None else v for v in r["val_loss"]]
        ax.plot(epochs, val, label="validation", alpha=0.8)
        flags = f" [{', '.join(r['flags'])}]" if r["flags"] else ""
        ax.set_title(f"{title}\nlr {key[0]:g}, seed {key[1]}\n{r['verdict']}{flags}", fontsize=8)
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
    axes[0].set_ylabel("loss (cross-entropy)")
    axes[0].legend(fontsize=7)
    return fig


def main(argv: list[str]) -> int:
    question, high = (load(d) for d in argv)
    IMG.mkdir(exist_ok=True)
    figures.phase_figure(question).savefig(IMG / "cnn-question-phase.png", dpi=60)
    behaviours_figure(high).savefig(IMG / "cnn-question-behaviours.png", dpi=70)
    for name in ("cnn-question-phase.png", "cnn-question-behaviours.png"):
        print(IMG / name, (IMG / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
