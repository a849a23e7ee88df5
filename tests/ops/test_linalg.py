"""matmul (NumPy's 1-D, 2-D and batched rules) and linear: values vs NumPy, gradients, second
order (the product is bilinear), forward mode, shape errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn

MATMUL_SHAPES = [
    ((3,), (3,)),             # vector . vector -> 0-d
    ((3,), (3, 2)),           # vector @ matrix
    ((2, 3), (3,)),           # matrix @ vector
    ((2, 3), (3, 4)),         # matrix @ matrix
    ((1, 3), (3, 1)),         # size-1 dims
    ((2, 2, 3), (3, 2)),      # batch @ matrix
    ((2, 3), (2, 3, 2)),      # matrix @ batch
    ((2, 2, 3), (2, 3, 2)),   # batch @ batch
    ((1, 2, 3), (2, 3, 2)),   # broadcast batch
    ((2, 1, 2, 3), (3, 3, 2)),  # broadcast batch on both sides
    ((3,), (2, 3, 2)),        # vector @ batch
    ((2, 2, 3), (3,)),        # batch @ vector
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, device):
    a, b = randn(shapes[0], device, seed=1), randn(shapes[1], device, seed=2)
    expected = np.matmul(a.numpy(), b.numpy())
    for y in (gc.matmul(a, b), a @ b, a.matmul(b)):
        assert y.shape == expected.shape and y.dtype == np.float64
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13)
    assert gc.gradcheck(gc.matmul, (a, b))
    assert gradcheck2(gc.matmul, (a, b))
    assert jvpcheck(gc.matmul, (a, b))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
def test_matmul_noncontiguous(kind, device):
    a0, b0 = randn((2, 3), device, seed=1).numpy(), randn((3, 2), device, seed=2).numpy()
    a, b = noncontig(a0, device, kind), noncontig(b0, device, kind)
    np.testing.assert_allclose((a @ b).numpy(), a0 @ b0, rtol=1e-13)
    assert gc.gradcheck(gc.matmul, (a, b))


def test_matmul_with_array_operands(device):
    a = randn((2, 3), device, seed=1)
    b = randn((3, 2), device, seed=2)
    np.testing.assert_allclose((a @ b.numpy()).numpy(), a.numpy() @ b.numpy())
    if device == "cpu":  # ndarray @ Tensor defers to Tensor.__rmatmul__
        y = b.numpy().T @ a.T
        assert isinstance(y, gc.Tensor)
        np.testing.assert_allclose(y.numpy(), b.numpy().T @ a.numpy().T)
    assert gc.gradcheck(lambda z: z @ b.numpy(), (a,))


def test_matmul_gradient_by_hand(device):
    a = gc.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", device=device, requires_grad=True)
    v = gc.tensor([5.0, 6.0], dtype="float64", device=device, requires_grad=True)
    (a @ v).sum().backward()  # d/da = 1 v^T, d/dv = a^T 1
    np.testing.assert_array_equal(a.grad.numpy(), [[5, 6], [5, 6]])
    np.testing.assert_array_equal(v.grad.numpy(), [4, 6])


def test_matmul_errors(device):
    a = gc.zeros((2, 3), device=device)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        a @ a
    with pytest.raises(ValueError, match=r"matmul.*\(3,\).*\(2,\)"):
        gc.zeros(3, device=device) @ gc.zeros(2, device=device)
    with pytest.raises(ValueError, match="0-d"):
        gc.matmul(gc.zeros((), device=device), a)


@pytest.mark.parametrize("x_shape", [(3,), (2, 3), (2, 2, 3), (1, 3)], ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_linear(x_shape, bias, device):
    x, w = randn(x_shape, device, seed=1), randn((4, 3), device, seed=2)
    b = randn((4,), device, seed=3)
    args = (x, w, b) if bias else (x, w)
    y = gc.linear(*args)
    expected = x.numpy() @ w.numpy().T + (b.numpy() if bias else 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13)
    assert gc.gradcheck(gc.linear, args)
    assert gradcheck2(gc.linear, args)
    assert jvpcheck(gc.linear, args)


def test_linear_noncontiguous_and_errors(device):
    x0, w0 = randn((2, 3), device, seed=1).numpy(), randn((4, 3), device, seed=2).numpy()
    x, w = noncontig(x0, device, "transposed"), noncontig(w0, device)
    np.testing.assert_allclose(gc.linear(x, w).numpy(), x0 @ w0.T, rtol=1e-13)
    assert gc.gradcheck(gc.linear, (x, w))
    with pytest.raises(ValueError, match=r"linear.*\(2, 3\).*\(3, 4\)"):
        gc.linear(x, gc.zeros((3, 4), dtype="float64", device=device))
