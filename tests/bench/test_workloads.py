"""The hand-written NumPy baselines compute what gradcore computes (the loss too), and the
memory-bound ones write into their buffers without temporaries (NumPy reports its buffers to
tracemalloc, so a temporary shows up as traced memory)."""
import tracemalloc

import numpy as np
import pytest

from gradcore.bench import workloads as W
from gradcore.kernels import activation as KA
from gradcore.kernels import loss as KL


def _peak_bytes(step):
    step()  # warm: NumPy's caches, lazily created buffers
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_numpy_mlp_step_computes_the_loss():
    sizes, batch = (20, 16, 5), 8
    step, _ = W.mlp_step("numpy", "cpu", sizes, batch)
    net = step.__self__
    step()
    logits = net.h[-1].astype(np.float64)  # this step's forward (the update came after it)
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    assert net.loss == pytest.approx((lse - logits[np.arange(batch), net.y]).mean(), rel=1e-5)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_numpy_activation_backward_matches_the_twin_without_temporaries(act):
    mbytes = 1.0
    step, _ = W.activation_backward("numpy", "cpu", mbytes, act)
    gx = step()
    y, gy = W._data(gx.size, 0), W._data(gx.size, 1)  # what the workload drew
    fn = {"sigmoid": KA.sigmoid_backward, "tanh": KA.tanh_backward, "relu": KA.relu_backward}[act]
    np.testing.assert_allclose(gx, fn(y, gy), rtol=1e-6, atol=1e-7)
    assert _peak_bytes(step) < mbytes * 2**20 / 8  # a temporary would be a whole array


def test_numpy_softmax_xent_computes_the_loss_and_gradient():
    step, _ = W.softmax_xent("numpy", "cpu", 1.0, classes=32)
    loss, gz = step()
    n = 2**20 // 4
    z = W._data(n, 0)[: n // 32 * 32].reshape(-1, 32)
    labels = np.random.default_rng(3).integers(0, 32, len(z))  # as the workload draws them
    ref_loss, lse = KL.softmax_cross_entropy(z, labels, "mean")
    assert loss == pytest.approx(float(ref_loss), rel=1e-5)
    ref = KL.softmax_cross_entropy_backward(z, labels, lse, np.ones((), z.dtype), "mean")
    np.testing.assert_allclose(gz, ref, rtol=1e-4, atol=1e-8)
    assert _peak_bytes(step) < 2**20 / 8


def test_compiled_engine_chain_returns_the_eager_gradient():
    eager, _ = W.chain("gradcore", "cpu", n_ops=12)
    compiled, _ = W.chain("compiled", "cpu", n_ops=12)
    for _ in range(3):  # trace, then replays
        np.testing.assert_array_equal(compiled().numpy(), eager().numpy())


def test_compiled_engine_mlp_step_runs_and_replays():
    step, info = W.mlp_step("compiled", "cpu", sizes=(8, 16, 3), batch=4)
    for _ in range(3):
        step()
    assert info["flops"] > 0
