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

import types

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class _Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous


class ndarray(NDArrayOperatorsMixin):  # noqa: N801 (CuPy's name)
    """A NumPy array that is not one: gradcore's kernel layer sees a device array."""

    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    # NumPy may compute with it through the operator mixin, never convert it implicitly
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = [_unwrap(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(x) for x in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*inputs, **kwargs))

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

    def get(self):
        return self._a.copy()

    def tolist(self):
        return self._a.tolist()

    def item(self):
        return self._a.item()

    def __len__(self):
        return len(self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __getitem__(self, index):
        return _wrap(self._a[_unwrap(index)])

    def __setitem__(self, index, value):
        self._a[_unwrap(index)] = _unwrap(value)

    @property
    def __cuda_array_interface__(self):  # what marks a device array (the pointer is a host one)
        return {**self._a.__array_interface__, "version": 3, "stream": None}

    def __getattr__(self, name):  # sum, mean, max, astype, copy, reshape, transpose, fill...
        if name.startswith("__"):  # never NumPy's __array_interface__ & co: no implicit host view
            raise AttributeError(name)
        attr = getattr(self._a, name)
        return _wrapped(attr) if callable(attr) else _wrap(attr)

    def __repr__(self):
        return f"hostcupy.{self._a!r}"


def _unwrap(x):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):  # CuPy reductions return 0-d arrays, not scalars
        return ndarray(np.asarray(x))
    if isinstance(x, (tuple, list)):
        return type(x)(_wrap(v) for v in x)
    return x


def asarray(a, dtype=None):
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else ndarray(a._a.astype(dtype))
    return ndarray(np.array(a, dtype=dtype))  # host to device: always a buffer of its own


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def empty(shape, dtype=np.float64):
    return ndarray(np.empty(shape, dtype))


def zeros(shape, dtype=np.float64):
    return ndarray(np.zeros(shape, dtype))


def ones(shape, dtype=np.float64):
    return ndarray(np.ones(shape, dtype))


def _wrapped(fn):
    return lambda *args, **kwargs: _wrap(fn(*[_unwrap(a) for a in args],
                                            **{k: _unwrap(v) for k, v in kwargs.items()}))


class _UFunc:
    """A NumPy ufunc on stand-in arrays, ``at`` included (CuPy >= 13 has ``cupy.add.at``)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        return _wrapped(self._ufunc)(*args, **kwargs)

    def __getattr__(self, name):
        return _wrapped(getattr(self._ufunc, name))


def __getattr__(name):  # dtypes (cupy.float32) and the rest of NumPy's namespace, wrapped
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
        pass


class OutOfMemoryError(MemoryError):
    pass


class _MemoryPool:
    """CuPy's default pool, as gradcore asks about it: nothing is ever cached here."""

    def used_bytes(self):
        return 0

    def free_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


# One device with 16 GiB; NVRTC "loads" (the probe in gradcore.backend asks for its version).
cuda = types.SimpleNamespace(
    Device=_Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0,
                                  memGetInfo=lambda: (16 << 30, 16 << 30)),
    nvrtc=types.SimpleNamespace(getVersion=lambda: (13, 0)),
    memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
)


# The kernels build on the arrays above, so they come last.
from hostcupy.kernels import ElementwiseKernel, ReductionKernel  # noqa: E402,F401
