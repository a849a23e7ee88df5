"""The program the MPI tests launch: ``mpiexec -n N python worker.py MODE [OUT]``, or plain
``python worker.py MODE [OUT]`` for the 1-process reference. Each mode checks its results with
asserts on every rank; an assert that fails aborts the job through gradcore's abort hook."""
import os
import sys

import numpy

import gradcore as gc
import gradcore.distributed as dist

STEPS, BATCH = 50, 16


def _model(seed):
    gc.manual_seed(seed)
    return gc.nn.MLP([5, 8, 3], activation="tanh", dtype="float64")


def train(out):
    """50 steps of SGD momentum and of Adam, each rank on its slice of every global batch; rank 0
    saves the mean loss per step and the final parameters."""
    rng = numpy.random.default_rng(7)
    x = rng.normal(size=(STEPS, BATCH, 5))
    y = numpy.tanh(x @ rng.normal(size=(5, 3)))  # learnable, so the loss falls
    rank, world = dist.get_rank(), dist.get_world_size()
    rows = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    results = {}
    for name, make in [("sgd", lambda p: gc.optim.SGD(p, lr=0.05, momentum=0.9)),
                       ("adam", lambda p: gc.optim.Adam(p, lr=0.01))]:
        # a different seed per rank: the construction must broadcast rank 0's values
        ddp = gc.nn.DistributedDataParallel(_model(seed=100 + rank))
        opt = make(ddp.parameters())
        losses = []
        for step in range(STEPS):
            opt.zero_grad()
            loss = gc.nn.functional.mse_loss(ddp(gc.tensor(x[step, rows])), gc.tensor(y[step, rows]))
            loss.backward()
            ddp.step(opt)
            losses.append(dist.all_reduce(loss.detach(), op="mean").item())
        results[f"{name}_losses"] = numpy.array(losses)
        for pname, p in ddp.module.named_parameters():
            results[f"{name}_{pname}"] = p.numpy()
    if rank == 0:
        numpy.savez(out, **results)


def collectives(_out):
    rank, world = dist.get_rank(), dist.get_world_size()
    for op, expect in [("sum", sum(range(1, world + 1))), ("mean", (world + 1) / 2),
                       ("max", world), ("min", 1)]:
        t = gc.full((2, 3), rank + 1.0, dtype="float64")
        v = t._version
        assert dist.all_reduce(t, op=op) is t and t._version == v + 1
        assert numpy.array_equal(t.numpy(), numpy.full((2, 3), float(expect))), (op, t)
    # a non-contiguous view is reduced through a contiguous copy and written back
    base = gc.zeros((3, 4), dtype="float64")
    base.array[:] = rank + 1
    col = gc.Tensor._make(base.array[:, 1], base.device, False, None, 0)
    dist.all_reduce(col)
    assert numpy.array_equal(base.numpy()[:, 1], [3.0] * 3) and (base.numpy()[:, 0] == rank + 1).all()
    t = gc.tensor([rank * 10, rank * 10 + 1], dtype="int64")
    dist.broadcast(t, src=world - 1)
    assert t.tolist() == [(world - 1) * 10, (world - 1) * 10 + 1]
    parts = dist.all_gather(gc.tensor([[rank, -rank]], dtype="float32"))
    assert [p.tolist() for p in parts] == [[[r, -r]] for r in range(world)]
    assert dist.all_gather_object({"rank": rank}) == [{"rank": r} for r in range(world)]
    dist.barrier()
    # sampler: the default world, shards disjoint and covering
    shards = dist.all_gather_object(list(gc.data.DistributedSampler(11, seed=3)))
    assert len({len(s) for s in shards}) == 1 and set(sum(shards, [])) == set(range(11))


def unused(_out):
    """Rank 0 uses ``a`` only, rank 1 ``b`` only; nobody uses ``c``: no hang, ``c`` stays None,
    and ``a``'s gradient is rank 0's divided by the world size (PyTorch's DDP does the same)."""
    rank, world = dist.get_rank(), dist.get_world_size()

    class Three(gc.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = (gc.nn.Parameter(gc.ones(2, dtype="float64")) for _ in range(3))

    model = Three()
    ddp = gc.nn.DistributedDataParallel(model)
    opt = gc.optim.SGD(ddp.parameters(), lr=1.0)
    used = model.a if rank == 0 else model.b
    (used * (rank + 1.0)).sum().backward()
    ddp.step(opt)
    assert model.a.grad.tolist() == [1.0 / world] * 2, model.a.grad
    assert model.b.grad.tolist() == [2.0 / world] * 2, model.b.grad
    assert model.c.grad is None and model.c.tolist() == [1.0, 1.0]  # skipped by the optimizer
    assert model.a.tolist() == [1.0 - 1.0 / world] * 2


def accumulate(_out):
    """Two micro-batches: the first under no_sync (local only), the second synced, equal the
    average over ranks of the per-rank sums."""
    rank, world = dist.get_rank(), dist.get_world_size()
    ddp = gc.nn.DistributedDataParallel(gc.nn.Linear(2, 1, dtype="float64"))
    w = ddp.module.weight
    with ddp.no_sync():
        (ddp(gc.full((1, 2), rank + 1.0, dtype="float64")).sum()).backward()
        ddp.sync_gradients()  # a no-op here
        assert w.grad.tolist() == [[rank + 1.0] * 2]
    (ddp(gc.full((1, 2), 10.0, dtype="float64")).sum()).backward()
    ddp.sync_gradients()
    expect = (sum(r + 1.0 for r in range(world)) + 10.0 * world) / world
    assert w.grad.tolist() == [[expect] * 2], w.grad


def loose(_out):
    """An optimizer that packs the model's parameters together with a parameter of another model:
    the model's gradients are averaged through a temporary buffer, the other one is left alone."""
    rank, world = dist.get_rank(), dist.get_world_size()
    ddp = gc.nn.DistributedDataParallel(gc.nn.Linear(2, 1, dtype="float64"))
    other = gc.nn.Parameter(gc.zeros(3, dtype="float64"))
    opt = gc.optim.SGD([other, *ddp.parameters()], lr=1.0)
    w, b = ddp.module.weight, ddp.module.bias
    assert w._pack is other._pack  # one buffer shared with a foreign parameter
    (ddp(gc.full((1, 2), rank + 1.0, dtype="float64")).sum() + (other * (rank + 1.0)).sum()).backward()
    ddp.sync_gradients()
    mean = sum(r + 1.0 for r in range(world)) / world
    assert w.grad.tolist() == [[mean, mean]] and b.grad.tolist() == [1.0], (w.grad, b.grad)
    assert other.grad.tolist() == [rank + 1.0] * 3  # not ours to average
    opt.step()
    assert w._pack is other._pack and w.grad.array.base is not None  # still views of the buffer


def buffers(_out):
    """BatchNorm's running statistics (buffers) are rank 0's on every rank, at construction and
    before every forward (broadcast_buffers=True, PyTorch's default)."""
    rank = dist.get_rank()
    net = gc.nn.BatchNorm1d(2, dtype="float64") if "dtype" in _bn_args() else gc.nn.BatchNorm1d(2)
    with gc.no_grad():
        net.running_mean.fill_(float(rank + 1))
    ddp = gc.nn.DistributedDataParallel(net)
    assert net.running_mean.tolist() == [1.0, 1.0], net.running_mean
    with gc.no_grad():
        net.running_mean.fill_(float(rank + 5))  # ranks drift (as separate batches would)
    ddp.eval()
    ddp(gc.ones((3, 2), dtype=net.running_mean.dtype))
    assert net.running_mean.tolist() == [5.0, 5.0], net.running_mean


def _bn_args():
    import inspect
    return inspect.signature(gc.nn.BatchNorm1d).parameters


def mismatch(_out):
    rank = dist.get_rank()
    try:
        gc.nn.DistributedDataParallel(gc.nn.Linear(3, 2 + rank))
    except ValueError as e:
        print(f"rank {rank} refused: {e}", flush=True)
        return
    raise AssertionError("mismatched models were not detected")


def fail(_out):
    """Rank 1 raises while rank 0 waits in an all-reduce; the job must end, naming rank 1."""
    if dist.get_rank() == 1:
        raise RuntimeError("worker failure on purpose")
    dist.all_reduce(gc.ones(3))
    raise AssertionError("rank 0 passed an all-reduce that rank 1 never joined")


def die(_out):
    """Rank 1 exits without a word (a crash); rank 0 must not wait forever."""
    if dist.get_rank() == 1:
        os._exit(3)
    dist.all_reduce(gc.ones(3))


if __name__ == "__main__":
    dist.init()
    mode = sys.argv[1]
    for m in mode.split(","):
        globals()[m](sys.argv[2] if len(sys.argv) > 2 else None)
    print(f"rank {dist.get_rank()}: {mode} ok", flush=True)
