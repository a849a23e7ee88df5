"""gradcore.distributed.launch: finding the environment's mpiexec, the command that starts N
ranks, and telling a rank started by an MPI launcher from a lone process."""
import sys

import pytest

from gradcore.distributed import launch


def test_mpiexec_next_to_the_interpreter_wins(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mpiexec").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(fake / "python"))
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: object())
    assert launch.find_mpiexec() == (str(fake / "mpiexec"), None)
    assert launch.mpiexec_command(3, ["prog", "-x"]) == [str(fake / "mpiexec"), "-n", "3", "prog", "-x"]


def test_without_mpi_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None)
    assert launch.find_mpiexec() == (None, "mpi4py is not installed")
    with pytest.raises(RuntimeError, match=r"gradcore train: starting 2 ranks needs MPI \(mpi4py "
                                           r"is not installed\); install it with pip install "
                                           r"'gradcore\[mpi\]'"):
        launch.mpiexec_command(2, ["prog"], where="gradcore train")
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no mpiexec beside it
    monkeypatch.setattr(launch.shutil, "which", lambda name: None)
    assert launch.find_mpiexec() == (None, f"no mpiexec next to {tmp_path / 'python'} nor on PATH")
    with pytest.raises(ValueError, match="must be a positive int, got 0"):
        launch.mpiexec_command(0, ["prog"])


def test_under_mpi_launcher(monkeypatch):
    for var in launch._LAUNCHER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    assert not launch.under_mpi_launcher()
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")  # Open MPI's mpirun
    assert launch.under_mpi_launcher()
