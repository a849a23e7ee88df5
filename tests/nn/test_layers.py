"""nn layers: Linear, the fused Linear + activation path, Sequential, MLP, losses."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import functional as F

ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]
SMOOTH = ["gelu", "gelu_tanh", "silu"]  # the rows that keep the pre-activation z + b
UNFUSED = {"gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"), "silu": F.silu}


def _f64(shape, device, seed):
    return gc.tensor(np.random.default_rng(seed).standard_normal(shape), dtype="float64", device=device)


@pytest.mark.parametrize("act", ACTS)
def test_fused_linear_matches_unfused(act, device):
    x, w, b = _f64((5, 4), device, 0), _f64((3, 4), device, 1), _f64((3,), device, 2)
    fused = F.linear(x, w, b, activation=act, negative_slope=0.1)
    z = x @ w.T + b
    ref = {"identity": z, "relu": gc.relu(z), "leaky_relu": gc.leaky_relu(z, 0.1),
           "sigmoid": gc.sigmoid(z), "tanh": gc.tanh(z), **{a: UNFUSED[a](z) for a in SMOOTH}}[act]
    np.testing.assert_allclose(fused.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", ACTS)
def test_fused_linear_gradcheck_first_and_second_order(act, device):
    x, w, b = _f64((4, 3), device, 3), _f64((2, 3), device, 4), _f64((2,), device, 5)
    f = lambda x, w, b: F.linear(x, w, b, activation=act, negative_slope=0.2)  # noqa: E731
    assert gc.gradcheck(f, (x, w, b))
    scalar = lambda x, w, b: (f(x, w, b) ** 2).sum()  # noqa: E731
    for i in range(3):
        assert gc.gradcheck(gc.grad(scalar, argnums=i), (x, w, b), atol=1e-4)


@pytest.mark.parametrize("act", SMOOTH)
def test_fused_smooth_gradients_equal_the_unfused_composition(act, device):
    x, w, b = _f64((2, 5, 4), device, 11), _f64((3, 4), device, 12), _f64((3,), device, 13)
    u = _f64((2, 5, 3), device, 14)
    fused = lambda x, w, b: (F.linear(x, w, b, activation=act) * u).sum()  # noqa: E731
    unfused = lambda x, w, b: (UNFUSED[act](x @ w.T + b) * u).sum()  # noqa: E731
    for g1, g2 in zip(gc.grad(fused, argnums=(0, 1, 2))(x, w, b),
                      gc.grad(unfused, argnums=(0, 1, 2))(x, w, b)):
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-12, atol=1e-12)
    v = _f64((2, 5, 4), device, 15)  # second order: Hessian-vector products agree too
    _, h1 = gc.hvp(lambda x: fused(x, w, b), (x,), (v,))
    _, h2 = gc.hvp(lambda x: unfused(x, w, b), (x,), (v,))
    np.testing.assert_allclose(h1[0].numpy(), h2[0].numpy(), rtol=1e-10, atol=1e-12)
    t = _f64((2, 5, 4), device, 16)  # forward mode
    _, j1 = gc.jvp(lambda x: F.linear(x, w, b, activation=act), (x,), (t,))
    _, j2 = gc.jvp(lambda x: UNFUSED[act](x @ w.T + b), (x,), (t,))
    np.testing.assert_allclose(j1.numpy(), j2.numpy(), rtol=1e-12, atol=1e-12)
    _, fr1 = gc.jvp(gc.grad(lambda x: fused(x, w, b)), (x,), (t,))  # forward over reverse
    _, fr2 = gc.jvp(gc.grad(lambda x: unfused(x, w, b)), (x,), (t,))
    np.testing.assert_allclose(fr1.numpy(), fr2.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("act", SMOOTH)
def test_fused_smooth_keeps_z_plus_b_until_backward(act, device):
    x = _f64((4, 3), device, 17).requires_grad_()
    w, b = _f64((2, 3), device, 18), _f64((2,), device, 19)
    y = F.linear(x, w, b, activation=act)
    node = y.node
    np.testing.assert_allclose(gc.as_tensor(node.pre).numpy(), (x @ w.T + b).numpy(), rtol=1e-15)
    y.sum().backward()
    assert node.pre is None  # released with the rest of what backward saved
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    with gc.no_grad():  # no graph: the same values
        np.testing.assert_allclose(F.linear(x, w, b, activation=act).numpy(), y.numpy())


@pytest.mark.parametrize("act", SMOOTH)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_fused_smooth_low_precision_and_noncontiguous(act, dtype, device):
    rng = np.random.default_rng(20)
    xa, wa, ba = rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    x = gc.tensor(np.ascontiguousarray(xa.T), dtype=dtype, device=device).T  # transposed view
    assert not x.array.flags.c_contiguous
    w = gc.tensor(wa, dtype=dtype, device=device, requires_grad=True)
    b = gc.tensor(ba, dtype=dtype, device=device, requires_grad=True)
    y = F.linear(x, w, b, activation=act)
    assert y.dtype == np.dtype(dtype)
    x64, w64, b64 = (gc.tensor(a.astype(dtype).astype(np.float64), device=device)
                     for a in (xa, wa, ba))
    ref = UNFUSED[act](x64 @ w64.T + b64)
    tol = {"float32": 1e-5, "float16": 1e-2}[dtype]
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref.numpy(), rtol=tol, atol=tol)
    y.sum().backward()
    assert w.grad.dtype == np.dtype(dtype) and b.grad.dtype == np.dtype(dtype)
    w64.requires_grad_(), b64.requires_grad_()
    UNFUSED[act](x64 @ w64.T + b64).sum().backward()
    np.testing.assert_allclose(b.grad.numpy().astype(np.float64), b64.grad.numpy(),
                               rtol=5 * tol, atol=5 * tol)


def test_fused_linear_batched_input_and_jvp(device):
    x, w, b = _f64((2, 4, 3), device, 6), _f64((5, 3), device, 7), _f64((5,), device, 8)
    assert gc.gradcheck(lambda x, w, b: F.linear(x, w, b, activation="tanh"), (x, w, b))
    t = _f64((2, 4, 3), device, 9)
    _, jv = gc.jvp(lambda x: F.linear(x, w, b, activation="sigmoid"), (x,), (t,))
    _, back = gc.vjp(lambda x: F.linear(x, w, b, activation="sigmoid"), x)
    u = _f64((2, 4, 5), device, 10)
    # <J t, u> == <t, J^T u>
    lhs = float((jv * u).sum().item())
    rhs = float((t * back(u)[0]).sum().item())
    assert abs(lhs - rhs) < 1e-10


def test_linear_shapes_and_errors(device):
    layer = gc.nn.Linear(4, 3, device=device)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer(gc.ones((2, 4), device=device)).shape == (2, 3)
    with pytest.raises(ValueError, match="linear"):
        layer(gc.ones((2, 5), device=device))
    assert gc.nn.Linear(4, 3, bias=False, device=device).bias is None


def test_sequential_fuses_linear_and_activation(device):
    net = gc.nn.Sequential(gc.nn.Linear(4, 8), gc.nn.Tanh(), gc.nn.Linear(8, 2), gc.nn.ReLU()).to(device)
    out = net(gc.ones((3, 4), device=device))
    assert type(out.node).__name__ == "LinearAct"
    manual = gc.relu(net[2](gc.tanh(net[0](gc.ones((3, 4), device=device)))))
    np.testing.assert_allclose(out.numpy(), manual.numpy(), rtol=1e-6)


@pytest.mark.parametrize("module, name", [(gc.nn.GELU(), "gelu"),
                                          (gc.nn.GELU(approximate="tanh"), "gelu_tanh"),
                                          (gc.nn.SiLU(), "silu")])
def test_sequential_fuses_gelu_and_silu(module, name, device):
    net = gc.nn.Sequential(gc.nn.Linear(4, 8), module).to(device)
    x = gc.tensor(np.random.default_rng(21).standard_normal((3, 4)), dtype="float32",
                  device=device)
    out = net(x)
    assert type(out.node).__name__ == "LinearAct" and out.node.act == name
    np.testing.assert_allclose(out.numpy(), module(net[0](x)).numpy(), rtol=1e-6, atol=1e-7)
    mlp = gc.nn.MLP([4, 8, 2], activation=name, device=device)
    assert [a.name for _, a in mlp._fusion_plan() if a is not None] == [name]
    assert mlp(x).shape == (3, 2)


def test_mlp_structure_init_and_repr():
    net = gc.nn.MLP([10, 32, 32, 3], activation="tanh")
    kinds = [type(m).__name__ for m in net.children()]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert "MLP(sizes=[10, 32, 32, 3]" in repr(net) and "Linear(in_features=10" in repr(net)
    assert all(float(abs(m.bias).sum().item()) == 0 for m in net.children() if hasattr(m, "bias"))
    # Xavier for tanh: std ~ gain * sqrt(2 / (fan_in + fan_out))
    w = gc.nn.MLP([400, 400], activation="tanh")[0].weight.numpy()
    assert abs(w.std() - (5 / 3) * np.sqrt(2 / 800)) < 0.01
    w = gc.nn.MLP([400, 400, 2], activation="relu")[0].weight.numpy()
    assert abs(w.std() - np.sqrt(2 / 400)) < 0.005
    with pytest.raises(ValueError, match="MLP"):
        gc.nn.MLP([3], activation="relu")
    with pytest.raises(ValueError, match="activation"):
        gc.nn.MLP([3, 2], activation="swish")


def test_losses_values_and_gradients(device):
    x, t = _f64((4, 3), device, 11), _f64((4, 3), device, 12)
    np.testing.assert_allclose(F.mse_loss(x, t).item(), ((x.numpy() - t.numpy()) ** 2).mean())
    assert gc.gradcheck(lambda x: F.mse_loss(x, t, reduction="sum"), (x,))
    target = gc.tensor((np.random.default_rng(0).random((4, 3)) > 0.5).astype(np.float64), device=device)
    ref = np.mean(np.log1p(np.exp(x.numpy())) - x.numpy() * target.numpy())
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, target).item(), ref)
    assert gc.gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, target), (x,))
    with pytest.raises(ValueError, match="mse_loss"):
        F.mse_loss(x, t[:2])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_log_softmax_and_gradchecks(reduction, device):
    logits = _f64((5, 4), device, 13)
    labels = gc.tensor([0, 3, 1, 1, 2], device=device)
    got = F.cross_entropy(logits, labels, reduction=reduction)
    per_row = -gc.log_softmax(logits, axis=-1).numpy()[np.arange(5), labels.numpy()]
    ref = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    assert gc.gradcheck(lambda z: F.cross_entropy(z, labels, reduction=reduction), (logits,))
    scalar = lambda z: (F.cross_entropy(z, labels, reduction=reduction) ** 2).sum()  # noqa: E731
    assert gc.gradcheck(gc.grad(scalar), (logits,), atol=1e-4)


def test_cross_entropy_stable_and_checked(device):
    logits = gc.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], device=device, requires_grad=True)
    loss = F.cross_entropy(logits, gc.tensor([1, 1], device=device))
    loss.backward()
    assert np.isfinite(loss.item()) and abs(loss.item() - 1e4) < 1
    assert np.isfinite(logits.grad.numpy()).all()
    with pytest.raises(ValueError, match="cross_entropy: label 3"):  # on a GPU: at the next read
        F.cross_entropy(logits, gc.tensor([0, 3], device=device)).item()
    with pytest.raises(TypeError):
        F.cross_entropy(logits, gc.tensor([0.0, 1.0], device=device))
    with pytest.raises(ValueError, match="labels"):
        F.cross_entropy(logits, gc.tensor([0, 1, 1], device=device))


def test_loss_modules(device):
    x = _f64((3, 2), device, 14)
    assert gc.nn.MSELoss()(x, x).item() == 0
    assert gc.nn.CrossEntropyLoss(reduction="sum")(x, gc.tensor([0, 1, 0], device=device)).shape == ()
    assert gc.nn.BCEWithLogitsLoss()(x, gc.zeros_like(x)).item() > 0


@pytest.mark.parametrize("x_shape, w_shape, b_shape", [
    ((), (2, 3), (2,)),  # a Linear on a 0-d input: was an IndexError
    ((), (2, 3), None),
    ((2, 3), (3,), (3,)),  # a 1-D weight: was an IndexError
    ((2, 3), (1, 2, 3), None),
    ((2, 3), (2, 3), (1, 2)),
])
def test_linear_names_the_shapes_it_cannot_take(x_shape, w_shape, b_shape, device):
    x, w = gc.ones(x_shape, device=device), gc.ones(w_shape, device=device)
    b = None if b_shape is None else gc.zeros(b_shape, device=device)
    with pytest.raises(ValueError, match=r"^linear: expected .* got input ") as info:
        F.linear(x, w, b)
    assert f"got input {x_shape}, weight {w_shape}" in str(info.value)


def test_linear_layer_errors(device):
    with pytest.raises(ValueError, match=r"^linear: .*got input \(\), weight \(2, 3\)"):
        gc.nn.Linear(3, 2, device=device)(gc.tensor(1.0, device=device))
    for bad in [(2.5, 3), (3, True)]:
        with pytest.raises(TypeError, match=r"^Linear: (in|out)_features must be an integer"):
            gc.nn.Linear(*bad)
