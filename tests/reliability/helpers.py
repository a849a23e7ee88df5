"""Helpers of the reliability tests: running a snippet in a fresh interpreter (for environment
variables that gradcore reads once at import), counting live Tensors, and hand-made checkpoint
files that gc.load must refuse."""
import gc as pygc
import json
import os
import struct
import subprocess
import sys

import pytest

import gradcore as gc
from gradcore.io import CheckpointError


def run_python(source, env, cwd, check=False):
    """Run ``source`` in a fresh Python with ``env`` added to the environment; stdout + stderr."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("GRADCORE_")}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", source], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def live_tensors():
    """How many gradcore Tensors (Parameters included) the garbage collector can see, after a
    full collection."""
    pygc.collect()
    return sum(1 for o in pygc.get_objects() if isinstance(o, gc.Tensor))


def raw_checkpoint(tmp_path, header, data=b"", name="raw", meta=None):
    """A safetensors file with a hand-made header (gradcore metadata added unless given)."""
    header = dict(header)
    if meta is None:
        meta = {"format": "gradcore.checkpoint", "version": 1,
                "root": {"type": "dict", "items": [[k, {"type": "ndarray", "name": k}]
                                                   for k in header]}}
    if meta is not False:
        header["__metadata__"] = {"gradcore": json.dumps(meta)}
    blob = json.dumps(header).encode()
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def tensor_entry(dtype, shape, begin, end):
    """One tensor's entry of a safetensors header."""
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def refuse(path, match):
    """gc.load refuses ``path`` with a CheckpointError (a ValueError) naming it and ``match``."""
    with pytest.raises(CheckpointError, match=match) as info:
        gc.load(path, device="cpu")
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
