"""The one GEMM path: every matrix product of the ops (matmul, linear, the fused Linear family,
their backward and jvp) calls ``matmul`` here; its NumPy twin is ``numpy.matmul``.

Outside a CUDA-graph capture it is ``xp.matmul`` (NumPy, or CuPy's cuBLAS path). During a
capture (``gc.compile`` on a GPU) CuPy cannot do it: in CuPy 14 every cuBLAS routine of its
binding first calls ``setStream(handle, current stream)``, and ``setStream`` raises
``NotImplementedError`` when that stream is capturing (cupy_backends/cuda/libs/cublas.pyx,
``setStream``; tracked in cupy issue 6290). So the capture layer (gradcore/compile/cuda_capture.py)
binds a cuBLAS handle of its own to the capture stream *before* the capture begins and sets
``CAPTURE.gemm`` to a ``CapturedGemm``, which calls the routines without ``setStream``;
``matmul`` then goes there.

cuBLAS is column-major and gradcore's arrays are row-major. A row-major ``(m, n)`` C is, read
column-major, ``C^T`` (n x m); and ``C^T = B^T A^T``, where a row-major operand read column-major
is already its transpose. So C = A @ B is one call ``gemm(op_b, op_a, n, m, k, B, A, C)``: no
copy for C-contiguous operands or transposed views of them (``w.T``), which become ``op = T``.

Ops that run through libraries a capture cannot call (einsum and tensordot through CuPy's
cuBLAS path; inverse, solve, det, cholesky, eigh, svd through cuSOLVER) call
``refuse_under_capture`` first, so the error names the op instead of a CuPy internal.

>>> import numpy as np
>>> from gradcore.kernels import gemm
>>> gemm.matmul(np.ones((2, 3)), np.ones((3, 4))).shape
(2, 4)
"""
from __future__ import annotations

import threading

import numpy as np

from gradcore.kernels import is_cpu

__all__ = ["matmul", "CapturedGemm", "CAPTURE", "refuse_under_capture"]

# cuBLAS's enums (cublas_api.h, library_types.h), as CuPy's binding names them
OP_N, OP_T = 0, 1
CUDA_R_16F = 2
COMPUTE_32F, GEMM_DEFAULT = 68, -1


class _Capture(threading.local):
    gemm = None  # the CapturedGemm of the capture running on this thread, or None


CAPTURE = _Capture()


def matmul(x0, x1, out=None):
    """``x0 @ x1`` with NumPy's matmul rules, written into ``out`` when given.

    >>> import numpy as np
    >>> from gradcore.kernels.gemm import matmul
    >>> out = np.empty((2, 2)); matmul(np.eye(2), np.full((2, 2), 3.0), out=out) is out
    True
    """
    captured = CAPTURE.gemm
    if captured is not None and not is_cpu(x0):
        return captured.matmul(x0, x1, out)
    if is_cpu(x0):
        xp = np
    else:
        import cupy as xp  # noqa: PLC0415 (a CuPy array exists, so CuPy is imported)
    return xp.matmul(x0, x1) if out is None else xp.matmul(x0, x1, out=out)


def refuse_under_capture(op, library):
    """Raise a clear error if a CUDA graph is being captured on this thread: ``op`` runs
    through ``library``, which CuPy cannot call on a capturing stream."""
    if CAPTURE.gemm is not None:
        raise RuntimeError(f"{op}: cannot run inside a CUDA-graph capture (gc.compile on a GPU): "
                           f"it calls {library}, which CuPy refuses while a stream is capturing; "
                           "compute it outside the compiled function, or compile for the CPU")


class CapturedGemm:
    """GEMMs on a cuBLAS ``handle`` already bound to the capture stream, through ``lib``: an
    object with CuPy's binding signatures for ``sgemm``, ``dgemm`` and ``gemmEx`` (device
    addresses as ints, scalars by value) that does not call ``setStream``."""

    def __init__(self, lib, handle):
        self.lib, self.handle = lib, handle

    def matmul(self, x0, x1, out=None):
        import cupy as xp  # noqa: PLC0415
        if x0.ndim > 2 and x1.ndim == 2 and x0.shape[-1] == x1.shape[0]:
            # a stack of rows times one matrix (Linear on (batch, seq, features)): one GEMM
            rows = xp.ascontiguousarray(x0).reshape(-1, x0.shape[-1])
            y = self.matmul(rows, x1).reshape(x0.shape[:-1] + x1.shape[1:])
            if out is None:
                return y
            out[...] = y
            return out
        if x0.ndim == 0 or x1.ndim == 0 or x0.ndim > 2 or x1.ndim > 2:
            raise RuntimeError(f"matmul: operands of shapes {x0.shape} and {x1.shape}: only 1-D "
                               "and 2-D GEMMs, and N-D times 2-D, can be captured into a CUDA "
                               "graph (gc.compile on a GPU); batched matmul is not supported there")
        if x0.dtype != x1.dtype or x0.dtype not in (np.float16, np.float32, np.float64):
            raise TypeError(f"matmul: dtypes {x0.dtype} and {x1.dtype} (shapes {x0.shape}, "
                            f"{x1.shape}): a captured GEMM needs one of float16/32/64 for both")
        a = x0.reshape(1, -1) if x0.ndim == 1 else x0
        b = x1.reshape(-1, 1) if x1.ndim == 1 else x1
        (m, k), (k1, n) = a.shape, b.shape
        if k != k1:
            raise ValueError(f"matmul: shapes {x0.shape} and {x1.shape} do not match: the last "
                             "axis of the first must equal the first (or only) axis of the second")
        shape = x0.shape[:-1] + x1.shape[1:]  # NumPy's: a 1-D operand's axis is dropped
        if out is not None and (out.shape != shape or out.dtype != x0.dtype):
            raise ValueError(f"matmul: out of shape {out.shape} and dtype {out.dtype}, expected "
                             f"{shape} and {x0.dtype}")
        direct = out is not None and out.flags.c_contiguous
        c = out.reshape(m, n) if direct else xp.empty((m, n), x0.dtype)
        if m and n and not k:
            c.fill(0)
        elif m and n:
            op_b, ldb, b = _column_major(xp, b)
            op_a, lda, a = _column_major(xp, a)
            self._gemm(x0.dtype, op_b, op_a, n, m, k, b, ldb, a, lda, c, n)
        if out is None:
            return c.reshape(shape)
        if not direct:
            out[...] = c.reshape(shape)
        return out

    def _gemm(self, dtype, op_a, op_b, m, n, k, a, lda, b, ldb, c, ldc):
        args = (self.handle, op_a, op_b, m, n, k, 1.0, a.data.ptr, lda)
        if dtype == np.float32:  # TF32 or not: the handle's math mode, set by the capture layer
            self.lib.sgemm(*args, b.data.ptr, ldb, 0.0, c.data.ptr, ldc)
        elif dtype == np.float64:
            self.lib.dgemm(*args, b.data.ptr, ldb, 0.0, c.data.ptr, ldc)
        else:  # half storage, float32 accumulation: what CuPy's matmul does for float16
            self.lib.gemmEx(self.handle, op_a, op_b, m, n, k, 1.0, a.data.ptr, CUDA_R_16F, lda,
                            b.data.ptr, CUDA_R_16F, ldb, 0.0, c.data.ptr, CUDA_R_16F, ldc,
                            COMPUTE_32F, GEMM_DEFAULT)


def _column_major(xp, x):
    """(op, ld, x) such that ``op`` applied to the column-major matrix at x's address with
    leading dimension ``ld`` is ``x.T`` (see the module docstring); copies x only when its
    strides fit neither reading (negative, broadcast or gapped in the inner axis)."""
    r, c = x.shape
    size = x.itemsize
    s0 = x.strides[0] if r > 1 else c * size  # a stride of a length-1 axis is never used
    s1 = x.strides[1] if c > 1 else size
    if s1 == size and s0 % size == 0 and s0 // size >= max(1, c):
        return OP_N, s0 // size, x  # row-major: read column-major it is x.T
    if s0 == size and s1 % size == 0 and s1 // size >= max(1, r):
        return OP_T, s1 // size, x  # column-major (a transposed view): x itself, so op = T
    return OP_N, max(1, c), xp.ascontiguousarray(x)
