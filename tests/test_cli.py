"""The ``gradcore`` command line (gradcore/cli.py): every option of every subcommand is checked
by argparse, which exits with status 2 and names the option, before any work starts."""
import os
import pathlib
import subprocess
import venv

import numpy
import pytest

import gradcore.train
from gradcore import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def reached(monkeypatch):
    """Replaces the work behind each subcommand by a recorder: nothing trains or benchmarks."""
    calls = []

    def record(what):
        def fake(arg, **kw):
            calls.append((what, arg))
            return {"test_accuracy": 0.5} if what == "train" else 0
        return fake

    monkeypatch.setattr(gradcore.train, "run", record("train"))
    monkeypatch.setattr("gradcore.bench.run_cli", record("bench"))
    return calls


BAD = [  # argv, the option the error names, what it says
    (["train", "--epochs", "0"], "--epochs", "positive integer"),  # was a TypeError after training
    (["train", "--epochs", "2.5"], "--epochs", "positive integer"),
    (["train", "--batch-size", "-5"], "--batch-size", "non-negative integer"),  # was full-batch
    (["train", "--lr", "0"], "--lr", "positive finite"),
    (["train", "--lr", "nan"], "--lr", "positive finite"),
    (["train", "--lr", "inf"], "--lr", "positive finite"),
    (["train", "--momentum", "1"], "--momentum", "[0, 1)"),
    (["train", "--momentum", "-0.1"], "--momentum", "[0, 1)"),
    (["train", "--weight-decay", "-0.001"], "--weight-decay", ">= 0"),
    (["train", "--warmup", "-1"], "--warmup", "non-negative integer"),
    (["train", "--seed", "-1"], "--seed", "non-negative integer"),
    (["train", "--limit", "0"], "--limit", "positive integer"),
    (["train", "--hidden", "64,-1"], "--hidden", "positive"),
    (["train", "--device", "gpu"], "--device", "unknown device 'gpu'"),
    (["train", "--data-dir", "no-such-dir"], "--data-dir", "existing directory"),
    (["train", "--checkpoint", "no-such-dir/m.ckpt"], "--checkpoint", "existing directory"),
    (["train", "--checkpoint", "."], "--checkpoint", "existing directory"),  # a folder, not a file
    (["train", "--plot", "no-such-dir/p.png"], "--plot", "existing directory"),
    (["train", "--activation", "swish"], "--activation", "invalid choice"),
    (["train", "--nesterov", "--momentum", "0"], "--nesterov", "--momentum > 0"),
    (["train", "--nesterov", "--optimizer", "adam"], "--nesterov", "--optimizer sgd"),
    (["train", "--resume", "--checkpoint", "absent.ckpt"], "--resume", "existing --checkpoint"),
    (["train", "--nproc", "0"], "--nproc", "positive integer"),
    (["bench", "--out", "a-file"], "--out", "not an existing file"),
    (["bench", "--only", ","], "--only", "comma-separated names"),
]


@pytest.mark.parametrize("argv, option, says", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_values_are_argparse_errors(argv, option, says, reached, capsys, tmp_path,
                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert f"gradcore {argv[0]}: error: " in err and option in err and says in err, err
    assert reached == []  # refused before any work


def test_good_values_reach_the_job(reached, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "m.ckpt").write_bytes(b"")
    assert cli.main(["train", "--epochs", "1", "--batch-size", "0", "--lr", "1e-3",
                     "--momentum", "0", "--weight-decay", "0", "--warmup", "0", "--seed", "0",
                     "--limit", "10", "--device", "cpu", "--data-dir", "data", "--checkpoint",
                     "m.ckpt", "--resume", "--plot", "p.png", "--hidden", "8,4"]) == 0
    (what, cfg), = reached
    assert what == "train" and cfg.batch_size is None and cfg.epochs == 1  # 0: full batch
    assert cfg.hidden == (8, 4) and cfg.lr == 1e-3 and cfg.checkpoint == "m.ckpt"
    assert cli.main(["train", "--checkpoint", ""]) == 0  # '' skips saving
    assert reached[-1][1].checkpoint is None
    assert cli.main(["bench", "--out", "new/folder", "--quick"]) == 0
    assert reached[-1][0] == "bench" and reached[-1][1].out == "new/folder"
    assert cli.main(["bench", "--only", "distributed,matmul"]) == 0
    assert reached[-1][1].only == ("distributed", "matmul")


def test_info_runs_from_the_source_tree_without_an_install(tmp_path):
    """``gradcore info`` from a source tree that is not installed (as on the lent GPU machine,
    where benchmarks/verify_gpu.sh runs gradcore with PYTHONPATH=<tree>)."""
    venv.create(tmp_path / "venv", with_pip=False)  # a Python where gradcore is not installed
    python = tmp_path / "venv" / "bin" / "python"
    site = next((tmp_path / "venv" / "lib").glob("python*/site-packages"))
    # NumPy from this environment as a plain path entry: its .pth files (gradcore's editable
    # install among them) are not processed, so only PYTHONPATH can provide gradcore
    (site / "numpy-only.pth").write_text(str(pathlib.Path(numpy.__file__).parents[1]) + "\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    where = subprocess.run([str(python), "-c", "import gradcore; print(gradcore.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(ROOT / "gradcore" / "__init__.py"), where.stderr
    r = subprocess.run([str(python), "-m", "gradcore", "info"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"kernel sources: {ROOT / 'kernels'} (source tree" in r.stdout
    assert "default device:" in r.stdout


def test_nproc_without_mpi_is_an_argparse_error(reached, capsys, monkeypatch):
    """No mpi4py or no mpiexec: refused before any work, saying which extra to install."""
    monkeypatch.setattr("gradcore.distributed.launch.find_mpiexec",
                        lambda: (None, "mpi4py is not installed"))
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--nproc", "2"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--nproc 2 needs MPI (mpi4py is not installed)" in err, err
    assert "pip install 'gradcore[mpi]'" in err and reached == []


def test_nproc_launches_the_same_command_under_mpiexec(reached, monkeypatch):
    """--nproc N > 1 re-runs the same command line as N ranks (each rank sees --nproc N under
    the launcher and trains), with the BLAS threads split over the ranks."""
    started = []

    class FakePopen:
        def __init__(self, cmd, env):
            started.append((cmd, env))

        def wait(self):
            return 7

    monkeypatch.setattr("gradcore.distributed.launch.find_mpiexec", lambda: ("/x/mpiexec", None))
    monkeypatch.setattr(cli.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 8)
    for var in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["train", "--nproc", "4", "--epochs", "3"]) == 7  # mpiexec's exit status
    (cmd, env), = started
    assert cmd[:3] == ["/x/mpiexec", "-n", "4"]
    assert cmd[4:] == ["-m", "gradcore", "train", "--nproc", "4", "--epochs", "3"]
    assert env["OMP_NUM_THREADS"] == "2" and reached == []  # 8 cores / 4 ranks; nothing ran here
    assert cli.main(["train", "--nproc", "1"]) == 0 and reached[-1][0] == "train"  # in-process
