"""Accuracy beside a cross-entropy loss: numbers that cannot both be true, as notes.

A log that has an accuracy column next to its loss (Keras's ``accuracy`` and ``loss``,
``val_accuracy`` and ``val_loss``) says more than either curve: for a mean per-sample
cross-entropy of one-hot (or binary) targets, the two constrain each other.

The bound (rigorous). A sample whose predicted class (the argmax of the probabilities p; for a
binary output, p > 0.5) is not its true class y has p_y <= p_argmax and p_y + p_argmax <= 1, so
p_y <= 1/2 and its cross-entropy -ln p_y >= ln 2; a correctly classified sample costs >= 0.
With accuracy a, the mean cross-entropy is therefore at least (1 - a) ln 2. A loss below that
is not the mean cross-entropy of those predictions: another loss (mse), class or sample
weights, label smoothing, or an accuracy measured on other samples. Running means over an epoch
(Keras's training columns) keep the bound: both average the same samples, and the bound is
linear in them. Regularisation terms only add to the loss.

The other side cannot be rigorous: one confidently wrong sample makes the mean as large as it
likes. What can be said: a correctly classified sample has p_y >= 1/K (its class is the
argmax), so it costs at most ln K, and the misclassified fraction (1 - a) must carry the rest:
their mean loss is at least (L - a ln K) / (1 - a). A misclassified sample costing c means its
true class's logit is at least c - ln K below the top one; when that is in the hundreds, the
usual cause is unscaled inputs, a loss applied to the wrong output (sigmoid outputs into a
categorical cross-entropy, or logits into a loss that expects probabilities) or a run blowing
up: a note, never a change of verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

LN2 = math.log(2.0)
# A loss under (1 - a) ln 2 by less than this fraction of it is rounding in a printed log.
ROUNDING_SLACK = 0.01
# A mean loss of misclassified samples from this up (logits ~100 apart) earns the note.
IMPLAUSIBLE_SAMPLE_LOSS = 100.0
# Classes assumed at most when the count is not known (--classes): ln K <= 13.8.
MAX_CLASSES = 10**6
# Words of loss columns that are not a cross-entropy (the check does not apply).
NOT_CROSS_ENTROPY = frozenset({"mse", "mae", "rmse", "l1", "l2", "huber", "hinge", "mape"})
CROSS_ENTROPIES = ("cross_entropy", "bce")


@dataclass(frozen=True)
class AccuracyPair:
    """An accuracy column and the loss column beside it, on the rows where both have a value."""

    loss: str  # the loss column's name
    accuracy: str  # the accuracy column's name
    loss_values: np.ndarray
    accuracy_values: np.ndarray
    where: Callable[[int], str]  # value k's place in the file: "line 23 (epoch 3)"
    loss_goes_on: bool = False  # the loss has values on rows after the last of these


def _fractions(acc: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """Accuracies as fractions, and whether they were logged as percentages: as logged when in
    [0, 1], divided by 100 when some exceed 1 and none 100; None when they are neither."""
    fin = acc[np.isfinite(acc)]
    if fin.size == 0 or (fin < 0).any():
        return None
    if (fin <= 1).all():
        return acc, False
    if (fin <= 100).all():
        return acc / 100.0, True
    return None


def _as_logged(fraction: float, percent: bool, digits: int) -> str:
    """An accuracy as its column holds it ("0.6"), or as a percentage ("60%") when it is one."""
    return f"{100 * fraction:.{digits}g}%" if percent else f"{fraction:.{digits}g}"


def _others(n: int) -> str:
    return "" if n <= 1 else f" (and {n - 1} other value{'s' * (n > 2)} alike)"


def notes(pair: AccuracyPair, loss_name: str | None, n_classes: int | None) -> list[str]:
    """What ``pair`` says that a curve alone does not (see the module's docstring); nothing
    for a loss that is not a cross-entropy (``loss_name`` mse, a column named mse, ...)."""
    if loss_name is not None and loss_name not in CROSS_ENTROPIES:
        return []
    if NOT_CROSS_ENTROPY.intersection(pair.loss.lower().replace("-", "_").split("_")):
        return []
    read = _fractions(np.asarray(pair.accuracy_values, dtype=float))
    if read is None:
        return []
    acc, percent = read
    loss = np.asarray(pair.loss_values, dtype=float)
    ok = np.isfinite(loss) & np.isfinite(acc) & (loss >= 0)
    out = []
    given = "" if loss_name is not None else "if it is a mean cross-entropy, "
    name, acc_name = pair.loss, pair.accuracy

    floor = (1.0 - acc) * LN2  # every misclassified sample costs at least ln 2
    low = np.flatnonzero(ok & (loss < floor * (1.0 - ROUNDING_SLACK)))
    if low.size:
        k = int(low[np.argmin(loss[low] / floor[low])])
        out.append(
            f"{name!r} {loss[k]:.4g} with {acc_name!r} {_as_logged(acc[k], percent, 4)} at "
            f"{pair.where(k)}: a mean cross-entropy of one-hot or binary targets is at least "
            f"(1 - accuracy) x ln 2 = {floor[k]:.4g} (each misclassified sample costs at least "
            f"ln 2), so {name!r} is not one: another loss (mse?), class or sample weights, "
            f"label smoothing, or an accuracy of other samples{_others(low.size)}"
        )

    k_classes = n_classes if n_classes else (2 if loss_name == "bce" else MAX_CLASSES)
    wrong = np.where(ok & (acc < 1.0), 1.0 - acc, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        least = (loss - acc * math.log(k_classes)) / wrong  # misclassified samples' mean loss
    high = np.flatnonzero(np.nan_to_num(least, nan=-1.0) >= IMPLAUSIBLE_SAMPLE_LOSS)
    if high.size:
        k = int(high[np.argmax(least[high])])
        bound = f"ln {k_classes}" if n_classes or loss_name == "bce" else "ln K, K <= 10^6"
        out.append(
            f"{name!r} {loss[k]:.4g} with {acc_name!r} {_as_logged(acc[k], percent, 4)} at "
            f"{pair.where(k)}: {given}the misclassified {100 * wrong[k]:.3g}% of samples "
            f"average a loss of at least {least[k]:,.0f} each (a correctly classified one costs "
            f"at most {bound}): logits of that size usually mean unscaled inputs, a loss "
            "applied to the wrong output (e.g. sigmoid + categorical cross-entropy), or weights "
            "blown up by too large a learning rate"
            f"{_others(high.size)}"
        )
    return out


# The final accuracy of a network at chance with K classes: at most this share of the way from
# 1/K (one class of balanced data, or guessing) to 1; the prior of unbalanced classes scores a
# little above 1/K.
CHANCE_ACCURACY = 0.1
# ... and of one that learned: at least this share of the way from 1/K to 1.
LEARNED_ACCURACY = 0.5
# Points at the end of a curve whose median is its final loss and final accuracy.
FINAL_POINTS = 3


@dataclass(frozen=True)
class ChanceEvidence:
    """What an accuracy column says about its loss's level near a chance loss ln K."""

    at_chance: bool  # True: accuracy at chance, the loss is stuck; False: the network learned
    classes: int  # K, the class count whose ln K the loss's final level is near
    note: str  # one line for stderr: the numbers and what follows from them


def chance_evidence(
    pair: AccuracyPair, classes: Sequence[int], tolerance: float
) -> ChanceEvidence | None:
    """For a loss whose final level (the median of its last FINAL_POINTS values) is within
    ``tolerance`` of ln K for some K of ``classes``: evidence from the final accuracy beside it
    that the network is at chance (accuracy within CHANCE_ACCURACY of the way from 1/K to 1)
    or has learned (at least LEARNED_ACCURACY of the way): a level a few percent off ln K is
    either, and the loss alone cannot tell. None when the level is near no ln K, the accuracy
    is between the two, or the accuracy is not beside the loss's end: it stops before the loss
    does, or a final value of either is not finite."""
    read = _fractions(np.asarray(pair.accuracy_values, dtype=float))
    if read is None or pair.loss_goes_on:
        return None
    acc, percent = read
    loss = np.asarray(pair.loss_values, dtype=float)
    end = slice(-FINAL_POINTS, None)
    finite = np.isfinite(loss[end]).all() and np.isfinite(acc[end]).all()
    if loss.size < FINAL_POINTS or not finite:
        return None
    level = float(np.median(loss[end]))
    final = float(np.median(acc[end]))
    if level <= 0:
        return None
    k = min(classes, key=lambda c: abs(math.log(c) - level))
    chance = math.log(k)
    if abs(level - chance) > tolerance * chance:
        return None
    guess = 1.0 / k
    numbers = (
        f"{pair.loss!r} ends at {level:.4g}, {100 * (level / chance - 1):+.1f}% off "
        f"ln {k} = {chance:.4f}, with {pair.accuracy!r} at {_as_logged(final, percent, 3)}"
    )
    guess_text = _as_logged(guess, percent, 3)
    if final <= guess + CHANCE_ACCURACY * (1.0 - guess):
        note = f"{numbers} (chance with {k} classes: {guess_text}): read as stuck at chance"
        return ChanceEvidence(True, k, note)
    if final >= guess + LEARNED_ACCURACY * (1.0 - guess):
        note = (
            f"{numbers}, far above chance with {k} classes ({guess_text}): the network learned, "
            "so that level is not read as chance"
        )
        return ChanceEvidence(False, k, note)
    return None
