"""``gradcore.distributed``: collectives across the processes of an MPI job.

Launch N processes with ``mpiexec -n N python train.py``; each calls :func:`init` once. Run
alone (no ``mpiexec``, or mpi4py not installed), :func:`init` makes a 1-process world in which
every collective is the identity, so the same script runs unchanged.

The backend is chosen per call from the Tensor's device: MPI (mpi4py) for CPU arrays, NCCL
(CuPy's ``cupy.cuda.nccl``, its unique id broadcast over MPI) for CUDA arrays.
``init(backend="mpi")`` sends CUDA arrays through MPI instead (staged through the host);
``init(backend="nccl")`` refuses CPU tensors. Collectives work in place on ``t.array`` and
bump the Tensor's version, as any in-place op does.

In a job of more than one process, an exception that no code catches prints its traceback and
then aborts the whole job (``MPI_Abort``) with a line naming the rank, so the other ranks
fail at once instead of waiting forever in their next collective.

>>> import gradcore as gc, gradcore.distributed as dist
>>> dist.init()          # alone: a 1-process world
>>> t = gc.tensor([1.0, 2.0])
>>> dist.all_reduce(t, op="mean").tolist(), dist.get_rank(), dist.get_world_size()
([1.0, 2.0], 0, 1)
"""
from __future__ import annotations

import sys
import time

import numpy

from gradcore.distributed.backends import OPS, HostStaged, Local, MPIBackend, NCCLBackend
from gradcore.tensor import Tensor

__all__ = ["init", "is_initialized", "get_rank", "get_world_size", "get_local_rank", "barrier",
           "all_reduce", "broadcast", "all_gather", "all_gather_object", "abort", "OPS"]

_BACKENDS = (None, "mpi", "nccl")
_ABORT_GRACE_S = 1.0  # seconds for the launcher to forward the traceback before the abort


class _World:
    def __init__(self, comm, choice):
        self.comm, self.choice = comm, choice
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.local_rank = 0
        if comm is not None and self.size > 1:
            from mpi4py import MPI
            self.local_rank = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
        # A lone process needs no MPI for CPU arrays; NCCL is kept when asked for by name
        # (a 1-rank NCCL communicator is how its path is checked on a single GPU).
        self.cpu = Local() if comm is None or (self.size == 1 and choice is None) else MPIBackend(comm)
        self.nccl = None


_world = None


def init(backend=None):
    """Join the MPI job (``mpiexec -n N ...``), or make a 1-process world when there is none.

    ``backend``: None (MPI for CPU tensors, NCCL for CUDA tensors), ``"mpi"`` (MPI for both) or
    ``"nccl"`` (CUDA tensors only). A second call with the same backend does nothing.

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.get_world_size()   # run alone: a world of one
    1
    """
    global _world
    if backend not in _BACKENDS:
        raise ValueError(f"distributed.init: backend must be one of {list(_BACKENDS)}, got "
                         f"{backend!r}")
    if _world is not None:
        if backend != _world.choice:
            raise RuntimeError(f"distributed.init: already initialized with backend="
                               f"{_world.choice!r}; cannot switch to {backend!r}")
        return
    try:
        from mpi4py import MPI
    except ImportError as e:
        if backend is not None:
            raise RuntimeError(f"distributed.init(backend={backend!r}) needs mpi4py and an MPI "
                               f"library: pip install 'gradcore[mpi]' ({e})") from e
        _world = _World(None, None)
        return
    _world = _World(MPI.COMM_WORLD, backend)
    if _world.size > 1:
        _install_abort_hook(_world)


def is_initialized():
    """True once :func:`init` has run in this process.

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.is_initialized()
    True
    """
    return _world is not None


def get_rank():
    """This process's rank, 0 .. world size - 1.

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.get_rank()
    0
    """
    return _require("get_rank").rank


def get_world_size():
    """The number of processes in the job (``N`` of ``mpiexec -n N``).

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.get_world_size()
    1
    """
    return _require("get_world_size").size


def get_local_rank():
    """This process's rank among the processes on its machine (to pick its GPU:
    ``gc.device(f"cuda:{dist.get_local_rank() % gc.cuda.device_count()}")``).

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.get_local_rank()
    0
    """
    return _require("get_local_rank").local_rank


def barrier():
    """Wait until every rank has reached this call.

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.barrier()
    """
    world = _require("barrier")
    if world.comm is not None and world.size > 1:
        world.comm.Barrier()


def all_reduce(t, op="sum"):
    """Reduce ``t`` over all ranks, in place: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``;
    every rank ends with the result. Returns ``t``.

    >>> import gradcore as gc, gradcore.distributed as dist
    >>> dist.init(); t = gc.tensor([1.0, 5.0])
    >>> dist.all_reduce(t, op="max").tolist()  # on 2 ranks: the elementwise max of both
    [1.0, 5.0]
    """
    if op not in OPS:
        raise ValueError(f"distributed.all_reduce: op must be one of {list(OPS)}, got {op!r}")
    _check_tensor("all_reduce", t)
    if op == "mean" and not numpy.issubdtype(numpy.dtype(t.dtype), numpy.inexact):
        raise TypeError(f"distributed.all_reduce: op='mean' needs a floating tensor, got "
                        f"dtype {t.dtype} (shape {t.shape}); use op='sum'")
    _backend_for("all_reduce", t).all_reduce(t.array, op)
    t._version += 1
    return t


def broadcast(t, src=0):
    """Overwrite ``t`` on every rank with rank ``src``'s values, in place. Returns ``t``.

    >>> import gradcore as gc, gradcore.distributed as dist
    >>> dist.init(); dist.broadcast(gc.tensor([3, 4]), src=0).tolist()
    [3, 4]
    """
    world = _require("broadcast")
    _check_tensor("broadcast", t)
    if isinstance(src, bool) or not isinstance(src, (int, numpy.integer)) or not 0 <= src < world.size:
        raise ValueError(f"distributed.broadcast: src must be a rank in 0..{world.size - 1}, "
                         f"got {src!r}")
    _backend_for("broadcast", t).broadcast(t.array, int(src))
    t._version += 1
    return t


def all_gather(t):
    """Every rank's ``t``, as a list indexed by rank (new Tensors on ``t``'s device).

    >>> import gradcore as gc, gradcore.distributed as dist
    >>> dist.init(); [p.tolist() for p in dist.all_gather(gc.tensor([7.0]))]
    [[7.0]]
    """
    _check_tensor("all_gather", t)
    parts = _backend_for("all_gather", t).all_gather(t.array)
    return [Tensor._make(a, t.device, False, None, 0) for a in parts]


def all_gather_object(obj):
    """Every rank's picklable ``obj``, as a list indexed by rank (over MPI; for small
    metadata, not for tensors).

    >>> import gradcore.distributed as dist
    >>> dist.init(); dist.all_gather_object({"host": "a"})
    [{'host': 'a'}]
    """
    world = _require("all_gather_object")
    if world.comm is None or world.size == 1:
        return [obj]
    return world.comm.allgather(obj)


def abort(code=1):
    """End every rank of the job now with exit status ``code`` (``MPI_Abort``); in a world of
    one, ``sys.exit(code)``. For a rank that must stop while others may be blocked in a
    collective it will never join (an interrupt arrives in one rank first): a plain exit would
    leave them waiting.

    >>> import gradcore.distributed as dist
    >>> dist.init()
    >>> try:
    ...     dist.abort(3)        # alone: the same as sys.exit(3)
    ... except SystemExit as e:
    ...     print(e.code)
    3
    """
    world = _require("abort")
    sys.stdout.flush()
    sys.stderr.flush()
    if world.comm is None or world.size == 1:
        sys.exit(code)
    time.sleep(_ABORT_GRACE_S)  # NOTE: as in the abort hook: let mpiexec forward the output
    world.comm.Abort(code)


# ---- helpers ---------------------------------------------------------------------------------
def _require(where):
    if _world is None:
        raise RuntimeError(f"distributed.{where}: call gradcore.distributed.init() first")
    return _world


def _check_tensor(where, t):
    _require(where)
    if not isinstance(t, Tensor):
        raise TypeError(f"distributed.{where}: expected a gradcore Tensor, got "
                        f"{type(t).__name__}")


def _backend_for(where, t):
    """The backend for ``t``'s device (see the module docstring)."""
    world = _world
    if t.device.type == "cpu":
        if world.choice == "nccl":
            raise ValueError(f"distributed.{where}: the nccl backend handles CUDA tensors only; "
                             f"got a tensor on {t.device} (shape {t.shape}, dtype {t.dtype}). "
                             f"Move it with .to('cuda') or init(backend=None) for MPI on CPU")
        return world.cpu
    if world.size == 1 and world.choice is None:
        return world.cpu  # alone: nothing to exchange
    if world.choice == "mpi":
        return HostStaged(world.cpu, t.device.xp)
    if world.nccl is None:
        world.nccl = NCCLBackend(world.comm, world.rank, world.size, _nccl_module(where),
                                 t.device.xp)
    return world.nccl


def _nccl_module(where):
    try:
        from cupy.cuda import nccl
    except ImportError as e:
        raise RuntimeError(f"distributed.{where}: CUDA tensors need NCCL through CuPy "
                           f"(cupy.cuda.nccl), which is not available: {e}. Install "
                           f"'gradcore[cuda]' or use init(backend='mpi')") from e
    if not getattr(nccl, "available", True):
        raise RuntimeError(f"distributed.{where}: this CuPy was built without NCCL; install "
                           f"'gradcore[cuda]' or use init(backend='mpi')")
    return nccl


def _install_abort_hook(world):
    """An uncaught exception on one rank aborts every rank (MPI_Abort), naming the rank, instead
    of leaving the others blocked in a collective."""
    previous = sys.excepthook

    def abort(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        sys.stderr.write(f"gradcore.distributed: rank {world.rank} of {world.size} raised "
                         f"{exc_type.__name__}: {exc}; aborting all ranks (MPI_Abort)\n")
        sys.stderr.flush()
        # NOTE: MPI_Abort tears the job down at once and mpiexec drops output still being
        # forwarded (seen with MPICH: the traceback cut short); give it a moment to arrive.
        time.sleep(_ABORT_GRACE_S)
        world.comm.Abort(1)

    sys.excepthook = abort
