"""Activation functions PyTorch users reach for beyond the fused family: GELU (exact and tanh
forms), SiLU, Softplus with ``beta``/``threshold``, and Softmax/LogSoftmax as modules.

They are written with existing differentiable ops (and one small ``Erf`` op for the exact GELU),
so first and second derivatives and forward mode come from those ops' rules.
"""
from __future__ import annotations

import math

import numpy

from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.nn.module import Module
from gradcore.ops.activation import sigmoid
from gradcore.ops.activation import softplus as _softplus
from gradcore.ops.math import exp, where
from gradcore.ops.activation import tanh
from gradcore.ops.softmax import log_softmax, softmax

__all__ = ["gelu", "silu", "softplus", "GELU", "SiLU", "Softplus", "Softmax", "LogSoftmax"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_ERF_HOST = numpy.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is exact to 1 ulp


class Erf(Function):
    """The error function. The CPU evaluates C's ``erf`` per element (NumPy has no erf ufunc);
    CuPy's ``cupyx.scipy.special.erf`` is the same function on a GPU."""

    saves = (0,)

    def forward(self, x):
        return _erf_array(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))

    def jvp(self, xs, y, txs):
        x = xs[0]
        return txs[0] * ((2 / math.sqrt(math.pi)) * array_module(x).exp(-(x * x)))


def _erf_array(x):
    if isinstance(x, numpy.ndarray):
        return _ERF_HOST(x).astype(x.dtype)
    import cupyx.scipy.special  # noqa: PLC0415 (only on a GPU)
    return cupyx.scipy.special.erf(x)


def gelu(x, approximate="none"):
    """Gaussian error linear unit ``x * Φ(x)``, as ``torch.nn.functional.gelu``: the exact
    form ``0.5 x (1 + erf(x / √2))``, or with ``approximate='tanh'``
    ``0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))``.

    >>> import gradcore as gc
    >>> [round(v, 4) for v in gc.nn.functional.gelu(gc.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
    >>> round(gc.nn.functional.gelu(gc.tensor(1.0), approximate="tanh").item(), 4)
    0.8412
    """
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    if approximate == "none":
        return 0.5 * x * (1 + Erf()(x * (1 / math.sqrt(2.0))))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x):
    """Sigmoid linear unit (swish) ``x * sigmoid(x)``.

    >>> import gradcore as gc
    >>> round(gc.nn.functional.silu(gc.tensor(1.0)).item(), 4)
    0.7311
    """
    return x * sigmoid(x)


def softplus(x, beta=1.0, threshold=20.0):
    """``log(1 + e**(beta x)) / beta``, and ``x`` itself where ``beta x > threshold`` (PyTorch's
    switch to the linear function, which it equals there to within e**-threshold).

    >>> import gradcore as gc
    >>> [round(v, 4) for v in gc.nn.functional.softplus(gc.tensor([0.0, 30.0]), beta=2).tolist()]
    [0.3466, 30.0]
    """
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    y = _softplus(x) if beta == 1 else _softplus(x * beta) / beta
    return where(x * beta > threshold, x, y)


class GELU(Module):
    """Module form of :func:`gelu` (``approximate='none'`` or ``'tanh'``).

    >>> import gradcore as gc
    >>> round(gc.nn.GELU(approximate="tanh")(gc.tensor(1.0)).item(), 4)
    0.8412
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Module form of :func:`silu`.

    >>> import gradcore as gc
    >>> gc.nn.SiLU()(gc.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x):
        return silu(x)


class Softplus(Module):
    """Module form of :func:`softplus`.

    >>> import gradcore as gc
    >>> round(gc.nn.Softplus()(gc.tensor(0.0)).item(), 4)  # log 2
    0.6931
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        if beta <= 0:
            raise ValueError(f"Softplus: beta must be positive, got {beta}")
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax along ``dim`` (required: PyTorch's implicit choice of dim is deprecated there).

    >>> import gradcore as gc
    >>> gc.nn.Softmax(dim=1)(gc.zeros((1, 4))).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim`` (required, as for :class:`Softmax`).

    >>> import gradcore as gc
    >>> round(gc.nn.LogSoftmax(dim=-1)(gc.zeros(2)).tolist()[0], 4)  # log 1/2
    -0.6931
    """

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
