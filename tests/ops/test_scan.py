"""cumsum, cumprod, prod: values vs NumPy, gradients (also with one and several zeros) vs finite
differences, second order, forward mode, dtypes."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn


def _with_zeros(device):
    """(3, 4, 5) normal values with a single zero in some rows, two in others, a zero column."""
    a = np.random.default_rng(0).standard_normal((3, 4, 5))
    a[0, 1, 2] = 0.0
    a[1, :, 3] = 0.0
    a[2, 2, 1] = a[2, 3, 1] = 0.0
    a[2, 0, 0] = a[2, 0, 4] = 0.0
    return gc.tensor(a, device=device)


PROD_AXES = [None, 0, 1, -1, (0, 2), (1, 2), (0, 1, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", PROD_AXES, ids=str)
def test_prod_with_zeros(axis, keepdims, device):
    x = _with_zeros(device)
    f = lambda t: gc.prod(t, axis=axis, keepdims=keepdims)  # noqa: E731
    np.testing.assert_allclose(f(x).numpy(), np.prod(x.numpy(), axis=axis, keepdims=keepdims),
                               rtol=1e-13)
    assert gc.gradcheck(f, (x,))  # prod is multilinear: central differences are exact
    assert jvpcheck(f, (x,))
    assert gradcheck2(f, (x,))


def test_prod_gradient_one_and_two_zeros_exact(device):
    x = gc.tensor([[2.0, 0.0, 3.0], [0.0, 5.0, 0.0], [1.0, 2.0, 4.0]], dtype="float64",
                  device=device, requires_grad=True)
    gc.prod(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(),
                                  [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 4.0, 2.0]])


def test_prod_gradient_is_not_y_over_x(device):
    """The product underflows to 0 here, so y / x would give 0 everywhere; the products of the
    others are 1, 1 and (underflowing) 0."""
    x = gc.tensor([1e-200, 1e-200, 1e200], dtype="float64", device=device, requires_grad=True)
    y = gc.prod(x)
    assert y.item() == 0.0
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 0.0], rtol=1e-15, atol=0)


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_scans(name, axis, device):
    fn, ref = getattr(gc, name), getattr(np, name)
    x = _with_zeros(device)
    f = lambda t: fn(t, axis=axis)  # noqa: E731
    np.testing.assert_allclose(f(x).numpy(), ref(x.numpy(), axis=axis), rtol=1e-13, atol=1e-15)
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert gradcheck2(lambda t: f(t) * f(t), (x,))


def test_cumprod_gradient_with_zeros_exact(device):
    x = gc.tensor([2.0, 0.0, 3.0, 0.0, 5.0], dtype="float64", device=device, requires_grad=True)
    gc.cumprod(x).sum().backward()
    # d/dx0 = 1 + x1 + ...: only y0 survives; d/dx1 = x0 (y1) + x0 x2 (y2); the rest meet a zero
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0 + 6.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "prod"])
def test_noncontiguous_and_methods(name, device):
    a = randn((3, 4), device, seed=2).numpy()
    x = noncontig(a, device, "transposed")
    np.testing.assert_allclose(getattr(x, name)(axis=1).numpy(), getattr(np, name)(a, axis=1),
                               rtol=1e-13)
    assert gc.gradcheck(lambda t: getattr(gc, name)(t, axis=0), (x,))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "prod"])
def test_dtypes(name, dtype, device):
    a = np.array([[1.5, -0.5, 2.0], [0.0, 1.0, -1.0]], dtype=dtype)
    x = gc.tensor(a, device=device, requires_grad=True)
    y = getattr(gc, name)(x, axis=1)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), getattr(np, name)(a, axis=1), rtol=1e-3)
    y.sum().backward()
    assert x.grad.dtype == np.dtype(dtype)
    exact = gc.grad(lambda t: getattr(gc, name)(t, axis=1).sum())(gc.tensor(a.astype(np.float64)))
    np.testing.assert_allclose(x.grad.numpy(), exact.numpy(), rtol=1e-3)


def test_integer_scans_are_not_differentiated(device):
    x = gc.tensor([1, 2, 3], device=device)
    assert gc.cumsum(x).tolist() == [1, 3, 6] and gc.prod(x).item() == 6
    assert not gc.cumprod(x).requires_grad


def test_empty_and_bad_axis(device):
    x = gc.zeros((2, 0), dtype="float64", device=device, requires_grad=True)
    y = gc.prod(x, axis=1)
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0])
    y.sum().backward()
    assert x.grad.shape == (2, 0)
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of range"):
        gc.cumsum(gc.zeros((2, 2), device=device), axis=2)
