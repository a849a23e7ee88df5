"""Errors a kernel finds on the GPU, raised at the next synchronization.

A kernel that validates data (cross-entropy checks its labels) cannot raise: it marks a flag in
device memory. Reading that flag right after the launch would make the host wait for all queued
GPU work, once per call: in a training loop, a full pipeline drain every step, with the GPU idle
while the host launches the backward pass. So the flag is read later, at the next point where
gradcore waits for the GPU anyway: a value read to the host (``item()``, ``numpy()``, ``float()``,
``bool()``, printing, saving) or ``gc.cuda.synchronize()``. CUDA reports its own asynchronous
errors the same way; the difference here is the message, which names the op, the offending
value and the line that made the call. ``gc.autograd.detect_anomaly()`` checks at the call.

Each device keeps one int64 buffer of ``CAPACITY`` rows ``[found, value]``; a launch that may
fail takes a zeroed row, and one copy reads all rows taken since the last check (a full buffer
is checked before a row is handed out again, so at most one extra wait per ``CAPACITY`` calls).
NumPy arrays get a host buffer with the same behaviour, which is what the CPU tests exercise.

>>> import numpy as np
>>> row = flag_for(np.empty(1), lambda value: ValueError(f"bad value {value}"))
>>> row[:] = (1, 7)  # what a kernel does when it finds a bad value
>>> check()
Traceback (most recent call last):
    ...
ValueError: bad value 7 (found by the call at ...)
>>> check()  # reported once
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

__all__ = ["CAPACITY", "flag_for", "check", "pending"]

CAPACITY = 1024
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_lock = threading.Lock()
_ledgers = {}  # device key -> _Ledger
_count = 0  # rows taken on all devices since the last check: the fast path of check()


class _Ledger:
    """One device's flag rows and, for each row taken, how to build its error."""

    def __init__(self, key, xp):
        self.key, self.xp = key, xp
        with self.on_device():
            self.flags = xp.zeros((CAPACITY, 2), np.int64)
        self.errors = []  # (make_error, where) per row taken, in order

    def on_device(self):
        return contextlib.nullcontext() if self.xp is np else self.xp.cuda.Device(self.key)

    def read_and_clear(self, n):
        """The first ``n`` rows as host lists; the rows are zeroed for reuse."""
        with self.on_device():
            rows = self.flags[:n]
            marks = rows.tolist()  # on a GPU: the one wait for the kernels that mark them
            rows[...] = 0  # queued after those kernels: the rows are free again
        return marks


def _device_key(like):
    if isinstance(like, (np.ndarray, np.generic)):
        return "cpu", np
    import cupy  # noqa: PLC0415 (only reached with a CuPy array in hand)
    return like.device.id, cupy


def _caller():
    """'file:line' of the innermost frame outside gradcore: the user's call."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def flag_for(like, make_error):
    """A zeroed int64 row ``[found, value]`` on the device of ``like`` for a kernel to mark.

    A kernel that finds bad data writes ``found = 1`` and the offending ``value``; the next
    :func:`check` raises ``make_error(value)``, with the caller's file and line appended.
    """
    global _count
    key, xp = _device_key(like)
    where = _caller()
    while True:
        with _lock:
            ledger = _ledgers.get(key)
            if ledger is None:
                ledger = _ledgers[key] = _Ledger(key, xp)
            if len(ledger.errors) < CAPACITY:
                row = ledger.flags[len(ledger.errors)]
                ledger.errors.append((make_error, where))
                _count += 1
                break
        check()  # the buffer is full: read it (the one extra wait per CAPACITY launches)
    return row


def pending():
    """How many flagged launches have not been checked yet (0 means nothing to wait for)."""
    return _count


def check():
    """Read every flag row taken since the last check and raise the first error found.

    Waits for the GPU work that marks the rows (one device-to-host copy per device). The rows
    are cleared and forgotten either way, so each error is raised once.
    """
    global _count
    if not _count:  # the common case: a host read with no flagged launch in flight
        return
    first = None
    with _lock:  # held across the read, so no row is handed out again before it is cleared
        for ledger in _ledgers.values():
            errors, ledger.errors = ledger.errors, []
            if not errors:
                continue
            marks = ledger.read_and_clear(len(errors))
            for (found, value), (make_error, where) in zip(marks, errors):
                if found and first is None:
                    first = make_error(value), where
        _count = 0
    if first is not None:
        error, where = first
        error.args = (f"{error.args[0]} (found by the call at {where})", *error.args[1:])
        raise error
