"""Activations, their backward rules, and the fused bias + activation. Header: activation.cuh.

Each public function takes NumPy arrays (twin, CPU) or CuPy arrays (kernel). The twins compute in
the accumulate dtype (float32 for float16) into ``out`` when they can, so that float32/float64
calls make one output array and no full-size temporaries beyond a boolean mask.
"""

from __future__ import annotations

import numpy as np

from gradcore.kernels import (
    Elementwise, acc_dtype, cupy_kernel, deliver, float_dtype, is_cpu, target, with_out,
)
from gradcore.kernels.reduction import sum_rows

__all__ = [
    "ACTIVATIONS", "bias_act", "bias_act_backward", "leaky_relu", "leaky_relu_backward", "relu",
    "relu_backward", "sigmoid", "sigmoid_backward", "softplus", "softplus_backward",
    "tanh_backward",
]

# Same codes as the GRADCORE_ACT_* macros in activation.cuh.
_ACT_CODES = {"identity": 0, "relu": 1, "leaky_relu": 2, "sigmoid": 3, "tanh": 4}
ACTIVATIONS = tuple(_ACT_CODES)

_ACC = "typedef gradcore_acc<T>::type A; "  # every operation computes in A, stores T


def _act_spec(act: str) -> Elementwise:
    return Elementwise(
        f"gradcore_{act}", "activation", "T x, float64 slope", "T y",
        _ACC + f"y = (T)gradcore_activate<{_ACT_CODES[act]}, A>((A)x, (A)slope);",
        alias_safe=True,
    )


def _bias_act_spec(act: str) -> Elementwise:
    # b broadcasts over the leading axes of z; one read of z and b, one write of y.
    return Elementwise(
        f"gradcore_bias_{act}", "activation", "T z, T b, float64 slope", "T y",
        _ACC + f"y = (T)gradcore_activate<{_ACT_CODES[act]}, A>((A)z + (A)b, (A)slope);",
        alias_safe=True,  # out=z: y[i] is written after z[i] and b[i % N] are read
    )


def _act_grad_spec(act: str) -> Elementwise:
    # y is the saved output; for leaky_relu the saved input works the same (slope > 0).
    return Elementwise(
        f"gradcore_{act}_backward", "activation", "T y, T gy, float64 slope", "T gx",
        _ACC + f"gx = (T)gradcore_activate_grad<{_ACT_CODES[act]}, A>((A)y, (A)gy, (A)slope);",
        alias_safe=True,
    )


_ACT = {act: _act_spec(act) for act in ("relu", "leaky_relu", "sigmoid")}
_BIAS_ACT = {act: _bias_act_spec(act) for act in ACTIVATIONS}
_ACT_GRAD = {act: _act_grad_spec(act) for act in ("relu", "leaky_relu", "sigmoid", "tanh")}
_SOFTPLUS = Elementwise(
    "gradcore_softplus", "activation", "T x", "T y",
    _ACC + "y = (T)gradcore_softplus_fn<A>((A)x);",
    alias_safe=True,
)
_SOFTPLUS_GRAD = Elementwise(
    "gradcore_softplus_backward", "activation", "T x, T gy", "T gx",
    _ACC + "gx = (T)gradcore_softplus_grad_fn<A>((A)x, (A)gy);",
    alias_safe=True,
)
KERNELS = (
    *_ACT.values(), *_BIAS_ACT.values(), *_ACT_GRAD.values(), _SOFTPLUS, _SOFTPLUS_GRAD,
)


# ---------------------------------------------------------------- twins (accumulate dtype)
def _copy_into(buf, src):
    if buf is not src:
        np.copyto(buf, src)


def _act_into(x, act, slope, buf):
    """buf = act(x); buf may be x itself (masks are taken before buf is written)."""
    if act == "identity":
        _copy_into(buf, x)
    elif act == "relu":
        np.maximum(x, 0, out=buf)  # NaN propagates, like the kernel
    elif act == "leaky_relu":
        factor = (x > 0).astype(buf.dtype)  # 1 or slope, multiplied in: branch-free (see below)
        factor *= 1 - slope
        factor += slope
        np.multiply(x, factor, out=buf)
    elif act == "sigmoid":
        negative = _sign_mask(x)  # taken first: buf may be x itself
        np.abs(x, out=buf)
        np.negative(buf, out=buf)
        np.exp(buf, out=buf)  # z = exp(-|x|) in (0, 1]: no overflow for any x
        r = np.add(buf, 1, out=np.empty_like(buf))  # out=: a 0-d result stays an array
        np.reciprocal(r, out=r)  # r = 1 / (1 + z) = sigmoid(|x|)
        buf *= r  # z * r = sigmoid(-|x|)
        _select_negative(buf, negative, r)  # -0.0 goes either way: both sides give 0.5
    elif act == "tanh":
        np.tanh(x, out=buf)
    else:
        raise ValueError(f"unknown activation {act!r}; expected one of {ACTIVATIONS}")
    return buf


def _sign_mask(x):
    """-1 (all bits set) where x's sign bit is set, else 0, as an integer array; or, where the
    bit trick does not apply (0-d, float16, non-contiguous), the boolean mask x < 0."""
    if x.ndim == 0 or x.dtype.itemsize not in (4, 8) or not x.flags.c_contiguous:
        return x < 0
    ints = np.int64 if x.dtype.itemsize == 8 else np.int32
    return np.right_shift(x.view(ints), 8 * x.dtype.itemsize - 1)


def _select_negative(buf, negative, a):
    """buf where ``negative`` (from _sign_mask), else a: bit for bit, without branches.

    NOTE: NumPy's masked copy (copyto(where=)) branches per element and runs ~10x slower on the
    random signs of real data; and/or with an all-ones/zeros word mask does not. ``a`` is
    overwritten (scratch).
    """
    if negative.dtype == bool:
        np.copyto(buf, a, where=~negative)
        return buf
    keep, pick = buf.view(negative.dtype), a.view(negative.dtype)
    keep &= negative
    np.invert(negative, out=negative)
    pick &= negative
    keep |= pick
    return buf


def _act_grad_into(y, gy, act, slope, buf):
    """buf = gy * act'(from y); buf may be y or gy (what is read later is saved first)."""
    if act == "identity":
        _copy_into(buf, gy)
    elif act in ("relu", "leaky_relu"):
        # Branch-free: gy * factor with factor 1 where y > 0, else slope (0 for relu; the tie
        # y == 0 takes the slope). NOTE: masked NumPy ops (copyto/multiply with where=) branch
        # per element and run ~10x slower on the random masks of a ReLU layer, so the mask is
        # multiplied in instead, and the rare inf/nan gy at a zero factor (0 * inf = nan, where
        # the kernel gives 0) is repaired afterwards, only when it happened.
        alive = y > 0
        if act == "relu" or slope == 0:
            with np.errstate(invalid="ignore"):  # inf * 0 is repaired just below
                np.multiply(gy, alive, out=buf)
            zero_factor = True
        else:
            factor = alive.astype(buf.dtype)
            factor *= 1 - slope
            factor += slope
            np.multiply(gy, factor, out=buf)
            zero_factor = False
        if zero_factor and np.isnan(buf).any():
            np.copyto(buf, 0, where=~alive & np.isnan(buf))
    elif act == "sigmoid":
        one_minus_y = 1 - y
        np.multiply(gy, y, out=buf)
        buf *= one_minus_y
    elif act == "tanh":
        t = np.multiply(y, y, out=np.empty_like(y))  # out=: a 0-d result stays an array
        np.subtract(1, t, out=t)
        np.multiply(gy, t, out=buf)
    else:
        raise ValueError(f"unknown activation {act!r}; expected one of {ACTIVATIONS}")
    return buf


def _unary(act, x, slope, out):
    dtype = float_dtype(x)
    if not is_cpu(x):
        return cupy_kernel(_ACT[act])(x, slope, *with_out(out))
    buf = target(out, x.shape, dtype)
    return deliver(_act_into(x.astype(buf.dtype, copy=False), act, slope, buf), out, dtype)


def _backward(act, y, gy, slope, out):
    dtype = float_dtype(y, gy)
    if not is_cpu(y):
        return cupy_kernel(_ACT_GRAD[act])(y, gy, slope, *with_out(out))
    acc = acc_dtype(dtype)
    buf = target(out, np.broadcast_shapes(y.shape, gy.shape), dtype)
    _act_grad_into(y.astype(acc, copy=False), gy.astype(acc, copy=False), act, slope, buf)
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
    return _backward("relu", y, gy, 0.0, out)


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
    return _backward("leaky_relu", x, gy, float(slope), out)


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
    return _backward("sigmoid", y, gy, 0.0, out)


def tanh_backward(y, gy, out=None):
    """gy * (1 - y*y) from the saved output y = tanh(x).

    >>> tanh_backward(np.array([0.0, 1.0]), np.array([2.0, 2.0]))
    array([2., 0.])
    """
    return _backward("tanh", y, gy, 0.0, out)


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
        return cupy_kernel(_SOFTPLUS_GRAD)(x, gy, *with_out(out))
    acc = acc_dtype(dtype)
    s = _act_into(x.astype(acc, copy=False), "sigmoid", 0.0, np.empty(x.shape, acc))
    buf = target(out, np.broadcast_shapes(x.shape, gy.shape), dtype)
    np.multiply(gy.astype(acc, copy=False), s, out=buf)
    return deliver(buf, out, dtype)


def _check_act(act):
    if act not in _ACT_CODES:
        raise ValueError(f"unknown activation {act!r}; expected one of {ACTIVATIONS}")


def bias_act(z, b, act, slope=0.01, out=None):
    """act(z + b) in one pass: the Linear + activation forward after the GEMM.

    z has shape (..., N), b shape (N,); act is one of ACTIVATIONS; ``out=z`` works in place.

    >>> bias_act(np.array([[-1.0, 1.0]]), np.array([0.5, 0.5]), "relu")
    array([[0. , 1.5]])
    """
    _check_act(act)
    dtype = float_dtype(z, b)
    if b.ndim != 1 or z.ndim < 1 or z.shape[-1] != b.shape[0]:
        raise ValueError(f"bias_act: z {z.shape} and b {b.shape} must be (..., N) and (N,)")
    if not is_cpu(z):
        return cupy_kernel(_BIAS_ACT[act])(z, b, float(slope), *with_out(out))
    acc = acc_dtype(dtype)
    buf = target(out, z.shape, dtype)
    np.add(z.astype(acc, copy=False), b.astype(acc, copy=False), out=buf)
    return deliver(_act_into(buf, act, float(slope), buf), out, dtype)


def bias_act_backward(y, gy, act, slope=0.01):
    """Gradients (gz, gb) of ``y = bias_act(z, b, act, slope)`` from the saved output y.

    gz = gy * act'(y) (for "identity" gz IS gy, not a copy), gb = gz summed over all axes but
    the last. leaky_relu needs slope > 0: only then does the sign of y give the sign of z.
    On the GPU: one elementwise kernel and one column reduction.

    >>> gz, gb = bias_act_backward(np.array([[0.0, 2.0]]), np.array([[1.0, 1.0]]), "relu")
    >>> gz, gb
    (array([[0., 1.]]), array([0., 1.]))
    """
    _check_act(act)
    if act == "leaky_relu" and not slope > 0:
        raise ValueError(
            f"bias_act_backward: leaky_relu from the output needs slope > 0, got {slope}"
        )
    if act == "identity":
        float_dtype(y, gy)
        return gy, sum_rows(gy)
    gz = _backward(act, y, gy, float(slope), None)
    return gz, sum_rows(gz)
