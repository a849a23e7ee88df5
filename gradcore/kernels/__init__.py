"""The kernel layer: fused CUDA kernels for CuPy arrays and their NumPy twins.

This is the bottom layer of gradcore. It imports NumPy, and CuPy only lazily, the first time a
kernel is asked for on a CuPy array; it never imports another gradcore module. Every public
function dispatches on its array argument: a ``numpy.ndarray`` runs the NumPy twin (the
specification, and the CPU path), anything else is taken to be a CuPy array and runs the kernel.

The CUDA C++ sources live in the top-level ``kernels/`` folder (shipped as the package
``gradcore.kernels.cuda_src``); each family module here declares its kernels as ``Elementwise``
or ``Reduction`` specs, and ``cupy_kernel(spec)`` turns a spec into a CuPy kernel object once.
CuPy compiles that object on its first call for each dtype and device and caches the binary.

>>> import numpy as np
>>> from gradcore import kernels
>>> kernels.activation.relu(np.array([-1.0, 2.0]))
array([0., 2.])
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import pathlib
import threading

import numpy as np

__all__ = [
    "Elementwise",
    "Reduction",
    "acc_dtype",
    "activation",
    "cupy_kernel",
    "empty",
    "is_cpu",
    "load_source",
    "loss",
    "optim",
    "preamble",
    "reduction",
    "registry",
    "tracing_twins",
]

# Where the .cuh files live when gradcore runs from a source tree without being installed.
_SOURCE_TREE_KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"


@functools.cache
def load_source(name: str) -> str:
    """Return the text of ``kernels/<name>.cuh`` (``name`` may carry the suffix).

    >>> "gradcore_acc" in load_source("common")
    True
    """
    filename = name if name.endswith((".cuh", ".cu")) else f"{name}.cuh"
    try:
        return importlib.resources.files("gradcore.kernels.cuda_src").joinpath(filename).read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return (_SOURCE_TREE_KERNELS / filename).read_text()


@functools.cache
def preamble(family: str) -> str:
    """The CuPy preamble of a family: common.cuh then the family header, half type = CuPy's.

    CuPy pastes the preamble after its own headers and type typedefs; ``float16`` is declared
    there (fully defined when a float16 array is involved), so the half specialization of
    ``gradcore_acc`` is valid in every kernel.
    """
    return "\n".join(
        ["#define GRADCORE_HALF_TYPE float16", load_source("common"), load_source(family)]
    )


def is_cpu(array) -> bool:
    """True for NumPy arrays and scalars, which take the twin (CPU) path."""
    return isinstance(array, (np.ndarray, np.generic))


def acc_dtype(dtype) -> np.dtype:
    """The dtype arithmetic runs in: float32 for float16 storage, the dtype itself otherwise."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def float_dtype(*arrays) -> np.dtype:
    """The one floating dtype that all ``arrays`` share; TypeError otherwise.

    Kernels declare their arrays with one type placeholder, so the twins insist on it too.
    """
    dtypes = {np.dtype(a.dtype) for a in arrays}
    if len(dtypes) != 1:
        raise TypeError(f"expected arrays of one dtype, got {sorted(map(str, dtypes))}")
    (dtype,) = dtypes
    if dtype.kind != "f":
        raise TypeError(f"expected a floating dtype (float16/32/64), got {dtype}")
    return dtype


@dataclasses.dataclass(frozen=True)
class Elementwise:
    """A ``cupy.ElementwiseKernel``: params, operation (C++), kernel name, header family.

    ``raw_ndim`` declares the dimensions of ``raw`` array params that are not 1-D, as
    ``(("x", 2),)``: CuPy types a raw array as ``CArray<T, ndim>``, so a multi-index ``x[idx]``
    compiles only for the ndim it is called with (the CuPy compile check needs to know it).

    ``alias_safe`` allows an input to be passed as the output itself (``bias_act(z, b, out=z)``).
    CuPy does not copy inputs that overlap outputs, so set it only where each thread reads its
    own element of every input before writing that same element of the output, and nothing
    else (no ``raw`` params, no broadcast input written). The host stand-in enforces it.
    """

    name: str
    family: str
    in_params: str
    out_params: str
    operation: str
    raw_ndim: tuple = ()
    alias_safe: bool = False


@dataclasses.dataclass(frozen=True)
class Reduction:
    """A ``cupy.ReductionKernel``; ``reduce_type`` is the accumulate type (``acc``-dependent)."""

    name: str
    family: str
    in_params: str
    out_params: str
    map_expr: str
    reduce_expr: str
    post_map_expr: str
    identity: str
    reduce_type: str


@functools.cache
def cupy_kernel(spec: Elementwise | Reduction):
    """Build the CuPy kernel object of ``spec`` once (no compilation happens here).

    CuPy compiles on the first call per dtype combination and device and caches the binary on
    disk, so memoizing the object is all that is needed to compile each kernel only once.
    """
    import cupy  # lazily: importing gradcore never needs CuPy or a GPU

    if isinstance(spec, Elementwise):
        return cupy.ElementwiseKernel(
            spec.in_params, spec.out_params, spec.operation, spec.name,
            preamble=preamble(spec.family),
        )
    return cupy.ReductionKernel(
        spec.in_params, spec.out_params, spec.map_expr, spec.reduce_expr, spec.post_map_expr,
        spec.identity, spec.name, reduce_type=spec.reduce_type, preamble=preamble(spec.family),
    )


def deliver(buf, out, dtype):
    """Hand back a twin's result ``buf`` (accumulate dtype) as ``dtype``, in ``out`` if given."""
    if out is None:
        return buf if buf.dtype == dtype else buf.astype(dtype)
    if buf is not out:
        np.copyto(out, buf, casting="same_kind")
    return out


def target(out, shape, dtype):
    """The array a twin computes into: ``out`` itself when it already has the accumulate dtype
    (no extra pass), else a fresh accumulate-dtype array that ``deliver`` casts at the end."""
    acc = acc_dtype(dtype)
    if out is not None:
        if not is_cpu(out) or out.shape != tuple(shape):
            raise ValueError(f"out must be a NumPy array of shape {tuple(shape)}")
        if out.dtype == acc:
            return out
    alloc = HOOKS.empty  # empty(shape, acc), inlined: this is on every twin's path
    return np.empty(shape, acc) if alloc is None else alloc(shape, acc)


class _Hooks(threading.local):
    # gc.compile's CPU tracer allocates the twins' buffers while it traces on this thread, so
    # that it sees the work done on them (see gradcore.compile.traced)
    empty = None


HOOKS = _Hooks()


def tracing_twins():
    """True while gc.compile's CPU tracer records the twins on this thread: a twin must then
    avoid shapes that depend on values (a replay could not follow them)."""
    return HOOKS.empty is not None


def empty(shape, dtype):
    """``np.empty(shape, dtype)`` for a twin's result buffer (or the tracer's, while tracing)."""
    alloc = HOOKS.empty
    return np.empty(shape, dtype) if alloc is None else alloc(shape, dtype)


def with_out(out):
    """CuPy kernels take ``out`` as a trailing positional argument, or allocate it."""
    return () if out is None else (out,)


# The family modules import the helpers above, so they come last.
from gradcore.kernels import activation, loss, optim, reduction  # noqa: E402

FAMILIES = (activation, loss, optim, reduction)


def registry() -> dict[str, tuple]:
    """Every kernel spec of the layer, by family: each family module's ``KERNELS`` tuple.

    The compile checks enumerate kernels from here, so a kernel added to its module's
    ``KERNELS`` is compiled (nvcc, and CuPy's generators + NVRTC) without touching a test.

    >>> sorted(registry())
    ['activation', 'loss', 'optim', 'reduction']
    """
    return {module.__name__.rsplit(".", 1)[-1]: module.KERNELS for module in FAMILIES}
