"""Launch ``worker.py`` under ``mpiexec`` from the test process, with a timeout so no test can
hang. Without mpi4py/mpiexec (the ``[mpi]`` extra) the MPI tests skip, unless
``GRADCORE_REQUIRE_MPI=1`` (set by CI), where a missing MPI is a failure."""
import os
import pathlib
import signal
import subprocess
import sys

import pytest

from gradcore.distributed.launch import find_mpiexec

WORKER = pathlib.Path(__file__).with_name("worker.py")
TIMEOUT = 120  # seconds for one launch; the slowest (train) takes a few on a busy 2-core machine


def mpiexec():
    """The ``mpiexec`` of this environment's MPI (next to the interpreter, as the mpich wheel
    installs it), or skip/fail when the [mpi] extra is missing."""
    path, why = find_mpiexec()
    if path is None:
        reason = f"needs the [mpi] extra ({why}): pip install -e '.[mpi]'"
        if os.environ.get("GRADCORE_REQUIRE_MPI") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def run(mode, n=2, out=None, timeout=TIMEOUT):
    """``mpiexec -n n python worker.py mode [out]``; ``n=None`` runs it alone, without MPI's
    launcher. Returns the CompletedProcess (stdout, stderr as text)."""
    args = [sys.executable, str(WORKER), mode] + ([str(out)] if out else [])
    if n is not None:
        args = [mpiexec(), "-n", str(n)] + args
    # Own process group: on a timeout the ranks die with mpiexec, instead of spinning on as
    # orphans in their collective (MPICH polls) and slowing every later test.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(args)} hung for {timeout} s\n{out}\n{err}")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def check(result):
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result
