"""``cupy_backends.cuda.libs.cublas`` on the host stand-in: the handle calls and the GEMMs of
CuPy 14's binding, on device addresses (``a.data.ptr``), column-major as cuBLAS.

Like CuPy 14 (cupy_backends/cuda/libs/cublas.pyx), every routine first binds the handle to the
*current* stream with ``setStream``, and ``setStream`` raises ``NotImplementedError`` when that
stream is capturing: CuPy's binding cannot be called during a capture at all.

``raw_stand_in`` is cuBLAS called directly, as gradcore's capture layer calls the loaded
library through ctypes (gradcore/compile/cuda_capture.py): no ``setStream``, so the handle runs
on the stream it was bound to before the capture. During a capture the GEMM becomes a graph
node (hostcupy/graph.py) if, and only if, that stream is the capturing one; otherwise it would
run outside the graph on a GPU, and here it raises.
"""
from __future__ import annotations

import ctypes
import itertools

import numpy as np

from hostcupy import device as _dev
from hostcupy import graph

CUBLAS_OP_N, CUBLAS_OP_T = 0, 1
CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH = 0, 3
CUBLAS_POINTER_MODE_HOST = 0
CUDA_R_32F, CUDA_R_64F, CUDA_R_16F = 0, 1, 2
CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_64F, CUBLAS_COMPUTE_32F_FAST_TF32 = 68, 70, 77
CUBLAS_GEMM_DEFAULT = -1
_DTYPES = {CUDA_R_32F: np.float32, CUDA_R_64F: np.float64, CUDA_R_16F: np.float16}

_handles = {}
_ids = itertools.count(1)


def create():
    h = next(_ids)
    _handles[h] = {"stream": 0, "math": CUBLAS_DEFAULT_MATH, "workspace": None}
    return h


def destroy(handle):
    _handles.pop(handle)


def setStream(handle, stream):  # noqa: N802 (CuPy's name)
    if graph.capturing() is not None and graph.capturing().ptr == stream:
        raise NotImplementedError("calling cuBLAS API during stream capture is currently unsupported")
    _handles[handle]["stream"] = stream


def getStream(handle):  # noqa: N802
    return _handles[handle]["stream"]


def setMathMode(handle, mode):  # noqa: N802
    _handles[handle]["math"] = mode


def getMathMode(handle):  # noqa: N802
    return _handles[handle]["math"]


def setPointerMode(handle, mode):  # noqa: N802
    if mode != CUBLAS_POINTER_MODE_HOST:
        raise NotImplementedError("hostcupy: only the host pointer mode is modelled")


def _set_current_stream(handle):
    setStream(handle, graph.get_current_stream().ptr)


def _scalar(ptr, dtype):
    """The host scalar at address ``ptr`` (CUBLAS_POINTER_MODE_HOST)."""
    return dtype((ctypes.c_float if dtype == np.float32 else ctypes.c_double).from_address(ptr).value)


def sgemm(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):  # noqa: N803
    _set_current_stream(handle)
    _gemm(handle, np.float32, transa, transb, m, n, k, _scalar(alpha, np.float32), A, lda, B, ldb,
          _scalar(beta, np.float32), C, ldc, _handles[handle]["math"] == CUBLAS_TF32_TENSOR_OP_MATH)


def dgemm(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):  # noqa: N803
    _set_current_stream(handle)
    _gemm(handle, np.float64, transa, transb, m, n, k, _scalar(alpha, np.float64), A, lda, B, ldb,
          _scalar(beta, np.float64), C, ldc, False)


# ---- device addresses as arrays ----------------------------------------------------------------
def _matrix(ptr, rows, cols, ld, dtype):
    """The column-major ``rows x cols`` matrix at device address ``ptr`` with leading dimension
    ``ld``, as a NumPy view of the buffer that holds it."""
    itemsize = np.dtype(dtype).itemsize
    if ld < max(1, rows):
        raise ValueError(f"hostcupy cuBLAS: leading dimension {ld} < rows {rows} (CUBLAS_STATUS_INVALID_VALUE)")
    for ref in _dev.pool.owners():
        base = ref()
        if base is None:
            continue
        start = base.__array_interface__["data"][0]
        if start <= ptr < start + max(base.nbytes, 1):
            flat = (base if base.flags.c_contiguous else base.T).reshape(-1).view(np.uint8)
            return np.ndarray((rows, cols), dtype, buffer=flat, offset=ptr - start,
                              strides=(itemsize, ld * itemsize))
    raise ValueError(f"hostcupy cuBLAS: address {ptr:#x} is not in any live device buffer")


def _gemm_node(a, b, c, alpha, beta, tf32):
    if tf32:
        a, b = _dev.tf32_round(a), _dev.tf32_round(b)
    ab = np.matmul(a.astype(np.float32) if a.dtype == np.float16 else a,
                   b.astype(np.float32) if b.dtype == np.float16 else b)
    c[...] = alpha * ab + (beta * c if beta else 0)


def _gemm(handle, dtype, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, tf32):  # noqa: N803
    """C (m x n) = alpha op(A) op(B) + beta C, all column-major; one launch (or graph node)."""
    a = _matrix(A, m, k, lda, dtype) if transa == CUBLAS_OP_N else _matrix(A, k, m, lda, dtype).T
    b = _matrix(B, k, n, ldb, dtype) if transb == CUBLAS_OP_N else _matrix(B, n, k, ldb, dtype).T
    c = _matrix(C, m, n, ldc, dtype)
    cap = graph.capturing()
    if cap is not None and _handles[handle]["stream"] != cap.ptr:
        raise RuntimeError("hostcupy cuBLAS: a GEMM during capture on a handle bound to another "
                           "stream: on a GPU it would run outside the graph")
    _dev.launch()
    args, kwargs = (a, b, c), {"alpha": alpha, "beta": beta, "tf32": tf32}
    graph.before_launch(args, kwargs)
    _gemm_node(*args, **kwargs)
    graph.record(_gemm_node, args, kwargs, None)


class _Raw:
    """cuBLAS without CuPy's binding: what gradcore calls through ctypes on a GPU. Scalars are
    passed by value here (the ctypes layer passes host pointers)."""

    def sgemm(self, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):  # noqa: N803
        _gemm(handle, np.float32, transa, transb, m, n, k, np.float32(alpha), A, lda, B, ldb,
              np.float32(beta), C, ldc, _handles[handle]["math"] == CUBLAS_TF32_TENSOR_OP_MATH)

    def dgemm(self, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):  # noqa: N803
        _gemm(handle, np.float64, transa, transb, m, n, k, np.float64(alpha), A, lda, B, ldb,
              np.float64(beta), C, ldc, False)

    def gemmEx(self, handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb,  # noqa: N802, N803
               beta, C, Ctype, ldc, computeType, algo):  # noqa: N803
        if not Atype == Btype == Ctype:
            raise NotImplementedError("hostcupy cuBLAS: gemmEx with mixed types is not modelled")
        _gemm(handle, _DTYPES[Atype], transa, transb, m, n, k, np.float32(alpha), A, lda, B, ldb,
              np.float32(beta), C, ldc, computeType == CUBLAS_COMPUTE_32F_FAST_TF32)

    def setWorkspace(self, handle, ptr, nbytes):  # noqa: N802
        _handles[handle]["workspace"] = (ptr, nbytes)


raw_stand_in = _Raw()
