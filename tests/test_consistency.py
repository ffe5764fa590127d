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
    assert "'accuracy' 60% at" in note and "x ln 2 = 0.2773" in note  # read as 0.6
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


# Accuracy as evidence about chance ----------------------------------------------------------
# The loss and accuracy of each epoch are computed here from predicted probabilities and
# labels, as Keras averages them; the network's state is set by hand (collapsed or learned).


def _log_text(losses, accuracies, with_accuracy=True) -> str:
    head = "epoch,loss,accuracy" if with_accuracy else "epoch,loss"
    rows = [
        f"{e},{lo:.6f},{ac:.4f}" if with_accuracy else f"{e},{lo:.6f}"
        for e, (lo, ac) in enumerate(zip(losses, accuracies, strict=True))
    ]
    return head + "\n" + "\n".join(rows) + "\n"


def _softmax_epoch(logits, y):
    return softmax_ce_and_accuracy(logits, y)


def test_a_collapsed_network_a_few_percent_above_ln_k_is_stuck_by_its_accuracy():
    """Ten balanced classes; after four epochs of falling from a blown-up start the network
    outputs one fixed, slightly uneven distribution for every sample: its cross-entropy is
    ln 10 plus the KL divergence of that distribution from uniform (about +2% here) and its
    accuracy 1/10. The loss alone reads as a converged level; beside the accuracy it is
    chance, and K is read from the log."""
    rng = np.random.default_rng(3)
    k, n = 10, 1000
    y = np.repeat(np.arange(k), n // k)
    bias = 0.45 * np.linspace(-1.0, 1.0, k)  # the fixed output: KL from uniform ~ 2% of ln 10
    losses, accs = [], []
    for e in range(30):
        scale = 4.0 * math.exp(-e) if e < 4 else 0.0  # per-sample noise dies out: collapsed
        logits = bias + scale * rng.normal(size=(n, k))
        ce, acc = _softmax_epoch(logits, y)
        losses.append(ce)
        accs.append(acc)
    assert 1.01 * math.log(k) < losses[-1] < 1.05 * math.log(k) and accs[-1] == 0.1
    doc = logs.judge(logs.parse_log(_log_text(losses, accs), "log"))
    (curve,) = doc["curves"]
    assert curve["verdict"] == "plateaued" and "stuck_at_chance" in curve["flags"], curve
    assert "ln 10" in curve["reason"]
    (note,) = doc["notes"]
    assert "'accuracy' at 0.1" in note and "read as stuck at chance" in note
    # without the accuracy column the same loss reads as a level it converged to
    alone = logs.judge(logs.parse_log(_log_text(losses, accs, False), "log"))
    assert alone["curves"][0]["verdict"] == "converging" and alone["notes"] == []


def test_a_network_that_learned_is_not_stuck_at_ln_2_by_its_loss_level():
    """Binary labels: at first half the samples are confidently wrong (the loss near 1.8);
    epoch by epoch more are right and the wrong ones less sure, until the correct class gets a
    timid 0.505 on 92% of the samples and 0.45 on the rest: a mean cross-entropy within 1% of
    ln 2, flat. From the loss alone that is chance; the accuracy of 0.92 says it learned."""
    n = 1000
    losses, accs = [], []
    for e in range(30):
        m = int(round((0.92 - 0.42 * math.exp(-e / 3)) * n))  # accuracy 0.5 -> 0.92
        p_wrong = 0.45 - 0.4 * math.exp(-e / 3)  # the correct class's share when wrong
        p = np.r_[np.full(m, 0.505), np.full(n - m, p_wrong)]
        losses.append(float(-np.log(p).mean()))
        accs.append(m / n)
    assert abs(losses[-1] / math.log(2) - 1) < 0.01
    doc = logs.judge(logs.parse_log(_log_text(losses, accs), "log"))
    (curve,) = doc["curves"]
    assert curve["verdict"] == "converging" and "stuck_at_chance" not in curve["flags"], curve
    (note,) = doc["notes"]
    assert "'accuracy' at 0.92" in note and "not read as chance" in note
    alone = logs.judge(logs.parse_log(_log_text(losses, accs, False), "log"))
    assert alone["curves"][0]["verdict"] == "plateaued"  # the loss alone: flat at ln 2


def test_accuracy_evidence_only_when_chance_is_unknown_and_decisive():
    """An accuracy between chance and learned says nothing; a class count or a loss name
    given by the user says what chance is, and the accuracy is not consulted; nor when the
    loss's level is near no ln K."""
    from lrdiag.consistency import chance_evidence

    classes = (*range(2, 11), 100, 1000)
    flat = np.full(20, 2.33)
    assert chance_evidence(pair(flat, np.full(20, 0.3)), classes, 0.05) is None  # between
    assert chance_evidence(pair(flat, np.full(20, 0.1)), classes, 0.05).at_chance
    assert not chance_evidence(pair(flat, np.full(20, 0.8)), classes, 0.05).at_chance
    assert chance_evidence(pair(np.full(20, 2.6), np.full(20, 0.1)), classes, 0.05) is None
    assert chance_evidence(pair(flat, np.full(20, 10.0)), classes, 0.05).at_chance  # percent
    text = _log_text(flat, np.full(20, 0.1))
    for kw in ({"n_classes": 10}, {"loss_name": "bce"}, {"loss_name": "mse"}):
        assert logs.judge(logs.parse_log(text, "log"), **kw)["notes"] == [], kw


def _collapsed_epochs(epochs: int, k: int = 10, n: int = 1000):
    """The collapsed network of the test above: losses and accuracies epoch by epoch."""
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(k), n // k)
    bias = 0.45 * np.linspace(-1.0, 1.0, k)
    out = []
    for e in range(epochs):
        scale = 4.0 * math.exp(-e) if e < 4 else 0.0
        out.append(softmax_ce_and_accuracy(bias + scale * rng.normal(size=(n, k)), y))
    return out, y


def _without_accuracy(text: str) -> str:
    return "\n".join(",".join(line.split(",")[:2]) for line in text.splitlines()) + "\n"


def test_the_accuracy_says_nothing_of_a_loss_end_it_is_not_beside():
    """The collapsed network, then 10 epochs logged without accuracy (blank cells) where its
    logits learn the labels and the loss falls far below ln 10; and the same log whose loss
    becomes nan while the accuracy stays at 0.1. The accuracy ends before the loss does, or
    beside a loss that is no number: it says nothing of the loss's end, and each log is judged
    as it is without the accuracy column, with no note of a level near ln 10."""
    (epochs, y), k = _collapsed_epochs(30), 10
    onehot = np.eye(k)[y]
    later = [softmax_ce_and_accuracy(3.0 * (e + 1) * onehot, y)[0] for e in range(10)]
    assert later[-1] < 0.01  # softmax of 30 on the label: far from ln 10
    head = "epoch,loss,accuracy\n"
    rows = [f"{e},{lo:.6f},{ac:.4f}" for e, (lo, ac) in enumerate(epochs)]
    stopped = head + "\n".join(rows + [f"{30 + e},{lo:.6f}," for e, lo in enumerate(later)])
    blown = head + "\n".join(rows + [f"{30 + e},nan,0.1000" for e in range(5)])
    for text in (stopped + "\n", blown + "\n"):
        doc = logs.judge(logs.parse_log(text, "log"))
        alone = logs.judge(logs.parse_log(_without_accuracy(text), "log"))
        assert not [n for n in doc["notes"] if "ln 10" in n], doc["notes"]
        (curve,), (plain,) = doc["curves"], alone["curves"]
        assert (curve["verdict"], curve["flags"]) == (plain["verdict"], plain["flags"])
        assert "stuck_at_chance" not in curve["flags"]


def test_a_chance_note_names_only_a_loss_that_was_judged():
    """Both the training and the validation columns collapsed: with --column val_loss only
    val_loss is judged, and only its note is given; with --column on the accuracy, no loss is
    judged and no note says a loss was read as stuck at chance."""
    epochs, _ = _collapsed_epochs(30)
    rows = [f"{e},{lo:.6f},{ac:.4f},{lo + 0.01:.6f},{ac:.4f}" for e, (lo, ac) in enumerate(epochs)]
    text = "epoch,loss,accuracy,val_loss,val_accuracy\n" + "\n".join(rows) + "\n"
    both = logs.judge(logs.parse_log(text, "log"))
    assert sum("read as stuck at chance" in n for n in both["notes"]) == 2
    only_val = logs.judge(logs.parse_log(text, "log", columns=["val_loss"]))
    (note,) = only_val["notes"]
    assert note.startswith("'val_loss' ends at") and only_val["curves"][0]["column"] == "val_loss"
    metric = logs.judge(logs.parse_log(text, "log", columns=["accuracy"]))
    assert not [n for n in metric["notes"] if "chance" in n], metric["notes"]


def test_an_accuracy_logged_in_percent_is_quoted_as_the_file_holds_it():
    """A percentage column: the notes quote the value at the line they name as written there
    (60, with its %), not the fraction the check works with (0.6)."""
    import re

    rows = [f"{e},{0.01 * e:.2f},{60 + e}" for e in range(8)]  # below (1 - a) ln 2 throughout
    text = "epoch,loss,accuracy\n" + "\n".join(rows) + "\n"
    (note,) = logs.judge(logs.parse_log(text, "log"))["notes"]
    line = int(re.search(r"at line (\d+)", note).group(1))
    cell = text.splitlines()[line - 1].split(",")[2]
    assert f"'accuracy' {cell}% at line {line}" in note, note
    # the collapsed network's accuracy, in percent: its final value as the file holds it
    epochs, _ = _collapsed_epochs(30)
    rows = [f"{e},{lo:.6f},{100 * ac:g}" for e, (lo, ac) in enumerate(epochs)]
    text = "epoch,loss,accuracy\n" + "\n".join(rows) + "\n"
    (note,) = logs.judge(logs.parse_log(text, "log"))["notes"]
    last = np.median([float(r.split(",")[2]) for r in rows[-3:]])
    assert f"'accuracy' at {last:g}% (chance with 10 classes: 10%)" in note, note
