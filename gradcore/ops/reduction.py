"""Reductions: sum, mean, var, max, min over ``axis=None|int|tuple`` with ``keepdims``."""
from __future__ import annotations

import builtins
import warnings

import numpy

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.ops.shape import broadcast_to, reshape

__all__ = ["sum", "mean", "var", "max", "min", "normalize_axis"]


def normalize_axis(axis, ndim, op):
    """``axis`` as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = checks.int_tuple(axis, op, "axis")
    out = set()
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.add(a % ndim if ndim else 0)
    if len(out) != len(axes):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_reduced(gy, x_shape, axes):
    """Broadcast a reduced gradient back over the reduced axes of ``x_shape``."""
    return broadcast_to(reshape(gy, _keepdims_shape(x_shape, axes)), x_shape)


class Sum(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return expand_reduced(gy, self.x_shape, self.axes)

    def jvp(self, xs, y, txs):
        return txs[0].sum(axis=self.axes, keepdims=self.keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 (NumPy's name)
    """Sum over ``axis`` (all axes by default), like ``numpy.sum``.

    >>> import gradcore as gc
    >>> gc.sum(gc.ones((2, 3)), axis=1).tolist()
    [3.0, 3.0]
    """
    return Sum(normalize_axis(axis, x.ndim, "sum"), keepdims)(x)


class Mean(Function):
    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        self.x_shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        count = 1
        for a in self.axes:
            count *= self.x_shape[a]
        return expand_reduced(gy / count if count != 1 else gy, self.x_shape, self.axes)

    def jvp(self, xs, y, txs):
        return txs[0].mean(axis=self.axes, keepdims=self.keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``, like ``numpy.mean``.

    >>> import gradcore as gc
    >>> gc.mean(gc.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).tolist()
    [2.0, 3.0]
    """
    return Mean(normalize_axis(axis, x.ndim, "mean"), keepdims)(x)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` with ``ddof`` (0: population variance), like ``numpy.var``.

    Composed from differentiable ops, so every derivative order comes for free. With
    ``ddof >= count`` there are no degrees of freedom left: as NumPy (and PyTorch) the result is
    ``inf`` (``nan`` where every element equals the mean) with a ``RuntimeWarning``, and the
    gradient is ``nan`` (PyTorch gives ``inf``, and ``nan`` at the mean): a variance with no
    degrees of freedom has no derivative to follow.

    >>> import gradcore as gc
    >>> gc.var(gc.tensor([1.0, 3.0])).item(), gc.var(gc.tensor([1.0, 3.0]), ddof=1).item()
    (1.0, 2.0)
    """
    axes = normalize_axis(axis, x.ndim, "var")
    count = 1
    for a in axes:
        count *= x.shape[a]
    if count - ddof <= 0:
        # NumPy divides by max(count - ddof, 0); count - ddof < 0 would flip the sign instead
        warnings.warn(f"var: degrees of freedom <= 0 ({count} elements, ddof={ddof}): the "
                      "variance is inf", RuntimeWarning, stacklevel=2)
    centered = x - mean(x, axes, keepdims=True)
    with numpy.errstate(divide="ignore", invalid="ignore"):  # warned once above
        return sum(centered * centered, axes, keepdims) / builtins.max(count - ddof, 0)


class _Extreme(Function):
    """max/min. NOTE: tied extremes share the gradient equally (as ``torch.amax`` and JAX)."""

    saves = (0,)
    saves_output = True
    pick = None

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x):
        if x.size == 0:
            raise ValueError(f"{self.pick}: zero-size tensor of shape {x.shape} has no {self.pick}imum")
        self.x_shape = x.shape
        return getattr(x, self.pick)(axis=self.axes, keepdims=self.keepdims)

    def _share(self, x, y):
        """Where x attains the extreme, 1/(number of ties); else 0 (an array, a constant)."""
        hit = (x == y.reshape(_keepdims_shape(x.shape, self.axes))).astype(x.dtype)
        return hit / hit.sum(axis=self.axes, keepdims=True)

    def backward(self, gy):
        x, = self.saved_tensors()
        share = self._share(x.array, self.saved_output().array)
        return expand_reduced(gy, self.x_shape, self.axes) * share

    def jvp(self, xs, y, txs):
        return (txs[0] * self._share(xs[0], y)).sum(axis=self.axes, keepdims=self.keepdims)


class Max(_Extreme):
    pick = "max"


class Min(_Extreme):
    pick = "min"


def max(x, axis=None, keepdims=False):  # noqa: A001 (NumPy's name)
    """Maximum over ``axis``, like ``numpy.max``; ties share the gradient equally.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> gc.max(x).backward(); x.grad.tolist()
    [0.0, 0.5, 0.5]
    """
    return Max(normalize_axis(axis, x.ndim, "max"), keepdims)(x)


def min(x, axis=None, keepdims=False):  # noqa: A001 (NumPy's name)
    """Minimum over ``axis``, like ``numpy.min``; ties share the gradient equally.

    >>> import gradcore as gc
    >>> gc.min(gc.tensor([[1.0, 2.0], [3.0, 0.0]]), axis=1).tolist()
    [1.0, 0.0]
    """
    return Min(normalize_axis(axis, x.ndim, "min"), keepdims)(x)
