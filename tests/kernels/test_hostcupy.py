"""The host stand-in's device model (tests/kernels/hostcupy/device.py): what the GPU tests in
tests/test_gpu.py rely on when they run without a GPU."""
import gc as pygc

import hostcupy
import numpy as np
import pytest


def test_host_reads_and_syncs_after_queued_work_are_counted_waits():
    x = hostcupy.ones(4, np.float32)
    count, _ = hostcupy.host_waits()
    y = x * 2  # queued
    assert hostcupy.host_waits()[0] == count  # launching never waits
    assert y.sum().item() == 8.0  # a host read: waits for the queued work
    count += 1
    assert hostcupy.host_waits()[0] == count
    y.item  # noqa: B018 (an attribute, not a read)
    float(y[0])  # the getitem is queued work, so this read waits again
    hostcupy.cuda.Device().synchronize()  # nothing queued since: no wait
    assert hostcupy.host_waits()[0] == count + 1
    (y * 1)[y > 1]  # a boolean mask sizes its result on the host
    count, where = hostcupy.host_waits()
    assert "boolean mask" in where[-1] and "test_hostcupy.py" in where[-1]


def test_live_device_bytes_are_counted_until_freed():
    pool = hostcupy.get_default_memory_pool()
    pygc.collect()
    before = pool.used_bytes()
    a = hostcupy.zeros((1000,), np.float64)
    view = a[10:]  # a view: no new bytes
    b = a + 1
    assert pool.used_bytes() == before + 2 * 8000
    del a, b
    assert pool.used_bytes() == before + 8000  # the view keeps its buffer alive
    del view
    assert pool.used_bytes() == before
    free, total = hostcupy.cuda.runtime.memGetInfo()
    assert free == total - before


def test_the_device_has_a_set_size():
    old = hostcupy.set_device_bytes(1 << 20)
    try:
        a = hostcupy.ones(1000, np.float32)
        with pytest.raises(hostcupy.cuda.memory.OutOfMemoryError, match="Out of memory"):
            hostcupy.broadcast_to(a[:1], (1 << 20,)) * 2  # refused before the host allocates
        with pytest.raises(hostcupy.cuda.memory.OutOfMemoryError):
            hostcupy.empty((1 << 20,), np.float32)
        assert (a + 1).sum().item() == 2000
    finally:
        hostcupy.set_device_bytes(old)


def test_only_names_cupy_has_are_provided():
    assert hostcupy.exp is not None and hostcupy.float32 is np.float32
    for name in ("_core", "cuda", "ElementwiseKernel", "ReductionKernel", "asarray"):
        assert hasattr(hostcupy, name)
    for missing in ("lib", "asmatrix", "_globals", "__wrapped__"):  # NumPy has them; CuPy not
        with pytest.raises(AttributeError):
            getattr(hostcupy, missing)
    assert not hasattr(hostcupy._core, "multiarray")  # not numpy._core behind CuPy's name


def test_tf32_rounds_float32_gemm_inputs_when_switched_on():
    linalg = hostcupy._core._routines_linalg
    a = hostcupy.asarray(np.full((4, 4), 1.0001, np.float32))
    old = linalg.get_compute_type(np.float32)
    try:
        linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TF32)
        assert (a @ a).get()[0, 0] == 4.0  # 1.0001 has no TF32 form: 1.0
        assert hostcupy.matmul(a.astype(np.float64), a.astype(np.float64)).get()[0, 0] > 4.0008
        linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_DEFAULT)
        assert (a @ a).get()[0, 0] == pytest.approx(4 * 1.0001**2, rel=1e-6)
    finally:
        linalg.set_compute_type(np.float32, old)
