"""The training job and the `gradcore train` command: accuracy, exact resume, interruption."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import gradcore as gc
from gradcore.train import TrainConfig, run


def _quiet(*args):
    pass


def test_default_config_reaches_90_percent_quickly(tmp_path):
    started = time.perf_counter()
    result = run(TrainConfig(checkpoint=str(tmp_path / "c.ckpt"), progress=False, device="cpu"), log=_quiet)
    assert result["test_accuracy"] >= 0.90
    assert time.perf_counter() - started < 60
    assert (tmp_path / "c.ckpt").exists()


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
