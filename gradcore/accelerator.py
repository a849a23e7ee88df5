"""``gc.accelerator``: PyTorch's device-generic questions (``torch.accelerator``), answered for
the one accelerator gradcore drives, an NVIDIA GPU through CuPy.

>>> import gradcore as gc
>>> gc.accelerator.is_available() == gc.cuda.is_available()
True
>>> acc = gc.accelerator.current_accelerator()
>>> device = acc if acc is not None else gc.device("cpu")  # the idiom PyTorch scripts use
"""
from __future__ import annotations

from gradcore import backend

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available():
    """True when a CUDA GPU is usable (see :func:`gradcore.cuda.unavailable_reason` if not)."""
    return backend.cuda_is_available()


def device_count():
    """How many CUDA GPUs are usable (0 without one)."""
    return backend.cuda_device_count()


def current_accelerator():
    """``gc.device("cuda")`` when a GPU is usable, else None (as ``torch.accelerator``)."""
    return backend.device("cuda") if is_available() else None
