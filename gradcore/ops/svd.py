"""``linalg.svd`` (``gc.linalg.svd``): singular values, and singular vectors with their gradient.

The gradient is Townsend's ("Differentiating the singular value decomposition", 2016), for
real matrices, written with Tensor ops so it is differentiable again:

    gA = U [diag(gS) + (F o (U^T gU - gU^T U)) S + S (F o (V^T gV - gV^T V))] V^T
         + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T),   F_ij = 1 / (s_j^2 - s_i^2)

NOTE: singular vectors are unique only up to sign (and rotation within repeated singular
values): a loss should not depend on those choices (``U @ diag(S) @ Vh``, ``U ** 2``), as in
PyTorch. Repeated singular values (F = inf) or a zero one (S^-1) make the vectors' gradient
undefined (inf/nan); a loss on ``S`` alone has a gradient everywhere.
"""
from __future__ import annotations

from gradcore.backend import array_module
from gradcore.kernels import gemm
from gradcore.ops.decomp import KeepsOutputs
from gradcore.ops.inverse import _mT, check_float
from gradcore.ops.linalg import matmul
from gradcore.ops.math import where
from gradcore.ops.shape import expand_dims
from gradcore.tensor import Tensor

__all__ = ["svd"]


def _gap_inverse(s, xp):
    """F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it (a Tensor expression in s)."""
    s2 = s * s
    gap = expand_dims(s2, -2) - expand_dims(s2, -1)
    eye = xp.eye(s.shape[-1], dtype=bool)
    return where(eye, 0.0, 1.0 / where(eye, 1.0, gap))


class Svd(KeepsOutputs):
    n_outputs = 3  # U (m, k), S (k,), Vh (k, n) with k = min(m, n)

    def forward(self, x):
        gemm.refuse_under_capture("svd", "cuSOLVER")
        return self.keep(*array_module(x).linalg.svd(x, full_matrices=False))

    def backward(self, gu, gs, gvh):
        device = next(g for g in (gu, gs, gvh) if g is not None).device
        u, s, vh = self.outputs(device)
        xp = array_module(s.array)
        v = _mT(vh)
        inner = 0
        if gs is not None:
            eye = Tensor._make(xp.eye(s.shape[-1], dtype=s.dtype), device, False, None, 0)
            inner = expand_dims(gs, -1) * eye
        extra = 0
        if gu is not None or gvh is not None:
            f = _gap_inverse(s, xp)
        if gu is not None:
            ut_gu = matmul(_mT(u), gu)
            inner = inner + (f * (ut_gu - _mT(ut_gu))) * expand_dims(s, -2)  # (.) S
            gu_rest = gu - matmul(u, ut_gu)  # (I - U U^T) gU
            extra = extra + matmul(gu_rest / expand_dims(s, -2), vh)
        if gvh is not None:
            gv = _mT(gvh)
            vt_gv = matmul(vh, gv)
            inner = inner + expand_dims(s, -1) * (f * (vt_gv - _mT(vt_gv)))  # S (.)
            gv_rest = gv - matmul(v, vt_gv)  # (I - V V^T) gV
            extra = extra + matmul(u / expand_dims(s, -2), _mT(gv_rest))
        return matmul(matmul(u, inner), vh) + extra

    def jvp(self, xs, y, txs):
        u, s, vh = y
        xp = array_module(s)
        v, t = vh.swapaxes(-1, -2), txs[0]
        p = u.swapaxes(-1, -2) @ t @ v  # U^T dA V
        ts = xp.diagonal(p, 0, -2, -1).copy()
        eye = xp.eye(s.shape[-1], dtype=bool)
        gap = s[..., None, :] ** 2 - s[..., :, None] ** 2
        f = xp.where(eye, 0, 1 / xp.where(eye, 1, gap))
        sr, sc = s[..., None, :], s[..., :, None]  # X * sr = X S, sc * X = S X
        pt = p.swapaxes(-1, -2)
        tu = u @ (f * (p * sr + sc * pt)) + (t @ v - u @ p) / sr
        tv = v @ (f * (sc * p + pt * sr)) + (t.swapaxes(-1, -2) @ u - v @ pt) / sr
        return tu, ts, tv.swapaxes(-1, -2)


def svd(x, full_matrices=False, compute_uv=True):
    """Singular value decomposition ``x = U @ diag(S) @ Vh`` of the last two axes, like
    ``numpy.linalg.svd`` but reduced by default (``full_matrices=True``, NumPy's default, is
    refused: the extra columns of U or V have no gradient). With ``compute_uv=False``, only S.
    See the module notes on sign choices and repeated singular values.

    >>> import gradcore as gc
    >>> gc.linalg.svd(gc.tensor([[3.0, 0.0], [0.0, -2.0]]), compute_uv=False).tolist()
    [3.0, 2.0]
    """
    if x.ndim < 2:
        raise ValueError(f"svd: needs a tensor of at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    check_float(x, "svd")
    if full_matrices and x.shape[-1] != x.shape[-2]:
        raise NotImplementedError("svd: full_matrices=True is not supported for non-square "
                                  f"matrices (shape {tuple(x.shape)}); the extra singular "
                                  "vectors are arbitrary and have no gradient")
    u, s, vh = Svd()(x)
    return (u, s, vh) if compute_uv else s
