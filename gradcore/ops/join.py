"""Joining and splitting: concatenate (PyTorch's ``cat``), stack, split, and NumPy's forms of
them: hstack, vstack, column_stack, append, array_split (all composed, so their gradients are
concatenate's and split's); and meshgrid (composed of reshape and broadcast_to)."""
from __future__ import annotations

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.ops.shape import (atleast_1d, atleast_2d, broadcast_to, expand_dims, reshape,
                                swapaxes)
from gradcore.tensor import Tensor

__all__ = ["concatenate", "cat", "stack", "split", "hstack", "vstack", "column_stack", "append",
           "array_split", "meshgrid"]


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


def concatenate(xs, axis=0, *, dim=None):
    """Joins tensors along an existing axis, like ``numpy.concatenate``.

    >>> import gradcore as gc
    >>> gc.concatenate([gc.ones((1, 2)), gc.zeros((2, 2))]).shape
    (3, 2)
    """
    axis = checks.dim_alias("concatenate", axis, dim, 0)
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one tensor")
    ndim = xs[0].ndim
    axis = checks.integer(axis, "concatenate", "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"concatenate: axis {axis} is out of range for {ndim}-d tensors")
    return Concatenate(axis % ndim)(*xs)


def cat(tensors, dim=0):
    """PyTorch's name of :func:`concatenate`: joins ``tensors`` along ``dim``.

    >>> import gradcore as gc
    >>> gc.cat([gc.ones((2, 1)), gc.zeros((2, 2))], dim=1).tolist()
    [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """
    return concatenate(tensors, dim)


def meshgrid(*xs, indexing="xy"):
    """Coordinate grids from 1-D tensors, like ``numpy.meshgrid``: ``indexing="xy"`` (NumPy's
    default: the first two axes are swapped, as for plotting) or ``"ij"`` (matrix indexing,
    ``torch.meshgrid``'s default). Differentiable: each grid's gradient sums back to its vector.

    >>> import gradcore as gc
    >>> X, Y = gc.meshgrid(gc.tensor([1.0, 2.0, 3.0]), gc.tensor([4.0, 5.0]))
    >>> X.shape, X.tolist()[0], Y.tolist()[0]
    ((2, 3), [1.0, 2.0, 3.0], [4.0, 4.0, 4.0])
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        xs = tuple(xs[0])
    for x in xs:
        if getattr(x, "ndim", None) != 1:
            raise ValueError(f"meshgrid: expected 1-D tensors, got shapes "
                             f"{[getattr(v, 'shape', ()) for v in xs]}")
    shape = tuple(x.shape[0] for x in xs)
    grids = [broadcast_to(reshape(x, tuple(-1 if d == i else 1 for d in range(len(xs)))), shape)
             for i, x in enumerate(xs)]
    if indexing == "xy" and len(xs) > 1:
        grids = [swapaxes(g, 0, 1) for g in grids]
    return grids


def stack(xs, axis=0, *, dim=None):
    """Joins tensors along a new axis, like ``numpy.stack``.

    >>> import gradcore as gc
    >>> gc.stack([gc.zeros(2), gc.ones(2)]).tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    axis = checks.dim_alias("stack", axis, dim, 0)
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


def split(x, indices_or_sections, axis=0, *, dim=None):
    """Splits into a list of views, like ``numpy.split`` (equal sections or split points).

    >>> import gradcore as gc
    >>> [t.tolist() for t in gc.split(gc.arange(6), 3)]
    [[0, 1], [2, 3], [4, 5]]
    >>> [t.shape for t in gc.split(gc.arange(6), [2])]
    [(2,), (4,)]
    """
    axis = checks.dim_alias("split", axis, dim, 0)
    return _split(x, indices_or_sections, axis, "split")


def array_split(x, indices_or_sections, axis=0, *, dim=None):
    """Like :func:`split`, but ``n`` sections need not be equal, like ``numpy.array_split``: the
    first ``size % n`` sections get one element more.

    >>> import gradcore as gc
    >>> [t.tolist() for t in gc.array_split(gc.arange(5), 3)]
    [[0, 1], [2, 3], [4]]
    """
    axis = checks.dim_alias("array_split", axis, dim, 0)
    return _split(x, indices_or_sections, axis, "array_split")


def _split(x, indices_or_sections, axis, op):
    ndim = x.ndim
    axis = checks.integer(axis, op, "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of shape {x.shape}")
    axis %= ndim
    n = x.shape[axis]
    if checks.is_integer(indices_or_sections):
        sections = int(indices_or_sections)
        if sections <= 0 or (op == "split" and n % sections):
            raise ValueError(f"{op}: axis {axis} of size {n} does not divide into "
                             f"{sections} equal sections")
        step, extra = divmod(n, sections)  # the first `extra` sections: one more element
        bounds = [step * i + min(i, extra) for i in range(1, sections)]
    else:
        bounds = list(checks.int_tuple(indices_or_sections, op, "indices_or_sections"))
    return list(Split(bounds, axis)(x))


def _as_list(xs, op):
    xs = list(xs)
    if not xs:
        raise ValueError(f"{op}: need at least one tensor")
    return xs


def hstack(xs):
    """Joins horizontally, like ``numpy.hstack``: along axis 1, or axis 0 for 1-D tensors.

    >>> import gradcore as gc
    >>> gc.hstack([gc.zeros(2), gc.ones(1)]).tolist()
    [0.0, 0.0, 1.0]
    """
    xs = [atleast_1d(x) for x in _as_list(xs, "hstack")]
    return concatenate(xs, 0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    """Joins vertically, like ``numpy.vstack``: along axis 0, 1-D tensors as rows.

    >>> import gradcore as gc
    >>> gc.vstack([gc.zeros(2), gc.ones(2)]).shape
    (2, 2)
    """
    return concatenate([atleast_2d(x) for x in _as_list(xs, "vstack")], 0)


def column_stack(xs):
    """Joins 1-D tensors as columns (and 2-D ones as they are) along axis 1, like
    ``numpy.column_stack``.

    >>> import gradcore as gc
    >>> gc.column_stack([gc.zeros(2), gc.ones(2)]).tolist()
    [[0.0, 1.0], [0.0, 1.0]]
    """
    xs = _as_list(xs, "column_stack")
    return concatenate([reshape(x, (-1, 1)) if x.ndim < 2 else x for x in xs], 1)


def append(x, values, axis=None, *, dim=None):
    """``x`` with ``values`` joined at the end along ``axis`` (None: both flattened), like
    ``numpy.append``; differentiable in both.

    >>> import gradcore as gc
    >>> gc.append(gc.tensor([1.0, 2.0]), gc.tensor([[3.0]])).tolist()
    [1.0, 2.0, 3.0]
    """
    axis = checks.dim_alias("append", axis, dim)
    if axis is None:
        return concatenate([reshape(x, (-1,)), reshape(values, (-1,))], 0)
    return concatenate([x, values], axis)
