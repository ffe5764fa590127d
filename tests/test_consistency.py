"""lrdiag.consistency: an accuracy column beside a cross-entropy loss. The bound is checked
against cross-entropies computed here from random softmax and sigmoid predictions (it must never
fire on a true one); the notes on numbers that break it, or that need huge logits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrdiag import logs
from lrdiag.consistency import AccuracyPair, notes


def pair(loss, acc, name="loss", acc_name="accuracy"):
    loss, acc = np.atleast_1d(np.asarray(loss, float)), np.atleast_1d(np.asarray(acc, float))
    return AccuracyPair(name, acc_name, loss, acc, lambda k: f"line {k + 2}")


def softmax_ce_and_accuracy(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    ce = -logp[np.arange(len(y)), y].mean()
    return float(ce), float((logits.argmax(axis=1) == y).mean())


@pytest.mark.parametrize("seed", range(40))
def test_the_bound_holds_for_real_cross_entropies(seed):
    """Mean cross-entropy >= (1 - accuracy) ln 2 for any predictions: random logits of every
    scale (confidently right and wrong), 2 to 50 classes, and sigmoid outputs for bce."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 200)), int(rng.integers(2, 50))
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) * 10.0 ** rng.uniform(-3, 2)
    logits[np.arange(n), y] += rng.uniform(-5, 5) * rng.random(n)  # some learning
    ce, acc = softmax_ce_and_accuracy(logits, y)
    assert ce >= (1 - acc) * math.log(2) - 1e-12
    lower = [m for m in notes(pair(ce, acc), "cross_entropy", k) if "at least (1 -" in m]
    assert lower == []
    p = 1 / (1 + np.exp(-rng.normal(size=n) * 10.0 ** rng.uniform(-2, 1)))  # bce, threshold 0.5
    t = rng.integers(0, 2, n)
    bce = float(-np.mean(t * np.log(p) + (1 - t) * np.log1p(-p)))
    acc = float(np.mean((p > 0.5) == (t == 1)))
    assert bce >= (1 - acc) * math.log(2) - 1e-12
    assert not [m for m in notes(pair(bce, acc), "bce", 2) if "at least (1 -" in m]


def test_a_loss_below_the_bound_is_not_a_cross_entropy():
    (note,) = notes(pair([0.9, 0.05], [0.5, 0.6]), None, None)
    assert note.startswith("'loss' 0.05 with 'accuracy' 0.6 at line 3: ")
    assert "at least (1 - accuracy) x ln 2 = 0.2773" in note
    assert "another loss (mse?)" in note
    # rounding in a printed log is not a contradiction: 1% slack
    assert notes(pair(0.2750, 0.6), None, None) == []


def test_a_huge_cross_entropy_beside_a_good_accuracy():
    """The issue's 315 at 88%: each correct sample costs at most ln K, so the misclassified
    ones carry the rest: (315.4696 - 0.8432 ln K) / 0.1568 each at least."""
    (note,) = notes(pair([315.4696], [0.8432]), "cross_entropy", 10)
    least = (315.4696 - 0.8432 * math.log(10)) / (1 - 0.8432)
    assert f"average a loss of at least {least:,.0f} each" in note  # 2,000
    assert "the misclassified 15.7% of samples" in note and "at most ln 10" in note
    assert "unscaled inputs" in note and "sigmoid + categorical cross-entropy" in note
    (note,) = notes(pair([315.4696], [0.8432]), None, None)  # K unknown: at most 10^6
    assert note.split(": ")[1].startswith("if it is a mean cross-entropy, the misclassified")
    least = (315.4696 - 0.8432 * math.log(1e6)) / (1 - 0.8432)
    assert f"at least {least:,.0f} each" in note and "K <= 10^6" in note
    # ordinary losses beside ordinary accuracies: nothing to say
    assert notes(pair([2.3, 0.9, 0.4], [0.1, 0.7, 0.88]), None, None) == []


def test_not_a_cross_entropy_no_notes_and_percentages():
    assert notes(pair(315.0, 0.88), "mse", None) == []
    assert notes(pair(0.01, 0.5, name="val_mse_loss"), None, None) == []
    (note,) = notes(pair(0.05, 60.0), None, None)  # accuracy in percent
    assert "'accuracy' 0.6 at" in note
    assert notes(pair(0.05, 250.0), None, None) == []  # neither a fraction nor a percentage


def test_judge_reports_the_notes_and_keeps_the_verdicts():
    """A Keras log whose loss is 315 at 88% accuracy: notes in the document (and on stderr),
    the verdicts those of the curves alone."""
    e = np.arange(12)
    loss = 300 * np.exp(-e / 4) + 30
    rows = [f"{i},{0.5 + 0.03 * i:.4f},{loss[i]:.4f}" for i in e]
    text = "epoch,accuracy,loss\n" + "\n".join(rows) + "\n"
    log = logs.parse_log(text, "log")
    (pair_,) = log.pairs
    assert (pair_.loss, pair_.accuracy) == ("loss", "accuracy")
    doc = logs.judge(log)
    (note,) = doc["notes"]
    assert "(epoch " in note and "logits of that size" in note
    plain = logs.judge(logs.parse_log(text.replace("accuracy", "other"), "log"))
    assert plain["notes"] == [] and plain["curves"] == doc["curves"]


def test_accuracy_columns_pair_with_their_loss_by_name():
    text = (
        "epoch,loss,val_loss,sparse_categorical_accuracy,val_sparse_categorical_accuracy,"
        "top_k_categorical_accuracy,train_acc_epoch,train_loss_epoch\n0,1,1,0.5,0.5,0.5,0.5,1\n"
    )
    got = {(p.accuracy, p.loss) for p in logs.parse_log(text, "log").pairs}
    assert got == {
        ("sparse_categorical_accuracy", "loss"),
        ("val_sparse_categorical_accuracy", "val_loss"),
        ("train_acc_epoch", "train_loss_epoch"),
    }
