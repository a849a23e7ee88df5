"""``gc.compile`` on the CPU: trace a function once at the array level, replay a flat schedule.

Design (the seams are the files of this package):

1. **Trace** (:mod:`gradcore.compile.traced`): the function runs once, eagerly, with this
   module's :class:`CpuTracer` active. Function inputs (and the arrays of the few places that
   compute without a Function) are ``Traced`` views; each NumPy call on them is recorded as an
   entry that writes a buffer: ``ufunc(*args, out=buffer)``, ``copyto(buffer, src)``... Work
   that must re-run on the host each step (an optimizer step with its live learning rate and
   step count, a random draw) comes through :meth:`CpuTracer.host_call` as a host entry.
2. **Passes** (:mod:`gradcore.compile.schedule`): dead-op elimination and constant folding.
3. **Replay** (:class:`gradcore.compile.schedule.Replay`): a loop ``fn(*args, **kwargs)`` over
   plain ndarrays, writing into the buffers the trace allocated (they all stay alive, so views of
   them stay valid). No Tensor, no Function, no tape.

The trace cannot see a computation on plain arrays alone (its value would be frozen): the
equality tests in tests/compile run every layer, loss and optimizer compiled beside eager.
"""
from __future__ import annotations

import contextlib
import gc as _gc

import numpy as np

from gradcore import kernels, tracing
from gradcore.autograd.mode import STATE as MODE
from gradcore.compile import schedule
from gradcore.compile.traced import Entry, Traced, plain, record, root, wrap

__all__ = ["CpuTracer", "HostReadError", "trace"]


class HostReadError(RuntimeError):
    """Traced code read a tensor's value to the host (a replay could not see a new value)."""


class CpuTracer:
    """The tracer protocol of :mod:`gradcore.tracing`, recording NumPy work into entries."""

    records_arrays = True  # Traced arrays record into this tracer (see traced._recorder)

    def __init__(self, device, name):
        self.device, self.name = device, name
        self.entries = []
        self.born = set()        # ids of the buffers the trace created
        self.handed_out = []     # weak references to the Traced views given to the program
        self.created_arrays = []  # (root, its content when made) of tracing.created arrays

    def add(self, entry):
        self.entries.append(entry)

    def watch(self, array):
        if type(array) is np.ndarray:
            return wrap(array)
        return array

    def created(self, array):
        """An array the traced code just made: a constant of the recording, unless the
        recording writes it; then its content now is restored at each replay before its first
        use (see :func:`_restore_created`)."""
        if type(array) is not np.ndarray:
            return array
        self.created_arrays.append((root(array), array.copy()))
        self.born.add(id(root(array)))
        return wrap(array)

    def empty(self, shape, dtype):
        """The kernels' twin buffers (see gradcore.kernels.empty): recorded from the start."""
        buf = np.empty(shape, dtype)
        self.born.add(id(buf))
        return wrap(buf)

    def host_read(self, what):
        raise HostReadError(
            f"gc.compile: {self.name} reads a tensor to the host with {what} while tracing; "
            "return the tensor instead, a replay cannot see new values")

    def host_call(self, fn, *args, **kwargs):
        with suspended():
            result = fn(*args, **kwargs)
        reads = [root(a) for a in _plain_arrays((args, kwargs))]
        if isinstance(result, np.ndarray):
            buf = plain(result)
            self.born.add(id(root(buf)))  # the recording's own: rewritten at each replay
            self.add(Entry(_rebind(buf, fn), args, kwargs, reads, [root(buf)], kind="host"))
            return wrap(buf)
        self.add(Entry(fn, args, kwargs, reads, [], kind="host"))
        return result


def _plain_arrays(x):
    from gradcore.tensor import Tensor
    acc = []
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, np.ndarray):
            acc.append(v)
        elif isinstance(v, Tensor):
            acc.append(v.array)
        elif type(v) in (tuple, list):
            stack.extend(v)
        elif type(v) is dict:
            stack.extend(v.values())
    return acc


def _rebind(buf, fn):
    """A host call whose array result is written into the trace-time array ``buf``."""
    def run(*args, **kwargs):
        new = fn(*args, **kwargs)
        if new.shape != buf.shape or new.dtype != buf.dtype:
            raise RuntimeError(f"gc.compile: the host call {getattr(fn, '__name__', fn)} "
                               f"returned shape {new.shape} and dtype {new.dtype} at replay, but "
                               f"{buf.shape} and {buf.dtype} while tracing")
        np.copyto(buf, new)
    run.__name__ = f"host({getattr(fn, '__name__', fn)})"
    run.owner = getattr(fn, "__self__", None)  # for check=True (see schedule.Replay.state)
    return run


@contextlib.contextmanager
def suspended():
    """Run host work untraced (it re-runs itself at each replay)."""
    tracer = tracing.STATE.tracer
    tracing.STATE.tracer = None
    MODE.set("tracing", False)
    kernels.HOOKS.empty = None
    try:
        yield
    finally:
        tracing.STATE.tracer = tracer
        MODE.set("tracing", True)
        kernels.HOOKS.empty = tracer.empty


@contextlib.contextmanager
def _recording(tracer):
    with tracing.tracing(tracer):
        MODE.set("tracing", True)
        kernels.HOOKS.empty = tracer.empty
        try:
            yield
        finally:
            MODE.set("tracing", False)
            kernels.HOOKS.empty = None


def trace(fn, static_args, kwargs):
    """Run ``fn(*static_args, **kwargs)`` once, recording it; return its Replay.

    ``static_args``: the graph's input Tensors (the caller copies each call's inputs into their
    arrays before a replay)."""
    device = static_args[0].device if static_args else None
    tracer = CpuTracer(device, getattr(fn, "__name__", repr(fn)))
    originals = [t.array for t in static_args]
    try:
        with _recording(tracer):
            for t in static_args:
                t.array = wrap(t.array)
            outputs = fn(*static_args, **kwargs)
    finally:
        for t, a in zip(static_args, originals):
            t.array = a
    keep = {id(root(a)) for a in _plain_arrays(outputs) if isinstance(a, np.ndarray)}
    for t in _tensors(outputs):  # the front-end hands out copies: the tape behind can go
        t.node, t.requires_grad = None, False
    _gc.collect()  # what the program still holds after the trace must keep its values
    for ref in tracer.handed_out:
        t = ref()
        if t is not None:
            keep.add(id(root(t)))
    # The program goes on with plain arrays: outputs, and gradients the trace left behind.
    for t in _tensors(outputs) + [t.grad for t, _ in (tracing.STATE.grads or {}).values()]:
        if t is not None and isinstance(t.array, Traced):
            t.array = plain(t.array)
    replay = schedule.build(_restore_created(tracer.entries, tracer.created_arrays),
                            tracer.born, keep, outputs)
    written = {id(w) for e in tracer.entries for w in e.writes}
    replay.inputs_written = [k for k, a in enumerate(originals) if id(root(a)) in written]
    return replay


def _restore_created(entries, created):
    """``entries`` with a copy of each created array's first content put back before the
    first entry that touches it, for those that some entry writes (``z = zeros(); z += x``)."""
    written = {id(w) for e in entries for w in e.writes}
    starts = {id(r): (r, start) for r, start in created if id(r) in written}
    if not starts:
        return entries
    out = []
    for e in entries:
        for r in list(e.reads) + list(e.writes):
            if id(r) in starts:
                r, start = starts.pop(id(r))
                out.append(Entry(np.copyto, (r, start), {}, [], [r], full=[r]))
        out.append(e)
    return out


def _tensors(x):
    from gradcore.tensor import Tensor
    if isinstance(x, Tensor):
        return [x]
    if type(x) in (tuple, list):
        return [t for v in x for t in _tensors(v)]
    if type(x) is dict:
        return [t for v in x.values() for t in _tensors(v)]
    return []


__all__ += ["Traced", "record", "suspended"]
