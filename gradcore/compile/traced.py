"""The CPU tracer's eyes: ``Traced``, an ndarray subclass that records the computations on it.

While :func:`gradcore.compile` traces a function on the CPU, the arrays an op computes on are
``Traced`` views (``Function.__call__`` wraps its inputs; the few places that compute on plain
arrays without a Function, such as in-place updates and gradient accumulation, wrap theirs with
:func:`gradcore.tracing.watch`). NumPy hands every ufunc and array function on a ``Traced``
operand to ``__array_ufunc__`` / ``__array_function__``; the ndarray methods that compute
without that dispatch (``copy``, ``astype``, fancy ``__getitem__``, ``dot``, ``argmax``...) are
overridden. Each one computes on plain arrays and, by one generic rule, either

* returns a view (its result shares memory with an input): no entry, a view of a trace-time
  buffer stays valid since every trace-time buffer stays alive; or
* writes a buffer (a new result, ``out=``, ``copyto``'s destination, ``fill``, ``x[k] = v``):
  one schedule entry ``(callable, args, kwargs)`` that recomputes into that same buffer.

A computation on plain arrays only is invisible here: its value is frozen at trace time. The
equality tests (tests/compile) run every layer, loss and optimizer compiled beside eager to catch
such a place; fix one by wrapping its arrays with :func:`gradcore.tracing.watch`.
"""
from __future__ import annotations

import functools
import inspect
import weakref

import numpy as np

from gradcore import tracing

__all__ = ["Traced", "Entry", "wrap", "plain", "root"]


class Entry:
    """One step of the schedule: ``fn(*args, **kwargs)``; ``reads``/``writes``: the root
    buffers (see :func:`root`) it reads and writes, for the build-time passes."""

    __slots__ = ("fn", "args", "kwargs", "reads", "writes", "kind", "full")

    def __init__(self, fn, args, kwargs, reads, writes, kind="op", full=()):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.reads, self.writes, self.kind = reads, writes, kind
        self.full = [root(a) for a in full]  # roots it overwrites entirely, without reading

    def __repr__(self):
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return f"Entry({self.kind}:{name}, reads={len(self.reads)}, writes={len(self.writes)})"


_c_base = np.ndarray.base.__get__  # the base NumPy keeps (Traced.base is the program's view)


def root(a):
    """The array that owns ``a``'s memory (``a`` itself when it owns it)."""
    while isinstance(_c_base(a), np.ndarray):
        a = _c_base(a)
    return a


def plain(x):
    """``x`` with every Traced array (also inside lists, tuples, dicts) as a plain ndarray."""
    if isinstance(x, Traced):
        return _on_root(x)
    t = type(x)
    if t is tuple or t is list:
        return t(plain(v) for v in x)
    if t is dict:
        return {k: plain(v) for k, v in x.items()}
    return x


def _on_root(x):
    """A plain view of ``x`` made on its root buffer, so that it does not keep the Traced object
    alive (the recorder tells what the program still holds by the Traced objects alive)."""
    r = root(x)
    offset = x.__array_interface__["data"][0] - r.__array_interface__["data"][0]
    try:
        return np.ndarray(x.shape, x.dtype, buffer=r, offset=offset, strides=x.strides)
    except (TypeError, ValueError, BufferError):  # a root the buffer protocol refuses
        return x.view(np.ndarray)


def wrap(a):
    """A Traced view of the plain array ``a`` (the recorder keeps a weak reference to it)."""
    t = a.view(Traced)
    rec = _recorder()
    if rec is not None:
        rec.handed_out.append(weakref.ref(t))
    return t


def _recorder():
    tracer = tracing.STATE.tracer
    return tracer if getattr(tracer, "records_arrays", False) else None


def _arrays(x, acc):
    """Collect the plain ndarrays inside ``x`` (args of a call) into ``acc``."""
    if isinstance(x, np.ndarray):
        acc.append(x)
    elif type(x) in (tuple, list):
        for v in x:
            _arrays(v, acc)
    elif type(x) is dict:
        for v in x.values():
            _arrays(v, acc)
    return acc


def _shares(result, inputs):
    return any(np.may_share_memory(result, a) for a in inputs)


# Functions that write into their first argument (and return None or it).
_WRITES_ARG0 = frozenset((np.copyto, np.place, np.put, np.putmask, np.fill_diagonal,
                          np.put_along_axis))


@functools.cache
def _takes_out(fn):
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def into(buf, fn, *args, **kwargs):
    """Replay form of a call that cannot write into a given buffer: compute, then copy (``buf``
    a tuple: one buffer per result, None where a result is a view or not an array)."""
    y = fn(*args, **kwargs)
    if type(buf) is tuple:
        for b, v in zip(buf, y):
            if b is not None:
                _copy_result(b, v, fn)
        return
    _copy_result(buf, y, fn)


def _copy_result(buf, y, fn):
    if np.shape(y) != buf.shape:
        raise RuntimeError(
            f"gc.compile: {getattr(fn, '__name__', fn)} gave shape {np.shape(y)} at replay but "
            f"{buf.shape} when traced: a result whose shape depends on the values (boolean "
            "mask indexing, nonzero, unique) cannot be replayed; keep such code out of the "
            "compiled function")
    np.copyto(buf, y, casting="unsafe")


# Functions whose result depends on their array argument's shape and dtype only.
_LIKE = frozenset((np.zeros_like, np.ones_like, np.empty_like, np.full_like))


def record(fn, args, kwargs, result, rec, prefer_out=True):
    """Record ``fn(*args, **kwargs)`` (plain arrays) that returned ``result``; give back what
    the traced program sees (Traced views of the result buffers)."""
    inputs = _arrays((args, kwargs), [])
    writes = [root(a) for a in _arrays(kwargs.get("out"), [])]
    if fn in _WRITES_ARG0 or getattr(fn, "_gradcore_writes_arg0", False):
        writes.append(root(args[0]))
    if writes:  # an explicit destination: replay writes it again
        read = _arrays((args, {k: v for k, v in kwargs.items() if k != "out"}), [])
        rec.add(Entry(fn, args, kwargs, [root(a) for a in read], writes,
                      full=_whole(fn, kwargs)))
        return _give(result)
    if result is None:
        return None
    # np.split gives a list of views; np.linalg.eigh, svd, slogdet named tuples of new arrays
    multi = isinstance(result, (tuple, list))
    outs = []
    for r in (result if multi else (result,)):
        if isinstance(r, np.generic):
            r = np.asarray(r)  # a 0-d buffer replay can write, where a scalar is frozen
        outs.append(r)
    fresh = [r for r in outs if isinstance(r, np.ndarray) and not _shares(r, inputs)]
    if fresh:
        reads = [] if fn in _LIKE else [root(a) for a in inputs]
        rec.born.update(id(root(r)) for r in fresh)
        takes_out = isinstance(fn, np.ufunc) or _takes_out(fn)
        if prefer_out and takes_out and all(isinstance(r, np.ndarray) for r in outs):
            out = tuple(outs) if multi else outs[0]
            rec.add(Entry(fn, args, {**kwargs, "out": out}, reads, [root(r) for r in fresh],
                          full=[r for r in fresh if r.base is None]))
        else:
            bufs = tuple(r if any(r is f for f in fresh) else None for r in outs)
            whole = [r for r in fresh if r.size == root(r).size]  # a copy may be a view of it
            rec.add(Entry(into, (bufs if multi else outs[0], fn, *args), kwargs, reads,
                          [root(r) for r in fresh], full=whole))
    given = [_give(r) for r in outs]
    if not multi:
        return given[0]
    return type(result)(*given) if hasattr(result, "_fields") else type(result)(given)


def _whole(fn, kwargs):
    """The roots a ufunc call's ``out=`` overwrites entirely (for memory planning)."""
    if not isinstance(fn, np.ufunc) or "where" in kwargs:
        return []
    outs = _arrays(kwargs.get("out"), [])
    return [o for o in outs if o.base is None or (o.size == root(o).size and o.flags.c_contiguous
                                                  and o.dtype == root(o).dtype)]


def _give(r):
    if isinstance(r, Traced):
        return r
    if isinstance(r, np.ndarray):
        return wrap(r)
    if type(r) is tuple:
        return tuple(_give(v) for v in r)
    return r


def _ufunc_call(ufunc, method):
    return ufunc if method == "__call__" else getattr(ufunc, method)


class Traced(np.ndarray):
    """An ndarray whose computations the active CPU tracer records (see the module docstring).

    Outside a trace (a Traced array that outlived it) it computes as a plain ndarray.
    """

    @property
    def base(self):
        """The base the traced program would see: None for a wrapped buffer of its own (code
        that refuses to change views in place, such as ``x[i] = v`` while recording, must not
        take every Traced array for a view)."""
        b = _c_base(self)
        return _c_base(b) if type(b) is np.ndarray else b

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = _ufunc_call(ufunc, method)
        args, kw = plain(inputs), plain(kwargs)
        result = fn(*args, **kw)
        rec = _recorder()
        if rec is None:
            return result
        if method == "at":  # ufunc.at(a, indices, b): unbuffered, in place on a
            rec.add(Entry(fn, args, kw, [root(a) for a in _arrays(args, [])], [root(args[0])]))
            return None
        return record(fn, args, kw, result, rec)

    def __array_function__(self, func, types, args, kwargs):
        args, kw = plain(args), plain(kwargs)
        result = func(*args, **kw)
        rec = _recorder()
        if rec is None:
            return result
        return record(func, args, kw, result, rec)

    # ---- ndarray methods that compute without NumPy's dispatch ----------------------------
    def copy(self, order="C"):
        return self.astype(self.dtype, order=order)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        src = _on_root(self)
        result = src.astype(dtype, order=order, casting=casting, copy=copy)
        rec = _recorder()
        if rec is None or result is src:
            return result if rec is None else self
        rec.add(Entry(np.copyto, (result, src), {"casting": "unsafe"}, [root(src)], [result],
                      full=[result]))
        rec.born.add(id(result))
        return wrap(result)

    def __getitem__(self, key):
        src = _on_root(self)
        k = plain(key)
        result = src[k]
        rec = _recorder()
        if rec is None:
            return result
        if isinstance(result, np.ndarray) and np.may_share_memory(result, src):
            return wrap(result)  # basic indexing: a view
        return record(_getitem, (src, k), {}, result, rec)

    def __setitem__(self, key, value):
        dst = _on_root(self)
        k, v = plain(key), plain(value)
        dst[k] = v
        rec = _recorder()
        if rec is not None:
            reads = [root(a) for a in _arrays((k, v), [])] + [root(dst)]
            rec.add(Entry(_setitem, (dst, k, v), {}, reads, [root(dst)]))

    def fill(self, value):
        dst = _on_root(self)
        dst.fill(value)
        rec = _recorder()
        if rec is not None:
            rec.add(Entry(np.ndarray.fill, (dst, value), {}, [], [root(dst)]))

    def dot(self, b, out=None):
        return np.dot(self, b, out=out)

    def argmax(self, axis=None, out=None, **kw):
        return np.argmax(self, axis=axis, out=out, **kw)

    def argmin(self, axis=None, out=None, **kw):
        return np.argmin(self, axis=axis, out=out, **kw)

    def take(self, indices, axis=None, out=None, mode="raise"):
        return np.take(self, indices, axis=axis, out=out, mode=mode)

    def repeat(self, repeats, axis=None):
        return np.repeat(self, repeats, axis=axis)

    def cumsum(self, axis=None, dtype=None, out=None):
        return np.cumsum(self, axis=axis, dtype=dtype, out=out)

    def cumprod(self, axis=None, dtype=None, out=None):
        return np.cumprod(self, axis=axis, dtype=dtype, out=out)

    def argsort(self, axis=-1, kind=None, order=None, **kw):
        return np.argsort(self, axis=axis, kind=kind, order=order, **kw)

    def sort(self, axis=-1, kind=None, order=None):
        dst = _on_root(self)
        dst.sort(axis, kind, order)
        rec = _recorder()
        if rec is not None:
            rec.add(Entry(np.ndarray.sort, (dst, axis, kind, order), {}, [root(dst)], [root(dst)]))

    def flatten(self, order="C"):
        return _method(self, np.ndarray.flatten, order=order)

    def ravel(self, order="C"):
        return _method(self, np.ravel, order=order)

    def reshape(self, *shape, **kw):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _method(self, np.reshape, shape, **kw)

    def nonzero(self):
        return np.nonzero(self)

    def round(self, decimals=0, out=None):
        return np.round(self, decimals, out=out)

    def trace(self, *args, **kw):
        return np.trace(self, *args, **kw)

    def diagonal(self, *args, **kw):
        return np.diagonal(self, *args, **kw)

    def searchsorted(self, v, side="left", sorter=None):
        return np.searchsorted(self, v, side=side, sorter=sorter)


def _method(self, fn, *args, **kw):
    """A method computed as ``fn(plain self, ...)`` and recorded (views stay views)."""
    src = _on_root(self)
    result = fn(src, *plain(args), **plain(kw))
    rec = _recorder()
    if rec is None:
        return result
    return record(fn, (src, *plain(args)), plain(kw), result, rec, prefer_out=False)


def _getitem(a, key):
    return a[key]


def _setitem(a, key, value):
    a[key] = value
