"""GPU-only checks (marker ``gpu``; skipped without a usable GPU): CPU and GPU training agree,
the optimizer step is one kernel launch, the memory pool is stable, OOM is a clear error."""
import numpy as np
import pytest

import gradcore as gc

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(
    not gc.cuda.is_available(), reason=f"no usable GPU: {gc.cuda.unavailable_reason()}")]


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
    """Forward, cross-entropy, backward and the update only queue work: with ~100 ms of GEMMs
    queued in front, the host returns from the step long before the GPU is done."""
    import time

    net = gc.nn.MLP([256, 512, 10]).to("cuda")
    opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = gc.randn(64, 256, device="cuda"), gc.tensor(np.arange(64) % 10, device="cuda")

    def step():
        opt.zero_grad()
        gc.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    step()  # compile the kernels first: compilation is host time
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
    import cupy

    net = gc.nn.MLP([64, 256, 10]).to("cuda")
    opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = gc.randn(128, 64, device="cuda"), gc.tensor(np.arange(128) % 10, device="cuda")
    pool = cupy.get_default_memory_pool()
    used = []
    for step in range(60):
        opt.zero_grad()
        gc.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if step >= 10:
            used.append(pool.used_bytes())
    assert max(used) == min(used)


def test_out_of_memory_is_clear_and_recoverable():
    free, total = gc.backend.device("cuda").xp.cuda.runtime.memGetInfo()
    n = int(total // 4 * 2)  # twice the card
    x = gc.ones(4, device="cuda")
    with pytest.raises(gc.OutOfMemoryError, match="out of GPU memory"):
        gc.broadcast_to(x[:1], (n,)) * 2.0
    assert (x + 1).sum().item() == 8.0  # the process goes on


def test_tf32_is_opt_in():
    a = gc.tensor(np.full((256, 256), 1.0001, np.float32), device="cuda")
    b = gc.ones((256, 256), device="cuda")
    exact = (a @ b).numpy()[0, 0]
    assert abs(exact - 256 * 1.0001) < 1e-3  # full float32 by default
    gc.set_matmul_precision("high")
    try:
        assert gc.get_matmul_precision() == "high"
        (a @ b).numpy()
    finally:
        gc.set_matmul_precision("highest")


def test_kernels_compile_once_per_device_and_float16_works():
    x = gc.randn(8, 16, device="cuda").astype("float16")
    w, b = gc.randn(4, 16, device="cuda").astype("float16"), gc.zeros(4, device="cuda").astype("float16")
    y = gc.nn.functional.linear(x, w, b, activation="sigmoid")
    ref = 1 / (1 + np.exp(-(x.numpy().astype(np.float32) @ w.numpy().astype(np.float32).T)))
    np.testing.assert_allclose(y.numpy().astype(np.float32), ref, atol=2e-3)
