"""DataLoader (gradcore/data/loader.py): batching, seeded shuffling, resuming, device copies."""
import numpy
import pytest

import gradcore as gc
from gradcore import backend
from gradcore.data import DataLoader


def _data(n=10):
    x = numpy.arange(n * 3, dtype=numpy.uint8).reshape(n, 3)  # row i starts with 3*i
    y = numpy.arange(n, dtype=numpy.int64)
    return x, y


def _epoch(loader):
    return [tuple(t.numpy() for t in batch) for batch in loader]


def _labels(loader):
    return [yb.tolist() for _, yb in loader]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size, drop_last, sizes", [
    (3, False, [3, 3, 3, 1]), (3, True, [3, 3, 3]), (5, False, [5, 5]), (None, False, [10]),
    (1, False, [1] * 10), (10, True, [10]), (32, False, [10]),
])
def test_batches_cover_the_data(device, shuffle, batch_size, drop_last, sizes):
    x, y = _data()
    loader = DataLoader(x, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                        seed=0, device=device)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(yb) for _, yb in batches] == sizes
    for xb, yb in batches:
        assert isinstance(xb, gc.Tensor) and xb.device == gc.device(device)
        assert xb.dtype == numpy.uint8 and yb.dtype == numpy.int64  # dtypes are kept
        numpy.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])  # rows stay paired
    seen = numpy.concatenate([yb.numpy() for _, yb in batches])
    assert len(set(seen.tolist())) == len(seen)  # no sample twice in an epoch
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(10))
    if not shuffle:
        assert seen.tolist() == list(range(len(seen)))


def test_seed_fixes_the_sequence_of_epochs():
    x, y = _data(50)
    a = DataLoader(x, y, batch_size=8, shuffle=True, seed=42, device="cpu")
    b = DataLoader(x, y, batch_size=8, shuffle=True, seed=42, device="cpu")
    epochs_a = [_labels(a) for _ in range(3)]
    assert epochs_a == [_labels(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]  # a new permutation each epoch
    c = DataLoader(x, y, batch_size=8, shuffle=True, seed=43, device="cpu")
    assert _labels(c) != epochs_a[0]
    assert a.epoch == 3


def test_no_seed_follows_manual_seed():
    x, y = _data(50)
    gc.manual_seed(7)
    first = _labels(DataLoader(x, y, batch_size=8, shuffle=True, device="cpu"))
    gc.manual_seed(7)
    assert _labels(DataLoader(x, y, batch_size=8, shuffle=True, device="cpu")) == first


@pytest.mark.parametrize("stop_after", [0, 1, 3, 7, 8])
def test_resume_gives_the_same_batches(stop_after):
    """Stop after some batches of epoch 2, checkpoint, restore into a fresh loader: the rest of
    the run is what an uninterrupted run would have produced."""
    x, y = _data(30)

    def make(seed):
        return DataLoader(x, y, batch_size=4, shuffle=True, seed=seed, device="cpu")

    reference = make(0)
    full = [_labels(reference) for _ in range(4)]

    run = make(0)
    _labels(run)  # epoch 1
    it = iter(run)
    got = [next(it)[1].tolist() for _ in range(stop_after)]
    state = run.state_dict()

    resumed = make(99)  # a different seed: everything must come from the state
    resumed.load_state_dict(state)
    if stop_after < len(resumed):
        got += _labels(resumed)  # the rest of epoch 2
    assert got == full[1]
    assert [_labels(resumed) for _ in range(2)] == full[2:]
    assert resumed.epoch == 4


def test_resume_without_shuffle_skips_the_done_batches():
    x, y = _data(10)
    run = DataLoader(x, y, batch_size=3, device="cpu")
    it = iter(run)
    next(it)
    fresh = DataLoader(x, y, batch_size=3, device="cpu")
    fresh.load_state_dict(run.state_dict())
    assert _labels(fresh) == [[3, 4, 5], [6, 7, 8], [9]]
    assert _labels(fresh)[0] == [0, 1, 2]


def test_abandoned_iterator_does_not_move_the_position():
    x, y = _data(10)
    loader = DataLoader(x, y, batch_size=2, shuffle=True, seed=0, device="cpu")
    old = iter(loader)
    new = iter(loader)
    next(new)
    next(old)
    next(old)
    assert loader.state_dict()["batch"] == 1


def test_load_state_dict_validates():
    loader = DataLoader(*_data(), batch_size=2, device="cpu")
    with pytest.raises(ValueError, match="invalid state"):
        loader.load_state_dict({"epoch": 1})
    bad = loader.state_dict()
    bad["batch"] = 99
    with pytest.raises(ValueError, match="batch 99"):
        loader.load_state_dict(bad)


def test_batches_are_fresh_arrays():
    x, y = _data()
    for shuffle in (False, True):
        for xb, _ in DataLoader(x, y, batch_size=4, shuffle=shuffle, device="cpu"):
            xb.array[...] = 0
    numpy.testing.assert_array_equal(x, _data()[0])


def test_tensors_and_lists_are_accepted(device):
    x = gc.tensor(numpy.ones((4, 2), numpy.float32), device=device)
    loader = DataLoader(x, [0, 1, 2, 3], batch_size=2, device=device)
    xb, yb = next(iter(loader))
    assert xb.dtype == numpy.float32 and yb.tolist() == [0, 1]


@pytest.mark.parametrize("arrays, kwargs, match", [
    ((numpy.zeros((4, 2)), numpy.zeros(5)), {}, r"same length.*\(4, 2\).*\(5,\)"),
    ((numpy.zeros((0, 3)), numpy.zeros(0)), {}, r"empty.*\(0, 3\)"),
    ((numpy.zeros(4),), {"batch_size": 0}, r"batch_size.*\(4,\)"),
    ((numpy.zeros(4),), {"batch_size": -2}, "batch_size"),
    ((numpy.zeros(4),), {"batch_size": 1.5}, "batch_size"),
    ((numpy.zeros(4),), {"batch_size": True}, "batch_size"),
    ((numpy.zeros(4),), {"batch_size": 8, "drop_last": True}, "no batch"),
    ((numpy.zeros(4),), {"resident": "yes"}, "resident"),
    ((numpy.float32(1.0),), {}, "first"),
    ((), {}, "at least one"),
])
def test_invalid_arguments(arrays, kwargs, match):
    with pytest.raises(ValueError, match="DataLoader") as info:
        DataLoader(*arrays, device="cpu", **kwargs)
    assert info.match(match)


def test_one_transfer_per_array_per_batch(device, monkeypatch):
    """Host path: each array of a batch goes to the device in exactly one copy."""
    x, y = _data(20)
    loader = DataLoader(x, y, batch_size=6, shuffle=True, seed=0, device=device, resident=False)
    assert not loader.resident
    calls = []
    real = backend.to_device
    monkeypatch.setattr(backend, "to_device", lambda a, dev: calls.append(a.shape) or real(a, dev))
    batches = list(loader)
    assert len(calls) == 2 * len(batches)
    assert calls[:2] == [(6, 3), (6,)]  # whole gathered batches, never single rows


def test_resident_gathers_on_the_device(device, monkeypatch):
    x, y = _data(20)
    loader = DataLoader(x, y, batch_size=6, shuffle=True, seed=0, device=device, resident=True)
    assert loader.resident == (device != "cpu")  # on the CPU there is nothing to keep resident
    calls = []
    real = backend.to_device

    def counting(a, dev):  # host-to-device copies only, not the .numpy() reads of the batches
        if dev is not backend.CPU:
            calls.append(a.shape)
        return real(a, dev)
    monkeypatch.setattr(backend, "to_device", counting)
    host = _epoch(DataLoader(x, y, batch_size=6, shuffle=True, seed=0, device="cpu"))
    calls.clear()
    got = _epoch(loader)
    if device != "cpu":
        assert calls == [(20,)]  # only the epoch's order, once; no per-batch transfer
    for (xa, ya), (xb, yb) in zip(host, got):  # same batches as the host path
        numpy.testing.assert_array_equal(xa, xb)
        numpy.testing.assert_array_equal(ya, yb)


@pytest.mark.gpu
def test_auto_resident_on_gpu(device):
    if device == "cpu":
        pytest.skip("resident='auto' only matters on a GPU")
    loader = DataLoader(*_data(), batch_size=4, device=device)
    assert loader.resident  # a few bytes fit easily


def test_repr_and_len():
    loader = DataLoader(*_data(), batch_size=4, device="cpu")
    assert len(loader) == 3 and "10 samples" in repr(loader)


def test_seed_is_checked_and_named():
    with pytest.raises(ValueError, match="^DataLoader: seed must be a non-negative integer"):
        DataLoader(numpy.arange(4), batch_size=2, shuffle=True, seed=-1)
    with pytest.raises(TypeError, match="^DataLoader: seed must be an integer, got 0.5"):
        DataLoader(numpy.arange(4), batch_size=2, shuffle=True, seed=0.5)


def test_generator_fixes_the_shuffle():
    x = numpy.arange(20.0)
    orders = []
    for _ in range(2):
        g = gc.Generator().manual_seed(7)
        loader = gc.data.DataLoader(x, batch_size=5, shuffle=True, generator=g)
        orders.append([b[0].tolist() for b in loader])
    assert orders[0] == orders[1] and orders[0] != [x[i:i + 5].tolist() for i in range(0, 20, 5)]
    with pytest.raises(TypeError, match="DataLoader: give seed or generator, not both"):
        gc.data.DataLoader(x, seed=1, generator=gc.Generator())
