"""Initial weights in a file: ``init: {scheme: file, path: weights.npz}`` and ``--save-init``.

The layout is one network's arrays, named as lrdiag's parameters: ``W1, b1, W2, b2, ...``
counted from 1 over the layers with parameters. An MLP's weights and a conv net's dense
weights are ``(in, out)`` (as ``x @ W``; PyTorch's ``nn.Linear.weight`` is the transpose), a
conv net's kernels ``(out_channels, in_channels, kh, kw)`` (PyTorch's ``nn.Conv2d.weight``),
every bias ``(out,)``. Every run starts from them; ``init.scales`` still multiplies the
weights. ``save_init`` writes each seed's drawn weights (scale 1) in the same layout, so a sweep
read back from them, or a PyTorch model loaded with them, starts where lrdiag's runs start.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from lrdiag.errors import DataError, printable

SUFFIX = ".npz"


def read_arrays(path: str | os.PathLike, shapes: dict[str, tuple[int, ...]], layout: str):
    """The arrays ``shapes`` names, from the .npz at ``path``, each checked for its shape and
    for finite real numbers, as float64; a DataError naming the file, the array and the shape
    the model needs otherwise (``layout``: the model's shapes in words, for the message)."""
    name = printable(str(path))
    try:
        if Path(path).is_file() and not zipfile.is_zipfile(path):  # .npy, text: numpy says
            raise DataError(  # "pickled data" or fails on `with`
                f"{name}: cannot read initial weights: not an .npz (a zip of arrays, as "
                "numpy.savez writes)"
            )
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise DataError(f"{name}: initial weights file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{name}: cannot read initial weights (an .npz of arrays): {e}") from None
    missing = [k for k in shapes if k not in arrays]
    extra = sorted(set(arrays) - set(shapes))
    if missing or extra:
        what = f"lacks {', '.join(missing)}" if missing else f"has {', '.join(extra)} too"
        raise DataError(f"{name}: {what}; the model ({layout}) needs exactly {', '.join(shapes)}")
    for key, shape in shapes.items():
        a = arrays[key]
        if a.shape != shape:
            raise DataError(
                f"{name}: {key} has shape {a.shape}, the model needs {shape} ({layout})"
            )
        if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
            raise DataError(f"{name}: {key} holds {a.dtype}, not real numbers")
        if not np.all(np.isfinite(a)):
            raise DataError(f"{name}: {key} holds values that are not finite")
    return {key: arrays[key].astype(np.float64) for key in shapes}


def read_weights(path: str | os.PathLike, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W (in, out), b (out,)), ...] of an MLP from ``path``, checked against the layer
    ``sizes`` (inputs, hidden widths, outputs); DataError naming the file and the array."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    layout = f"layer sizes {sizes}; weights are (in, out), biases (out,)"
    arrays = read_arrays(path, shapes, layout)
    return [(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(1, len(sizes))]


def stacked(arrays: dict[str, np.ndarray], scales, dtype) -> dict[str, np.ndarray]:
    """One network's arrays as the parameters of R runs (``len(scales)``): each run's weights
    ``W (R, *shape)`` times its scale, its biases ``b (R, 1, out)`` as given."""
    scales = np.asarray(scales, dtype=np.float64)
    params = {}
    for key, a in arrays.items():
        if key.startswith("W"):
            params[key] = (a[None] * scales.reshape(-1, *([1] * a.ndim))).astype(dtype)
        else:
            params[key] = np.repeat(a[None, None], len(scales), axis=0).astype(dtype)
    return params


def from_file(path, sizes, scales, dtype) -> dict[str, np.ndarray]:
    """The parameters of R runs (``len(scales)``) of an MLP starting from the file's weights,
    each run's weights times its scale; biases as in the file."""
    arrays = {}
    for i, (W, b) in enumerate(read_weights(path, sizes), start=1):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    return stacked(arrays, scales, dtype)


def seed_file(directory: str | os.PathLike, seed: int) -> Path:
    return Path(directory) / f"init_seed{int(seed)}{SUFFIX}"


def save_init(params_by_seed: dict[int, dict[str, np.ndarray]], directory) -> list[Path]:
    """Write each seed's weights (one run's arrays: W (in, out) or a kernel (out, in, kh, kw),
    b (out,)) to ``directory/init_seed<seed>.npz``; returns the paths."""
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
