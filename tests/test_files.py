"""Atomic writes (gradcore/files.py): a writer killed with SIGKILL mid-save leaves a temporary
that the next save to the same path removes, and nothing a live writer still needs is removed."""
import os
import signal
import subprocess
import sys

import pytest

import gradcore as gc
from gradcore import files

pytestmark = pytest.mark.skipif(os.name == "nt", reason="no SIGKILL, and no cleanup, on Windows")

# The child stops inside gc.save once every byte is written, just before the fsync and rename:
# the moment a kill -9 leaves the largest temporary behind.
_CHILD = """
import os, sys, time
import numpy, gradcore as gc

def stop_here(fd):
    print("written", flush=True)
    time.sleep(120)

os.fsync = stop_here
gc.save({"w": numpy.ones(250_000)}, sys.argv[1])
"""


def _start_writer(path):
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line == "written\n", proc.stderr.read()
    return proc


def _kill9(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)  # reaped: a zombie would still count as a running writer
    proc.stdout.close()
    proc.stderr.close()


def _temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    gc.save({"v": 1}, path)
    _kill9(_start_writer(path))
    (first,) = _temps(tmp_path)
    assert first.startswith(".ckpt.safetensors.") and (tmp_path / first).stat().st_size > 2_000_000
    _kill9(_start_writer(path))  # the second writer removed the first one's 2 MB before dying
    (second,) = _temps(tmp_path)
    assert second != first
    assert gc.load(path) == {"v": 1}  # the old checkpoint survived both kills
    gc.save({"v": 2}, path)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert gc.load(path) == {"v": 2}


def test_a_live_writers_temporary_is_kept(tmp_path):
    path = tmp_path / "ckpt"
    writer = _start_writer(path)
    try:
        (mine,) = _temps(tmp_path)
        gc.save({"v": 1}, path)  # a concurrent save: must not pull the file from under it
        assert _temps(tmp_path) == [mine]
    finally:
        _kill9(writer)
    gc.save({"v": 2}, path)  # now its writer is gone
    assert _temps(tmp_path) == []


def test_only_this_targets_temporaries_from_this_host_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    keep = [f".ckpt.0000abcd-{dead.pid}.0123456789ab.tmp",  # another host: its pids are not ours
            f".other.{files._HOST}-{dead.pid}.0123456789ab.tmp",  # another target
            f".ckpt.{files._HOST}-{dead.pid}.tmp",  # not the pattern save makes
            ".ckpt.0123456789ab.tmp"]  # the naming of gradcore before the writer tag
    stale = f".ckpt.{files._HOST}-{dead.pid}.0123456789ab.tmp"
    for name in keep + [stale]:
        (tmp_path / name).write_bytes(b"x")
    assert files.remove_stale_temporaries(tmp_path / "ckpt") == [stale]
    assert _temps(tmp_path) == sorted(keep)


def test_temporaries_of_this_process_are_kept(tmp_path):
    """Another thread of this process may be writing one right now."""
    name = f".ckpt.{files._HOST}-{os.getpid()}.0123456789ab.tmp"
    (tmp_path / name).write_bytes(b"x")
    gc.save({"v": 1}, tmp_path / "ckpt")
    assert _temps(tmp_path) == [name]


def test_a_temporary_removed_under_a_live_writer_fails_its_save_loudly(tmp_path, monkeypatch):
    """What files.py says happens when a cleaner cannot see the writer (another PID namespace)."""
    path = tmp_path / "ckpt"
    files.write_atomic(path, [b"old"])
    real_fsync = os.fsync

    def cleaner_strikes(fd):
        for name in _temps(tmp_path):
            os.unlink(tmp_path / name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", cleaner_strikes)
    with pytest.raises(FileNotFoundError):
        files.write_atomic(path, [b"new"])
    assert path.read_bytes() == b"old" and _temps(tmp_path) == []
