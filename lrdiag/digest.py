"""A results document read for people: the words and numbers that the terminal report, the
Markdown report and the plots share, as plain strings (no rich, no matplotlib).

Every reader here is tolerant: unknown keys are ignored, missing optional keys are skipped, and a
non-finite number may arrive as None (from JSON) or NaN (from memory).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lrdiag.errors import printable
from lrdiag.files import CSV_NAME
from lrdiag.formatting import finite, fmt_num, plural
from lrdiag.summary import bracket as summary_bracket
from lrdiag.summary import stable_up_to
from lrdiag.thresholds import VERDICTS

INCOMPLETE = "incomplete"  # shown for a run without a verdict: the sweep was interrupted
# One ASCII character per verdict, so a table reads in plain text (piped, NO_COLOR).
MARKERS = {"converging": "+", "oscillating": "~", "diverging": "!", "plateaued": "="}
UNKNOWN_MARKER = "?"
FLAG_MARK = "*"  # after a grid cell: the run has flags (listed in the run table and notes)
SHORT = {"converging": "conv", "oscillating": "osc", "diverging": "div", "plateaued": "plat"}
# Marks a largest converging rate above the scale's first failure (explained under the table).
NOT_MONOTONE = "(*)"
# How many notable runs ("why") the terminal and markdown reports explain at most.
MAX_NOTES = 8


def final_loss(run: Mapping) -> float | None:
    """The run's final loss: its ``final`` metric when it has one, else its last loss."""
    metrics = run.get("metrics") or {}
    if "final" in metrics:
        return finite(metrics["final"])
    loss = run.get("loss")
    return finite(loss[-1]) if loss is not None and len(loss) else None


def initial_loss(run: Mapping) -> float | None:
    """The run's initial loss: its ``initial`` metric when given, else its first loss."""
    metrics = run.get("metrics") or {}
    if metrics.get("initial") is not None:
        return finite(metrics["initial"])
    loss = run.get("loss")
    return finite(loss[0]) if loss is not None and len(loss) else None


def diverged_epoch(run: Mapping) -> int | None:
    """The epoch where the run diverged, or None (never, or not known)."""
    value = finite((run.get("metrics") or {}).get("diverged_epoch"))
    return None if value is None or value < 0 else int(value)


def marker(verdict: Any) -> str:
    """The verdict's one-character marker (``MARKERS``)."""
    return MARKERS.get(verdict, UNKNOWN_MARKER)


def verdict_label(verdict: Any, *, short: bool = False) -> str:
    """Marker and word, "+ converging" ("+ conv" short); a run without a verdict: incomplete."""
    word = str(verdict) if verdict is not None else INCOMPLETE
    if short:
        word = SHORT.get(word, word)
    return f"{marker(verdict)} {word}"


def cell_value(run: Mapping) -> str:
    """What a grid cell shows after the verdict: the final loss, ``@N`` for a run that
    diverged at epoch N, else ``nan``."""
    final = final_loss(run)
    if final is not None:
        return fmt_num(final)
    epoch = diverged_epoch(run)
    return f"@{epoch}" if epoch is not None else "nan"


def cell_text(run: Mapping, *, short: bool = False) -> str:
    """A grid cell as plain text: verdict, value and the flag mark of a flagged run."""
    flagged = FLAG_MARK if run.get("flags") else ""
    return f"{verdict_label(run.get('verdict'), short=short)} {cell_value(run)}{flagged}"


def axes(runs: list[Mapping]) -> tuple[list[float], list[float], list[Any]]:
    """The grid's learning rates, init scales and seeds, each sorted."""
    lrs = sorted({r["learning_rate"] for r in runs})
    scales = sorted({r["init_scale"] for r in runs})
    seeds = sorted({r["seed"] for r in runs}, key=lambda s: (str(type(s)), s))
    return lrs, scales, seeds


def verdict_counts(runs: Iterable[Mapping]) -> dict[str, int]:
    """How many runs got each verdict: the four, then any other (incomplete, say)."""
    counts = Counter(r.get("verdict") or INCOMPLETE for r in runs)
    ordered = {v: counts.pop(v, 0) for v in VERDICTS}
    ordered.update({str(k): n for k, n in sorted(counts.items(), key=lambda kv: str(kv[0]))})
    return ordered


def shown_counts(runs: Iterable[Mapping]) -> list[tuple[str, int]]:
    """(verdict, n) as a report lists them: all four verdicts, then any other with n > 0."""
    return [(v, n) for v, n in verdict_counts(runs).items() if n or v in VERDICTS]


def counts_text(runs: Iterable[Mapping], label: str = "verdicts") -> str:
    """ "verdicts: 9 converging, 0 oscillating, 1 diverging, 0 plateaued"."""
    return f"{label}: " + ", ".join(f"{n} {verdict}" for verdict, n in shown_counts(runs))


def validation(doc: Mapping) -> tuple[list[Mapping], Counter]:
    """The validation curves' verdicts (one dict a run that had one) and their flags, counted."""
    vals = [r["val"] for r in doc.get("runs") or [] if r.get("val")]
    return vals, Counter(f for v in vals for f in v.get("flags") or ())


def flag_counts_text(flags: Counter) -> list[str]:
    """ "noisy x2" for each flag, by name."""
    return [f"{flag} x{n}" for flag, n in sorted(flags.items())]


def val_counts_text(doc: Mapping) -> str | None:
    """The verdicts of the validation curves, when the sweep had a validation split, and their
    flags: "validation verdicts: 9 converging, ..., 1 plateaued (flags: noisy x2)"."""
    vals, flags = validation(doc)
    if not vals:
        return None
    text = counts_text(vals, "validation verdicts")
    if flags:
        text += f" (flags: {', '.join(flag_counts_text(flags))})"
    return text


def per_scale(doc: Mapping) -> list[Mapping]:
    """The summary's rows, one per init scale."""
    return list(((doc.get("summary") or {}).get("per_scale")) or [])


def stability(doc: Mapping) -> dict[float, Mapping]:
    """The summary's sharpness rows, by init scale (empty without sharpness)."""
    stab = (doc.get("summary") or {}).get("stability") or {}
    return {s["init_scale"]: s for s in stab.get("per_scale") or [] if "init_scale" in s}


@dataclass(frozen=True)
class ScaleRow:
    """One init scale of the summary, each number as a report prints it."""

    init_scale: str
    stable_up_to: str  # the top of the first run of converging rates going up, or "none"
    first_failure: str  # the first rate above it that does not converge, or "none"
    largest_converging_lr: str  # "none" when no rate converges
    not_monotone: bool  # the largest converging rate lies above the first failure
    recommended_lr: str | None  # None when no rate converges
    final_loss: str  # the recommended rate's median final loss
    predicted_critical_lr: str | None  # None when the sweep computed no sharpness for it
    with_stability: bool  # the sweep computed sharpness (a column for the prediction)


def scale_rows(doc: Mapping) -> list[ScaleRow]:
    """The per-scale summary as the terminal table, its one-line form and Markdown show it."""
    stable = stability(doc)
    rows = []
    for s in per_scale(doc):
        step = s.get("bracket")
        lcl, rec = s.get("largest_converging_lr"), s.get("recommended_lr")
        top = stable_up_to(s)
        pred = (stable.get(s.get("init_scale", math.nan)) or {}).get("predicted_critical_lr")
        rows.append(
            ScaleRow(
                init_scale=fmt_num(s.get("init_scale")),
                stable_up_to=fmt_num(top) if top is not None else "none",
                first_failure=fmt_num(step[1]) if step else "none",
                largest_converging_lr=fmt_num(lcl) if lcl is not None else "none",
                not_monotone=bool(step) and lcl is not None and lcl > step[1],
                recommended_lr=fmt_num(rec) if rec is not None else None,
                final_loss=fmt_num(s.get("recommended_final_loss")),
                predicted_critical_lr=fmt_num(pred) if pred is not None else None,
                with_stability=bool(stable),
            )
        )
    return rows


def scale_line(row: ScaleRow) -> tuple[str, str]:
    """A summary row in words, for a console too narrow for the table: ("scale 1: ",
    "stable up to lr 10 (first failure 100), recommended lr 1 (final loss 0.02)")."""
    line = f"stable up to lr {row.stable_up_to} (first failure {row.first_failure})"
    if row.largest_converging_lr != row.stable_up_to:
        line += f", largest converging lr {row.largest_converging_lr}"
    line += f", recommended lr {row.recommended_lr or 'none'}"
    if row.recommended_lr is not None:
        line += f" (final loss {row.final_loss})"
    if row.predicted_critical_lr is not None:
        line += f", predicted critical lr {row.predicted_critical_lr}"
    return f"scale {row.init_scale}: ", line


def not_monotone_lines(rows: list[ScaleRow]) -> list[str]:
    """A line per init scale whose largest converging rate lies above its first failure, which
    the table marks with NOT_MONOTONE: "* scale 3: lr 0.1 fails, yet lr 0.3 converges ..."."""
    return [
        f"{NOT_MONOTONE} scale {r.init_scale}: lr {r.first_failure} fails, yet lr "
        f"{r.largest_converging_lr} converges: the verdicts are not monotone in the learning rate"
        for r in rows
        if r.not_monotone
    ]


def largest_text(row: ScaleRow) -> str:
    """The largest converging rate as the tables show it, marked when above a failure."""
    return (
        f"{row.largest_converging_lr} {NOT_MONOTONE}"
        if row.not_monotone
        else row.largest_converging_lr
    )


def bracket(doc: Mapping, scale: float, runs: list[Mapping]) -> list[float] | None:
    """The summary's bracket for ``scale``; summary.bracket of the runs when the summary
    lacks it."""
    for s in per_scale(doc):
        if s.get("init_scale") == scale and "bracket" in s:
            return s["bracket"]
    return summary_bracket(runs)


def notable_runs(doc: Mapping, limit: int = MAX_NOTES) -> list[Mapping]:
    """Runs worth explaining, at most ``limit``, most telling first.

    Per init scale: the run that sets the upper end of the bracket (the first seed that does
    not converge there) and the run at the lowest learning rate when it does not converge (too
    small a step, or nothing converges at all). Then, per init scale and flag, the
    lowest-learning-rate run with that flag (a spike that recovered, edge-of-stability
    bouncing, ...), since a flag on a converging run is often the answer to "what happened?".
    """
    runs = list(doc.get("runs") or [])
    scales = sorted({r["init_scale"] for r in runs})
    ordered = {
        scale: sorted(
            (r for r in runs if r["init_scale"] == scale),
            key=lambda r: (r["learning_rate"], str(r.get("seed"))),
        )
        for scale in scales
    }
    notes: list[Mapping] = []

    def add(run: Mapping | None) -> None:
        if run is not None and all(run is not n for n in notes):
            notes.append(run)

    for scale, at_scale in ordered.items():
        step = bracket(doc, scale, at_scale)
        if step:
            add(
                next(
                    (
                        r
                        for r in at_scale
                        if r["learning_rate"] == step[1] and r.get("verdict") != "converging"
                    ),
                    None,
                )
            )
        lowest = next((r for r in at_scale if r.get("verdict") != "converging"), None)
        if lowest is not None and lowest["learning_rate"] == at_scale[0]["learning_rate"]:
            add(lowest)
    for at_scale in ordered.values():
        seen: set[str] = set()
        for r in at_scale:
            new = [f for f in r.get("flags") or () if f not in seen]
            if new:
                seen.update(new)
                add(r)
    return notes[:limit]


def more_notes(doc: Mapping, shown: list[Mapping]) -> str | None:
    """What "why" leaves out when more than MAX_NOTES runs are worth explaining (the later init
    scales' brackets, say), or None."""
    hidden = len(notable_runs(doc, limit=len(doc.get("runs") or []))) - len(shown)
    if hidden <= 0:
        return None
    return f"... and {plural(hidden, 'more run')} like these: every run's reason is in {CSV_NAME}"


def run_label(run: Mapping, labels: Mapping[float, str]) -> str:
    """ "lr 0.1, scale 1, seed 0", with the learning rate's label from ``labels``."""
    return f"lr {labels[run['learning_rate']]}, scale {run['init_scale']:g}, seed {run.get('seed')}"


def reason(run: Mapping) -> str:
    """The run's reason without a leading ``verdict:`` that would repeat the verdict (or
    ``diverged:``, which a non-finite loss's reason starts with: "! diverging: diverged: ...")."""
    text = printable(run.get("reason") or "")
    verdict = run.get("verdict")
    for prefix in (f"{verdict}:", *(("diverged:",) if verdict == "diverging" else ())):
        if text.startswith(prefix):
            return text[len(prefix) :].lstrip()
    return text


def headline(doc: Mapping, *, with_name: bool = True) -> str:
    """ "name: 24 runs (8 learning rates x 1 init scale x 3 seeds), sgd, 100 epochs", and the
    training time when the document has it."""
    cfg = doc.get("config") or {}
    runs = doc.get("runs") or []
    training = cfg.get("training") or {}
    name = printable(cfg.get("name") or "sweep")
    parts = [plural(len(runs), "run")]
    if runs:
        lrs, scales, seeds = axes(runs)
        parts[0] += (
            f" ({plural(len(lrs), 'learning rate')} x {plural(len(scales), 'init scale')} x "
            f"{plural(len(seeds), 'seed')})"
        )
    if training.get("optimizer"):
        opt = str(training["optimizer"])
        if opt == "momentum" and training.get("momentum") is not None:
            opt += f" {training['momentum']}"
        parts.append(opt)
    if training.get("epochs") is not None:
        parts.append(f"{training['epochs']} epochs")
    seconds = finite((doc.get("timing") or {}).get("train_seconds"))
    if seconds is not None:
        parts.append(f"trained in {seconds:.3g} s")
    sharp = finite((doc.get("timing") or {}).get("sharpness_seconds"))
    if sharp:  # computed outside the training time (at init) or beside it (tracking)
        parts.append(f"sharpness {sharp:.3g} s")
    return (f"{name}: " if with_name else "") + ", ".join(parts)


def loss_scale_lines(doc: Mapping) -> list[str]:
    """One line per init scale whose losses grow as a power of lr (summary.loss_scale)."""
    lines = []
    for g in (doc.get("summary") or {}).get("loss_scale") or []:
        parts = [
            f"{what} losses grow as lr^{g[key]:.2f}"
            for what, key in (("final", "final_exponent"), ("first-epoch", "first_epoch_exponent"))
            if g.get(key) is not None
        ]
        line = (
            f"loss scale at init scale {fmt_num(g.get('init_scale'))}: {' and '.join(parts)} "
            "across the grid: the step sets the loss's scale, not a divergence"
        )
        if g.get("unscaled_inputs"):
            line += "; the inputs are unscaled (see the unscaled_inputs warning)"
        lines.append(line)
    return lines
