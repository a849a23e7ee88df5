"""gc.compile's front-end: signatures and retracing, the cache bound, host reads, outputs,
and the documented limits (frozen Python control flow, Python side effects run once)."""
import numpy
import pytest

import gradcore as gc
from gradcore.compile import HostReadError
from gradcore.tensor import Tensor


def _counting(fn):
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)
    wrapped.calls = calls
    return wrapped


def test_same_signature_no_retrace_new_signature_retraces():
    body = _counting(lambda x: (x * 2).sum())
    f = gc.compile(body)
    for _ in range(3):
        f(gc.ones(3))
    assert f.traces == 1 and len(body.calls) == 1
    f(gc.ones(4))                         # new shape
    f(gc.ones(4, dtype="float64"))        # new dtype
    f(gc.ones(4, dtype="float64", requires_grad=True))  # new requires_grad
    assert f.traces == 4
    f(gc.ones(3))
    assert f.traces == 4 and len(body.calls) == 4


def test_replay_uses_new_input_values():
    f = gc.compile(lambda x, y: x * y + 1)
    for k in range(4):
        x, y = gc.randn(2, 3), gc.randn(2, 3)
        numpy.testing.assert_array_equal(f(x, y).numpy(), (x * y + 1).numpy())
    assert f.traces == 1


def test_python_arguments_are_part_of_the_signature():
    f = gc.compile(lambda x, k: x * k)
    assert f(gc.ones(2), 2).tolist() == [2.0, 2.0]
    assert f(gc.ones(2), 3).tolist() == [3.0, 3.0]
    assert f.traces == 2
    with pytest.raises(TypeError, match="neither a Tensor nor hashable"):
        f(gc.ones(2), [1])


def test_keyword_tensors_and_pytree_outputs():
    f = gc.compile(lambda x, *, scale: {"y": x * scale, "pair": (x.sum(), 7)})
    out = f(gc.ones(2), scale=gc.full((2,), 3.0))
    out = f(gc.ones(2), scale=gc.full((2,), 4.0))
    assert out["y"].tolist() == [4.0, 4.0] and out["pair"][0].item() == 2.0
    assert out["pair"][1] == 7 and f.traces == 1


def test_outputs_are_copies_not_overwritten_by_the_next_replay():
    f = gc.compile(lambda x: x + 1)
    a = f(gc.zeros(2))
    b = f(gc.ones(2))
    assert a.tolist() == [1.0, 1.0] and b.tolist() == [2.0, 2.0]
    assert not a.requires_grad


def test_cache_bound_evicts_least_recently_used():
    f = gc.compile(lambda x: x * 2, cache_size=2)
    f(gc.ones(1))
    f(gc.ones(2))
    f(gc.ones(1))            # 1 is now the most recently used
    f(gc.ones(3))            # evicts 2
    assert f.traces == 3
    f(gc.ones(1))
    assert f.traces == 3     # still cached
    f(gc.ones(2))
    assert f.traces == 4     # was evicted: traced again
    with pytest.raises(ValueError, match="cache_size"):
        gc.compile(lambda x: x, cache_size=0)


@pytest.mark.parametrize("read", [lambda t: t.item(), lambda t: float(t), lambda t: t.numpy(),
                                  lambda t: t.tolist(), lambda t: bool(t > 0), lambda t: int(t),
                                  lambda t: numpy.asarray(t), lambda t: f"{t}"])
def test_host_read_while_tracing_raises(read):
    def body(x):
        s = x.sum()
        read(s)
        return s
    f = gc.compile(body)
    with pytest.raises(HostReadError, match="reads a tensor to the host"):
        f(gc.ones(2))


def test_host_read_error_names_the_function_and_the_read():
    def my_step(x):
        return x.sum().item()
    with pytest.raises(RuntimeError, match=r"my_step reads a tensor to the host with \.item\(\)"):
        gc.compile(my_step)(gc.ones(2))
    # the tracing state is cleaned up: eager code reads values again
    assert gc.ones(2).sum().item() == 2.0


def test_value_dependent_control_flow_is_frozen_as_documented():
    """A branch on a Python value computed outside the graph is taken at trace time only."""
    state = {"double": True}

    def body(x):
        return x * 2 if state["double"] else x * 3
    f = gc.compile(body)
    assert f(gc.ones(1)).tolist() == [2.0]
    state["double"] = False
    assert f(gc.ones(1)).tolist() == [2.0]   # frozen: the documented limit
    assert body(gc.ones(1)).tolist() == [3.0]


def test_python_side_effects_run_once():
    log = []

    def body(x):
        log.append("traced")
        return x + 1
    f = gc.compile(body)
    for _ in range(3):
        f(gc.ones(1))
    assert log == ["traced"]


def test_module_training_flag_is_frozen_compile_one_per_mode():
    gc.manual_seed(0)
    drop = gc.nn.Dropout(0.5)
    f_train = gc.compile(lambda x: drop(x))
    y = f_train(gc.ones(100))
    assert (y.numpy() == 0).any()
    drop.eval()
    assert (f_train(gc.ones(100)).numpy() == 0).any()   # still the training graph: frozen
    f_eval = gc.compile(lambda x: drop(x))
    assert (f_eval(gc.ones(100)).numpy() == 1).all()


def test_nested_compile_is_refused():
    inner = gc.compile(lambda x: x + 1)
    outer = gc.compile(lambda x: inner(x) * 2)
    with pytest.raises(RuntimeError, match="nested tracing"):
        outer(gc.ones(1))


def test_grad_state_guard_retraces_when_zero_grad_moves_outside():
    """A recording is replayed only from the .grad state it was traced in."""
    w = gc.nn.Parameter(gc.ones(2))
    opt = gc.optim.SGD([w], lr=0.1)

    def body(x):
        (w * x).sum().backward()
        opt.step()
    f = gc.compile(body)
    f(gc.ones(2))           # .grad None at the start: the gradient is stored
    f(gc.ones(2))           # .grad set: accumulates (as eager would), another recording
    assert f.traces == 2
    opt.zero_grad()
    f(gc.ones(2))           # back to the first state: replayed
    assert f.traces == 2
    w2 = gc.nn.Parameter(gc.ones(2))
    opt2 = gc.optim.SGD([w2], lr=0.1)
    for k in range(3):
        if k == 2:
            opt2.zero_grad()
        (w2 * gc.ones(2)).sum().backward()
        opt2.step()
    assert w.tolist() == w2.tolist()


@pytest.mark.gpu
@pytest.mark.skipif(not gc.cuda.is_available(), reason=f"no usable GPU: {gc.cuda.unavailable_reason()}")
def test_a_cuda_signature_is_captured_and_trains_like_eager():
    """The front-end hands CUDA signatures to gradcore.compile.cuda (CUDA graphs; on the host
    stand-in in CI): a compiled Adam run on the GPU equals the eager one."""
    from gradcore.compile import cuda as cuda_backend

    def run(compiled):
        gc.manual_seed(0)
        net = gc.nn.Sequential(gc.nn.Linear(4, 8), gc.nn.Tanh(), gc.nn.Linear(8, 2)).to("cuda")
        opt = gc.optim.Adam(net.parameters(), lr=0.01)

        def step(x):
            opt.zero_grad()
            loss = (net(x) ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        f = gc.compile(step) if compiled else step
        rng = numpy.random.default_rng(1)
        return [f(gc.tensor(rng.standard_normal((3, 4)), dtype="float32", device="cuda")).item()
                for _ in range(6)], f
    (eager, _), (compiled, f) = run(False), run(True)
    numpy.testing.assert_allclose(compiled, eager, rtol=1e-6)
    assert f.traces == 1
    assert isinstance(next(iter(f._cache.values()))[0].replay, cuda_backend.Replay)


def test_check_mode_agrees_on_a_training_step_and_keeps_one_state():
    gc.manual_seed(0)
    net = gc.nn.Sequential(gc.nn.Linear(4, 6), gc.nn.Dropout(0.2), gc.nn.Linear(6, 2))
    opt = gc.optim.Adam(net.parameters(), lr=0.01)

    def step(x):
        opt.zero_grad()
        loss = (net(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    f = gc.compile(step, check=True)
    losses = [f(gc.ones(3, 4) * k).item() for k in range(4)]
    gc.manual_seed(0)
    net2 = gc.nn.Sequential(gc.nn.Linear(4, 6), gc.nn.Dropout(0.2), gc.nn.Linear(6, 2))
    opt2 = gc.optim.Adam(net2.parameters(), lr=0.01)
    eager = []
    for k in range(4):
        opt2.zero_grad()
        loss = (net2(gc.ones(3, 4) * k) ** 2).mean()
        loss.backward()
        opt2.step()
        eager.append(loss.item())
    assert losses == eager   # each step ran once in effect: the checked eager run was undone
    for p, q in zip(net.parameters(), net2.parameters()):
        numpy.testing.assert_array_equal(p.numpy(), q.numpy())


def test_check_mode_catches_a_frozen_computation():
    """A computation the tracer cannot see (here: on a plain NumPy array held by a closure) is
    frozen in the recording; check=True reports it."""
    from gradcore.compile import CheckError
    held = {"scale": numpy.ones(2)}

    def body(x):
        return x * gc.tensor(held["scale"] * 2)   # held["scale"] * 2: plain NumPy, unseen
    f = gc.compile(body, check=True)
    f(gc.ones(2))
    held["scale"] = numpy.full(2, 5.0)
    with pytest.raises(CheckError, match="output #0"):
        f(gc.ones(2))


def test_check_mode_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRADCORE_COMPILE_CHECK", "1")
    assert gc.compile(lambda x: x).check
    monkeypatch.setenv("GRADCORE_COMPILE_CHECK", "0")
    assert not gc.compile(lambda x: x).check


def test_an_input_changed_in_place_changes_for_the_caller():
    def body(x):
        x.add_(1)
        return x * 2
    f = gc.compile(body)
    for k in range(3):
        x, y = gc.full((2,), float(k)), gc.full((2,), float(k))
        out = f(x)
        assert out.tolist() == body(y).tolist() and x.tolist() == y.tolist() == [k + 1.0] * 2


def test_a_parameter_as_argument_is_refused():
    p = gc.nn.Parameter(gc.ones(2))
    with pytest.raises(TypeError, match="argument 0 .* is a Parameter"):
        gc.compile(lambda w: (w * 2).sum())(p)


def test_split_and_join_ops_replay_new_values():
    def body(x):
        a, b = gc.split(x * 2, 2)
        return gc.concatenate([b, a]).exp().sum() + gc.stack([a, b]).max()
    f = gc.compile(body)
    for seed in range(3):
        x = gc.tensor(numpy.random.default_rng(seed).standard_normal(6))
        numpy.testing.assert_array_equal(f(x).numpy(), body(x).numpy())
