"""Every config's losses and verdicts against values recorded before the engine was tuned.

What this guards: an engine change (fused element-wise work, reused buffers, another product
layout, data read straight into the training dtype) may change a loss by rounding, never
more, and may change no verdict. tests/data/reference_losses.npz was written by
tools/reference_losses.py from main: first at 1a86d8f, before issue 19's engine work; again at
e64f5fc, for the classifier's new rules (issue 11) and the conv engine's changes (issue 16),
whose losses moved by float32 rounding (at most 1.6e-7); its verdicts alone once more for the
classifier's held-fall rule (issue 11, round 5: keras_question's run 1, 342, 1389, 94, 75, from
plateaued to converging), the losses kept bit for bit. Each config of configs/ is shortened
(a few epochs for the conv nets, at most 60 for the others, sharpness off).
It is a recording, not a derivation: the math itself is checked elsewhere (finite differences,
per-run loops, PyTorch); this only says that a faster engine computes what the old one did.
"""

import json

import numpy as np
import pytest

from tools import reference_losses

REFERENCE = np.load(reference_losses.OUT)
VERDICTS = json.loads(str(REFERENCE["verdicts"]))
# float32 training: a different summation order changes the last bits of a step, and 60 steps
# of training amplify that; float64 training keeps to its own rounding.
RTOL = {"float32": 2e-4, "float64": 1e-9}


@pytest.mark.parametrize("path", reference_losses.configs(), ids=lambda p: p.name)
def test_losses_and_verdicts_match_the_recording(path):
    cfg = reference_losses.shortened(path)
    loss, val, verdicts = reference_losses.losses_and_verdicts(path)
    assert verdicts == VERDICTS[path.name]
    pairs = [(loss, REFERENCE[f"{path.name}/loss"])]
    if f"{path.name}/val_loss" in REFERENCE:
        assert val is not None
        pairs.append((val, REFERENCE[f"{path.name}/val_loss"]))
    for got, want in pairs:
        assert got.shape == want.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # same divergences
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=RTOL[cfg.training.dtype], atol=1e-12)


def test_the_recording_covers_every_config():
    assert sorted(VERDICTS) == [p.name for p in reference_losses.configs()]
