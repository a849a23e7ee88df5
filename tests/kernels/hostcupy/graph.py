"""CUDA-graph stream capture on the host stand-in for CuPy: ``Stream.begin_capture`` /
``end_capture`` -> ``Graph``, ``Graph.launch``, and the private memory pools of ``MemoryPool`` +
``using_allocator``, with CuPy 14's names and signatures (cupy/cuda/stream.pyx, graph.pyx).

What a capture does on a GPU, and how it is modelled here:

* **Nothing runs.** Work queued on a capturing stream becomes a node of the graph; it executes
  only when the graph is launched. The stand-in runs each launch at once (it needs the result's
  shape), records it as a *node* (the call, with the arrays it touched held as device
  addresses: owner buffer + offset, shape, strides), and at ``end_capture`` puts every buffer
  that existed before the capture back as it was and fills every buffer allocated during it with
  garbage (``0xFF`` bytes: NaN for floats, -1 for integers). So a caller that forgets to launch the graph, or that launches a
  segment twice, sees it, as on a GPU.
* **A node holds addresses, not references.** If a buffer a node touches is freed before a
  launch, ``Graph.launch`` raises (on a GPU: a use-after-free, ``cudaErrorIllegalAddress`` or
  silent corruption once the block is reused). A buffer allocated during capture while a
  private :class:`MemoryPool` is the allocator (``using_allocator(pool.malloc)``) belongs to
  that pool until the pool itself dies, as CuPy's pool keeps freed blocks cached: the way to
  keep a graph's memory alive.
* **Synchronous calls are illegal.** A host read or a synchronize during capture raises
  ``cudaErrorStreamCaptureUnsupported`` and invalidates the capture (``end_capture`` then raises
  ``cudaErrorStreamCaptureInvalidated``), and a host-to-device copy raises CuPy's "H2D transfers
  are disallowed" (cupy/cuda/memory.pyx). cuBLAS through CuPy raises as CuPy 14 does: its
  binding calls ``setStream``, which refuses a capturing stream (``hostcupy.cublas``); cuSOLVER
  too. CuPy's refusals are Python checks made before any CUDA call: the capture stays valid.
* **Scalars are frozen.** A node keeps the Python scalars it was called with, as a kernel node
  keeps its parameters: a learning rate passed as a float is baked into the graph.

A launch counts as one launch on the stream (``hostcupy.device``), whatever the number of nodes.
"""
from __future__ import annotations

import contextlib
import threading
import weakref

import numpy as np

from hostcupy import device as _dev

__all__ = ["CUDARuntimeError", "Stream", "Graph", "MemoryPool", "using_allocator", "capturing",
           "record", "note_alloc", "refuse", "refuse_library", "unsupported", "get_current_stream"]


class CUDARuntimeError(RuntimeError):
    """``cupy_backends.cuda.api.runtime.CUDARuntimeError``."""


_state = {"capture": None}  # the _Capture of the one stream being captured, or None
_local = threading.local()  # the allocator set by using_allocator, per thread as in CuPy


def capturing():
    """The stream being captured, or None."""
    cap = _state["capture"]
    return None if cap is None else cap.stream


def refuse(error, message, invalidate=False):
    """Raise ``error(message)`` during a capture; a no-op otherwise. CuPy's own refusals are
    checks in Python that leave the capture valid; an illegal CUDA call invalidates it."""
    cap = _state["capture"]
    if cap is not None:
        if invalidate:
            cap.invalid = cap.invalid or message
        raise error(message)


# What CuPy 14 runs through cuBLAS or cuSOLVER, whose bindings refuse a capturing stream
_LIBRARY_CALLS = {np.matmul: "cuBLAS", np.dot: "cuBLAS", np.ndarray.dot: "cuBLAS", np.einsum: "cuBLAS",
                  np.tensordot: "cuBLAS", np.linalg.inv: "cuSOLVER", np.linalg.det: "cuSOLVER",
                  np.linalg.solve: "cuSOLVER", np.linalg.cholesky: "cuSOLVER",
                  np.linalg.slogdet: "cuSOLVER", np.linalg.eigh: "cuSOLVER", np.linalg.svd: "cuSOLVER"}


def refuse_library(fn):
    """CuPy's refusal when ``fn`` (a NumPy callable) would call cuBLAS or cuSOLVER in a capture."""
    lib = _LIBRARY_CALLS.get(fn)
    if lib is not None:
        refuse(NotImplementedError, f"calling {lib} API during stream capture is currently unsupported")


def unsupported(why):
    """What a synchronous CUDA call during capture raises."""
    refuse(CUDARuntimeError, "cudaErrorStreamCaptureUnsupported: operation not permitted when "
                             f"stream is capturing (hostcupy: {why})", invalidate=True)


# ---- device addresses --------------------------------------------------------------------------
def _owner(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class _Ref:
    """A device address: the owner buffer (weakly), the byte offset, shape, strides, dtype."""

    __slots__ = ("owner", "offset", "shape", "strides", "dtype", "wrap")

    def __init__(self, a, wrap):
        base = _owner(a)
        self.owner = weakref.ref(base)
        self.offset = a.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        self.shape, self.strides, self.dtype, self.wrap = a.shape, a.strides, a.dtype, wrap

    def get(self):
        base = self.owner()
        if base is None:
            raise CUDARuntimeError(
                f"hostcupy: a CUDA graph node uses a device buffer ({self.dtype}{list(self.shape)}) "
                "that was freed after capture; on a GPU this is a use-after-free (illegal address, "
                "or silent corruption once the block is reused): keep it alive for the graph's "
                "life (a private memory pool held by the owner of the graph)")
        flat = base if base.flags.c_contiguous else base.T
        a = np.ndarray(self.shape, self.dtype, buffer=flat.reshape(-1).view(np.uint8),
                       offset=self.offset, strides=self.strides)
        if self.wrap:
            import hostcupy  # noqa: PLC0415 (the arrays module imports this one)
            return hostcupy.ndarray(a)
        return a


def _to_refs(x):
    import hostcupy  # noqa: PLC0415
    if isinstance(x, hostcupy.ndarray):
        return _Ref(x._a, True)
    if isinstance(x, np.ndarray):
        return _Ref(x, False)
    if isinstance(x, (tuple, list)):
        return type(x)(_to_refs(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_refs(v) for k, v in x.items()}
    return x  # scalars, dtypes, slices: frozen into the node


def _from_refs(x):
    if isinstance(x, _Ref):
        return x.get()
    if isinstance(x, (tuple, list)):
        return type(x)(_from_refs(v) for v in x)
    if isinstance(x, dict):
        return {k: _from_refs(v) for k, v in x.items()}
    return x


def _write_back(old, new):
    """Write a node's new result into the buffers its capture-time result lives in (nothing to
    do where the node returned a view of those very buffers)."""
    if isinstance(old, _Ref):
        dst = old.get()
        dst, src = getattr(dst, "_a", dst), getattr(new, "_a", new)
        same = dst.__array_interface__ == getattr(src, "__array_interface__", None)
        if isinstance(src, (np.ndarray, np.generic)) and not same:
            np.copyto(dst, src)
    elif isinstance(old, (tuple, list)) and isinstance(new, (tuple, list)):
        for o, n in zip(old, new):
            _write_back(o, n)


# ---- capture -----------------------------------------------------------------------------------
class _Capture:
    def __init__(self, stream):
        self.stream = stream
        self.nodes = []
        self.invalid = ""
        self.new = []  # weakrefs to buffers allocated during capture
        self.new_ids = set()
        self.before = {}  # id -> (weakref, copy) of each older buffer, before a launch touched it

    def keep(self, x):
        """Copy each buffer that ``x`` (arrays, nested) touches and that existed before the
        capture, the first time a launch is about to touch it: end_capture restores it."""
        import hostcupy  # noqa: PLC0415
        if isinstance(x, hostcupy.ndarray):
            x = x._a
        if isinstance(x, np.ndarray):
            base = _owner(x)
            if id(base) not in self.before and id(base) not in self.new_ids:
                self.before[id(base)] = (weakref.ref(base), base.copy())
        elif isinstance(x, (tuple, list)):
            for v in x:
                self.keep(v)
        elif isinstance(x, dict):
            self.keep(list(x.values()))


def before_launch(args, kwargs):
    """Called before every launch: during capture, remember what the buffers it touches held."""
    cap = _state["capture"]
    if cap is not None:
        cap.keep((args, kwargs))


def record(fn, args, kwargs, result):
    """Called after every launch: during capture, keep it as a node of the graph."""
    cap = _state["capture"]
    if cap is not None:
        cap.nodes.append((fn, _to_refs(args), _to_refs(kwargs), _to_refs(result)))


def note_alloc(base):
    """Called for every new device buffer: during capture, remember it (and let a private pool
    that is the current allocator own it)."""
    cap = _state["capture"]
    if cap is not None:
        cap.new.append(weakref.ref(base))
        cap.new_ids.add(id(base))
        pool = getattr(_local, "allocator", None)
        if pool is not None:
            pool._blocks.append(base)


class Stream:
    """``cupy.cuda.Stream``: the stand-in has one device queue; a stream object is a name for it
    that can capture. ``with stream:`` makes it current, as in CuPy."""

    null = None  # set below: the legacy default stream, which cannot capture

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.ptr = 0 if null else id(self)
        self._capture = None
        self._before = []

    def __enter__(self):
        stack = getattr(_local, "streams", None) or []
        _local.streams = stack + [self]
        return self

    def __exit__(self, *exc):
        _local.streams = _local.streams[:-1]
        return False

    def use(self):
        _local.streams = [self]
        return self

    def synchronize(self):
        unsupported("Stream.synchronize()")
        _dev.wait("Stream.synchronize()")

    def record(self, event=None):
        """Record an event on this stream (the stand-in's one queue keeps every stream in order;
        ``waits_on`` lets a test check that work handed between streams was ordered)."""
        import hostcupy  # noqa: PLC0415
        event = event or hostcupy.cuda.Event()
        event.record(self)
        event.stream = self
        return event

    def wait_event(self, event):
        self.waits_on = getattr(self, "waits_on", []) + [event.stream]

    def begin_capture(self, mode=None):
        if self.ptr in (0, 1):
            raise RuntimeError("cannot capture on the default (legacy) stream")
        if _state["capture"] is not None:
            raise CUDARuntimeError("cudaErrorIllegalState: hostcupy captures one stream at a time")
        cap = _Capture(self)
        self._capture = _state["capture"] = cap

    def end_capture(self):
        cap, self._capture = self._capture, None
        if cap is None or _state["capture"] is not cap:
            raise CUDARuntimeError("cudaErrorIllegalState: end_capture() on a stream that is not capturing")
        _state["capture"] = None
        for ref, copy in cap.before.values():  # nothing ran: what existed is as it was
            base = ref()
            if base is not None:
                np.copyto(base, copy)
        for ref in cap.new:  # and what was allocated holds garbage
            base = ref()
            if base is not None:
                (base if base.flags.c_contiguous else base.T).reshape(-1).view(np.uint8).fill(0xFF)
        if cap.invalid:
            raise CUDARuntimeError("cudaErrorStreamCaptureInvalidated: operation failed due to a "
                                   f"previous error during capture ({cap.invalid})")
        return Graph._from(cap.nodes)

    def is_capturing(self):
        return self._capture is not None


Stream.null = Stream(null=True)


def get_current_stream():
    stack = getattr(_local, "streams", None)
    return stack[-1] if stack else Stream.null


class Graph:
    """``cupy.cuda.Graph``: made by ``Stream.end_capture()``, run by ``launch(stream=None)``."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("currently this class cannot be initiated by the user and must "
                                  "be created via stream capture")

    @classmethod
    def _from(cls, nodes):
        g = cls.__new__(cls)
        g.nodes = nodes
        g.launches = 0
        return g

    def launch(self, stream=None):
        if _state["capture"] is not None:
            raise CUDARuntimeError("hostcupy: launching a graph into a capturing stream (a child "
                                   "graph) is not modelled")
        queued = _dev.queued()
        for fn, args, kwargs, result in self.nodes:
            _write_back(result, fn(*_from_refs(args), **_from_refs(kwargs)))
        _dev.set_queued(queued)
        _dev.launch()  # one graph launch on the stream, however many nodes
        self.launches += 1

    def upload(self, stream=None):
        pass


# ---- memory pools ------------------------------------------------------------------------------
class MemoryPool:
    """``cupy.cuda.MemoryPool``, as a private pool for a graph: buffers allocated during capture
    while ``using_allocator(pool.malloc)`` is active belong to the pool (cached blocks are never
    given back to the driver) until the pool is garbage collected."""

    def __init__(self, allocator=None):
        self._blocks = []
        self.malloc = _Malloc(self)

    def used_bytes(self):
        return sum(b.nbytes for b in self._blocks)

    def free_all_blocks(self):
        pass  # blocks in use by a graph are never freed


class _Malloc:
    def __init__(self, pool):
        self.pool = weakref.ref(pool)


@contextlib.contextmanager
def using_allocator(allocator=None):
    """``cupy.cuda.using_allocator``: allocations in the block come from ``allocator`` (a private
    pool's ``malloc`` here), on this thread."""
    old = getattr(_local, "allocator", None)
    _local.allocator = allocator.pool() if isinstance(allocator, _Malloc) else None
    try:
        yield
    finally:
        _local.allocator = old


_dev.hooks["wait"] = unsupported
_dev.hooks["alloc"] = note_alloc
