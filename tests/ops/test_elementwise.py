"""The unary table (gradcore/ops/elementwise.py): values vs NumPy, gradients vs finite
differences, second order, forward mode, dtypes, and the documented zero-gradient and singular
points."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import away_from_zero, check_unary, gradcheck2, jvpcheck, noncontig, randn


def _uniform(low, high):
    return lambda shape, device: randn(shape, device, low=low, high=high)


# name -> (gradcore function, NumPy reference, input sampler(shape, device))
SMOOTH = {
    "tan": (gc.tan, np.tan, _uniform(-1.2, 1.2)),
    "arcsin": (gc.arcsin, np.arcsin, _uniform(-0.9, 0.9)),
    "arccos": (gc.arccos, np.arccos, _uniform(-0.9, 0.9)),
    "arctan": (gc.arctan, np.arctan, randn),
    "sinh": (gc.sinh, np.sinh, randn),
    "cosh": (gc.cosh, np.cosh, randn),
    "arcsinh": (gc.arcsinh, np.arcsinh, randn),
    "arccosh": (gc.arccosh, np.arccosh, _uniform(1.1, 3.0)),
    "arctanh": (gc.arctanh, np.arctanh, _uniform(-0.9, 0.9)),
    "log2": (gc.log2, np.log2, _uniform(0.3, 3.0)),
    "log10": (gc.log10, np.log10, _uniform(0.3, 3.0)),
    "exp2": (gc.exp2, np.exp2, randn),
    "expm1": (gc.expm1, np.expm1, randn),
    "square": (gc.square, np.square, randn),
    "reciprocal": (gc.reciprocal, np.reciprocal, away_from_zero),
}
STEP = {"sign": (gc.sign, np.sign), "floor": (gc.floor, np.floor), "ceil": (gc.ceil, np.ceil),
        "round": (gc.round, np.round), "trunc": (gc.trunc, np.trunc)}
SHAPES = [(), (3,), (2, 3), (1, 2, 1, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", SMOOTH)
def test_forward_and_gradcheck(name, shape, device):
    fn, ref, sample = SMOOTH[name]
    check_unary(fn, ref, sample(shape, device))


@pytest.mark.parametrize("name", SMOOTH)
def test_second_order_and_jvp(name, device):
    fn, _, sample = SMOOTH[name]
    x = sample((2, 3), device)
    assert gradcheck2(fn, (x,))
    assert gradcheck2(lambda z: fn(z) * fn(z), (x,))  # an upstream gradient that depends on x
    assert jvpcheck(fn, (x,))


@pytest.mark.parametrize("name", ["tan", "arccosh", "expm1", "reciprocal"])
def test_noncontiguous(name, device):
    fn, ref, sample = SMOOTH[name]
    a = sample((3, 2), device).numpy()
    for kind in ("strided", "transposed"):
        x = noncontig(a, device, kind)
        np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-13)
        assert gc.gradcheck(fn, (x,))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("name", SMOOTH)
def test_low_precision_keeps_dtype(name, dtype, device):
    fn, ref, sample = SMOOTH[name]
    a = sample((5,), device).numpy()
    x = gc.tensor(a, dtype=dtype, device=device, requires_grad=True)
    y = fn(x)
    assert y.dtype == np.dtype(dtype)
    tol = 2e-3 if dtype == "float16" else 2e-6
    np.testing.assert_allclose(y.numpy(), ref(a.astype(dtype)), rtol=tol, atol=tol)
    y.sum().backward()
    assert x.grad.dtype == np.dtype(dtype)
    with gc.no_grad():
        exact = gc.grad(lambda z: fn(z).sum())(gc.tensor(a.astype(dtype).astype(np.float64),
                                                        device=device))
    np.testing.assert_allclose(x.grad.numpy(), exact.numpy(), rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("name", STEP)
def test_step_functions_have_zero_gradient(name, device):
    fn, ref = STEP[name]
    a = np.array([-2.5, -1.5, -0.4, 0.0, 0.5, 1.5, 2.7])
    x = gc.tensor(a, dtype="float64", device=device, requires_grad=True)
    y = fn(x)
    np.testing.assert_array_equal(y.numpy(), ref(a))
    assert y.requires_grad  # as PyTorch: a float output on the tape, with a zero gradient
    (y * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), ref(a))  # d(f(x) x)/dx = f(x) + 0 * x
    z = randn((2, 3), device, seed=4)  # off the jumps: finite differences see zero slope
    assert gc.gradcheck(fn, (z,))
    assert gradcheck2(lambda t: fn(t) * t * t, (z,))
    assert jvpcheck(fn, (z,))


def test_round_decimals_and_python_round(device):
    a = np.array([0.125, 1.25, -2.675, 2.5])
    x = gc.tensor(a, dtype="float64", device=device)
    np.testing.assert_array_equal(gc.round(x, 2).numpy(), np.round(a, 2))
    np.testing.assert_array_equal(x.round(1).numpy(), np.round(a, 1))
    np.testing.assert_array_equal(round(x).numpy(), np.round(a))  # halves to even, as NumPy
    np.testing.assert_array_equal(round(x, 1).numpy(), np.round(a, 1))


def test_sign_of_nan_stays_nan(device):
    x = gc.tensor([np.nan, -0.0], dtype="float64", device=device)
    np.testing.assert_array_equal(gc.sign(x).numpy(), np.sign(x.numpy()))


def test_singular_derivatives_are_not_clamped(device):
    """The documented singular points give inf, as PyTorch, rather than a finite made-up value."""
    one = gc.tensor([1.0], dtype="float64", device=device, requires_grad=True)
    with np.errstate(divide="ignore"):
        gc.arcsin(one).sum().backward()
    assert np.isinf(one.grad.numpy()).all()
    zero = gc.tensor([0.0], dtype="float64", device=device, requires_grad=True)
    with np.errstate(divide="ignore"):
        gc.log2(zero).sum().backward()
    assert np.isposinf(zero.grad.numpy()).all()


def test_small_argument_accuracy(device):
    x = gc.tensor([1e-10], dtype="float32", device=device, requires_grad=True)
    y = gc.expm1(x)
    np.testing.assert_allclose(y.numpy(), [1e-10], rtol=1e-6)
    y.backward(gc.ones_like(y))
    np.testing.assert_allclose(x.grad.numpy(), [1.0], rtol=1e-6)
    big = gc.tensor([1.0 + 1e-7], dtype="float64", device=device, requires_grad=True)
    gc.arccosh(big).sum().backward()  # 1/sqrt(x^2 - 1) would lose digits to cancellation
    np.testing.assert_allclose(big.grad.numpy(), 1 / np.sqrt((big.numpy() - 1) * (big.numpy() + 1)),
                               rtol=1e-12)


def test_names_show_in_grad_fn():
    x = gc.tensor([0.5], requires_grad=True)
    assert type(gc.tan(x).node).__name__ == "Tan"
    assert type(gc.floor(x).node).__name__ == "Floor"


def test_integer_input_gives_float_output_without_grad(device):
    y = gc.tan(gc.tensor([0, 1], device=device))
    np.testing.assert_allclose(y.numpy(), np.tan([0, 1]))
    assert not y.requires_grad
