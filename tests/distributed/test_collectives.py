"""gradcore.distributed: collectives on 2 MPI ranks, the 1-process world, argument errors, and
the NCCL backend's plumbing against a fake ``cupy.cuda.nccl`` (no GPU here: the real NCCL path
runs only on a machine with GPUs)."""
import ctypes
import types

import numpy
import pytest

import gradcore as gc
import gradcore.distributed as dist
from gradcore.distributed import backends

from . import mpi


def test_collectives_on_two_ranks():
    out = mpi.check(mpi.run("collectives"))
    assert "rank 0: collectives ok" in out.stdout and "rank 1: collectives ok" in out.stdout


@pytest.fixture
def alone(monkeypatch):
    """A fresh 1-process world in this test process."""
    monkeypatch.setattr(dist, "_world", None)
    dist.init()
    return dist


def test_one_process_world_is_the_identity(alone):
    t = gc.tensor([1.0, -2.0])
    for op in dist.OPS:
        assert dist.all_reduce(t, op=op).tolist() == [1.0, -2.0]
    assert dist.broadcast(t, src=0).tolist() == [1.0, -2.0]
    parts = dist.all_gather(t)
    assert len(parts) == 1 and parts[0].tolist() == [1.0, -2.0] and parts[0].array is not t.array
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (0, 1, True)
    dist.barrier()
    dist.init()  # a second call is harmless
    with pytest.raises(RuntimeError, match="cannot switch"):
        dist.init(backend="nccl")


def test_argument_errors(alone):
    t = gc.tensor([1.0])
    with pytest.raises(ValueError, match=r"all_reduce: op must be one of .*'prod'"):
        dist.all_reduce(t, op="prod")
    with pytest.raises(TypeError, match="expected a gradcore Tensor, got ndarray"):
        dist.all_reduce(numpy.ones(2))
    with pytest.raises(TypeError, match=r"op='mean' needs a floating tensor, got dtype int64"):
        dist.all_reduce(gc.tensor([1, 2], dtype="int64"), op="mean")
    with pytest.raises(ValueError, match=r"src must be a rank in 0..0, got 1"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="backend must be one of"):
        dist.init(backend="gloo")


def test_uninitialized_use_is_refused(monkeypatch):
    monkeypatch.setattr(dist, "_world", None)
    for call in (dist.get_rank, dist.barrier, lambda: dist.all_reduce(gc.ones(1)),
                 lambda: dist.all_gather(gc.ones(1)), lambda: gc.data.DistributedSampler(4),
                 lambda: gc.nn.DistributedDataParallel(gc.nn.Linear(1, 1))):
        with pytest.raises(RuntimeError, match=r"init\(\) first"):
            call()
    assert not dist.is_initialized()


def test_nccl_backend_refuses_cpu_tensors(monkeypatch):
    monkeypatch.setattr(dist, "_world", dist._World(None, "nccl"))
    with pytest.raises(ValueError, match=r"all_reduce: the nccl backend handles CUDA tensors "
                                         r"only; got a tensor on cpu \(shape \(2,\)"):
        dist.all_reduce(gc.ones(2))


# ---- NCCL plumbing, against a fake NCCL on host memory --------------------------------------
class _DevArray(numpy.ndarray):
    """A host array dressed as a CuPy array: ``.data.ptr`` and ``.device.id``."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)

    @property
    def device(self):
        return types.SimpleNamespace(id=0)


def _at(ptr, count, dtype):
    size = count * numpy.dtype(dtype).itemsize
    return numpy.frombuffer((ctypes.c_char * size).from_address(ptr), dtype)


class _FakeComm:
    """Rank 0 of a 2-rank NCCL world whose other rank holds twice our values."""

    def __init__(self, calls, size, uid, rank):
        self.calls = calls
        calls.append(("init", size, uid, rank))

    def allReduce(self, send, recv, count, dtype, op, stream):
        self.calls.append(("allReduce", count, dtype, op, stream))
        x = _at(send, count, dtype).copy()
        both = numpy.stack([x, 2 * x])
        _at(recv, count, dtype)[:] = {"sum": both.sum(0), "max": both.max(0),
                                      "min": both.min(0)}[op]

    def bcast(self, buf, count, dtype, root, stream):
        self.calls.append(("bcast", count, dtype, root, stream))
        if root == 1:
            _at(buf, count, dtype)[:] *= 2

    def allGather(self, send, recv, count, dtype, stream):
        self.calls.append(("allGather", count, dtype, stream))
        x = _at(send, count, dtype)
        _at(recv, 2 * count, dtype)[:] = numpy.concatenate([x, 2 * x])


def _fake_nccl_backend():
    calls = []
    nccl = types.SimpleNamespace(
        NCCL_SUM="sum", NCCL_MAX="max", NCCL_MIN="min", NCCL_FLOAT64="float64",
        NCCL_FLOAT32="float32", NCCL_INT64="int64",
        get_unique_id=lambda: "uid-from-rank-0",
        NcclCommunicator=lambda size, uid, rank: _FakeComm(calls, size, uid, rank))
    stream = types.SimpleNamespace(ptr=1234)
    cupy = types.SimpleNamespace(
        cuda=types.SimpleNamespace(Device=lambda i: _nullcontext(), get_current_stream=lambda: stream),
        ascontiguousarray=lambda a: numpy.ascontiguousarray(a).view(_DevArray),
        empty=lambda shape, dtype: numpy.empty(shape, dtype).view(_DevArray),
        divide=numpy.divide)
    mpi_comm = types.SimpleNamespace(bcast=lambda obj, root: calls.append(("mpi_bcast", obj, root)) or obj)
    return backends.NCCLBackend(mpi_comm, 0, 2, nccl, cupy), calls


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_nccl_backend_plumbing_with_a_fake_nccl():
    be, calls = _fake_nccl_backend()
    x = numpy.array([[1.0, -2.0], [3.0, 4.0]]).view(_DevArray)
    assert be.all_reduce(x, "sum").tolist() == [[3.0, -6.0], [9.0, 12.0]]
    # the unique id is drawn on rank 0 and sent over MPI before the communicator is made, once
    assert calls[:2] == [("mpi_bcast", "uid-from-rank-0", 0), ("init", 2, "uid-from-rank-0", 0)]
    assert calls[2] == ("allReduce", 4, "float64", "sum", 1234)
    x = numpy.array([1.0, -2.0]).view(_DevArray)
    assert be.all_reduce(x, "mean").tolist() == [1.5, -3.0]  # sum, then / world size
    assert be.all_reduce(numpy.array([1.0, -2.0]).view(_DevArray), "max").tolist() == [2.0, -2.0]
    assert be.broadcast(numpy.array([5, 6]).view(_DevArray), 1).tolist() == [10, 12]
    parts = be.all_gather(numpy.array([1.0, 2.0], "float32").view(_DevArray))
    assert [p.tolist() for p in parts] == [[1.0, 2.0], [2.0, 4.0]]
    # a non-contiguous view goes through a contiguous copy and is written back
    base = numpy.ones((2, 3)).view(_DevArray)
    be.all_reduce(base[:, 1], "sum")
    assert base.tolist() == [[1.0, 3.0, 1.0]] * 2
    assert sum(c[0] == "init" for c in calls) == 1
    with pytest.raises(TypeError, match="dtype uint8 has no NCCL type"):
        be.all_reduce(numpy.zeros(2, "uint8").view(_DevArray), "sum")


def test_mpi_for_gpu_arrays_is_staged_through_the_host():
    """init(backend="mpi") with CUDA tensors: copy to the host, MPI, copy back into the array."""
    class Doubling:  # an MPI backend whose other rank holds the same values
        def all_reduce(self, a, op):
            return a * 2

        def broadcast(self, a, src):
            return a + src

        def all_gather(self, a):
            return [a, a + 1]

    copies = []
    xp = types.SimpleNamespace(asnumpy=lambda a: copies.append("d2h") or numpy.array(a),
                               asarray=lambda a: copies.append("h2d") or numpy.array(a))
    staged = backends.HostStaged(Doubling(), xp)
    x = numpy.array([1.0, 2.0])
    assert staged.all_reduce(x, "sum") is x and x.tolist() == [2.0, 4.0]
    assert staged.broadcast(x, 1).tolist() == [3.0, 5.0]
    assert [p.tolist() for p in staged.all_gather(x)] == [[3.0, 5.0], [4.0, 6.0]]
    assert copies == ["d2h", "h2d"] * 2 + ["d2h", "h2d", "h2d"]


def test_without_mpi4py_a_script_runs_alone(monkeypatch):
    monkeypatch.setattr(dist, "_world", None)
    monkeypatch.setitem(__import__("sys").modules, "mpi4py", None)  # import mpi4py fails
    with pytest.raises(RuntimeError, match=r"backend='mpi'\) needs mpi4py .*gradcore\[mpi\]"):
        dist.init(backend="mpi")
    dist.init()
    assert dist.get_world_size() == 1 and dist.all_reduce(gc.ones(2)).tolist() == [1.0, 1.0]
    assert dist.all_gather_object(3) == [3]


def test_abort_alone_is_an_exit(alone):
    with pytest.raises(SystemExit) as info:
        dist.abort(5)
    assert info.value.code == 5
