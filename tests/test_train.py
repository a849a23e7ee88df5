"""The training job and the `gradcore train` command: accuracy, exact resume, interruption."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import gradcore as gc
from gradcore.distributed.launch import thread_share_env
from gradcore.train import TrainConfig, run


def _quiet(*args):
    pass


def test_default_config_reaches_90_percent_quickly(tmp_path):
    started = time.perf_counter()
    result = run(TrainConfig(checkpoint=str(tmp_path / "c.ckpt"), progress=False, device="cpu"), log=_quiet)
    assert result["test_accuracy"] >= 0.90
    assert time.perf_counter() - started < 60
    assert (tmp_path / "c.ckpt").exists()


def test_resume_from_a_weights_only_file_says_what_is_missing(tmp_path):
    path = tmp_path / "weights.safetensors"
    gc.save({"w": np.zeros(2)}, path)
    cfg = TrainConfig(checkpoint=str(path), resume=True, hidden=(8,), epochs=1, limit=100,
                      progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"not a checkpoint of `gradcore train` \(it lacks "
                                         r"epoch, history, model, optimizer\)"):
        run(cfg, log=_quiet)


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    base = dict(hidden=(32,), epochs=4, batch_size=50, limit=1000, progress=False, device="cpu")
    full = run(TrainConfig(checkpoint=str(tmp_path / "full.ckpt"), **base), log=_quiet)
    part = TrainConfig(checkpoint=str(tmp_path / "part.ckpt"), **{**base, "epochs": 2})
    run(part, log=_quiet)
    resumed = run(TrainConfig(checkpoint=str(tmp_path / "part.ckpt"), resume=True, **base), log=_quiet)
    assert len(resumed["history"]) == len(full["history"]) == 4
    for a, b in zip(full["history"], resumed["history"]):
        assert a["train_loss"] == b["train_loss"] and a["test_accuracy"] == b["test_accuracy"]
    sa, sb = gc.load(str(tmp_path / "full.ckpt")), gc.load(str(tmp_path / "part.ckpt"))
    for k in sa["model"]:
        np.testing.assert_array_equal(sa["model"][k].numpy(), sb["model"][k].numpy())


@pytest.mark.parametrize("opt, schedule", [("adam", "cosine"), ("adamw", "step"), ("sgd", "none")])
def test_optimizers_and_schedules_train(opt, schedule, tmp_path):
    cfg = TrainConfig(hidden=(64,), epochs=2, optimizer=opt, lr=0.002 if opt != "sgd" else 0.05,
                      schedule=schedule, warmup=1 if schedule == "cosine" else 0, limit=2000,
                      checkpoint=None, progress=False, device="cpu")
    assert run(cfg, log=_quiet)["test_accuracy"] > 0.75


@pytest.mark.parametrize("opt, schedule", [("sgd", "step"), ("adam", "cosine")])
def test_compiled_training_equals_eager(opt, schedule, tmp_path):
    """`gradcore train --compile`: the same history and weights as eager, bit for bit (the last
    batch is smaller: a second trace)."""
    base = dict(hidden=(32,), epochs=2, batch_size=64, limit=900, progress=False, device="cpu",
                optimizer=opt, schedule=schedule, lr=0.01 if opt == "adam" else 0.05,
                warmup=1 if schedule == "cosine" else 0)
    eager = run(TrainConfig(checkpoint=str(tmp_path / "e.ckpt"), **base), log=_quiet)
    comp = run(TrainConfig(checkpoint=str(tmp_path / "c.ckpt"), compile=True, **base),
               log=_quiet)
    for a, b in zip(eager["history"], comp["history"]):
        assert {k: v for k, v in a.items() if k != "samples_per_s"} == \
            {k: v for k, v in b.items() if k != "samples_per_s"}
    sa, sb = gc.load(str(tmp_path / "e.ckpt")), gc.load(str(tmp_path / "c.ckpt"))
    for k in sa["model"]:
        np.testing.assert_array_equal(sa["model"][k].numpy(), sb["model"][k].numpy())


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curve.png"
    run(TrainConfig(hidden=(16,), epochs=1, limit=300, checkpoint=None, progress=False,
                    plot=str(out), device="cpu"), log=_quiet)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _cli(args, cwd, **kw):
    env = {**os.environ, "GRADCORE_DEVICE": "cpu"}
    return subprocess.run([sys.executable, "-m", "gradcore", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, **kw)


def test_cli_train_and_info(tmp_path):
    r = _cli(["train", "--hidden", "32", "--epochs", "1", "--limit", "500", "--no-progress",
              "--checkpoint", "m.ckpt"], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "test accuracy" in r.stdout and (tmp_path / "m.ckpt").exists()
    r = _cli(["train", "--hidden", "32", "--epochs", "1", "--limit", "500", "--no-progress",
              "--checkpoint", "", "--compile"], tmp_path, timeout=120)
    assert r.returncode == 0 and "test accuracy" in r.stdout, r.stderr
    r = _cli(["info"], tmp_path, timeout=60)
    assert r.returncode == 0 and "default device: cpu" in r.stdout
    r = _cli(["train", "--hidden", "0"], tmp_path, timeout=60)
    assert r.returncode == 2 and "positive" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_training_keeps_last_checkpoint_and_resumes(sig, tmp_path):
    args = ["train", "--hidden", "64", "--epochs", "400", "--limit", "2000", "--no-progress",
            "--checkpoint", "m.ckpt"]
    env = {**os.environ, "GRADCORE_DEVICE": "cpu"}
    proc = subprocess.Popen([sys.executable, "-m", "gradcore", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (tmp_path / "m.ckpt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it be somewhere inside a later epoch (or a save)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint is intact" in err
    state = gc.load(str(tmp_path / "m.ckpt"))  # valid, complete
    done = int(state["epoch"])
    assert done >= 1 and not [p for p in os.listdir(tmp_path) if p != "m.ckpt"]
    r = _cli([*args[:3], "--epochs", str(done + 1), *args[5:], "--resume"], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"after epoch {done}" in r.stdout
    assert int(gc.load(str(tmp_path / "m.ckpt"))["epoch"]) == done + 1


# ---- several ranks: gradcore train --nproc N, mpiexec -n N gradcore train -------------------------
def _params(path):
    state = gc.load(str(path))
    return {k: v.numpy() for k, v in state["model"].items()}, state


def test_two_ranks_train_like_one_process_with_the_same_global_batch_and_resume(tmp_path):
    """`gradcore train --nproc 2 --batch-size 16` = one process with batch 32, up to the order of
    summation (float32: each rank sums half of every batch); a 2-rank run resumed after epoch 1
    by `mpiexec -n 2 gradcore train --resume` = the uninterrupted 2-rank run, bit for bit."""
    from tests.distributed import mpi

    launcher = mpi.mpiexec()  # skips (fails in CI) without the [mpi] extra
    common = ["--hidden", "32", "--limit", "1024", "--no-progress", "--seed", "3", "--lr", "0.05",
              "--momentum", "0.9"]
    one = run(TrainConfig(hidden=(32,), limit=1024, progress=False, seed=3, lr=0.05, momentum=0.9,
                          epochs=2, batch_size=32, device="cpu",
                          checkpoint=str(tmp_path / "one.ckpt")), log=_quiet)
    r = _cli(["train", "--nproc", "2", "--batch-size", "16", "--epochs", "2", "--checkpoint",
              "two.ckpt", *common], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "x 2 ranks" in r.stdout and "batch 16 per rank (32 global)" in r.stdout
    # rank 0 alone prints: one line per epoch, one result line
    assert r.stdout.count("epoch   1 ") == 1 and r.stdout.count("test accuracy") == 1, r.stdout
    two, state = _params(tmp_path / "two.ckpt")
    assert state["world_size"] == 2 and state["epoch"] == 2
    for a, b in zip(one["history"], state["history"]):
        np.testing.assert_allclose(b["train_loss"], a["train_loss"], rtol=1e-5)
        np.testing.assert_allclose(b["test_loss"], a["test_loss"], rtol=1e-5)
        # equal unless a test sample's two top logits are within float32 rounding of each other
        assert abs(b["test_accuracy"] - a["test_accuracy"]) <= 2 / 1000
        assert abs(b["train_accuracy"] - a["train_accuracy"]) <= 2 / 1024
    ref, _ = _params(tmp_path / "one.ckpt")
    for k in ref:
        np.testing.assert_allclose(two[k], ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
    assert one["test_accuracy"] > 0.8  # it did train

    half = ["train", "--batch-size", "16", "--checkpoint", "half.ckpt", *common]
    r = _cli([*half, "--nproc", "2", "--epochs", "1"], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    # as --nproc sets it: BLAS threads split over the ranks (the thread count changes how a GEMM
    # sums, so the evaluation's last bits, and bit-for-bit equality needs the same count)
    env = {**thread_share_env(2), "GRADCORE_DEVICE": "cpu"}
    r = subprocess.run([launcher, "-n", "2", sys.executable, "-m", "gradcore", *half, "--epochs",
                        "2", "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("resumed from half.ckpt after epoch 1") == 1, r.stdout
    resumed, rstate = _params(tmp_path / "half.ckpt")
    drop = lambda h: [{k: v for k, v in row.items() if k != "samples_per_s"} for row in h]  # noqa: E731
    assert drop(rstate["history"]) == drop(state["history"])
    for k in two:
        np.testing.assert_array_equal(resumed[k], two[k], err_msg=k)
    for k, v in state["optimizer"]["state"].items():  # the momentum buffers resumed too
        np.testing.assert_array_equal(rstate["optimizer"]["state"][k]["momentum_buffer"].numpy(),
                                      v["momentum_buffer"].numpy())


def test_an_error_in_one_rank_ends_the_job_naming_the_rank(tmp_path):
    """Rank 0 alone writes checkpoints: when its folder disappears mid-run, rank 0 raises while
    rank 1 already waits in the next epoch's all-reduce. The job must end at once (MPI_Abort),
    naming rank 0, instead of leaving rank 1 waiting forever."""
    import shutil

    from tests.distributed import mpi

    mpi.mpiexec()
    (tmp_path / "out").mkdir()
    env = {**os.environ, "GRADCORE_DEVICE": "cpu"}
    proc = subprocess.Popen([sys.executable, "-m", "gradcore", "train", "--nproc", "2", "--hidden",
                             "16", "--epochs", "400", "--limit", "512", "--no-progress",
                             "--checkpoint", "out/m.ckpt"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 60
    while not (tmp_path / "out" / "m.ckpt").exists() and time.time() < deadline:
        time.sleep(0.02)
    shutil.rmtree(tmp_path / "out")
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("a rank's error left the job hanging")
    assert proc.returncode != 0
    assert re.search(r"rank 0 of 2 raised (FileNotFoundError|OSError)", err), err
    assert "aborting all ranks" in err and "rank 1 of 2 raised" not in err


def test_nproc_under_mpiexec_must_match_the_job(tmp_path):
    from tests.distributed import mpi

    r = subprocess.run([mpi.mpiexec(), "-n", "2", sys.executable, "-m", "gradcore", "train",
                        "--nproc", "3", "--limit", "64"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=90, env={**os.environ, "GRADCORE_DEVICE": "cpu"})
    assert r.returncode != 0
    assert "--nproc 3, but this process is one of 2 ranks" in r.stderr, r.stderr


def test_interrupting_a_two_rank_job_ends_it_and_it_resumes(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) reaches the ranks at
    different points, one maybe blocked in an all-reduce: the job must end (MPI_Abort), not hang,
    and the checkpoint must stay valid and resumable."""
    from tests.distributed import mpi

    mpi.mpiexec()
    args = ["train", "--nproc", "2", "--hidden", "64", "--epochs", "400", "--limit", "2000",
            "--no-progress", "--checkpoint", "m.ckpt"]
    env = {**os.environ, "GRADCORE_DEVICE": "cpu"}
    proc = subprocess.Popen([sys.executable, "-m", "gradcore", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 60
    while not (tmp_path / "m.ckpt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the interrupted 2-rank job hung")
    assert proc.returncode == 130, err
    assert re.search(r"interrupted \(rank [01] of 2\): the last complete epoch's checkpoint is "
                     r"intact", err), err
    done = int(gc.load(str(tmp_path / "m.ckpt"))["epoch"])
    r = _cli([*args[:5], "--epochs", str(done + 1), *args[7:], "--resume"], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"after epoch {done}" in r.stdout
    assert int(gc.load(str(tmp_path / "m.ckpt"))["epoch"]) == done + 1
