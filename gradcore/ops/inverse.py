"""``linalg`` inverses and determinants: inv, det, slogdet, solve (batched over leading axes).

Users call them as ``gc.linalg.inv`` etc. The gradients are the standard matrix-calculus ones
(e.g. Giles, "An extended collection of matrix derivative results", 2008), written with these
ops and ``matmul``, so they are differentiable again.

NOTE: at a singular matrix the inverse does not exist: NumPy raises ``LinAlgError`` (re-raised
here naming the op), while CuPy returns inf/nan without raising; det's and slogdet's gradients
(which use the inverse) inherit this, although det's gradient (the adjugate) exists there.
"""
from __future__ import annotations

import numpy

from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.kernels import gemm
from gradcore.ops.linalg import matmul
from gradcore.ops.shape import broadcast_to, reshape, swapaxes

__all__ = ["inv", "det", "slogdet", "solve"]


def _mT(x):
    return swapaxes(x, -1, -2)


def _check_square(x, op):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op}: needs square matrices in the last two axes, got shape "
                         f"{tuple(x.shape)}")
    check_float(x, op)


def check_float(x, op):
    """float32 or float64: what LAPACK (NumPy) and cuSOLVER (CuPy) work in."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got dtype {x.dtype}")
    if x.dtype.itemsize < 4:  # LAPACK and cuSOLVER have no half-precision routines
        raise TypeError(f"{op}: float16 is not supported by NumPy's or CuPy's linalg; use "
                        "x.astype('float32')")


def _linalg(op, fn, *arrays):
    """``xp.linalg.<fn>`` with NumPy's errors re-raised naming the op and the shapes."""
    gemm.refuse_under_capture(op, "cuSOLVER")
    try:
        return getattr(array_module(arrays[0]).linalg, fn)(*arrays)
    except numpy.linalg.LinAlgError as e:
        shapes = [tuple(a.shape) for a in arrays]
        raise numpy.linalg.LinAlgError(f"{op}: {e} (shapes {shapes})") from e


class Inv(Function):
    saves_output = True

    def forward(self, x):
        return _linalg("inv", "inv", x)

    def backward(self, gy):  # d(X^-1) = -X^-1 dX X^-1
        y = _mT(self.saved_output())
        return -matmul(matmul(y, gy), y)

    def jvp(self, xs, y, txs):
        return -(y @ txs[0] @ y)


def inv(x):
    """Inverse of each square matrix in the last two axes, like ``numpy.linalg.inv``.

    >>> import gradcore as gc
    >>> gc.linalg.inv(gc.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    _check_square(x, "inv")
    return Inv()(x)


def _matrix_axes(t):
    """A batch of values as (..., 1, 1), to scale matrices."""
    return reshape(t, tuple(t.shape) + (1, 1))


class Det(Function):
    saves = (0,)
    saves_output = True

    def forward(self, x):
        return _linalg("det", "det", x)

    def backward(self, gy):  # d det = det * tr(X^-1 dX)
        x, = self.saved_tensors()
        return _matrix_axes(gy * self.saved_output()) * _mT(inv(x))

    def jvp(self, xs, y, txs):
        xinv = _linalg("det", "inv", xs[0])
        return y * (_t(xinv) * txs[0]).sum(axis=(-2, -1))


def _t(a):
    return a.swapaxes(-1, -2)


def det(x):
    """Determinant of each square matrix in the last two axes, like ``numpy.linalg.det``. The
    gradient ``det(X) inv(X)^T`` needs an invertible matrix (see the module note).

    >>> import gradcore as gc
    >>> x = gc.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    >>> round(gc.linalg.det(x).item(), 6)
    5.0
    """
    _check_square(x, "det")
    return Det()(x)


class Slogdet(Function):
    saves = (0,)
    n_outputs = 2  # sign, log|det|

    def forward(self, x):
        sign, logabs = _linalg("slogdet", "slogdet", x)
        xp = array_module(x)
        return xp.asarray(sign), xp.asarray(logabs)

    def backward(self, gsign, glogabs):  # the sign is piecewise constant: no gradient
        if glogabs is None:
            return None
        x, = self.saved_tensors()
        return _matrix_axes(glogabs) * _mT(inv(x))

    def jvp(self, xs, y, txs):
        xinv = _linalg("slogdet", "inv", xs[0])
        return array_module(y[0]).zeros_like(y[0]), (_t(xinv) * txs[0]).sum(axis=(-2, -1))


def slogdet(x):
    """Sign and log of the absolute determinant, like ``numpy.linalg.slogdet``: no overflow
    where ``det`` would. Differentiable in the log (the sign is a constant).

    >>> import gradcore as gc
    >>> sign, logabs = gc.linalg.slogdet(gc.tensor([[-2.0, 0.0], [0.0, 3.0]]))
    >>> sign.item(), round(logabs.item(), 5)
    (-1.0, 1.79176)
    """
    _check_square(x, "slogdet")
    return Slogdet()(x)


class Solve(Function):
    """``A X = B`` for matrices ``B`` (the wrapper handles a vector ``b``)."""

    saves = (0,)
    saves_output = True

    def forward(self, a, b):
        return _linalg("solve", "solve", a, b)

    def backward(self, gx):  # gB = A^-T gX, gA = -gB X^T
        a, = self.saved_tensors()
        gb = solve(_mT(a), gx)
        ga = -matmul(gb, _mT(self.saved_output())) if self.edges[0] is not None else None
        return ga, gb if self.edges[1] is not None else None

    def jvp(self, xs, y, txs):
        (a, b), (ta, tb) = xs, txs
        rhs = tb if ta is None else (-(ta @ y) if tb is None else tb - ta @ y)
        return _linalg("solve", "solve", a, rhs)


def solve(a, b):
    """Solves ``a @ x = b`` for ``x``, like ``numpy.linalg.solve`` (NumPy 2's rule: ``b`` is a
    vector only when 1-D, else a batch of matrices; batch axes broadcast). Differentiable in
    both.

    >>> import gradcore as gc
    >>> gc.linalg.solve(gc.tensor([[2.0, 0.0], [0.0, 4.0]]), gc.tensor([2.0, 2.0])).tolist()
    [1.0, 0.5]
    """
    _check_square(a, "solve")
    vector = b.ndim == 1
    if b.ndim == 0 or b.shape[0 if vector else -2] != a.shape[-1]:
        raise ValueError(f"solve: b of shape {tuple(b.shape)} does not match a of shape "
                         f"{tuple(a.shape)} (b needs {a.shape[-1]} rows)")
    if vector:
        b = reshape(b, (-1, 1))
    try:
        batch = numpy.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError as e:
        raise ValueError(f"solve: batch axes of a {tuple(a.shape)} and b {tuple(b.shape)} do "
                         "not broadcast") from e
    a2 = broadcast_to(a, batch + tuple(a.shape[-2:]))
    b2 = broadcast_to(b, batch + tuple(b.shape[-2:]))
    x = Solve()(a2, b2)
    return reshape(x, (-1,)) if vector else x
