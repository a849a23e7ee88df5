"""The array layer: device parsing, CUDA availability, the default device and GRADCORE_DEVICE,
and an import that needs no GPU and prints nothing."""
import ast
import copy
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import gradcore as gc
from gradcore import backend

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_device_parsing():
    cpu = gc.device("cpu")
    assert isinstance(cpu, gc.Device) and cpu.type == "cpu" and cpu.index is None
    assert cpu.xp is np and str(cpu) == "cpu" and repr(cpu) == "device('cpu')"
    assert gc.device(" CPU ") is cpu and gc.device(cpu) is cpu  # a Device passes through
    assert cpu == "cpu" and cpu != "tpu" and cpu != "cuda:x" and hash(cpu) == hash("cpu")
    assert copy.deepcopy(cpu) is cpu and pickle.loads(pickle.dumps(cpu)) is cpu
    for bad in ("tpu", "cuda:x", "cuda:-1", "cpu:0", "", "cuda0"):
        with pytest.raises(ValueError, match="unknown device"):
            gc.device(bad)
    with pytest.raises(TypeError, match="Device"):
        gc.device(0)


@pytest.mark.skipif(gc.cuda.is_available(), reason="a GPU is usable here")
def test_cuda_devices_without_gpu_raise_with_the_reason():
    for spec in ("cuda", "cuda:0", "cuda:3", "CUDA:1"):
        with pytest.raises(RuntimeError, match="no GPU is usable") as info:
            gc.device(spec)
        assert gc.cuda.unavailable_reason() in str(info.value)


@pytest.mark.gpu
@pytest.mark.skipif(not gc.cuda.is_available(), reason="needs a GPU")
def test_cuda_devices_with_gpu():
    dev = gc.device("cuda:0")
    assert dev.type == "cuda" and dev.index == 0 and str(dev) == "cuda:0"
    assert gc.device("cuda") is gc.device(f"cuda:{dev.xp.cuda.runtime.getDevice()}")
    with pytest.raises(RuntimeError, match="visible"):
        gc.device(f"cuda:{gc.cuda.device_count()}")


def test_cuda_availability_is_a_plain_bool_with_a_reason():
    available = gc.cuda.is_available()
    assert type(available) is bool
    reason = gc.cuda.unavailable_reason()
    assert isinstance(reason, str) and (reason == "" if available else len(reason) > 10)
    assert isinstance(gc.cuda.device_count(), int)
    assert (gc.cuda.device_count() > 0) == available
    gc.cuda.synchronize()  # a no-op without a GPU


def test_default_device_roundtrip(device):
    before = gc.get_default_device()
    try:
        gc.set_default_device(device)
        assert gc.get_default_device() is gc.device(device)
        assert gc.zeros(2).device is gc.device(device)
        assert gc.tensor([1.0]).device is gc.device(device)
    finally:
        gc.set_default_device(before)


def test_array_helpers(device):
    dev = gc.device(device)
    a = np.arange(3.0)
    moved = backend.to_device(a, dev)
    assert backend.device_of(moved) is dev and backend.array_module(moved) is dev.xp
    assert backend.to_device(a, backend.CPU) is a
    np.testing.assert_array_equal(backend.to_device(moved, backend.CPU), a)
    assert backend.array_module(np.float64(1.0)) is np


def test_matmul_precision_setting(monkeypatch):
    monkeypatch.setenv("CUPY_TF32", "0")
    assert gc.get_matmul_precision() == "highest"
    try:
        gc.set_matmul_precision("high")
        assert gc.get_matmul_precision() == "high" and os.environ["CUPY_TF32"] == "1"
    finally:
        gc.set_matmul_precision("highest")
    with pytest.raises(ValueError, match="highest"):
        gc.set_matmul_precision("medium")


def _run(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "GRADCORE_DEVICE"}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=60)


def test_import_prints_nothing_and_cpu_env_works():
    r = _run("import gradcore", GRADCORE_DEVICE="cpu")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    r = _run("import gradcore as gc; print(gc.get_default_device(), gc.ones(2).device)",
             GRADCORE_DEVICE="cpu")
    assert r.returncode == 0 and r.stdout.split() == ["cpu", "cpu"] and r.stderr == ""
    r = _run("import gradcore")  # no env var: still silent whether or not a GPU exists
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""


@pytest.mark.skipif(gc.cuda.is_available(), reason="a GPU is usable here")
def test_cuda_env_without_gpu_fails_clearly_on_first_tensor():
    r = _run("import gradcore as gc\nprint('imported')\ngc.zeros(2)", GRADCORE_DEVICE="cuda")
    assert r.returncode != 0 and r.stdout == "imported\n"  # the import itself succeeds
    assert "RuntimeError" in r.stderr and "no GPU is usable" in r.stderr
    assert gc.cuda.unavailable_reason() in r.stderr


def test_bad_env_device_fails_on_first_use():
    r = _run("import gradcore as gc\ngc.zeros(2)", GRADCORE_DEVICE="tpu")
    assert r.returncode != 0 and "ValueError" in r.stderr and "unknown device 'tpu'" in r.stderr


def _gradcore_imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.split(".")[0] == "gradcore"}


def test_layers_point_one_way():
    """backend imports only the layer below it (kernels, checks); autograd never imports ops."""
    assert {n for n in _gradcore_imports(ROOT / "gradcore" / "backend.py")
            if not n.startswith(("gradcore.kernels", "gradcore.checks"))} == set()
    for path in (ROOT / "gradcore" / "autograd").glob("*.py"):
        assert not {n for n in _gradcore_imports(path) if n.startswith("gradcore.ops")}, path


FAKE_CUPY = {
    "no driver": "def getDeviceCount():\n    raise RuntimeError('cudaErrorInsufficientDriver: CUDA driver is insufficient')\n",
    "no device": "def getDeviceCount():\n    return 0\n",
    "no nvrtc": "def getDeviceCount():\n    return 1\n",
}


@pytest.mark.parametrize("case, reason", [("no driver", "driver"), ("no device", "no GPU"),
                                          ("no nvrtc", "NVRTC")])
def test_cupy_without_a_usable_gpu_falls_back_to_cpu_quietly(tmp_path, case, reason):
    """CuPy importable but unusable (no driver, no device, no NVRTC): import stays silent, the
    default device is the CPU, and the reason says which piece is missing."""
    pkg = tmp_path / "cupy"
    (pkg / "cuda").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from cupy import cuda\n")
    (pkg / "cuda" / "__init__.py").write_text("from cupy.cuda import runtime, nvrtc\n")
    (pkg / "cuda" / "runtime.py").write_text(FAKE_CUPY[case])
    (pkg / "cuda" / "nvrtc.py").write_text(
        "def getVersion():\n    raise OSError('libnvrtc.so.13: cannot open shared object file')\n")
    code = ("import gradcore as gc; print(gc.get_default_device()); "
            "print(gc.cuda.is_available()); print(gc.cuda.unavailable_reason())")
    env = {k: v for k, v in os.environ.items() if k != "GRADCORE_DEVICE"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "cpu" and lines[1] == "False"
    assert reason in lines[2]


@pytest.mark.parametrize("seed, error, match", [
    (-1, ValueError, "must be a non-negative integer, got -1"),  # NumPy's message named no op
    (1.5, TypeError, "must be an integer, got 1.5"),
    ("0", TypeError, "must be an integer, got '0'"),
    (True, TypeError, "must be an integer, got True"),
])
def test_manual_seed_names_itself_and_the_seed(seed, error, match):
    with pytest.raises(error, match=rf"^manual_seed: seed {match}"):
        gc.manual_seed(seed)
    gc.manual_seed(np.int64(3))  # NumPy integers are seeds too
    a = gc.randn(2).numpy()
    gc.manual_seed(3)
    np.testing.assert_array_equal(gc.randn(2).numpy(), a)
