"""sigmoid, tanh, relu, leaky_relu, softplus: values vs NumPy, gradients to third order, the tie
rules at 0, stability at +-1000, and the fused backward op's own backward (double backprop)."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import away_from_zero, check_unary, gradcheck2, jvpcheck, noncontig, randn


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


# name -> (gradcore function, NumPy reference, smooth everywhere)
ACT = {
    "sigmoid": (gc.sigmoid, _np_sigmoid, True),
    "tanh": (gc.tanh, np.tanh, True),
    "softplus": (gc.softplus, lambda a: np.log1p(np.exp(a)), True),
    "relu": (gc.relu, lambda a: np.maximum(a, 0), False),
    "leaky_relu": (gc.leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a), False),
    "leaky_relu(0.2)": (lambda x: gc.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a),
                        False),
    "Tensor.sigmoid": (lambda x: x.sigmoid(), _np_sigmoid, True),
    "Tensor.tanh": (lambda x: x.tanh(), np.tanh, True),
    "Tensor.relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), False),
}
SHAPES = [(), (1,), (2, 1), (2, 3), (1, 3, 2)]


def _sample(shape, device, seed=0):
    return away_from_zero(shape, device, seed)  # relu-type kinks stay out of finite differences


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACT)
def test_forward_and_gradcheck(name, shape, device):
    fn, ref, _ = ACT[name]
    check_unary(fn, ref, _sample(shape, device))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "relu", "leaky_relu(0.2)"])
def test_noncontiguous(name, kind, device):
    fn, ref, _ = ACT[name]
    a = _sample((3, 2), device).numpy()
    x = noncontig(a, device, kind)
    np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-13)
    assert gc.gradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "relu", "leaky_relu(0.2)"])
def test_second_order_and_jvp(name, device):
    fn, _, _ = ACT[name]
    x = _sample((2, 3), device)
    assert gradcheck2(fn, (x,))
    # the upstream gradient depends on x: differentiates the fused backward w.r.t. gy as well
    assert gradcheck2(lambda z: fn(fn(z) * 1.5 + 0.3), (x,))
    assert jvpcheck(fn, (x,))
    # forward over reverse: jvp of the gradient (the fused backward op's own tangent rule),
    # with a constant upstream gradient and with one that depends on x
    assert jvpcheck(gc.grad(lambda z: fn(z).sum()), (x,))
    assert jvpcheck(gc.grad(lambda z: (fn(z) * fn(z)).sum()), (x,))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus"])
def test_third_order(name, device):
    fn, _, _ = ACT[name]
    x = randn((4,), device)
    second = lambda z: gc.grad(lambda u: gc.grad(lambda v: fn(v).sum())(u).sum())(z)  # noqa: E731
    assert gc.gradcheck(second, (x,))
    a = x.numpy()
    s = _np_sigmoid(a)
    t = np.tanh(a)
    expected_f2 = {"sigmoid": s * (1 - s) * (1 - 2 * s), "tanh": -2 * t * (1 - t * t),
                   "softplus": s * (1 - s)}[name]
    np.testing.assert_allclose(second(x).numpy(), expected_f2, rtol=1e-12)


def test_relu_gradient_is_zero_at_zero(device):
    x = gc.tensor([-1.0, 0.0, 2.0], dtype="float64", device=device, requires_grad=True)
    gc.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])
    _, t = gc.jvp(gc.relu, (x.detach(),), (gc.ones(3, dtype="float64", device=device),))
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_slope_at_zero(slope, device):
    x = gc.tensor([-1.0, 0.0, 2.0], dtype="float64", device=device, requires_grad=True)
    y = gc.leaky_relu(x, slope)
    np.testing.assert_allclose(y.numpy(), [-slope, 0.0, 2.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [slope, slope, 1.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_at_large_magnitudes(dtype, device):
    x = gc.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=dtype, device=device,
                  requires_grad=True)
    a = x.numpy().astype(np.float64)
    z = np.exp(-np.abs(a))  # in (0, 1]: the references themselves must not overflow
    s = np.where(a >= 0, 1 / (1 + z), z / (1 + z))
    expected = {  # name -> (value, derivative)
        "sigmoid": (s, s * (1 - s)),
        "tanh": (np.tanh(a), 1 - np.tanh(a) ** 2),
        "softplus": (np.maximum(a, 0) + np.log1p(z), s),
    }
    # float32 rounds sigmoid(30) to 1, so its slope taken from the output is 0: within atol
    atol = 1e-7 if dtype == "float32" else 1e-15
    with np.errstate(over="raise", invalid="raise"):
        for name, (value, slope) in expected.items():
            fn = ACT[name][0]
            x.grad = None
            y = fn(x)
            y.sum().backward()
            assert y.dtype == dtype and x.grad.dtype == dtype
            assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all(), name
            np.testing.assert_allclose(y.numpy(), value, rtol=1e-6, atol=atol, err_msg=name)
            np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-6, atol=atol, err_msg=name)
    np.testing.assert_array_equal(gc.sigmoid(x).numpy()[[0, -1]], [0.0, 1.0])
    np.testing.assert_array_equal(gc.softplus(x).numpy()[[0, -1]], [0.0, 1000.0])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "relu", "leaky_relu"])
def test_float32_stays_float32(name, device):
    fn, ref, _ = ACT[name]
    x = gc.tensor([-1.5, 0.5, 2.0], device=device, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref(x.numpy().astype(np.float64)), rtol=1e-6)
