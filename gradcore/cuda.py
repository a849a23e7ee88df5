"""``gc.cuda``: is a GPU usable, and if not, why."""
from __future__ import annotations

from gradcore.backend import cuda_device_count as device_count
from gradcore.backend import cuda_is_available as is_available
from gradcore.backend import cuda_unavailable_reason as unavailable_reason

__all__ = ["is_available", "device_count", "unavailable_reason", "synchronize"]


def synchronize():
    """Wait for all queued GPU work (no-op without a GPU); call before reading a host clock.

    >>> import gradcore as gc
    >>> y = gc.ones(1000) * 2  # on a GPU this only queues the work
    >>> gc.cuda.synchronize()  # returns once it has run
    """
    if is_available():
        import cupy  # noqa: PLC0415
        cupy.cuda.Device().synchronize()
