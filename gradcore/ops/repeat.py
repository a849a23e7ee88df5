"""Making a larger tensor from one: repeat, tile, pad (constant).

repeat and tile are composed from differentiable ops (a gather, a broadcast), so their
gradients sum the copies by the existing rules (scatter-add, ``sum_to``); pad is one op whose
gradient is the slice of the padded region's interior.
"""
from __future__ import annotations

import numpy

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module, to_device
from gradcore.ops.indexing import _axis, getitem
from gradcore.ops.shape import broadcast_to, reshape
from gradcore.tensor import Tensor

__all__ = ["repeat", "tile", "pad", "tensor_repeat"]


def repeat(x, repeats, axis=None, *, dim=None):
    """Repeats each element ``repeats`` times (an int, or one count per element) along ``axis``
    (None: of the flattened tensor), like ``numpy.repeat``; the gradient sums the copies.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> y = gc.repeat(x, [1, 3]); y.sum().backward(); y.tolist(), x.grad.tolist()
    ([1.0, 2.0, 2.0, 2.0], [1.0, 3.0])
    """
    axis = checks.dim_alias("repeat", axis, dim)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis(axis, x.ndim, "repeat")
    n = x.shape[axis]
    counts = repeats.array if isinstance(repeats, Tensor) else repeats
    counts = numpy.asarray(counts.get() if hasattr(counts, "get") else counts)
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative integers, got {repeats!r}")
    if counts.ndim == 1 and counts.size not in (1, n):
        raise ValueError(f"repeat: {counts.size} repeat counts for axis {axis} of size {n} "
                         f"(shape {tuple(x.shape)})")
    if counts.ndim == 0 or counts.size == 1:  # NumPy: one count for every element
        r = int(counts.reshape(-1)[0])
        shape = tuple(x.shape)
        wide = broadcast_to(reshape(x, shape[:axis + 1] + (1,) + shape[axis + 1:]),
                            shape[:axis + 1] + (r,) + shape[axis + 1:])
        return reshape(wide, shape[:axis] + (n * r,) + shape[axis + 1:])
    # a gather: source index of every output position (repeated indices: the gradient adds up)
    index = to_device(numpy.repeat(numpy.arange(n), counts), x.device)
    return getitem(x, (slice(None),) * axis + (index,))


def tensor_repeat(x, *args, axis=None, dim=None):
    """``Tensor.repeat``: NumPy's (each element repeated), with ``axis`` by keyword only, so
    PyTorch's ``x.repeat(2, 3)`` (tiling) is refused instead of silently repeating along axis 3.

    >>> import gradcore as gc
    >>> gc.tensor([1.0, 2.0]).repeat(2).tolist()
    [1.0, 1.0, 2.0, 2.0]
    """
    if len(args) != 1:
        raise TypeError(f"Tensor.repeat follows NumPy: x.repeat(repeats, axis=...) repeats each "
                        f"element (axis by keyword); got {len(args)} positional arguments. For "
                        "PyTorch's x.repeat(*sizes), which tiles, use gc.tile(x, sizes)")
    return repeat(x, args[0], axis, dim=dim)


def tile(x, reps):
    """Repeats the whole tensor ``reps[i]`` times along axis i, like ``numpy.tile`` (a shorter
    ``reps`` is padded with leading 1s, a shorter shape with leading size-1 axes).

    >>> import gradcore as gc
    >>> gc.tile(gc.tensor([1.0, 2.0]), (2, 2)).tolist()
    [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
    """
    reps = checks.int_tuple(reps, "tile", "reps")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    nd = max(len(reps), x.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + tuple(x.shape)
    # (n0, n1...) -> (1, n0, 1, n1...) -> broadcast to (r0, n0, r1, n1...) -> (r0 n0, r1 n1...)
    paired = reshape(x, tuple(v for n in shape for v in (1, n)))
    wide = broadcast_to(paired, tuple(v for r, n in zip(reps, shape) for v in (r, n)))
    return reshape(wide, tuple(r * n for r, n in zip(reps, shape)))


class Pad(Function):
    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return array_module(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):  # the padding is a constant: the gradient is the interior
        return getitem(gy, tuple(slice(b, n - a) for (b, a), n in zip(self.widths, gy.shape)))

    def jvp(self, xs, y, txs):
        return array_module(y).pad(txs[0], self.widths, mode="constant", constant_values=0)


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pads with a constant, like ``numpy.pad``: ``pad_width`` is one int, a ``(before, after)``
    pair, or one pair per axis. Only ``mode="constant"`` with a scalar value is supported.

    >>> import gradcore as gc
    >>> gc.pad(gc.tensor([1.0, 2.0]), (1, 2)).tolist()
    [0.0, 1.0, 2.0, 0.0, 0.0]
    """
    if mode != "constant":
        raise NotImplementedError(f"pad: mode={mode!r} is not supported; only 'constant'")
    if not isinstance(constant_values, (int, float)) or isinstance(constant_values, bool):
        raise TypeError(f"pad: constant_values must be a Python number, got {constant_values!r}")
    try:
        widths = numpy.broadcast_to(numpy.asarray(pad_width), (x.ndim, 2))
    except ValueError as e:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape "
                         f"{tuple(x.shape)} (one int, a pair, or one pair per axis)") from e
    if widths.dtype.kind not in "iu" or (widths < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative integers, got {pad_width!r}")
    return Pad(tuple((int(b), int(a)) for b, a in widths), constant_values)(x)
