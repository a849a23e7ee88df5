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
  ``.numpy()``, ``bool(t)``); it raises, since a replay could not see the new value.

>>> from gradcore import tracing
>>> tracing.active() is None
True
>>> tracing.host_call(max, 1, 2)  # not tracing: just a call
2
"""
from __future__ import annotations

import contextlib
import threading

__all__ = ["STATE", "active", "host_call", "host_read", "tracing"]


class _State(threading.local):
    tracer = None


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
