"""Activation functions PyTorch users reach for beyond relu, sigmoid and tanh: GELU (exact and tanh
forms), SiLU, Softplus with ``beta``/``threshold``, and Softmax/LogSoftmax as modules.

GELU and SiLU are rows of the fused activation family (``gradcore.kernels.activation.TABLE``):
one kernel forward and one backward (:class:`gradcore.ops.activation.Activate`), and after a
Linear in a Sequential, or with ``F.linear(..., activation="gelu")``, the bias joins the same
pass. Softplus with ``beta``/``threshold`` is written with existing differentiable ops.
"""
from __future__ import annotations

from gradcore.nn.module import Module
from gradcore.ops.activation import Activate
from gradcore.ops.activation import softplus as _softplus
from gradcore.ops.math import where
from gradcore.ops.softmax import log_softmax, softmax

__all__ = ["gelu", "silu", "softplus", "GELU", "SiLU", "Softplus", "Softmax", "LogSoftmax"]


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
    return Activate(_gelu_name(approximate, "gelu"))(x)


def _gelu_name(approximate, caller="GELU"):
    """The fused family's name of a GELU: "gelu" (exact) or "gelu_tanh"."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{caller}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return "gelu" if approximate == "none" else "gelu_tanh"


def silu(x):
    """Sigmoid linear unit (swish) ``x * sigmoid(x)``.

    >>> import gradcore as gc
    >>> round(gc.nn.functional.silu(gc.tensor(1.0)).item(), 4)
    0.7311
    """
    return Activate("silu")(x)


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
        self.name = _gelu_name(approximate)  # its row in the fused family (Sequential fuses it)
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

    name = "silu"  # its row in the fused family (Sequential fuses it after a Linear)

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
