"""``ElementwiseKernel`` and ``ReductionKernel`` of the host stand-in for CuPy (see the package
docstring): gradcore's operation strings built with g++, called with CuPy's argument rules.

Aliasing: this stand-in copies (broadcasts) its inputs before its loop, so an input that shares
memory with an output would read old values here whatever the order; on a GPU, CuPy's
ElementwiseKernel passes the very buffers (only its ufuncs copy overlapping inputs:
``_copy_in_args_if_needed`` in ``cupy/_core/_kernel.pyx``), so threads may read elements that
others already wrote. The stand-in therefore refuses an input that shares memory
(``numpy.shares_memory``) with an output, unless the kernel's spec declares ``alias_safe`` (each
thread reads its own element before writing that same element, and nothing else) *and* the input
is exactly the output's view (same address, shape and strides). Reductions are never alias-safe.
"""
from __future__ import annotations

import atexit
import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hostcupy import empty, ndarray

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
C_NAMES = {name: C_TYPES[t] for name, t in FIXED.items()}  # "float64" -> "double"
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


def parse_params(text):
    """'raw T x, float64 slope' -> [(True, 'T', 'x'), (False, 'float64', 'slope')]"""
    out = []
    for item in text.split(","):
        words = item.split()
        out.append((words[0] == "raw", words[-2], words[-1]))
    return out


def _alias_safe(name):
    """What gradcore's spec of kernel ``name`` declares (False for a kernel it does not know)."""
    from gradcore.kernels import registry

    return any(getattr(spec, "alias_safe", False) for family in registry().values()
               for spec in family if spec.name == name)


def _same_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides)


def check_aliasing(name, in_params, ins, out_params, outs, alias_safe):
    """Raise ValueError where an input shares memory with an output, unless alias-safe and the
    very same view (see the module docstring)."""
    for (_, _, in_name), a in zip(in_params, ins):
        if not isinstance(a, ndarray):
            continue
        for (_, _, out_name), o in zip(out_params, outs):
            if not np.shares_memory(a._a, o._a):
                continue
            if alias_safe and _same_view(a._a, o._a):
                continue
            why = ("is not the same view (a GPU thread would read elements others wrote)"
                   if alias_safe else "and the kernel is not declared alias_safe")
            raise ValueError(
                f"{name}: input {in_name} {a.shape} shares memory with output {out_name} "
                f"{o.shape} {why}; CuPy does not copy inputs, so this is a race on a GPU")


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
        self.in_params, self.out_params = parse_params(in_params), parse_params(out_params)
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
        check_aliasing(self.name, self.in_params, args[: self.nin], self.out_params, outs,
                       _alias_safe(self.name))
        values = list(args[: self.nin]) + outs
        pointers, keep, decls, loads, writebacks = [], [], [], [], []
        for k, ((raw, typ, name), a) in enumerate(zip(params, values)):
            is_out = k >= self.nin
            ctype = C_NAMES.get(typ, typ)
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
        check_aliasing(self.name, self.in_params, [x], self.out_params, [out], False)
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
