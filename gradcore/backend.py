"""The array layer: the one place that knows NumPy from CuPy.

Everything above this module asks a :class:`Device` for its array module (``device.xp``) and
never branches on CPU vs GPU itself. CuPy is imported lazily and only here (and in the kernel
layer, which receives CuPy arrays from here); importing gradcore never needs a GPU.
"""
from __future__ import annotations

import os
import threading

import numpy

from gradcore.kernels import errors as kernel_errors
from gradcore.kernels import gemm

__all__ = [
    "Device", "device", "get_default_device", "set_default_device", "cuda_is_available",
    "cuda_unavailable_reason", "cuda_device_count", "array_module", "device_of", "to_device",
    "device_and_dtype", "set_matmul_precision", "get_matmul_precision",
    "OutOfMemoryError", "out_of_memory",
]


class OutOfMemoryError(MemoryError):
    """The GPU ran out of memory; the message names the op, the device and the request.

    A subclass of ``MemoryError``, so ``except MemoryError`` catches it too.

    >>> import gradcore as gc
    >>> issubclass(gc.OutOfMemoryError, MemoryError)
    True
    """


def out_of_memory(where, dev, err):
    """A gradcore OutOfMemoryError for ``err`` raised by CuPy, after freeing CuPy's cached
    blocks so that the process can go on (with smaller batches, say)."""
    try:
        dev.xp.get_default_memory_pool().free_all_blocks()
    except Exception:  # noqa: BLE001 (best effort; the error below is what matters)
        pass
    return OutOfMemoryError(f"{where}: out of GPU memory on {dev}: {err}. Cached blocks were "
                            "released; reduce the batch or model size")


class _CudaProbe:
    """Finds out once, quietly, whether CuPy can use a GPU, and remembers why not."""

    def __init__(self):
        self._lock = threading.Lock()
        self._done = False
        self.cupy = None
        self.count = 0
        self.reason = "not probed yet"

    def probe(self):
        if self._done:
            return self
        with self._lock:
            if not self._done:
                self._run()
                self._done = True
        return self

    def _run(self):
        try:
            import cupy
        except Exception as e:  # ImportError, or a broken CUDA install raising on import
            self.reason = f"CuPy is not importable ({type(e).__name__}: {e}); install gradcore[cuda]"
            return
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # no driver, or driver too old for this CuPy
            self.reason = f"CuPy found no usable CUDA driver ({type(e).__name__}: {e})"
            return
        if count == 0:
            self.reason = "the CUDA driver reports no GPU"
            return
        try:  # NVRTC compiles every custom kernel; without it the GPU path cannot run
            cupy.cuda.nvrtc.getVersion()
        except Exception as e:
            self.reason = (f"NVRTC is not loadable ({type(e).__name__}: {e}); "
                           "install gradcore[cuda], which adds the nvidia-cuda-nvrtc package")
            return
        self.cupy, self.count, self.reason = cupy, count, ""
        _apply_matmul_precision(cupy)


_probe = _CudaProbe()


def cuda_is_available():
    """True when CuPy, a CUDA driver, a GPU and NVRTC are all usable.

    >>> import gradcore as gc
    >>> isinstance(gc.cuda.is_available(), bool)
    True
    """
    return _probe.probe().cupy is not None


def cuda_unavailable_reason():
    """Why the GPU path cannot be used, or ``""`` when it can.

    >>> import gradcore as gc
    >>> (gc.cuda.unavailable_reason() == "") == gc.cuda.is_available()
    True
    """
    return _probe.probe().reason


def cuda_device_count():
    """Number of visible CUDA devices (0 without a usable GPU).

    >>> import gradcore as gc
    >>> (gc.cuda.device_count() > 0) == gc.cuda.is_available()
    True
    """
    return _probe.probe().count


class Device:
    """Where a tensor's data lives: ``cpu`` or ``cuda:N``. Obtain one with :func:`device`.

    Instances are interned, so ``is`` compares them and the per-op device check is one pointer
    comparison.

    >>> import gradcore as gc
    >>> d = gc.device("cpu")
    >>> d is gc.device("cpu"), d.type, d.xp.__name__
    (True, 'cpu', 'numpy')
    """

    __slots__ = ("type", "index", "xp", "_name")

    def __init__(self, type_, index, xp):
        self.type, self.index, self.xp = type_, index, xp
        self._name = "cpu" if type_ == "cpu" else f"cuda:{index}"

    def __repr__(self):
        return f"device('{self._name}')"

    def __str__(self):
        return self._name

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, RuntimeError):
                return False
        return self is other

    def __hash__(self):
        return hash(self._name)

    def __reduce__(self):  # copy/deepcopy keep the interned instance
        return (device, (self._name,))

    def use(self):
        """A context manager that makes this device CuPy's current device (no-op on the CPU)."""
        if self.type == "cpu":
            import contextlib
            return contextlib.nullcontext()
        return self.xp.cuda.Device(self.index)


CPU = Device("cpu", None, numpy)
_devices = {"cpu": CPU}


def device_and_dtype(device, dtype, op):
    """The ``(device, dtype)`` of PyTorch's ``.to(...)`` forms: ``to("cuda")``, ``to(float64)``
    (a dtype in the device's place, as PyTorch allows), ``to("cuda", "float16")``; the device is
    left a spec, parsed by :func:`device` when used.

    >>> from gradcore import backend
    >>> backend.device_and_dtype("float64", None, "to")
    (None, dtype('float64'))
    """
    if dtype is None and device is not None and not (
            isinstance(device, Device) or (isinstance(device, str) and
                                          device.split(":")[0].strip().lower() in ("cpu", "cuda"))):
        try:
            return None, numpy.dtype(device)
        except TypeError:
            raise ValueError(f"{op}: {device!r} is neither a device ('cpu', 'cuda', 'cuda:N') nor "
                             "a dtype") from None
    return device, (None if dtype is None else numpy.dtype(dtype))


def device(spec):
    """Parse ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (or pass a :class:`Device` through).

    Raises ``ValueError`` for an unknown string and ``RuntimeError`` (saying why) when a GPU is
    asked for but none is usable.

    >>> import gradcore as gc
    >>> gc.device("cpu")
    device('cpu')
    """
    if isinstance(spec, Device):
        return spec
    found = _devices.get(spec)
    if found is not None:
        return found
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0' or a Device, got "
                        f"{type(spec).__name__}")
    kind, _, index = spec.strip().lower().partition(":")
    if kind == "cpu" and not index:
        return CPU
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"device: unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N'")
    if not cuda_is_available():
        raise RuntimeError(f"device: {spec!r} requested but no GPU is usable: "
                           f"{cuda_unavailable_reason()}")
    n = int(index) if index else _probe.cupy.cuda.runtime.getDevice()
    if n >= _probe.count:
        raise RuntimeError(f"device: {spec!r} requested but only {_probe.count} CUDA device(s) "
                           "are visible")
    name = f"cuda:{n}"
    if name not in _devices:
        _devices[name] = Device("cuda", n, _probe.cupy)
    _devices[spec] = _devices[name]
    return _devices[name]


def _initial_default():
    forced = os.environ.get("GRADCORE_DEVICE", "").strip()
    if forced:
        return forced  # resolved (and validated) lazily, so a bad value errors on first use
    return None


_default = {"spec": _initial_default(), "device": None}


def get_default_device():
    """The device new tensors go to: ``GRADCORE_DEVICE`` if set, else cuda when usable, else cpu.

    >>> import gradcore as gc
    >>> gc.zeros(2).device is gc.get_default_device()
    True
    """
    dev = _default["device"]
    if dev is None:
        spec = _default["spec"]
        if spec is None:
            dev = device("cuda" if cuda_is_available() else "cpu")
        else:
            try:
                dev = device(spec)
            except (ValueError, RuntimeError) as e:  # say where the bad value came from
                raise type(e)(f"{e} (set by the environment variable GRADCORE_DEVICE)") from e
        _default["device"] = dev
    return dev


def set_default_device(spec):
    """Set the device that tensor constructors use when none is given.

    >>> import gradcore as gc
    >>> old = gc.get_default_device()
    >>> gc.set_default_device("cpu"); gc.zeros(2).device
    device('cpu')
    >>> gc.set_default_device(old)
    """
    _default["device"] = device(spec)


def array_module(array):
    """``numpy`` for NumPy arrays and scalars, ``cupy`` for CuPy arrays."""
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        return numpy
    return _probe.probe().cupy or numpy


def device_of(array):
    """The :class:`Device` an array lives on."""
    if isinstance(array, (numpy.ndarray, numpy.generic)):
        return CPU
    cupy = _probe.probe().cupy
    if cupy is not None and isinstance(array, cupy.ndarray):
        return device(f"cuda:{array.device.id}")
    return CPU


def to_device(array, dev):
    """Move (or convert) ``array`` to ``dev``; returns it unchanged when already there."""
    if dev is CPU:
        if isinstance(array, numpy.ndarray):
            return array
        get = getattr(array, "get", None)  # CuPy -> NumPy: one device-to-host copy
        if get is None:
            return numpy.asarray(array)
        kernel_errors.check()  # the host waits for the GPU here anyway: report what it found
        return get()
    if gemm.CAPTURE.gemm is not None and not isinstance(array, dev.xp.ndarray):
        # CuPy refuses it too, in its own words; say what to do instead
        raise RuntimeError(f"to_device: copying host data ({type(array).__name__} of shape "
                           f"{numpy.shape(array)}) to {dev} inside a function being captured as a "
                           "CUDA graph (gc.compile): a replay would not copy it again. Make it "
                           "outside the function (or pass it as an input), or draw it in a host call")
    with dev.xp.cuda.Device(dev.index):
        try:
            return dev.xp.asarray(array)
        except dev.xp.cuda.memory.OutOfMemoryError as e:
            raise out_of_memory(f"to_device (copying {getattr(array, 'nbytes', '?')} bytes)", dev, e) from e


_matmul = {"precision": "highest"}


def set_matmul_precision(precision):
    """``"highest"`` (full float32, the default) or ``"high"`` (allow TF32 on GPUs that have it).

    Like ``torch.set_float32_matmul_precision``; the CPU always computes in full precision.

    >>> import gradcore as gc
    >>> gc.set_matmul_precision("high"); gc.get_matmul_precision()
    'high'
    >>> gc.set_matmul_precision("highest")
    """
    if precision not in ("highest", "high"):
        raise ValueError(f"set_matmul_precision: expected 'highest' or 'high', got {precision!r}")
    _matmul["precision"] = precision
    os.environ["CUPY_TF32"] = "1" if precision == "high" else "0"
    if _probe.cupy is not None:
        _apply_matmul_precision(_probe.cupy)


def _apply_matmul_precision(cupy):
    """Tell cuBLAS (through CuPy) whether float32 GEMMs may use TF32 tensor cores.

    CuPy reads CUPY_TF32 once per dtype and caches it, so a change after the first GEMM must go
    through its compute-type switch. NOTE: that switch is internal to CuPy; if it moves, the
    environment variable (read before the first GEMM) still applies.
    """
    try:
        linalg = cupy._core._routines_linalg
        mode = linalg.COMPUTE_TYPE_TF32 if _matmul["precision"] == "high" else linalg.COMPUTE_TYPE_DEFAULT
        linalg.set_compute_type(numpy.float32, mode)
    except AttributeError:
        os.environ["CUPY_TF32"] = "1" if _matmul["precision"] == "high" else "0"


def get_matmul_precision():
    """The current float32 matmul precision: ``"highest"`` or ``"high"``.

    >>> import gradcore as gc
    >>> gc.get_matmul_precision()
    'highest'
    """
    return _matmul["precision"]
