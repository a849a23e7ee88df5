"""Helpers of the reliability tests: running a snippet in a fresh interpreter (for environment
variables that gradcore reads once at import) and counting live Tensors."""
import gc as pygc
import os
import subprocess
import sys

import gradcore as gc


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
