"""DistributedDataParallel: 2 ranks x half a batch train like 1 process on the whole batch;
unused parameters, no_sync, and mismatched models, on 2 MPI ranks (tests/distributed/worker.py);
the 1-process world in this process."""
import numpy
import pytest

import gradcore as gc
import gradcore.distributed as dist
from tests.distributed import mpi


def test_two_ranks_train_like_one_process(tmp_path):
    """50 steps of SGD momentum and of Adam, float64: same losses and parameters up to the
    order of summation (each rank sums half the batch)."""
    mpi.check(mpi.run("train", n=2, out=tmp_path / "two.npz"))
    mpi.check(mpi.run("train", n=None, out=tmp_path / "one.npz"))
    one, two = numpy.load(tmp_path / "one.npz"), numpy.load(tmp_path / "two.npz")
    assert sorted(one) == sorted(two) and len(one) == 2 * (1 + 4)
    for key in one:
        numpy.testing.assert_allclose(two[key], one[key], rtol=1e-11, atol=1e-13, err_msg=key)
    assert one["sgd_losses"][-1] < 0.8 * one["sgd_losses"][0]  # it did train


def test_unused_parameters_no_sync_shared_buffers_and_mismatch_on_two_ranks():
    out = mpi.check(mpi.run("unused,accumulate,loose,buffers,mismatch"))
    for rank in (0, 1):  # both ranks refuse the mismatched models, naming rank 1
        assert (f"rank {rank} refused: DistributedDataParallel: rank 1's model differs from "
                f"rank 0's: rank 0 has 'weight' of shape (2, 3)") in out.stdout
        assert "rank 1 has 'weight' of shape (3, 3)" in out.stdout


@pytest.fixture
def alone(monkeypatch):
    monkeypatch.setattr(dist, "_world", None)
    dist.init()


def test_one_process_ddp_is_the_plain_model(alone):
    gc.manual_seed(0)
    net = gc.nn.MLP([3, 4, 2])
    before = [p.numpy().copy() for p in net.parameters()]
    ddp = gc.nn.parallel.DistributedDataParallel(net)
    assert ddp.module is net and [p.numpy().tolist() for p in net.parameters()] == \
        [b.tolist() for b in before]
    assert list(ddp.parameters()) == list(net.parameters())
    assert list(ddp.state_dict()) == [f"module.{k}" for k in net.state_dict()]
    x = gc.randn(5, 3)
    assert numpy.array_equal(ddp(x).numpy(), net(x).numpy())
    opt = gc.optim.SGD(ddp.parameters(), lr=0.1)
    assert opt.param_groups[0]["_packs"][0] is net.parameters().__next__()._pack  # reused
    ddp(x).sum().backward()
    grads = [p.grad.numpy().copy() for p in net.parameters()]
    ddp.step(opt)
    for p, b, g in zip(net.parameters(), before, grads):
        numpy.testing.assert_allclose(p.numpy(), b - 0.1 * g, rtol=1e-6)


def test_wrapping_a_non_module_is_refused(alone):
    with pytest.raises(TypeError, match="expected a gradcore Module, got list"):
        gc.nn.DistributedDataParallel([gc.nn.Linear(1, 1)])


def test_a_step_without_averaging_is_refused_at_the_next_forward(alone):
    """opt.step() instead of ddp.step(opt) would let the ranks drift apart silently."""
    ddp = gc.nn.DistributedDataParallel(gc.nn.Linear(2, 1))
    opt = gc.optim.SGD(ddp.parameters(), lr=0.1)
    x = gc.ones(1, 2)
    for _ in range(2):  # the right way, with an evaluation forward in between
        ddp(x).sum().backward()
        ddp.step(opt)
        with gc.no_grad():
            ddp(x)
    ddp(x).sum().backward()
    opt.step()  # forgot the averaging
    with pytest.raises(RuntimeError, match=r"changed since the last forward .* ddp.step"):
        ddp(x)
    with ddp.no_sync():  # local steps inside no_sync are the user's choice
        ddp(x)
        opt.step()
        ddp(x)
