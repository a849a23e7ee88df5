"""Matrix products: ``matmul`` (batched, with NumPy's 1-D rules) and ``linear``; GEMMs run on
BLAS (NumPy) or cuBLAS (CuPy). This module is also ``gc.linalg``, NumPy's ``linalg`` namespace,
so it re-exports ``norm`` (:mod:`gradcore.ops.norm`) and ``inv``, ``det``, ``slogdet``, ``solve``
(:mod:`gradcore.ops.inverse`), ``cholesky`` and ``eigh`` (:mod:`gradcore.ops.decomp`), ``svd``
(:mod:`gradcore.ops.svd`)."""
from __future__ import annotations

from gradcore.autograd.function import Function, tsum
from gradcore.kernels import gemm
from gradcore.ops.norm import norm
from gradcore.ops.promotion import Promoting
from gradcore.ops.shape import reshape, sum_to, swapaxes

__all__ = ["matmul", "mm", "linear", "norm", "inv", "det", "slogdet", "solve", "cholesky", "eigh",
           "svd"]


class MatMul(Promoting):
    saves = (0, 1)

    def forward(self, x0, x1):
        if x0.ndim == 0 or x1.ndim == 0:
            raise ValueError(f"matmul: 0-d operands are not allowed (shapes {x0.shape} and "
                             f"{x1.shape}); use * for scalars")
        try:
            return gemm.matmul(x0, x1)
        except ValueError as e:
            raise ValueError(f"matmul: shapes {x0.shape} and {x1.shape} do not match: the last "
                             f"axis of the first ({x0.shape[-1]}) must equal the "
                             f"{'only' if x1.ndim == 1 else 'second-to-last'} axis of the second "
                             f"({x1.shape[0] if x1.ndim == 1 else x1.shape[-2]})") from e

    def backward(self, gy):
        x0, x1 = self.saved_tensors()
        # NOTE: 1-D operands are promoted to matrices (a row for x0, a column for x1) and the
        # gradient gets the dropped axes back before the two transposed products.
        a = reshape(x0, (1, -1)) if x0.ndim == 1 else x0
        b = reshape(x1, (-1, 1)) if x1.ndim == 1 else x1
        g = gy
        if x0.ndim == 1:
            g = g.expand_dims(-2 if x1.ndim > 1 else 0)
        if x1.ndim == 1:
            g = g.expand_dims(-1)
        g0 = g1 = None
        if self.edges[0] is not None:
            g0 = reshape(sum_to(matmul(g, swapaxes(b, -1, -2)), a.shape), x0.shape)
        if self.edges[1] is not None:
            g1 = reshape(sum_to(matmul(swapaxes(a, -1, -2), g), b.shape), x1.shape)
        return g0, g1

    def jvp(self, xs, y, txs):
        (x0, x1), (t0, t1) = xs, txs
        return tsum(None if t0 is None else gemm.matmul(t0, x1), None if t1 is None else gemm.matmul(x0, t1))


def matmul(x0, x1):
    """Matrix product with NumPy's rules: batched over leading axes, 1-D operands promoted.

    >>> import gradcore as gc
    >>> (gc.ones((2, 3)) @ gc.ones(3)).tolist()
    [3.0, 3.0]
    """
    return MatMul()(x0, x1)


def mm(x0, x1):
    """PyTorch's ``mm``: the product of two 2-D tensors (no broadcasting, no 1-D promotion).

    >>> import gradcore as gc
    >>> gc.ops.linalg.mm(gc.ones((2, 3)), gc.ones((3, 4))).shape
    (2, 4)
    """
    if getattr(x0, "ndim", 0) != 2 or getattr(x1, "ndim", 0) != 2:
        raise ValueError(f"mm: expected two 2-D tensors, got shapes {getattr(x0, 'shape', ())} "
                         f"and {getattr(x1, 'shape', ())}; use matmul (@) for other shapes")
    return MatMul()(x0, x1)


class Linear(Function):
    """``x @ w.T`` with ``w`` of shape (out_features, in_features), as ``torch.nn.Linear``."""

    saves = (0, 1)

    def forward(self, x, w):
        if x.shape[-1] != w.shape[-1] or w.ndim != 2:
            raise ValueError(f"linear: input of shape {x.shape} does not fit a weight of shape "
                             f"{w.shape} (expected (out_features, {x.shape[-1]}))")
        return gemm.matmul(x, w.T)

    def backward(self, gy):
        x, w = self.saved_tensors()
        gx = matmul(gy, w) if self.edges[0] is not None else None
        gw = None
        if self.edges[1] is not None:
            gy2 = reshape(gy, (-1, gy.shape[-1])) if gy.ndim != 2 else gy
            x2 = reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
            gw = matmul(swapaxes(gy2, 0, 1), x2)
        return gx, gw

    def jvp(self, xs, y, txs):
        (x, w), (tx, tw) = xs, txs
        return tsum(None if tx is None else gemm.matmul(tx, w.T), None if tw is None else gemm.matmul(x, tw.T))


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: the affine map of ``nn.Linear``.

    >>> import gradcore as gc
    >>> gc.linear(gc.ones((2, 3)), gc.ones((4, 3)), gc.ones(4)).shape
    (2, 4)
    """
    y = Linear()(x, weight)
    return y if bias is None else y + bias


# at the bottom: gradcore.ops.inverse and .decomp build on matmul above
from gradcore.ops.inverse import det, inv, slogdet, solve  # noqa: E402
from gradcore.ops.decomp import cholesky, eigh  # noqa: E402
from gradcore.ops.svd import svd  # noqa: E402
