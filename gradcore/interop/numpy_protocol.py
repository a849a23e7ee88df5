"""NumPy's dispatch protocols: ``numpy.f(t)`` on a Tensor runs gradcore's op for ``f``.

NEP 13 (``__array_ufunc__``) covers the ufuncs (``numpy.exp``, ``numpy.add``, ``numpy.matmul``,
and ``ndarray + t``, which NumPy turns into ``numpy.add(ndarray, t)``); NEP 18
(``__array_function__``) covers the other functions (``numpy.sum``, ``numpy.concatenate``...).
Three tables, each with explicit entries, decide what happens:

* ``UFUNCS``, ``REDUCE``, ``ACCUMULATE`` and ``FUNCTIONS`` map NumPy to a gradcore op: the
  result is a Tensor, recorded on the tape like the op itself;
* ``PREDICATES`` (``isnan``, ``logical_and``...) and ``METADATA`` (``shape``, ``ndim``,
  ``size``) carry no gradient: they are computed on the data, on any device;
* ``NO_GRADIENT`` (``allclose``, ``array_equal``...) returns no floating values, so NumPy runs
  it on the detached data of CPU tensors even when they require grad.

Anything else falls back to NumPy on read-only views of the data, returning what NumPy returns
(plain arrays), but only when no Tensor argument requires grad and all are on the CPU;
otherwise it raises ``TypeError`` naming the function: gradcore has no op for it, so its result
could not be differentiated, and a GPU tensor is never copied to the host implicitly. NumPy
arguments that gradcore's op does not take (``where=``, ``initial=``, ``casting=``...) raise
``TypeError`` unless left at NumPy's default; ``dtype=`` casts the input first; ``out=`` takes a
Tensor (written through the in-place path, ``out.copy_(result)``) or, for a result that needs
no gradient, a NumPy array.

>>> import numpy, gradcore as gc
>>> x = gc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> y = numpy.sum(numpy.maximum(x, 2.0), axis=1)
>>> y
tensor([4., 7.], grad_fn=<Sum>)
>>> y.sum().backward(); x.grad.tolist()  # the tie at 2.0 shares its gradient
[[0.0, 0.5], [1.0, 1.0]]
"""
from __future__ import annotations

import functools
import inspect

import numpy

from gradcore import backend
from gradcore.ops import activation, arithmetic, binary, compare, convert, diagonal, elementwise
from gradcore.ops import indexing, join, linalg, math, norm, products, reduction, reorder, repeat
from gradcore.ops import scan, shape
from gradcore.creation import full_like, ones_like, zeros_like
from gradcore.tensor import Tensor

# ---- ufuncs (NEP 13) -------------------------------------------------------------------------
UFUNCS = {
    numpy.add: arithmetic.add, numpy.subtract: arithmetic.sub,
    numpy.multiply: arithmetic.mul, numpy.true_divide: arithmetic.div,
    numpy.power: arithmetic.pow, numpy.negative: arithmetic.neg,
    numpy.matmul: linalg.matmul,
    numpy.exp: math.exp, numpy.log: math.log, numpy.log1p: math.log1p, numpy.sqrt: math.sqrt,
    numpy.absolute: math.abs, numpy.sin: math.sin, numpy.cos: math.cos,
    numpy.tanh: activation.tanh, numpy.maximum: math.maximum, numpy.minimum: math.minimum,
    numpy.tan: elementwise.tan, numpy.arcsin: elementwise.arcsin,
    numpy.arccos: elementwise.arccos, numpy.arctan: elementwise.arctan,
    numpy.sinh: elementwise.sinh, numpy.cosh: elementwise.cosh,
    numpy.arcsinh: elementwise.arcsinh, numpy.arccosh: elementwise.arccosh,
    numpy.arctanh: elementwise.arctanh, numpy.log2: elementwise.log2,
    numpy.log10: elementwise.log10, numpy.exp2: elementwise.exp2, numpy.expm1: elementwise.expm1,
    numpy.square: elementwise.square, numpy.reciprocal: elementwise.reciprocal,
    numpy.sign: elementwise.sign, numpy.floor: elementwise.floor, numpy.ceil: elementwise.ceil,
    numpy.trunc: elementwise.trunc, numpy.rint: elementwise.round,
    numpy.arctan2: binary.arctan2, numpy.hypot: binary.hypot, numpy.logaddexp: binary.logaddexp,
    numpy.remainder: binary.remainder, numpy.fmod: binary.fmod,
    numpy.equal: compare.equal, numpy.not_equal: compare.not_equal, numpy.less: compare.less,
    numpy.less_equal: compare.less_equal, numpy.greater: compare.greater,
    numpy.greater_equal: compare.greater_equal,
}
# ufunc.reduce / ufunc.accumulate -> the gradcore op
REDUCE = {numpy.add: reduction.sum, numpy.multiply: scan.prod, numpy.maximum: reduction.max,
          numpy.minimum: reduction.min, numpy.logical_and: reduction.all,
          numpy.logical_or: reduction.any}
ACCUMULATE = {numpy.add: scan.cumsum, numpy.multiply: scan.cumprod}
# boolean results, no gradient: the device's own ufunc of the same name runs on the data
PREDICATES = frozenset({numpy.isnan, numpy.isinf, numpy.isfinite, numpy.signbit,
                        numpy.logical_and, numpy.logical_or, numpy.logical_xor,
                        numpy.logical_not})
# the arguments of ufunc.__call__ gradcore accepts at these values only (NumPy's defaults)
_UFUNC_DEFAULTS = {"where": True, "casting": "same_kind", "order": "K", "subok": True,
                   "signature": None}


def array_ufunc(ufunc, method, inputs, kwargs):
    """``Tensor.__array_ufunc__``: run ``ufunc.method(*inputs, **kwargs)`` with gradcore."""
    name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    out = _pop_out(kwargs)
    if method == "__call__" and ufunc in UFUNCS:
        dtype = kwargs.pop("dtype", None)
        _check_defaults(name, kwargs, _UFUNC_DEFAULTS)
        if dtype is not None:
            inputs = [convert.astype(x, dtype) if isinstance(x, Tensor) else x for x in inputs]
        return _write_out(name, UFUNCS[ufunc](*inputs), out)
    if method == "__call__" and ufunc in PREDICATES:
        _check_defaults(name, kwargs, _UFUNC_DEFAULTS)
        device = next((x.device for x in inputs if isinstance(x, Tensor)), backend.CPU)
        arrays = [x.array if isinstance(x, Tensor) else x for x in inputs]
        y = getattr(device.xp, ufunc.__name__)(*arrays)
        return _write_out(name, Tensor._make(y, device, False, None, 0), out)
    if method in ("reduce", "accumulate") and ufunc in (REDUCE if method == "reduce" else ACCUMULATE):
        (x,) = inputs  # NumPy passes reduce's other arguments (axis, dtype...) by keyword
        axis = kwargs.pop("axis", 0)  # NumPy's default: the first axis
        dtype = kwargs.pop("dtype", None)
        keepdims = kwargs.pop("keepdims", False) if method == "reduce" else None
        _check_defaults(name, kwargs, {"initial": numpy._NoValue, "where": True})
        x = x if isinstance(x, Tensor) else Tensor(x)
        if dtype is not None:
            x = convert.astype(x, dtype)
        op = REDUCE[ufunc] if method == "reduce" else ACCUMULATE[ufunc]
        if method == "accumulate" and axis is None:
            raise TypeError(f"{name}: axis=None is not valid for accumulate (as in NumPy)")
        y = op(x, axis, keepdims) if method == "reduce" else op(x, axis)
        return _write_out(name, y, out)
    if method == "at" and isinstance(inputs[0], Tensor):
        raise TypeError(f"{name}: writes into its first argument, a gradcore Tensor of shape "
                        f"{inputs[0].shape}; use gradcore's in-place indexing (t[idx] += v)")
    if out is not None:
        kwargs["out"] = out
    return _fallback(name, getattr(ufunc, method), inputs, kwargs)


# ---- functions (NEP 18) ----------------------------------------------------------------------
class _Entry:
    """How one NumPy function maps to a gradcore op.

    ``spec`` names NumPy's parameters in the order of the op's parameters (``"a|min"``: either
    name; ``"*arys"``: all of them, positionally). ``cast``: ``dtype=`` casts the first input.
    ``ignore``: NumPy parameters that never change the result (``optimize``, a sort's ``kind``).
    """

    def __init__(self, op, spec, cast=False, ignore=()):
        self.op, self.spec, self.cast, self.ignore = op, spec.split(), cast, frozenset(ignore)

    @functools.cached_property
    def op_params(self):
        return [p.name for p in inspect.signature(self.op).parameters.values()]

    def call(self, name, func, args, kwargs):
        signature = _signature(func)
        try:
            given = dict(signature.bind(*args, **kwargs).arguments)
        except TypeError as e:
            raise TypeError(f"{name}: {e}") from None
        for p in signature.parameters.values():
            if p.kind is p.VAR_KEYWORD:  # numpy.pad's constant_values=, numpy.einsum's dtype=
                given.update(given.pop(p.name, {}))
        out = _pop_out(given)
        dtype = given.pop("dtype", None) if self.cast else None
        positional, call = [], {}
        if self.spec[0].startswith("*"):
            positional = list(given.pop(self.spec[0][1:], ()))
        for names, param in zip(self.spec, self.op_params):
            for n in names.split("|"):
                if n in given:
                    call[param] = given.pop(n)
                elif param not in call and not n.startswith("*"):
                    default = _numpy_default(func, n)
                    if default is not numpy._NoValue:
                        call[param] = default  # NumPy's default, where the op's may differ
        _check_defaults(name, {k: v for k, v in given.items() if k not in self.ignore},
                        {k: _numpy_default(func, k) for k in given})
        if dtype is not None:
            first = self.op_params[0]
            call[first] = convert.astype(_as_tensor(call[first]), dtype)
        return _write_out(name, self.op(*positional, **call), out)


_SIGNATURES = {}


def _signature(func):
    if func not in _SIGNATURES:
        _SIGNATURES[func] = inspect.signature(func)
    return _SIGNATURES[func]


def _numpy_default(func, param):
    p = _signature(func).parameters.get(param)
    return numpy._NoValue if p is None or p.default is p.empty else p.default


FUNCTIONS = {
    numpy.sum: _Entry(reduction.sum, "a axis keepdims", cast=True),
    numpy.mean: _Entry(reduction.mean, "a axis keepdims", cast=True),
    numpy.var: _Entry(reduction.var, "a axis keepdims ddof", cast=True),
    numpy.std: _Entry(reduction.std, "a axis keepdims ddof", cast=True),
    numpy.max: _Entry(reduction.max, "a axis keepdims"),
    numpy.min: _Entry(reduction.min, "a axis keepdims"),
    numpy.amax: _Entry(reduction.max, "a axis keepdims"),
    numpy.amin: _Entry(reduction.min, "a axis keepdims"),
    numpy.prod: _Entry(scan.prod, "a axis keepdims", cast=True),
    numpy.cumsum: _Entry(scan.cumsum, "a axis", cast=True),
    numpy.cumprod: _Entry(scan.cumprod, "a axis", cast=True),
    numpy.all: _Entry(reduction.all, "a axis keepdims"),
    numpy.any: _Entry(reduction.any, "a axis keepdims"),
    numpy.argmax: _Entry(reduction.argmax, "a axis keepdims"),
    numpy.argmin: _Entry(reduction.argmin, "a axis keepdims"),
    numpy.average: _Entry(reduction.average, "a axis weights returned keepdims"),
    numpy.linalg.norm: _Entry(norm.norm, "x ord axis keepdims"),
    numpy.linalg.inv: _Entry(linalg.inv, "a"),
    numpy.linalg.det: _Entry(linalg.det, "a"),
    numpy.linalg.slogdet: _Entry(linalg.slogdet, "a"),
    numpy.linalg.solve: _Entry(linalg.solve, "a b"),
    numpy.linalg.cholesky: _Entry(linalg.cholesky, "a"),
    numpy.linalg.eigh: _Entry(linalg.eigh, "a"),
    numpy.linalg.svd: _Entry(linalg.svd, "a full_matrices compute_uv"),
    numpy.dot: _Entry(products.dot, "a b"),
    numpy.inner: _Entry(products.inner, "a b"),
    numpy.outer: _Entry(products.outer, "a b"),
    numpy.kron: _Entry(products.kron, "a b"),
    numpy.tensordot: _Entry(products.tensordot, "a b axes"),
    numpy.einsum: _Entry(products.einsum, "*operands", ignore=("optimize",)),
    numpy.trace: _Entry(diagonal.trace, "a offset axis1 axis2"),
    numpy.diag: _Entry(diagonal.diag, "v k"),
    numpy.diagonal: _Entry(diagonal.diagonal, "a offset axis1 axis2"),
    numpy.tril: _Entry(diagonal.tril, "m k"),
    numpy.triu: _Entry(diagonal.triu, "m k"),
    numpy.reshape: _Entry(shape.reshape, "a shape"),
    numpy.transpose: _Entry(shape.transpose, "a axes"),
    numpy.swapaxes: _Entry(shape.swapaxes, "a axis1 axis2"),
    numpy.expand_dims: _Entry(shape.expand_dims, "a axis"),
    numpy.squeeze: _Entry(shape.squeeze, "a axis"),
    numpy.broadcast_to: _Entry(shape.broadcast_to, "array shape"),
    numpy.ravel: _Entry(shape.flatten, "a"),
    numpy.atleast_1d: _Entry(shape.atleast_1d, "*arys"),
    numpy.atleast_2d: _Entry(shape.atleast_2d, "*arys"),
    numpy.atleast_3d: _Entry(shape.atleast_3d, "*arys"),
    numpy.concatenate: _Entry(join.concatenate, "arrays axis"),
    numpy.stack: _Entry(join.stack, "arrays axis"),
    numpy.hstack: _Entry(join.hstack, "tup"),
    numpy.vstack: _Entry(join.vstack, "tup"),
    numpy.column_stack: _Entry(join.column_stack, "tup"),
    numpy.split: _Entry(join.split, "ary indices_or_sections axis"),
    numpy.array_split: _Entry(join.array_split, "ary indices_or_sections axis"),
    numpy.append: _Entry(join.append, "arr values axis"),
    numpy.flip: _Entry(reorder.flip, "m axis"),
    numpy.moveaxis: _Entry(reorder.moveaxis, "a source destination"),
    numpy.roll: _Entry(reorder.roll, "a shift axis"),
    numpy.sort: _Entry(reorder.sort, "a axis", ignore=("kind", "stable")),  # values: any sort
    numpy.argsort: _Entry(reorder.argsort, "a axis"),  # gradcore's is stable: kind= is refused
    numpy.repeat: _Entry(repeat.repeat, "a repeats axis"),
    numpy.tile: _Entry(repeat.tile, "A reps"),
    numpy.pad: _Entry(repeat.pad, "array pad_width mode constant_values"),
    numpy.take: _Entry(indexing.take, "a indices axis"),
    numpy.take_along_axis: _Entry(indexing.take_along_axis, "arr indices axis"),
    numpy.nonzero: _Entry(indexing.nonzero, "a"),
    numpy.where: _Entry(math.where, "condition x y"),
    numpy.clip: _Entry(math.clip, "a a_min|min a_max|max"),
    numpy.round: _Entry(elementwise.round, "a decimals"),
    numpy.around: _Entry(elementwise.round, "a decimals"),
    numpy.zeros_like: _Entry(zeros_like, "a dtype"),
    numpy.ones_like: _Entry(ones_like, "a dtype"),
    numpy.full_like: _Entry(full_like, "a fill_value dtype"),
}
# read only shapes: answered from the Tensor, on any device, whatever requires grad
METADATA = {
    numpy.shape: lambda a: a.shape,
    numpy.ndim: lambda a: a.ndim,
    numpy.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
}
# no floating results, so nothing to differentiate: NumPy runs them on the detached CPU data
NO_GRADIENT = frozenset({numpy.allclose, numpy.isclose, numpy.array_equal, numpy.array_equiv,
                         numpy.count_nonzero, numpy.argwhere, numpy.flatnonzero,
                         numpy.searchsorted})


def array_function(func, types, args, kwargs):
    """``Tensor.__array_function__``: run ``func(*args, **kwargs)`` with gradcore."""
    if not all(issubclass(t, (Tensor, numpy.ndarray)) for t in types):
        return NotImplemented  # another library's array: let it (or NumPy) decide
    linalg_func = getattr(numpy.linalg, func.__name__, None) is func
    name = f"numpy.{'linalg.' if linalg_func else ''}{func.__name__}"
    entry = FUNCTIONS.get(func)
    if entry is not None:
        return entry.call(name, func, args, kwargs)
    if func in METADATA:
        return METADATA[func](*args, **kwargs)
    return _fallback(name, func, args, kwargs, differentiable=func not in NO_GRADIENT)


# ---- shared --------------------------------------------------------------------------------
def _fallback(name, func, args, kwargs, differentiable=True):
    """NumPy's own ``func`` on read-only CPU views (a write cannot bypass the version counter)."""
    tensors = _tensors((args, kwargs))
    gpu = [t for t in tensors if t.device.type != "cpu"]
    if gpu:
        raise TypeError(f"{name}: gradcore has no op for it, and a tensor on {gpu[0].device} "
                        f"(shape {gpu[0].shape}) is not copied to the host implicitly; use a "
                        "gradcore op, or .cpu().numpy() to leave gradcore")
    if differentiable and any(t.requires_grad for t in tensors):
        raise TypeError(f"{name} is not differentiable in gradcore (no gradcore op implements "
                        "it), and an input requires grad; use gradcore ops, or pass t.detach() "
                        "to compute it without a gradient")
    return func(*_unwrap(args), **_unwrap(kwargs))


def _tensors(obj):
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    return []


def _unwrap(obj):
    if isinstance(obj, Tensor):
        return obj.numpy()  # read-only view
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_defaults(name, kwargs, defaults):
    """Refuse NumPy arguments gradcore does not implement, unless at NumPy's default."""
    for key, value in kwargs.items():
        default = defaults.get(key, numpy._NoValue)
        if value is default or (type(value) is type(default) and not isinstance(value, Tensor)
                                and isinstance(value, (str, bool, int, float))
                                and value == default):
            continue
        raise TypeError(f"{name}: the argument {key}={value!r} is not supported by gradcore "
                        "(leave it at NumPy's default, or call NumPy on t.detach().numpy())")


def _pop_out(kwargs):
    out = kwargs.pop("out", None)
    if isinstance(out, tuple):  # ufuncs pass out as a tuple
        if len(out) != 1:
            raise TypeError(f"out=: expected one output, got {len(out)}")
        out = out[0]
    return out


def _write_out(name, y, out):
    """Write ``y`` into ``out=``: a Tensor through the in-place path, or a NumPy array when ``y``
    needs no gradient (NumPy's ``casting='same_kind'`` rule either way)."""
    if out is None:
        return y
    if not isinstance(y, Tensor):
        raise TypeError(f"{name}: out= is not supported for a result of type {type(y).__name__}")
    if tuple(out.shape) != y.shape or not numpy.can_cast(y.dtype, out.dtype, "same_kind"):
        raise ValueError(f"{name}: cannot write a result of shape {y.shape} and dtype {y.dtype} "
                         f"into out= of shape {tuple(out.shape)} and dtype {out.dtype}")
    if isinstance(out, Tensor):
        return out.copy_(y)
    if y.requires_grad or y.device.type != "cpu" or not isinstance(out, numpy.ndarray):
        raise TypeError(f"{name}: out= is a {type(out).__name__}, which cannot hold a result "
                        f"that requires grad or lives on {y.device}; pass a gradcore Tensor")
    numpy.copyto(out, y.array, casting="same_kind")
    return out
