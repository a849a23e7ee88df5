"""Indexing ``x[key]``: slices, None, Ellipsis, negative steps, integer and boolean arrays; and
NumPy's gathers built on it (``take``, ``take_along_axis``) and ``nonzero``.

NOTE: with integer-array indices a position may be picked several times; the backward pass
scatters with an unbuffered add (``add.at``) so repeated indices accumulate.
"""
from __future__ import annotations

import numpy

from gradcore import checks, tracing
from gradcore.autograd.function import Function
from gradcore.backend import array_module, to_device
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["getitem", "array_key", "take", "take_along_axis", "nonzero"]


def array_key(key):
    """``key`` with Tensors replaced by their arrays (what NumPy/CuPy indexing accepts)."""
    if type(key) is tuple:
        return tuple(getattr(k, "array", k) if hasattr(k, "requires_grad") else k for k in key)
    return getattr(key, "array", key) if hasattr(key, "requires_grad") else key


def _is_advanced(key):
    parts = key if type(key) is tuple else (key,)
    return any(isinstance(k, (list,)) or hasattr(k, "dtype") for k in parts)


class GetItem(Function):
    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x[self.key]
        except IndexError as e:
            raise IndexError(f"getitem: index {self.key!r} is invalid for a tensor of shape "
                             f"{x.shape}: {e}") from e

    def backward(self, gy):
        return ScatterAdd(self.key, self.x_shape)(gy)

    def jvp(self, xs, y, txs):
        return txs[0][self.key]


class ScatterAdd(Function):
    """The gradient of ``x[key]``: zeros of ``x``'s shape with ``gy`` added at ``key``."""

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, gy):
        xp = array_module(gy)
        gx = tracing.created(xp.zeros(self.shape, dtype=gy.dtype))  # zeros again at each replay
        if _is_advanced(self.key):
            if hasattr(xp.add, "at"):
                xp.add.at(gx, self.key, gy)
            else:  # older CuPy
                import cupyx  # noqa: PLC0415
                cupyx.scatter_add(gx, self.key, gy)
        else:
            gx[self.key] = gy  # a basic index never repeats a position
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.key)

    def jvp(self, xs, y, txs):
        return self.forward(txs[0])


def getitem(x, key):
    """``x[key]`` as a differentiable op (see the module docstring for the index kinds).

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[gc.tensor([0, 0, 2])].sum().backward()
    >>> x.grad.tolist()
    [2.0, 0.0, 1.0]
    """
    return GetItem(array_key(key))(x)


def _indices(indices, x, op):
    """Integer indices as an array on ``x``'s device (a list, NumPy array or Tensor)."""
    a = indices.array if isinstance(indices, Tensor) else indices
    if not hasattr(a, "dtype"):
        a = numpy.asarray(a)
        if a.size == 0:
            a = a.astype(numpy.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {a.dtype}")
    return to_device(a, x.device)


def _axis(axis, ndim, op):
    axis = checks.integer(axis, op, "axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % ndim


def take(x, indices, axis=None, *, dim=None):
    """Elements at ``indices`` along ``axis`` (None: of the flattened tensor), like
    ``numpy.take`` (out-of-range indices raise, as its default ``mode="raise"``). Repeated
    indices accumulate their gradients.

    >>> import gradcore as gc
    >>> x = gc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> gc.take(x, [1, 1], axis=1).sum().backward(); x.grad.tolist()
    [[0.0, 2.0], [0.0, 2.0]]
    """
    axis = checks.dim_alias("take", axis, dim)
    if checks.is_integer(indices):
        idx = int(indices)
    else:
        idx = _indices(indices, x, "take")
    if axis is None:
        return getitem(x.reshape(-1), idx)
    axis = _axis(axis, x.ndim, "take")
    return getitem(x, (slice(None),) * axis + (idx,))


def take_along_axis(x, indices, axis=-1, *, dim=None):
    """Picks ``x[..., indices[i], ...]`` along ``axis`` for each position of ``indices`` (same
    number of dimensions as ``x``, broadcast elsewhere), like ``numpy.take_along_axis``: what
    ``argsort``/``argmax`` results index. Differentiable in ``x``.

    >>> import gradcore as gc
    >>> x = gc.tensor([[3.0, 1.0], [5.0, 9.0]])
    >>> gc.take_along_axis(x, gc.argmax(x, axis=1, keepdims=True), axis=1).tolist()
    [[3.0], [9.0]]
    """
    axis = checks.dim_alias("take_along_axis", axis, dim, -1)
    idx = _indices(indices, x, "take_along_axis")
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = _axis(axis, x.ndim, "take_along_axis")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices of shape {tuple(idx.shape)} need as many "
                         f"dimensions as x of shape {tuple(x.shape)}")
    xp = array_module(idx)
    key = tuple(idx if d == axis else
                xp.arange(n).reshape(tuple(-1 if e == d else 1 for e in range(x.ndim)))
                for d, n in enumerate(x.shape))
    return getitem(x, key)


def nonzero(x):
    """Indices of the nonzero elements, one int64 tensor per axis, like ``numpy.nonzero`` (and
    ``where`` with one argument). Not differentiated; on a GPU it waits for the result's size.

    >>> import gradcore as gc
    >>> [i.tolist() for i in gc.nonzero(gc.tensor([[0.0, 2.0], [3.0, 0.0]]))]
    [[0, 1], [1, 0]]
    """
    x = x if isinstance(x, Tensor) else as_tensor(x)
    return tuple(Tensor._make(i, x.device, False, None, 0)
                 for i in array_module(x.array).nonzero(x.array))
