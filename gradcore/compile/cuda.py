"""``gc.compile`` on a GPU: record what a function does as CUDA graphs, replay it with one graph
launch per segment.

:func:`trace` runs the function once on a capturing stream (:mod:`gradcore.compile.cuda_capture`).
The kernels it launches (gradcore's own, CuPy's, cuBLAS GEMMs through
:mod:`gradcore.kernels.gemm`) become the graph; nothing of the Python around them (Tensor and
Function objects, the tape, argument checks) is in it, which is the point: a replay costs one
``cudaGraphLaunch`` instead of ~10 µs of Python and launch overhead per kernel.

Work whose arguments change from call to call without living in a device array (an optimizer's
step count, a random draw) reaches the tracer as a *host call* (:mod:`gradcore.tracing`). The
tracer then ends the capture (the graph so far is one *segment*), launches that segment so the
trace executes in order, runs the host call eagerly, and captures the next segment. A replay
runs the schedule in the same order: segment, host call, segment...; a host call's new array
result is written into the array the trace saw, which the later segments read.

The front-end (:mod:`gradcore.compile`) owns ``static_args``: each call copies its inputs into
their arrays, then calls the :class:`Replay`. ``Replay.outputs`` are arrays the graph writes in
place at each replay: copy what must outlive the next call.

>>> from gradcore.compile import cuda
>>> callable(cuda.trace)
True
"""
from __future__ import annotations

from gradcore import tracing
from gradcore.compile.cuda_capture import Capture
from gradcore.tensor import Tensor

__all__ = ["trace", "Replay", "CudaTracer"]


def trace(fn, static_args, kwargs):
    """Capture ``fn(*static_args, **kwargs)`` on the GPU that ``static_args`` live on; return
    the :class:`Replay` that re-runs it (its ``outputs`` are ``fn``'s return value)."""
    dev = _cuda_device(static_args)
    with dev.use():
        capture = Capture(dev.xp, dev.index)
        tracer = CudaTracer(dev, capture)
        caller = dev.xp.cuda.get_current_stream()
        _join(capture.stream, caller)  # the inputs were written on the caller's stream
        with capture.stream, tracing.tracing(tracer):
            capture.begin()
            try:
                outputs = fn(*static_args, **kwargs)
            except BaseException as e:
                try:
                    capture.end(launch=False)
                except Exception:  # noqa: BLE001 (the capture is invalid because of e: report e)
                    pass
                if hasattr(e, "add_note"):
                    e.add_note("(raised while gc.compile captured a CUDA graph: see "
                               "docs/concepts/cuda-graphs.md for what a capture cannot contain)")
                raise
            tracer.schedule.append(capture.end())
        _join(caller, capture.stream)  # the caller reads the outputs on its stream
    return Replay(capture, tracer.schedule, outputs, static_args, fn)


def _join(waiter, stream):
    """Make ``waiter`` wait, on the device, for the work queued on ``stream`` so far. The capture
    stream is non-blocking, so the legacy default stream does not order it with anything."""
    waiter.wait_event(stream.record())


class Replay:
    """The recorded work of one trace: ``replay()`` runs it again; ``outputs`` is what the
    traced function returned (its arrays are rewritten in place by each replay)."""

    def __init__(self, capture, schedule, outputs, static_args, fn):
        self._capture = capture  # holds the stream, the private memory pool and the cuBLAS handle
        self._schedule = schedule
        # The graphs hold raw addresses of arrays made before the trace too: the inputs, and
        # through fn's closure the model's parameters and the optimizer's state. Keep them alive.
        self._static_args, self._fn = static_args, fn
        self.outputs = outputs

    @property
    def segments(self):
        """How many graphs one replay launches."""
        return sum(1 for item in self._schedule if not isinstance(item, _HostCall))

    def __call__(self):
        capture = self._capture
        with capture.cupy.cuda.Device(capture.device_index):
            stream, caller = capture.stream, capture.cupy.cuda.get_current_stream()
            _join(stream, caller)  # after the copies into the static inputs
            with stream:
                for item in self._schedule:
                    if isinstance(item, _HostCall):
                        item.run()
                    else:
                        item.launch(stream)
            _join(caller, stream)  # before anything the caller does with the outputs


class _HostCall:
    """``fn(*args, **kwargs)`` at its place in the schedule; a new array result is written into
    the array the trace returned to the traced code."""

    def __init__(self, fn, args, kwargs, result):
        self.fn, self.args, self.kwargs, self.result = fn, args, kwargs, result

    def run(self):
        new = self.fn(*self.args, **self.kwargs)
        old = self.result
        if hasattr(old, "shape") and hasattr(old, "dtype"):
            if getattr(new, "shape", None) != old.shape or getattr(new, "dtype", None) != old.dtype:
                raise RuntimeError(
                    f"gc.compile: the host call {_name(self.fn)} returned an array of shape "
                    f"{getattr(new, 'shape', None)} and dtype {getattr(new, 'dtype', None)} at replay, "
                    f"but {old.shape} and {old.dtype} when traced; the graph reads the traced array, "
                    "so its shape and dtype must not change")
            old[...] = new


class CudaTracer:
    """The tracer of :mod:`gradcore.tracing`'s protocol for a CUDA capture."""

    def __init__(self, device, capture):
        self.device = device
        self.capture = capture
        self.schedule = []  # graphs and _HostCalls, in order
        self._in_host_call = False

    def host_call(self, fn, *args, **kwargs):
        if self._in_host_call:  # inside a host call: part of it, run as it is
            return fn(*args, **kwargs)
        self.schedule.append(self.capture.end())  # launched now, so the trace runs in order
        self._in_host_call = True
        try:
            result = fn(*args, **kwargs)
        finally:
            self._in_host_call = False
            self.capture.begin()
        self.schedule.append(_HostCall(fn, args, kwargs, result))
        return result

    def host_read(self, what):
        if self._in_host_call:  # eager work between segments may read the device
            return
        raise RuntimeError(
            f"gc.compile: {what} reads a device value to the host inside the compiled function "
            "on a GPU: the CUDA graph cannot wait for it, and a replay would not see the new "
            "value. Return the tensor as an output of the function and read it after the call")


def _cuda_device(static_args):
    devices = {a.device for a in static_args if isinstance(a, Tensor)}
    if len(devices) != 1 or next(iter(devices)).type != "cuda":
        raise ValueError(f"gc.compile (CUDA graphs): the inputs must be Tensors on one CUDA "
                         f"device, got devices {sorted(map(str, devices)) or 'none'}")
    return next(iter(devices))


def _name(fn):
    return getattr(fn, "__qualname__", None) or repr(fn)
