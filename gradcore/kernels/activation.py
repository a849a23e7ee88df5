"""Activations, their backward rules, and the fused bias + activation. Header: activation.cuh.

Each public function takes NumPy arrays (twin, CPU) or CuPy arrays (kernel). The twins compute in
the accumulate dtype (float32 for float16) into ``out`` when they can, so that float32/float64
calls make one output array and no full-size temporaries beyond a boolean mask.

``TABLE`` holds one row per activation (code, twins, kernels, what backward reads); everything
that dispatches on an activation name (here, ``gradcore.ops.activation``, ``gradcore.ops.fused``)
reads it instead of keeping its own list.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from gradcore.kernels import (
    Elementwise, acc_dtype, cupy_kernel, deliver, empty, float_dtype, is_cpu, target, with_out,
)
from gradcore.kernels import smooth as _smooth
from gradcore.kernels.reduction import sum_rows

__all__ = [
    "ACTIVATIONS", "TABLE", "Activation", "act_grad", "activate", "activation", "bias_act",
    "bias_act_backward", "erf", "leaky_relu", "leaky_relu_backward", "relu",
    "relu_backward", "sigmoid", "sigmoid_backward", "softplus", "softplus_backward",
    "tanh_backward",
]

_ACC = "typedef gradcore_acc<T>::type A; "  # every operation computes in A, stores T


def _act_kernel(name, code):
    return Elementwise(name, "activation", "T x, float64 slope", "T y",
                       _ACC + f"y = (T)gradcore_activate<{code}, A>((A)x, (A)slope);",
                       alias_safe=True)


def _bias_act_kernel(name, code):
    # b broadcasts over the leading axes of z; one read of z and b, one write of y. out=z is
    # safe: y[i] is written after z[i] and b[i % N] are read.
    return Elementwise(name, "activation", "T z, T b, float64 slope", "T y",
                       _ACC + f"y = (T)gradcore_activate<{code}, A>((A)z + (A)b, (A)slope);",
                       alias_safe=True)


def _bias_act_pre_kernel(name, code):
    # For the rows whose backward reads the pre-activation: s = z + b too, rounded to T before
    # act reads it, so that backward sees what forward used. out s=z is safe as above.
    return Elementwise(name, "activation", "T z, T b, float64 slope", "T s, T y",
                       _ACC + "A u = (A)(T)((A)z + (A)b); s = (T)u; "
                       f"y = (T)gradcore_activate<{code}, A>(u, (A)slope);", alias_safe=True)


def _act_grad_kernel(name, code):
    # y is what the activation saved (TABLE[act].saves): output or input (pre-activation).
    return Elementwise(
        name, "activation", "T y, T gy, float64 slope", "T gx",
        _ACC + f"gx = (T)gradcore_activate_grad<{code}, A>((A)y, (A)gy, (A)slope);",
        alias_safe=True)


# Activation codes: the GRADCORE_ACT_* macros of activation.cuh (a test checks they agree).
IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH, GELU, GELU_TANH, SILU = 0, 1, 2, 3, 4, 5, 6, 7

# One constant per kernel, its name written out: a name in a profiler trace greps to here.
_RELU = _act_kernel("gradcore_relu", RELU)
_LEAKY_RELU = _act_kernel("gradcore_leaky_relu", LEAKY_RELU)
_SIGMOID = _act_kernel("gradcore_sigmoid", SIGMOID)
_BIAS_IDENTITY = _bias_act_kernel("gradcore_bias_identity", IDENTITY)
_BIAS_RELU = _bias_act_kernel("gradcore_bias_relu", RELU)
_BIAS_LEAKY_RELU = _bias_act_kernel("gradcore_bias_leaky_relu", LEAKY_RELU)
_BIAS_SIGMOID = _bias_act_kernel("gradcore_bias_sigmoid", SIGMOID)
_BIAS_TANH = _bias_act_kernel("gradcore_bias_tanh", TANH)
_RELU_BACKWARD = _act_grad_kernel("gradcore_relu_backward", RELU)
_LEAKY_RELU_BACKWARD = _act_grad_kernel("gradcore_leaky_relu_backward", LEAKY_RELU)
_SIGMOID_BACKWARD = _act_grad_kernel("gradcore_sigmoid_backward", SIGMOID)
_TANH_BACKWARD = _act_grad_kernel("gradcore_tanh_backward", TANH)
_GELU = _act_kernel("gradcore_gelu", GELU)
_GELU_TANH = _act_kernel("gradcore_gelu_tanh", GELU_TANH)
_SILU = _act_kernel("gradcore_silu", SILU)
_BIAS_GELU = _bias_act_pre_kernel("gradcore_bias_gelu", GELU)
_BIAS_GELU_TANH = _bias_act_pre_kernel("gradcore_bias_gelu_tanh", GELU_TANH)
_BIAS_SILU = _bias_act_pre_kernel("gradcore_bias_silu", SILU)
_GELU_BACKWARD = _act_grad_kernel("gradcore_gelu_backward", GELU)
_GELU_TANH_BACKWARD = _act_grad_kernel("gradcore_gelu_tanh_backward", GELU_TANH)
_SILU_BACKWARD = _act_grad_kernel("gradcore_silu_backward", SILU)
_ERF = Elementwise("gradcore_erf", "activation", "T x", "T y",
                   _ACC + "y = (T)gradcore_erf_fn((A)x);", alias_safe=True)
_SOFTPLUS = Elementwise("gradcore_softplus", "activation", "T x", "T y",
                        _ACC + "y = (T)gradcore_softplus_fn<A>((A)x);", alias_safe=True)
_SOFTPLUS_BACKWARD = Elementwise(
    "gradcore_softplus_backward", "activation", "T x, T gy", "T gx",
    _ACC + "gx = (T)gradcore_softplus_grad_fn<A>((A)x, (A)gy);", alias_safe=True)


# ---------------------------------------------------------------- twins (accumulate dtype)
# act(x) into buf; buf may be x itself (what is read later is taken before buf is written).
def _identity_into(x, slope, buf):
    if buf is not x:
        np.copyto(buf, x)


def _relu_into(x, slope, buf):
    np.maximum(x, 0, out=buf)  # NaN propagates, like the kernel


def _leaky_relu_into(x, slope, buf):
    # = np.where(x > 0, x, slope * x). Speed: the factor (1 or slope) is multiplied in, no
    # branch per element: about 4x faster than np.where in an ad-hoc timing (16 MB float32,
    # noisy 2-core host); no benchmark covers leaky_relu yet.
    factor = (x > 0).astype(buf.dtype)
    factor *= 1 - slope
    factor += slope
    np.multiply(x, factor, out=buf)


def _tanh_into(x, slope, buf):
    np.tanh(x, out=buf)


# gy * act'(saved) into buf; buf may be y or gy (what is read later is taken first).
def _identity_grad_into(y, gy, slope, buf):
    _identity_into(gy, slope, buf)


def _slope_grad_into(y, gy, slope, buf):
    """relu (slope 0) and leaky_relu: gy where y > 0, else slope * gy (the tie y == 0 takes
    the slope). = np.where(y > 0, gy, slope * gy), except that 0 * inf is 0 as in the kernel.

    Speed (benchmark: ``relu_backward 16MB`` in benchmarks/test_kernels.py, and the MLP step):
    the 0/1 mask is multiplied in; masked NumPy ops (copyto/multiply with where=) branch per
    element, 5-8x slower on a ReLU layer's random mask in an ad-hoc timing (16 MB float32).
    A rare inf/nan gy at a zero factor (0 * inf = nan) is repaired afterwards, only if it
    happened.
    """
    alive = y > 0
    if slope == 0:
        with np.errstate(invalid="ignore"):  # inf * 0 is repaired just below
            np.multiply(gy, alive, out=buf)
        if np.isnan(buf).any():
            np.copyto(buf, 0, where=~alive & np.isnan(buf))
        return
    factor = alive.astype(buf.dtype)
    factor *= 1 - slope
    factor += slope
    np.multiply(gy, factor, out=buf)


def _relu_grad_into(y, gy, slope, buf):
    _slope_grad_into(y, gy, 0.0, buf)


def _sigmoid_grad_into(y, gy, slope, buf):
    one_minus_y = 1 - y  # = gy * y * (1 - y)
    np.multiply(gy, y, out=buf)
    buf *= one_minus_y


def _tanh_grad_into(y, gy, slope, buf):
    t = np.multiply(y, y, out=np.empty_like(y))  # = gy * (1 - y * y); out=: 0-d stays an array
    np.subtract(1, t, out=t)
    np.multiply(gy, t, out=buf)


# ---------------------------------------------------------------- the activation table
@dataclasses.dataclass(frozen=True)
class Activation:
    """One activation: its code in activation.cuh, its twins and kernels, what backward reads.

    ``kernel`` is act(x) alone (None where gradcore needs none: identity, and tanh, which runs
    xp.tanh). ``saves`` is what the backward rule reads: "output" (y), "input" (the
    pre-activation, for activations whose derivative y does not determine: the fused Linear
    then keeps z + b, and its bias kernel writes it, see ``bias_act``) or "sign" (leaky_relu:
    y or the input, whose signs agree when slope > 0). ``curvature(s, m)`` is d act'/d s through
    the saved ``s`` (None: piecewise linear), written with operators and ``m.exp``/``m.tanh``/
    ``m.sigmoid`` so that it works on arrays (``m`` an array namespace) and on Tensors (``m``
    gradcore's differentiable ops) alike.
    """

    code: int
    twin: Callable
    grad_twin: Callable
    kernel: Elementwise | None
    bias_kernel: Elementwise
    grad_kernel: Elementwise | None
    saves: str  # "output", "input" or "sign": what the backward rule reads
    curvature: Callable | None = None


TABLE = {
    "identity": Activation(IDENTITY, _identity_into, _identity_grad_into, None, _BIAS_IDENTITY,
                           None, "output"),
    "relu": Activation(RELU, _relu_into, _relu_grad_into, _RELU, _BIAS_RELU, _RELU_BACKWARD,
                       "output"),
    "leaky_relu": Activation(LEAKY_RELU, _leaky_relu_into, _slope_grad_into, _LEAKY_RELU,
                             _BIAS_LEAKY_RELU, _LEAKY_RELU_BACKWARD, "sign"),
    "sigmoid": Activation(SIGMOID, _smooth.sigmoid_into, _sigmoid_grad_into, _SIGMOID,
                          _BIAS_SIGMOID, _SIGMOID_BACKWARD, "output", lambda s, m: 1 - 2 * s),
    "tanh": Activation(TANH, _tanh_into, _tanh_grad_into, None, _BIAS_TANH, _TANH_BACKWARD,
                       "output", lambda s, m: -2 * s),
    "gelu": Activation(GELU, _smooth.gelu_into, _smooth.gelu_grad_into, _GELU, _BIAS_GELU,
                       _GELU_BACKWARD, "input", _smooth.gelu_curvature),
    "gelu_tanh": Activation(GELU_TANH, _smooth.gelu_tanh_into, _smooth.gelu_tanh_grad_into,
                            _GELU_TANH, _BIAS_GELU_TANH, _GELU_TANH_BACKWARD, "input",
                            _smooth.gelu_tanh_curvature),
    "silu": Activation(SILU, _smooth.silu_into, _smooth.silu_grad_into, _SILU, _BIAS_SILU,
                       _SILU_BACKWARD, "input", _smooth.silu_curvature),
}
ACTIVATIONS = tuple(TABLE)
_ACT_CODES = {name: row.code for name, row in TABLE.items()}
KERNELS = (
    *(row.kernel for row in TABLE.values() if row.kernel),
    *(row.bias_kernel for row in TABLE.values()),
    *(row.grad_kernel for row in TABLE.values() if row.grad_kernel),
    _SOFTPLUS, _SOFTPLUS_BACKWARD, _ERF,
)


def activation(act: str) -> Activation:
    """The table row of ``act``; ValueError naming the choices for an unknown one."""
    try:
        return TABLE[act]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {act!r}; expected one of {ACTIVATIONS}") from None


def activate(act, x, slope=0.01, out=None):
    """act(x) in one pass: the row's unary kernel ``gradcore_<act>`` or its twin.

    >>> activate("silu", np.array([0.0, 1.0]))
    array([0.        , 0.73105858])
    """
    if activation(act).kernel is None:
        raise ValueError(f"activate: {act} has no kernel of its own (identity is x itself, "
                         "tanh is the array module's tanh)")
    return _unary(act, x, float(slope), out)


def _unary(act, x, slope, out):
    dtype = float_dtype(x)
    if not is_cpu(x):
        return cupy_kernel(TABLE[act].kernel)(x, slope, *with_out(out))
    buf = target(out, x.shape, dtype)
    TABLE[act].twin(x.astype(buf.dtype, copy=False), slope, buf)
    return deliver(buf, out, dtype)


def act_grad(act, s, gy, slope=0.01, out=None):
    """gy * act'(s) from what the activation saved (``TABLE[act].saves``), in one pass;
    "identity" gives gy itself.

    >>> act_grad("tanh", np.array([0.0, 1.0]), np.array([2.0, 2.0]))
    array([2., 0.])
    """
    row = activation(act)
    if row.grad_kernel is None:
        float_dtype(s, gy)
        return gy
    dtype = float_dtype(s, gy)
    if not is_cpu(s):
        return cupy_kernel(row.grad_kernel)(s, gy, float(slope), *with_out(out))
    acc = acc_dtype(dtype)
    buf = target(out, np.broadcast_shapes(s.shape, gy.shape), dtype)
    row.grad_twin(s.astype(acc, copy=False), gy.astype(acc, copy=False), float(slope), buf)
    return deliver(buf, out, dtype)


# ---------------------------------------------------------------- public API
def relu(x, out=None):
    """max(x, 0), NaN propagating.

    >>> relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    return _unary("relu", x, 0.0, out)


def relu_backward(y, gy, out=None):
    """gy where the saved output y > 0, else 0 (the tie at 0 gets gradient 0).

    >>> relu_backward(np.array([0.0, 2.0]), np.array([5.0, 5.0]))
    array([0., 5.])
    """
    return act_grad("relu", y, gy, 0.0, out)


def leaky_relu(x, slope, out=None):
    """x if x > 0 else slope * x.

    >>> leaky_relu(np.array([-2.0, 3.0]), 0.1)
    array([-0.2,  3. ])
    """
    return _unary("leaky_relu", x, float(slope), out)


def leaky_relu_backward(x, gy, slope, out=None):
    """gy if the saved input x > 0 else slope * gy (the tie at 0 gets slope).

    >>> leaky_relu_backward(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 0.1)
    array([0.1, 1. ])
    """
    return act_grad("leaky_relu", x, gy, slope, out)


def sigmoid(x, out=None):
    """1 / (1 + exp(-x)) through exp(-|x|): finite for every x up to +-float max.

    >>> sigmoid(np.array([0.0, 1e30, -1e30]))
    array([0.5, 1. , 0. ])
    """
    return _unary("sigmoid", x, 0.0, out)


def sigmoid_backward(y, gy, out=None):
    """gy * y * (1 - y) from the saved output y.

    >>> sigmoid_backward(np.array([0.5]), np.array([1.0]))
    array([0.25])
    """
    return act_grad("sigmoid", y, gy, 0.0, out)


def tanh_backward(y, gy, out=None):
    """gy * (1 - y*y) from the saved output y = tanh(x).

    >>> tanh_backward(np.array([0.0, 1.0]), np.array([2.0, 2.0]))
    array([2., 0.])
    """
    return act_grad("tanh", y, gy, 0.0, out)


def softplus(x, out=None):
    """log(1 + exp(x)) as log1p(exp(-|x|)) + max(x, 0): no overflow, exact for x << 0.

    >>> softplus(np.array([0.0, 1000.0]))
    array([6.93147181e-01, 1.00000000e+03])
    """
    dtype = float_dtype(x)
    if not is_cpu(x):
        return cupy_kernel(_SOFTPLUS)(x, *with_out(out))
    xa = x.astype(acc_dtype(dtype), copy=False)
    positive_part = np.maximum(xa, 0)  # taken first: buf may be x itself
    buf = target(out, x.shape, dtype)
    np.abs(xa, out=buf)
    np.negative(buf, out=buf)
    np.exp(buf, out=buf)
    np.log1p(buf, out=buf)
    buf += positive_part
    return deliver(buf, out, dtype)


def softplus_backward(x, gy, out=None):
    """gy * sigmoid(x) from the saved input x (softplus' = sigmoid).

    >>> softplus_backward(np.array([0.0]), np.array([2.0]))
    array([1.])
    """
    dtype = float_dtype(x, gy)
    if not is_cpu(x):
        return cupy_kernel(_SOFTPLUS_BACKWARD)(x, gy, *with_out(out))
    acc = acc_dtype(dtype)
    s = empty(x.shape, acc)
    _smooth.sigmoid_into(x.astype(acc, copy=False), 0.0, s)
    buf = target(out, np.broadcast_shapes(x.shape, gy.shape), dtype)
    np.multiply(gy.astype(acc, copy=False), s, out=buf)
    return deliver(buf, out, dtype)


def erf(x, out=None):
    """The error function: Cody's rational approximations in float64 on NumPy arrays (see
    ``gradcore.kernels.gelu.erf_into``), CUDA's erf/erff in the gradcore_erf kernel.

    >>> erf(np.array([0.0, 0.5, np.inf]))
    array([0.        , 0.52049988, 1.        ])
    """
    dtype = float_dtype(x)
    if not is_cpu(x):
        return cupy_kernel(_ERF)(x, *with_out(out))
    return deliver(_smooth.erf_into(x, target(out, x.shape, dtype)), out, dtype)


def bias_act(z, b, act, slope=0.01, out=None, pre=None):
    """act(z + b) in one pass: the Linear + activation forward after the GEMM.

    z has shape (..., N), b shape (N,); act is one of ACTIVATIONS; ``out=z`` works in place.
    For the rows whose backward reads the input (``TABLE[act].saves == "input"``: gelu,
    gelu_tanh, silu) the same pass also writes the pre-activation s = z + b (rounded to z's
    dtype, and act reads that) into ``pre``: ``pre=z`` overwrites z, as the fused Linear does
    to keep it for backward; without ``pre`` it goes to a scratch array.

    >>> bias_act(np.array([[-1.0, 1.0]]), np.array([0.5, 0.5]), "relu")
    array([[0. , 1.5]])
    >>> z = np.array([[-1.0, 1.0]])
    >>> bias_act(z, np.array([0.5, 0.5]), "silu", pre=z).round(4), z
    (array([[-0.1888,  1.2264]]), array([[-0.5,  1.5]]))
    """
    row = activation(act)
    dtype = float_dtype(z, b)
    if b.ndim != 1 or z.ndim < 1 or z.shape[-1] != b.shape[0]:
        raise ValueError(f"bias_act: z {z.shape} and b {b.shape} must be (..., N) and (N,)")
    keeps = row.saves == "input"
    if pre is not None and (not keeps or pre is out):
        raise ValueError(f"bias_act: pre= is for the activations that save their input, and "
                         f"must not be out (act {act!r})")
    if not is_cpu(z):
        if not keeps:
            return cupy_kernel(row.bias_kernel)(z, b, float(slope), *with_out(out))
        import cupy  # noqa: PLC0415 (only reached with a CuPy array in hand)

        pre = cupy.empty(z.shape, dtype) if pre is None else pre
        out = cupy.empty(z.shape, dtype) if out is None else out
        return cupy_kernel(row.bias_kernel)(z, b, float(slope), pre, out)[1]
    acc = acc_dtype(dtype)
    z_acc, b_acc = z.astype(acc, copy=False), b.astype(acc, copy=False)
    if keeps:
        s = empty(z.shape, dtype) if pre is None else pre  # the tracer sees it (gc.compile)
        np.add(z_acc, b_acc, out=s, casting="same_kind")  # rounded to dtype, as the kernel's s
        buf = target(out, z.shape, dtype)
        row.twin(s.astype(acc, copy=False), float(slope), buf)
        return deliver(buf, out, dtype)
    buf = target(out, z.shape, dtype)
    np.add(z_acc, b_acc, out=buf)
    row.twin(buf, float(slope), buf)
    return deliver(buf, out, dtype)


def bias_act_backward(s, gy, act, slope=0.01):
    """Gradients (gz, gb) of ``y = bias_act(z, b, act, slope)`` from what the row saves
    (``TABLE[act].saves``): the output y, or the pre-activation z + b for gelu, gelu_tanh, silu.

    gz = gy * act'(s) (for "identity" gz IS gy, not a copy), gb = gz summed over all axes but
    the last. leaky_relu needs slope > 0: only then does the sign of y give the sign of z.
    On the GPU: one elementwise kernel and one column reduction.

    >>> gz, gb = bias_act_backward(np.array([[0.0, 2.0]]), np.array([[1.0, 1.0]]), "relu")
    >>> gz, gb
    (array([[0., 1.]]), array([0., 1.]))
    """
    if activation(act).saves == "sign" and not slope > 0:  # leaky_relu
        raise ValueError(
            f"bias_act_backward: {act} from the output needs slope > 0, got {slope}"
        )
    gz = act_grad(act, s, gy, slope)
    return gz, sum_rows(gz)
