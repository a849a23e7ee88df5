"""Reordering elements without changing them: flip, moveaxis, roll, sort, argsort."""
from __future__ import annotations

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.ops.indexing import take_along_axis
from gradcore.ops.shape import _normalize_axes, reshape, transpose
from gradcore.tensor import Tensor

__all__ = ["flip", "moveaxis", "roll", "sort", "argsort"]


class Flip(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        key = tuple(slice(None, None, -1) if a in self.axes else slice(None)
                    for a in range(x.ndim))
        return x[key]  # a view, as numpy.flip

    def backward(self, gy):
        return Flip(self.axes)(gy)

    def jvp(self, xs, y, txs):
        return self.forward(txs[0])


def flip(x, axis=None, *, dim=None):
    """Reverses the order of elements along ``axis`` (an int, a tuple, or None: all axes), like
    ``numpy.flip``.

    >>> import gradcore as gc
    >>> gc.flip(gc.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1).tolist()
    [[2.0, 1.0], [4.0, 3.0]]
    """
    axis = checks.dim_alias("flip", axis, dim)
    axes = tuple(range(x.ndim)) if axis is None else _normalize_axes(axis, x.ndim, "flip")
    return Flip(frozenset(axes))(x)


def moveaxis(x, source, destination):
    """Moves axes ``source`` to positions ``destination`` (ints or tuples of one length), the
    others keeping their order, like ``numpy.moveaxis``.

    >>> import gradcore as gc
    >>> gc.moveaxis(gc.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    src = _normalize_axes(source, x.ndim, "moveaxis")
    dst = _normalize_axes(destination, x.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} must name "
                         "the same number of axes")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in source {source} or destination "
                         f"{destination}")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, tuple(order))


class Roll(Function):
    def __init__(self, shift, axis):
        self.shift, self.axis = shift, axis

    def forward(self, x):
        return array_module(x).roll(x, self.shift, axis=self.axis)

    def backward(self, gy):
        return Roll(tuple(-s for s in self.shift), self.axis)(gy)

    def jvp(self, xs, y, txs):
        return self.forward(txs[0])


def roll(x, shift, axis=None, *, dim=None):
    """Shifts elements along ``axis`` (None: of the flattened tensor) by ``shift``, those that
    fall off one end coming back at the other, like ``numpy.roll``. ``shift`` and ``axis`` may be
    tuples (broadcast against each other).

    >>> import gradcore as gc
    >>> gc.roll(gc.tensor([1.0, 2.0, 3.0]), 1).tolist()
    [3.0, 1.0, 2.0]
    """
    axis = checks.dim_alias("roll", axis, dim)
    shifts = checks.int_tuple(shift, "roll", "shift")
    if axis is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: shift {shift} needs axis (a tuple of the same length)")
        return reshape(Roll(shifts, (0,))(reshape(x, (-1,))), x.shape)
    axes = _normalize_axes(axis, x.ndim, "roll")
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    elif len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shift} and axis {axis} have different lengths")
    return Roll(shifts, axes)(x)


def _sort_axis(x, axis, op):
    """NumPy's convention: axis None sorts the flattened tensor."""
    if axis is None:
        return reshape(x, (-1,)), 0
    return x, _normalize_axes(axis, x.ndim, op)[0] if x.ndim else 0


def argsort(x, axis=-1, *, dim=None):
    """Indices that sort ``x`` along ``axis`` (None: flattened), like ``numpy.argsort`` with
    ``kind="stable"`` (ties keep their order, on CPU and GPU alike): an int64 tensor, not
    differentiated.

    >>> import gradcore as gc
    >>> gc.argsort(gc.tensor([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    """
    axis = checks.dim_alias("argsort", axis, dim, -1)
    x, axis = _sort_axis(x, axis, "argsort")
    a = x.array
    return Tensor._make(array_module(a).argsort(a, axis=axis, kind="stable"), x.device, False,
                        None, 0)


def sort(x, axis=-1, *, dim=None):
    """Sorted copy of ``x`` along ``axis`` (None: flattened), like ``numpy.sort``. The gradient
    of each output goes to the input it came from (ties: by the stable order of argsort).

    >>> import gradcore as gc
    >>> x = gc.tensor([3.0, 1.0, 2.0], requires_grad=True)
    >>> (gc.sort(x) * gc.tensor([1.0, 10.0, 100.0])).sum().backward(); x.grad.tolist()
    [100.0, 1.0, 10.0]
    """
    axis = checks.dim_alias("sort", axis, dim, -1)
    x, axis = _sort_axis(x, axis, "sort")
    return take_along_axis(x, argsort(x, axis), axis)
