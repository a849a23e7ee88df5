"""The device side of the host stand-in for CuPy: one stream whose host waits are counted, a
memory pool that counts the bytes of live device buffers on a device of a set size, and cuBLAS's
float32 compute type (TF32 or not), so GPU tests can assert on what a GPU would do.

* **Stream.** Work runs at once on the host, but every launch is recorded as queued; a host read
  (``get()``, ``item()``, ``float()``, printing...) or a synchronize drains the queue, and a
  drain that found work queued is a *host wait*: on a GPU the host would stall there until the
  queued kernels finished. :func:`host_waits` counts them, so "this step never waits for the GPU"
  is testable without a GPU (a GPU test times it instead).
* **Memory.** Each live device buffer (a NumPy base array behind stand-in arrays; views share it)
  is counted until it is garbage collected; ``used_bytes()`` is their sum, as CuPy's pool reports
  bytes in use. The device holds ``HOSTCUPY_DEVICE_BYTES`` bytes (default 4 GiB; change with
  :func:`set_device_bytes`): an allocation past that raises ``OutOfMemoryError``, before the host
  allocates anything where the size is known in advance (elementwise math).
* **TF32.** ``cupy._core._routines_linalg`` keeps a compute type per dtype; like CuPy it reads
  ``CUPY_TF32`` once, at the first float32 GEMM, and only ``set_compute_type`` changes it later.
  A float32 GEMM under ``COMPUTE_TYPE_TF32`` rounds its inputs to TF32 (10-bit mantissa), as
  tensor cores do, so a result shows whether the switch reached cuBLAS.
"""
from __future__ import annotations

import os
import traceback
import types
import weakref

import numpy as np

__all__ = ["OutOfMemoryError", "launch", "wait", "queued", "set_queued", "hooks", "host_waits",
           "pool", "set_device_bytes", "device_bytes", "reserve", "linalg", "tf32_round"]


class OutOfMemoryError(MemoryError):
    """CuPy's ``cupy.cuda.memory.OutOfMemoryError``."""


# ---- the stream ---------------------------------------------------------------------------------
_stream = {"queued": 0, "waits": 0, "where": []}
# set by graph.py: what a wait and a new buffer do while a stream is capturing
hooks = {"wait": lambda why: None, "alloc": lambda base: None}


def launch():
    """Record one launch (kernel, copy, math) on the stream: queued until the next wait."""
    _stream["queued"] += 1


def wait(why):
    """The host waits for the stream (a read or a synchronize): counted if work was queued."""
    hooks["wait"](why)  # illegal during a capture
    if _stream["queued"]:
        _stream["waits"] += 1
        where = traceback.extract_stack(limit=6)[:-2]  # who waited, for a failing test's message
        _stream["where"].append(f"{why} at " + " <- ".join(f"{f.filename}:{f.lineno}" for f in reversed(where)))
        del _stream["where"][:-8]
    _stream["queued"] = 0


def queued():
    return _stream["queued"]


def set_queued(n):
    _stream["queued"] = n


def host_waits():
    """(number of host waits that found queued work so far, where the last few happened)."""
    return _stream["waits"], list(_stream["where"])


# ---- memory -------------------------------------------------------------------------------------
_device = {"bytes": int(os.environ.get("HOSTCUPY_DEVICE_BYTES", 4 << 30))}


def set_device_bytes(n):
    """Set the device's size in bytes; returns the previous size."""
    old, _device["bytes"] = _device["bytes"], int(n)
    return old


def device_bytes():
    return _device["bytes"]


class MemoryPool:
    """CuPy's default pool as gradcore asks about it: bytes of live buffers; nothing cached."""

    def __init__(self):
        self._alive = {}  # id(base array) -> nbytes, removed when the base array is freed
        self._owners = {}  # id(base array) -> weakref to it
        self._used = 0

    def track(self, a):
        """Count the buffer behind NumPy array ``a`` (once per buffer: views share their base)."""
        base = a
        while isinstance(base.base, np.ndarray):
            base = base.base
        key = id(base)
        if key in self._alive:
            return
        reserve(base.nbytes)  # a size the stand-in learns only after NumPy allocated it
        self._alive[key] = base.nbytes
        self._used += base.nbytes
        self._owners[key] = weakref.ref(base)
        weakref.finalize(base, self._free, key)
        hooks["alloc"](base)

    def _free(self, key):
        self._used -= self._alive.pop(key, 0)
        self._owners.pop(key, None)

    def owners(self):
        """Weak references to every live device buffer."""
        return list(self._owners.values())

    def used_bytes(self):
        return self._used

    def free_bytes(self):
        return 0

    def total_bytes(self):
        return self._used

    def free_all_blocks(self):
        pass


pool = MemoryPool()


def reserve(nbytes):
    """Raise CuPy's OutOfMemoryError if ``nbytes`` more do not fit on the device."""
    free = _device["bytes"] - pool.used_bytes()
    if nbytes > free:
        raise OutOfMemoryError(f"Out of memory allocating {nbytes:,} bytes (allocated so far: "
                               f"{pool.used_bytes():,} bytes; device: {_device['bytes']:,} bytes)")


def mem_get_info():
    """``cupy.cuda.runtime.memGetInfo()``: (free, total) bytes."""
    return _device["bytes"] - pool.used_bytes(), _device["bytes"]


# ---- cuBLAS compute type ------------------------------------------------------------------------
_compute = {}  # dtype -> compute type, set on first use (CUPY_TF32) or by set_compute_type


def _get_compute_type(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _compute:  # CuPy reads CUPY_TF32 once per dtype and caches it
        tf32 = dtype == np.float32 and os.environ.get("CUPY_TF32", "0") != "0"
        _compute[dtype] = linalg.COMPUTE_TYPE_TF32 if tf32 else linalg.COMPUTE_TYPE_DEFAULT
    return _compute[dtype]


def _set_compute_type(dtype, compute_type):
    _compute[np.dtype(dtype)] = compute_type


# The names of cupy/_core/_routines_linalg.pxd that gradcore uses
linalg = types.SimpleNamespace(COMPUTE_TYPE_TBD=0, COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_PEDANTIC=2,
                               COMPUTE_TYPE_TF32=7, get_compute_type=_get_compute_type,
                               set_compute_type=_set_compute_type)


def tf32_round(x):
    """``x`` (float32) rounded to TF32's 10-bit mantissa, to nearest even, as a new array."""
    bits = np.ascontiguousarray(x, np.float32).view(np.uint32)
    finite = np.isfinite(bits.view(np.float32))
    rounded = (bits + np.uint32(0xFFF) + ((bits >> 13) & np.uint32(1))) & np.uint32(0xFFFFE000)
    return np.where(finite, rounded, bits).view(np.float32)
