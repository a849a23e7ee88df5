"""Devices that cannot be used: asking for a GPU where none is usable (in code or through
GRADCORE_DEVICE) raises RuntimeError with the reason; unknown device strings raise ValueError.
Skipped where a GPU is usable."""
import numpy as np
import pytest

import gradcore as gc
from tests.reliability.helpers import run_python


def _x(*shape):
    return gc.ones(*shape)


# ---- a GPU asked for where none is usable (skipped when a GPU is present) --------------------

no_gpu = pytest.mark.skipif(gc.cuda.is_available(), reason="a GPU is usable here")

GPU_CASES = [
    ("tensor-device-cuda", lambda: gc.tensor([1.0], device="cuda"), ["'cuda'", "no GPU"]),
    ("zeros-device-cuda:0", lambda: gc.zeros(2, device="cuda:0"), ["'cuda:0'", "no GPU"]),
    ("to-cuda", lambda: _x(2).to("cuda"), ["'cuda'", "no GPU"]),
    ("cuda-method", lambda: _x(2).cuda(), ["'cuda'", "no GPU"]),
    ("module-to-cuda", lambda: gc.nn.Linear(2, 2).to("cuda"), ["'cuda'", "no GPU"]),
    ("loader-cuda", lambda: gc.data.DataLoader(np.zeros((3, 2)), device="cuda"),
     ["'cuda'", "no GPU"]),
]


@no_gpu
@pytest.mark.parametrize("call, needles", [pytest.param(*c[1:], id=c[0]) for c in GPU_CASES])
def test_gpu_requested_without_one_says_why(call, needles):
    with pytest.raises(RuntimeError) as info:
        call()
    message = str(info.value)
    assert all(n in message for n in needles), message
    assert gc.cuda.unavailable_reason() in message  # the reason, not just "no"


@no_gpu
def test_gradcore_device_cuda_without_a_gpu_says_so(tmp_path):
    script = ("import gradcore as gc\n"
              "try:\n    gc.tensor([1.0])\n"
              "except RuntimeError as e:\n    print('ERR', e)\n")
    out = run_python(script, {"GRADCORE_DEVICE": "cuda"}, tmp_path)
    assert "ERR device: 'cuda' requested but no GPU is usable" in out
    assert "GRADCORE_DEVICE" in out


def test_gradcore_device_unknown_value_says_where_it_came_from(tmp_path):
    script = ("import gradcore as gc\n"
              "try:\n    gc.zeros(2)\n"
              "except ValueError as e:\n    print('ERR', e)\n")
    out = run_python(script, {"GRADCORE_DEVICE": "tpu"}, tmp_path)
    assert "ERR device: unknown device 'tpu'" in out and "GRADCORE_DEVICE" in out
