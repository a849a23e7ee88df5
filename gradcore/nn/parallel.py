"""``DistributedDataParallel``: the same model on every rank, gradients averaged over ranks.

gradcore's backward has no per-parameter hooks, so the averaging is not hidden inside
``backward()`` (as PyTorch's DDP does with autograd hooks): it is one explicit call between
``backward()`` and the optimizer step, :meth:`DistributedDataParallel.step` (or
:meth:`~DistributedDataParallel.sync_gradients` followed by ``optimizer.step()``). The
parameters live in flat buffers (:mod:`gradcore.nn.flat`), so averaging is ONE all-reduce per
flat gradient buffer, plus one tiny all-reduce of a per-parameter mask.
"""
from __future__ import annotations

import contextlib

import numpy

from gradcore import backend, tracing
from gradcore import distributed as dist
from gradcore.nn.flat import pack_parameters
from gradcore.nn.module import Module
from gradcore.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the ranks of :mod:`gradcore.distributed`.

    At construction every rank checks that all ranks hold the same parameters (names, shapes,
    dtypes, device types: a mismatch raises on every rank, naming the first rank that differs,
    before any tensor is exchanged), packs them into flat buffers and copies rank 0's values
    to all, and rank 0's buffers (BatchNorm's running statistics) too. With
    ``broadcast_buffers=True`` (PyTorch's default) rank 0's buffers are broadcast again before
    every forward, so every rank normalizes with the same running statistics.

    Each step: ``loss.backward()``, then ``ddp.step(optimizer)``, which averages the gradients
    over the ranks and steps. A parameter whose ``.grad`` is None on some ranks counts as a zero
    gradient there; one that no rank gave a gradient stays None (the optimizer skips it).
    Inside :meth:`no_sync`, the averaging is skipped, to accumulate gradients locally.
    A forward that finds the parameters changed since the previous forward with no averaging in
    between (``optimizer.step()`` called instead of ``ddp.step(optimizer)``) raises.

    Build the optimizer on ``ddp.parameters()`` after wrapping, so it reuses the flat buffers.

    >>> import gradcore as gc, gradcore.distributed as dist
    >>> dist.init()
    >>> ddp = gc.nn.DistributedDataParallel(gc.nn.Linear(3, 1))
    >>> opt = gc.optim.SGD(ddp.parameters(), lr=0.1)
    >>> ddp(gc.ones(2, 3)).sum().backward()
    >>> ddp.step(opt)          # average the gradients over the ranks, then opt.step()
    >>> ddp.module.bias.grad.tolist()
    [2.0]
    """

    def __init__(self, module, broadcast_buffers=True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a gradcore Module, got "
                            f"{type(module).__name__}")
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: call gradcore.distributed.init() first")
        self.module = module
        object.__setattr__(self, "_broadcast_buffers", bool(broadcast_buffers))
        object.__setattr__(self, "_sync", True)
        # parameter versions at the last forward that no sync has followed yet (see forward)
        object.__setattr__(self, "_unsynced", None)
        params = list(module.parameters())
        _check_same_everywhere(module)
        for pack in pack_parameters(params):
            dist.broadcast(Tensor._make(pack.data, pack.device, False, None, 0), src=0)
            pack.bump_versions()
        self._sync_buffers()

    def _sync_buffers(self):
        """Rank 0's buffers to every rank (one broadcast per buffer; none without buffers)."""
        for b in self.module.buffers():
            dist.broadcast(b, src=0)

    def forward(self, *args, **kwargs):
        # A step taken without averaging (opt.step() instead of ddp.step(opt)) lets the ranks
        # drift apart silently. It shows as parameters that changed between two forwards with
        # no sync between them: refuse that (outside no_sync, where local steps are the user's).
        if self._sync:
            versions = tuple(p._version for p in self.module.parameters())
            if self._unsynced is not None and versions != self._unsynced:
                raise RuntimeError("DistributedDataParallel: the parameters changed since the "
                                   "last forward with no gradient averaging in between, so the "
                                   "ranks have drifted apart; step with ddp.step(optimizer) "
                                   "(or ddp.sync_gradients() before optimizer.step())")
            object.__setattr__(self, "_unsynced", versions)
        if self._broadcast_buffers:
            self._sync_buffers()
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Within this context :meth:`sync_gradients` (and so :meth:`step`'s averaging) does
        nothing: gradients accumulate locally, and are averaged at the first sync after it."""
        previous = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", previous)

    def sync_gradients(self):
        """Average every parameter's gradient over the ranks, in place (a collective: every
        rank must call it). One all-reduce per flat gradient buffer."""
        if not self._sync:
            return
        object.__setattr__(self, "_unsynced", None)
        if dist.get_world_size() == 1:
            return
        # under gc.compile the exchange is host work that each replay must redo (like the
        # optimizer step): a traced copy of it would replay last step's average
        tracing.host_call(self._all_reduce_gradients)

    def _all_reduce_gradients(self):
        params = list(self.module.parameters())
        own = {id(p) for p in params}
        packs, loose = {}, []
        for p in params:
            pack = p._pack
            if pack is not None and all(id(q) in own for q in pack.params):
                packs[id(pack)] = pack
            else:  # not packed, or packed with parameters of another model
                loose.append(p)
        for pack in packs.values():
            if not pack.intact():  # .grad rebound by user code: copy it into the buffer first
                pack.sync()
            has = pack.has_grad()
            for slot, h in enumerate(has):
                if not h:
                    pack.grad_view(slot).fill(0)
            anywhere = _average(pack.grad, pack.device, has)
            for slot, n in enumerate(anywhere):
                if n:
                    pack.store_grad(slot, pack.grad_view(slot))
        groups = {}
        for p in loose:
            groups.setdefault((p.device, p.dtype), []).append(p)
        for (device, dtype), members in groups.items():
            _average_loose(members, device, dtype)

    def step(self, optimizer):
        """:meth:`sync_gradients`, then ``optimizer.step()``."""
        self.sync_gradients()
        optimizer.step()

    def extra_repr(self):
        return f"world_size={dist.get_world_size()}"


def _average(flat, device, has):
    """All-reduce ``flat`` (zeros where a parameter has no gradient) to its mean over the ranks;
    returns, per parameter, how many ranks had a gradient. Every rank takes the same branches
    (they depend only on the all-reduced mask), so no rank waits for a collective that another
    skips."""
    # on the gradients' device, so it takes their backend (init(backend="nccl") refuses CPU)
    mask = Tensor._make(backend.to_device(numpy.array(has, numpy.int32), device), device, False, None, 0)
    dist.all_reduce(mask, op="sum")
    counts = mask.array.tolist()
    if any(counts):
        dist.all_reduce(Tensor._make(flat, device, False, None, 0), op="mean")
    return counts


def _average_loose(params, device, dtype):
    """:func:`_average` for parameters outside a flat buffer of this model: gathered into one
    temporary buffer, so it is still one all-reduce."""
    xp = device.xp
    flat = xp.concatenate([xp.zeros(p.size, dtype) if p.grad is None else p.grad.array.reshape(-1)
                           for p in params])
    counts = _average(flat, device, [p.grad is not None for p in params])
    offset = 0
    for p, n in zip(params, counts):
        part = flat[offset:offset + p.size].reshape(p.shape)
        offset += p.size
        if not n:
            continue
        if p.grad is None:
            p.grad = Tensor._make(part, device, False, None, 0)
        else:
            p.grad.array[...] = part
            p.grad._version += 1


def _check_same_everywhere(module):
    """Raise on every rank if any rank's parameters differ from rank 0's (the mismatch would
    otherwise corrupt or hang the first collective)."""
    mine = [(name, tuple(p.shape), str(p.dtype), p.device.type)
            for name, p in module.named_parameters()]
    everyone = dist.all_gather_object(mine)
    for rank, theirs in enumerate(everyone):
        if theirs == everyone[0]:
            continue
        diff = next((i for i, (a, b) in enumerate(zip(everyone[0], theirs)) if a != b), None)
        if diff is None:
            detail = f"{len(theirs)} parameters on rank {rank}, {len(everyone[0])} on rank 0"
        else:
            detail = f"rank 0 has {_describe(everyone[0][diff])}, rank {rank} has {_describe(theirs[diff])}"
        raise ValueError(f"DistributedDataParallel: rank {rank}'s model differs from rank 0's: "
                         f"{detail}. Every rank must build the same model")


def _describe(entry):
    name, shape, dtype, device = entry
    return f"{name!r} of shape {shape}, dtype {dtype} on {device}"
