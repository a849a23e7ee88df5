"""Drive CuPy's own kernel code generators without a GPU, then compile their output with NVRTC.

CuPy builds a kernel's CUDA source only when the kernel is called on device arrays, and the call
path asks the driver for the current device. Below the call path, the generators are plain
Python-visible functions of array *metadata*; this module feeds them that metadata and stops the
chain at the one point that needs a device (picking the GPU architecture), so the source and the
options are exactly what CuPy would hand NVRTC. References are to CuPy 14's sources:

* ``_kernel.pyx``: ``ElementwiseKernel.__call__`` decides the placeholder types
  (``_decide_params_type``), collapses the arrays' dimensions (``_reduce_dims``), describes every
  argument as an ``_ArgInfo(kind, type, dtype, ndim, c_contiguous, index_32_bits)`` and calls
  ``_get_elementwise_kernel``, which generates the code and calls ``compile_with_cache``.
* ``_reduction.pyx``: ``_AbstractReductionKernel._call`` adds ``IndexT`` (int32, or int64 when one
  output element reduces more than 2**31-1 inputs) to the type map; the plain path passes
  [inputs, outputs, CIndexer _in_ind, CIndexer _out_ind, int32 _block_stride] to
  ``_ReductionKernel_get_cached_function`` with the default block size (512).
* ``_cub_reduction.pyx``: ``_try_to_call_cub_reduction`` takes over for a C-contiguous input
  reduced over trailing axes of total size >= 128 (``CUB_REDUCE_SIZE_THRESHOLD``). It keeps
  params[0:2], adds ``sizeT _segment_size, _array_size`` (int32, or uint64 past INT_MAX),
  renames the kernel's own parameter names to in0/out0 *by plain text replacement* in the map and
  post-map expressions (``map_expr.replace(old_in0, 'in0')``), and calls
  ``_SimpleCubReductionKernel_get_cached_function`` with the block size of
  ``_get_cub_block_specs``. That function is ``cdef``-private inside, so the renaming and the
  block size are reproduced here (``cub_rename``, ``cub_reduction_call``), line for line. One
  segment length is compiled (1024, block size 256): the block size only sets the template
  argument of ``cub::BlockReduce``.

The memoized generators check the current device first; their ``__wrapped__`` (set by
``functools.wraps`` in ``cupy/_util.pyx``) is the same function without that check.
``compile_with_cache`` (``core.pyx``) prepends CuPy's headers and assembles the include options,
then calls ``cupy.cuda.compiler._compile_module_with_cache``; that is where the source is taken.
``compile_source`` then does what ``_compile_with_cache_cuda`` does on a cache miss: add ``-ftz=true``
and compile with ``compile_using_nvrtc`` for the given architecture (``-arch=sm_XX``).

These are CuPy's private functions: the ``cuda-compile`` extra pins CuPy 14, and a CuPy that moves
them makes this check fail loudly (AttributeError), never pass by compiling nothing.

Array metadata: an ``ndarray`` argument is described by its dtype, its dimension count after
``_reduce_dims``, C-contiguity and 32-bit indexing. All-contiguous arguments collapse to one
dimension (``_reduced_view_core``); with a non-contiguous argument of two dimensions the shape is
kept (its "ndim == 2 short cut"). So "contiguous" below is ndim 1 everywhere and "strided" is
ndim 2 with the non-raw inputs non-contiguous and the allocated outputs contiguous; "mixed"
(kernels with two or more array inputs) is ndim 2 with the first input contiguous and the
others not: ``bias_act(z, b)`` with a broadcast bias, the cross-entropy gradient with its
broadcast lse and label columns. ``raw`` arrays are never reduced: they keep the number of
dimensions the spec declares (``raw_ndim``, default 1).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools

import numpy as np
import pytest
from hostcupy.kernels import parse_params  # 'raw T x, float64 s' -> [(raw, type, name)]

ARCHS = (80, 90)
FLOATS = (np.float16, np.float32, np.float64)
# Labels may come in any integer dtype (gradcore.kernels.loss only checks the kind).
LABELS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
LAYOUTS = ("contiguous", "strided", "mixed")
PATHS = ("plain", "cub")

# The one-line result of the compile check, printed in the test session's summary (conftest.py).
SUMMARY = pytest.StashKey[str]()

# _kernel.pxd: cdef enum _ArgKind
ARG_KIND_NDARRAY, ARG_KIND_INDEXER, ARG_KIND_SCALAR = 1, 2, 3


class _Captured(Exception):
    """Raised in place of CuPy's compile-and-cache step: carries the source and options."""

    def __init__(self, source, options):
        super().__init__("captured")
        self.source, self.options = source, tuple(options)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One compilation: a kernel spec, the dtypes of its placeholders, layout, indexing, path."""

    spec: object
    types: tuple  # ((placeholder, numpy type), ...)
    layout: str
    index_32_bits: bool
    path: str  # "elementwise", "plain" or "cub"

    def label(self):
        types = ",".join(f"{p}={np.dtype(t).name}" for p, t in self.types)
        bits = 32 if self.index_32_bits else 64
        return f"{self.spec.name}[{types}|{self.layout}|idx{bits}|{self.path}]"


def placeholders(spec):
    """The type placeholders of a spec's params, in order: 'T x, S y, L t' -> ['T', 'S', 'L']."""
    fixed = set(np.sctypeDict)
    seen = []
    for text in (spec.in_params, spec.out_params):
        for item in text.split(","):
            typ = item.split()[-2]
            if typ not in fixed and typ not in seen:
                seen.append(typ)
    return seen


def type_choices(spec):
    """Every assignment of dtypes to a spec's placeholders that gradcore makes.

    T: float16/32/64 storage; S: the accumulate dtype of T (lse, loss); L: any integer (labels).
    A Reduction's reduce_type fixes its accumulate type: float serves float16/32, double float64.
    """
    from gradcore.kernels import Reduction, acc_dtype

    names = placeholders(spec)
    floats = FLOATS
    if isinstance(spec, Reduction):
        wide = "double" in spec.reduce_type
        floats = [t for t in FLOATS if (acc_dtype(t) == np.float64) == wide]
    unknown = set(names) - {"T", "S", "L"}
    if unknown:
        raise ValueError(f"{spec.name}: no dtypes known for placeholders {sorted(unknown)}")
    out = []
    for t in floats:
        for label in LABELS if "L" in names else (None,):
            choice = {"T": t, "S": acc_dtype(t).type, "L": label}
            out.append(tuple((p, choice[p]) for p in names))
    return out


def variants(specs):
    """Every (spec, dtypes, layout, indexing, path) gradcore can send through CuPy."""
    from gradcore.kernels import Elementwise

    for spec in specs:
        paths = ("elementwise",) if isinstance(spec, Elementwise) else PATHS
        for types, layout, bits, path in itertools.product(
                type_choices(spec), LAYOUTS, (True, False), paths):
            if path == "cub" and layout != "contiguous":
                continue  # CUB only takes C-contiguous input (_can_use_cub_block_reduction)
            if layout == "mixed" and len(_array_inputs(spec)) < 2:
                continue  # one input: contiguous collapses to 1-D, so "mixed" is "strided"
            yield Variant(spec, types, layout, bits, path)


def _array_inputs(spec):
    """Names of the non-raw array inputs (not the fixed-type scalars)."""
    fixed = set(np.sctypeDict)
    return [name for raw, typ, name in parse_params(spec.in_params) if not raw and typ not in fixed]


# ---------------------------------------------------------------- CuPy's generators
def _cupy():
    import cupy._core._carray as carray
    import cupy._core._cub_reduction as cub_reduction
    import cupy._core._kernel as kernel
    import cupy._core._reduction as reduction
    import cupy._core._scalar as scalar
    import cupy.cuda.compiler as compiler

    return dict(carray=carray, cub=cub_reduction, kernel=kernel, reduction=reduction,
                scalar=scalar, compiler=compiler)


@contextlib.contextmanager
def _capture_compile():
    """Stop CuPy's compile_with_cache at the module cache: raise _Captured instead."""
    compiler = _cupy()["compiler"]

    def capture(source, options=(), **_):
        raise _Captured(source, options)

    saved = compiler._compile_module_with_cache
    compiler._compile_module_with_cache = capture
    try:
        yield
    finally:
        compiler._compile_module_with_cache = saved


def _arginfo(kind, dtype, ndim, c_contiguous, index_32_bits):
    m = _cupy()
    import cupy

    typ = {ARG_KIND_NDARRAY: cupy.ndarray, ARG_KIND_INDEXER: m["carray"].Indexer,
           ARG_KIND_SCALAR: m["scalar"].CScalar}[kind]
    dtype = None if dtype is None else np.dtype(dtype)
    return m["kernel"]._ArgInfo(kind, typ, dtype, ndim, c_contiguous, index_32_bits)


def _dtype(typ, types):
    """A param's dtype: its fixed type (float64, int64...) or its placeholder's assignment."""
    return np.dtype(typ) if typ in np.sctypeDict else np.dtype(types[typ])


def _raw_ndim(spec, name):
    return dict(getattr(spec, "raw_ndim", ())).get(name, 1)


def _cupy_kernel(spec):
    """gradcore's own CuPy kernel object for spec (the real CuPy's)."""
    import cupy

    from gradcore.kernels import cupy_kernel

    kern = cupy_kernel(spec)
    assert isinstance(kern, (cupy.ElementwiseKernel, cupy.ReductionKernel)), type(kern)
    return kern


def elementwise_call(v):
    """(source, options) of ElementwiseKernel.__call__ for variant v (see the module doc)."""
    m = _cupy()
    spec, types = v.spec, dict(v.types)
    kern = _cupy_kernel(spec)
    ins, outs = parse_params(spec.in_params), parse_params(spec.out_params)
    fixed = set(np.sctypeDict)
    in_dtypes = tuple(None if typ in fixed and not raw else _dtype(typ, types)
                      for raw, typ, _ in ins)
    # outputs as if given (gradcore gives them where the placeholder is not an input's)
    out_dtypes = tuple(_dtype(typ, types) for _, typ, _ in outs)
    _, out_types, type_map = kern._decide_params_type(in_dtypes, out_dtypes)
    ndim = 1 if v.layout == "contiguous" else 2
    infos = []
    for k, (raw, typ, name) in enumerate(ins + outs):
        is_out = k >= len(ins)
        dtype = out_types[k - len(ins)] if is_out else in_dtypes[k]
        if dtype is None:  # a scalar: CScalar.apply_dtype(in_types[i])
            infos.append(_arginfo(ARG_KIND_SCALAR, np.dtype(typ), 0, True, True))
        elif raw:
            infos.append(_arginfo(ARG_KIND_NDARRAY, dtype, _raw_ndim(spec, name), True,
                                  v.index_32_bits))
        else:
            # mixed: the first input contiguous, the others not (a broadcast bias or column)
            contiguous = (v.layout == "contiguous" or is_out
                          or (v.layout == "mixed" and name == _array_inputs(spec)[0]))
            infos.append(_arginfo(ARG_KIND_NDARRAY, dtype, ndim, contiguous, v.index_32_bits))
    infos.append(_arginfo(ARG_KIND_INDEXER, None, ndim, True, v.index_32_bits))
    with _capture_compile():
        try:
            m["kernel"]._get_elementwise_kernel.__wrapped__(
                tuple(infos), type_map, kern.params, kern.operation, kern.name, kern.preamble)
        except _Captured as c:
            return c.source, c.options
    raise AssertionError("CuPy compiled nothing")


def _reduction_types(v):
    m = _cupy()
    kern = _cupy_kernel(v.spec)
    types = dict(v.types)
    [(_, in_t, _)] = parse_params(v.spec.in_params)
    [(_, out_t, _)] = parse_params(v.spec.out_params)
    in_dtype, out_dtype = _dtype(in_t, types).type, _dtype(out_t, types).type
    _, _, type_map = m["kernel"]._decide_params_type(
        kern.in_params, kern.out_params, (in_dtype,), (out_dtype,))
    return kern, in_dtype, out_dtype, type_map


def plain_reduction_call(v):
    """(source, options) of ReductionKernel's plain (non-CUB) path for variant v."""
    m = _cupy()
    kern, in_dtype, out_dtype, type_map = _reduction_types(v)
    index_t = np.int32 if v.index_32_bits else np.int64
    type_map = m["kernel"]._TypeMap(type_map._pairs + (("IndexT", index_t),))
    ndim = 1 if v.layout == "contiguous" else 2
    infos = (
        _arginfo(ARG_KIND_NDARRAY, in_dtype, ndim, v.layout == "contiguous", v.index_32_bits),
        _arginfo(ARG_KIND_NDARRAY, out_dtype, 1, True, v.index_32_bits),
        _arginfo(ARG_KIND_INDEXER, None, ndim, True, v.index_32_bits),
        _arginfo(ARG_KIND_INDEXER, None, 1, True, v.index_32_bits),
        _arginfo(ARG_KIND_SCALAR, np.int32, 0, True, True),
    )
    block_size = 512  # _reduction.pyx: _default_block_size on CUDA
    with _capture_compile():
        try:
            m["reduction"]._ReductionKernel_get_cached_function.__wrapped__(
                kern.nin, kern.nout, kern._params, infos, type_map, kern.name, block_size,
                kern.reduce_type, kern.identity, kern.map_expr, kern.reduce_expr,
                kern.post_map_expr, kern.preamble, kern.options)
        except _Captured as c:
            return c.source, c.options
    raise AssertionError("CuPy compiled nothing")


def cub_rename(params, map_expr, post_map_expr):
    """The "HACK for ReductionKernel" of _try_to_call_cub_reduction, line for line: when the
    kernel's parameters are not named in0/out0, CuPy renames them by plain text replacement
    (every occurrence, inside longer identifiers too). Returns (map_expr, post_map_expr, renamed).
    """
    old_in0, old_out0 = params[0].name, params[1].name
    if old_in0 != "in0" or old_out0 != "out0":
        return map_expr.replace(old_in0, "in0"), post_map_expr.replace(old_out0, "out0"), True
    return map_expr, post_map_expr, False


def cub_reduction_call(v, segment_size=1024):
    """(source, options) of ReductionKernel's CUB path for variant v."""
    m = _cupy()
    kern, in_dtype, out_dtype, type_map = _reduction_types(v)
    index_t = np.int32 if v.index_32_bits else np.int64
    size_t = np.int32 if v.index_32_bits else np.uint64
    pairs = type_map._pairs + (("IndexT", index_t), ("sizeT", size_t))
    info = m["kernel"]._get_param_info
    size_name = np.dtype(size_t).name
    params = (kern._params[0:2] + info(f"{size_name} _segment_size", True)
              + info(f"{size_name} _array_size", True))
    map_expr, post_map_expr, renamed = cub_rename(params, kern.map_expr, kern.post_map_expr)
    if renamed:
        params = info("T in0", True) + info("T out0", False) + params[2:]
        pairs = pairs + (("type_in0_raw", in_dtype), ("type_out0_raw", out_dtype))
    type_map = m["kernel"]._TypeMap(pairs)
    infos = (
        _arginfo(ARG_KIND_NDARRAY, in_dtype, 2, True, v.index_32_bits),
        _arginfo(ARG_KIND_NDARRAY, out_dtype, 1, True, v.index_32_bits),
        _arginfo(ARG_KIND_SCALAR, size_t, 0, True, True),
        _arginfo(ARG_KIND_SCALAR, size_t, 0, True, True),
    )
    # _get_cub_block_specs: 4 items per thread, block = clp2(ceil(segment / 4)) in [32, 512]
    items_per_thread = 4
    block_size = min(max(1 << max(0, (segment_size + 3) // 4 - 1).bit_length(), 32), 512)
    with _capture_compile():
        try:
            m["cub"]._SimpleCubReductionKernel_get_cached_function.__wrapped__(
                map_expr, kern.reduce_expr, post_map_expr, kern.reduce_type, params, infos,
                type_map, kern.name, block_size, kern.identity, kern.preamble, (),
                items_per_thread)
        except _Captured as c:
            return c.source, c.options
    raise AssertionError("CuPy compiled nothing")


def generate(v):
    """(source, options) CuPy would compile for variant v."""
    if v.path == "elementwise":
        return elementwise_call(v)
    return plain_reduction_call(v) if v.path == "plain" else cub_reduction_call(v)


@contextlib.contextmanager
def nvrtc_arch_without_device():
    """CuPy's per-device memo of the NVRTC arch option looks the device up first; inside this
    block its undecorated function (``__wrapped__``) answers for the arch given instead."""
    compiler = _cupy()["compiler"]
    memoized = compiler._get_arch_for_options_for_nvrtc
    compiler._get_arch_for_options_for_nvrtc = memoized.__wrapped__
    try:
        yield
    finally:
        compiler._get_arch_for_options_for_nvrtc = memoized


def compile_source(source, options, arch):
    """Compile as _compile_with_cache_cuda does on a cache miss (``-ftz=true``, then
    ``compile_using_nvrtc`` with ``-arch=sm_XX``); None on success, else NVRTC's log.
    Call inside ``nvrtc_arch_without_device()``."""
    compiler = _cupy()["compiler"]
    try:
        compiler.compile_using_nvrtc(source, tuple(options) + ("-ftz=true",), arch=arch,
                                     cache_in_memory=True)
    except compiler.CompileException as exc:
        return str(exc)
    return None
