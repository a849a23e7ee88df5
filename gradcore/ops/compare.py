"""Comparisons: boolean results, never differentiable."""
from __future__ import annotations

from gradcore.ops.promotion import Promoting

__all__ = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


class Compare(Promoting):
    differentiable = False
    python_scalars = False  # NumPy compares a Python number exactly (no cast of an int tensor)

    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def forward(self, x0, x1):
        try:
            return self.fn(x0, x1)
        except ValueError as e:
            raise ValueError(f"{self.name}: operands with shapes {getattr(x0, 'shape', ())} and "
                             f"{getattr(x1, 'shape', ())} cannot be broadcast together") from e


def _eq(a, b): return a == b
def _ne(a, b): return a != b
def _lt(a, b): return a < b
def _le(a, b): return a <= b
def _gt(a, b): return a > b
def _ge(a, b): return a >= b


def equal(x0, x1):
    """Elementwise ``x0 == x1`` (a bool tensor).

    >>> import gradcore as gc
    >>> gc.equal(gc.tensor([1.0, 2.0]), 2.0).tolist()
    [False, True]
    """
    return Compare("equal", _eq)(x0, x1)


def not_equal(x0, x1):
    """Elementwise ``x0 != x1``.

    >>> import gradcore as gc
    >>> gc.not_equal(gc.tensor([1.0, 2.0]), 2.0).tolist()
    [True, False]
    """
    return Compare("not_equal", _ne)(x0, x1)


def less(x0, x1):
    """Elementwise ``x0 < x1``.

    >>> import gradcore as gc
    >>> gc.less(gc.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [True, False, False]
    """
    return Compare("less", _lt)(x0, x1)


def less_equal(x0, x1):
    """Elementwise ``x0 <= x1``.

    >>> import gradcore as gc
    >>> gc.less_equal(gc.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [True, True, False]
    """
    return Compare("less_equal", _le)(x0, x1)


def greater(x0, x1):
    """Elementwise ``x0 > x1``.

    >>> import gradcore as gc
    >>> gc.greater(gc.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [False, False, True]
    """
    return Compare("greater", _gt)(x0, x1)


def greater_equal(x0, x1):
    """Elementwise ``x0 >= x1``.

    >>> import gradcore as gc
    >>> gc.greater_equal(gc.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [False, True, True]
    """
    return Compare("greater_equal", _ge)(x0, x1)
