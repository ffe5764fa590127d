"""Initial weights in a file: ``init: {scheme: file, path: weights.npz}`` and ``--save-init``.

The layout is one network's arrays, named as lrdiag's parameters: ``W1, b1, W2, b2, ...`` with
weights ``(in, out)`` (as ``x @ W``; PyTorch's ``nn.Linear.weight`` is the transpose) and
biases ``(out,)``. Every run starts from them; ``init.scales`` still multiplies the weights.
``save_init`` writes each seed's drawn weights (scale 1) in the same layout, so a sweep read
back from them, or a PyTorch model loaded with them, starts where lrdiag's runs start.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from lrdiag.errors import DataError, printable

SUFFIX = ".npz"


def read_weights(path: str | os.PathLike, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (in, out), b (out,)), ...] from ``path``, checked against the layer ``sizes``
    (inputs, hidden widths, outputs); DataError naming the file and the array otherwise."""
    name = printable(str(path))
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise DataError(f"{name}: initial weights file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{name}: cannot read initial weights (an .npz of arrays): {e}") from None
    n = len(sizes) - 1
    expected = [f"{p}{i}" for i in range(1, n + 1) for p in "Wb"]
    missing = [k for k in expected if k not in arrays]
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        what = f"lacks {', '.join(missing)}" if missing else f"has {', '.join(extra)} too"
        raise DataError(
            f"{name}: {what}; the model (layer sizes {sizes}) needs exactly {', '.join(expected)}"
        )
    out = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        W, b = arrays[f"W{i}"], arrays[f"b{i}"]
        for key, a, shape in ((f"W{i}", W, (fan_in, fan_out)), (f"b{i}", b, (fan_out,))):
            if a.shape != shape:
                raise DataError(
                    f"{name}: {key} has shape {a.shape}, the model needs {shape} "
                    f"(layer sizes {sizes}; weights are (in, out), biases (out,))"
                )
            if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
                raise DataError(f"{name}: {key} holds {a.dtype}, not real numbers")
            if not np.all(np.isfinite(a)):
                raise DataError(f"{name}: {key} holds values that are not finite")
        out.append((W.astype(np.float64), b.astype(np.float64)))
    return out


def from_file(path, sizes, scales, dtype) -> dict[str, np.ndarray]:
    """The parameters of R runs (``len(scales)``) starting from the file's weights, each run's
    weights times its scale; biases as in the file."""
    scales = np.asarray(scales, dtype=np.float64)
    params = {}
    for i, (W, b) in enumerate(read_weights(path, sizes), start=1):
        params[f"W{i}"] = (W[None] * scales[:, None, None]).astype(dtype)  # (R, in, out)
        params[f"b{i}"] = np.repeat(b[None, None], len(scales), axis=0).astype(dtype)
    return params


def seed_file(directory: str | os.PathLike, seed: int) -> Path:
    return Path(directory) / f"init_seed{int(seed)}{SUFFIX}"


def save_init(params_by_seed: dict[int, dict[str, np.ndarray]], directory) -> list[Path]:
    """Write each seed's weights (one run's arrays: W (in, out), b (out,)) to
    ``directory/init_seed<seed>.npz``; returns the paths."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    paths = []
    for seed, params in params_by_seed.items():
        path = seed_file(directory, seed)
        arrays = {k: (v.reshape(-1) if k.startswith("b") else v) for k, v in params.items()}
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            # numpy's stubs type savez's keyword arrays as its allow_pickle flag
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
        paths.append(path)
    return paths
