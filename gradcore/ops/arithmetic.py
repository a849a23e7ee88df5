"""Arithmetic: add, sub, mul, div, neg, pow. Broadcasting follows NumPy; gradients are summed
back to each input's shape by :func:`gradcore.ops.shape.sum_to`."""
from __future__ import annotations

import math

from gradcore.autograd.function import Function, tsum
from gradcore.backend import array_module
from gradcore.ops.math import log, where
from gradcore.ops.shape import sum_to

__all__ = ["add", "sub", "mul", "div", "neg", "pow"]


def _shape(x):
    return getattr(x, "shape", ())


def _broadcast_error(op, x0, x1, err):
    raise ValueError(f"{op}: operands with shapes {_shape(x0)} and {_shape(x1)} cannot be "
                     f"broadcast together") from err


class Add(Function):
    def forward(self, x0, x1):
        self.shapes = (_shape(x0), _shape(x1))
        try:
            return x0 + x1
        except ValueError as e:
            _broadcast_error("add", x0, x1, e)

    def backward(self, gy):
        e0, e1 = self.edges
        return (sum_to(gy, self.shapes[0]) if e0 is not None else None,
                sum_to(gy, self.shapes[1]) if e1 is not None else None)

    def jvp(self, xs, y, txs):
        return tsum(*txs)


def add(x0, x1):
    """Elementwise ``x0 + x1`` with broadcasting.

    >>> import gradcore as gc
    >>> gc.add(gc.tensor([1.0, 2.0]), 1.0).tolist()
    [2.0, 3.0]
    """
    return Add()(x0, x1)


class Sub(Function):
    def forward(self, x0, x1):
        self.shapes = (_shape(x0), _shape(x1))
        try:
            return x0 - x1
        except ValueError as e:
            _broadcast_error("sub", x0, x1, e)

    def backward(self, gy):
        e0, e1 = self.edges
        return (sum_to(gy, self.shapes[0]) if e0 is not None else None,
                sum_to(-gy, self.shapes[1]) if e1 is not None else None)

    def jvp(self, xs, y, txs):
        t0, t1 = txs
        return tsum(t0, None if t1 is None else -t1)


def sub(x0, x1):
    """Elementwise ``x0 - x1`` with broadcasting.

    >>> import gradcore as gc
    >>> gc.sub(gc.tensor([3.0, 4.0]), 1.0).tolist()
    [2.0, 3.0]
    """
    return Sub()(x0, x1)


class Mul(Function):
    saves = (0, 1)

    def forward(self, x0, x1):
        self.shapes = (_shape(x0), _shape(x1))
        try:
            return x0 * x1
        except ValueError as e:
            _broadcast_error("mul", x0, x1, e)

    def backward(self, gy):
        x0, x1 = self.saved_tensors()
        g0 = sum_to(gy * x1, self.shapes[0]) if self.edges[0] is not None else None
        g1 = sum_to(gy * x0, self.shapes[1]) if self.edges[1] is not None else None
        return g0, g1

    def jvp(self, xs, y, txs):
        (x0, x1), (t0, t1) = xs, txs
        return tsum(None if t0 is None else t0 * x1, None if t1 is None else x0 * t1)


def mul(x0, x1):
    """Elementwise ``x0 * x1`` with broadcasting.

    >>> import gradcore as gc
    >>> gc.mul(gc.tensor([1.0, 2.0]), gc.tensor([3.0])).tolist()
    [3.0, 6.0]
    """
    return Mul()(x0, x1)


class Div(Function):
    saves = (0, 1)

    def forward(self, x0, x1):
        self.shapes = (_shape(x0), _shape(x1))
        try:
            return x0 / x1
        except ValueError as e:
            _broadcast_error("div", x0, x1, e)

    def backward(self, gy):
        x0, x1 = self.saved_tensors()
        g0 = sum_to(gy / x1, self.shapes[0]) if self.edges[0] is not None else None
        g1 = sum_to(-gy * x0 / (x1 * x1), self.shapes[1]) if self.edges[1] is not None else None
        return g0, g1

    def jvp(self, xs, y, txs):
        (x0, x1), (t0, t1) = xs, txs
        return tsum(None if t0 is None else t0 / x1, None if t1 is None else -y * t1 / x1)


def div(x0, x1):
    """Elementwise true division ``x0 / x1`` with broadcasting.

    >>> import gradcore as gc
    >>> gc.div(1.0, gc.tensor([2.0, 4.0])).tolist()
    [0.5, 0.25]
    """
    return Div()(x0, x1)


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy

    def jvp(self, xs, y, txs):
        return -txs[0]


def neg(x):
    """Elementwise ``-x``.

    >>> import gradcore as gc
    >>> gc.neg(gc.tensor([1.0, -2.0])).tolist()
    [-1.0, 2.0]
    """
    return Neg()(x)


class PowScalar(Function):
    """``x ** c`` for a constant Python number ``c``."""

    saves = (0,)

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x ** self.c

    def backward(self, gy):
        x, = self.saved_tensors()
        c = self.c
        if c == 0:
            return gy * 0
        return gy * c * (x ** (c - 1) if c != 2 else x)

    def jvp(self, xs, y, txs):
        c = self.c
        return txs[0] * c * xs[0] ** (c - 1)


class Pow(Function):
    """``x0 ** x1`` with tensors on both sides.

    NOTE: at ``x0 == 0`` the exponent's gradient ``x0 ** x1 * log(x0)`` is ``0 * -inf``; its limit
    for ``x1 > 0`` is 0, which is what PyTorch returns, so it is taken as 0 wherever ``x0 == 0``
    and ``x1 >= 0``. Likewise the base's gradient ``x1 * x0 ** (x1 - 1)`` is 0 where ``x1 == 0``.
    """

    saves = (0, 1)
    saves_output = True

    def forward(self, x0, x1):
        self.shapes = (_shape(x0), _shape(x1))
        try:
            return x0 ** x1
        except ValueError as e:
            _broadcast_error("pow", x0, x1, e)

    def backward(self, gy):
        x0, x1 = self.saved_tensors()
        g0 = g1 = None
        if self.edges[0] is not None:  # a safe base where x1 == 0: no 0 * 0 ** -1
            base = x0 if isinstance(x1, (int, float)) and x1 != 0 else where(x1 == 0, 1.0, x0)
            g0 = sum_to(gy * x1 * base ** (x1 - 1), self.shapes[0])
        if self.edges[1] is not None:
            if isinstance(x0, (int, float)):  # a constant base: log is a constant
                log_x0 = math.log(x0) if x0 > 0 else (0.0 if x0 == 0 else math.nan)
            else:  # log(1) = 0 where x0 == 0: the 0 * log(0) limit, with no inf anywhere
                log_x0 = log(where(x0 == 0, 1.0, x0))
            g1 = sum_to(gy * self.saved_output() * log_x0, self.shapes[1])
        return g0, g1

    def jvp(self, xs, y, txs):
        (x0, x1), (t0, t1) = xs, txs
        xp = array_module(y)
        d0 = d1 = None
        if t0 is not None:
            d0 = t0 * x1 * xp.where(xp.asarray(x1) == 0, 1, x0) ** (x1 - 1)
        if t1 is not None:
            log_x0 = xp.log(xp.where(xp.asarray(x0) == 0, 1, x0))  # the 0 * log(0) limit: 0
            d1 = t1 * y * log_x0
        return tsum(d0, d1)


def pow(x0, x1):  # noqa: A001 (NumPy's name)
    """Elementwise ``x0 ** x1``; a constant Python exponent takes the cheaper ``x ** c`` rule.

    >>> import gradcore as gc
    >>> gc.pow(gc.tensor([2.0, 3.0]), 2).tolist(), gc.pow(2.0, gc.tensor([3.0])).tolist()
    ([4.0, 9.0], [8.0])
    """
    if isinstance(x1, (int, float)) and not isinstance(x1, bool):
        return PowScalar(x1)(x0)
    return Pow()(x0, x1)
