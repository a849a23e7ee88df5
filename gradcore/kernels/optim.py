"""Optimizer steps on flat buffers, in place, one kernel launch each. Header: kernels/optim.cuh.

All arrays are 1-D buffers of one float dtype. float16 state is updated in float32 and rounded
once per step. Hyperparameters are folded on the host in Python floats (1 - dampening,
lr / (1 - beta1^t), ...) exactly as PyTorch does, then cast to the accumulate type.
"""

from __future__ import annotations

import math

import numpy as np

from gradcore.kernels import Elementwise, acc_dtype, cupy_kernel, float_dtype, is_cpu

__all__ = ["adam_step", "sgd_step"]

_ACC = "typedef gradcore_acc<T>::type A; "

_SGD = Elementwise(
    "gradcore_sgd_step", "optim",
    "T grad, float64 lr, float64 weight_decay", "T param",
    _ACC + "A no_buf = A(0); "
    "param = (T)gradcore_sgd_update<A>((A)param, (A)grad, no_buf, false, (A)lr, A(0), A(0), "
    "(A)weight_decay, false, false);",
)
_SGD_MOMENTUM = Elementwise(
    "gradcore_sgd_momentum_step", "optim",
    "T grad, float64 lr, float64 momentum, float64 damp_keep, float64 weight_decay, "
    "bool nesterov, bool first_step",
    "T param, T buf",
    _ACC + "A b = (A)buf; "
    "param = (T)gradcore_sgd_update<A>((A)param, (A)grad, b, true, (A)lr, (A)momentum, "
    "(A)damp_keep, (A)weight_decay, nesterov, first_step); "
    "buf = (T)b;",
)
_ADAM = Elementwise(
    "gradcore_adam_step", "optim",
    "T grad, float64 beta1, float64 one_minus_beta1, float64 beta2, float64 one_minus_beta2, "
    "float64 eps, float64 l2, float64 decay, float64 step_size, float64 bc2_sqrt",
    "T param, T m, T v",
    _ACC + "A mm = (A)m, vv = (A)v; "
    "param = (T)gradcore_adam_update<A>((A)param, (A)grad, mm, vv, (A)beta1, "
    "(A)one_minus_beta1, (A)beta2, (A)one_minus_beta2, (A)eps, (A)l2, (A)decay, "
    "(A)step_size, (A)bc2_sqrt); "
    "m = (T)mm; v = (T)vv;",
)
KERNELS = (_SGD, _SGD_MOMENTUM, _ADAM)


def _check_flat(*arrays):
    dtype = float_dtype(*arrays)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"optimizer buffers must be 1-D and of one shape, got {sorted(shapes)}")
    if len({is_cpu(a) for a in arrays}) != 1:
        raise TypeError("optimizer buffers must all be NumPy or all CuPy arrays")
    return dtype


def _working(arrays, dtype):
    """Accumulate-dtype views of the buffers (the buffers themselves unless float16)."""
    acc = acc_dtype(dtype)
    return [a.astype(acc, copy=False) for a in arrays]


def _write_back(buffers, working):
    for buf, w in zip(buffers, working):
        if w is not buf:  # float16: round the float32 result once
            np.copyto(buf, w, casting="same_kind")


def _subtract_scaled(p, g, factor, owned):
    """p -= factor * g, reusing g's memory when it is our own temporary."""
    step = g if owned else np.empty_like(p)
    np.multiply(g, factor, out=step)
    p -= step


def sgd_step(param, grad, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, first_step=False):
    """One PyTorch SGD step, in place on param (and buf); grad is left untouched.

    g = grad + weight_decay*param; with momentum: buf = g on the first step, else
    momentum*buf + (1 - dampening)*g, then g = g + momentum*buf (nesterov) or buf;
    param -= lr*g. buf may be None when momentum == 0.

    >>> p, g = np.ones(2, np.float32), np.full(2, 0.5, np.float32)
    >>> sgd_step(p, g, None, lr=0.1); p
    array([0.95, 0.95], dtype=float32)
    """
    has_momentum = momentum != 0
    if has_momentum and buf is None:
        raise ValueError("sgd_step: momentum != 0 needs a momentum buffer")
    buffers = [param, grad] + ([buf] if has_momentum else [])
    dtype = _check_flat(*buffers)
    lr, momentum, weight_decay = float(lr), float(momentum), float(weight_decay)
    damp_keep = 1.0 - float(dampening)
    if not is_cpu(param):
        if has_momentum:
            cupy_kernel(_SGD_MOMENTUM)(grad, lr, momentum, damp_keep, weight_decay,
                                       bool(nesterov), bool(first_step), param, buf)
        else:
            cupy_kernel(_SGD)(grad, lr, weight_decay, param)
        return
    work = _working(buffers, dtype)
    p, gr = work[0], work[1]
    g, owned = gr, False
    if weight_decay != 0:  # skipped at 0 as in PyTorch: 0 * inf would poison an infinite param
        g, owned = np.multiply(p, weight_decay), True
        g += gr
    if has_momentum:
        b = work[2]
        if first_step:
            np.copyto(b, g)
        else:
            b *= momentum
            b += g if damp_keep == 1 else damp_keep * g
        if nesterov:
            nesterov_g = np.multiply(b, momentum)
            nesterov_g += g
            g, owned = nesterov_g, True
        else:
            g, owned = b, False
    _subtract_scaled(p, g, lr, owned)
    _write_back([param] + ([buf] if has_momentum else []), [p] + work[2:])


def adam_hyperparameters(lr, beta1, beta2, eps, weight_decay, step, decoupled):
    """The host-folded scalars both the twin and the kernel use (Python floats)."""
    if isinstance(step, bool) or int(step) != step or step < 1:
        raise ValueError(f"adam_step: step must be an integer >= 1, got {step!r}")
    lr, beta1, beta2, wd = float(lr), float(beta1), float(beta2), float(weight_decay)
    return dict(
        beta1=beta1, one_minus_beta1=1.0 - beta1, beta2=beta2, one_minus_beta2=1.0 - beta2,
        eps=float(eps),
        l2=0.0 if decoupled else wd,
        decay=1.0 - lr * wd if decoupled else 1.0,
        step_size=lr / (1.0 - beta1 ** int(step)),
        bc2_sqrt=math.sqrt(1.0 - beta2 ** int(step)),
    )


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=False):
    """One PyTorch Adam (L2 in the gradient) or AdamW (decoupled) step, in place.

    param, m, v are updated; grad is not. step is the 1-based step count for bias correction.

    >>> p, g = np.ones(1), np.ones(1)
    >>> m, v = np.zeros(1), np.zeros(1)
    >>> adam_step(p, g, m, v, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, step=1)
    >>> p.round(6), m, v.round(6)
    (array([0.9]), array([0.1]), array([0.001]))
    """
    dtype = _check_flat(param, grad, m, v)
    h = adam_hyperparameters(lr, beta1, beta2, eps, weight_decay, step, decoupled)
    if not is_cpu(param):
        cupy_kernel(_ADAM)(grad, h["beta1"], h["one_minus_beta1"], h["beta2"],
                           h["one_minus_beta2"], h["eps"], h["l2"], h["decay"],
                           h["step_size"], h["bc2_sqrt"], param, m, v)
        return
    p, gr, mw, vw = _working([param, grad, m, v], dtype)
    g = gr
    if h["l2"] != 0:
        g = np.multiply(p, h["l2"])
        g += gr
    if h["decay"] != 1:
        p *= h["decay"]
    mw *= h["beta1"]
    t = np.multiply(g, h["one_minus_beta1"])  # the one full-size scratch array
    mw += t
    vw *= h["beta2"]
    np.multiply(g, g, out=t)
    t *= h["one_minus_beta2"]
    vw += t
    np.sqrt(vw, out=t)  # t = denominator
    t /= h["bc2_sqrt"]
    t += h["eps"]
    np.divide(mw, t, out=t)
    _subtract_scaled(p, t, h["step_size"], owned=True)
    _write_back([param, m, v], [p, mw, vw])
