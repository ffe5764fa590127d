"""Contact sheets of the outside corpus: every curve, small, with its id and proposed label.

    python -m tools.corpus.outside.contact [--out DIR] [--only PREFIX] [--set 2]

Writes DIR/sheet-NN.png (6x6 plots a page; default DIR is a temporary directory, printed), for
looking at every curve before trusting a label. Log-y when a curve spans more than two decades.
Images are for review only and are never committed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tools.corpus.outside import label as lab  # noqa: E402

GRID = 6
COLOURS = {
    "converging": "tab:green",
    "oscillating": "tab:orange",
    "diverging": "tab:red",
    "plateaued": "tab:blue",
}


def draw(ax, y: np.ndarray, title: str, colour: str, train: np.ndarray | None = None):
    """One small plot on ax: the curve (non-finite points marked at the top), returns ax."""
    x = np.arange(len(y))
    finite = np.isfinite(y)
    if train is not None:
        ax.plot(np.arange(len(train)), train, color="0.7", lw=0.6)
    ax.plot(x[finite], y[finite], color=colour, lw=0.7)
    vals = y[finite]
    if train is not None:
        vals = np.concatenate([vals, train[np.isfinite(train)]])
    if vals.size and vals.min() > 0 and vals.max() / vals.min() > 100:
        ax.set_yscale("log")
    if (~finite).any() and vals.size:
        ax.plot(x[~finite], np.full((~finite).sum(), vals.max()), "rx", ms=3)
    ax.set_title(title, fontsize=5.5)
    ax.tick_params(labelsize=4.5, length=2)
    return ax


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.corpus.outside.contact")
    p.add_argument("--out", default=None, help="directory for the pages (default: a temp dir)")
    p.add_argument("--only", default="", help="only ids starting with this prefix")
    p.add_argument("--verdict", default="", help="only curves with this proposed verdict")
    p.add_argument("--set", type=int, choices=sorted(lab.SETS), default=1, help="which set")
    args = p.parse_args(argv)
    data = lab.SETS[args.set][0]
    out = Path(args.out or tempfile.mkdtemp(prefix="outside-contact-"))
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in lab.label_set(args.set) if r["id"].startswith(args.only)]
    rows = [r for r in rows if r["verdict"].startswith(args.verdict)]
    per = GRID * GRID
    for page in range(0, len(rows), per):
        fig, axes = plt.subplots(GRID, GRID, figsize=(14, 12))
        for ax, r in zip(axes.flat, rows[page : page + per], strict=False):
            _, cols = lab.read_curve(data / "curves" / f"{r['id']}.csv")
            mark = "" if r["unambiguous"] == "true" else "?"
            col = "" if r["column"] == "loss" else " VAL"
            title = f"{r['id']}{col}\n{r['verdict']}{mark} {r['tags']}"
            train = cols["loss"] if r["column"] != "loss" else None
            draw(ax, cols[r["column"]], title, COLOURS[r["verdict"]], train)
        for ax in axes.flat[len(rows[page : page + per]) :]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(out / f"sheet-{page // per:02d}.png", dpi=110)
        plt.close(fig)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
