"""Joining and splitting: concatenate, stack, split."""
from __future__ import annotations

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.ops.shape import expand_dims
from gradcore.tensor import Tensor

__all__ = ["concatenate", "stack", "split"]


class Concatenate(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        try:
            return array_module(xs[0]).concatenate(xs, axis=self.axis)
        except ValueError as e:
            raise ValueError(f"concatenate: shapes {[x.shape for x in xs]} differ outside axis "
                             f"{self.axis}") from e

    def backward(self, gy):
        bounds = []
        total = 0
        for n in self.sizes[:-1]:
            total += n
            bounds.append(total)
        return tuple(split(gy, bounds, self.axis))

    def jvp(self, xs, y, txs):
        xp = array_module(y)
        return xp.concatenate([xp.zeros_like(x) if t is None else t for x, t in zip(xs, txs)],
                              axis=self.axis)


def concatenate(xs, axis=0):
    """Joins tensors along an existing axis, like ``numpy.concatenate``.

    >>> import gradcore as gc
    >>> gc.concatenate([gc.ones((1, 2)), gc.zeros((2, 2))]).shape
    (3, 2)
    """
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one tensor")
    ndim = xs[0].ndim
    axis = checks.integer(axis, "concatenate", "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for {ndim}-d tensors")
    return Concatenate(axis % ndim)(*xs)


def stack(xs, axis=0):
    """Joins tensors along a new axis, like ``numpy.stack``.

    >>> import gradcore as gc
    >>> gc.stack([gc.zeros(2), gc.ones(2)]).tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    xs = list(xs)
    if not xs:
        raise ValueError("stack: need at least one tensor")
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need one shape, got {sorted(shapes)}")
    ndim = xs[0].ndim + 1
    axis = checks.integer(axis, "stack", "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for the {ndim}-d result")
    return concatenate([expand_dims(x, axis) for x in xs], axis)


class Split(Function):
    def __init__(self, bounds, axis):
        self.bounds, self.axis = bounds, axis

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        parts = array_module(x).split(x, self.bounds, axis=self.axis)
        self.n_outputs = len(parts)
        return tuple(parts)

    def backward(self, *gys):
        if any(g is None for g in gys):  # parts that received no gradient contribute zeros
            device = next(g.device for g in gys if g is not None)
            zeros = device.xp.zeros(self.x_shape, self.x_dtype)
            pieces = device.xp.split(zeros, self.bounds, axis=self.axis)
            gys = [Tensor._make(p, device, False, None, 0) if g is None else g
                   for g, p in zip(gys, pieces)]
        return concatenate(gys, self.axis)

    def jvp(self, xs, y, txs):
        return tuple(array_module(xs[0]).split(txs[0], self.bounds, axis=self.axis))


def split(x, indices_or_sections, axis=0):
    """Splits into a list of views, like ``numpy.split`` (equal sections or split points).

    >>> import gradcore as gc
    >>> [t.tolist() for t in gc.split(gc.arange(6), 3)]
    [[0, 1], [2, 3], [4, 5]]
    >>> [t.shape for t in gc.split(gc.arange(6), [2])]
    [(2,), (4,)]
    """
    ndim = x.ndim
    axis = checks.integer(axis, "split", "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"split: axis {axis} is out of range for a tensor of shape {x.shape}")
    axis %= ndim
    n = x.shape[axis]
    if checks.is_integer(indices_or_sections):
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = [step * i for i in range(1, indices_or_sections)]
    else:
        bounds = list(checks.int_tuple(indices_or_sections, "split", "indices_or_sections"))
    return list(Split(bounds, axis)(x))
