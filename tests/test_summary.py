"""summary.py: bracket and recommended learning rate, on result rows written out here."""

from __future__ import annotations

import pytest

from lrdiag import summary
from lrdiag.summary import summarize


def _rows(finals: dict[float, list[float]], verdicts: dict[float, str] | None = None) -> list:
    """Rows at init scale 1: one per (lr, seed) with the given final losses."""
    rows = []
    for lr, losses in finals.items():
        for seed, final in enumerate(losses):
            verdict = (verdicts or {}).get(lr, "converging")
            rows.append(
                {
                    "learning_rate": lr,
                    "init_scale": 1.0,
                    "seed": seed,
                    "verdict": verdict,
                    "metrics": {"final": final},
                }
            )
    return rows


@pytest.mark.parametrize("lower", [0.1, 0.3])
def test_final_losses_that_differ_by_rounding_tie_and_the_smaller_rate_wins(lower):
    """0.5 and 0.5 + 1e-12: a difference of 2e-12 relative, which no training can tell apart
    from rounding. Whichever rate happens to be lower by it, the recommendation is the same:
    the smaller rate, with its own final loss."""
    other = 0.3 if lower == 0.1 else 0.1
    rows = _rows({lower: [0.5], other: [0.5 + 1e-12], 1.0: [0.9]}, {1.0: "diverging"})
    (s,) = summarize(rows)["per_scale"]
    assert s["recommended_lr"] == 0.1
    assert s["recommended_final_loss"] == (0.5 if lower == 0.1 else 0.5 + 1e-12)
    assert s["bracket"] == [0.3, 1.0] and s["largest_converging_lr"] == 0.3


def test_a_real_difference_is_not_a_tie():
    """A relative difference of 1e-3 decides."""
    rows = _rows({0.1: [0.5 * (1 + 1e-3)], 0.3: [0.5], 1.0: [0.6]})
    (s,) = summarize(rows)["per_scale"]
    assert (s["recommended_lr"], s["recommended_final_loss"]) == (0.3, 0.5)
    assert s["bracket"] is None


def test_ties_are_measured_from_the_lowest_loss_not_chained():
    """0.2, 0.2(1 + 0.8e-6), 0.2(1 + 1.6e-6): the second ties with the lowest, the third does
    not (it is 1.6e-6 above the lowest, although only 0.8e-6 above the second)."""
    assert summary.TIE_RTOL == 1e-6  # the tolerance docs/tutorial.md states
    rows = _rows({0.3: [0.2 * (1 + 1.6e-6)], 1.0: [0.2 * (1 + 0.8e-6)], 3.0: [0.2]})
    (s,) = summarize(rows)["per_scale"]
    assert s["recommended_lr"] == 1.0


def test_the_median_over_seeds_is_compared_and_a_rate_converges_only_when_all_seeds_do():
    rows = _rows(
        {0.1: [0.30, 0.10, 0.20], 0.3: [0.15, 0.16, 0.90], 1.0: [0.01, 0.01, 0.01]},
        {1.0: "oscillating"},
    )
    rows[-1]["verdict"] = "converging"  # one seed of lr 1 converges: not enough
    (s,) = summarize(rows)["per_scale"]
    assert s["recommended_lr"] == 0.3 and s["recommended_final_loss"] == 0.16  # medians .2, .16
    assert s["bracket"] == [0.3, 1.0]
    assert summarize(rows)["verdict_counts"] == {
        "converging": 7,
        "oscillating": 2,
        "diverging": 0,
        "plateaued": 0,
    }


def test_nothing_converges_means_no_recommendation():
    (s,) = summarize(_rows({0.1: [1.0], 1.0: [2.0]}, {0.1: "plateaued", 1.0: "diverging"}))[
        "per_scale"
    ]
    assert s["recommended_lr"] is None and s["recommended_final_loss"] is None
    assert s["largest_converging_lr"] is None and s["bracket"] is None
