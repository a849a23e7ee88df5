"""Shape ops: reshape, transpose, swapaxes, expand_dims, squeeze, broadcast_to, sum_to, flatten,
atleast_1d/2d/3d.

``sum_to`` is THE unbroadcast helper: every op whose forward broadcasts its inputs sums the
gradient back to each input's shape with it, so broadcasting is handled in one place.
"""
from __future__ import annotations

import math

import numpy

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module as _xp

__all__ = ["reshape", "view", "transpose", "swapaxes", "expand_dims", "squeeze", "broadcast_to",
           "sum_to", "flatten", "atleast_1d", "atleast_2d", "atleast_3d"]


def _normalize_axes(axis, ndim, op):
    axes = checks.int_tuple(axis, op, "axis")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim)
    return tuple(out)


class Reshape(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError as e:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into shape "
                             f"{self.shape}") from e

    def backward(self, gy):
        return reshape(gy, self.x_shape)

    def jvp(self, xs, y, txs):
        return txs[0].reshape(self.shape)


def reshape(x, shape):
    """Gives ``x`` a new shape (a view when possible), like ``numpy.reshape``; one entry may be -1.

    >>> import gradcore as gc
    >>> gc.reshape(gc.arange(6), (2, 3)).shape
    (2, 3)
    """
    shape = checks.int_tuple(shape, "reshape", "shape")
    if getattr(x, "shape", None) == shape:
        return x
    return Reshape(shape)(x)


def view(x, shape):
    """``x``'s storage in a new shape, PyTorch's ``Tensor.view``: never a copy, so writes through
    either show in both and they share the version counter. Only a C-contiguous tensor is viewed
    (PyTorch also views some strided ones); otherwise it raises: use :func:`reshape`.

    >>> import gradcore as gc
    >>> x = gc.zeros(6); v = gc.ops.shape.view(x, (2, 3))
    >>> v[0, 1] = 5.0; x.tolist()
    [0.0, 5.0, 0.0, 0.0, 0.0, 0.0]
    """
    if not checks.is_integer(shape) and not isinstance(shape, (tuple, list)):
        raise NotImplementedError(f"view: reinterpreting the bits as another dtype ({shape!r}) "
                                  f"is not supported (tensor of dtype {x.dtype}, shape "
                                  f"{x.shape}); cast with .astype() or .to()")
    shape = checks.int_tuple(shape, "view", "shape")
    if not x.array.flags.c_contiguous:
        raise RuntimeError(f"view: the tensor of shape {x.shape} is not contiguous (a transpose "
                           f"or a strided slice), so shape {shape} would need a copy; use "
                           ".reshape(...), which copies when it must")
    return Reshape(shape)(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Join axes ``start_dim..end_dim`` into one (``torch.flatten``); by default all of them,
    like NumPy's ``ndarray.flatten()``. A 0-d input becomes shape ``(1,)``, as in both.

    >>> import gradcore as gc
    >>> gc.flatten(gc.zeros((2, 3))).shape
    (6,)
    >>> gc.flatten(gc.zeros((2, 3, 4)), 1).shape  # keep the batch axis
    (2, 12)
    """
    shape = tuple(getattr(x, "shape", ()))
    ndim = max(len(shape), 1)
    start, end = (_flatten_axis(d, ndim, name) for d, name in ((start_dim, "start_dim"),
                                                                (end_dim, "end_dim")))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for an "
                         f"input of shape {shape}")
    if not shape:
        return reshape(x, (1,))
    return reshape(x, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


def _flatten_axis(dim, ndim, name):
    if isinstance(dim, bool) or not isinstance(dim, (int, numpy.integer)):
        raise TypeError(f"flatten: {name} must be an integer, got {dim!r} "
                        f"({type(dim).__name__}); NumPy's order= is not supported (always 'C')")
    if not -ndim <= dim < ndim:
        raise ValueError(f"flatten: {name} {dim} is out of range for an input with {ndim} "
                         "dimensions")
    return int(dim) % ndim


class Transpose(Function):
    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = None if self.axes is None else tuple(sorted(range(len(self.axes)), key=self.axes.__getitem__))
        return transpose(gy, inverse)

    def jvp(self, xs, y, txs):
        return txs[0].transpose(self.axes)


def transpose(x, axes=None):
    """Permutes the axes (reverses them by default), like ``numpy.transpose``; returns a view.

    >>> import gradcore as gc
    >>> gc.transpose(gc.zeros((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    if axes is not None:
        axes = tuple(a % len(axes) for a in checks.int_tuple(axes, "transpose", "axes"))
        if sorted(axes) != list(range(len(axes))) or len(axes) != x.ndim:
            raise ValueError(f"transpose: axes {axes} are not a permutation of a tensor of shape "
                             f"{x.shape}")
    return Transpose(axes)(x)


def swapaxes(x, axis1, axis2):
    """Interchanges two axes, like ``numpy.swapaxes``.

    >>> import gradcore as gc
    >>> gc.swapaxes(gc.zeros((2, 3, 4)), 0, 2).shape
    (4, 3, 2)
    """
    perm = list(range(x.ndim))
    a, b = _normalize_axes((axis1, axis2), x.ndim, "swapaxes")
    perm[a], perm[b] = perm[b], perm[a]
    return Transpose(tuple(perm))(x)


def expand_dims(x, axis=None, *, dim=None):
    """Inserts size-1 axes at ``axis`` (int or tuple), like ``numpy.expand_dims``.

    >>> import gradcore as gc
    >>> gc.expand_dims(gc.zeros(3), 0).shape, gc.expand_dims(gc.zeros(3), (0, 2)).shape
    ((1, 3), (1, 3, 1))
    """
    axis = checks.dim_alias("expand_dims", axis, dim, required=True)
    axes = checks.int_tuple(axis, "expand_dims", "axis")
    ndim = x.ndim + len(axes)
    axes = _normalize_axes(axes, ndim, "expand_dims")
    shape = iter(x.shape)
    return reshape(x, tuple(1 if i in axes else next(shape) for i in range(ndim)))


def squeeze(x, axis=None, *, dim=None):
    """Removes size-1 axes (all of them, or those named by ``axis``), like ``numpy.squeeze``.

    >>> import gradcore as gc
    >>> gc.squeeze(gc.zeros((1, 3, 1))).shape, gc.squeeze(gc.zeros((1, 3, 1)), axis=0).shape
    ((3,), (3, 1))
    """
    axis = checks.dim_alias("squeeze", axis, dim)
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = _normalize_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        xp = _xp(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError as e:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}") from e

    def backward(self, gy):
        return sum_to(gy, self.x_shape)

    def jvp(self, xs, y, txs):
        return _xp(txs[0]).broadcast_to(txs[0], self.shape)


def broadcast_to(x, shape):
    """A read-only broadcast view of ``x`` with ``shape``, like ``numpy.broadcast_to``.

    >>> import gradcore as gc
    >>> gc.broadcast_to(gc.tensor([1.0, 2.0]), (2, 2)).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if x.shape == shape:
        return x
    return BroadcastTo(shape)(x)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return _sum_to_array(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)

    def jvp(self, xs, y, txs):
        return _sum_to_array(txs[0], self.shape)


def sum_to(x, shape):
    """Sums ``x`` over broadcast axes so that it has ``shape``: the inverse of broadcasting.

    >>> import gradcore as gc
    >>> gc.sum_to(gc.ones((4, 2, 3)), (2, 1)).tolist()
    [[12.0], [12.0]]
    """
    if x.shape == shape:
        return x
    return SumTo(shape)(x)


def _sum_to_array(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape) if lead or y.shape != shape else y


def _atleast(xs, grow):
    out = [reshape(x, grow(tuple(x.shape))) for x in xs]  # reshape to its own shape: x itself
    return out[0] if len(out) == 1 else out


def atleast_1d(*xs):
    """Each tensor with at least one axis (a 0-d one becomes shape (1,)), like
    ``numpy.atleast_1d``; one tensor for one argument, else a list.

    >>> import gradcore as gc
    >>> gc.atleast_1d(gc.tensor(2.0)).shape
    (1,)
    """
    return _atleast(xs, lambda s: s or (1,))


def atleast_2d(*xs):
    """Each tensor with at least two axes: (n,) becomes (1, n), like ``numpy.atleast_2d``.

    >>> import gradcore as gc
    >>> gc.atleast_2d(gc.zeros(3)).shape
    (1, 3)
    """
    return _atleast(xs, lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


def atleast_3d(*xs):
    """Each tensor with at least three axes, like ``numpy.atleast_3d``: () -> (1, 1, 1),
    (n,) -> (1, n, 1), (m, n) -> (m, n, 1).

    >>> import gradcore as gc
    >>> gc.atleast_3d(gc.zeros((2, 3))).shape
    (2, 3, 1)
    """
    def grow(s):
        if len(s) >= 3:
            return s
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
    return _atleast(xs, grow)
