"""Indexing ``x[key]``: slices, None, Ellipsis, negative steps, integer and boolean arrays.

NOTE: with integer-array indices a position may be picked several times; the backward pass
scatters with an unbuffered add (``add.at``) so repeated indices accumulate.
"""
from __future__ import annotations

from gradcore.autograd.function import Function
from gradcore.backend import array_module

__all__ = ["getitem", "array_key"]


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
        gx = xp.zeros(self.shape, dtype=gy.dtype)
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
