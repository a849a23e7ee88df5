"""``linalg`` decompositions of symmetric matrices: cholesky and eigh (``gc.linalg.*``).

NumPy and CuPy read one triangle of the input (cholesky and eigh the lower one, by default), so
the input is taken to be symmetric. As PyTorch's, the gradients returned are symmetric matrices:
the right derivative along symmetric perturbations (finite differences of ``f((X + X^T) / 2)``
match them), not the one-triangle derivative of the raw NumPy call.

The rules (Murray 2016 for cholesky; Giles 2008 for eigh) are written with Tensor ops, so they
are differentiable again.
"""
from __future__ import annotations

from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.kernels import gemm
from gradcore.ops.diagonal import tril
from gradcore.ops.inverse import _check_square, _linalg, _mT, solve
from gradcore.ops.linalg import matmul
from gradcore.ops.math import where
from gradcore.ops.shape import expand_dims
from gradcore.tensor import Tensor

__all__ = ["cholesky", "eigh"]


def _sym(a):
    """The symmetric part of an array (a tangent of a symmetric input)."""
    return (a + a.swapaxes(-1, -2)) / 2


class Cholesky(Function):
    saves_output = True

    def forward(self, x):
        return _linalg("cholesky", "cholesky", x)

    def backward(self, gl):
        # gA = L^-T Phi L^-1 with Phi = sym(tril(L^T gL)) with the diagonal halved, so that gA
        # is symmetric (tril(L^T gL) needs only tril(gL): L^T triu(gL, 1) is strictly upper)
        lo = self.saved_output()
        t = tril(matmul(_mT(lo), gl))
        phi = (t + _mT(tril(t, -1))) / 2
        left = solve(_mT(lo), phi)  # L^-T Phi
        return _mT(solve(_mT(lo), _mT(left)))  # (L^-T (L^-T Phi)^T)^T = L^-T Phi L^-1

    def jvp(self, xs, y, txs):
        # dL = L Phi(L^-1 dA L^-T), Phi: the lower triangle with the diagonal halved
        gemm.refuse_under_capture("cholesky (jvp)", "cuSOLVER")
        xp = array_module(y)
        inner = xp.linalg.solve(y, _sym(txs[0]))  # L^-1 dA
        inner = xp.linalg.solve(y, inner.swapaxes(-1, -2))  # L^-1 (L^-1 dA)^T = L^-1 dA L^-T
        n = y.shape[-1]
        half = xp.tri(n, n, -1, dtype=y.dtype) + xp.eye(n, dtype=y.dtype) / 2
        return y @ (inner * half)


def cholesky(x):
    """Lower-triangular ``L`` with ``L @ L^T == x`` for symmetric positive-definite ``x``, like
    ``numpy.linalg.cholesky`` (which reads the lower triangle; see the module note on
    gradients). A matrix that is not positive definite raises ``LinAlgError`` on the CPU; CuPy
    returns nan without raising.

    >>> import gradcore as gc
    >>> gc.linalg.cholesky(gc.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    _check_square(x, "cholesky")
    return Cholesky()(x)


class KeepsOutputs(Function):
    """An op with several outputs whose backward reads them all (``saves_output`` keeps only
    output 0): ``keep`` stores the arrays, ``outputs`` gives them back as Tensors linked to this
    node (so a gradient of the gradient flows through them), ``release`` drops them."""

    _kept = None

    def keep(self, *arrays):
        self._kept = arrays
        return arrays

    def outputs(self, device):
        if self._kept is None:
            self._released_error()
        return tuple(Tensor._make(a, device, True, self, i) for i, a in enumerate(self._kept))

    def release(self):
        super().release()
        self._kept = None


class Eigh(KeepsOutputs):
    n_outputs = 2  # eigenvalues w (ascending), eigenvectors V (columns)

    def forward(self, x):
        return self.keep(*_linalg("eigh", "eigh", x))

    def backward(self, gw, gv):
        w, v = self.outputs((gw if gw is not None else gv).device)
        xp = array_module(w.array)
        inner = 0
        if gv is not None:
            # NOTE: 1 / (w_j - w_i) is inf for repeated eigenvalues: the eigenvectors are not
            # unique there and their gradient is undefined (inf/nan, as PyTorch)
            k = matmul(_mT(v), gv)
            k = (k - _mT(k)) / 2
            gap = expand_dims(w, -2) - expand_dims(w, -1)  # gap[i, j] = w_j - w_i
            inner = k / where(xp.eye(w.shape[-1], dtype=bool), 1.0, gap)  # k is 0 on the diagonal
        if gw is not None:
            eye = xp.eye(w.shape[-1], dtype=w.dtype)
            inner = inner + expand_dims(gw, -1) * Tensor._make(eye, w.device, False, None, 0)
        return matmul(matmul(v, inner), _mT(v))

    def jvp(self, xs, y, txs):
        w, v = y
        xp = array_module(w)
        m = v.swapaxes(-1, -2) @ _sym(txs[0]) @ v  # V^T dA V
        tw = xp.diagonal(m, 0, -2, -1).copy()
        gap = w[..., None, :] - w[..., :, None]
        eye = xp.eye(w.shape[-1], dtype=bool)
        return tw, v @ xp.where(eye, 0, m / xp.where(eye, 1, gap))


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors (columns) of symmetric ``x``, like
    ``numpy.linalg.eigh`` (lower triangle read; see the module note on gradients). The
    eigenvectors' gradient is undefined (inf/nan) where eigenvalues repeat, as in PyTorch; a loss
    on the eigenvalues alone has a gradient everywhere.

    >>> import gradcore as gc
    >>> w, v = gc.linalg.eigh(gc.tensor([[2.0, 0.0], [0.0, 1.0]]))
    >>> w.tolist()
    [1.0, 2.0]
    """
    _check_square(x, "eigh")
    return Eigh()(x)
