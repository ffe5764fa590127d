"""The ``data:`` section: which dataset, and the checks its kind implies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrdiag.config.checks import at_least, in_unit_interval, option, positive
from lrdiag.config.loader import Context, parse_path

# DATA_KINDS must equal the keys of lrdiag.data.GENERATORS and BUNDLED plus "file" (a test
# asserts it).
DATA_KINDS = ("blobs", "moons", "circles", "spirals", "xor", "linear", "digits", "file")
DATA_SUFFIXES = (".npz", ".csv")  # what kind: file reads

# Synthetic kinds with a fixed geometry: two features, two classes.
PLANAR_KINDS = ("moons", "circles", "spirals", "xor")
TWO_CLASS_KINDS = ("moons", "circles", "xor")


@dataclass(frozen=True)
class DataConfig:
    kind: str = option(
        "moons", "synthetic generator, 'digits' (bundled) or 'file'", choices=DATA_KINDS
    )
    n_samples: int = option(1000, "samples generated (synthetic kinds)", check=at_least(1))
    noise: float = option(
        0.1, "std of the Gaussian noise added (synthetic kinds)", check=at_least(0)
    )
    n_features: int = option(2, "input features (blobs, linear; others are 2-D)", check=at_least(1))
    n_classes: int = option(2, "classes (blobs, spirals; others have 2)", check=at_least(2))
    path: str | None = option(
        None, "kind: file: .npz (arrays X, y) or .csv, relative to the config"
    )
    target: str | None = option(
        None, "kind: file: the .csv column (default: last) or .npz array (y)"
    )
    scale: float = option(
        1.0, "multiplies the inputs after loading (255/16: digits as 0..255)", check=positive
    )
    standardize: bool = option(False, "zero mean, unit variance per feature (train part's stats)")
    validation_split: float = option(
        0.0, "fraction held out for validation", check=in_unit_interval
    )
    seed: int = option(0, "seed of the generator and of the validation shuffle", check=at_least(0))


def min_samples(data: DataConfig) -> int:
    """The fewest samples a synthetic kind can be generated with (one per class, four for xor)."""
    return {"blobs": data.n_classes, "spirals": data.n_classes, "xor": 4}.get(
        data.kind, 2 if data.kind in TWO_CLASS_KINDS else 1
    )


def _parse_data_path(v: Any, key: str, ctx: Context) -> str | None:
    return parse_path(v, key, ctx, DATA_SUFFIXES, "data")


PARSERS = {("data", "path"): _parse_data_path}


def check_data(data: DataConfig, ctx: Context) -> None:
    """The keys a kind reads, and the shapes and sizes it can be generated with."""
    if data.kind == "file":
        if data.path is None:
            raise ctx.error("data.path", "kind: file needs a path (.npz or .csv)")
        return
    for key in ("path", "target"):
        if getattr(data, key) is not None:
            raise ctx.error(f"data.{key}", f"is only used with kind: file (kind is {data.kind!r})")
    if data.kind in PLANAR_KINDS and data.n_features != 2:
        raise ctx.error("data.n_features", f"kind {data.kind!r} is 2-D: n_features must be 2")
    if data.kind in TWO_CLASS_KINDS and data.n_classes != 2:
        raise ctx.error("data.n_classes", f"kind {data.kind!r} has 2 classes: n_classes must be 2")
    if data.n_samples < min_samples(data):
        raise ctx.error(
            "data.n_samples",
            f"kind {data.kind!r} needs n_samples >= {min_samples(data)}, got {data.n_samples}",
        )
