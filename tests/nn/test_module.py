"""Module: registration, traversal, train/eval, state dicts, device moves, flat buffers."""
import numpy as np
import pytest

import gradcore as gc


class Tiny(gc.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = gc.nn.Parameter(gc.ones(2))
        self.body = gc.nn.Sequential(gc.nn.Linear(2, 3), gc.nn.ReLU())

    def forward(self, x):
        return self.body(x * self.scale)


def test_registration_and_traversal():
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "body", "body.0", "body.1"]
    assert len(list(m.parameters())) == 3
    m.eval()
    assert not m.training and not m.body.training
    m.train()
    assert m.body[1].training
    del m.scale
    assert [n for n, _ in m.named_parameters()] == ["body.0.weight", "body.0.bias"]


def test_shared_parameter_listed_once():
    lin = gc.nn.Linear(2, 2)
    seq = gc.nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_state_dict_round_trip_and_strict_errors():
    a, b = Tiny(), Tiny()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    before = [p.numpy().copy() for p in b.parameters()]
    bad = dict(a.state_dict())
    bad["body.0.weight"] = gc.zeros(4, 4)
    with pytest.raises(ValueError, match="body.0.weight"):
        b.load_state_dict(bad)
    missing = dict(a.state_dict())
    missing.pop("scale")
    missing["extra"] = gc.zeros(1)
    with pytest.raises(KeyError, match="scale"):
        b.load_state_dict(missing)
    for p, old in zip(b.parameters(), before):  # a failed load changes nothing
        np.testing.assert_array_equal(p.numpy(), old)
    assert b.load_state_dict(missing, strict=False) == (["scale"], ["extra"])


def test_flat_buffer_views_survive_load_state_dict_and_steps():
    net = gc.nn.MLP([3, 4, 2])
    opt = gc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    pack = next(iter(net.parameters()))._pack
    assert all(p._pack is pack for p in net.parameters())
    assert all(p.array.base is pack.data or p.array.base is pack.data.base for p in net.parameters())
    other = gc.nn.MLP([3, 4, 2])
    net.load_state_dict(other.state_dict())
    assert pack.intact()
    np.testing.assert_array_equal(pack.data[:12].reshape(4, 3), other[0].weight.numpy())
    x = gc.randn(5, 3)
    net(x).sum().backward()
    g = [p.grad.numpy().copy() for p in net.parameters()]
    np.testing.assert_array_equal(pack.grad, np.concatenate([a.ravel() for a in g]))
    opt.step()
    assert pack.intact()
    opt.zero_grad(set_to_none=False)  # one fill of the flat buffer; grads stay views
    assert pack.intact()
    assert not pack.grad.any() and all(not p.grad.numpy().any() for p in net.parameters())
    opt.zero_grad()  # PyTorch's default: set to None; the next backward copies into the views
    assert all(p.grad is None for p in net.parameters())
    net(x).sum().backward()
    assert pack.intact()
    np.testing.assert_array_equal(pack.grad, np.concatenate([p.grad.numpy().ravel() for p in net.parameters()]))


def test_unused_parameter_after_set_to_none_is_left_alone():
    """As in PyTorch: a .grad of None (set_to_none, then no part in the loss) means no update,
    even with momentum left over from the step before; the .grad stays None."""
    a, b = gc.nn.Parameter(gc.ones(2)), gc.nn.Parameter(gc.ones(3))
    opt = gc.optim.SGD([a, b], lr=0.5, momentum=0.9)
    (a * a).sum().backward()
    (b * b).sum().backward()
    opt.step()  # a = b = 1 - 0.5 * 2 = 0; both have momentum buffers of 2
    opt.zero_grad()
    (a * 3).sum().backward()  # b takes no part: its gradient stays None
    assert b.grad is None
    opt.step()
    np.testing.assert_allclose(a.numpy(), [-0.5 * (0.9 * 2 + 3)] * 2, rtol=1e-6)
    np.testing.assert_array_equal(b.numpy(), [0, 0, 0])
    assert b.grad is None and b._pack.intact()


def test_flat_buffer_behaves_like_separate_parameters():
    """One SGD run with packed parameters equals the same run done by hand, parameter by parameter."""
    gc.manual_seed(3)
    net = gc.nn.MLP([3, 5, 2], activation="tanh")
    ref = [p.numpy().astype(np.float64).copy() for p in net.parameters()]
    bufs = [np.zeros_like(r) for r in ref]
    opt = gc.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    x, y = gc.randn(8, 3), gc.tensor(np.arange(8) % 2)
    for step in range(3):
        opt.zero_grad()
        loss = gc.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        grads = [p.grad.numpy().astype(np.float64) for p in net.parameters()]
        for r, b, g in zip(ref, bufs, grads):
            d = g + 1e-3 * r
            b[...] = d if step == 0 else 0.9 * b + d
            r -= 0.05 * b
        opt.step()
        for r, p in zip(ref, net.parameters()):
            np.testing.assert_allclose(p.numpy(), r, rtol=1e-5, atol=1e-6)
        # after the reference moved, re-sync it to float32 rounding
        ref = [p.numpy().astype(np.float64).copy() for p in net.parameters()]


def test_rebound_data_or_grad_is_synced_back():
    net = gc.nn.Linear(2, 2)
    opt = gc.optim.SGD(net.parameters(), lr=1.0)
    net.weight.array = np.full((2, 2), 3.0, np.float32)  # user code rebinds
    net.weight.grad = gc.ones(2, 2)
    opt.step()
    assert net.weight._pack.intact()
    np.testing.assert_array_equal(net.weight.numpy(), np.full((2, 2), 2.0))


def test_module_to_cpu_and_dtype():
    net = gc.nn.MLP([2, 3, 1])
    opt = gc.optim.SGD(net.parameters(), lr=0.1)
    assert net.to("cpu") is net
    assert net[0].weight._pack.intact()
    net.to(dtype="float64")
    assert all(p.dtype == np.float64 for p in net.parameters())
    net(gc.ones((1, 2), dtype="float64")).sum().backward()
    opt2 = gc.optim.SGD(net.parameters(), lr=0.1)
    opt2.step()
    assert net[0].weight._pack.dtype == np.float64
    del opt


@pytest.mark.gpu
def test_module_to_cuda_keeps_views():
    if not gc.cuda.is_available():
        pytest.skip(gc.cuda.unavailable_reason())
    net = gc.nn.MLP([3, 4, 2])
    opt = gc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.to("cuda")
    pack = net[0].weight._pack
    assert pack.intact() and str(pack.device) == "cuda:0"
    net(gc.ones((2, 3), device="cuda")).sum().backward()
    opt.step()
    assert pack.intact()


def test_buffers_registered_saved_moved_and_not_trained():
    m = gc.nn.Module()
    m.register_buffer("count", gc.zeros((), dtype="int64"))
    m.register_buffer("avg", gc.zeros(2))
    m.register_buffer("unused", None)
    assert list(m.state_dict()) == ["count", "avg"] and list(m.parameters()) == []
    assert [n for n, _ in m.named_buffers()] == ["count", "avg"]
    m.to(dtype="float64")
    assert m.avg.dtype == np.float64 and m.count.dtype == np.int64  # only floats are cast
    m.avg = gc.ones(2, dtype="float64")  # assignment replaces the buffer
    assert m.state_dict()["avg"].tolist() == [1.0, 1.0]
    m.load_state_dict({"count": gc.tensor(3), "avg": gc.tensor([2.0, 5.0])})
    assert m.count.item() == 3 and m.avg.tolist() == [2.0, 5.0]
    with pytest.raises(TypeError, match="buffer 'avg' must be a Tensor or None"):
        m.avg = [1.0, 2.0]
    with pytest.raises(KeyError, match="register_buffer: name must be a non-empty string without '.'"):
        m.register_buffer("a.b", gc.zeros(1))
    m.w = gc.nn.Parameter(gc.zeros(1))
    with pytest.raises(KeyError, match="'w' is already a parameter or module"):
        m.register_buffer("w", gc.zeros(1))
    del m.avg
    assert list(m.state_dict()) == ["w", "count"]  # a module's parameters, then its buffers


def test_buffers_follow_the_module_to_the_device(device):
    bn = gc.nn.BatchNorm1d(2).to(device)
    assert all(b.device == gc.device(device) for b in bn.buffers())
    bn(gc.randn(4, 2, device=device))
    assert bn.running_mean.device == gc.device(device)
