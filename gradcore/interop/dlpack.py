"""DLPack both ways: ``torch.from_dlpack(t)``, ``numpy.from_dlpack(t)``, ``gc.from_dlpack(x)``.

Export delegates to the NumPy or CuPy array under the Tensor (they implement the array API's
``__dlpack__``), so the consumer sees the same memory: no copy, on the CPU or a GPU. As
``torch.Tensor.__dlpack__`` does, a Tensor that requires grad is refused (``BufferError``):
the consumer could not differentiate through gradcore's tape; export ``t.detach()``.

A write through the other library changes the gradcore tensor, but gradcore cannot see it: its
version counter (which catches in-place changes to tensors saved for backward) is not bumped.
"""
from __future__ import annotations

from gradcore import backend
from gradcore.tensor import Tensor

__all__ = ["from_dlpack"]

# DLPack device types (dlpack.h, DLDeviceType) gradcore can hold
_KDL_CPU, _KDL_CUDA, _KDL_CUDA_HOST, _KDL_CUDA_MANAGED = 1, 2, 3, 13


def export(t, stream, max_version, dl_device, copy):
    """``Tensor.__dlpack__``: the capsule of the underlying array (zero copy unless asked)."""
    if t.requires_grad:
        raise BufferError(f"__dlpack__: the tensor (shape {t.shape}) requires grad, and DLPack "
                          "carries no gradient; export t.detach() instead (as PyTorch asks)")
    # only what the consumer passed: an unversioned (legacy) consumer passes no max_version
    kwargs = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                                ("dl_device", dl_device), ("copy", copy)) if v is not None}
    array = t.array
    flags = getattr(array, "flags", None)
    if max_version is None and flags is not None and not getattr(flags, "writeable", True):
        # NOTE: unversioned DLPack cannot say "read-only", so NumPy refuses such an export;
        # a copy is allowed (copy=None means "may copy") and protects the original.
        if copy is False:
            raise BufferError(f"__dlpack__: the tensor's array (shape {t.shape}) is read-only, "
                              "which the consumer's DLPack version cannot express, and copy=False")
        array = array.copy()
    return array.__dlpack__(**kwargs)


def dlpack_device(t):
    """``Tensor.__dlpack_device__``: ``(device type, index)`` as DLPack numbers them."""
    return t.array.__dlpack_device__()


def from_dlpack(x, device=None):
    """A Tensor sharing the memory of ``x``, any object with ``__dlpack__`` (a NumPy, PyTorch,
    CuPy or JAX array, or a gradcore Tensor): zero copy, on ``x``'s device.

    With ``device`` set to another device, the data is copied there. The Tensor does not require
    grad; a PyTorch tensor that requires grad is refused by PyTorch (pass ``x.detach()``).

    >>> import numpy, gradcore as gc
    >>> a = numpy.zeros(3, dtype=numpy.float32)
    >>> t = gc.from_dlpack(a)
    >>> a[0] = 5.0  # the same memory
    >>> t.tolist()
    [5.0, 0.0, 0.0]
    """
    if not hasattr(x, "__dlpack__") or not hasattr(x, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: expected an array with __dlpack__ and __dlpack_device__ "
                        f"(NumPy, PyTorch, CuPy, JAX), got {type(x).__name__}")
    kind, index = x.__dlpack_device__()
    if kind == _KDL_CPU:
        import numpy
        array = numpy.from_dlpack(x)
    elif kind in (_KDL_CUDA, _KDL_CUDA_HOST, _KDL_CUDA_MANAGED):
        cuda = backend.device(f"cuda:{index}" if kind == _KDL_CUDA else "cuda")
        with cuda.use():
            array = cuda.xp.from_dlpack(x)
    else:
        raise TypeError(f"from_dlpack: {type(x).__name__} lives on DLPack device type {kind} "
                        f"(index {index}); gradcore holds CPU (1) and CUDA (2, 3, 13) memory")
    out = Tensor._make(array, backend.device_of(array), False, None, 0)
    return out if device is None else out.to(device)
