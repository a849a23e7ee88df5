"""The in-place methods of :class:`gradcore.Tensor`: ``x.add_(y)``, ``x -= y``, ``x.clamp_(0, 1)``,
``x[i] = v``, ``x.normal_()``. Each is one call into :mod:`gradcore.ops.inplace`, which holds
the rules (what records, what raises, the version counter); like
:mod:`gradcore.tensor_methods`, the ops are reached at call time (``ops.inplace.update``)
because they import Tensor, which this mixin must exist before.
"""
from __future__ import annotations

from gradcore import ops

__all__ = ["InplaceMethods"]


class InplaceMethods:
    """In-place methods of :class:`gradcore.Tensor` (see the module docstring)."""

    __slots__ = ()

    def add_(self, other, alpha=1):
        """``self += alpha * other`` in place."""
        if alpha != 1:
            other = other * alpha
        return ops.inplace.update(self, "add_", ops.arithmetic.add, self.device.xp.add, other)

    def sub_(self, other, alpha=1):
        """``self -= alpha * other`` in place."""
        if alpha != 1:
            other = other * alpha
        return ops.inplace.update(self, "sub_", ops.arithmetic.sub, self.device.xp.subtract, other)

    def mul_(self, other):
        """``self *= other`` in place."""
        return ops.inplace.update(self, "mul_", ops.arithmetic.mul, self.device.xp.multiply, other)

    def div_(self, other):
        """``self /= other`` in place."""
        return ops.inplace.update(self, "div_", ops.arithmetic.div, self.device.xp.true_divide,
                                  other)

    def pow_(self, exponent):
        """``self **= exponent`` in place."""
        return ops.inplace.update(self, "pow_", ops.arithmetic.pow, self.device.xp.power, exponent)

    def neg_(self):
        """``self = -self`` in place."""
        return ops.inplace.update(self, "neg_", ops.arithmetic.neg, self.device.xp.negative)

    def abs_(self):
        """``self = |self|`` in place."""
        return ops.inplace.update(self, "abs_", ops.math.abs, self.device.xp.abs)

    def exp_(self):
        """``self = exp(self)`` in place."""
        return ops.inplace.update(self, "exp_", ops.math.exp, self.device.xp.exp)

    def sqrt_(self):
        """``self = sqrt(self)`` in place."""
        return ops.inplace.update(self, "sqrt_", ops.math.sqrt, self.device.xp.sqrt)

    def relu_(self):
        """``self = max(self, 0)`` in place."""
        return ops.inplace.update(self, "relu_", ops.activation.relu, None)

    def clamp_(self, min=None, max=None):  # noqa: A002 (PyTorch's names)
        """Limit the values to ``[min, max]`` in place."""
        return ops.inplace.update(self, "clamp_", lambda x: ops.math.clip(x, min, max), None)

    clip_ = clamp_

    def zero_(self):
        """Fill with zeros in place."""
        return self.fill_(0)

    def fill_(self, value):
        """Fill with ``value`` in place."""
        return ops.inplace.update(self, "fill_", ops.inplace.fill, None, value)

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor in place."""
        return ops.inplace.copy_from(self, src)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill with normal samples from gradcore's seeded generator (or ``generator``)."""
        return ops.inplace.fill_random(self, "normal_", "normal", generator, mean, std)

    def uniform_(self, low=0.0, high=1.0, generator=None):
        """Fill with uniform samples in ``[low, high)`` from gradcore's seeded generator (or
        ``generator``)."""
        return ops.inplace.fill_random(self, "uniform_", "uniform", generator, low, high)

    def __setitem__(self, key, value):
        ops.inplace.setitem(self, key, value)

    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)
    def __ipow__(self, other): return self.pow_(other)
