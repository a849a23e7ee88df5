"""The host stand-in (tests/kernels/hostcupy/): its device model (device.py), which the GPU tests
in tests/test_gpu.py rely on without a GPU, and its fidelity rules: where it would be kinder
than a GPU, it refuses instead. Aliasing: an input sharing memory with an output is a race on a
GPU (CuPy does not copy it) but harmless here (the stand-in copies inputs), so it must raise
unless the kernel is declared alias-safe and the input is the output's very view."""
from __future__ import annotations

import gc as pygc

import hostcupy
import numpy as np
import pytest

from gradcore.kernels import Elementwise, Reduction, cupy_kernel, registry
from gradcore.kernels import activation as ka
from gradcore.kernels import reduction as kr


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


# Not in the registry, so nothing declares it alias-safe: y[i] = x[i] + 1.
UNDECLARED = Elementwise("gradcore_test_add_one", "activation", "T x", "T y", "y = x + (T)1;")


def test_undeclared_kernel_refuses_an_aliased_output(use_hostcupy):
    x = use_hostcupy.asarray(np.arange(6.0))
    kernel = cupy_kernel(UNDECLARED)
    np.testing.assert_array_equal(kernel(x).get(), np.arange(6.0) + 1)  # fresh output: fine
    with pytest.raises(ValueError, match=r"gradcore_test_add_one: input x \(6,\) shares memory "
                                         r"with output y \(6,\).*not declared alias_safe"):
        kernel(x, x)
    with pytest.raises(ValueError, match="shares memory"):  # a view of it too
        kernel(x[::-1], x)


def test_alias_safe_kernel_allows_the_same_view_only(use_hostcupy):
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    b = np.array([0.5, -0.5, 1.0, 0.0])
    zg, bg = use_hostcupy.asarray(z), use_hostcupy.asarray(b)
    assert ka.bias_act(zg, bg, "relu", out=zg) is zg  # out=z, as the fused Linear does
    np.testing.assert_array_equal(zg.get(), ka.bias_act(z, b, "relu"))
    shifted = use_hostcupy.asarray(np.arange(8.0))
    with pytest.raises(ValueError, match="is not the same view"):  # y[i] = act(x[i+1]): a race
        ka.relu(shifted[1:], out=shifted[:-1])
    row = use_hostcupy.asarray(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"input b \(4,\) shares memory with output y"):
        ka.bias_act(row, row[0], "relu", out=row)  # b broadcast over the rows it overwrites


def test_reductions_are_never_alias_safe(use_hostcupy):
    g = use_hostcupy.asarray(np.ones((3, 4)))
    spec = kr._SUM_ROWS_DOUBLE
    assert isinstance(spec, Reduction)
    with pytest.raises(ValueError, match="shares memory"):
        cupy_kernel(spec)(g, axis=0, out=g[0])


def test_alias_safe_is_declared_only_on_plain_elementwise_kernels():
    """The declaration's precondition, checkable on the text: no raw params (a thread reading
    elements other than its own), and the operation assigns each output once (the
    pre-activation kernels have two: s, then y), at its end."""
    declared = [s for family in registry().values() for s in family
                if getattr(s, "alias_safe", False)]
    assert {s.name for s in declared} >= {"gradcore_bias_relu", "gradcore_relu_backward"}
    for spec in declared:
        assert isinstance(spec, Elementwise)
        assert "raw" not in spec.in_params + spec.out_params, spec.name
        for out_name in [p.split()[-1] for p in spec.out_params.split(",")]:
            assert spec.operation.count(f" {out_name} =") == 1, spec.name
        assert spec.operation.rstrip().endswith(";"), spec.name
