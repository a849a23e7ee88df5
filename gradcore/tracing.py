"""The tracing state that :func:`gradcore.compile` sets while it records a function.

Lower layers (the optimizer, random draws, host reads) consult it; the tracers themselves live in
:mod:`gradcore.compile`. A trace belongs to one thread, like grad mode.

A *tracer* is any object with

- ``device``: the :class:`gradcore.backend.Device` being traced;
- ``host_call(fn, *args, **kwargs)``: run ``fn`` now and again at every replay, at this point of
  the schedule, and return its result. Work whose arguments change from step to step without
  living in an array (an optimizer's learning rate and step count, a random draw's generator
  state) goes through here, so a replay does not freeze it. If ``fn`` returns an array, the traced
  code goes on with the array it returned at trace time, and each replay writes ``fn``'s new
  result into that same array (shape and dtype must not change: the tracer checks);
- ``host_read(what)``: called when traced code reads a value to the host (``.item()``,
  ``.numpy()``, ``bool(t)``); it raises, since a replay could not see the new value;
- optionally ``watch(array)``: the array a lower layer should compute on where it computes on
  plain arrays without a Function (in-place updates, gradient accumulation, ``zero_grad``), so
  the tracer sees that work (the CPU tracer returns a recording view; a tracer that sees every
  kernel anyway, as a CUDA stream capture does, need not define it);
- optionally ``created(array)``: the same for an array the traced code just created with a
  content it relies on (``zeros`` before a scatter-add): the CPU tracer restores that content
  at each replay.

Beside the tracer, the front-end keeps ``STATE.grads`` during a trace: the code that reads or
rebinds a tensor's ``.grad`` (gradient accumulation, ``zero_grad``, an optimizer step) calls
:func:`note_grads` first, so the front-end learns which ``.grad`` being None or not steered the
trace (a replay is valid only from the same state: see :mod:`gradcore.compile`).

>>> from gradcore import tracing
>>> tracing.active() is None
True
>>> tracing.host_call(max, 1, 2)  # not tracing: just a call
2
"""
from __future__ import annotations

import contextlib
import threading

__all__ = ["STATE", "active", "created", "host_call", "host_read", "note_grads", "tracing",
           "watch"]


class _State(threading.local):
    tracer = None
    # id(tensor) -> (tensor, was its .grad None when the trace first read it; None: the trace
    # set it before reading it)
    grads = None


STATE = _State()


def active():
    """The tracer recording on this thread, or None."""
    return STATE.tracer


def host_call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, registered with the active tracer to run again at each replay."""
    tracer = STATE.tracer
    if tracer is None:
        return fn(*args, **kwargs)
    return tracer.host_call(fn, *args, **kwargs)


def host_read(what):
    """Tell the active tracer (if any) that traced code reads ``what`` to the host."""
    tracer = STATE.tracer
    if tracer is not None:
        tracer.host_read(what)


def watch(array):
    """``array``, or the view of it the active tracer records computations on."""
    return _optional("watch", array)


def created(array):
    """``array``, just created by traced code with the content it must start with at every
    replay (``zeros`` before a scatter-add), or the tracer's recording view of it."""
    return _optional("created", array)


def _optional(name, array):
    """The active tracer's optional hook ``name`` applied to ``array`` (or ``array``)."""
    tracer = STATE.tracer
    hook = None if tracer is None else getattr(tracer, name, None)
    return array if hook is None else hook(array)


def note_grads(tensors, reads=True):
    """Tell the active trace that the code now reads or rebinds the ``.grad`` of ``tensors``
    (``reads=False``: it sets them without looking, as ``zero_grad`` does)."""
    grads = STATE.grads
    if grads is not None:
        for t in tensors:
            if id(t) not in grads:
                grads[id(t)] = (t, (t.grad is None) if reads else None)


@contextlib.contextmanager
def tracing(tracer):
    """Make ``tracer`` the active tracer of this thread for the ``with`` block."""
    if STATE.tracer is not None:
        raise RuntimeError("gradcore.compile: a traced function called another compiled "
                           "function while tracing; nested tracing is not supported")
    STATE.tracer = tracer
    try:
        yield tracer
    finally:
        STATE.tracer = None
