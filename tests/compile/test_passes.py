"""The build-time passes of the CPU recording: dead-op elimination, constant folding, memory
planning (peak bytes at most eager's on the MLP step; views re-made on shared blocks)."""
import tracemalloc

import numpy
import pytest

import gradcore as gc


def _graph(f):
    [graphs] = f._cache.values()
    return graphs[-1]


def test_dead_work_is_not_replayed():
    def body(x):
        unused = (x * 3).exp().sum()  # noqa: F841 (dead: nobody reads it)
        return x + 1
    f = gc.compile(body)
    f(gc.ones(3))
    stats = _graph(f).replay.stats
    assert stats["dead"] == 3 and stats["steps"] == 1
    assert f(gc.full((3,), 2.0)).tolist() == [3.0, 3.0, 3.0]


def test_work_on_constants_is_folded():
    def body(x):
        c = gc.ones_like(x) * 2 + 1   # constants only: computed once, at the trace
        return x * c
    f = gc.compile(body)
    f(gc.ones(3))
    stats = _graph(f).replay.stats
    assert stats["folded"] >= 2 and stats["steps"] == 1
    assert f(gc.full((3,), 2.0)).tolist() == [6.0, 6.0, 6.0]


def test_an_intermediate_kept_by_the_program_is_not_dropped():
    kept = {}

    def body(x):
        kept["h"] = x * 5           # a Python side effect: the program holds this tensor
        return x + 1
    f = gc.compile(body)
    f(gc.ones(2))
    h = kept["h"]
    f(gc.full((2,), 3.0))
    assert h.tolist() == [15.0, 15.0]  # rewritten by the replay, as the trace left it


def _peak(fn):
    fn()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_planned_memory_of_the_mlp_step_is_at_most_eager_peak():
    """NumPy reports its buffers to tracemalloc: eager's peak of one step against what the
    recording holds for itself plus the peak of one replay."""
    def setup():
        gc.manual_seed(0)
        net = gc.nn.MLP([784, 1024, 1024, 10])
        opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x, y = gc.randn(256, 784), gc.tensor(numpy.arange(256) % 10)

        def step(x, y):
            opt.zero_grad()
            loss = gc.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss
        return step, x, y
    step, x, y = setup()
    step(x, y)
    eager = _peak(lambda: step(x, y))
    step, x, y = setup()
    f = gc.compile(step)
    replay = _peak(lambda: f(x, y))
    stats = _graph(f).replay.stats
    assert stats["block_bytes"] < stats["planned_bytes"]
    assert stats["in_place"] >= 2  # bias + ReLU of both hidden layers into the GEMM's buffer
    assert stats["held_bytes"] + replay <= eager, (stats, replay, eager)


def test_views_of_planned_buffers_are_remade_on_their_blocks():
    def body(x):
        a = (x * 2).T.reshape(-1)[::2]   # views of an intermediate
        b = (x + 1)[:, ::-1]             # a negative stride
        return (a.sum() + (b * b).sum()) * x.mean()
    f = gc.compile(body)
    for seed in range(4):
        x = gc.tensor(numpy.random.default_rng(seed).standard_normal((4, 6)))
        numpy.testing.assert_array_equal(f(x).numpy(), body(x).numpy())
    assert f.traces == 1 and _graph(f).replay.stats["planned_bytes"] > 0


@pytest.mark.parametrize("plan", [True, False])
def test_planning_does_not_change_results(plan, monkeypatch):
    from gradcore.compile import cpu
    build = cpu.schedule.build
    monkeypatch.setattr(cpu.schedule, "build",
                        lambda *a, **k: build(*a, plan_memory=plan))
    gc.manual_seed(0)
    net = gc.nn.MLP([5, 7, 3], activation="tanh")
    f = gc.compile(lambda x: net(x).sum(axis=1).exp())
    for seed in range(3):
        x = gc.tensor(numpy.random.default_rng(seed).standard_normal((4, 5)).astype("float32"))
        numpy.testing.assert_array_equal(f(x).numpy(), net(x).sum(axis=1).exp().numpy())


def test_an_array_created_in_the_trace_and_written_starts_over_at_each_replay():
    """``z = zeros(); z += x``: without restoring z's first content a replay would add to the
    previous call's z (a silent wrong answer)."""
    def body(x):
        z = gc.zeros(3)
        z += x
        z[0] = x[1]
        return z
    f = gc.compile(body)
    f(gc.ones(3))
    assert f(gc.tensor([1.0, 2.0, 3.0])).tolist() == [2.0, 2.0, 3.0]
    assert f(gc.tensor([1.0, 2.0, 3.0])).tolist() == [2.0, 2.0, 3.0]


def test_in_place_results_never_overwrite_a_value_still_needed():
    def body(x):
        a = x * 2
        b = gc.exp(a) + 1          # a is still needed below: b may not take a's block
        c = gc.tanh(b) * 3         # b ends here: c may compute in place of it
        return c + a, a.T @ c
    f = gc.compile(body)
    for seed in range(3):
        x = gc.tensor(numpy.random.default_rng(seed).standard_normal((3, 3)))
        for got, want in zip(f(x), body(x)):
            numpy.testing.assert_array_equal(got.numpy(), want.numpy())
    assert _graph(f).replay.stats["in_place"] >= 1
