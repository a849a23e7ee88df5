"""Activations: sigmoid, tanh, relu, leaky_relu, softplus, and the op behind GELU and SiLU.

Their backward passes run as one fused kernel each (``gradcore/kernels/activation.py``: a CUDA
kernel on a GPU, its NumPy twin on the CPU). The fused backward is itself an op,
:class:`ActivationBackward`, with its own analytic backward, so gradients of gradients work.
"""
from __future__ import annotations

from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.kernels import activation as K
from gradcore.ops.math import exp
from gradcore.tensor import Tensor

__all__ = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "activation_backward", "act_grad",
           "curvature", "Activate"]


class ActivationBackward(Function):
    """``gx = gy * act'(...)`` for any activation of the kernel layer's TABLE, in one kernel.

    ``s`` is what the activation saved (``TABLE[act].saves``): its output for relu/sigmoid/tanh,
    its input for leaky_relu, gelu, gelu_tanh and silu. As a function of (s, gy) this is linear
    in gy, so d/dgy is the same kernel, and d/ds is ``gy * act''`` written through ``s``
    (the table's ``curvature``: sigmoid ``1 - 2s``, tanh ``-2s``, gelu ``phi(s) (2 - s^2)``...;
    none for the piecewise linear ones).
    """

    saves = (0, 1)

    def __init__(self, act, slope=0.01):
        self.act, self.slope = act, slope

    def forward(self, s, gy):
        return act_grad(self.act, s, gy, self.slope)

    def backward(self, ggx):
        s, gy = self.saved_tensors()
        return activation_backward_vjp(self, s, gy, ggx)

    def jvp(self, xs, y, txs):
        out = activation_backward_jvp(self.act, self.slope, *xs, *txs)
        return out if out is not None else array_module(y).zeros_like(y)


def act_grad(act, s, gy, slope=0.01):
    """``gy * act'`` from the saved ``s`` on arrays: the fused kernel (``identity``: gy itself)."""
    return K.act_grad(act, s, gy, slope)


def curvature(act, s):
    """d act'/d s written through the saved s (``TABLE[act].curvature``), or None for relu,
    leaky_relu and identity (piecewise linear). On Tensors it is built from differentiable ops
    (so third derivatives work), on arrays from the array module and the kernel layer."""
    c = K.activation(act).curvature
    if c is None:
        return None
    return c(s, _TensorMath if isinstance(s, Tensor) else _ArrayMath(array_module(s)))


class _TensorMath:
    """The functions a curvature rule may call, as differentiable ops on Tensors."""

    @staticmethod
    def exp(x):
        return exp(x)

    @staticmethod
    def tanh(x):
        return tanh(x)

    @staticmethod
    def sigmoid(x):
        return sigmoid(x)


class _ArrayMath:
    """The same functions on arrays of the array module ``xp``."""

    def __init__(self, xp):
        self.exp, self.tanh, self.sigmoid = xp.exp, xp.tanh, K.sigmoid


def activation_backward_vjp(node, s, gy, g):
    """(d/ds, d/dgy) of ``act_grad(act, s, gy)`` against the upstream gradient ``g``, for the
    differentiable fused backward ops (this one and the fused Linear's)."""
    g_s = None
    if node.edges[0] is not None:
        c = curvature(node.act, s)
        g_s = None if c is None else g * gy * c
    g_gy = activation_backward(node.act, s, g, node.slope) if node.edges[1] is not None else None
    return g_s, g_gy


def activation_backward_jvp(act, slope, s, gy, t_s, t_gy):
    """Tangent of ``act_grad(act, s, gy)`` from the tangents of s and gy (None: zero)."""
    out = None if t_gy is None else act_grad(act, s, t_gy, slope)
    c = None if t_s is None else curvature(act, s)
    if c is not None:
        out = t_s * gy * c if out is None else out + t_s * gy * c
    return out


def activation_backward(act, s, gy, slope=0.01):
    """The fused activation gradient as a differentiable op (see :class:`ActivationBackward`)."""
    return ActivationBackward(act, slope)(s, gy)


class Sigmoid(Function):
    saves_output = True

    def forward(self, x):
        return K.sigmoid(x)

    def backward(self, gy):
        return activation_backward("sigmoid", self.saved_output(), gy)

    def jvp(self, xs, y, txs):
        return K.sigmoid_backward(y, txs[0])


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + e**-x), computed without overflow for any x.

    >>> import gradcore as gc
    >>> gc.sigmoid(gc.tensor([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return Sigmoid()(x)


class Tanh(Function):
    saves_output = True

    def forward(self, x):
        return array_module(x).tanh(x)

    def backward(self, gy):
        return activation_backward("tanh", self.saved_output(), gy)

    def jvp(self, xs, y, txs):
        return K.tanh_backward(y, txs[0])


def tanh(x):
    """Elementwise hyperbolic tangent.

    >>> import gradcore as gc
    >>> gc.tanh(gc.tensor([0.0, 100.0])).tolist()
    [0.0, 1.0]
    """
    return Tanh()(x)


class ReLU(Function):
    saves_output = True

    def forward(self, x):
        return K.relu(x)

    def backward(self, gy):
        return activation_backward("relu", self.saved_output(), gy)

    def jvp(self, xs, y, txs):
        return K.relu_backward(y, txs[0])


def relu(x):
    """max(x, 0). NOTE: its gradient at exactly 0 is 0 (as PyTorch and JAX).

    >>> import gradcore as gc
    >>> x = gc.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    >>> gc.relu(x).sum().backward(); x.grad.tolist()
    [0.0, 0.0, 1.0]
    """
    return ReLU()(x)


class LeakyReLU(Function):
    saves = (0,)

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        return K.leaky_relu(x, self.slope)

    def backward(self, gy):
        x, = self.saved_tensors()
        return activation_backward("leaky_relu", x, gy, self.slope)

    def jvp(self, xs, y, txs):
        return K.leaky_relu_backward(xs[0], txs[0], self.slope)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, else ``negative_slope * x``; the gradient at 0 is ``negative_slope``.

    >>> import gradcore as gc
    >>> gc.leaky_relu(gc.tensor([-1.0, 2.0]), negative_slope=0.5).tolist()
    [-0.5, 2.0]
    """
    return LeakyReLU(negative_slope)(x)


class Softplus(Function):
    saves = (0,)

    def forward(self, x):
        return K.softplus(x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * sigmoid(x)

    def jvp(self, xs, y, txs):
        return txs[0] * K.sigmoid(xs[0])


def softplus(x):
    """log(1 + e**x), computed as max(x, 0) + log1p(e**-|x|) so it never overflows.

    >>> import gradcore as gc
    >>> gc.softplus(gc.tensor([-1000.0, 1000.0])).tolist()
    [0.0, 1000.0]
    """
    return Softplus()(x)


class Activate(Function):
    """``act(x)`` for the activations whose backward reads their input (``TABLE[act].saves ==
    "input"``: gelu, gelu_tanh, silu): forward one kernel (``gradcore_gelu``...), backward one
    kernel (``gradcore_gelu_backward``...) as :class:`ActivationBackward`, differentiable again.
    The functions users call are :func:`gradcore.nn.functional.gelu` and ``silu``.

    >>> import gradcore as gc
    >>> [round(v, 4) for v in Activate("silu")(gc.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.2689, 0.0, 0.7311]
    """

    saves = (0,)

    def __init__(self, act):
        if K.activation(act).saves != "input":
            raise ValueError(f"Activate: {act!r} is not an activation that saves its input; "
                             f"use its own op (gc.{act})")
        self.act = act

    def forward(self, x):
        return K.activate(self.act, x)

    def backward(self, gy):
        x, = self.saved_tensors()
        return activation_backward(self.act, x, gy)

    def jvp(self, xs, y, txs):
        return act_grad(self.act, xs[0], txs[0])
