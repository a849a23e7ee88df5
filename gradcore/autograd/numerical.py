"""Numerical differentiation (finite differences) and ``gradcheck``, for checking gradients.

Central differences have truncation error O(eps**2), forward differences O(eps); both lose
digits to rounding as eps shrinks (about machine-epsilon / eps), so use float64 and eps ~ 1e-6.
One gradient costs 2N (central) or N + 1 (forward) evaluations for N input elements, which is
why autodiff, not this, trains networks.
"""
from __future__ import annotations

import numpy

from gradcore.autograd.functional import vjp
from gradcore.autograd.mode import no_grad
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["numerical_grad", "gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree.

    >>> import gradcore as gc
    >>> class Twice(gc.Function):  # a wrong rule: the derivative of 2x is 2, not 3
    ...     def forward(self, x): return 2 * x
    ...     def backward(self, gy): return 3 * gy
    >>> gc.gradcheck(lambda x: Twice()(x), (gc.tensor([1.0], dtype="float64"),))
    Traceback (most recent call last):
    ...
    gradcore.autograd.numerical.GradcheckError: gradcheck: gradient of input 0 ... disagrees ...
    """


def _evaluate(f, args):
    with no_grad():
        out = f(*args)
    return numpy.asarray(as_tensor(out).numpy(), dtype=numpy.float64)


def numerical_grad(f, *inputs, eps=1e-6, method="central"):
    """Finite-difference gradient of scalar-valued ``f`` at ``inputs``, one array per input.

    >>> import gradcore as gc
    >>> g, = gc.numerical_grad(lambda x: (x ** 2).sum(), gc.tensor([3.0], dtype="float64"))
    >>> round(float(g[0]), 6)
    6.0
    """
    if method not in ("central", "forward"):
        raise ValueError(f"numerical_grad: method must be 'central' or 'forward', got {method!r}")
    args = [as_tensor(x) for x in inputs]
    base = _evaluate(f, args) if method == "forward" else None
    if base is not None and base.size != 1:
        raise ValueError(f"numerical_grad: f must return one element, got shape {base.shape}")
    grads = []
    for i, x in enumerate(args):
        if x.dtype.kind not in "fc":
            grads.append(None)
            continue
        # order C: flat below must be a view, which reshape(-1) of a transposed copy is not
        host = numpy.array(x.numpy(), dtype=x.dtype, copy=True, order="C")
        g = numpy.zeros(host.shape, dtype=numpy.float64)
        flat = host.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = _evaluate(f, _with(args, i, host, x))
            if method == "central":
                flat[j] = orig - eps
                minus = _evaluate(f, _with(args, i, host, x))
                g.reshape(-1)[j] = _scalar(plus - minus) / (2 * eps)
            else:
                g.reshape(-1)[j] = _scalar(plus - base) / eps
            flat[j] = orig
        grads.append(g)
    return tuple(grads)


def _with(args, i, host, like):
    out = list(args)
    out[i] = Tensor._make(like.device.xp.asarray(host.copy()), like.device, False, None, 0)
    return out


def _scalar(a):
    if a.size != 1:
        raise ValueError(f"numerical_grad: f must return one element, got shape {a.shape}")
    return float(a.reshape(-1)[0])


def gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """Compare the tape's gradients of ``f`` with central differences; True or GradcheckError.

    ``f`` may return any shape: both sides are projected on one fixed random cotangent u, i.e.
    the check is ``vjp(f)(u) == numerical_grad(<f, u>)``. Use float64 inputs. The error names
    the input, the element index and both values.

    >>> import gradcore as gc
    >>> gc.gradcheck(gc.tanh, (gc.randn(3, dtype="float64"),))
    True
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    args = [as_tensor(x) for x in inputs]
    for i, x in enumerate(args):
        if x.dtype.kind == "f" and x.dtype != numpy.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {x.dtype}; use float64 inputs so "
                            "finite differences are accurate")
    out, back = vjp(f, *args)
    rng = numpy.random.default_rng(seed)
    u = rng.standard_normal(out.shape).astype(out.dtype)
    try:
        analytic = back(Tensor._make(out.device.xp.asarray(u), out.device, False, None, 0))
    except RuntimeError as e:  # e.g. a custom backward that returned the wrong shape
        raise GradcheckError(f"gradcheck: {e}") from e
    u_dev = out.device.xp.asarray(u)

    def projected(*xs):
        y = f(*xs)
        return (y * Tensor._make(u_dev, y.device, False, None, 0)).sum()

    numeric = numerical_grad(projected, *args, eps=eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if n is None:
            continue
        a = numpy.asarray(a.numpy(), dtype=numpy.float64)
        if a.shape != n.shape:  # isclose would broadcast a wrongly shaped gradient
            raise GradcheckError(f"gradcheck: gradient of input {i} has shape {a.shape} but the "
                                 f"input has shape {n.shape}")
        bad = ~numpy.isclose(a, n, atol=atol, rtol=rtol)
        if bad.any():
            idx = tuple(int(k) for k in numpy.argwhere(bad)[0])
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {args[i].shape}) disagrees at element "
                f"{idx}: analytic {float(a[idx])!r} vs numerical {float(n[idx])!r} "
                f"(atol={atol}, rtol={rtol}; "
                f"{int(bad.sum())} of {bad.size} elements differ)")
    return True
