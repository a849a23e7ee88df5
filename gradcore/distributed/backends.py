"""The engines that move the bytes: MPI (``mpi4py``) for host arrays, NCCL (CuPy's
``cupy.cuda.nccl``) for GPU arrays, and the 1-process world that needs neither.

Each backend works on raw arrays, in place, and knows nothing of Tensors or autograd; the public
functions in :mod:`gradcore.distributed` check their arguments and pick the backend.
"""
from __future__ import annotations

import numpy

OPS = ("sum", "mean", "max", "min")


class Local:
    """A world of one process: every collective is the identity (``mean`` of one is itself)."""

    name = "local"

    def all_reduce(self, array, op):
        return array

    def broadcast(self, array, src):
        return array

    def all_gather(self, array):
        return [array.copy()]


class MPIBackend:
    """Collectives on host arrays with mpi4py's buffer interface (no pickling)."""

    name = "mpi"

    def __init__(self, comm):
        from mpi4py import MPI
        self.MPI, self.comm, self.size = MPI, comm, comm.Get_size()
        self._ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def all_reduce(self, array, op):
        buf = _contiguous(array)
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self._ops[op])
        if op == "mean":
            numpy.divide(buf, self.size, out=buf)  # NOTE: sum then divide, as NCCL's ncclAvg
        return _write_back(array, buf)

    def broadcast(self, array, src):
        buf = _contiguous(array)
        self.comm.Bcast(buf, root=src)
        return _write_back(array, buf)

    def all_gather(self, array):
        out = numpy.empty((self.size,) + array.shape, array.dtype)
        self.comm.Allgather(numpy.ascontiguousarray(array), out)
        return list(out)


class HostStaged:
    """MPI for GPU arrays, when chosen explicitly (``init(backend="mpi")`` on a machine where
    NCCL is unwanted): one device-to-host copy, the MPI collective, one copy back."""

    def __init__(self, mpi, xp):
        self.mpi, self.xp, self.name = mpi, xp, "mpi"

    def all_reduce(self, array, op):
        array[...] = self.xp.asarray(self.mpi.all_reduce(self.xp.asnumpy(array), op))
        return array

    def broadcast(self, array, src):
        array[...] = self.xp.asarray(self.mpi.broadcast(self.xp.asnumpy(array), src))
        return array

    def all_gather(self, array):
        return [self.xp.asarray(a) for a in self.mpi.all_gather(self.xp.asnumpy(array))]


class NCCLBackend:
    """Collectives on CuPy arrays through NCCL, one communicator per GPU.

    As ChainerMN did, rank 0 draws the NCCL unique id and MPI broadcasts it; every rank then
    joins the NCCL communicator of the GPU it uses (one rank per GPU: NCCL refuses two ranks
    on one device). Collectives run on CuPy's current stream, so they are ordered after the
    kernels that produced the data, with no host synchronisation.
    ``nccl`` and ``cupy`` are passed in so the plumbing can be tested without a GPU.
    """

    name = "nccl"

    def __init__(self, comm, rank, size, nccl, cupy):
        self.comm, self.rank, self.size, self.nccl, self.cupy = comm, rank, size, nccl, cupy
        self._comms = {}  # CUDA device id -> NcclCommunicator
        self._ops = {"sum": nccl.NCCL_SUM, "mean": nccl.NCCL_SUM, "max": nccl.NCCL_MAX,
                     "min": nccl.NCCL_MIN}
        self._types = {numpy.dtype(k): getattr(nccl, v) for k, v in _NCCL_TYPES.items()
                       if hasattr(nccl, v)}

    def _communicator(self, device_id):
        nccl_comm = self._comms.get(device_id)
        if nccl_comm is None:
            uid = self.nccl.get_unique_id() if self.rank == 0 else None
            uid = self.comm.bcast(uid, root=0)  # every rank calls this: it is a collective
            with self.cupy.cuda.Device(device_id):
                nccl_comm = self.nccl.NcclCommunicator(self.size, uid, self.rank)
            self._comms[device_id] = nccl_comm
        return nccl_comm

    def _args(self, array):
        dtype = self._types.get(numpy.dtype(array.dtype))
        if dtype is None:
            raise TypeError(f"distributed (nccl): dtype {array.dtype} has no NCCL type; "
                            f"supported: {sorted(str(d) for d in self._types)}")
        return self._communicator(array.device.id), dtype, self.cupy.cuda.get_current_stream().ptr

    def all_reduce(self, array, op):
        buf = _contiguous(array, self.cupy)
        with self.cupy.cuda.Device(buf.device.id):
            nccl_comm, dtype, stream = self._args(buf)
            nccl_comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, dtype, self._ops[op], stream)
            if op == "mean":
                self.cupy.divide(buf, self.size, out=buf)
        return _write_back(array, buf)

    def broadcast(self, array, src):
        buf = _contiguous(array, self.cupy)
        with self.cupy.cuda.Device(buf.device.id):
            nccl_comm, dtype, stream = self._args(buf)
            nccl_comm.bcast(buf.data.ptr, buf.size, dtype, src, stream)
        return _write_back(array, buf)

    def all_gather(self, array):
        buf = self.cupy.ascontiguousarray(array)
        with self.cupy.cuda.Device(buf.device.id):
            nccl_comm, dtype, stream = self._args(buf)
            out = self.cupy.empty((self.size,) + tuple(buf.shape), buf.dtype)
            nccl_comm.allGather(buf.data.ptr, out.data.ptr, buf.size, dtype, stream)
        return [out[i] for i in range(self.size)]


_NCCL_TYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
               "uint32": "NCCL_UINT32", "int64": "NCCL_INT64", "uint64": "NCCL_UINT64",
               "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64"}


def _contiguous(array, xp=numpy):
    """The array itself when C-contiguous (the collective writes straight into it), else a
    contiguous copy that :func:`_write_back` copies back."""
    return array if array.flags.c_contiguous else xp.ascontiguousarray(array)


def _write_back(array, buf):
    if buf is not array:
        array[...] = buf
    return array
