"""Stream capture on the host stand-in (tests/kernels/hostcupy/graph.py, cublas.py): it must be
no kinder than CUDA, or tests of gc.compile on it would pass where a GPU fails. Nothing runs
during a capture, a graph holds addresses (freed memory is caught at launch), synchronous calls
and host-to-device copies are refused, and CuPy's own cuBLAS path refuses a capturing stream."""
from __future__ import annotations

import gc as pygc

import hostcupy
import numpy as np
import pytest
from hostcupy import cublas
from hostcupy.graph import CUDARuntimeError


@pytest.fixture
def stream():
    s = hostcupy.cuda.Stream(non_blocking=True)
    with s:
        yield s


def test_nothing_runs_during_capture_and_each_launch_runs_it_once(stream):
    a = hostcupy.zeros(3, np.float32)
    stream.begin_capture()
    a += 1
    b = a * 2  # a buffer allocated during capture
    g = stream.end_capture()
    assert a.get().tolist() == [0, 0, 0]  # the capture did not execute
    assert np.isnan(b.get()).all()  # 0xFF bytes: garbage, not a result
    g.launch(stream)
    assert a.get().tolist() == [1, 1, 1] and b.get().tolist() == [2, 2, 2]
    g.launch(stream)
    assert a.get().tolist() == [2, 2, 2] and b.get().tolist() == [4, 4, 4]


def test_a_graph_reads_the_buffers_current_values_and_freezes_scalars(stream):
    x, lr = hostcupy.asarray(np.arange(3.0)), 0.5
    stream.begin_capture()
    y = x * lr
    g = stream.end_capture()
    x[...] = hostcupy.asarray(np.full(3, 10.0))  # new input data in the static buffer
    lr = 2.0  # noqa: F841 (a Python scalar the graph does not see)
    g.launch()
    assert y.get().tolist() == [5.0, 5.0, 5.0]


def test_a_launch_is_one_launch_on_the_stream(stream):
    x = hostcupy.ones(4)
    stream.begin_capture()
    for _ in range(5):
        x += 1
    g = stream.end_capture()
    hostcupy.cuda.Device().synchronize()
    before = hostcupy.host_waits()[0]
    g.launch()
    x.get()
    assert hostcupy.host_waits()[0] == before + 1 and x.get().tolist() == [6.0] * 4


@pytest.mark.parametrize("read", [lambda a: a.get(), lambda a: a.item(), float,
                                  lambda a: hostcupy.cuda.Device().synchronize()])
def test_host_reads_and_syncs_during_capture_raise_and_invalidate_it(stream, read):
    a = hostcupy.ones(())
    stream.begin_capture()
    with pytest.raises(CUDARuntimeError, match="cudaErrorStreamCaptureUnsupported"):
        read(a)
    with pytest.raises(CUDARuntimeError, match="cudaErrorStreamCaptureInvalidated"):
        stream.end_capture()


def test_host_to_device_copies_during_capture_raise(stream):
    stream.begin_capture()
    with pytest.raises(RuntimeError, match="H2D transfers are disallowed"):
        hostcupy.asarray(np.ones(3))
    stream.end_capture()  # CuPy refused before calling CUDA: the capture is still valid


@pytest.mark.parametrize("call", [lambda a: a @ a, lambda a: hostcupy.matmul(a, a),
                                  lambda a: hostcupy.einsum("ij,jk->ik", a, a),
                                  lambda a: hostcupy.linalg.inv(a)])
def test_cupys_cublas_and_cusolver_paths_refuse_a_capturing_stream(stream, call):
    a = hostcupy.asarray(np.eye(2))
    call(a)  # fine outside a capture
    stream.begin_capture()
    with pytest.raises(NotImplementedError, match="during stream capture is currently unsupported"):
        call(a)
    assert stream.end_capture().nodes == []


def test_cupy_binding_refuses_the_capturing_stream_and_the_raw_call_needs_the_bound_handle(stream):
    a = hostcupy.asarray(np.eye(2, dtype=np.float32))
    c = hostcupy.zeros((2, 2), np.float32)
    handle, other = cublas.create(), cublas.create()
    cublas.setStream(handle, stream.ptr)  # before the capture: allowed
    stream.begin_capture()
    with pytest.raises(NotImplementedError):
        cublas.setStream(other, stream.ptr)
    with pytest.raises(RuntimeError, match="outside the graph"):  # bound to the null stream
        cublas.raw_stand_in.sgemm(other, 0, 0, 2, 2, 2, 1.0, a.data.ptr, 2, a.data.ptr, 2, 0.0, c.data.ptr, 2)
    cublas.raw_stand_in.sgemm(handle, 0, 0, 2, 2, 2, 1.0, a.data.ptr, 2, a.data.ptr, 2, 0.0, c.data.ptr, 2)
    g = stream.end_capture()
    assert c.get().tolist() == [[0, 0], [0, 0]]
    g.launch()
    assert c.get().tolist() == [[1, 0], [0, 1]]


def test_memory_freed_after_capture_is_caught_at_launch_unless_a_private_pool_holds_it(stream):
    x = hostcupy.ones(3)
    stream.begin_capture()
    t = x * 2  # a temporary of the capture, dropped below
    y = t + 1
    g = stream.end_capture()
    del t
    pygc.collect()
    with pytest.raises(CUDARuntimeError, match="freed after capture"):
        g.launch()

    pool = hostcupy.cuda.MemoryPool()
    with hostcupy.cuda.using_allocator(pool.malloc):
        stream.begin_capture()
        t = x * 2
        y = t + 1
        g = stream.end_capture()
    del t
    pygc.collect()
    g.launch()  # the pool owns the temporary's block
    assert y.get().tolist() == [3.0] * 3
    del pool
    pygc.collect()
    with pytest.raises(CUDARuntimeError, match="freed after capture"):
        g.launch()


def test_capture_rules(stream):
    with pytest.raises(RuntimeError, match="legacy"):
        hostcupy.cuda.Stream.null.begin_capture()
    with pytest.raises(CUDARuntimeError):
        stream.end_capture()  # not capturing
    with pytest.raises(NotImplementedError):
        hostcupy.cuda.Graph()
