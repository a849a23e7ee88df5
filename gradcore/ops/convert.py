"""Conversions that stay on the tape: dtype casts and moves between devices."""
from __future__ import annotations

import numpy

from gradcore import backend
from gradcore.autograd.function import Function, tangent_of
from gradcore.autograd.mode import STATE
from gradcore.tensor import Tensor

__all__ = ["astype", "to_device", "clone"]


class AsType(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.x_dtype)

    def jvp(self, xs, y, txs):
        return txs[0].astype(self.dtype)


def astype(x, dtype):
    """``x`` cast to ``dtype``; differentiable between floating dtypes.

    >>> import gradcore as gc
    >>> gc.astype(gc.tensor([1.7, -1.2]), "int32").tolist()
    [1, -1]
    """
    try:
        dtype = numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"astype: {dtype!r} is not a dtype (tensor of dtype {x.dtype}, shape "
                        f"{x.shape})") from None
    if x.dtype == dtype:
        return x
    return AsType(dtype)(x)


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy

    def jvp(self, xs, y, txs):
        return txs[0]


def clone(x):
    """A copy of ``x`` with its own storage, on the tape (PyTorch's ``clone``): the gradient
    passes through unchanged, and later in-place changes of either leave the other alone.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> y = gc.ops.convert.clone(x); (y * 3).sum().backward(); x.grad.tolist()
    [3.0, 3.0]
    """
    return Clone()(x)


class ToDevice(Function):
    def __init__(self, device):
        self.device = device

    def __call__(self, x):
        # The output lives on another device than the input, so the generic device bookkeeping
        # of Function.__call__ is bypassed: move, then wrap with the target device.
        self.source = x.device
        y = backend.to_device(x.array, self.device)
        record = x.requires_grad and STATE.grad_enabled
        if record:
            self.edges = ((x.node, x._index) if x.node is not None else x,)
        out = Tensor._make(y, self.device, record, self if record else None, 0)
        tx = tangent_of(x, STATE.forward_ad) if STATE.forward_ad else None
        if tx is not None:
            out.tangent = (STATE.forward_ad, backend.to_device(tx, self.device))
        return out

    def backward(self, gy):
        return to_device(gy, self.source)


def to_device(x, device):
    """``x`` on ``device`` (one copy); gradients flow back to the source device.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], device="cpu", requires_grad=True)
    >>> y = gc.to_device(x, "cuda" if gc.cuda.is_available() else "cpu")
    >>> (y * 3).sum().backward(); x.grad.device, x.grad.tolist()
    (device('cpu'), [3.0, 3.0])
    """
    device = backend.device(device)
    if x.device is device:
        return x
    return ToDevice(device)(x)
