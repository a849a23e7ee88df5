"""Tensor constructors: tensor, as_tensor, from_numpy, zeros, ones, full, empty, arange, linspace,
logspace, eye, identity, tri, *_like, the random ones (randn, rand, randint, multinomial, each
taking ``generator=``), and the default floating dtype."""
from __future__ import annotations

import numpy

from gradcore import backend, checks, rng, tracing
from gradcore.tensor import Tensor

__all__ = ["tensor", "as_tensor", "get_default_dtype", "set_default_dtype", "zeros", "ones",
           "full", "empty", "arange", "zeros_like", "ones_like", "full_like", "randn", "rand",
           "from_numpy", "linspace", "logspace", "eye", "identity", "tri", "randint",
           "multinomial"]


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


def randn(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard-normal samples from gradcore's seeded generator (see ``manual_seed``).

    Samples are drawn on the host and copied, so one seed gives the same values on every device.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> x = gc.randn(2, 3)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    dt, dev = _where(dtype, device)
    data = tracing.host_call(_draw, generator, "randn", "standard_normal",
                             checks.shape(shape, "randn", dt), dt)
    return _finish(backend.to_device(data, dev), dev, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform samples in [0, 1) from gradcore's seeded generator.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> x = gc.rand(1000)
    >>> x.shape, 0 <= x.min().item() < x.max().item() < 1
    ((1000,), True)
    """
    dt, dev = _where(dtype, device)
    data = tracing.host_call(_draw, generator, "rand", "random", checks.shape(shape, "rand", dt), dt)
    return _finish(backend.to_device(data, dev), dev, requires_grad)


def _draw(generator, op, kind, shape, dtype, *params):
    """``kind`` samples (a ``numpy.random.Generator`` method) from ``generator`` (None: the
    global one), as ``dtype``. Called through :func:`gradcore.tracing.host_call`, so a compiled
    replay draws new numbers from the same generator, as the eager run would."""
    return getattr(rng.numpy_generator(generator, op), kind)(*params, shape).astype(dtype)


def from_numpy(array):
    """A CPU tensor sharing ``array``'s memory, as ``torch.from_numpy``: writes through either
    show in the other (the array keeps its dtype; it is not copied).

    >>> import numpy as np, gradcore as gc
    >>> a = np.zeros(3, dtype=np.float32); t = gc.from_numpy(a)
    >>> a[0] = 5; t[1] = 7; t.tolist(), a.tolist()
    ([5.0, 7.0, 0.0], [5.0, 7.0, 0.0])
    """
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: cannot share an array of dtype {array.dtype} (shape "
                        f"{array.shape}); expected numbers")
    return Tensor._make(array, backend.CPU, False, None, 0)


def _float_range(op, data, dtype, device, requires_grad):
    """Finish linspace/logspace: NumPy computes in float64; the result takes ``dtype`` or the
    default float dtype."""
    dt, dev = _where(dtype, device)
    return _finish(backend.to_device(data.astype(dt, copy=False), dev), dev, requires_grad)


def linspace(start, stop, num=50, endpoint=True, dtype=None, device=None, requires_grad=False):
    """``num`` evenly spaced values from ``start`` to ``stop``, like ``numpy.linspace``
    (``torch.linspace(start, end, steps)`` gives the same values with ``num=steps``).

    >>> import gradcore as gc
    >>> gc.linspace(0, 1, 5).tolist(), gc.linspace(0, 1, 4, endpoint=False).tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.25, 0.5, 0.75])
    """
    num = checks.integer(num, "linspace", "num")
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    return _float_range("linspace", numpy.linspace(start, stop, num, endpoint=endpoint), dtype,
                        device, requires_grad)


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, device=None,
             requires_grad=False):
    """``base ** linspace(start, stop, num)``, like ``numpy.logspace``.

    >>> import gradcore as gc
    >>> gc.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    num = checks.integer(num, "logspace", "num")
    if num < 0:
        raise ValueError(f"logspace: num must be non-negative, got {num}")
    return _float_range("logspace", numpy.logspace(start, stop, num, endpoint=endpoint,
                                                   base=base), dtype, device, requires_grad)


def eye(N, M=None, k=0, dtype=None, device=None, requires_grad=False):  # noqa: N803 (NumPy's)
    """An ``N`` x ``M`` matrix with ones on diagonal ``k``, like ``numpy.eye``.

    >>> import gradcore as gc
    >>> gc.eye(2, 3, k=1).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n, m = checks.shape((N, N if M is None else M), "eye")
    dt, dev = _where(dtype, device)
    return _finish(dev.xp.eye(n, m, checks.integer(k, "eye", "k"), dtype=dt), dev, requires_grad)


def identity(n, dtype=None, device=None, requires_grad=False):
    """The ``n`` x ``n`` identity matrix, like ``numpy.identity``.

    >>> import gradcore as gc
    >>> gc.identity(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return eye(n, dtype=dtype, device=device, requires_grad=requires_grad)


def tri(N, M=None, k=0, dtype=None, device=None, requires_grad=False):  # noqa: N803 (NumPy's)
    """Ones at and below diagonal ``k`` of an ``N`` x ``M`` matrix, like ``numpy.tri``.

    >>> import gradcore as gc
    >>> gc.tri(2, 3).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    """
    n, m = checks.shape((N, N if M is None else M), "tri")
    dt, dev = _where(dtype, device)
    return _finish(dev.xp.tri(n, m, checks.integer(k, "tri", "k"), dtype=dt), dev, requires_grad)


def randint(low, high=None, size=None, dtype="int64", device=None, generator=None):
    """Random integers in ``[low, high)`` (``[0, low)`` if ``high`` is None), like NumPy's
    ``Generator.integers``; ``size`` is the shape (None: a 0-d tensor).

    >>> import gradcore as gc
    >>> x = gc.randint(3, 7, (1000,), generator=gc.Generator().manual_seed(0))
    >>> x.dtype, int(x.min().item()), int(x.max().item())
    (dtype('int64'), 3, 6)
    """
    if high is None:
        low, high = 0, low
    low, high = checks.integer(low, "randint", "low"), checks.integer(high, "randint", "high")
    if low >= high:
        raise ValueError(f"randint: empty range [{low}, {high}); high must be greater than low")
    shape = () if size is None else checks.shape((size,), "randint")
    dt = numpy.dtype(dtype)
    if dt.kind not in "iu":
        raise TypeError(f"randint: dtype must be an integer dtype, got {dt}")
    dev = backend.device(device) if device is not None else backend.get_default_device()
    data = tracing.host_call(_draw, generator, "randint", "integers", shape, dt, low, high)
    return _finish(backend.to_device(numpy.asarray(data), dev), dev, False)


def multinomial(probs, num_samples, replacement=False, generator=None):
    """Indices drawn from the categorical distribution in each row of ``probs`` (1-D: one
    distribution; 2-D: one per row; weights need not sum to 1), as ``torch.multinomial``:
    an int64 tensor of shape ``(num_samples,)`` or ``(rows, num_samples)``. Without
    ``replacement`` each index appears at most once per row (zero-weight indices come last,
    drawn only when nothing else is left).

    >>> import gradcore as gc
    >>> g = gc.Generator().manual_seed(0)
    >>> gc.multinomial(gc.tensor([0.0, 1.0, 0.0]), 2, replacement=True, generator=g).tolist()
    [1, 1]
    >>> sorted(gc.multinomial(gc.tensor([[1.0, 2.0, 3.0]]), 3, generator=g)[0].tolist())
    [0, 1, 2]
    """
    p = probs if isinstance(probs, Tensor) else as_tensor(probs)
    n = checks.integer(num_samples, "multinomial", "num_samples")
    if p.ndim not in (1, 2) or p.dtype.kind != "f":
        raise ValueError(f"multinomial: probs must be a 1-D or 2-D floating tensor, got shape "
                         f"{p.shape} and dtype {p.dtype}")
    w = numpy.atleast_2d(backend.to_device(p.array, backend.CPU)).astype(numpy.float64)
    if n <= 0 or (not replacement and n > w.shape[1]):
        raise ValueError(f"multinomial: num_samples must be in [1, {w.shape[1]}] without "
                         f"replacement (probs of shape {p.shape}), got {n}" if not replacement
                         else f"multinomial: num_samples must be positive, got {n}")
    if not numpy.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"multinomial: probs (shape {p.shape}) contain inf, nan or a negative "
                         "weight")
    total = w.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        raise ValueError(f"multinomial: a row of probs (shape {p.shape}) sums to 0; every row "
                         "needs a positive weight")
    out = tracing.host_call(_multinomial_draw, w, total, n, replacement, generator)
    return Tensor._make(backend.to_device(out if p.ndim == 2 else out[0], p.device), p.device,
                        False, None, 0)


def _multinomial_draw(w, total, n, replacement, generator):
    """The draws of :func:`multinomial` on the host: an int64 array (rows, n)."""
    draws = rng.numpy_generator(generator, "multinomial")
    rows = numpy.arange(w.shape[0])[:, None]
    if replacement:  # inverse CDF, all rows at once: row r searches within [r, r + 1)
        cdf = numpy.cumsum(w / total, axis=1)
        cdf[cdf >= cdf[:, -1:]] = 1.0  # no rounding gap past the last positive weight
        u = draws.random((w.shape[0], n))
        idx = numpy.searchsorted((cdf + rows).ravel(), (u + rows).ravel(), side="right")
        out = idx.reshape(w.shape[0], n) - rows * w.shape[1]
    else:  # exponential race (Efraimidis-Spirakis): the n smallest E / w, E ~ Exp(1)
        with numpy.errstate(divide="ignore"):
            keys = draws.exponential(size=w.shape) / w  # zero weight: inf, drawn last
        out = numpy.argsort(keys, axis=1, kind="stable")[:, :n]
    return out.astype(numpy.int64)
