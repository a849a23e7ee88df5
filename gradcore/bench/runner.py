"""Timing discipline for the benchmarks and ``gradcore bench``.

* warm-up first (compilation, caches, allocator pools stay out of the numbers);
* each sample runs the step ``inner`` times, calibrated so a sample lasts >= ~2 ms, so launch and
  clock overheads do not swamp microsecond kernels;
* GPU samples are bracketed by CUDA events after a synchronize (device time, not host time);
* ``gradcore bench`` times one engine per process (gradcore.bench.isolate); given several
  engines, they are interleaved sample by sample with the order rotating every round (NOTE:
  an engine's worker threads, OpenBLAS's after a NumPy GEMM or PyTorch's OpenMP ones, spin for
  a while after its step and slow down whoever runs next: only ``--isolation`` still does this,
  to show the effect);
* the median of >= 20 samples is reported.
"""
from __future__ import annotations

import statistics
import time

import gradcore as gc

__all__ = ["sync", "time_interleaved"]


def sync(device):
    """Wait for queued GPU work on ``device`` (gradcore's CuPy and, if loaded, PyTorch)."""
    if device == "cpu":
        return
    gc.cuda.synchronize()
    import sys  # noqa: PLC0415
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


class _Clock:
    """Host clock on the CPU; CUDA events (CuPy's, on the shared legacy stream) on a GPU."""

    def __init__(self, device):
        self.device = device
        self.events = None
        if device != "cpu":
            import cupy  # noqa: PLC0415
            self.events = (cupy.cuda.Event(), cupy.cuda.Event())

    def measure(self, step, inner):
        if self.events is None:
            t0 = time.perf_counter()
            for _ in range(inner):
                step()
            return (time.perf_counter() - t0) / inner
        start, stop = self.events
        sync(self.device)
        start.record()
        for _ in range(inner):
            step()
        stop.record()
        stop.synchronize()
        sync(self.device)
        import cupy  # noqa: PLC0415
        return cupy.cuda.get_elapsed_time(start, stop) / 1e3 / inner


def _calibrate(clock, step, target_s):
    inner = 1
    while True:
        t = clock.measure(step, inner) * inner
        if t >= target_s or inner >= 1 << 16:
            return inner
        inner *= 2 if t <= 0 else max(2, min(16, int(target_s / t) + 1))


def time_interleaved(steps, device, reps=20, warmup=2, target_s=2e-3):
    """Median seconds per step for each entry of ``steps`` (a dict name -> callable).

    Returns ``{name: {"median_s", "min_s", "samples", "inner"}}``.
    """
    clock = _Clock(device)
    for step in steps.values():
        for _ in range(warmup):
            step()
    sync(device)
    inner = {name: _calibrate(clock, step, target_s) for name, step in steps.items()}
    samples = {name: [] for name in steps}
    names = list(steps)
    for r in range(reps):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(clock.measure(steps[name], inner[name]))
    return {name: {"median_s": statistics.median(s), "min_s": min(s), "samples": len(s),
                   "inner": inner[name]} for name, s in samples.items()}
