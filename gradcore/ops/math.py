"""Elementwise math: exp, log, log1p, sqrt, abs, sin, cos, erf, maximum, minimum, where, clip."""
from __future__ import annotations

import numpy

from gradcore.autograd.function import Function, tsum
from gradcore.backend import array_module, to_device
from gradcore.kernels import activation as _kernels
from gradcore.ops.indexing import nonzero
from gradcore.ops.promotion import Promoting
from gradcore.ops.shape import sum_to

__all__ = ["exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "erf", "maximum", "minimum", "where",
           "clip"]


def _mask(x, like):
    """A boolean array as a 0/1 array of ``like``'s dtype (a constant of the graph)."""
    return x.astype(like.dtype)


class Exp(Function):
    saves_output = True

    def forward(self, x):
        return array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.saved_output()

    def jvp(self, xs, y, txs):
        return txs[0] * y


def exp(x):
    """Elementwise e**x.

    >>> import gradcore as gc
    >>> round(gc.exp(gc.tensor(0.0)).item(), 6)
    1.0
    """
    return Exp()(x)


class Log(Function):
    saves = (0,)

    def forward(self, x):
        return array_module(x).log(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy / x

    def jvp(self, xs, y, txs):
        return txs[0] / xs[0]


def log(x):
    """Elementwise natural logarithm.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> gc.log(x).sum().backward(); x.grad.tolist()  # d(log x)/dx = 1/x
    [1.0, 0.5]
    """
    return Log()(x)


class Log1p(Function):
    saves = (0,)

    def forward(self, x):
        return array_module(x).log1p(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy / (x + 1)

    def jvp(self, xs, y, txs):
        return txs[0] / (xs[0] + 1)


def log1p(x):
    """Elementwise log(1 + x), accurate for small x.

    >>> import gradcore as gc
    >>> x = gc.tensor([1e-10])
    >>> gc.log1p(x).item() > 0, gc.log(1 + x).item()  # in float32 1 + x rounds to 1
    (True, 0.0)
    """
    return Log1p()(x)


class Sqrt(Function):
    saves_output = True

    def forward(self, x):
        return array_module(x).sqrt(x)

    def backward(self, gy):
        return gy / (self.saved_output() * 2)

    def jvp(self, xs, y, txs):
        return txs[0] / (2 * y)


def sqrt(x):
    """Elementwise square root.

    >>> import gradcore as gc
    >>> gc.sqrt(gc.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]
    """
    return Sqrt()(x)


class Abs(Function):
    saves = (0,)

    def forward(self, x):
        return array_module(x).abs(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * _mask(array_module(x.array).sign(x.array), gy.array)  # NOTE: 0 at x == 0

    def jvp(self, xs, y, txs):
        return txs[0] * array_module(y).sign(xs[0])


def abs(x):  # noqa: A001 (NumPy's name)
    """Elementwise absolute value; its gradient at 0 is 0.

    >>> import gradcore as gc
    >>> x = gc.tensor([-1.5, 0.0, 2.0], requires_grad=True)
    >>> gc.abs(x).sum().backward(); x.grad.tolist()
    [-1.0, 0.0, 1.0]
    """
    return Abs()(x)


class Sin(Function):
    saves = (0,)

    def forward(self, x):
        return array_module(x).sin(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * cos(x)

    def jvp(self, xs, y, txs):
        return txs[0] * array_module(y).cos(xs[0])


def sin(x):
    """Elementwise sine.

    >>> import gradcore as gc
    >>> x = gc.tensor(0.0, requires_grad=True)
    >>> gc.sin(x).backward(); x.grad.item()  # cos(0)
    1.0
    """
    return Sin()(x)


class Cos(Function):
    saves = (0,)

    def forward(self, x):
        return array_module(x).cos(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return -gy * sin(x)

    def jvp(self, xs, y, txs):
        return -txs[0] * array_module(y).sin(xs[0])


def cos(x):
    """Elementwise cosine.

    >>> import gradcore as gc
    >>> gc.cos(gc.tensor([0.0])).tolist()
    [1.0]
    """
    return Cos()(x)


_TWO_OVER_SQRT_PI = 1.1283791670955126  # erf'(x) = 2 / sqrt(pi) * exp(-x^2)


class Erf(Function):
    """The error function: NumPy has none, so the kernel layer's ``erf`` (its twin evaluates
    Cody's rational approximations on the CPU, the gradcore_erf kernel CUDA's erf)."""

    saves = (0,)

    def forward(self, x):
        return _kernels.erf(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * (_TWO_OVER_SQRT_PI * exp(-(x * x)))

    def jvp(self, xs, y, txs):
        x = xs[0]
        return txs[0] * (_TWO_OVER_SQRT_PI * array_module(x).exp(-(x * x)))


def erf(x):
    """Elementwise error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to x, as
    ``torch.erf`` and ``scipy.special.erf``.

    >>> import gradcore as gc
    >>> [round(v, 6) for v in gc.erf(gc.tensor([-1.0, 0.0, 0.5])).tolist()]
    [-0.842701, 0.0, 0.5205]
    """
    return Erf()(x)


class _Extremum(Promoting):
    """maximum/minimum. NOTE: on ties each input gets half of the gradient (as JAX and PyTorch)."""

    saves = (0, 1)
    pick = None  # "maximum" or "minimum"

    def forward(self, x0, x1):
        self.shapes = (getattr(x0, "shape", ()), getattr(x1, "shape", ()))
        xp = array_module(x0 if hasattr(x0, "dtype") else x1)
        try:
            return getattr(xp, self.pick)(x0, x1)
        except ValueError as e:
            raise ValueError(f"{self.pick}: operands with shapes {self.shapes[0]} and "
                             f"{self.shapes[1]} cannot be broadcast together") from e

    def _weights(self, a0, a1, like):
        xp = array_module(like)
        win = (a0 > a1) if self.pick == "maximum" else (a0 < a1)
        return xp.where(a0 == a1, 0.5, win.astype(like.dtype)).astype(like.dtype, copy=False)

    def backward(self, gy):
        x0, x1 = self.saved_tensors()
        w0 = self._weights(getattr(x0, "array", x0), getattr(x1, "array", x1), gy.array)
        g0 = sum_to(gy * w0, self.shapes[0]) if self.edges[0] is not None else None
        g1 = sum_to(gy * (1 - w0), self.shapes[1]) if self.edges[1] is not None else None
        return g0, g1

    def jvp(self, xs, y, txs):
        w0 = self._weights(xs[0], xs[1], y)
        t0, t1 = txs
        return tsum(None if t0 is None else t0 * w0, None if t1 is None else t1 * (1 - w0))


class Maximum(_Extremum):
    pick = "maximum"


class Minimum(_Extremum):
    pick = "minimum"


def maximum(x0, x1):
    """Elementwise maximum with broadcasting; ties share the gradient equally.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0, 4.0], requires_grad=True)
    >>> gc.maximum(x, 2.0).sum().backward(); x.grad.tolist()
    [0.0, 0.5, 1.0]
    """
    return Maximum()(x0, x1)


def minimum(x0, x1):
    """Elementwise minimum with broadcasting; ties share the gradient equally.

    >>> import gradcore as gc
    >>> gc.minimum(gc.tensor([1.0, 4.0]), 2.0).tolist()
    [1.0, 2.0]
    """
    return Minimum()(x0, x1)


class Where(Promoting):
    def __init__(self, cond):
        self.cond = cond

    def forward(self, x0, x1):
        self.shapes = (getattr(x0, "shape", ()), getattr(x1, "shape", ()))
        xp = array_module(self.cond)
        try:
            return xp.where(self.cond, x0, x1)
        except ValueError as e:
            raise ValueError(f"where: condition of shape {self.cond.shape} and operands of "
                             f"shapes {self.shapes[0]}, {self.shapes[1]} cannot be broadcast "
                             "together") from e

    def backward(self, gy):
        zero = gy.array.dtype.type(0)
        g0 = sum_to(where(self.cond, gy, zero), self.shapes[0]) if self.edges[0] is not None else None
        g1 = sum_to(where(self.cond, zero, gy), self.shapes[1]) if self.edges[1] is not None else None
        return g0, g1

    def jvp(self, xs, y, txs):
        xp = array_module(y)
        t0, t1 = (xp.zeros_like(y) if t is None else t for t in txs)
        return xp.where(self.cond, t0, t1)


def where(cond, x0=None, x1=None):
    """``x0`` where ``cond`` is true, else ``x1`` (broadcast), like ``numpy.where``. With
    ``cond`` alone: the indices where it is true, as :func:`gradcore.nonzero`.

    >>> import gradcore as gc
    >>> x = gc.tensor([-1.0, 2.0])
    >>> gc.where(x > 0, x, 0.0).tolist(), gc.where(x > 0)[0].tolist()
    ([0.0, 2.0], [1])
    """
    if x0 is None and x1 is None:
        return nonzero(cond)
    if x0 is None or x1 is None:
        raise TypeError("where: give both x0 and x1, or neither (then it returns the indices "
                        "where cond is true)")
    cond = getattr(cond, "array", cond)
    like = next((t for t in (x0, x1) if hasattr(t, "device") and hasattr(t, "array")), None)
    if like is not None:  # a NumPy array or a list as the condition of device tensors
        cond = to_device(numpy.asarray(cond) if not hasattr(cond, "dtype") else cond, like.device)
    elif not hasattr(cond, "dtype"):
        cond = numpy.asarray(cond)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    return Where(cond)(x0, x1)


class Clip(Function):
    """NOTE: the gradient passes where ``lo <= x <= hi`` (boundaries included, as PyTorch)."""

    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return array_module(x).clip(x, self.lo, self.hi)

    def _inside(self, x):
        keep = True
        if self.lo is not None:
            keep = x >= self.lo
        if self.hi is not None:
            keep = keep & (x <= self.hi)
        return keep

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * _mask(self._inside(x.array), gy.array)

    def jvp(self, xs, y, txs):
        return txs[0] * self._inside(xs[0])


def clip(x, min=None, max=None):  # noqa: A002 (NumPy's names)
    """Limits values to ``[min, max]`` (either may be None), like ``numpy.clip``.

    >>> import gradcore as gc
    >>> gc.clip(gc.tensor([-2.0, 0.5, 3.0]), 0.0, 1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip(min, max)(x)
