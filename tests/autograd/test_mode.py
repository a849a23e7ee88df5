"""Grad mode and anomaly mode are per thread (issue 12.9), as PyTorch's grad mode is."""
import threading

import numpy as np
import pytest

import gradcore as gc


def _run_in_threads(fns):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 (reported by the test)
                errors.append(e)
        return run
    threads = [threading.Thread(target=wrap(fn)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside, go_on = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with gc.no_grad():
            inside.set()
            go_on.wait(5)

    def recording():
        inside.wait(5)
        x = gc.tensor([1.0], requires_grad=True)
        seen["requires_grad"] = (x * 2).requires_grad
        go_on.set()
    _run_in_threads([quiet, recording])
    assert seen["requires_grad"] is True
    assert gc.is_grad_enabled()


def test_overlapping_no_grad_blocks_in_two_threads_restore_recording():
    """Two overlapping no_grad blocks in two threads used to leave recording off for good."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with gc.no_grad():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with gc.no_grad():
            b_in.set()
            a_out.wait(5)
        assert gc.is_grad_enabled()
    _run_in_threads([a, b])
    assert gc.is_grad_enabled()


def test_a_new_thread_starts_with_the_defaults():
    seen = {}
    with gc.no_grad(), gc.detect_anomaly():
        def probe():
            seen["grad"], seen["anomaly"] = gc.is_grad_enabled(), gc.is_anomaly_enabled()
        _run_in_threads([probe])
    assert seen == {"grad": True, "anomaly": gc.is_anomaly_enabled()}


def _train(seed, steps, out):
    """A small MLP trained with SGD momentum; records the losses and final parameters."""
    gc.manual_seed(seed)   # NOTE: the generator is process-wide; runs are seeded by data only
    rng = np.random.default_rng(seed)
    x = gc.tensor(rng.standard_normal((32, 4)), dtype="float64")
    y = gc.tensor(rng.integers(0, 3, 32))
    model = gc.nn.Sequential(gc.nn.Linear(4, 8, dtype="float64"), gc.nn.Tanh(),
                             gc.nn.Linear(8, 3, dtype="float64"))
    with gc.no_grad():  # deterministic initial weights, independent of the shared generator
        for i, p in enumerate(model.parameters()):
            p.copy_(np.random.default_rng(seed + i).standard_normal(p.shape) * 0.3)
    opt = gc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = gc.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out[seed] = (losses, [p.numpy().copy() for p in model.parameters()])


@pytest.mark.slow
def test_two_threads_train_like_one_thread():
    """2 threads x 5,000 steps, each its own model: no error, and every loss and parameter equal
    to the same run alone (used to give thousands of spurious errors and wrong gradients)."""
    steps = 5000
    alone, together = {}, {}
    for seed in (1, 2):
        _train(seed, steps, alone)
    _run_in_threads([lambda: _train(1, steps, together), lambda: _train(2, steps, together)])
    for seed in (1, 2):
        assert together[seed][0] == alone[seed][0]
        for a, b in zip(together[seed][1], alone[seed][1]):
            np.testing.assert_array_equal(a, b)


def test_backward_changes_no_state_of_other_threads():
    """backward() turned recording off for the whole process while it ran."""
    stop = threading.Event()
    flips = []

    def watcher():
        while not stop.wait(0):
            if not gc.is_grad_enabled():
                flips.append(1)

    def worker():
        try:
            x = gc.tensor(np.ones(64), requires_grad=True)
            for _ in range(300):
                (x * x).sum().backward()
        finally:
            stop.set()
    _run_in_threads([watcher, worker])
    assert not flips
