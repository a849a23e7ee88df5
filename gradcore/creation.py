"""Tensor constructors: tensor, as_tensor, zeros, ones, full, empty, arange, *_like, randn, rand,
and the default floating dtype."""
from __future__ import annotations

import numpy

from gradcore import backend, checks, tracing
from gradcore.tensor import Tensor

__all__ = ["tensor", "as_tensor", "get_default_dtype", "set_default_dtype", "zeros", "ones",
           "full", "empty", "arange", "zeros_like", "ones_like", "full_like", "randn", "rand"]


_default_dtype = {"float": numpy.dtype(numpy.float32)}


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless changed).

    >>> import gradcore as gc
    >>> gc.get_default_dtype()
    dtype('float32')
    """
    return _default_dtype["float"]


def set_default_dtype(dtype):
    """Set the dtype of tensors made from Python floats: ``float32`` or ``float64``.

    >>> import gradcore as gc
    >>> old = gc.get_default_dtype(); gc.set_default_dtype("float64")
    >>> gc.tensor([1.0]).dtype
    dtype('float64')
    >>> gc.set_default_dtype(old)
    """
    dt = numpy.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default_dtype["float"] = dt


def _to_array(data, dtype, dev, copy):
    """Turn ``data`` into an array of ``dtype`` on ``dev`` (Python floats -> default dtype)."""
    dt = None if dtype is None else numpy.dtype(dtype)
    if hasattr(data, "__cuda_array_interface__") or isinstance(data, numpy.ndarray):
        arr = data
        if dt is not None and arr.dtype != dt:
            arr, copy = arr.astype(dt), False
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
            data = [d.numpy() if isinstance(d, Tensor) else d for d in data]
        arr = numpy.asarray(data, dtype=dt)
        if dt is None and arr.dtype == numpy.float64 and not isinstance(data, numpy.generic):
            arr = arr.astype(get_default_dtype(), copy=False)  # Python floats -> default dtype
        copy = False
    if arr.dtype.kind not in "biufc":  # objects, strings, bytes, dates: not numbers
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data of dtype "
                        f"{arr.dtype} (shape {arr.shape}); expected numbers")
    if dev is not None:
        moved = backend.to_device(arr, dev)
        copy = copy and moved is arr
        arr = moved
    return arr.copy() if copy else arr


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy/CuPy arrays).

    Python floats become the default dtype (float32); arrays keep their dtype; ``device``
    defaults to :func:`gradcore.get_default_device`.

    >>> import gradcore as gc
    >>> gc.tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    if isinstance(data, Tensor):
        data = data.array
    dev = backend.device(device) if device is not None else backend.get_default_device()
    t = Tensor._make(_to_array(data, dtype, dev, copy=True), dev, False, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def as_tensor(data, dtype=None, device=None):
    """Like :func:`tensor` but without a copy when ``data`` already fits (a Tensor passes through).

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0])
    >>> gc.as_tensor(x) is x, gc.tensor(x) is x
    (True, False)
    """
    if isinstance(data, Tensor):
        if (dtype is None or numpy.dtype(dtype) == data.dtype) and (device is None or backend.device(device) is data.device):
            return data
        return data.to(device, dtype)
    dev = backend.device(device) if device is not None else (
        backend.device_of(data) if hasattr(data, "__cuda_array_interface__") or isinstance(data, numpy.ndarray)
        else backend.get_default_device())
    return Tensor._make(_to_array(data, dtype, dev, copy=False), dev, False, None, 0)


def _finish(data, dev, requires_grad):
    if tracing.STATE.tracer is not None:  # gc.compile: a constant of the trace, or restored
        data = tracing.created(data)
    t = Tensor._make(data, dev, False, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def _where(dtype, device):
    dev = backend.device(device) if device is not None else backend.get_default_device()
    return numpy.dtype(dtype) if dtype is not None else get_default_dtype(), dev


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``.

    >>> import gradcore as gc
    >>> gc.zeros(2, 3).shape
    (2, 3)
    """
    dt, dev = _where(dtype, device)
    return _finish(dev.xp.zeros(checks.shape(shape, "zeros", dt), dt), dev, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``.

    >>> import gradcore as gc
    >>> gc.ones(2, 2).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    dt, dev = _where(dtype, device)
    return _finish(dev.xp.ones(checks.shape(shape, "ones", dt), dt), dev, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``shape`` filled with ``fill_value``.

    >>> import gradcore as gc
    >>> gc.full((2, 2), 7.0).tolist()
    [[7.0, 7.0], [7.0, 7.0]]
    """
    dt, dev = _where(dtype, device)
    shape = checks.shape((shape,), "full", dt)
    return _finish(dev.xp.full(shape, fill_value, dt), dev, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor (its contents are arbitrary): for buffers that are filled next.

    >>> import gradcore as gc
    >>> x = gc.empty(2, 3)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    dt, dev = _where(dtype, device)
    return _finish(dev.xp.empty(checks.shape(shape, "empty", dt), dt), dev, requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False):
    """Evenly spaced values in [start, stop), like ``numpy.arange`` (integers stay int64).

    >>> import gradcore as gc
    >>> gc.arange(4).tolist(), gc.arange(0, 1, 0.25).tolist()
    ([0, 1, 2, 3], [0.0, 0.25, 0.5, 0.75])
    """
    dev = backend.device(device) if device is not None else backend.get_default_device()
    try:
        data = numpy.arange(start, stop, step) if stop is not None else numpy.arange(start)
    except (ValueError, ZeroDivisionError, TypeError) as e:  # NumPy's errors name no arguments
        raise type(e)(f"arange: no range from start={start!r}, stop={stop!r}, step={step!r} "
                      f"({e})") from e
    if dtype is not None:
        data = data.astype(dtype)
    elif data.dtype == numpy.float64:
        data = data.astype(get_default_dtype())
    return _finish(backend.to_device(data, dev), dev, requires_grad)


def _like(x, dtype, device):
    return (numpy.dtype(dtype) if dtype is not None else x.dtype,
            backend.device(device) if device is not None else x.device)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    """Zeros with the shape (and by default dtype and device) of ``x``.

    >>> import gradcore as gc
    >>> gc.zeros_like(gc.tensor([[1.0, 2.0]])).tolist()
    [[0.0, 0.0]]
    """
    dt, dev = _like(x, dtype, device)
    return _finish(dev.xp.zeros(x.shape, dt), dev, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    """Ones with the shape (and by default dtype and device) of ``x``.

    >>> import gradcore as gc
    >>> gc.ones_like(gc.tensor([[1.0, 2.0]]), dtype="int64").tolist()
    [[1, 1]]
    """
    dt, dev = _like(x, dtype, device)
    return _finish(dev.xp.ones(x.shape, dt), dev, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` with the shape (and by default dtype and device) of ``x``.

    >>> import gradcore as gc
    >>> gc.full_like(gc.tensor([1.0, 2.0]), 3.0).tolist()
    [3.0, 3.0]
    """
    dt, dev = _like(x, dtype, device)
    return _finish(dev.xp.full(x.shape, fill_value, dt), dev, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard-normal samples from gradcore's seeded generator (see ``manual_seed``).

    Samples are drawn on the host and copied, so one seed gives the same values on every device.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> x = gc.randn(2, 3)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    dt, dev = _where(dtype, device)
    data = tracing.host_call(_draw, "standard_normal", checks.shape(shape, "randn", dt), dt)
    return _finish(backend.to_device(data, dev), dev, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from gradcore's seeded generator.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> x = gc.rand(1000)
    >>> x.shape, 0 <= x.min().item() < x.max().item() < 1
    ((1000,), True)
    """
    dt, dev = _where(dtype, device)
    data = tracing.host_call(_draw, "random", checks.shape(shape, "rand", dt), dt)
    return _finish(backend.to_device(data, dev), dev, requires_grad)


def _draw(kind, shape, dtype, *params):
    """``kind`` samples (a ``numpy.random.Generator`` method) from gradcore's generator, as
    ``dtype``. Called through :func:`gradcore.tracing.host_call`, so a compiled replay draws new
    numbers from the same generator, as the eager run would."""
    return getattr(backend.random_state(), kind)(*params, shape).astype(dtype)
