"""LayerNorm and BatchNorm1d: NumPy references, running statistics and buffers, gradients in
float64 (first and second order), PyTorch parity where installed."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import functional as F
from tests.helpers import gradcheck2, randn


def _ln_ref(a, k, w=None, b=None, eps=1e-5):
    axes = tuple(range(a.ndim - k, a.ndim))
    y = (a - a.mean(axes, keepdims=True)) / np.sqrt(a.var(axes, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def test_layer_norm_values_and_gradients(device):
    x, w, b = randn((2, 3, 4), device, 0), randn((3, 4), device, 1), randn((3, 4), device, 2)
    np.testing.assert_allclose(F.layer_norm(x, (3, 4), w, b).numpy(),
                               _ln_ref(x.numpy(), 2, w.numpy(), b.numpy()), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.layer_norm(x, 4).numpy(), _ln_ref(x.numpy(), 1), rtol=1e-10, atol=1e-12)
    f = lambda x, w, b: F.layer_norm(x, (4,), w[0], b[0])  # noqa: E731
    assert gc.gradcheck(f, (x, w, b))
    assert gradcheck2(f, (x, w, b), atol=1e-5)


def test_layer_norm_module_and_errors(device):
    ln = gc.nn.LayerNorm((3, 4), device=device)
    assert ln.weight.numpy().tolist() == np.ones((3, 4)).tolist() and ln.bias.shape == (3, 4)
    assert gc.nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert gc.nn.LayerNorm(4, bias=False).bias is None
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(3,\) must be the trailing"):
        F.layer_norm(gc.zeros((2, 4), device=device), 3)
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\), expected \(4,\)"):
        F.layer_norm(gc.zeros((2, 4), device=device), 4, gc.ones(3, device=device))


def test_layer_norm_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((5, 6)) * 3 + 1
    w, b = np.random.default_rng(1).standard_normal((2, 6))
    ta, tw, tb = (torch.tensor(v, requires_grad=True) for v in (a, w, b))
    torch.nn.functional.layer_norm(ta, (6,), tw, tb).pow(3).sum().backward()
    ga, gw, gb = (gc.tensor(v, requires_grad=True) for v in (a, w, b))
    (F.layer_norm(ga, (6,), gw, gb) ** 3).sum().backward()
    for g, t in ((ga, ta), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def _bn_reference(batches, momentum, eps=1e-5, c=3):
    """Running statistics and outputs as PyTorch defines them, in plain NumPy."""
    rm, rv, outs = np.zeros(c), np.ones(c), []
    for k, a in enumerate(batches, start=1):
        axes = (0,) if a.ndim == 2 else (0, 2)
        shape = (1, c) if a.ndim == 2 else (1, c, 1)
        n = a.size // c
        mu, var = a.mean(axes), a.var(axes)
        outs.append((a - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps))
        m = 1 / k if momentum is None else momentum
        rm = (1 - m) * rm + m * mu
        rv = (1 - m) * rv + m * var * n / (n - 1)
    return rm, rv, outs


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batch_norm_running_stats(momentum, shape, device):
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal(shape) * (i + 1) + i for i in range(3)]
    bn = gc.nn.BatchNorm1d(3, momentum=momentum, dtype="float64", device=device)
    outs = [bn(gc.tensor(a, device=device)).numpy() for a in batches]
    rm, rv, ref_outs = _bn_reference(batches, momentum)
    for y, r in zip(outs, ref_outs):
        np.testing.assert_allclose(y, r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3 and bn.num_batches_tracked.dtype == np.int64
    bn.eval()  # evaluation: running statistics, and they stay put
    a = rng.standard_normal(shape)
    c = (1, 3) if len(shape) == 2 else (1, 3, 1)
    ref = (a - rm.reshape(c)) / np.sqrt(rv.reshape(c) + 1e-5)
    np.testing.assert_allclose(bn(gc.tensor(a, device=device)).numpy(), ref, rtol=1e-10, atol=1e-12)
    assert bn.num_batches_tracked.item() == 3


def test_batch_norm_gradients(device):
    x, w, b = randn((6, 3), device, 0), randn((3,), device, 1), randn((3,), device, 2)
    rm, rv = gc.zeros(3, dtype="float64", device=device), gc.ones(3, dtype="float64", device=device)
    train = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    assert gc.gradcheck(train, (x, w, b))
    assert gradcheck2(train, (x, w, b), atol=1e-5)
    x3 = randn((2, 3, 4), device, 3)
    assert gc.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x3,))
    assert gc.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b), (x, w, b))  # eval mode


def test_batch_norm_buffers_state_dict_and_to(device):
    net = gc.nn.Sequential(gc.nn.Linear(2, 3), gc.nn.BatchNorm1d(3)).to(device)
    keys = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
            "1.num_batches_tracked"]
    assert list(net.state_dict()) == keys
    assert [n for n, _ in net.named_parameters()] == keys[:4]
    net(gc.randn(5, 2, device=device))
    other = gc.nn.Sequential(gc.nn.Linear(2, 3), gc.nn.BatchNorm1d(3)).to(device)
    other.load_state_dict(net.state_dict())
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), net.state_dict()[k].numpy())
    assert other[1].num_batches_tracked.item() == 1
    net.to(dtype="float64")
    assert net[1].running_mean.dtype == np.float64 and net[1].num_batches_tracked.dtype == np.int64
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict({k: v for k, v in net.state_dict().items() if "running" not in k})


def test_batch_norm_options_and_errors(device):
    bn = gc.nn.BatchNorm1d(2, affine=False, track_running_stats=False, device=device)
    assert bn.weight is None and bn.running_mean is None and list(bn.state_dict()) == []
    a = np.array([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(bn.eval()(gc.tensor(a, device=device)).numpy(),
                               [[-1, -1], [1, 1]], rtol=1e-4)  # no running stats: batch stats
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        gc.nn.BatchNorm1d(2, device=device)(gc.ones((1, 2), device=device))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input \(N, 2\)"):
        gc.nn.BatchNorm1d(2, device=device)(gc.ones((4, 3), device=device))
    with pytest.raises(ValueError, match="momentum"):
        gc.nn.BatchNorm1d(2, momentum=2)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_matches_torch(momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    tb = torch.nn.BatchNorm1d(3, momentum=momentum).double()
    gb = gc.nn.BatchNorm1d(3, momentum=momentum, dtype="float64")
    for _ in range(3):
        a = rng.standard_normal((6, 3, 2)) * 2 + 1
        ta, ga = torch.tensor(a, requires_grad=True), gc.tensor(a, requires_grad=True)
        tb(ta).pow(3).sum().backward()
        (gb(ga) ** 3).sum().backward()
        np.testing.assert_allclose(ga.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-10)
    for k, v in tb.state_dict().items():
        np.testing.assert_allclose(gb.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)
    a = rng.standard_normal((4, 3, 2))
    np.testing.assert_allclose(gb.eval()(gc.tensor(a)).numpy(),
                               tb.eval()(torch.tensor(a)).detach().numpy(), rtol=1e-12)
