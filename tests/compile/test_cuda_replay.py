"""gradcore/compile/cuda.py: trace a step into CUDA graphs and replay it. On the host stand-in
(GRADCORE_TEST_HOSTCUPY=1), which models capture as CUDA does: nothing runs while capturing,
graphs hold addresses (freed memory is caught at launch), synchronous calls are refused, and
CuPy's own cuBLAS path refuses a capturing stream, so a GEMM that bypasses the captured path
fails here. What only a real GPU can confirm: docs/concepts/cuda-graphs.md."""
from __future__ import annotations

import gc as pygc

import numpy as np
import pytest

import gradcore as gc
from gradcore import tracing
from gradcore.rng import random_state
from gradcore.compile import cuda
from gradcore.kernels import gemm

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(
    not gc.cuda.is_available(), reason=f"no usable GPU: {gc.cuda.unavailable_reason()}")]
# What only the stand-in can show (launch counts, stream joins); the rest runs on a GPU as well
STAND_IN = gc.cuda.is_available() and gc.device("cuda").xp.__name__ == "hostcupy"


def _mlp(dtype, seed=0):
    gc.manual_seed(seed)
    model = gc.nn.Sequential(gc.nn.Linear(6, 16), gc.nn.ReLU(), gc.nn.Linear(16, 16), gc.nn.Tanh(),
                             gc.nn.Linear(16, 3)).to("cuda", dtype)
    return model, gc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def _batches(n, dtype, rng):
    xs = [rng.standard_normal((8, 6)).astype(dtype) for _ in range(n)]
    return [(x, x[:, :3].argmax(axis=1)) for x in xs]  # learnable labels


def _step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = gc.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _train(model, opt, batches, step, compiled):
    """Losses of ``step`` over ``batches``: eagerly, or traced at the first and replayed."""
    if not compiled:
        return [step(gc.tensor(x, device="cuda"), gc.tensor(y, device="cuda")).item() for x, y in batches]
    x_s, y_s = gc.tensor(batches[0][0], device="cuda"), gc.tensor(batches[0][1], device="cuda")
    replay = cuda.trace(step, (x_s, y_s), {})  # the trace is a real step: the first
    losses = [replay.outputs.item()]
    for x, y in batches[1:]:
        x_s.array[...] = gc.tensor(x, device="cuda").array  # what the front-end does per call
        y_s.array[...] = gc.tensor(y, device="cuda").array
        replay()
        losses.append(replay.outputs.item())
    return losses, replay


def _host_stepped(model, opt):
    """The step with the optimizer's update as a host call: its step count, first-step branch
    and bias corrections change every step, so a graph must not freeze them."""
    def step(x, y):
        opt.zero_grad()
        loss = gc.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        tracing.host_call(opt.step)
        return loss
    return step


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam"])
def test_replayed_training_equals_eager_training(dtype, optimizer, rng):
    batches = _batches(12, dtype, rng)
    runs = []
    for compiled in (False, True):
        model, opt = _mlp(dtype)
        if optimizer == "adam":
            opt = gc.optim.Adam(model.parameters(), lr=0.01)
        runs.append((model, _train(model, opt, batches, _host_stepped(model, opt), compiled)))
    (model, eager), (model_c, (compiled, replay)) = runs
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(compiled, eager, rtol=rtol)
    assert eager[-1] < eager[0]  # it trains
    for p, q in zip(model.parameters(), model_c.parameters()):
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=rtol, atol=rtol)
    assert replay.segments == 2  # forward + backward; the update; (an empty graph after it)
    assert gemm.CAPTURE.gemm is None and tracing.active() is None


def test_the_update_after_an_eager_first_step(rng):
    """SGD momentum traced after its first step (v = g, a Python branch): right, and the update
    is a host call (Optimizer.step goes through gradcore.tracing.host_call), so the step splits
    the graph in two segments instead of being frozen inside it."""
    batches = _batches(10, np.float32, rng)
    model, opt = _mlp(np.float32)
    eager = _train(model, opt, batches, _step(model, opt), compiled=False)
    model_c, opt_c = _mlp(np.float32)
    step = _step(model_c, opt_c)
    first = step(gc.tensor(batches[0][0], device="cuda"), gc.tensor(batches[0][1], device="cuda")).item()
    compiled, replay = _train(model_c, opt_c, batches[1:], step, compiled=True)
    np.testing.assert_allclose([first] + compiled, eager, rtol=1e-5)
    assert replay.segments == 2


def test_one_graph_launch_per_segment_and_memory_held_by_the_replay():
    model, opt = _mlp(np.float32)
    x = gc.randn(8, 6, device="cuda")
    y = gc.tensor([0, 1, 2, 0, 1, 2, 0, 1], device="cuda")
    replay = cuda.trace(_step(model, opt), (x, y), {})
    pygc.collect()  # the trace's temporaries are gone; their blocks stay in the private pool
    graph = replay._schedule[0]
    replay()
    replay()
    assert replay._capture.pool.used_bytes() > 0
    if STAND_IN:
        assert graph.launches == 3  # once by the trace itself, once per replay
        stream = replay._capture.stream  # non-blocking: ordered with the caller's by events
        caller = gc.device("cuda").xp.cuda.get_current_stream()
        assert stream.waits_on[-3:] == [caller] * 3 and caller.waits_on[-3:] == [stream] * 3


def test_the_replay_keeps_what_the_graph_touches_alive():
    """Parameters and optimizer state made before the trace are in the graph by address: the
    replay keeps them alive (through the traced function), even when nothing else does."""
    def make():
        model, opt = _mlp(np.float32)
        x, y = gc.randn(8, 6, device="cuda"), gc.tensor([0, 1, 2, 0, 1, 2, 0, 1], device="cuda")
        _step(model, opt)(x, y)  # state made eagerly, before the trace
        return cuda.trace(_step(model, opt), (x, y), {})
    replay = make()
    pygc.collect()
    first = replay.outputs.item()
    replay()  # the stand-in raises on a node whose buffer was freed
    assert replay.outputs.item() < first


class _Counter:
    """An optimizer-like host call: a scalar that changes every step, handed to the graph in a
    device array (as a learning-rate schedule or Adam's bias correction would be)."""

    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1
        return gc.tensor([float(self.n)], device="cuda").array


def test_host_calls_split_the_graph_and_run_in_order_at_every_replay():
    counter = _Counter()
    x = gc.tensor([1.0, 2.0], device="cuda")

    def fn(x):
        y = x * 2  # segment 1
        s = gc.Tensor(tracing.host_call(counter))  # host call: ends segment 1, runs, begins 2
        return y * s + 1  # segment 2 reads y (segment 1) and the host call's array

    replay = cuda.trace(fn, (x,), {})
    assert replay.segments == 2 and counter.n == 1
    assert replay.outputs.numpy().tolist() == [3.0, 5.0]
    for n in (2, 3):
        replay()
        assert counter.n == n and replay.outputs.numpy().tolist() == [2 * n + 1, 4 * n + 1]


def test_a_random_draw_through_a_host_call_is_drawn_again_at_each_replay():
    x = gc.ones(16, device="cuda")

    def draw():  # a dropout mask drawn on the host from gradcore's generator, copied to the GPU
        return gc.tensor(random_state().random(16) < 0.5, device="cuda").array

    def fn(x):
        mask = gc.Tensor(tracing.host_call(draw))
        return x * mask.astype(x.dtype)

    gc.manual_seed(7)
    want = [(random_state().random(16) < 0.5).astype(np.float32) for _ in range(3)]
    gc.manual_seed(7)
    replay = cuda.trace(fn, (x,), {})
    got = [replay.outputs.numpy()]
    for _ in range(2):
        replay()
        got.append(replay.outputs.numpy())
    np.testing.assert_array_equal(np.array(got), np.array(want))
    assert not (got[0] == got[1]).all()


def test_host_call_result_must_keep_its_shape():
    sizes = iter([2, 3])
    replay = cuda.trace(lambda x: x + gc.Tensor(tracing.host_call(
        lambda: gc.zeros(next(sizes), device="cuda").array)), (gc.ones(2, device="cuda"),), {})
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*but \(2,\) and float32 when traced"):
        replay()


def test_nested_host_calls_and_host_reads_inside_a_host_call_are_part_of_it():
    x = gc.ones(3, device="cuda")
    seen = []

    def inner():
        tracing.host_read("inner read")  # eager work between segments may read the device
        seen.append(x.numpy().sum())

    replay = cuda.trace(lambda x: (tracing.host_call(lambda: tracing.host_call(inner)), x * 3)[1], (x,), {})
    replay()
    assert seen == [3.0, 3.0] and replay.segments == 2


def test_linear_on_a_stack_of_rows_is_captured_forward_and_backward():
    lin = gc.nn.Linear(4, 3).to("cuda")
    x = gc.randn(2, 5, 4, device="cuda")

    def fn(x):
        lin.zero_grad()
        y = lin(x)
        (y * y).sum().backward()
        return y

    y = fn(x).numpy()
    gw = lin.weight.grad.numpy()
    replay = cuda.trace(fn, (x,), {})
    replay()
    np.testing.assert_allclose(replay.outputs.numpy(), y, rtol=1e-6)
    np.testing.assert_allclose(lin.weight.grad.numpy(), gw, rtol=1e-5)


@pytest.mark.parametrize("op,name", [
    (lambda x: gc.einsum("ij,jk->ik", x, x), "einsum"),
    (lambda x: gc.linalg.inv(x), "inv"),
    (lambda x: gc.linalg.solve(x, x), "solve"),
])
def test_uncapturable_ops_raise_naming_the_op_and_leave_no_capture_behind(op, name):
    x = gc.tensor(np.eye(3) * 2, device="cuda")
    with pytest.raises(RuntimeError, match=f"{name}: cannot run inside a CUDA-graph capture"):
        cuda.trace(op, (x,), {})
    assert gemm.CAPTURE.gemm is None and tracing.active() is None
    np.testing.assert_allclose(op(x).numpy(), op(gc.tensor(np.eye(3) * 2)).numpy())  # eager works


def test_a_host_to_device_copy_inside_the_traced_function_raises_clearly():
    x = gc.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"to_device: copying host data \(ndarray of shape \(2,\)\).*CUDA graph"):
        cuda.trace(lambda x: x + gc.tensor([1.0, 2.0], device="cuda"), (x,), {})
    assert gemm.CAPTURE.gemm is None and tracing.active() is None


def test_a_host_read_inside_the_traced_function_raises_clearly():
    tracer = cuda.CudaTracer(gc.device("cuda"), capture=None)
    with pytest.raises(RuntimeError, match=r"\.item\(\) reads a device value to the host.*output"):
        tracer.host_read(".item()")
    x = gc.ones(2, device="cuda")
    # Tensor.item() asks the tracer first (gradcore.tracing.host_read): gradcore's message, not
    # the device's refusal to synchronize a capturing stream
    with pytest.raises(RuntimeError, match=r"\.item\(\) reads a device value to the host"):
        cuda.trace(lambda x: x * float((x * 2).sum().item()), (x,), {})
    assert gemm.CAPTURE.gemm is None and tracing.active() is None
    assert (x * 2).sum().item() == 4.0  # the stream works eagerly again


def test_inputs_must_be_tensors_on_one_cuda_device():
    with pytest.raises(ValueError, match=r"one CUDA device, got devices \['cpu'\]"):
        cuda.trace(lambda x: x, (gc.ones(2, device="cpu"),), {})
    with pytest.raises(ValueError, match="'cpu', 'cuda:0'"):
        cuda.trace(lambda x, y: x, (gc.ones(2, device="cpu"), gc.ones(2, device="cuda")), {})


def test_the_captured_cublas_handle_follows_the_matmul_precision():
    from cupy_backends.cuda.libs import cublas  # CuPy's binding (the stand-in's in CI)
    x = gc.ones((2, 2), device="cuda")
    gc.set_matmul_precision("high")
    try:
        replay = cuda.trace(lambda x: x @ x, (x,), {})
        assert cublas.getMathMode(replay._capture.handle) == 3  # CUBLAS_TF32_TENSOR_OP_MATH
    finally:
        gc.set_matmul_precision("highest")
    replay = cuda.trace(lambda x: x @ x, (x,), {})
    assert cublas.getMathMode(replay._capture.handle) == 0  # CUBLAS_DEFAULT_MATH
    assert replay.outputs.numpy().tolist() == [[2.0, 2.0], [2.0, 2.0]]
