"""The plain unary ops as one table: trig and hyperbolic, exp and log variants, square and
reciprocal, and the rounding family (sign, floor, ceil, round, trunc: zero gradient).

Each row names NumPy's (and CuPy's) function and gives the derivative written with Tensor ops,
in the style of HIPS autograd's ``numpy_vjps.py``. One op class, :class:`Elementwise`, turns a
row into backward (``gy * d``, itself differentiable, so second order comes free) and jvp (the
same ``d`` evaluated on the arrays), so each rule is written once.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

from gradcore.autograd.function import Function
from gradcore.autograd.mode import no_grad
from gradcore.backend import array_module, device_of
from gradcore.creation import zeros_like
from gradcore.ops.math import sqrt
from gradcore.tensor import Tensor

__all__ = ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
           "log2", "log10", "exp2", "expm1", "square", "reciprocal",
           "sign", "floor", "ceil", "round", "trunc"]

_LN2, _LN10 = math.log(2.0), math.log(10.0)


class Rule(NamedTuple):
    """One unary op: NumPy's name, its derivative ``d(x, y)`` (Tensor ops; None: zero) and
    which of input ``x`` and output ``y`` the derivative reads ("x", "y" or "xy")."""
    name: str
    d: Optional[Callable]
    uses: str = "x"


class Elementwise(Function):
    """A unary op from its class's :class:`Rule`: ``y = xp.<name>(x)``, ``gx = gy * d(x, y)``.
    Each op is a two-line subclass (one table row), so its name shows in ``grad_fn`` and errors."""

    rule: Rule

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        d, uses = cls.rule.d, cls.rule.uses  # a zero-gradient op keeps nothing for backward
        cls.saves = (0,) if d is not None and "x" in uses else ()
        cls.saves_output = d is not None and "y" in uses

    def __init__(self, **kwargs):
        self.kwargs = kwargs  # NumPy's keyword arguments (round's decimals)

    def forward(self, x):
        return getattr(array_module(x), self.rule.name)(x, **self.kwargs)

    def backward(self, gy):
        if self.rule.d is None:
            return zeros_like(gy)
        x = self.saved_tensors()[0] if self.saves else None
        y = self.saved_output() if self.saves_output else None
        return gy * self.rule.d(x, y)

    def jvp(self, xs, y, txs):
        if self.rule.d is None:
            return array_module(y).zeros_like(y)
        dev = device_of(y)
        with no_grad():  # the same rule on constant Tensors wrapping the arrays
            d = self.rule.d(Tensor._make(xs[0], dev, False, None, 0),
                            Tensor._make(y, dev, False, None, 0))
        return txs[0] * d.array


# ---- the table ------------------------------------------------------------------------------
# NOTE: where a derivative is infinite (arcsin at +-1, arctanh at +-1, arccosh at 1, log2 at 0)
# it comes out as inf or nan, as in PyTorch and NumPy; no clamping hides the singularity.
class Tan(Elementwise):
    rule = Rule("tan", lambda x, y: y * y + 1, "y")


class Arcsin(Elementwise):
    rule = Rule("arcsin", lambda x, y: 1 / sqrt(1 - x * x))


class Arccos(Elementwise):
    rule = Rule("arccos", lambda x, y: -1 / sqrt(1 - x * x))


class Arctan(Elementwise):
    rule = Rule("arctan", lambda x, y: 1 / (x * x + 1))


class Sinh(Elementwise):
    rule = Rule("sinh", lambda x, y: cosh(x))


class Cosh(Elementwise):
    rule = Rule("cosh", lambda x, y: sinh(x))


class Arcsinh(Elementwise):
    rule = Rule("arcsinh", lambda x, y: 1 / sqrt(x * x + 1))


class Arccosh(Elementwise):  # sqrt(x - 1) * sqrt(x + 1): no cancellation in x * x - 1 near 1
    rule = Rule("arccosh", lambda x, y: 1 / (sqrt(x - 1) * sqrt(x + 1)))


class Arctanh(Elementwise):
    rule = Rule("arctanh", lambda x, y: 1 / (1 - x * x))


class Log2(Elementwise):
    rule = Rule("log2", lambda x, y: 1 / (x * _LN2))


class Log10(Elementwise):
    rule = Rule("log10", lambda x, y: 1 / (x * _LN10))


class Exp2(Elementwise):
    rule = Rule("exp2", lambda x, y: y * _LN2, "y")


class Expm1(Elementwise):  # e**x = expm1(x) + 1
    rule = Rule("expm1", lambda x, y: y + 1, "y")


class Square(Elementwise):
    rule = Rule("square", lambda x, y: 2 * x)


class Reciprocal(Elementwise):
    rule = Rule("reciprocal", lambda x, y: -(y * y), "y")


# piecewise constant: a zero gradient everywhere, also at the jumps (as PyTorch)
class Sign(Elementwise):
    rule = Rule("sign", None)


class Floor(Elementwise):
    rule = Rule("floor", None)


class Ceil(Elementwise):
    rule = Rule("ceil", None)


class Round(Elementwise):
    rule = Rule("round", None)


class Trunc(Elementwise):
    rule = Rule("trunc", None)


# ---- the functions users call -----------------------------------------------------------------
def tan(x):
    """Elementwise tangent; d/dx = 1 + tan(x)**2.

    >>> import gradcore as gc
    >>> x = gc.tensor(0.0, requires_grad=True)
    >>> gc.tan(x).backward(); x.grad.item()
    1.0
    """
    return Tan()(x)


def arcsin(x):
    """Elementwise inverse sine on [-1, 1]; d/dx = 1 / sqrt(1 - x**2) (inf at +-1).

    >>> import gradcore as gc
    >>> x = gc.tensor(0.0, requires_grad=True)
    >>> gc.arcsin(x).backward(); x.grad.item()
    1.0
    """
    return Arcsin()(x)


def arccos(x):
    """Elementwise inverse cosine on [-1, 1]; d/dx = -1 / sqrt(1 - x**2) (-inf at +-1).

    >>> import gradcore as gc
    >>> gc.arccos(gc.tensor(1.0)).item()
    0.0
    """
    return Arccos()(x)


def arctan(x):
    """Elementwise inverse tangent; d/dx = 1 / (1 + x**2).

    >>> import gradcore as gc
    >>> x = gc.tensor(1.0, requires_grad=True)
    >>> gc.arctan(x).backward(); x.grad.item()
    0.5
    """
    return Arctan()(x)


def sinh(x):
    """Elementwise hyperbolic sine; d/dx = cosh(x).

    >>> import gradcore as gc
    >>> gc.sinh(gc.tensor([0.0])).tolist()
    [0.0]
    """
    return Sinh()(x)


def cosh(x):
    """Elementwise hyperbolic cosine; d/dx = sinh(x).

    >>> import gradcore as gc
    >>> gc.cosh(gc.tensor([0.0])).tolist()
    [1.0]
    """
    return Cosh()(x)


def arcsinh(x):
    """Elementwise inverse hyperbolic sine; d/dx = 1 / sqrt(x**2 + 1).

    >>> import gradcore as gc
    >>> gc.arcsinh(gc.tensor([0.0])).tolist()
    [0.0]
    """
    return Arcsinh()(x)


def arccosh(x):
    """Elementwise inverse hyperbolic cosine for x >= 1; d/dx = 1 / sqrt(x**2 - 1) (inf at 1).

    >>> import gradcore as gc
    >>> gc.arccosh(gc.tensor([1.0])).tolist()
    [0.0]
    """
    return Arccosh()(x)


def arctanh(x):
    """Elementwise inverse hyperbolic tangent on (-1, 1); d/dx = 1 / (1 - x**2).

    >>> import gradcore as gc
    >>> x = gc.tensor(0.0, requires_grad=True)
    >>> gc.arctanh(x).backward(); x.grad.item()
    1.0
    """
    return Arctanh()(x)


def log2(x):
    """Elementwise base-2 logarithm; d/dx = 1 / (x ln 2).

    >>> import gradcore as gc
    >>> gc.log2(gc.tensor([1.0, 8.0])).tolist()
    [0.0, 3.0]
    """
    return Log2()(x)


def log10(x):
    """Elementwise base-10 logarithm; d/dx = 1 / (x ln 10).

    >>> import gradcore as gc
    >>> gc.log10(gc.tensor([1.0, 100.0], dtype="float64")).tolist()
    [0.0, 2.0]
    """
    return Log10()(x)


def exp2(x):
    """Elementwise 2**x; d/dx = 2**x ln 2.

    >>> import gradcore as gc
    >>> gc.exp2(gc.tensor([0.0, 3.0])).tolist()
    [1.0, 8.0]
    """
    return Exp2()(x)


def expm1(x):
    """Elementwise e**x - 1, accurate for small x; d/dx = e**x.

    >>> import gradcore as gc
    >>> x = gc.tensor([1e-10])
    >>> gc.expm1(x).item() > 0, (gc.exp(x) - 1).item()  # in float32 e**x rounds to 1
    (True, 0.0)
    """
    return Expm1()(x)


def square(x):
    """Elementwise x**2; d/dx = 2x.

    >>> import gradcore as gc
    >>> x = gc.tensor([3.0], requires_grad=True)
    >>> gc.square(x).sum().backward(); x.grad.tolist()
    [6.0]
    """
    return Square()(x)


def reciprocal(x):
    """Elementwise 1 / x; d/dx = -1 / x**2.

    >>> import gradcore as gc
    >>> gc.reciprocal(gc.tensor([2.0, 4.0])).tolist()
    [0.5, 0.25]
    """
    return Reciprocal()(x)


def sign(x):
    """Elementwise sign (-1, 0 or 1; nan stays nan), with a zero gradient everywhere (as
    PyTorch: no spike at 0).

    >>> import gradcore as gc
    >>> x = gc.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    >>> y = gc.sign(x); y.sum().backward(); y.tolist(), x.grad.tolist()
    ([-1.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    """
    return Sign()(x)


def floor(x):
    """Elementwise floor, with a zero gradient (also at the integers, as PyTorch).

    >>> import gradcore as gc
    >>> gc.floor(gc.tensor([-1.5, 1.5])).tolist()
    [-2.0, 1.0]
    """
    return Floor()(x)


def ceil(x):
    """Elementwise ceiling, with a zero gradient.

    >>> import gradcore as gc
    >>> gc.ceil(gc.tensor([-1.5, 1.5])).tolist()
    [-1.0, 2.0]
    """
    return Ceil()(x)


def round(x, decimals=0):  # noqa: A001 (NumPy's name)
    """Elementwise rounding to ``decimals`` places, halves to even (as NumPy), with a zero
    gradient.

    >>> import gradcore as gc
    >>> gc.round(gc.tensor([0.5, 1.5, 2.675]), decimals=0).tolist()
    [0.0, 2.0, 3.0]
    """
    return Round(decimals=decimals)(x)


def trunc(x):
    """Elementwise truncation towards zero, with a zero gradient.

    >>> import gradcore as gc
    >>> gc.trunc(gc.tensor([-1.7, 1.7])).tolist()
    [-1.0, 1.0]
    """
    return Trunc()(x)
