"""Build the labelled loss-curve corpus in tests/data/corpus/ (one JSON-lines file per group).

    .venv/bin/python -m tools.corpus.build                 # every group
    .venv/bin/python -m tools.corpus.build closed_form     # some groups

Every label comes from how the curve was made and the verdict definitions (issue 2,
"Verdicts"), never from lrdiag.classify: closed-form gradient descent iterated here in float64,
formula-made shapes with seeded noise, lrdiag's own training runs (labelled from facts of the run
where possible, otherwise by the independent reading in `read_curve`), and real external logs
labelled by eye. A case is `unambiguous` only when how it was made puts it clearly inside one
definition. The files are committed; tests read them and never rebuild them.
"""

from __future__ import annotations

import sys

from tools.corpus.closed_form import closed_form_cases
from tools.corpus.external import external_cases
from tools.corpus.hand import hand_cases
from tools.corpus.own_runs import mlp_sweep_cases, onehot_cases
from tools.corpus.record import ROOT, write_group
from tools.corpus.regression import (
    linear_regression_cases,
    logistic_regression_cases,
    step_log_cases,
)


def sweep_cases() -> list[dict]:
    return (
        linear_regression_cases()
        + logistic_regression_cases()
        + mlp_sweep_cases()
        + step_log_cases()
    )


GROUPS = {
    "closed_form": closed_form_cases,
    "hand": hand_cases,
    "sweep": sweep_cases,
    "sweep_onehot": onehot_cases,
    "external": external_cases,
}


def main(argv: list[str]) -> int:
    names = argv or list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown}; choose from {list(GROUPS)}", file=sys.stderr)
        return 2
    for name in names:
        cases = GROUPS[name]()
        path = write_group(name, cases)
        print(f"{path.relative_to(ROOT)}: {len(cases)} curves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
