"""Switches of the tape: gradient recording, forward-mode tangents, anomaly detection.

They are per thread, as PyTorch's grad mode is: each thread starts with the defaults (recording
on, no forward-mode level, anomaly detection as ``GRADCORE_DETECT_ANOMALY`` says), and a
``no_grad`` block or a ``backward()`` in one thread never changes what another thread records.
An op reads them with one attribute load of a ``threading.local``.
"""
from __future__ import annotations

import functools
import os
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
           "is_anomaly_enabled"]


class _State(threading.local):
    """Per-thread switches; the class attributes are every thread's starting values."""

    grad_enabled = True
    # The id of the gc.jvp level whose tangents ops propagate (0: none). Tangents are stored
    # with the id of the level that made them, so a tangent left over from another jvp call is
    # never read as this one's (no perturbation confusion); nested jvp calls run through
    # reverse mode (see gradcore.autograd.functional.jvp), so one level is native at a time.
    forward_ad = 0
    # True inside a first-order backward() that accumulates into leaves' .grad: an op may then
    # write a leaf's gradient straight into the buffer the leaf offers (Tensor._grad_buffer).
    into_leaves = False
    anomaly = os.environ.get("GRADCORE_DETECT_ANOMALY", "") not in ("", "0")
    # True while gc.compile traces on this thread with a tracer that watches Function inputs
    tracing = False
    # forward_ad, anomaly or tracing: the one flag an op reads on its fast path (per-thread
    # reads cost)
    special = anomaly

    def set(self, flag, value):
        """Set ``flag`` for this thread (and keep ``special`` in step)."""
        setattr(self, flag, value)
        self.special = bool(self.forward_ad) or self.anomaly or self.tracing


STATE = _State()


class _Switch:
    """Context manager and decorator that sets a flag of STATE and restores it on exit."""

    _flag = ""
    _value = None

    def __init__(self):
        self._prev = []

    def __enter__(self):
        self._prev.append(getattr(STATE, self._flag))
        STATE.set(self._flag, self._value)
        return self

    def __exit__(self, *exc):
        STATE.set(self._flag, self._prev.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapped


class no_grad(_Switch):
    """Record nothing on the tape inside the block (like ``torch.no_grad``).

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0], requires_grad=True)
    >>> with gc.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _flag, _value = "grad_enabled", False


class enable_grad(_Switch):
    """Record on the tape again inside a ``no_grad`` block.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0], requires_grad=True)
    >>> with gc.no_grad(), gc.enable_grad():
    ...     y = x * 2
    >>> y.requires_grad
    True
    """

    _flag, _value = "grad_enabled", True


class set_grad_enabled(_Switch):
    """``set_grad_enabled(False)`` is ``no_grad()``; usable as a context manager or a call.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0], requires_grad=True)
    >>> with gc.set_grad_enabled(False):
    ...     y = x * 2
    >>> y.requires_grad, gc.is_grad_enabled()
    (False, True)
    """

    _flag = "grad_enabled"

    def __init__(self, mode):
        super().__init__()
        self._value = bool(mode)
        self._prev.append(STATE.grad_enabled)
        STATE.grad_enabled = self._value  # takes effect at once, as in PyTorch

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev.pop()
        return False


def is_grad_enabled():
    """True when ops record on the tape.

    >>> import gradcore as gc
    >>> with gc.no_grad():
    ...     print(gc.is_grad_enabled())
    False
    """
    return STATE.grad_enabled


class detect_anomaly(_Switch):
    """Check every op's forward and backward outputs for NaN/Inf and name the op that made them.

    Also makes errors that GPU kernels flag (an out-of-range cross-entropy label) raise at the
    call instead of at the next synchronization. Off by default (the check then costs one flag
    read per op). Also switched on for the whole
    process by the environment variable ``GRADCORE_DETECT_ANOMALY=1``.

    >>> import gradcore as gc
    >>> with gc.detect_anomaly():
    ...     gc.log(gc.tensor([-1.0]))
    Traceback (most recent call last):
    ...
    FloatingPointError: Log produced nan in its forward output...
    """

    _flag, _value = "anomaly", True


class set_detect_anomaly(_Switch):
    """``set_detect_anomaly(True)`` switches :class:`detect_anomaly` on at once, for the thread,
    until the ``with`` block ends or it is called again (``torch.autograd.set_detect_anomaly``).

    >>> import gradcore as gc
    >>> with gc.autograd.set_detect_anomaly(True):
    ...     print(gc.is_anomaly_enabled())
    True
    >>> gc.is_anomaly_enabled()
    False
    """

    _flag = "anomaly"

    def __init__(self, mode):
        super().__init__()
        self._value = bool(mode)
        self._prev.append(STATE.anomaly)
        STATE.set("anomaly", self._value)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.set("anomaly", self._prev.pop())
        return False


def is_anomaly_enabled():
    """True inside ``detect_anomaly`` or with ``GRADCORE_DETECT_ANOMALY=1``.

    >>> import gradcore as gc
    >>> with gc.detect_anomaly():
    ...     print(gc.is_anomaly_enabled())
    True
    """
    return STATE.anomaly
