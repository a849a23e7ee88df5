"""Starting N local ranks with the ``mpiexec`` of the installed MPI (``gradcore train --nproc N``,
the distributed benchmarks, the 2-rank tests).

The ``[mpi]`` extra installs the mpich wheel, which puts ``mpiexec`` into the environment's
``bin/`` next to the interpreter; that one is preferred over any other ``mpiexec`` on ``PATH``,
so the ranks run the same Python and the same MPI library that mpi4py was built against.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import sys

__all__ = ["find_mpiexec", "mpiexec_command", "under_mpi_launcher", "thread_share_env"]

# Set by the launchers of MPICH (and Intel MPI: PMI_*), Open MPI and PMIx-based ones in every rank
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def find_mpiexec():
    """``(path, None)`` of the environment's ``mpiexec``, or ``(None, why)`` when the ``[mpi]``
    extra is missing (no mpi4py, or no ``mpiexec`` next to the interpreter nor on ``PATH``).

    >>> path, why = find_mpiexec()
    >>> (path is None) != (why is None)
    True
    """
    if importlib.util.find_spec("mpi4py") is None:
        return None, "mpi4py is not installed"
    beside = pathlib.Path(sys.executable).with_name("mpiexec")
    path = str(beside) if beside.exists() else shutil.which("mpiexec")
    if path is None:
        return None, f"no mpiexec next to {sys.executable} nor on PATH"
    return path, None


def mpiexec_command(nproc, args, where="launch"):
    """The command line that runs ``args`` (a list, the program and its arguments) as ``nproc``
    ranks: ``[mpiexec, "-n", nproc, *args]``. Raises a RuntimeError saying how to install MPI
    when there is none.

    >>> cmd = mpiexec_command(2, ["python", "train.py"])   # doctest: +SKIP
    >>> cmd[1:]                                           # doctest: +SKIP
    ['-n', '2', 'python', 'train.py']
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"{where}: the number of processes must be a positive int, got {nproc!r}")
    path, why = find_mpiexec()
    if path is None:
        raise RuntimeError(f"{where}: starting {nproc} ranks needs MPI ({why}); install it with "
                           f"pip install 'gradcore[mpi]' (mpi4py and the mpich wheel, which "
                           f"provides mpiexec)")
    return [path, "-n", str(nproc), *args]


def under_mpi_launcher():
    """True in a process started by ``mpiexec``/``mpirun`` (its launcher's variables are set).

    >>> isinstance(under_mpi_launcher(), bool)
    True
    """
    return any(v in os.environ for v in _LAUNCHER_VARIABLES)


def thread_share_env(nproc, env=None):
    """``env`` (default: this process's) with each rank's share of the cores as its BLAS/OpenMP
    thread count, unless already set: N ranks that each start a thread per core would run
    N x cores threads on the cores (torchrun sets OMP_NUM_THREADS for the same reason).

    >>> thread_share_env(2, {"OMP_NUM_THREADS": "3"})["OMP_NUM_THREADS"]
    '3'
    """
    share = str(max(1, (os.cpu_count() or 1) // nproc))
    out = dict(os.environ if env is None else env)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        out.setdefault(var, share)
    return out
