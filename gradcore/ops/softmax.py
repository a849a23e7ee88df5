"""logsumexp, softmax and log_softmax, all shifted by the maximum so exp never overflows."""
from __future__ import annotations

import numpy

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.ops.math import exp
from gradcore.ops.reduction import Reduction, _keepdims_shape, expand_reduced, normalize_axis
from gradcore.ops.reduction import sum as _sum
from gradcore.ops.shape import reshape

__all__ = ["logsumexp", "softmax", "log_softmax"]


def _lse_parts(x, axes):
    """``(m, x - m, log s)`` over ``axes`` with keepdims, where log(sum(exp(x))) = m + log s and
    m is the max: the shift that keeps exp from overflowing.

    NOTE: an infinite max (all -inf, or a +inf entry) is replaced by 0 as the shift, so the
    result is -inf / +inf instead of nan from inf - inf. So is the max of an empty axis (which
    has none): the sum of no exponentials is 0, and the result -inf, as PyTorch's.
    NOTE: the two parts are kept apart because m + log s is rounded to the precision of |m|:
    for logits near 1e4 that loses 1e-3 of log s in float32 and all of it in float16, so
    log_softmax is computed as (x - m) - log s, which keeps it.
    """
    xp = array_module(x)
    if x.size == 0:
        m = xp.zeros(_keepdims_shape(x.shape, axes if isinstance(axes, tuple) else (axes,)),
                     x.dtype)
    else:
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
    z = x - m
    s = xp.exp(z).sum(axis=axes, keepdims=True)
    with numpy.errstate(divide="ignore"):  # log(0) = -inf is the right answer here
        return m, z, xp.log(s)


class LogSumExp(Reduction):
    saves = (0,)
    saves_output = True

    def forward(self, x):
        self.x_shape = x.shape
        m, _, log_s = _lse_parts(x, self.axes)
        y = m + log_s
        # The part of log s that rounding y to the precision of |m| lost (see _lse_parts): the
        # gradient exp(x - y - lost) gets it back. Zero where y is infinite.
        xp = array_module(x)
        with numpy.errstate(invalid="ignore"):
            lost = log_s - (y - m)
        self.lost = xp.where(xp.isfinite(lost), lost, 0)
        return y if self.keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in self.axes])

    def backward(self, gy):
        x, = self.saved_tensors()
        y = reshape(self.saved_output(), _keepdims_shape(self.x_shape, self.axes))
        return expand_reduced(gy, self.x_shape, self.axes) * exp((x - y) - self.lost)

    def jvp(self, xs, y, txs):
        xp = array_module(y)
        yk = y.reshape(_keepdims_shape(self.x_shape, self.axes))
        return (txs[0] * xp.exp((xs[0] - yk) - self.lost)).sum(axis=self.axes, keepdims=self.keepdims)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis``, stable for any magnitude.

    Over an empty axis the result is ``-inf``, the log of an empty sum, as in PyTorch; the
    gradient is then an empty tensor (no input element feeds the result) and the tangent 0.

    >>> import gradcore as gc
    >>> gc.logsumexp(gc.tensor([1000.0, 1000.0])).item() > 1000
    True
    >>> gc.logsumexp(gc.zeros((2, 0)), axis=1).tolist()
    [-inf, -inf]
    """
    axis = checks.dim_alias("logsumexp", axis, dim)
    keepdims = checks.keepdim_alias("logsumexp", keepdims, keepdim)
    return LogSumExp(normalize_axis(axis, x.ndim, "logsumexp"), keepdims)(x)


class Softmax(Function):
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = array_module(x)
        if x.size == 0:  # nothing to normalize, and max has no identity
            return x.copy()
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, gy):
        y = self.saved_output()
        return y * (gy - _sum(gy * y, self.axis, keepdims=True))

    def jvp(self, xs, y, txs):
        t = txs[0]
        return y * (t - (t * y).sum(axis=self.axis, keepdims=True))


def softmax(x, axis=-1, *, dim=None):
    """exp(x) / sum(exp(x)) along ``axis``.

    >>> import gradcore as gc
    >>> gc.softmax(gc.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    axis = checks.dim_alias("softmax", axis, dim, -1)
    axis = checks.integer(axis, "softmax", "axis")  # one axis: a tuple is not a softmax
    return Softmax(normalize_axis(axis, x.ndim, "softmax")[0])(x)


class LogSoftmax(Function):
    saves_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        _, z, log_s = _lse_parts(x, self.axis)
        z -= log_s  # (x - m) - log s, not x - (m + log s): see _lse_parts
        return z

    def backward(self, gy):
        y = self.saved_output()
        return gy - exp(y) * _sum(gy, self.axis, keepdims=True)

    def jvp(self, xs, y, txs):
        t = txs[0]
        return t - (array_module(y).exp(y) * t).sum(axis=self.axis, keepdims=True)


def log_softmax(x, axis=-1, *, dim=None):
    """x - logsumexp(x) along ``axis``: log-probabilities without overflow or log(0).

    >>> import gradcore as gc
    >>> gc.log_softmax(gc.tensor([0.0, 1000.0])).tolist()
    [-1000.0, 0.0]
    """
    axis = checks.dim_alias("log_softmax", axis, dim, -1)
    axis = checks.integer(axis, "log_softmax", "axis")  # one axis: a tuple is not a softmax
    return LogSoftmax(normalize_axis(axis, x.ndim, "log_softmax")[0])(x)
