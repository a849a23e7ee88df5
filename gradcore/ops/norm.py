"""``linalg.norm``: vector norms (2, 1, inf, -inf, 0, any p > 0) and matrix norms ('fro', 1,
-1, inf, -inf), with NumPy's signature. Users call it as ``gc.linalg.norm``.

Only the 2-norm is an op of its own, for its value at the zero vector; the others are
composed from differentiable ops (abs, sum, max, min, pow), so every derivative order follows.
"""
from __future__ import annotations

import math

from gradcore import checks
from gradcore.backend import array_module
from gradcore.ops.math import abs, where
from gradcore.ops.reduction import Reduction, expand_reduced, max, min, normalize_axis, sum
from gradcore.ops.shape import squeeze

__all__ = ["norm"]


class Norm2(Reduction):
    """sqrt(sum(x**2)) over ``axes``. NOTE: at the zero vector the gradient x / ||x|| is 0/0;
    it is taken as 0 (the minimum-norm subgradient, as PyTorch's ``linalg.vector_norm``)."""

    saves = (0,)
    saves_output = True

    def forward(self, x):
        self.x_shape = x.shape
        # NOTE: no rescaling by max|x| (as NumPy): squares of |x| > 1e154 overflow to inf
        return array_module(x).sqrt((x * x).sum(axis=self.axes, keepdims=self.keepdims))

    def backward(self, gy):
        x, = self.saved_tensors()
        y = self.saved_output()
        safe = where(y == 0, 1.0, y)  # 0 / 1 = 0 at the zero vector, and no inf anywhere
        return x * expand_reduced(gy / safe, self.x_shape, self.axes)

    def jvp(self, xs, y, txs):
        x, t = xs[0], txs[0]
        xp = array_module(y)
        dot = (x * t).sum(axis=self.axes, keepdims=self.keepdims)
        return dot / xp.where(y == 0, 1, y)


def _vector(x, ord, axes, keepdims):  # noqa: A002 (NumPy's name)
    if ord is None or ord == 2:
        return Norm2(axes, keepdims)(x)
    if ord == math.inf:
        return max(abs(x), axes, keepdims)  # ties share the gradient, as in max
    if ord == -math.inf:
        return min(abs(x), axes, keepdims)
    if ord == 0:  # the number of nonzeros: piecewise constant, a constant of the graph
        return sum((x != 0).astype(x.dtype), axes, keepdims)
    if ord == 1:
        return sum(abs(x), axes, keepdims)
    if isinstance(ord, str) or ord < 0:
        raise ValueError(f"norm: ord={ord!r} is not supported for vectors (use None, 2, 1, inf, "
                         "-inf, 0 or a number > 0)")
    s = sum(abs(x) ** ord, axes, keepdims)
    # NOTE: s ** (1/p) has an infinite slope at s = 0; a safe base gives 0 there instead (the
    # zero-vector subgradient, as the 2-norm)
    return where(s == 0, 0.0, where(s == 0, 1.0, s) ** (1.0 / ord))


def _matrix(x, ord, axes, keepdims):  # noqa: A002 (NumPy's name)
    if ord is None or ord == "fro":
        return Norm2(axes, keepdims)(x)
    row, col = axes
    if ord in (1, -1):  # max (min) over columns of the column sums of |x|
        sums = sum(abs(x), row, keepdims=True)
        pick = max if ord == 1 else min
        out = pick(sums, col, keepdims=True)
    elif ord in (math.inf, -math.inf):  # max (min) over rows of the row sums
        sums = sum(abs(x), col, keepdims=True)
        pick = max if ord == math.inf else min
        out = pick(sums, row, keepdims=True)
    else:
        raise NotImplementedError(f"norm: matrix ord={ord!r} needs singular values (2, -2, "
                                  "'nuc'); supported: None, 'fro', 1, -1, inf, -inf")
    return out if keepdims else squeeze(out, axes)


def norm(x, ord=None, axis=None, keepdims=False, *, dim=None,  # noqa: A002 (NumPy's names)
         keepdim=None):
    """Vector or matrix norm, like ``numpy.linalg.norm``.

    ``axis`` None: the 2-norm of the flattened tensor when ``ord`` is None, else a vector norm
    of a 1-D or a matrix norm of a 2-D tensor; an int: vector norms along it; a pair: matrix
    norms over it. The gradient of the 2-norm (and 'fro') at the zero vector is 0, the
    subgradient PyTorch also returns; inf and -inf norms share the gradient among ties.

    >>> import gradcore as gc
    >>> x = gc.tensor([3.0, -4.0], requires_grad=True)
    >>> gc.linalg.norm(x).backward(); x.grad.tolist()
    [0.6000000238418579, -0.800000011920929]
    >>> gc.linalg.norm(gc.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1).item()  # max column sum
    6.0
    """
    axis = checks.dim_alias("norm", axis, dim)
    keepdims = checks.keepdim_alias("norm", keepdims, keepdim)
    nd = x.ndim
    if axis is None:
        if ord is None:
            return Norm2(tuple(range(nd)), keepdims)(x)
        if nd not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D tensor, got "
                             f"shape {tuple(x.shape)}")
        axis = tuple(range(nd))
    axes = normalize_axis(axis, nd, "norm")
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return _matrix(x, ord, tuple(a % nd for a in axis), keepdims)
    if len(axes) != 1:
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
    return _vector(x, ord, axes, keepdims)
