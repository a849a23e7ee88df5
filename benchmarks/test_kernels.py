"""Memory-bound kernels from 1 MB to 256 MB: fused activation backward, bias + activation,
softmax cross-entropy, bias gradients, and the plain copy they are measured against."""
import pytest

from gradcore.bench import workloads as W

SIZES_MB = [1, 16, pytest.param(64, marks=pytest.mark.slow), pytest.param(256, marks=pytest.mark.slow)]
KERNELS = {"copy": W.copy, "sigmoid_backward": W.activation_backward, "bias_relu": W.bias_act,
           "softmax_xent": W.softmax_xent, "bias_grad": W.bias_grad}


@pytest.mark.parametrize("mbytes", SIZES_MB)
@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel(measure, engine, device, name, mbytes):
    measure(f"{name} {mbytes}MB {device}", KERNELS[name], engine, device, mbytes=mbytes)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_activation_backward_variants(measure, engine, device, act):
    measure(f"{act}_backward 16MB {device}", W.activation_backward, engine, device, mbytes=16, act=act)


def test_optimizer_step(measure, engine, device):
    measure(f"sgd momentum step 784-1024-1024-10 {device}", W.optimizer_step, engine, device)


@pytest.mark.parametrize("n", [256, 1024])
def test_matmul(measure, engine, device, n):
    measure(f"matmul {n} {device}", W.matmul, engine, device, n=n)
