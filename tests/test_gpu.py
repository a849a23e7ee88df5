"""GPU-only checks (marker ``gpu``; skipped without a usable GPU): CPU and GPU training agree,
the optimizer step is one kernel launch, a step never waits for the GPU, the memory pool is
stable, OOM is a clear error, TF32 is opt-in.

They run on a GPU and on the host stand-in for CuPy (``GRADCORE_TEST_HOSTCUPY=1``), which models
what they assert on: it counts host waits (a GPU test times them instead), live device bytes,
a device of a set size, and TF32 rounding (tests/kernels/hostcupy/device.py).
"""
import gc as pygc

import numpy as np
import pytest

import gradcore as gc

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(
    not gc.cuda.is_available(), reason=f"no usable GPU: {gc.cuda.unavailable_reason()}")]


def _cupy():
    return gc.device("cuda").xp


def _train(device, steps=5, act="tanh"):
    gc.manual_seed(0)
    net = gc.nn.MLP([20, 64, 64, 5], activation=act).to(device)
    opt = gc.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    x = gc.tensor(rng.standard_normal((32, 20)), dtype="float32", device=device)
    y = gc.tensor(rng.integers(0, 5, 32), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = gc.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net, losses


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_cpu_and_gpu_training_agree(act):
    net_cpu, l_cpu = _train("cpu", act=act)
    net_gpu, l_gpu = _train("cuda", act=act)
    np.testing.assert_allclose(l_cpu, l_gpu, rtol=1e-4)
    for p, q in zip(net_cpu.parameters(), net_gpu.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-3, atol=1e-5)


def test_optimizer_step_is_one_kernel_launch(monkeypatch):
    from gradcore.kernels import optim as K

    net = gc.nn.MLP([20, 64, 64, 5]).to("cuda")
    opt = gc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    launches = []
    real = K.cupy_kernel

    def counting(spec):
        kernel = real(spec)

        def launch(*args, **kwargs):
            launches.append(spec.name)
            return kernel(*args, **kwargs)
        return launch
    monkeypatch.setattr(K, "cupy_kernel", counting)
    net(gc.ones((4, 20), device="cuda")).sum().backward()
    opt.step()
    assert len(launches) == 1 and launches[0].startswith("gradcore_")


def test_training_step_never_waits_for_the_gpu():
    """Forward, cross-entropy, backward and the update only queue work. On a GPU: with ~100 ms
    of GEMMs queued in front, the host returns from the step long before the GPU is done. On the
    host stand-in, where work runs at once, the stand-in counts the host waits: none may happen."""
    import time

    net = gc.nn.MLP([256, 512, 10]).to("cuda")
    opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = gc.randn(64, 256, device="cuda"), gc.tensor(np.arange(64) % 10, device="cuda")

    def step():
        opt.zero_grad()
        gc.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    step()  # compile the kernels first: compilation is host time
    host_waits = getattr(_cupy(), "host_waits", None)  # the stand-in's counter
    if host_waits is not None:
        before, _ = host_waits()
        step()
        after, where = host_waits()
        assert after == before, f"the step waited for the GPU: {where[before - after:]}"
        return
    a = gc.randn(4096, 4096, device="cuda").array
    gc.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(40):
        a @ a  # queued GEMMs, ~2-3 ms each on an H100
    queued = time.perf_counter()
    step()
    host = time.perf_counter() - queued
    gc.cuda.synchronize()
    total = time.perf_counter() - t0
    assert total > 0.05, "the queued GEMMs were too quick for this test to mean anything"
    assert host < 0.25 * total, f"the step took {host * 1e3:.1f} ms of {total * 1e3:.1f} ms"


def test_bad_label_on_gpu_raises_at_the_next_host_read():
    x = gc.randn(4, 3, device="cuda")
    bad = gc.tensor([0, 1, 7, 2], device="cuda")
    loss = gc.nn.functional.cross_entropy(x, bad)  # queued: no wait, no error yet
    with pytest.raises(ValueError, match=r"label 7 is out of range for 3 classes.*test_gpu.py"):
        loss.item()
    gc.nn.functional.cross_entropy(x, bad)
    with pytest.raises(ValueError, match="label 7"):
        gc.cuda.synchronize()
    with gc.detect_anomaly(), pytest.raises(ValueError, match="label 7"):
        gc.nn.functional.cross_entropy(x, bad)  # debugging: raised at the call
    assert gc.nn.functional.cross_entropy(x, gc.tensor([0, 1, 2, 2], device="cuda")).item() > 0


def test_memory_pool_stable_across_steps():
    """The bytes in use are the same after every step: nothing a step allocates outlives it."""
    net = gc.nn.MLP([64, 256, 10]).to("cuda")
    opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = gc.randn(128, 64, device="cuda"), gc.tensor(np.arange(128) % 10, device="cuda")
    pool = _cupy().get_default_memory_pool()
    pygc.collect()  # earlier tests' cyclic garbage, freed mid-loop, would change the count
    used = []
    for step in range(60):
        opt.zero_grad()
        gc.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if step >= 10:
            used.append(pool.used_bytes())
    assert max(used) == min(used), f"bytes in use per step: {used}"


def test_out_of_memory_is_clear_and_recoverable():
    """Sized from the device's free memory (an H200 has 141 GB; the stand-in HOSTCUPY_DEVICE_BYTES):
    the request is twice what the device and CuPy's cache could still give."""
    cupy = _cupy()
    free, _ = cupy.cuda.runtime.memGetInfo()
    n = 2 * (free + cupy.get_default_memory_pool().free_bytes()) // 4  # float32 elements
    x = gc.ones(4, device="cuda")
    with pytest.raises(gc.OutOfMemoryError, match="out of GPU memory"):
        gc.broadcast_to(x[:1], (n,)) * 2.0
    assert (x + 1).sum().item() == 8.0  # the process goes on


def test_tf32_is_opt_in():
    """TF32 keeps 10 mantissa bits, so 1.0001 enters the GEMM as 1.0: the result shows which
    precision cuBLAS used (on the stand-in, its TF32 switch rounds the same way)."""
    a = gc.tensor(np.full((256, 256), 1.0001, np.float32), device="cuda")
    b = gc.ones((256, 256), device="cuda")
    exact = (a @ b).numpy()[0, 0]
    assert abs(exact - 256 * 1.0001) < 1e-3  # full float32 by default
    gc.set_matmul_precision("high")
    try:
        assert gc.get_matmul_precision() == "high"
        fast = (a @ b).numpy()[0, 0]
        assert abs(fast - 256) < 1e-3, f"TF32 was asked for, but the GEMM gave {fast} (full float32)"
    finally:
        gc.set_matmul_precision("highest")
    assert abs((a @ b).numpy()[0, 0] - 256 * 1.0001) < 1e-3  # and back to full float32


def test_kernels_compile_once_per_device_and_float16_works():
    x = gc.randn(8, 16, device="cuda").astype("float16")
    w, b = gc.randn(4, 16, device="cuda").astype("float16"), gc.zeros(4, device="cuda").astype("float16")
    y = gc.nn.functional.linear(x, w, b, activation="sigmoid")
    ref = 1 / (1 + np.exp(-(x.numpy().astype(np.float32) @ w.numpy().astype(np.float32).T)))
    np.testing.assert_allclose(y.numpy().astype(np.float32), ref, atol=2e-3)
