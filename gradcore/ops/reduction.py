"""Reductions: sum, mean, var, std, average, max, min over ``axis=None|int|tuple`` with
``keepdims``; and the integer and boolean ones, argmax, argmin, all, any (not differentiated)."""
from __future__ import annotations

import builtins
import warnings

import numpy

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.creation import as_tensor
from gradcore.ops.math import sqrt
from gradcore.ops.shape import broadcast_to, reshape
from gradcore.tensor import Tensor

__all__ = ["sum", "mean", "var", "std", "average", "max", "min", "argmax", "argmin", "all", "any",
           "normalize_axis"]


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


class Reduction(Function):
    """Base of the ops that reduce over ``axes`` (normalized by :func:`normalize_axis`)."""

    def __init__(self, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims


class Sum(Reduction):
    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return expand_reduced(gy, self.x_shape, self.axes)

    def jvp(self, xs, y, txs):
        return txs[0].sum(axis=self.axes, keepdims=self.keepdims)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001 (NumPy's name)
    """Sum over ``axis`` (all axes by default), like ``numpy.sum``.

    >>> import gradcore as gc
    >>> gc.sum(gc.ones((2, 3)), axis=1).tolist()
    [3.0, 3.0]
    """
    axis = checks.dim_alias("sum", axis, dim)
    keepdims = checks.keepdim_alias("sum", keepdims, keepdim)
    return Sum(normalize_axis(axis, x.ndim, "sum"), keepdims)(x)


class Mean(Reduction):
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


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Arithmetic mean over ``axis``, like ``numpy.mean``.

    >>> import gradcore as gc
    >>> gc.mean(gc.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).tolist()
    [2.0, 3.0]
    """
    axis = checks.dim_alias("mean", axis, dim)
    keepdims = checks.keepdim_alias("mean", keepdims, keepdim)
    return Mean(normalize_axis(axis, x.ndim, "mean"), keepdims)(x)


def var(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
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
    axis = checks.dim_alias("var", axis, dim)
    keepdims = checks.keepdim_alias("var", keepdims, keepdim)
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


def std(x, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
    """Standard deviation over ``axis`` with ``ddof``, like ``numpy.std``: ``sqrt(var)``.

    NOTE: where the deviation is 0 (all elements equal) the gradient is nan, as PyTorch's: the
    square root has no derivative at 0 (PyTorch also gives nan there).

    >>> import gradcore as gc
    >>> gc.std(gc.tensor([1.0, 3.0])).item()
    1.0
    """
    axis = checks.dim_alias("std", axis, dim)
    keepdims = checks.keepdim_alias("std", keepdims, keepdim)
    return sqrt(var(x, axis, keepdims, ddof))


def average(x, axis=None, weights=None, returned=False, keepdims=False, *, dim=None,
            keepdim=None):
    """Weighted mean over ``axis``, like ``numpy.average``; differentiable in ``x`` and in
    ``weights`` (a tensor of ``x``'s shape, or 1-D along a single ``axis``). With ``returned``,
    also gives the sum of the weights. Weights summing to zero raise ``ZeroDivisionError``, as in
    NumPy and CuPy (a check that waits for the GPU).

    >>> import gradcore as gc
    >>> gc.average(gc.tensor([1.0, 4.0]), weights=gc.tensor([3.0, 1.0])).item()
    1.75
    """
    axis = checks.dim_alias("average", axis, dim)
    keepdims = checks.keepdim_alias("average", keepdims, keepdim)
    if weights is None:
        avg = mean(x, axis, keepdims)
        if not returned:
            return avg
        count = x.size if axis is None else builtins.int(numpy.prod(
            [x.shape[a] for a in normalize_axis(axis, x.ndim, "average")]))
        return avg, Tensor._make(array_module(avg.array).full(avg.shape, count, avg.dtype),
                                 avg.device, False, None, 0)
    if not isinstance(weights, Tensor):  # a list or NumPy array: a constant on x's device
        weights = as_tensor(weights, dtype=x.dtype if x.dtype.kind == "f" else None,
                            device=x.device)
    w_shape = tuple(weights.shape)
    if w_shape != tuple(x.shape):
        if axis is None or len(w_shape) != 1 or not checks.is_integer(axis):
            raise TypeError(f"average: weights of shape {w_shape} differ from x's shape "
                            f"{tuple(x.shape)}; 1-D weights need a single integer axis")
        ax = normalize_axis(axis, x.ndim, "average")[0]
        if w_shape[0] != x.shape[ax]:
            raise ValueError(f"average: 1-D weights of length {w_shape[0]} do not match axis "
                             f"{axis} of x's shape {tuple(x.shape)}")
        weights = reshape(weights, tuple(-1 if i == ax else 1 for i in range(x.ndim)))
        weights = broadcast_to(weights, x.shape)
    scale = sum(weights, axis, keepdims)
    if bool(array_module(scale.array).any(scale.array == 0)):
        raise ZeroDivisionError("average: weights sum to zero, can't be normalized")
    avg = sum(x * weights, axis, keepdims) / scale
    return (avg, scale) if returned else avg


class _Extreme(Reduction):
    """max/min. NOTE: tied extremes share the gradient equally (as ``torch.amax`` and JAX)."""

    saves = (0,)
    saves_output = True
    pick = None

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


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001 (NumPy's name)
    """Maximum over ``axis``, like ``numpy.max``; ties share the gradient equally.

    NumPy's convention: the values only. PyTorch's ``torch.max(x, dim)`` returns (values,
    indices); here ``gc.max(x, dim=1)`` is its ``.values`` and ``gc.argmax(x, dim=1)`` its
    ``.indices``.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> gc.max(x).backward(); x.grad.tolist()
    [0.0, 0.5, 0.5]
    """
    axis = checks.dim_alias("max", axis, dim)
    keepdims = checks.keepdim_alias("max", keepdims, keepdim)
    return Max(normalize_axis(axis, x.ndim, "max"), keepdims)(x)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001 (NumPy's name)
    """Minimum over ``axis``, like ``numpy.min``; ties share the gradient equally. The values
    only, as NumPy (``gc.argmin`` gives the indices PyTorch's ``torch.min(x, dim)`` also returns).

    >>> import gradcore as gc
    >>> gc.min(gc.tensor([[1.0, 2.0], [3.0, 0.0]]), axis=1).tolist()
    [1.0, 0.0]
    """
    axis = checks.dim_alias("min", axis, dim)
    keepdims = checks.keepdim_alias("min", keepdims, keepdim)
    return Min(normalize_axis(axis, x.ndim, "min"), keepdims)(x)


def _index_or_flag(x, op, axis, keepdims):
    """A reduction that gives integers or booleans (argmax, all...): an untracked Tensor."""
    x = x if isinstance(x, Tensor) else as_tensor(x)
    a = x.array
    if op in ("argmax", "argmin"):
        if axis is not None:
            if not checks.is_integer(axis):  # NumPy takes one axis here, not a tuple
                raise TypeError(f"{op}: axis must be an integer or None, got {axis!r} "
                                f"({type(axis).__name__}), for a tensor of shape {a.shape}")
            axis = normalize_axis(axis, a.ndim, op)[0]
        if a.size == 0:
            raise ValueError(f"{op}: zero-size tensor of shape {a.shape} has no {op[3:]}imum")
    else:
        axis = normalize_axis(axis, a.ndim, op) if axis is not None else None
    out = getattr(array_module(a), op)(a, axis=axis, keepdims=keepdims)
    return Tensor._make(array_module(a).asarray(out), x.device, False, None, 0)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the (first) maximum over ``axis`` (None: of the flattened tensor), like
    ``numpy.argmax``: an int64 tensor, not differentiated.

    >>> import gradcore as gc
    >>> gc.argmax(gc.tensor([[1.0, 5.0], [7.0, 2.0]]), axis=1).tolist()
    [1, 0]
    """
    axis = checks.dim_alias("argmax", axis, dim)
    keepdims = checks.keepdim_alias("argmax", keepdims, keepdim)
    return _index_or_flag(x, "argmax", axis, keepdims)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the (first) minimum over ``axis``, like ``numpy.argmin`` (int64, not
    differentiated).

    >>> import gradcore as gc
    >>> gc.argmin(gc.tensor([3.0, 1.0, 1.0])).item()
    1
    """
    axis = checks.dim_alias("argmin", axis, dim)
    keepdims = checks.keepdim_alias("argmin", keepdims, keepdim)
    return _index_or_flag(x, "argmin", axis, keepdims)


def all(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001 (NumPy's name)
    """Whether every element over ``axis`` is nonzero, like ``numpy.all`` (a bool tensor).

    >>> import gradcore as gc
    >>> gc.all(gc.tensor([[1.0, 0.0], [2.0, 3.0]]), axis=1).tolist()
    [False, True]
    """
    axis = checks.dim_alias("all", axis, dim)
    keepdims = checks.keepdim_alias("all", keepdims, keepdim)
    return _index_or_flag(x, "all", axis, keepdims)


def any(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001 (NumPy's name)
    """Whether some element over ``axis`` is nonzero, like ``numpy.any`` (a bool tensor).

    >>> import gradcore as gc
    >>> gc.any(gc.tensor([0.0, 0.0, 2.0])).item()
    True
    """
    axis = checks.dim_alias("any", axis, dim)
    keepdims = checks.keepdim_alias("any", keepdims, keepdim)
    return _index_or_flag(x, "any", axis, keepdims)
