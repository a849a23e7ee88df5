"""Faults in a 2-rank job end it promptly (MPI_Abort), never a hang: subprocess timeouts turn a
hang into a failure."""
import time

from . import mpi


def test_a_rank_that_raises_aborts_the_job_naming_the_rank():
    start = time.monotonic()
    result = mpi.run("fail", timeout=60)
    assert result.returncode != 0
    assert "rank 1 of 2 raised RuntimeError: worker failure on purpose" in result.stderr
    assert "aborting all ranks" in result.stderr
    assert "passed an all-reduce" not in result.stdout + result.stderr
    assert time.monotonic() - start < 60


def test_a_rank_that_dies_ends_the_job():
    """A crash (no exception: os._exit) cannot run the hook; MPICH's launcher ends the job with
    the dead rank's exit code."""
    result = mpi.run("die", timeout=60)
    assert result.returncode == 3, result.stderr
