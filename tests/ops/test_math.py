"""exp, log, log1p, sqrt, abs, sin, cos, erf, maximum, minimum, where, clip: values vs NumPy
(erf: vs C's erf), gradients vs finite differences, second order, forward mode, and the
documented tie rules."""
import math

import numpy as np
import pytest

import gradcore as gc
from tests.helpers import away_from_zero, check_unary, gradcheck2, jvpcheck, noncontig, randn

# name -> (gradcore function, NumPy reference, input sampler(shape, device))
_normal = randn
_positive = lambda shape, device: randn(shape, device, low=0.3, high=2.0)  # noqa: E731
UNARY = {
    "exp": (gc.exp, np.exp, _normal),
    "log": (gc.log, np.log, _positive),
    "log1p": (gc.log1p, np.log1p, lambda s, d: randn(s, d, low=-0.7, high=2.0)),
    "sqrt": (gc.sqrt, np.sqrt, _positive),
    "abs": (gc.abs, np.abs, away_from_zero),
    "sin": (gc.sin, np.sin, _normal),
    "cos": (gc.cos, np.cos, _normal),
    "erf": (gc.erf, np.vectorize(math.erf, otypes=[float]), lambda s, d: randn(s, d) * 2),
    "Tensor.exp": (lambda x: x.exp(), np.exp, _normal),
    "Tensor.log": (lambda x: x.log(), np.log, _positive),
    "Tensor.sqrt": (lambda x: x.sqrt(), np.sqrt, _positive),
    "abs()": (lambda x: abs(x), np.abs, away_from_zero),
}
UNARY_SHAPES = [(), (1,), (3, 1), (2, 3), (1, 2, 1, 3)]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_forward_and_gradcheck(name, shape, device):
    fn, ref, sample = UNARY[name]
    check_unary(fn, ref, sample(shape, device))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
@pytest.mark.parametrize("name", ["exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "erf"])
def test_unary_noncontiguous(name, kind, device):
    fn, ref, sample = UNARY[name]
    a = sample((3, 2), device).numpy()
    x = noncontig(a, device, kind)
    np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-13)
    assert gc.gradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "erf"])
def test_unary_second_order_and_jvp(name, device):
    fn, _, sample = UNARY[name]
    x = sample((2, 3), device)
    assert gradcheck2(fn, (x,))
    assert gradcheck2(lambda z: fn(z) * fn(z), (x,))  # an upstream gradient that depends on x
    assert jvpcheck(fn, (x,))


def test_third_derivative_of_sin(device):
    x = randn((4,), device)
    d3 = gc.grad(lambda a: gc.grad(lambda b: gc.grad(lambda c: gc.sin(c).sum())(b).sum())(a).sum())
    np.testing.assert_allclose(d3(x).numpy(), -np.cos(x.numpy()), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_erf_low_precision_is_the_float64_value_rounded_once(dtype, device):
    a = np.concatenate([np.linspace(-5, 5, 1001), [0.0, -0.0, np.inf, -np.inf, 1e-30]])
    y = gc.erf(gc.tensor(a, dtype=dtype, device=device))
    assert y.dtype == np.dtype(dtype)
    exact = np.vectorize(math.erf, otypes=[float])(a.astype(dtype).astype(np.float64))
    # the twin rounds its float64 value once; CUDA's erff is within 2 ulp of float32
    ulps = 0 if device == "cpu" else 2
    tol = ulps * np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    np.testing.assert_array_less(np.abs(y.numpy().astype(np.float64) - exact.astype(dtype)),
                                 tol + 1e-300)


def test_abs_gradient_is_zero_at_zero(device):
    x = gc.tensor([-2.0, 0.0, 3.0], dtype="float64", device=device, requires_grad=True)
    gc.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])


# ---- maximum / minimum --------------------------------------------------------------------
EXTREMUM = {"maximum": (gc.maximum, np.maximum), "minimum": (gc.minimum, np.minimum)}
BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((2,), ())]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", EXTREMUM)
def test_extremum_forward_and_gradcheck(name, shapes, device):
    fn, ref = EXTREMUM[name]
    x0, x1 = randn(shapes[0], device, seed=1), randn(shapes[1], device, seed=2)
    np.testing.assert_array_equal(fn(x0, x1).numpy(), ref(x0.numpy(), x1.numpy()))
    assert gc.gradcheck(fn, (x0, x1))
    assert jvpcheck(fn, (x0, x1))


@pytest.mark.parametrize("name", EXTREMUM)
def test_extremum_noncontiguous_scalar_and_second_order(name, device):
    fn, ref = EXTREMUM[name]
    a0, a1 = randn((2, 3), device, seed=1).numpy(), randn((2, 3), device, seed=2).numpy()
    x0, x1 = noncontig(a0, device, "transposed"), noncontig(a1, device)
    np.testing.assert_array_equal(fn(x0, x1).numpy(), ref(a0, a1))
    assert gc.gradcheck(fn, (x0, x1))
    assert gc.gradcheck(lambda x: fn(x, 0.1), (x0,))   # a Python scalar operand
    assert gc.gradcheck(lambda x: fn(0.1, x), (x1,))
    assert gradcheck2(lambda a, b: fn(a, b) ** 2, (x0, x1))


@pytest.mark.parametrize("name", EXTREMUM)
def test_extremum_ties_split_the_gradient(name, device):
    fn, _ = EXTREMUM[name]
    x0 = gc.tensor([1.0, 2.0, 3.0], dtype="float64", device=device, requires_grad=True)
    x1 = gc.tensor([1.0, 5.0, 0.0], dtype="float64", device=device, requires_grad=True)
    fn(x0, x1).backward(gc.tensor([2.0, 2.0, 2.0], dtype="float64", device=device))
    win0 = [1.0, 0.0, 2.0] if name == "maximum" else [1.0, 2.0, 0.0]
    np.testing.assert_array_equal(x0.grad.numpy(), win0)
    np.testing.assert_array_equal(x1.grad.numpy(), [2.0 - g for g in win0])
    x = gc.tensor([1.0, -1.0], dtype="float64", device=device, requires_grad=True)
    fn(x, x).sum().backward()  # both halves land on the same tensor
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    _, tangent = gc.jvp(lambda a, b: fn(a, b), (x0.detach(), x1.detach()),
                        (gc.ones(3, dtype="float64", device=device),
                         gc.zeros(3, dtype="float64", device=device)))
    np.testing.assert_array_equal(tangent.numpy(), np.array(win0) / 2)


# ---- where ------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), ()),
                                    ((2, 1), (1, 3), (2, 3)), ((), (2,), (2,))], ids=str)
def test_where(shapes, device):
    sc, s0, s1 = shapes
    cond = randn(sc, device, seed=5) > 0
    x0, x1 = randn(s0, device, seed=1), randn(s1, device, seed=2)
    y = gc.where(cond, x0, x1)
    np.testing.assert_array_equal(y.numpy(), np.where(cond.numpy(), x0.numpy(), x1.numpy()))
    assert gc.gradcheck(lambda a, b: gc.where(cond, a, b), (x0, x1))
    assert gradcheck2(lambda a, b: gc.where(cond, a, b) ** 2, (x0, x1))
    assert jvpcheck(lambda a, b: gc.where(cond, a, b), (x0, x1))


def test_where_condition_kinds_and_constant_branch(device):
    x = gc.tensor([-1.0, 2.0, -3.0, 4.0], dtype="float64", device=device, requires_grad=True)
    for cond in (x > 0, (x > 0).numpy(), [False, True, False, True], (x > 0).astype("float64")):
        y = gc.where(cond, x, 0.0)
        np.testing.assert_array_equal(y.numpy(), [0.0, 2.0, 0.0, 4.0])
    x.grad = None
    gc.where(x > 0, x * 3, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0, 0.0, 3.0])
    assert gc.gradcheck(lambda a: gc.where(a > 0, 0.5, a), (noncontig(x.numpy(), device),))


# ---- clip -------------------------------------------------------------------------------
@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.3, None)], ids=str)
@pytest.mark.parametrize("shape", [(), (1, 3), (2, 3)], ids=str)
def test_clip(bounds, shape, device):
    lo, hi = bounds
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, shape)
    a = np.where(np.isclose(np.abs(a), 0.5, atol=0.02) | np.isclose(np.abs(a), 0.3, atol=0.02),
                 a + 0.05, a)  # keep finite differences off the clip boundaries
    x = gc.tensor(a, device=device)
    np.testing.assert_array_equal(gc.clip(x, lo, hi).numpy(), np.clip(a, lo, hi))
    np.testing.assert_array_equal(x.clip(lo, hi).numpy(), np.clip(a, lo, hi))
    assert gc.gradcheck(lambda z: gc.clip(z, lo, hi), (x,))
    assert gradcheck2(lambda z: gc.clip(z, lo, hi) ** 2, (x,))
    assert jvpcheck(lambda z: gc.clip(z, lo, hi), (x,))
    if shape == (2, 3):
        assert gc.gradcheck(lambda z: gc.clip(z, lo, hi), (noncontig(a, device, "transposed"),))


def test_clip_boundaries_pass_the_gradient(device):
    x = gc.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype="float64", device=device, requires_grad=True)
    gc.clip(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="clip"):
        gc.clip(x, None, None)
