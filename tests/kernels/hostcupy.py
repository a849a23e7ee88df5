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
(``numpy.asarray(a)`` raises), reductions return 0-d arrays, and ``get()`` copies to the host.

What this does not model: the GPU itself (warps, races, -ftz denormal flushing, NVRTC, CUDA
half intrinsics). tests/kernels/test_compile.py compiles the same sources with nvcc and NVRTC,
and tests/kernels/test_gpu_kernels.py runs the same checks on a real GPU when there is one.
"""
from __future__ import annotations

import atexit
import ctypes
import hashlib
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

BUILD_DIR = Path(tempfile.mkdtemp(prefix="gradcore-hostcupy-"))
atexit.register(shutil.rmtree, BUILD_DIR, ignore_errors=True)
CXX = "g++"
C_TYPES = {
    np.float16: "float16", np.float32: "float", np.float64: "double", np.bool_: "bool",
    np.int8: "signed char", np.int16: "short", np.int32: "int", np.int64: "long long",
    np.uint8: "unsigned char", np.uint16: "unsigned short", np.uint32: "unsigned int",
    np.uint64: "unsigned long long",
}
FIXED = {np.dtype(t).name: t for t in C_TYPES}  # CuPy's fixed type names are NumPy's
HEADER = """
typedef _Float16 float16;  // CuPy's half class on the host: GCC's native half
#include <cstddef>
template <class T> struct HostCArray {  // CuPy's CArray, as far as operation strings use it
  T* data; int ndim; const long long* shape; const long long* strides;  // strides in bytes
  T& operator[](ptrdiff_t i) const {  // flat C-order index
    long long off = 0;
    for (int k = ndim - 1; k >= 0; --k) { off += (i % shape[k]) * strides[k]; i /= shape[k]; }
    return *reinterpret_cast<T*>(reinterpret_cast<char*>(data) + off);
  }
  template <int K> T& operator[](const ptrdiff_t (&idx)[K]) const {
    long long off = 0;
    for (int k = 0; k < K; ++k) off += idx[k] * strides[k];
    return *reinterpret_cast<T*>(reinterpret_cast<char*>(data) + off);
  }
};
"""


# ------------------------------------------------------------------------------- arrays
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


# ------------------------------------------------------------------------------ kernels
def _params(text):
    """'raw T x, float64 s' -> [(raw, type, name)]"""
    out = []
    for item in text.split(","):
        words = item.split()
        out.append((words[0] == "raw", words[-2], words[-1]))
    return out


def _compile(source):
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    lib = BUILD_DIR / f"k{digest}.so"
    if not lib.exists():
        src = BUILD_DIR / f"k{digest}.cpp"
        src.write_text(source)
        r = subprocess.run([CXX, "-std=c++17", "-O1", "-shared", "-fPIC", "-w", "-o", str(lib),
                            str(src)], capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise RuntimeError(f"host build failed:\n{r.stderr}\n--- source ---\n{source}")
    return ctypes.CDLL(str(lib))


def _pointer(a):
    return ctypes.c_void_p(a.ctypes.data)


class _Kernel:
    def __init__(self, in_params, out_params, name, preamble):
        self.in_params, self.out_params = _params(in_params), _params(out_params)
        self.name, self.preamble = name, preamble
        self.nin, self.nout = len(self.in_params), len(self.out_params)

    def _resolve(self, args):
        """placeholder -> dtype from the array arguments (CuPy: they must agree)."""
        resolved = {}
        for (raw, typ, name), a in zip(self.in_params + self.out_params, args):
            if typ in FIXED or not isinstance(a, ndarray):
                continue
            if typ in resolved and resolved[typ] != a.dtype:
                raise TypeError(f"{self.name}: type is mismatched: {name} is {a.dtype}, but "
                                f"{typ} is {resolved[typ]}")
            resolved[typ] = a.dtype
        for (raw, typ, name), a in zip(self.in_params, args):  # scalars only where unresolved
            if typ not in FIXED and typ not in resolved and a is not None:
                resolved[typ] = np.asarray(a).dtype
        return resolved

    def _typedefs(self, resolved):
        return "\n".join(f"typedef {C_TYPES[np.dtype(d).type]} {p};" for p, d in resolved.items())


class ElementwiseKernel(_Kernel):
    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", **_):
        super().__init__(in_params, out_params, name, preamble)
        self.operation = operation

    def __call__(self, *args):
        if len(args) not in (self.nin, self.nin + self.nout):
            raise TypeError(f"{self.name}: wrong number of arguments ({len(args)})")
        for a in args:
            if isinstance(a, np.ndarray):
                raise TypeError(f"{self.name}: Unsupported type {type(a)} (a NumPy array)")
        given_out = list(args[self.nin:]) or [None] * self.nout
        resolved = self._resolve(list(args[: self.nin]) + given_out)
        params = self.in_params + self.out_params
        shaped = [a._a for (raw, _, _), a in zip(params, list(args[: self.nin]) + given_out)
                  if not raw and isinstance(a, ndarray)]
        shape = np.broadcast_shapes(*[a.shape for a in shaped]) if shaped else ()
        outs = []
        for (raw, typ, name), o in zip(self.out_params, given_out):
            want = np.dtype(FIXED.get(typ) or resolved.get(typ))
            if o is None:
                if raw:
                    raise ValueError(f"{self.name}: raw output {name} must be given")
                o = empty(shape, want)
            elif o.dtype != want:
                raise TypeError(f"{self.name}: type is mismatched: output {name} is {o.dtype}, "
                                f"expected {want}")
            elif not raw and o.shape != shape:
                raise ValueError(f"{self.name}: out shape is mismatched: {o.shape} vs {shape}")
            outs.append(o)
        values = list(args[: self.nin]) + outs
        pointers, keep, decls, loads, writebacks = [], [], [], [], []
        for k, ((raw, typ, name), a) in enumerate(zip(params, values)):
            is_out = k >= self.nin
            ctype = C_TYPES[np.dtype(FIXED[typ]).type] if typ in FIXED else typ
            if raw:
                arr = a._a
                meta = np.array(arr.shape + tuple(s for s in arr.strides), np.int64)
                keep.append(meta)
                pointers += [_pointer(arr), _pointer(meta)]
                decls.append(f"void* _p{k}, const long long* _m{k}")
                loads.append(f"HostCArray<{ctype}> {name}{{({ctype}*)_p{k}, {arr.ndim}, _m{k}, "
                             f"_m{k} + {arr.ndim}}};")
                continue
            if isinstance(a, ndarray):
                host = a._a
                if is_out and not host.flags.c_contiguous:
                    host = np.ascontiguousarray(host)
                    writebacks.append((a._a, host))
                elif not is_out:
                    host = np.ascontiguousarray(np.broadcast_to(host, shape))
            else:  # a scalar, by value in the param's type
                host = np.asarray(a, dtype=np.dtype(FIXED.get(typ) or resolved[typ])).reshape(1)
            keep.append(host)
            pointers.append(_pointer(host))
            decls.append(f"void* _p{k}")
            step = "i" if isinstance(a, ndarray) else "0"  # arrays arrive broadcast to shape
            ref = f"{ctype}&" if is_out else f"const {ctype}"
            loads.append(f"{ref} {name} = (({ctype}*)_p{k})[{step}];")
        source = "\n".join([HEADER, self._typedefs(resolved), self.preamble, f"""
extern "C" void {self.name}({", ".join(decls)}, long long _n) {{
  for (ptrdiff_t i = 0; i < _n; ++i) {{
    {" ".join(loads)}
    {self.operation};
  }}
}}"""])
        fn = getattr(_compile(source), self.name)
        fn(*pointers, ctypes.c_longlong(int(np.prod(shape))))
        for original, host in writebacks:
            original[...] = host
        return outs[0] if self.nout == 1 else tuple(outs)


class ReductionKernel(_Kernel):
    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                 name="reduce_kernel", reduce_type=None, preamble="", **_):
        super().__init__(in_params, out_params, name, preamble)
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, post_map_expr
        self.identity, self.reduce_type = identity, reduce_type
        self.tree = True  # CuPy's block order; False folds sequentially

    def __call__(self, x, axis=None, out=None, keepdims=False):
        [(_, in_t, in_name)] = self.in_params
        [(_, out_t, out_name)] = self.out_params
        if not isinstance(x, ndarray):
            raise TypeError(f"{self.name}: Unsupported type {type(x)}")
        axes = tuple(range(x.ndim)) if axis is None else tuple(
            a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
        keep = [k for k in range(x.ndim) if k not in axes]
        out_shape = tuple(x.shape[k] for k in keep)
        resolved = self._resolve([x, out])
        want = np.dtype(FIXED.get(out_t) or resolved[out_t])
        if out is None:
            out = empty(out_shape, want)
        elif out.shape != out_shape or out.dtype != want:
            raise ValueError(f"{self.name}: out is {out.shape} {out.dtype}, expected "
                             f"{out_shape} {want}")
        moved = np.ascontiguousarray(np.transpose(x._a, keep + list(axes)))
        n_out = int(np.prod(out_shape))
        n_red = moved.size // n_out if n_out else 0
        host_out = np.empty(out_shape, want)
        source = "\n".join([HEADER, self._typedefs(resolved), self.preamble, f"""
typedef {self.reduce_type or in_t} _type_reduce;
#define REDUCE(a, b) ({self.reduce_expr})
#define POST_MAP(a) ({self.post_map_expr})
static _type_reduce _fold(const {in_t}* _x, long long _first, long long _n, long long _step) {{
  _type_reduce _s = _type_reduce({self.identity});
  for (long long _j = _first; _j < _n; _j += _step) {{
    const {in_t} {in_name} = _x[_j];
    _type_reduce _a = static_cast<_type_reduce>({self.map_expr});
    _s = REDUCE(_s, _a);
  }}
  return _s;
}}
extern "C" void {self.name}(const {in_t}* _x, {out_t}* _y, long long _n_out, long long _n,
                            int _tree) {{
  for (long long _o = 0; _o < _n_out; ++_o) {{
    const {in_t}* _row = _x + _o * _n;
    _type_reduce _s;
    if (_tree) {{  // 256 strided partial folds, then a halving tree, as a CuPy block does
      _type_reduce _part[256];
      for (int _t = 0; _t < 256; ++_t) _part[_t] = _fold(_row, _t, _n, 256);
      for (int _half = 128; _half > 0; _half >>= 1)
        for (int _t = 0; _t < _half; ++_t) {{
          _type_reduce _a = _part[_t], _b = _part[_t + _half];
          _part[_t] = REDUCE(_a, _b);
        }}
      _s = _part[0];
    }} else {{
      _s = _fold(_row, 0, _n, 1);
    }}
    {out_t}& {out_name} = _y[_o];
    POST_MAP(_s);
  }}
}}"""])
        fn = getattr(_compile(source), self.name)
        fn(_pointer(moved), _pointer(host_out), ctypes.c_longlong(n_out), ctypes.c_longlong(n_red),
           ctypes.c_int(int(self.tree)))
        out._a[...] = host_out
        return out

