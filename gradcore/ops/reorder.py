"""Reordering elements without changing them: flip, moveaxis."""
from __future__ import annotations

from gradcore.autograd.function import Function
from gradcore.ops.shape import _normalize_axes, transpose

__all__ = ["flip", "moveaxis"]


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


def flip(x, axis=None):
    """Reverses the order of elements along ``axis`` (an int, a tuple, or None: all axes), like
    ``numpy.flip``.

    >>> import gradcore as gc
    >>> gc.flip(gc.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1).tolist()
    [[2.0, 1.0], [4.0, 3.0]]
    """
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
