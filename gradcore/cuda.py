"""``gc.cuda``: is a GPU usable, and if not, why."""
from __future__ import annotations

from gradcore.backend import cuda_device_count as device_count
from gradcore.backend import cuda_is_available as is_available
from gradcore.backend import cuda_unavailable_reason as unavailable_reason
from gradcore.kernels import errors as kernel_errors

__all__ = ["is_available", "device_count", "unavailable_reason", "synchronize"]


def synchronize():
    """Wait for all queued GPU work (no-op without a GPU); call before reading a host clock.

    Also raises the first error a kernel flagged on the device since the last check (an
    out-of-range cross-entropy label, say; see :mod:`gradcore.kernels.errors`).

    >>> import gradcore as gc
    >>> y = gc.ones(1000) * 2  # on a GPU this only queues the work
    >>> gc.cuda.synchronize()  # returns once it has run
    """
    if is_available():
        import cupy  # noqa: PLC0415
        cupy.cuda.Device().synchronize()
    kernel_errors.check()  # errors the kernels flagged on the device are raised here at the latest
