"""The CUDA-graph capture layer: the only code of ``gc.compile`` that calls CUDA's stream capture.

UNVERIFIED ON A GPU. Everything here runs in CI on the host stand-in for CuPy
(tests/kernels/hostcupy, which models capture with CuPy 14's names and rules); no real capture
has been run yet. What a GPU must confirm is listed in docs/concepts/cuda-graphs.md.

What it builds on, from CuPy 14's source (v14.0.1):

* ``Stream.begin_capture(mode=None)`` / ``end_capture() -> Graph`` and ``Graph.launch(stream)``
  (cupy/cuda/stream.pyx, graph.pyx). The capture stream must not be the legacy default stream,
  so each capture has a non-blocking stream of its own.
* **Mode: relaxed** (CuPy's default). CuPy compiles a kernel (NVRTC) and loads its module the
  first time it is called, and its memory pool may ``cudaMalloc`` a new block; both are
  "potentially unsafe" calls that the global and thread-local capture modes forbid, while the
  relaxed mode allows them (CuPy's comment in ``begin_capture``; CUDA's
  ``cudaThreadExchangeStreamCaptureMode``). That is why the trace needs no eager warm-up run,
  which would be wrong anyway: it would apply an optimizer step twice.
* **Memory.** A graph holds raw device addresses. Memory that is allocated during capture and
  freed before the capture ends goes back to CuPy's pool, and eager work could be handed that
  block while the graph still writes it at replay. So each capture allocates from a private
  ``cupy.cuda.MemoryPool`` (``using_allocator(pool.malloc)``), which nobody else uses and which
  the :class:`Capture` holds for the graph's life; CuPy's ``PooledMemory`` only holds a weak
  reference to its pool (cupy/cuda/memory.pyx), so dropping the pool would give its cached
  blocks back to the driver.
* **cuBLAS.** CuPy's binding refuses a capturing stream (``setStream``, see
  :mod:`gradcore.kernels.gemm`). So the capture makes its own handle with CuPy's binding, binds
  it to the capture stream, sets its math mode (TF32 as ``gc.set_matmul_precision``) and a
  workspace of its own, all before the capture begins, and then calls ``cublasSgemm_v2``,
  ``cublasDgemm_v2`` and ``cublasGemmEx`` of the very library CuPy's binding is linked with,
  through ctypes (``dlsym`` on the binding's extension module finds them among its
  dependencies). cuBLAS's documentation ("CUDA Graphs support") allows capture with host
  scalars (values are baked in) and asks for a user workspace so no memory is allocated inside.
"""
from __future__ import annotations

import ctypes
import importlib

import numpy as np

from gradcore.kernels import gemm

__all__ = ["Capture", "WORKSPACE_BYTES"]

WORKSPACE_BYTES = 32 << 20  # cuBLAS's recommended workspace for Hopper (H100/H200)
_TF32_MATH, _DEFAULT_MATH, _POINTER_MODE_HOST = 3, 0, 0


class Capture:
    """One traced function's graphs: a stream, a private memory pool, a cuBLAS handle bound to
    the stream, and the graphs captured so far (one per segment between host calls).

    ``begin()`` starts capturing a segment; ``end()`` ends it, keeps its graph and launches it
    once, so the work of the trace itself executes, in order, before any host call that follows.
    """

    def __init__(self, cupy, device_index):
        self.cupy, self.device_index = cupy, device_index
        with cupy.cuda.Device(device_index):
            self.stream = cupy.cuda.Stream(non_blocking=True)
            self.pool = cupy.cuda.MemoryPool()
            binding = importlib.import_module("cupy_backends.cuda.libs.cublas")
            self.handle = binding.create()
            binding.setStream(self.handle, self.stream.ptr)  # before capture: allowed
            binding.setPointerMode(self.handle, _POINTER_MODE_HOST)
            tf32 = cupy._core._routines_linalg.get_compute_type(np.float32) == \
                cupy._core._routines_linalg.COMPUTE_TYPE_TF32  # as gc.set_matmul_precision set it
            binding.setMathMode(self.handle, _TF32_MATH if tf32 else _DEFAULT_MATH)
            self.lib = _raw_cublas(binding)
            with cupy.cuda.using_allocator(self.pool.malloc):
                self.workspace = cupy.empty(WORKSPACE_BYTES, np.uint8)
            self.lib.setWorkspace(self.handle, self.workspace.data.ptr, WORKSPACE_BYTES)
        self.gemm = gemm.CapturedGemm(self.lib, self.handle)
        self.graphs = []
        self._binding = binding
        self._allocator = None

    def begin(self):
        """Start capturing the next segment on this thread's stream."""
        self._allocator = self.cupy.cuda.using_allocator(self.pool.malloc)
        self._allocator.__enter__()
        try:
            self.stream.begin_capture()
        except BaseException:
            self._release()
            raise
        gemm.CAPTURE.gemm = self.gemm

    def end(self, launch=True):
        """End the segment: keep its graph and (normally) launch it once. ``launch=False``
        abandons a failed capture (its graph, if CUDA still gives one, is dropped)."""
        gemm.CAPTURE.gemm = None
        try:
            graph = self.stream.end_capture()
        finally:
            self._release()
        if launch:
            self.graphs.append(graph)
            graph.launch(self.stream)
        return graph

    def _release(self):
        allocator, self._allocator = self._allocator, None
        if allocator is not None:
            allocator.__exit__(None, None, None)

    def __del__(self):
        handle = getattr(self, "handle", None)
        if handle is not None:
            try:
                self._binding.destroy(handle)
            except Exception:  # noqa: BLE001 (interpreter shutdown: nothing to report to)
                pass


def _raw_cublas(binding):
    """cuBLAS's GEMMs without CuPy's ``setStream``: the host stand-in for CuPy offers its own
    (``raw_stand_in``); on a GPU, ctypes calls into the library the binding is linked with."""
    stand_in = getattr(binding, "raw_stand_in", None)
    return stand_in if stand_in is not None else _CtypesCublas(binding.__file__)


class _CtypesCublas:
    """``sgemm``/``dgemm``/``gemmEx``/``setWorkspace`` with the binding's signatures (addresses
    as ints, scalars by value), calling cuBLAS's C functions directly."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)  # the binding's module: dlsym searches its dependencies too
        p, i = ctypes.c_void_p, ctypes.c_int
        gemm_args = [p, i, i, i, i, i, p, p, i, p, i, p, p, i]
        try:
            self._sgemm = _fn(lib.cublasSgemm_v2, gemm_args)
            self._dgemm = _fn(lib.cublasDgemm_v2, gemm_args)
            self._gemm_ex = _fn(lib.cublasGemmEx, [p, i, i, i, i, i, p, p, i, i, p, i, i, p, p, i, i, i, i])
            self._set_workspace = _fn(lib.cublasSetWorkspace_v2, [p, p, ctypes.c_size_t])
        except AttributeError as e:
            raise RuntimeError(f"gc.compile (CUDA graphs): cuBLAS's C functions are not reachable "
                               f"from CuPy's binding {path} ({e}); this CuPy build is not supported") from e

    def sgemm(self, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):  # noqa: N803
        a, b = ctypes.c_float(alpha), ctypes.c_float(beta)
        _check("cublasSgemm_v2", self._sgemm(handle, transa, transb, m, n, k, ctypes.byref(a), A, lda,
                                             B, ldb, ctypes.byref(b), C, ldc))

    def dgemm(self, handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):  # noqa: N803
        a, b = ctypes.c_double(alpha), ctypes.c_double(beta)
        _check("cublasDgemm_v2", self._dgemm(handle, transa, transb, m, n, k, ctypes.byref(a), A, lda,
                                             B, ldb, ctypes.byref(b), C, ldc))

    def gemmEx(self, handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb,  # noqa: N802, N803
               beta, C, Ctype, ldc, computeType, algo):  # noqa: N803
        a, b = ctypes.c_float(alpha), ctypes.c_float(beta)  # CUBLAS_COMPUTE_32F: float scalars
        _check("cublasGemmEx", self._gemm_ex(handle, transa, transb, m, n, k, ctypes.byref(a), A, Atype,
                                             lda, B, Btype, ldb, ctypes.byref(b), C, Ctype, ldc,
                                             computeType, algo))

    def setWorkspace(self, handle, ptr, nbytes):  # noqa: N802
        _check("cublasSetWorkspace_v2", self._set_workspace(handle, ptr, nbytes))


def _fn(f, argtypes):
    f.argtypes, f.restype = argtypes, ctypes.c_int
    return f


def _check(name, status):
    if status != 0:
        raise RuntimeError(f"gc.compile (CUDA graphs): {name} failed with cuBLAS status {status}")
