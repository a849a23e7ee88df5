"""A host stand-in for the slice of CuPy that gradcore's kernel layer uses, for CI without a GPU.

``ElementwiseKernel`` and ``ReductionKernel`` here take the very specs gradcore hands to CuPy
(params, operation strings, preamble with the real ``kernels/*.cuh``) and compile them with g++
into host loops that keep CuPy's semantics:

* type placeholders (``T``, ``S``, ``L``) are resolved from the array arguments, and two arrays
  of one placeholder must share a dtype (CuPy raises ``TypeError`` otherwise); Python scalars
  take the resolved type, fixed types (``float64``, ``int64``, ``bool``) are passed by value;
* non-raw arguments broadcast to one shape and ``i`` runs over it in C order; outputs are
  allocated when not given, and given outputs must have the broadcast shape and the type;
* ``raw`` arguments are the whole array, indexed by a flat C-order index or an index array;
* reductions move the reduced axes last, fold map/REDUCE from the identity (sequentially, or
  in CuPy's block order: 256 strided partial folds, then a halving tree), then POST_MAP.

``ndarray`` wraps a NumPy array in a type that is *not* a ``numpy.ndarray``, so gradcore's
kernel layer takes its GPU branch; like CuPy it refuses implicit conversion to NumPy
(``numpy.asarray(a)`` raises), reductions return 0-d arrays, and ``get()`` copies to the host. Arrays are in this file, kernels in ``kernels.py``.
CUDA-graph stream capture is modelled in ``graph.py``, CuPy's cuBLAS binding in ``cublas.py``;
``install()`` puts the stand-in in CuPy's place.

The device is modelled in ``device.py``: a stream whose host waits are counted
(``hostcupy.host_waits()``), a memory pool that counts live device bytes on a device of a set
size (``HOSTCUPY_DEVICE_BYTES``, ``hostcupy.set_device_bytes``; past it, ``OutOfMemoryError``),
and cuBLAS's float32 compute type (TF32 rounds GEMM inputs). The module namespace is an explicit
list of names CuPy has (``_NUMPY_NAMES`` and what is defined here); anything else is an
``AttributeError``, as on CuPy, never NumPy's namesake.

Where it differs from CuPy on a GPU (what a pass here does not prove):

* aliasing: it copies and broadcasts the inputs before its loop, CuPy's ElementwiseKernel passes
  the buffers themselves. So it *refuses* an input sharing memory with an output unless the
  spec declares ``alias_safe`` and the input is the output's very view (``kernels.py``;
  tests/kernels/test_hostcupy.py);
* denormals: CuPy compiles with ``-ftz=true`` (float32 denormals flush to zero on the device),
  g++ keeps them;
* contraction: NVRTC fuses ``a * b + c`` into one FMA (one rounding) by default, the g++ build
  rounds twice; results may differ in the last bit;
* math library: host libm ``expf``/``log1pf``/``tanhf`` vs CUDA's device functions (different
  ulp bounds); float16 is GCC's ``_Float16``, not CUDA's ``__half``;
* reduction order: one fixed order (256 strided partial folds and a halving tree, or
  sequential), while CuPy's plain path splits by its block size (512) and stride, and its CUB
  path (C-contiguous input reduced over >= 128 trailing elements) uses ``cub::BlockReduce``:
  float sums agree to rounding, not bit for bit;
* no threads: one sequential loop, so races, warps and launch order are invisible;
* indexing: always 64-bit; CuPy's 32-bit index variants are only compiled
  (tests/kernels/test_cupy_codegen.py), never run here;
* compilation: g++, not NVRTC; what NVRTC sees (CuPy's generated code, its CUB renaming of
  parameters) is checked by tests/kernels/test_cupy_codegen.py, and the headers under nvcc by
  tests/kernels/test_compile.py; tests/kernels/test_gpu_kernels.py runs the same checks on a
  real GPU when there is one.
"""
from __future__ import annotations

import operator
import time
import types
import weakref

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from hostcupy import device as _dev
from hostcupy import graph
from hostcupy.device import OutOfMemoryError, host_waits, set_device_bytes  # noqa: F401

__version__ = "0+hostcupy"  # not a CuPy version: `gradcore info` shows which CuPy ran


class _Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous


class ndarray(NDArrayOperatorsMixin):  # noqa: N801 (CuPy's name)
    """A NumPy array that is not one: gradcore's kernel layer sees a device array."""

    __slots__ = ("_a", "__weakref__")

    def __init__(self, a):
        _dev.pool.track(a)  # counted device memory (once per buffer; views share it)
        self._a = a
        if a.base is None:
            _OWNERS[id(a)] = self

    @property
    def base(self):
        """As CuPy's: the array that owns the memory of a view (the same object each time)."""
        owner = self._a.base
        if owner is None or not isinstance(owner, np.ndarray):
            return None
        found = _OWNERS.get(id(owner))
        return found if found is not None and found._a is owner else ndarray(owner)

    # NumPy may compute with it through the operator mixin, never convert it implicitly
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _call_ufunc(ufunc, method, inputs, kwargs)

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: ndarray(self._a.T))
    device = property(lambda self: cuda.Device(0))
    data = property(lambda self: _Pointer(self._a.__array_interface__["data"][0]))

    # host reads: each waits for the stream (what a GPU would stall on)
    def get(self):
        _dev.wait("get()")
        return self._a.copy()

    def tolist(self):
        _dev.wait("tolist()")
        return self._a.tolist()

    def item(self):
        _dev.wait("item()")
        return self._a.item()

    def __len__(self):
        return len(self._a)

    def __bool__(self):
        _dev.wait("bool()")
        return bool(self._a)

    def __float__(self):
        _dev.wait("float()")
        return float(self._a)

    def __int__(self):
        _dev.wait("int()")
        return int(self._a)

    def __getitem__(self, index):
        index = _unwrap(index)
        if any(getattr(i, "dtype", None) == np.bool_ for i in (index if isinstance(index, tuple) else (index,))):
            _dev.wait("boolean mask indexing")  # CuPy reads the mask's count to size the result
        return _wrap(_launch(operator.getitem, self._a, index))

    def __setitem__(self, index, value):
        _launch(operator.setitem, self._a, _unwrap(index), _unwrap(value))

    @property
    def __cuda_array_interface__(self):  # what marks a device array (the pointer is a host one)
        return {**self._a.__array_interface__, "version": 3, "stream": None}

    def __getattr__(self, name):  # sum, mean, max, astype, copy, reshape, transpose, fill...
        if name.startswith("__"):  # never NumPy's __array_interface__ & co: no implicit host view
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)
        method = getattr(np.ndarray, name)  # unbound: a graph node holds addresses, not arrays
        return _wrapped(method, method, self._a)

    def __repr__(self):
        _dev.wait("repr()")
        return f"hostcupy.{self._a!r}"


# NumPy owner array id -> its stand-in array, so `view.base is owner` holds as on CuPy
_OWNERS = weakref.WeakValueDictionary()


def _unwrap(x):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    return x


class _Pointer:  # CuPy's MemoryPointer, as far as .ptr
    def __init__(self, ptr):
        self.ptr = ptr


def _launch(fn, *args, **kwargs):
    """One launch on the stream: run ``fn`` (on NumPy arrays) now, and during a capture keep it
    as a node of the graph (hostcupy/graph.py)."""
    _dev.launch()
    graph.before_launch(args, kwargs)
    result = _as_arrays(fn(*args, **kwargs))  # a node writes into buffers, never into scalars
    graph.record(fn, args, kwargs, result)
    return result


def _as_arrays(x):
    if isinstance(x, np.generic):  # CuPy reductions return 0-d arrays, not scalars
        return np.asarray(x)
    if isinstance(x, (tuple, list)):
        return type(x)(_as_arrays(v) for v in x)
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):  # CuPy reductions return 0-d arrays, not scalars
        return ndarray(np.asarray(x))
    if isinstance(x, (tuple, list)):
        return type(x)(_wrap(v) for v in x)
    return x


def _new(shape, dtype, fill):
    _dev.reserve(int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return ndarray(np.empty(shape, dtype) if fill is None else _launch(np.full, shape, fill, dtype))


def asarray(a, dtype=None):
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else ndarray(_launch(np.ndarray.astype, a._a, dtype))
    # as CuPy's MemoryPointer.copy_from_host_async (cupy/cuda/memory.pyx)
    graph.refuse(RuntimeError, "the current stream is capturing, so H2D transfers are disallowed")
    _dev.launch()  # a host-to-device copy on the stream
    return ndarray(np.array(a, dtype=dtype))  # host to device: always a buffer of its own


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def empty(shape, dtype=np.float64):
    return _new(shape, dtype, None)


def zeros(shape, dtype=np.float64):
    return _new(shape, dtype, 0)


def ones(shape, dtype=np.float64):
    return _new(shape, dtype, 1)


def _wrapped(fn, key=None, *bound):
    """``fn`` on stand-in arrays, as one launch. ``key`` (the NumPy callable, if ``fn`` wraps
    it) says whether it is a cuBLAS/cuSOLVER call that a capture refuses; ``bound`` are leading
    arguments (the array of a method)."""
    def call(*args, **kwargs):
        graph.refuse_library(key or fn)
        return _wrap(_launch(fn, *bound, *[_unwrap(a) for a in args], **{k: _unwrap(v) for k, v in kwargs.items()}))
    return call


def _call_ufunc(ufunc, method, inputs, kwargs):
    """A NumPy ufunc on stand-in arrays: a launch; device memory checked before NumPy allocates
    (elementwise results have the broadcast shape); float32 GEMMs rounded to TF32 if switched on."""
    inputs = [_unwrap(x) for x in inputs]
    if "out" in kwargs:
        kwargs["out"] = _unwrap(kwargs["out"])  # one array, or a tuple of them
    elif method == "__call__" and ufunc.signature is None:
        shape = np.broadcast_shapes(*(np.shape(x) for x in inputs))
        itemsize = np.result_type(*inputs).itemsize
        _dev.reserve(ufunc.nout * int(np.prod(shape)) * itemsize)
    graph.refuse_library(ufunc)
    if ufunc is np.matmul and all(getattr(x, "dtype", None) == np.float32 for x in inputs[:2]) \
            and _dev.linalg.get_compute_type(np.float32) == _dev.linalg.COMPUTE_TYPE_TF32:
        inputs[:2] = [_dev.tf32_round(x) for x in inputs[:2]]
    return _wrap(_launch(getattr(ufunc, method), *inputs, **kwargs))


class _UFunc:
    """A NumPy ufunc on stand-in arrays, ``at`` included (CuPy >= 13 has ``cupy.add.at``)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return _call_ufunc(self._ufunc, "__call__", args, kwargs)

    def __getattr__(self, name):
        method = getattr(self._ufunc, name)
        return (lambda *args, **kwargs: _call_ufunc(self._ufunc, name, args, kwargs)) \
            if callable(method) else method


# NumPy's namesakes of what CuPy provides, as far as gradcore and its tests use them. Nothing else
# is forwarded: a name CuPy lacks must fail here as it would on a GPU.
_NUMPY_NAMES = frozenset("""
    abs absolute add arange ascontiguousarray broadcast_to clip concatenate copyto cos divide exp expm1 full
    full_like isfinite isinf isnan log log1p matmul maximum minimum multiply negative ones_like
    power reshape sign sin split sqrt square stack subtract sum tanh where zeros_like empty_like
    dtype result_type finfo iinfo newaxis inf nan pi
    tan arcsin arccos arctan arctan2 sinh cosh arcsinh arccosh arctanh log2 log10 exp2
    logaddexp reciprocal hypot mod remainder fmod floor ceil round around trunc
    prod cumsum cumprod argmax argmin all any roll pad argsort nonzero
    einsum eye diagonal moveaxis tri
    signbit logical_and logical_or logical_xor logical_not
    bool_ float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64
""".split())


# cupy.linalg, as far as gradcore uses it (CuPy's slogdet returns a plain tuple)
linalg = types.SimpleNamespace(inv=_wrapped(np.linalg.inv), det=_wrapped(np.linalg.det),
                               solve=_wrapped(np.linalg.solve),
                               cholesky=_wrapped(np.linalg.cholesky),
                               eigh=_wrapped(lambda a: tuple(np.linalg.eigh(a)), np.linalg.eigh),
                               svd=_wrapped(lambda a, **kw: tuple(np.linalg.svd(a, **kw)), np.linalg.svd),
                               slogdet=_wrapped(lambda a: tuple(np.linalg.slogdet(a)), np.linalg.slogdet))


def __getattr__(name):  # module attributes not defined in this file: the explicit list only
    if name not in _NUMPY_NAMES:
        raise AttributeError(f"module 'cupy' (the host stand-in) has no attribute {name!r}; "
                             "add it to hostcupy._NUMPY_NAMES only if CuPy has it")
    attr = getattr(np, name)
    if isinstance(attr, np.ufunc):
        return _UFunc(attr)
    if isinstance(attr, type) or not callable(attr):
        return attr
    return _wrapped(attr)


class _Device:
    def __init__(self, index=None):
        self.id = 0 if index is None else int(index)
        if self.id != 0:
            raise RuntimeError(f"hostcupy: one device only, asked for {self.id}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def use(self):
        return self

    def synchronize(self):
        _dev.wait("Device.synchronize()")


class _Event:
    """A CUDA event on the stand-in's stream: work runs when launched, so the host clock at
    ``record()`` is the stream's time there (for the benchmark machinery; no GPU timing)."""

    def __init__(self, *args, **kwargs):
        self.t = None

    def record(self, stream=None):
        self.t = time.perf_counter()

    def synchronize(self):
        _dev.wait("Event.synchronize()")


def _elapsed_ms(start, stop):
    return (stop.t - start.t) * 1e3


def get_default_memory_pool():
    return _dev.pool


_PROPERTIES = {"name": b"hostcupy (host stand-in for CuPy, not a GPU)", "major": 0, "minor": 0}

# One device of HOSTCUPY_DEVICE_BYTES; NVRTC "loads" (the probe in gradcore.backend asks for its
# version). Versions are 0: nothing here is a CUDA install.
cuda = types.SimpleNamespace(
    Device=_Device,
    Event=_Event,
    Stream=graph.Stream, Graph=graph.Graph, MemoryPool=graph.MemoryPool,
    using_allocator=graph.using_allocator, get_current_stream=graph.get_current_stream,
    get_elapsed_time=_elapsed_ms,
    runtime=types.SimpleNamespace(
        CUDARuntimeError=graph.CUDARuntimeError,
        getDeviceCount=lambda: 1, getDevice=lambda: 0, memGetInfo=_dev.mem_get_info,
        deviceSynchronize=lambda: _dev.wait("deviceSynchronize()"),
        getDeviceProperties=lambda i: {**_PROPERTIES, "totalGlobalMem": _dev.device_bytes()},
        runtimeGetVersion=lambda: 0, driverGetVersion=lambda: 0),
    nvrtc=types.SimpleNamespace(getVersion=lambda: (13, 0)),
    memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
)
_core = types.SimpleNamespace(_routines_linalg=_dev.linalg)  # what gradcore's TF32 switch uses


# The kernels build on the arrays above, so they come last; each call is a launch on the stream.
from hostcupy import cublas, kernels  # noqa: E402


def install():
    """Put the stand-in in CuPy's place: ``cupy`` and ``cupy_backends.cuda.libs.cublas``."""
    import sys  # noqa: PLC0415
    pkg = types.ModuleType("cupy_backends")
    pkg.cuda = types.ModuleType("cupy_backends.cuda")
    pkg.cuda.libs = types.ModuleType("cupy_backends.cuda.libs")
    pkg.cuda.libs.cublas = cublas
    sys.modules.update({"cupy": sys.modules[__name__], "cupy_backends": pkg,
                        "cupy_backends.cuda": pkg.cuda, "cupy_backends.cuda.libs": pkg.cuda.libs,
                        "cupy_backends.cuda.libs.cublas": cublas})


class ElementwiseKernel(kernels.ElementwiseKernel):
    __doc__ = kernels.ElementwiseKernel.__doc__

    def __call__(self, *args, **kwargs):
        return _launch(super().__call__, *args, **kwargs)


class ReductionKernel(kernels.ReductionKernel):
    __doc__ = kernels.ReductionKernel.__doc__

    def __call__(self, *args, **kwargs):
        return _launch(super().__call__, *args, **kwargs)
