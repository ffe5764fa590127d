"""Corpus group ``external``: real Keras logs in ``../shared/external_logs`` (beside the
repository), labelled by eye from the verdict definitions. Their own labels are problem types
(AUTOTRAINER's "explode", "unstable", ...), not our verdicts.
"""

from __future__ import annotations

import csv

from tools.corpus.record import ROOT, case

EXTERNAL = ROOT.parent / "shared" / "external_logs"  # beside the repository, never absolute
# 4. Real logs (../shared/external_logs), labelled by eye from the definitions.

_CIRCLE = ("bce", None)
_BLOB = ("cross_entropy", None)  # the number of classes is not recorded in the artifact
# file: (loss_name, n_classes, {column: (verdict, unambiguous, flags, why)})
EXTERNAL_LABELS = {
    "autotrainer/Gradient_Vanish_Case.csv": (*_CIRCLE, {
        "loss": ("plateaued", True, ["stuck_at_chance"],
                 "flat at ln 2 (0.6937 -> 0.6932, within 0.1%) for 91 epochs, accuracy 0.50"),
        "val_loss": ("plateaued", True, ["stuck_at_chance"],
                     "flat at ln 2 within 0.05% for 91 epochs, a small bump near epoch 55"),
    }),
    "autotrainer/Oscillating_Loss_Case.csv": (*_BLOB, {
        "loss": ("converging", False, [],
                 "falls 1.49 -> ~0.95 in two epochs, then noisy and flat (0.85-1.05) with no "
                 "further progress; the noise does not keep alternating"),
        "val_loss": ("plateaued", False, [],
                     "1.01 at first, then noisy around 0.9 with spikes to 1.5: little net "
                     "progress next to its swings"),
    }),
    "deepdiagnosis/MNIST_Normal_double_random_99fe3625.csv": ("cross_entropy", 10, {
        "loss": ("plateaued", True, ["stuck_at_chance"],
                 "2.40 at epoch 0, then flat at ln 10 = 2.3026 (2.3019-2.3020) for 99 epochs"),
        "val_loss": ("plateaued", True, ["stuck_at_chance"],
                     "flat at ln 10 (2.3013-2.3019) for 100 epochs, accuracy 0.11"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_config_random_22eb8478.csv": (*_BLOB, {
        "loss": ("plateaued", False, [],
                 "falls 1.59 -> 1.07 in three epochs, then flat at 1.061 (near ln 3) for 120 "
                 "epochs with accuracy ~0.36: stuck, after early progress"),
        "val_loss": ("plateaued", False, [],
                     "1.16 -> 1.07 in two epochs, then flat at 1.054 with accuracy ~0.4"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_config_random_a8640f1a.csv": (*_BLOB, {
        "loss": ("converging", True, [], "0.93 -> 0.41 over 199 epochs, most of it early"),
        "val_loss": ("converging", True, [], "1.05 -> 0.38, a small early bump"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_double_random_54f7ba3b.csv": (*_BLOB, {
        "loss": ("converging", True, [], "1.22 -> 0.55 over 370 epochs, noisy"),
        "val_loss": ("converging", True, [],
                     "1.17 -> 0.47 over 370 epochs, noisy, with single-epoch spikes"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_double_random_a4d82733.csv": (*_BLOB, {
        "loss": ("converging", True, [], "1.24 -> 0.44 over 298 epochs, small spikes"),
        "val_loss": ("converging", True, [], "1.25 -> 0.41, noisy"),
    }),
    "deepdiagnosis/diffthr_Blob_normal_model_random_953b07b0.csv": (*_BLOB, {
        "loss": ("converging", True, [], "1.23 -> 0.51 over 289 epochs"),
        "val_loss": ("converging", True, [], "1.17 -> 0.52 over 289 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_config_random_b060fc17.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.72 -> 0.41, an S-shaped fall"),
        "val_loss": ("converging", True, [], "0.71 -> 0.35, an S-shaped fall"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_0db8c740.csv": (*_CIRCLE, {
        "loss": ("converging", True, [],
                 "1.12 -> ln 2 in five epochs, flat there until epoch 80, then falls to 0.50"),
        "val_loss": ("converging", True, [], "1.02 -> 0.69, flat, then falls to 0.51"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_41e9f616.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "at ln 2 for 25 epochs, then falls to 0.41"),
        "val_loss": ("converging", True, [], "at ln 2 for 25 epochs, then falls to 0.40"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_46edd947.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "near ln 2 for 50 epochs, then falls to 0.40"),
        "val_loss": ("converging", True, [], "near ln 2 for 50 epochs, then falls to 0.36"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_5057d0d1.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.71 -> 0.41 over 160 epochs"),
        "val_loss": ("converging", True, [], "0.70 -> 0.36 over 160 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_84b9e92c.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.79 -> 0.43 over 97 epochs"),
        "val_loss": ("converging", True, [], "0.74 -> 0.39 over 97 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_88f274c5.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.69 -> 0.48 over 91 epochs, noisy"),
        "val_loss": ("converging", False, [],
                     "0.69 -> 0.51, noisy, with a rise to 0.6 in the last ten epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_9a5b1683.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.81 -> 0.40 over 277 epochs"),
        "val_loss": ("converging", True, [], "0.81 -> 0.36 over 277 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_c06b132f.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "1.02 -> 0.48 over 157 epochs"),
        "val_loss": ("converging", True, [], "1.00 -> 0.46 over 157 epochs"),
    }),
    "deepdiagnosis/diffthr_Circle_model_random_fcaf2479.csv": (*_CIRCLE, {
        "loss": ("converging", True, [], "0.78 -> 0.41 over 91 epochs"),
        "val_loss": ("converging", True, [], "0.76 -> 0.36 over 91 epochs"),
    }),
    "deepdiagnosis/motivating_31880720_Gradient_Vanish_Case.csv": (*_CIRCLE, {
        "loss": ("plateaued", False, [], "a single epoch (7.67): no progress can be seen"),
    }),
    "deepfd/31556268_iter_1.csv": (None, None, {
        "loss": ("plateaued", False, [],
                 "4 epochs, 0.343241 -> 0.343234: no progress (too few points to be sure)"),
        "val_loss": ("plateaued", False, [], "4 epochs, constant at 0.96922"),
    }),
}  # fmt: skip
for _i in range(1, 11):
    EXTERNAL_LABELS[f"deepfd/59282996_iter_{_i}.csv"] = ("cross_entropy", None, {
        "loss": ("plateaued", False, [],
                 "10 epochs of noise around 0.835 (+-0.006), no trend (too few points to tell "
                 "noise from bouncing for sure)"),
        "val_loss": ("plateaued", True, [],
                     "smooth fall 0.9680 -> 0.9658 over 10 epochs: 0.2% of the way to 0"),
    })  # fmt: skip


def external_cases() -> list[dict]:
    cs = []
    for name, (loss_name, k, columns) in EXTERNAL_LABELS.items():
        with (EXTERNAL / name).open(newline="") as f:
            rows = list(csv.DictReader(f))
        for col, (verdict, unamb, flags, why) in columns.items():
            y = [float(r[col]) for r in rows]
            stem = name.replace("/", "-").removesuffix(".csv")
            cs.append(
                case(
                    f"ext-{stem}-{col.replace('_', '')}",
                    y,
                    verdict,
                    f"{col}: {why}",
                    unambiguous=unamb,
                    source="external",
                    flags=flags,
                    loss_name=loss_name,
                    n_classes=k,
                    file=f"external_logs/{name}",
                    meta={"column": col},
                )
            )
    return cs
