"""Diagonals and triangles: diagonal, trace, diag, tril, triu.

``diagonal`` and its adjoint (writing a diagonal into zeros) are each other's gradients, as
``getitem`` and its scatter are, so every derivative order is covered by the two ops.
"""
from __future__ import annotations

from gradcore import checks, tracing
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.ops.math import where
from gradcore.ops.reduction import sum
from gradcore.ops.shape import _normalize_axes

__all__ = ["diagonal", "trace", "diag", "tril", "triu"]


def _diag_index(offset, n1, n2):
    """Rows and columns of the ``offset`` diagonal of an (n1, n2) matrix (host ranges)."""
    start1, start2 = max(-offset, 0), max(offset, 0)
    k = max(min(n1 - start1, n2 - start2), 0)
    return range(start1, start1 + k), range(start2, start2 + k)


class Diagonal(Function):
    def __init__(self, offset, axis1, axis2):
        self.offset, self.axis1, self.axis2 = offset, axis1, axis2

    def forward(self, x):
        self.x_shape = x.shape
        # a copy: NumPy's diagonal is a read-only view, which in-place ops would trip over
        return array_module(x).diagonal(x, self.offset, self.axis1, self.axis2).copy()

    def backward(self, gy):
        return DiagonalEmbed(self.offset, self.axis1, self.axis2, self.x_shape)(gy)

    def jvp(self, xs, y, txs):
        return self.forward(txs[0])


class DiagonalEmbed(Function):
    """The adjoint of :class:`Diagonal`: zeros of ``shape`` with ``y`` on the diagonal (the
    diagonal as the last axis of ``y``, as ``diagonal`` returns it)."""

    def __init__(self, offset, axis1, axis2, shape):
        self.offset, self.axis1, self.axis2, self.shape = offset, axis1, axis2, shape

    def forward(self, y):
        xp = array_module(y)
        a1, a2 = self.axis1, self.axis2
        rest = [n for i, n in enumerate(self.shape) if i not in (a1, a2)]
        out = tracing.created(xp.zeros(tuple(rest) + (self.shape[a1], self.shape[a2]),
                                       dtype=y.dtype))  # gc.compile replays the writes below
        rows, cols = _diag_index(self.offset, self.shape[a1], self.shape[a2])
        out[..., xp.asarray(list(rows), dtype="int64"), xp.asarray(list(cols), dtype="int64")] = y
        # the two matrix axes were put last: move them back where they came from
        return xp.moveaxis(out, (-2, -1), (a1, a2))

    def backward(self, ggx):
        return Diagonal(self.offset, self.axis1, self.axis2)(ggx)

    def jvp(self, xs, y, txs):
        return self.forward(txs[0])


def _axes_pair(axis1, axis2, ndim, op):
    if ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dimensions, got {ndim}")
    a1, a2 = _normalize_axes((axis1, axis2), ndim, op)
    if a1 == a2:
        raise ValueError(f"{op}: axis1 and axis2 are the same axis ({a1})")
    return a1, a2


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the matrices over ``axis1``/``axis2``, as the last axis, like
    ``numpy.diagonal`` (a copy, not a read-only view).

    >>> import gradcore as gc
    >>> gc.diagonal(gc.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [1.0, 4.0]
    """
    offset = checks.integer(offset, "diagonal", "offset")
    return Diagonal(offset, *_axes_pair(axis1, axis2, x.ndim, "diagonal"))(x)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum of the ``offset`` diagonal, like ``numpy.trace``.

    >>> import gradcore as gc
    >>> x = gc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> gc.trace(x).backward(); x.grad.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return sum(diagonal(x, offset, axis1, axis2), -1)


def diag(v, k=0):
    """NumPy's ``diag``: a 1-D ``v`` becomes a square matrix with ``v`` on diagonal ``k``; a 2-D
    one gives its diagonal ``k``.

    >>> import gradcore as gc
    >>> gc.diag(gc.tensor([1.0, 2.0])).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    k = checks.integer(k, "diag", "k")
    if v.ndim == 2:
        return Diagonal(k, 0, 1)(v)
    if v.ndim != 1:
        raise ValueError(f"diag: needs a 1-D or 2-D tensor, got shape {tuple(v.shape)}")
    n = v.shape[0] + abs(k)
    return DiagonalEmbed(k, 0, 1, (n, n))(v)


def _triangle(x, k, lower, op):
    k = checks.integer(k, op, "k")
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    n, m = x.shape[-2:]
    keep = array_module(x.array).tri(n, m, k if lower else k - 1, dtype=bool)
    # a constant mask through where: the gradient is zero outside the triangle
    return where(keep, x, 0.0) if lower else where(keep, 0.0, x)


def tril(x, k=0):
    """Lower triangle (on and below diagonal ``k``) of the last two axes, the rest zeros, like
    ``numpy.tril``.

    >>> import gradcore as gc
    >>> gc.tril(gc.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(x, k, True, "tril")


def triu(x, k=0):
    """Upper triangle (on and above diagonal ``k``) of the last two axes, the rest zeros, like
    ``numpy.triu``.

    >>> import gradcore as gc
    >>> gc.triu(gc.ones((2, 2))).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    return _triangle(x, k, False, "triu")
