"""``DistributedSampler``: each rank's share of the sample indices, disjoint across ranks.

The rules are PyTorch's: one permutation per epoch drawn from ``seed + epoch`` (the same on
every rank, with no communication), padded by repeating its start so every rank gets the same
number of samples (or trimmed, with ``drop_last``), then dealt round-robin: rank r takes
positions r, r + R, r + 2R, ... Equal shares matter: a rank with one batch more would wait
forever in an all-reduce the others never join.
"""
from __future__ import annotations

import math

import numpy

from gradcore import checks
from gradcore import distributed as dist

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Indices of this rank's shard of ``n`` samples; call :meth:`set_epoch` every epoch.

    ``num_replicas`` and ``rank`` default to :mod:`gradcore.distributed`'s world (``init()``
    first). Iterating gives the indices; :meth:`shard` indexes arrays with them, ready for a
    :class:`~gradcore.data.DataLoader` (one per epoch, ``shuffle=False``: the sampler shuffled).

    >>> import numpy, gradcore as gc
    >>> s0 = gc.data.DistributedSampler(5, num_replicas=2, rank=0, shuffle=False)
    >>> s1 = gc.data.DistributedSampler(5, num_replicas=2, rank=1, shuffle=False)
    >>> list(s0), list(s1)      # padded with sample 0 so both ranks get 3
    ([0, 2, 4], [1, 3, 0])
    >>> x = numpy.arange(10.0).reshape(5, 2)
    >>> (xs,) = s1.shard(x); xs.tolist()
    [[2.0, 3.0], [6.0, 7.0], [0.0, 1.0]]
    """

    def __init__(self, n, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if not checks.is_integer(n) or n <= 0:
            raise ValueError(f"DistributedSampler: n (the number of samples) must be a positive "
                             f"int, got {n!r}")
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        if not checks.is_integer(num_replicas) or num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got "
                             f"{num_replicas!r}")
        if not checks.is_integer(rank) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0..{num_replicas - 1}, got "
                             f"{rank!r}")
        if drop_last and n < num_replicas:
            raise ValueError(f"DistributedSampler: drop_last=True with {n} samples for "
                             f"{num_replicas} ranks leaves every rank empty")
        self.n, self.num_replicas, self.rank = int(n), int(num_replicas), int(rank)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.seed = checks.seed(seed, "DistributedSampler")
        self.epoch = 0
        # per rank: floor when dropping the tail, ceil when padding
        self.num_samples = (self.n // self.num_replicas if self.drop_last
                            else math.ceil(self.n / self.num_replicas))
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use epoch ``epoch``'s permutation (call before each epoch, the same on every rank)."""
        if not checks.is_integer(epoch) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be an int >= 0, got "
                             f"{epoch!r}")
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array."""
        if self.shuffle:
            order = numpy.random.default_rng(self.seed + self.epoch).permutation(self.n)
        else:
            order = numpy.arange(self.n)
        if self.total_size > self.n:  # pad by repeating the start (more than once if needed)
            order = numpy.resize(order, self.total_size)
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def shard(self, *arrays):
        """``arrays`` (NumPy, same first dimension ``n``) indexed by this epoch's indices."""
        for a in arrays:
            if len(a) != self.n:
                raise ValueError(f"DistributedSampler.shard: the sampler has n={self.n} but an "
                                 f"array has shape {tuple(a.shape)}")
        rows = self.indices()
        return tuple(numpy.asarray(a)[rows] for a in arrays)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last})")
