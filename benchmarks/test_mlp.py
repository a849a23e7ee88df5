"""MLP training steps (forward + backward + momentum SGD), float32, vs NumPy and PyTorch."""
import pytest

from gradcore.bench import workloads as W

MLPS = [
    pytest.param((784, 1024, 1024, 10), 256, id="784-1024-1024-10-b256"),
    pytest.param((784, 4096, 4096, 4096, 10), 1024, id="784-4096x3-10-b1024", marks=pytest.mark.slow),
    pytest.param((784, 4096, 4096, 4096, 10), 8192, id="784-4096x3-10-b8192", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("sizes, batch", MLPS)
def test_mlp_step(measure, engine, device, sizes, batch):
    measure(f"mlp_step {sizes} b{batch} {device}", W.mlp_step, engine, device, sizes=sizes, batch=batch)


@pytest.mark.parametrize("sizes, batch", MLPS)
def test_mlp_gemms_alone(measure, device, sizes, batch):
    measure(f"mlp_step {sizes} b{batch} {device}", W.mlp_gemms, "gradcore", device, sizes=sizes, batch=batch)
