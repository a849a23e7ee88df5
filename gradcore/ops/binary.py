"""Binary elementwise ops as one table: arctan2, logaddexp, hypot, and mod/remainder/fmod.

Each row names NumPy's function and the two partial derivatives written with Tensor ops; one op
class, :class:`Binary`, turns a row into backward (summed back to each input's shape by
``sum_to``, itself differentiable) and jvp (the same partials on the arrays).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from gradcore.autograd.function import tsum
from gradcore.autograd.mode import no_grad
from gradcore.backend import array_module, device_of
from gradcore.ops.elementwise import round as round_half_even
from gradcore.ops.activation import sigmoid
from gradcore.ops.promotion import Promoting
from gradcore.ops.shape import sum_to
from gradcore.tensor import Tensor

__all__ = ["arctan2", "logaddexp", "hypot", "mod", "remainder", "fmod"]


class Rule(NamedTuple):
    """One binary op: NumPy's name and the partials ``d0(x0, x1, y)``, ``d1(x0, x1, y)``
    (``d0=None``: the partial is 1, the gradient passes through unchanged)."""
    name: str
    d0: Callable
    d1: Callable


class Binary(Promoting):
    """A binary op from its class's :class:`Rule`, with NumPy's broadcasting. Each op is a
    two-line subclass (one table row), so its name shows in ``grad_fn`` and errors."""

    saves = (0, 1)
    saves_output = True
    rule: Rule

    def forward(self, x0, x1):
        self.shapes = (getattr(x0, "shape", ()), getattr(x1, "shape", ()))
        xp = array_module(x0 if hasattr(x0, "dtype") else x1)
        try:
            return getattr(xp, self.rule.name)(x0, x1)
        except ValueError as e:
            raise ValueError(f"{self.rule.name}: operands with shapes {self.shapes[0]} and "
                             f"{self.shapes[1]} cannot be broadcast together") from e

    def backward(self, gy):
        x0, x1 = self.saved_tensors()
        y = self.saved_output()
        g0 = g1 = None
        if self.edges[0] is not None:
            d0 = self.rule.d0
            g0 = sum_to(gy if d0 is None else gy * d0(x0, x1, y), self.shapes[0])
        if self.edges[1] is not None:
            g1 = sum_to(gy * self.rule.d1(x0, x1, y), self.shapes[1])
        return g0, g1

    def jvp(self, xs, y, txs):
        dev = device_of(y)

        def const(a):  # Python scalars stay scalars (weak promotion keeps float32)
            return Tensor._make(a, dev, False, None, 0) if hasattr(a, "dtype") else a

        x0, x1, yt = const(xs[0]), const(xs[1]), const(y)
        t0, t1 = txs
        with no_grad():
            d0 = t0 if t0 is None or self.rule.d0 is None else t0 * self.rule.d0(x0, x1, yt).array
            d1 = None if t1 is None else t1 * self.rule.d1(x0, x1, yt).array
        return tsum(d0, d1)


def _atan2_d0(x0, x1, y):
    return x1 / (x0 * x0 + x1 * x1)


def _atan2_d1(x0, x1, y):
    return -x0 / (x0 * x0 + x1 * x1)


class Arctan2(Binary):
    rule = Rule("arctan2", _atan2_d0, _atan2_d1)


# NOTE: sigmoid(x0 - x1), not exp(x0 - y): y is rounded at the magnitude of the inputs, so in
# float32 exp(1000 - logaddexp(1000, 1000)) is 0.49998, while x0 - x1 is exact (0: 0.5)
class Logaddexp(Binary):
    rule = Rule("logaddexp", lambda x0, x1, y: sigmoid(x0 - x1), lambda x0, x1, y: sigmoid(x1 - x0))


class Hypot(Binary):
    rule = Rule("hypot", lambda x0, x1, y: x0 / y, lambda x0, x1, y: x1 / y)


# y = x0 - q * x1 with an integer quotient q (floor for remainder, trunc for fmod), piecewise
# constant: d/dx0 = 1, d/dx1 = -q. NOTE: q is read back as round((x0 - y) / x1), the quotient
# NumPy actually used; floor(x0 / x1) can be off by one where x0 / x1 rounds up to an integer
# (1 % 0.1 is 0.0999..., quotient 9, but floor(1 / 0.1) is 10)
def _minus_quotient(x0, x1, y):
    return -round_half_even((x0 - y) / x1)


class Remainder(Binary):
    rule = Rule("remainder", None, _minus_quotient)


class Fmod(Binary):
    rule = Rule("fmod", None, _minus_quotient)


def arctan2(x0, x1):
    """Elementwise angle of the point ``(x1, x0)`` (NumPy's ``arctan2(y, x)``), broadcast.

    d/dx0 = x1 / (x0**2 + x1**2), d/dx1 = -x0 / (x0**2 + x1**2); at the origin both are nan
    (0/0), as PyTorch.

    >>> import gradcore as gc
    >>> y = gc.tensor(1.0, requires_grad=True); x = gc.tensor(1.0, requires_grad=True)
    >>> gc.arctan2(y, x).backward(); y.grad.item(), x.grad.item()
    (0.5, -0.5)
    """
    return Arctan2()(x0, x1)


def logaddexp(x0, x1):
    """Elementwise log(exp(x0) + exp(x1)) without overflow, broadcast.

    >>> import gradcore as gc
    >>> x = gc.tensor([1000.0], requires_grad=True)
    >>> gc.logaddexp(x, 1000.0).sum().backward(); x.grad.tolist()
    [0.5]
    """
    return Logaddexp()(x0, x1)


def hypot(x0, x1):
    """Elementwise sqrt(x0**2 + x1**2) without overflow, broadcast.

    d/dx0 = x0 / hypot, d/dx1 = x1 / hypot; at ``(0, 0)`` both are nan (0/0), as PyTorch.

    >>> import gradcore as gc
    >>> gc.hypot(gc.tensor([3.0]), 4.0).tolist()
    [5.0]
    """
    return Hypot()(x0, x1)


def remainder(x0, x1):
    """Elementwise remainder with the sign of the divisor (Python's ``%``, NumPy's ``mod``).

    d/dx0 = 1, d/dx1 = -(the quotient, NumPy's ``floor_divide``); at the jumps (x0 a multiple
    of x1) this is the one-sided value of the branch the result came from.

    >>> import gradcore as gc
    >>> gc.remainder(gc.tensor([-3.0, 5.0]), 2.0).tolist()
    [1.0, 1.0]
    """
    return Remainder()(x0, x1)


def mod(x0, x1):
    """NumPy's other name of :func:`remainder`; ``x0 % x1`` on Tensors calls it too.

    >>> import gradcore as gc
    >>> (gc.tensor([-3.0, 5.0]) % 2).tolist()
    [1.0, 1.0]
    """
    return remainder(x0, x1)


def fmod(x0, x1):
    """Elementwise remainder with the sign of the dividend (C's ``fmod``).

    d/dx0 = 1, d/dx1 = -trunc(x0 / x1) (the integer quotient).

    >>> import gradcore as gc
    >>> gc.fmod(gc.tensor([-3.0, 5.0]), 2.0).tolist()
    [-1.0, 1.0]
    """
    return Fmod()(x0, x1)
