"""Running sums and products: cumsum, cumprod, and prod (the last running product).

The forward passes are NumPy's (``xp.cumsum``, ``xp.cumprod``, ``xp.prod``). The product rules
never divide by ``x``: ``y / x`` is the textbook gradient of a product but is nan at a zero and
wrong by orders of magnitude near one. Instead they use exclusive products (the product of the
elements before, and after, each one), built from log-depth scans of Tensor ops, so they are
exact with any number of zeros and differentiable again (second order, every device).
"""
from __future__ import annotations

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.autograd.mode import no_grad
from gradcore.backend import array_module, device_of
from gradcore.creation import ones, zeros
from gradcore.ops.join import concatenate
from gradcore.ops.reduction import Reduction, expand_reduced, normalize_axis
from gradcore.ops.reorder import flip
from gradcore.ops.shape import reshape, transpose
from gradcore.tensor import Tensor

__all__ = ["cumsum", "cumprod", "prod"]


def _along(axis, start, stop):
    """An index taking ``start:stop`` along ``axis`` and everything along the axes before."""
    return (slice(None),) * axis + (slice(start, stop),)


def _shift(v, k, axis, fill, from_end):
    """``v`` moved by ``k`` places along ``axis``: towards the end (``v[i - k]`` at i, the first
    k places ``fill``) or, with ``from_end``, towards the start (``v[i + k]``, the last k
    ``fill``)."""
    shape = list(v.shape)
    shape[axis] = k
    pad = (ones if fill == 1 else zeros)(tuple(shape), dtype=v.dtype, device=v.device)
    n = v.shape[axis]
    if from_end:
        return concatenate([v[_along(axis, k, n)], pad], axis)
    return concatenate([pad, v[_along(axis, 0, n - k)]], axis)


def _recurrence(a, b, axis, from_end):
    """r with ``r[i] = b[i] + a[i] * r[i - 1]`` (``r[i + 1]`` with ``from_end``) and r = 0 beyond
    the ends, by a log-depth (Hillis-Steele) scan of Tensor ops: no division, so exact where
    ``a`` has zeros, and differentiable."""
    n, k = a.shape[axis], 1
    while k < n:
        b = b + a * _shift(b, k, axis, 0, from_end)
        a = a * _shift(a, k, axis, 1, from_end)
        k *= 2
    return b


def _before(y, axis):
    """The exclusive running product: ``y[i - 1]`` with 1 first, for ``y = cumprod(x)``."""
    return _shift(y, 1, axis, 1, from_end=False)


def _cumprod_vjp(x, y, gy, axis):
    """gx[k] = sum over i >= k of gy[i] * prod(x[j] for j <= i, j != k) = before[k] * r[k], with
    r[k] = gy[k] + x[k + 1] * r[k + 1]."""
    return _before(y, axis) * _recurrence(_shift(x, 1, axis, 1, True), gy, axis, True)


def _cumprod_jvp(x, y, tx, axis):
    """ty[i] = x[i] * ty[i - 1] + tx[i] * y[i - 1] (the product rule of y[i] = y[i-1] x[i])."""
    return _recurrence(x, tx * _before(y, axis), axis, False)


class Cumsum(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return array_module(x).cumsum(x, axis=self.axis)

    def backward(self, gy):  # gx[k] = sum over i >= k of gy[i]: a reversed running sum
        return flip(cumsum(flip(gy, self.axis), self.axis), self.axis)

    def jvp(self, xs, y, txs):
        return array_module(y).cumsum(txs[0], axis=self.axis)


def _scan_axis(x, axis, op):
    """NumPy's convention: axis None scans the flattened tensor."""
    if axis is None:
        return reshape(x, (-1,)), 0
    return x, normalize_axis(axis, x.ndim, op)[0] if x.ndim else 0


def cumsum(x, axis=None, *, dim=None):
    """Running sum along ``axis`` (None: of the flattened tensor), like ``numpy.cumsum``.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = gc.cumsum(x); y.sum().backward(); y.tolist(), x.grad.tolist()
    ([1.0, 3.0, 6.0], [3.0, 2.0, 1.0])
    """
    axis = checks.dim_alias("cumsum", axis, dim)
    x, axis = _scan_axis(x, axis, "cumsum")
    return Cumsum(axis)(x)


class Cumprod(Function):
    saves = (0,)
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return array_module(x).cumprod(x, axis=self.axis)

    def backward(self, gy):
        x, = self.saved_tensors()
        return _cumprod_vjp(x, self.saved_output(), gy, self.axis)

    def jvp(self, xs, y, txs):
        return _on_constants(_cumprod_jvp, xs[0], y, txs[0], self.axis)


def _on_constants(rule, *arrays_then_axis):
    """A Tensor-op rule evaluated on arrays for a jvp (constant Tensors, nothing recorded)."""
    *arrays, axis = arrays_then_axis
    dev = device_of(arrays[0])
    with no_grad():
        return rule(*(Tensor._make(a, dev, False, None, 0) for a in arrays), axis).array


def cumprod(x, axis=None, *, dim=None):
    """Running product along ``axis`` (None: of the flattened tensor), like ``numpy.cumprod``.

    The gradient is exact where ``x`` has zeros (no division by ``x``; see the module notes).

    >>> import gradcore as gc
    >>> x = gc.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> y = gc.cumprod(x); y.sum().backward(); y.tolist(), x.grad.tolist()
    ([2.0, 0.0, 0.0], [1.0, 8.0, 0.0])
    """
    axis = checks.dim_alias("cumprod", axis, dim)
    x, axis = _scan_axis(x, axis, "cumprod")
    return Cumprod(axis)(x)


class Prod(Reduction):
    saves = (0,)

    def forward(self, x):
        self.x_shape = x.shape
        return array_module(x).prod(x, axis=self.axes, keepdims=self.keepdims)

    def _as_rows(self, x):
        """``x`` with the reduced axes moved last and joined into one: (kept..., n)."""
        kept = [a for a in range(x.ndim) if a not in self.axes]
        order = tuple(kept + list(self.axes))
        rows = reshape(transpose(x, order), tuple(x.shape[a] for a in kept) + (-1,))
        return rows, order

    def backward(self, gy):
        x, = self.saved_tensors()
        gx = expand_reduced(gy, self.x_shape, self.axes)
        if 0 in self.x_shape:
            return gx
        rows, order = self._as_rows(x)
        last = rows.ndim - 1
        before = _before(cumprod(rows, last), last)
        after = _shift(flip(cumprod(flip(rows, last), last), last), 1, last, 1, True)
        inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
        others = transpose(reshape(before * after, tuple(x.shape[a] for a in order)), inverse)
        return gx * others

    def jvp(self, xs, y, txs):
        x, tx = xs[0], txs[0]
        if 0 in x.shape:
            return array_module(y).zeros_like(y)
        dev = device_of(x)
        with no_grad():
            rows, _ = self._as_rows(Tensor._make(x, dev, False, None, 0))
            trows, _ = self._as_rows(Tensor._make(tx, dev, False, None, 0))
            last = rows.ndim - 1
            ty = _cumprod_jvp(rows, cumprod(rows, last), trows, last)[..., -1]
        return ty.array.reshape(y.shape)


def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Product over ``axis`` (all axes by default), like ``numpy.prod``.

    The gradient of each element is the product of the others, computed without dividing by it:
    exact with one zero (the zero gets the product of the rest, the others 0) or several (all 0).

    >>> import gradcore as gc
    >>> x = gc.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> gc.prod(x).backward(); x.grad.tolist()
    [0.0, 6.0, 0.0]
    """
    axis = checks.dim_alias("prod", axis, dim)
    keepdims = checks.keepdim_alias("prod", keepdims, keepdim)
    return Prod(normalize_axis(axis, x.ndim, "prod"), keepdims)(x)
