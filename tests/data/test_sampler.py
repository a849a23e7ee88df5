"""DistributedSampler: PyTorch's sharding rules (disjoint, covering, padded or trimmed to equal
shares, seeded, epoch-dependent)."""
import numpy
import pytest

import gradcore as gc


def _shards(n, world, **kw):
    return [gc.data.DistributedSampler(n, num_replicas=world, rank=r, **kw) for r in range(world)]


@pytest.mark.parametrize("n,world", [(10, 2), (11, 2), (7, 3), (2, 5), (12, 4)])
def test_shards_are_equal_disjoint_and_cover(n, world):
    for epoch in (0, 3):
        samplers = _shards(n, world, seed=5)
        for s in samplers:
            s.set_epoch(epoch)
        parts = [list(s) for s in samplers]
        size = -(-n // world)
        assert all(len(p) == size == len(s) for p, s in zip(parts, samplers))
        flat = sum(parts, [])
        assert set(flat) == set(range(n))  # every sample is seen
        if n % world == 0:
            assert len(set(flat)) == n  # disjoint: no sample twice
        else:  # padding repeats the permutation's start, as PyTorch
            assert len(flat) - len(set(flat)) == size * world - n


def test_drop_last_trims_to_disjoint_equal_shares():
    parts = [list(s) for s in _shards(11, 3, drop_last=True)]
    assert [len(p) for p in parts] == [3, 3, 3]
    flat = sum(parts, [])
    assert len(set(flat)) == 9


def test_epochs_and_seeds_change_the_order_and_are_reproducible():
    a = gc.data.DistributedSampler(100, num_replicas=2, rank=0, seed=1)
    first = list(a)
    a.set_epoch(1)
    second = list(a)
    assert first != second
    a.set_epoch(0)
    assert list(a) == first  # the order depends on (seed, epoch) only
    assert list(gc.data.DistributedSampler(100, num_replicas=2, rank=0, seed=2)) != first
    assert list(gc.data.DistributedSampler(5, num_replicas=1, rank=0, shuffle=False)) == [0, 1, 2, 3, 4]


def test_shard_feeds_a_dataloader():
    x, y = numpy.arange(20.0).reshape(10, 2), numpy.arange(10)
    s = gc.data.DistributedSampler(10, num_replicas=2, rank=1, seed=0)
    s.set_epoch(2)
    xs, ys = s.shard(x, y)
    assert ys.tolist() == s.indices().tolist() and numpy.array_equal(xs, x[s.indices()])
    loader = gc.data.DataLoader(xs, ys, batch_size=2, device="cpu")
    assert sum(len(b) for _, b in loader) == 5
    with pytest.raises(ValueError, match=r"sampler has n=10 but an array has shape \(9,\)"):
        s.shard(numpy.arange(9))


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank must be in 0..1, got 2"):
        gc.data.DistributedSampler(4, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="n .* must be a positive int, got 0"):
        gc.data.DistributedSampler(0, num_replicas=1, rank=0)
    with pytest.raises(ValueError, match="leaves every rank empty"):
        gc.data.DistributedSampler(1, num_replicas=2, rank=0, drop_last=True)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        gc.data.DistributedSampler(4, num_replicas=1, rank=0).set_epoch(-1)
