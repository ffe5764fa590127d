"""Batched image layers over the run axis: conv2d, max/avg pooling, flatten, dense.

Contract (stax-style, one pair per layer kind): ``*_forward`` returns the output and what its
backward pass needs; ``*_backward`` takes the gradient of the output and returns the input's
gradient (None when the input is the shared data) and the parameters' gradients. The shapes
a layer promises are lrdiag.convnet's ``Layer.out_shape``; the tests check both agree.

Layouts. Images are channels-first as in PyTorch. The shared input ``X (B, C, H, W)`` carries
no run axis; inside the network an image activation is stored samples-last,
``(R, C, H, W, B)``: every element-wise pass (pooling, activations, patches) then runs over
contiguous rows of B samples, and a convolution is one product per run,
``W (R, O, K) @ cols (R, K, P*B)`` with ``K = C*kh*kw`` and ``P = Ho*Wo``, whose result
``(R, O, Ho, Wo, B)`` is already the next layer's layout. ``flatten`` turns it into
``(R, B, C*H*W)`` in C order over ``(C, H, W)``, as ``torch.flatten(x, 1)`` does. A conv
weight is ``(R, O, C, kh, kw)`` (PyTorch's ``Conv2d.weight`` with a run axis), a dense weight
``(R, in, out)`` (the MLP's, ``Linear.weight`` transposed), every bias ``(R, 1, out)``.

Padding ``valid`` adds none; ``same`` pads so that the output is ``ceil(H / stride)`` (the
TensorFlow rule: the odd pixel of padding goes to the bottom and the right, which for stride 1
is also PyTorch's ``padding='same'``). Pooling has window and stride ``size``; rows and
columns left over are dropped (PyTorch's ``floor`` mode) and get no gradient. Max pooling
routes the gradient to the first maximum of each window in row-major order, as PyTorch does.

Patches (im2col) are built by one strided copy per kernel offset, and folded back (col2im)
by one strided add per offset: the loops run over the ``kh*kw`` offsets, never over samples.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- geometry


def conv_geometry(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one spatial axis."""
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        return out, total // 2, total - total // 2
    return (size - kernel) // stride + 1, 0, 0


def _pad(x: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """``x (..., H, W, B)`` with zeros around each image: (top, bottom, left, right); ``x``
    itself if there are none."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    H, W = x.shape[-3:-1]
    out = np.zeros((*x.shape[:-3], H + top + bottom, W + left + right, x.shape[-1]), x.dtype)
    out[..., top : top + H, left : left + W, :] = x
    return out


def _offsets(k: int):
    return ((i, j) for i in range(k) for j in range(k))


def _shifted(x: np.ndarray, i: int, j: int, stride: int, out_hw) -> np.ndarray:
    """The view of ``x (..., H, W, B)`` that kernel offset (i, j) sees: ``(..., Ho, Wo, B)``."""
    Ho, Wo = out_hw
    return x[..., i : i + stride * Ho : stride, j : j + stride * Wo : stride, :]


# --------------------------------------------------------------------------- conv2d


def im2col(x: np.ndarray, kernel: int, stride: int, pads, out_hw) -> np.ndarray:
    """Patches of samples-last images ``x (..., C, H, W, B)`` -> ``(..., C*k*k, Ho*Wo*B)``.

    The leading axes (the runs, or none for the shared input) are kept; row ``(c, i, j)`` of
    the result is channel c shifted by kernel offset (i, j), in the order of a conv weight
    ``(O, C, kh, kw)`` flattened.
    """
    Ho, Wo = out_hw
    xp = _pad(x, pads)
    lead, C, B = x.shape[:-4], x.shape[-4], x.shape[-1]
    cols = np.empty((*lead, C, kernel, kernel, Ho, Wo, B), dtype=x.dtype)
    for i, j in _offsets(kernel):
        cols[..., i, j, :, :, :] = _shifted(xp, i, j, stride, out_hw)
    return cols.reshape(*lead, C * kernel * kernel, Ho * Wo * B)


def col2im(dcols: np.ndarray, in_shape, kernel: int, stride: int, pads, out_hw) -> np.ndarray:
    """The adjoint of ``im2col``: ``(R, C*k*k, Ho*Wo*B)`` -> ``(R, C, H, W, B)``, overlaps add."""
    Ho, Wo = out_hw
    R = dcols.shape[0]
    C, H, W, B = in_shape
    top, bottom, left, right = pads
    dxp = np.zeros((R, C, H + top + bottom, W + left + right, B), dtype=dcols.dtype)
    d = dcols.reshape(R, C, kernel, kernel, Ho, Wo, B)
    for i, j in _offsets(kernel):
        _shifted(dxp, i, j, stride, out_hw)[...] += d[:, :, i, j]
    return dxp[..., top : top + H, left : left + W, :]


def geometry2d(H: int, W: int, kernel: int, stride: int, padding: str):
    """((Ho, Wo), (top, bottom, left, right))."""
    Ho, top, bottom = conv_geometry(H, kernel, stride, padding)
    Wo, left, right = conv_geometry(W, kernel, stride, padding)
    return (Ho, Wo), (top, bottom, left, right)


def conv2d_forward(x, W, b, stride: int, padding: str, cols=None):
    """``x (R, C, H, W, B)`` or shared ``(C, H, W, B)``; ``W (R, O, C, k, k)``, ``b (R, 1, O)``.

    Returns ``z (R, O, Ho, Wo, B)`` and the patches ``cols`` (the backward pass's input);
    ``cols`` already built for this input (the shared first layer's) is used as it is.
    """
    R, O, C, k, _ = W.shape
    H, Wd, Bn = x.shape[-3:]
    out_hw, pads = geometry2d(H, Wd, k, stride, padding)
    if cols is None:
        cols = im2col(x, k, stride, pads, out_hw)
    z = np.matmul(W.reshape(R, O, C * k * k), cols)  # (R, O, K) @ ([R,] K, P*B) -> (R, O, P*B)
    z += np.swapaxes(b, -1, -2)  # (R, O, 1)
    return z.reshape(R, O, *out_hw, Bn), cols


def conv2d_backward(dz, cols, W, x_shape, stride: int, padding: str, need_input: bool = True):
    """Gradients of ``conv2d_forward``: ``(dx or None, dW, db)`` from ``dz (R, O, Ho, Wo, B)``.

    ``x_shape`` is the input's ``(C, H, W, B)``; ``dx`` is ``(R, C, H, W, B)``.
    """
    R, O, C, k, _ = W.shape
    d = dz.reshape(R, O, -1)
    # dW^T = cols @ d^T: (R, K, P*B) @ (R, P*B, O); BLAS runs it ~1.6x faster than d @ cols^T
    dW = np.swapaxes(np.matmul(cols, np.swapaxes(d, -1, -2)), -1, -2).reshape(W.shape)
    db = d.sum(axis=-1)[:, None, :]  # (R, 1, O)
    if not need_input:
        return None, dW, db
    out_hw, pads = geometry2d(x_shape[-3], x_shape[-2], k, stride, padding)
    dcols = np.matmul(np.swapaxes(W.reshape(R, O, C * k * k), -1, -2), d)  # (R, K, P*B)
    return col2im(dcols, x_shape, k, stride, pads, out_hw), dW, db


# --------------------------------------------------------------------------- pooling


def _windows(x: np.ndarray, size: int):
    """The ``size*size`` strided views of ``x (..., H, W, B)``, one per window offset, cropped
    to whole windows: view (i, j) holds element (i, j) of every window, ``(..., Ho, Wo, B)``."""
    out_hw = (x.shape[-3] // size, x.shape[-2] // size)
    return [_shifted(x, i, j, size, out_hw) for i, j in _offsets(size)]


def maxpool_forward(x: np.ndarray, size: int):
    """``(..., H, W, B) -> (..., H // size, W // size, B)`` and the offset of each window's
    first maximum (uint8, row-major within the window)."""
    views = _windows(x, size)
    out = views[0].copy()
    where = np.zeros(out.shape, dtype=np.uint8)
    bigger = np.empty(out.shape, dtype=bool)
    step = np.empty(out.shape, dtype=np.uint8)
    for n, v in enumerate(views[1:], start=1):
        np.greater(v, out, out=bigger)  # strictly: a tie keeps the earlier offset
        np.maximum(out, v, out=out)
        # where = n where bigger: arithmetic (a masked copyto is ten times slower)
        np.subtract(np.uint8(n), where, out=step)
        step *= bigger
        where += step
    return out, where


def maxpool_backward(dy: np.ndarray, where: np.ndarray, in_shape, size: int) -> np.ndarray:
    dx = np.zeros(in_shape, dtype=dy.dtype)
    for n, v in enumerate(_windows(dx, size)):
        np.multiply(dy, where == n, out=v)
    return dx


def avgpool_forward(x: np.ndarray, size: int) -> np.ndarray:
    views = _windows(x, size)
    out = views[0].copy()
    for v in views[1:]:
        out += v
    out *= 1.0 / (size * size)
    return out


def avgpool_backward(dy: np.ndarray, in_shape, size: int) -> np.ndarray:
    dx = np.zeros(in_shape, dtype=dy.dtype)
    share = dy * (1.0 / (size * size))
    for v in _windows(dx, size):
        v[...] = share
    return dx


# --------------------------------------------------------------------------- flatten, dense


def flatten_forward(x: np.ndarray) -> np.ndarray:
    """``(R, C, H, W, B) -> (R, B, C*H*W)``, each sample in C order over (C, H, W)."""
    R, C, H, W, B = x.shape
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)).reshape(R, B, C * H * W)


def flatten_backward(dy: np.ndarray, in_shape) -> np.ndarray:
    R, C, H, W, B = in_shape
    return np.ascontiguousarray(np.moveaxis(dy.reshape(R, B, C, H, W), 1, -1))


def dense_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(x, W) + b  # ([R,] B, in) @ (R, in, out) -> (R, B, out)


def dense_backward(dz, x, W, need_input: bool = True):
    """``(dx or None, dW, db)`` from ``dz (R, B, out)``; ``x`` is the forward input."""
    dW = np.matmul(np.swapaxes(x, -1, -2), dz)  # (R, in, B) @ (R, B, out)
    db = dz.sum(axis=-2, keepdims=True)  # (R, 1, out)
    dx = np.matmul(dz, np.swapaxes(W, -1, -2)) if need_input else None  # (R, B, in)
    return dx, dW, db
