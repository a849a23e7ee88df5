"""Optimizer updates on flat buffers, in place: one small kernel per variant. Header: kernels/optim.cuh.

| kernel | update (g = grad + weight_decay * param) |
| --- | --- |
| `gradcore_sgd_update` | param -= lr * g |
| `gradcore_momentum_sgd_update` | buf = momentum * buf + (1 - dampening) * g; param -= lr * buf |
| `gradcore_nesterov_update` | buf as above; param -= lr * (g + momentum * buf) |
| `gradcore_adam_update` | m, v moments of g; param -= step_size * m / (sqrt(v) / bc2_sqrt + eps) |
| `gradcore_adamw_update` | the same from grad itself, after param *= 1 - lr * weight_decay |
| `gradcore_rmsprop_update` | sq = alpha * sq + (1 - alpha) * g²; param -= lr * g / (sqrt(sq) + eps) |
| `gradcore_centered_rmsprop_update` | also ga = alpha * ga + (1 - alpha) * g; sqrt(sq - ga²) instead |
| `gradcore_momentum_rmsprop_update` | buf = momentum * buf + g / (sqrt(sq) + eps); param -= lr * buf |
| `gradcore_centered_momentum_rmsprop_update` | both of the above |
| `gradcore_adagrad_update` | s += g²; param -= clr * g / (sqrt(s) + eps), clr = lr / (1 + (t - 1) lr_decay) |
| `gradcore_adadelta_update` | sq as RMSprop (rate rho); d = sqrt(acc + eps) / sqrt(sq + eps) * g; acc = rho * acc + (1 - rho) * d²; param -= lr * d |

Each kernel has a NumPy twin below (``_sgd_update`` ...) that is its specification and the CPU
path. All arrays are 1-D buffers of one float dtype (or contiguous stretches of them); float16
is updated in float32 and rounded once per step. Hyperparameters that depend on the step are
folded on the host in Python floats (lr / (1 - beta1^t), ...) exactly as PyTorch does.
"""

from __future__ import annotations

import math

import numpy as np

from gradcore.kernels import Elementwise, acc_dtype, cupy_kernel, float_dtype, is_cpu

__all__ = ["adadelta_step", "adagrad_step", "adam_step", "rmsprop_step", "sgd_step"]

_ACC = "typedef gradcore_acc<T>::type A; "
_L2 = "const A g = gradcore_l2((A)grad, (A)param, (A)weight_decay); "
_MOMENTUM = "const A b = (A)momentum * (A)buf + (A)(1 - dampening) * g; buf = (T)b; "
_SGD_PARAMS = "T grad, float64 lr, float64 momentum, float64 dampening, float64 weight_decay"
_ADAM_DIRECTION = (
    "A mm = (A)m, vv = (A)v; "
    "const A d = gradcore_adam_direction<A>(g, mm, vv, (A)beta1, (A)(1 - beta1), (A)beta2, "
    "(A)(1 - beta2), (A)eps, (A)bc2_sqrt); "
    "m = (T)mm; v = (T)vv; "
)
_ADAM_PARAMS = "T grad, float64 step_size, float64 beta1, float64 beta2, float64 eps, float64 bc2_sqrt"

_SGD_UPDATE = Elementwise(
    "gradcore_sgd_update", "optim", "T grad, float64 lr, float64 weight_decay", "T param",
    _ACC + _L2 + "param = (T)((A)param - (A)lr * g);",
)
_MOMENTUM_SGD_UPDATE = Elementwise(
    "gradcore_momentum_sgd_update", "optim", _SGD_PARAMS, "T param, T buf",
    _ACC + _L2 + _MOMENTUM + "param = (T)((A)param - (A)lr * b);",
)
_NESTEROV_UPDATE = Elementwise(
    "gradcore_nesterov_update", "optim", _SGD_PARAMS, "T param, T buf",
    _ACC + _L2 + _MOMENTUM + "param = (T)((A)param - (A)lr * (g + (A)momentum * b));",
)
_ADAM_UPDATE = Elementwise(
    "gradcore_adam_update", "optim", _ADAM_PARAMS + ", float64 weight_decay", "T param, T m, T v",
    _ACC + _L2 + _ADAM_DIRECTION + "param = (T)((A)param - (A)step_size * d);",
)
_ADAMW_UPDATE = Elementwise(
    "gradcore_adamw_update", "optim", _ADAM_PARAMS + ", float64 decay", "T param, T m, T v",
    _ACC + "const A g = (A)grad; " + _ADAM_DIRECTION
    + "param = (T)((A)param * (A)decay - (A)step_size * d);",
)


def _ema_sq(avg, rate, out="sq"):
    """``out = rate * avg + (1 - rate) * g²``, stored back into ``avg`` (RMSprop, Adadelta)."""
    return (f"const A {out} = (A){rate} * (A){avg} + (A)(1 - {rate}) * g * g; "
            f"{avg} = (T){out}; ")


_RMS_PARAMS = "T grad, float64 lr, float64 alpha, float64 eps, float64 weight_decay"
_RMS_PLAIN = _ema_sq("square_avg", "alpha") + "const A avg = gradcore_sqrt(sq) + (A)eps; "
_RMS_CENTERED = (_ema_sq("square_avg", "alpha")
                 + "const A ga = (A)alpha * (A)grad_avg + (A)(1 - alpha) * g; grad_avg = (T)ga; "
                 "const A avg = gradcore_sqrt(sq - ga * ga) + (A)eps; ")
_RMS_STEP = "param = (T)((A)param - (A)lr * g / avg);"
_RMS_MOMENTUM_STEP = ("const A b = (A)momentum * (A)buf + g / avg; buf = (T)b; "
                      "param = (T)((A)param - (A)lr * b);")

_RMSPROP_UPDATE = Elementwise(
    "gradcore_rmsprop_update", "optim", _RMS_PARAMS, "T param, T square_avg",
    _ACC + _L2 + _RMS_PLAIN + _RMS_STEP,
)
_CENTERED_RMSPROP_UPDATE = Elementwise(
    "gradcore_centered_rmsprop_update", "optim", _RMS_PARAMS, "T param, T square_avg, T grad_avg",
    _ACC + _L2 + _RMS_CENTERED + _RMS_STEP,
)
_MOMENTUM_RMSPROP_UPDATE = Elementwise(
    "gradcore_momentum_rmsprop_update", "optim", _RMS_PARAMS + ", float64 momentum",
    "T param, T square_avg, T buf", _ACC + _L2 + _RMS_PLAIN + _RMS_MOMENTUM_STEP,
)
_CENTERED_MOMENTUM_RMSPROP_UPDATE = Elementwise(
    "gradcore_centered_momentum_rmsprop_update", "optim", _RMS_PARAMS + ", float64 momentum",
    "T param, T square_avg, T grad_avg, T buf", _ACC + _L2 + _RMS_CENTERED + _RMS_MOMENTUM_STEP,
)
_ADAGRAD_UPDATE = Elementwise(
    "gradcore_adagrad_update", "optim", "T grad, float64 clr, float64 eps, float64 weight_decay",
    "T param, T state_sum",
    _ACC + _L2 + "const A s = (A)state_sum + g * g; state_sum = (T)s; "
    "param = (T)((A)param - (A)clr * g / (gradcore_sqrt(s) + (A)eps));",
)
_ADADELTA_UPDATE = Elementwise(
    "gradcore_adadelta_update", "optim",
    "T grad, float64 lr, float64 rho, float64 eps, float64 weight_decay",
    "T param, T square_avg, T acc_delta",
    _ACC + _L2 + _ema_sq("square_avg", "rho")
    + "const A d = gradcore_sqrt((A)acc_delta + (A)eps) / gradcore_sqrt(sq + (A)eps) * g; "
    "const A ad = (A)rho * (A)acc_delta + (A)(1 - rho) * d * d; acc_delta = (T)ad; "
    "param = (T)((A)param - (A)lr * d);",
)
KERNELS = (_SGD_UPDATE, _MOMENTUM_SGD_UPDATE, _NESTEROV_UPDATE, _ADAM_UPDATE, _ADAMW_UPDATE,
           _RMSPROP_UPDATE, _CENTERED_RMSPROP_UPDATE, _MOMENTUM_RMSPROP_UPDATE,
           _CENTERED_MOMENTUM_RMSPROP_UPDATE, _ADAGRAD_UPDATE, _ADADELTA_UPDATE)


# ---- the twins: the specification, one per kernel, in place on their outputs -----------------
def _l2(g, p, weight_decay):
    # Skipped at 0 as PyTorch does: 0 * inf would turn an infinite parameter into NaN.
    return g + weight_decay * p if weight_decay != 0 else g


def _momentum(buf, g, momentum, dampening):
    buf *= momentum
    buf += g if dampening == 0 else (1.0 - dampening) * g  # 1 * g is g: skip that pass


def _sgd_update(grad, param, *, lr, weight_decay):
    param -= lr * _l2(grad, param, weight_decay)


def _momentum_sgd_update(grad, param, buf, *, lr, momentum, dampening, weight_decay):
    g = _l2(grad, param, weight_decay)
    _momentum(buf, g, momentum, dampening)
    param -= lr * buf


def _nesterov_update(grad, param, buf, *, lr, momentum, dampening, weight_decay):
    g = _l2(grad, param, weight_decay)
    _momentum(buf, g, momentum, dampening)
    param -= lr * (g + momentum * buf)


def _adam_direction(g, m, v, beta1, beta2, eps, bc2_sqrt):
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * (g * g)
    return m / (np.sqrt(v) / bc2_sqrt + eps)


def _adam_update(grad, param, m, v, *, step_size, beta1, beta2, eps, bc2_sqrt, weight_decay):
    g = _l2(grad, param, weight_decay)
    param -= step_size * _adam_direction(g, m, v, beta1, beta2, eps, bc2_sqrt)


def _adamw_update(grad, param, m, v, *, step_size, beta1, beta2, eps, bc2_sqrt, decay):
    param *= decay
    param -= step_size * _adam_direction(grad, m, v, beta1, beta2, eps, bc2_sqrt)


# The twins below repeat their kernel's operations in its order (a * b + c as a *= ...; += ...),
# so that the host stand-in, which compiles the kernels without FMA, agrees bit for bit.
def _ema_sq_twin(avg, g, rate):
    avg *= rate
    avg += (1.0 - rate) * g * g


def _rms_avg(g, square_avg, grad_avg, alpha, eps):
    _ema_sq_twin(square_avg, g, alpha)
    if grad_avg is None:
        return np.sqrt(square_avg) + eps
    grad_avg *= alpha
    grad_avg += (1.0 - alpha) * g
    return np.sqrt(square_avg - grad_avg * grad_avg) + eps


def _rmsprop_update(grad, param, square_avg, *, lr, alpha, eps, weight_decay):
    g = _l2(grad, param, weight_decay)
    param -= lr * g / _rms_avg(g, square_avg, None, alpha, eps)


def _centered_rmsprop_update(grad, param, square_avg, grad_avg, *, lr, alpha, eps, weight_decay):
    g = _l2(grad, param, weight_decay)
    param -= lr * g / _rms_avg(g, square_avg, grad_avg, alpha, eps)


def _momentum_rmsprop_update(grad, param, square_avg, buf, *, lr, alpha, eps, weight_decay,
                             momentum):
    g = _l2(grad, param, weight_decay)
    avg = _rms_avg(g, square_avg, None, alpha, eps)
    buf *= momentum
    buf += g / avg
    param -= lr * buf


def _centered_momentum_rmsprop_update(grad, param, square_avg, grad_avg, buf, *, lr, alpha, eps,
                                      weight_decay, momentum):
    g = _l2(grad, param, weight_decay)
    avg = _rms_avg(g, square_avg, grad_avg, alpha, eps)
    buf *= momentum
    buf += g / avg
    param -= lr * buf


def _adagrad_update(grad, param, state_sum, *, clr, eps, weight_decay):
    g = _l2(grad, param, weight_decay)
    state_sum += g * g
    param -= clr * g / (np.sqrt(state_sum) + eps)


def _adadelta_update(grad, param, square_avg, acc_delta, *, lr, rho, eps, weight_decay):
    g = _l2(grad, param, weight_decay)
    _ema_sq_twin(square_avg, g, rho)
    d = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
    _ema_sq_twin(acc_delta, d, rho)
    param -= lr * d


TWINS = {_SGD_UPDATE: _sgd_update, _MOMENTUM_SGD_UPDATE: _momentum_sgd_update,
         _NESTEROV_UPDATE: _nesterov_update, _ADAM_UPDATE: _adam_update,
         _ADAMW_UPDATE: _adamw_update, _RMSPROP_UPDATE: _rmsprop_update,
         _CENTERED_RMSPROP_UPDATE: _centered_rmsprop_update,
         _MOMENTUM_RMSPROP_UPDATE: _momentum_rmsprop_update,
         _CENTERED_MOMENTUM_RMSPROP_UPDATE: _centered_momentum_rmsprop_update,
         _ADAGRAD_UPDATE: _adagrad_update, _ADADELTA_UPDATE: _adadelta_update}

# NOTE: the twins run over BLOCK elements at a time (512 KiB per float32 array: cache-sized, the
# 2-core EPYC measured has 1 MiB of L2 per core), so no temporary is as large as the model, and
# float16 is widened one block at a time. benchmarks/optimizer_memory.py (784-4096-4096-4096-10 MLP, batch 256, momentum
# SGD; floor 469 MB): peak RSS net of import 635 MB with whole-buffer twins, 488 MB blocked
# (PyTorch 2.13: 598 MB). Step time of the 1.9 M-parameter momentum update (`gradcore bench
# --quick`, row sgd_momentum_step): no slower than whole-buffer; blocks of 2**14 were ~1.5x
# slower (Python overhead per block), 2**17 to 2**18 the fastest. Measured on a loaded 2-core
# machine: the timings are rough, the memory figures are not.
BLOCK = 1 << 17


def _scalars(spec):
    """The names of a spec's scalar parameters, in its order (after the grad array)."""
    return [p.split()[-1] for p in spec.in_params.split(",")[1:]]


def _update(spec, grad, outputs, **scalars):
    """Run ``spec`` in place on ``outputs``: its kernel on a GPU, else its twin block by block."""
    if not is_cpu(grad):
        cupy_kernel(spec)(grad, *(scalars[name] for name in _scalars(spec)), *outputs)
        return
    twin, acc = TWINS[spec], acc_dtype(grad.dtype)
    if grad.size <= BLOCK and grad.dtype == acc:  # one block: no slicing (a small model's step)
        twin(grad, *outputs, **scalars)
        return
    for start in range(0, grad.size, BLOCK):
        block = slice(start, start + BLOCK)
        outs = [o[block] for o in outputs]
        work = [o.astype(acc, copy=False) for o in outs]  # float16: a float32 copy of the block
        twin(grad[block].astype(acc, copy=False), *work, **scalars)
        for o, w in zip(outs, work):
            if w is not o:  # round the float32 result once
                np.copyto(o, w, casting="same_kind")


def _check_flat(where, *arrays):
    float_dtype(*arrays)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"{where}: buffers must be 1-D and of one shape, got {sorted(shapes)}")
    if len({is_cpu(a) for a in arrays}) != 1:
        raise TypeError(f"{where}: buffers must all be NumPy or all CuPy arrays")


def sgd_step(param, grad, buf, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
             nesterov=False, first_step=False):
    """One PyTorch SGD step, in place on param (and buf); grad is left untouched.

    g = grad + weight_decay*param; with momentum: buf = g on the first step, else
    momentum*buf + (1 - dampening)*g, then g = g + momentum*buf (nesterov) or buf;
    param -= lr*g. buf may be None when momentum == 0.

    ``first_step`` needs ``buf`` to be zeros, as a fresh optimizer state is: PyTorch's buf = g
    is then the usual rule with dampening 0 (momentum * 0 + g), so no kernel needs a flag.

    >>> p, g = np.ones(2, np.float32), np.full(2, 0.5, np.float32)
    >>> sgd_step(p, g, None, lr=0.1); p
    array([0.95, 0.95], dtype=float32)
    """
    lr, momentum, weight_decay = float(lr), float(momentum), float(weight_decay)
    if momentum == 0:
        _check_flat("sgd_step", param, grad)
        _update(_SGD_UPDATE, grad, (param,), lr=lr, weight_decay=weight_decay)
        return
    if buf is None:
        raise ValueError("sgd_step: momentum != 0 needs a momentum buffer")
    _check_flat("sgd_step", param, grad, buf)
    spec = _NESTEROV_UPDATE if nesterov else _MOMENTUM_SGD_UPDATE
    _update(spec, grad, (param, buf), lr=lr, momentum=momentum,
            dampening=0.0 if first_step else float(dampening), weight_decay=weight_decay)


def adam_hyperparameters(lr, beta1, beta2, eps, weight_decay, step, decoupled):
    """The kernel's scalars for step ``step`` (Python floats, folded as PyTorch folds them)."""
    if isinstance(step, bool) or int(step) != step or step < 1:
        raise ValueError(f"adam_step: step must be an integer >= 1, got {step!r}")
    lr, beta1, beta2, wd = float(lr), float(beta1), float(beta2), float(weight_decay)
    h = dict(step_size=lr / (1.0 - beta1 ** int(step)), beta1=beta1, beta2=beta2,
             eps=float(eps), bc2_sqrt=math.sqrt(1.0 - beta2 ** int(step)))
    if decoupled:
        return h | dict(decay=1.0 - lr * wd)
    return h | dict(weight_decay=wd)


def adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=False):
    """One PyTorch Adam (L2 in the gradient) or AdamW (decoupled) step, in place.

    param, m, v are updated; grad is not. step is the 1-based step count for bias correction.

    >>> p, g = np.ones(1), np.ones(1)
    >>> m, v = np.zeros(1), np.zeros(1)
    >>> adam_step(p, g, m, v, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, step=1)
    >>> p.round(6), m, v.round(6)
    (array([0.9]), array([0.1]), array([0.001]))
    """
    _check_flat("adam_step", param, grad, m, v)
    h = adam_hyperparameters(lr, beta1, beta2, eps, weight_decay, step, decoupled)
    _update(_ADAMW_UPDATE if decoupled else _ADAM_UPDATE, grad, (param, m, v), **h)


def rmsprop_step(param, grad, square_avg, lr, alpha, eps, weight_decay=0.0, momentum=0.0,
                 grad_avg=None, buf=None):
    """One PyTorch RMSprop step, in place on param and the state; ``grad_avg`` given means
    centered, ``momentum != 0`` needs ``buf``. grad is left untouched.

    >>> p, g, sq = np.ones(1), np.full(1, 2.0), np.zeros(1)
    >>> rmsprop_step(p, g, sq, lr=0.01, alpha=0.99, eps=1e-8); sq, p.round(6)  # 0.01 * 4; 1 - 0.01 * 2 / 0.2
    (array([0.04]), array([0.9]))
    """
    scalars = dict(lr=float(lr), alpha=float(alpha), eps=float(eps), weight_decay=float(weight_decay))
    state = [square_avg] + ([grad_avg] if grad_avg is not None else [])
    if float(momentum) != 0:
        if buf is None:
            raise ValueError("rmsprop_step: momentum != 0 needs a momentum buffer")
        spec = _CENTERED_MOMENTUM_RMSPROP_UPDATE if grad_avg is not None else _MOMENTUM_RMSPROP_UPDATE
        state.append(buf)
        scalars["momentum"] = float(momentum)
    else:
        spec = _CENTERED_RMSPROP_UPDATE if grad_avg is not None else _RMSPROP_UPDATE
    _check_flat("rmsprop_step", param, grad, *state)
    _update(spec, grad, (param, *state), **scalars)


def adagrad_step(param, grad, state_sum, lr, lr_decay, eps, weight_decay, step):
    """One PyTorch Adagrad step (step ``step``, 1-based, for the learning-rate decay), in place.

    >>> p, g, s = np.ones(1), np.full(1, 2.0), np.zeros(1)
    >>> adagrad_step(p, g, s, lr=0.1, lr_decay=0.0, eps=1e-10, weight_decay=0.0, step=1); s, p
    (array([4.]), array([0.9]))
    """
    if isinstance(step, bool) or int(step) != step or step < 1:
        raise ValueError(f"adagrad_step: step must be an integer >= 1, got {step!r}")
    _check_flat("adagrad_step", param, grad, state_sum)
    clr = float(lr) / (1.0 + (int(step) - 1) * float(lr_decay))
    _update(_ADAGRAD_UPDATE, grad, (param, state_sum), clr=clr, eps=float(eps),
            weight_decay=float(weight_decay))


def adadelta_step(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay=0.0):
    """One PyTorch Adadelta step, in place on param, square_avg and acc_delta.

    >>> p, g, sq, acc = np.ones(1), np.ones(1), np.zeros(1), np.zeros(1)
    >>> adadelta_step(p, g, sq, acc, lr=1.0, rho=0.9, eps=1e-6); sq, (1 - p).round(6)  # sqrt(1e-6 / 0.1)
    (array([0.1]), array([0.003162]))
    """
    _check_flat("adadelta_step", param, grad, square_avg, acc_delta)
    _update(_ADADELTA_UPDATE, grad, (param, square_avg, acc_delta), lr=float(lr), rho=float(rho),
            eps=float(eps), weight_decay=float(weight_decay))
