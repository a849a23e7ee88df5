"""add, sub, mul, div, neg, pow and their operators: values vs NumPy, gradients vs finite
differences (broadcasting, 0-d, size-1 dims, non-contiguous inputs), second order, forward mode."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn

# name -> (gradcore function, NumPy reference); pow's base is kept positive so x0 ** x1 and its
# exponent gradient (through log x0) are defined.
BINARY = {
    "add": (gc.add, np.add),
    "sub": (gc.sub, np.subtract),
    "mul": (gc.mul, np.multiply),
    "div": (gc.div, np.divide),
    "pow": (gc.pow, np.power),
    "op+": (lambda a, b: a + b, np.add),
    "op-": (lambda a, b: a - b, np.subtract),
    "op*": (lambda a, b: a * b, np.multiply),
    "op/": (lambda a, b: a / b, np.divide),
    "op**": (lambda a, b: a ** b, np.power),
}
SHAPES = [
    ((2, 3), (2, 3)),      # same shape
    ((2, 3), (3,)),        # broadcast over a leading axis
    ((2, 1), (1, 3)),      # size-1 dims on both sides
    ((4, 1, 3), (2, 1)),   # different ndim and size-1 dims
    ((), (2, 3)),          # 0-d on the left
    ((2, 3), ()),          # 0-d on the right
    ((), ()),              # both 0-d
]


def _operands(name, s0, s1, device):
    # keep x0 > 0 for pow and |x1| >= 0.5 for div so both stay smooth
    x0 = randn(s0, device, seed=1, low=0.5, high=2.0) if "pow" in name or "**" in name \
        else randn(s0, device, seed=1)
    x1 = randn(s1, device, seed=2, low=0.5, high=2.0) if name in ("div", "op/") \
        else randn(s1, device, seed=2)
    return x0, x1


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_forward_matches_numpy(name, shapes, device):
    fn, ref = BINARY[name]
    x0, x1 = _operands(name, *shapes, device)
    y = fn(x0, x1)
    expected = ref(x0.numpy(), x1.numpy())
    assert y.shape == expected.shape and y.dtype == np.float64 and y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13)


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradcheck(name, shapes, device):
    fn, _ = BINARY[name]
    assert gc.gradcheck(fn, _operands(name, *shapes, device))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_noncontiguous(name, kind, device):
    fn, ref = BINARY[name]
    a0, a1 = (x.numpy() for x in _operands(name, (3, 2), (3, 2), device))
    x0, x1 = noncontig(a0, device, kind), noncontig(a1, device, kind)
    np.testing.assert_allclose(fn(x0, x1).numpy(), ref(a0, a1), rtol=1e-13)
    assert gc.gradcheck(fn, (x0, x1))


@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((), (2,))], ids=str)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_second_order(name, shapes, device):
    fn, _ = BINARY[name]
    # squared so that add/sub, whose own second derivative is 0, still differentiate a gradient
    assert gradcheck2(lambda a, b: fn(a, b) ** 2, _operands(name, *shapes, device))
    assert gradcheck2(fn, _operands(name, *shapes, device))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_binary_jvp(name, device):
    fn, _ = BINARY[name]
    assert jvpcheck(fn, _operands(name, (2, 3), (3,), device))
    assert jvpcheck(fn, _operands(name, (), (2, 1), device))


# x -> expression with a Python scalar on one side (reflected operators included)
SCALAR_EXPRS = {
    "x+2": (lambda x: x + 2, lambda a: a + 2),
    "2+x": (lambda x: 2 + x, lambda a: 2 + a),
    "x-2": (lambda x: x - 2, lambda a: a - 2),
    "2-x": (lambda x: 2 - x, lambda a: 2 - a),
    "x*2.5": (lambda x: x * 2.5, lambda a: a * 2.5),
    "2.5*x": (lambda x: 2.5 * x, lambda a: 2.5 * a),
    "x/4": (lambda x: x / 4, lambda a: a / 4),
    "3/x": (lambda x: 3 / x, lambda a: 3 / a),
    "2**x": (lambda x: 2 ** x, lambda a: 2.0 ** a),
    "-x": (lambda x: -x, lambda a: -a),
    "neg": (gc.neg, np.negative),
    "+x": (lambda x: +x, lambda a: a),
    "x**0": (lambda x: x ** 0, lambda a: a ** 0),
    "x**1": (lambda x: x ** 1, lambda a: a ** 1),
    "x**2": (lambda x: x ** 2, lambda a: a ** 2),
    "x**3": (lambda x: x ** 3, lambda a: a ** 3),
    "x**0.5": (lambda x: x ** 0.5, np.sqrt),
    "x**-1": (lambda x: x ** -1, lambda a: 1 / a),
    "x**-2.5": (lambda x: x ** -2.5, lambda a: a ** -2.5),
}


@pytest.mark.parametrize("shape", [(), (1,), (2, 3)], ids=str)
@pytest.mark.parametrize("name", SCALAR_EXPRS)
def test_scalar_operand(name, shape, device):
    fn, ref = SCALAR_EXPRS[name]
    x = randn(shape, device, low=0.5, high=2.0)  # positive: fractional and negative powers
    y = fn(x)
    assert y.dtype == np.float64 and y.shape == shape
    np.testing.assert_allclose(y.numpy(), ref(x.numpy()), rtol=1e-13)
    assert gc.gradcheck(fn, (x,))
    assert gradcheck2(fn, (x,))
    assert jvpcheck(fn, (x,))


def test_scalar_operand_noncontiguous(device):
    x = noncontig(np.random.default_rng(0).uniform(0.5, 2, (2, 3)), device, "transposed")
    for name in ("2-x", "3/x", "x**3", "neg"):
        assert gc.gradcheck(SCALAR_EXPRS[name][0], (x,)), name


def test_same_tensor_on_both_sides(device):
    x = randn((3,), device, low=0.5, high=2.0).requires_grad_()
    (x * x + x / x - x ** x.detach()).sum().backward()
    a = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a + 0 - a * a ** (a - 1), rtol=1e-12)


def test_python_scalars_keep_float32(device):
    x = gc.ones(2, device=device)
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3, 3 / x, x ** 2, 2 ** x, -x):
        assert y.dtype == np.float32
    assert (gc.ones(2, dtype="float64", device=device) * 2.5).dtype == np.float64


def test_broadcast_error_names_op_and_shapes(device):
    a, b = gc.ones((2, 3), device=device), gc.ones((4,), device=device)
    for name, fn in [("add", gc.add), ("sub", gc.sub), ("mul", gc.mul), ("div", gc.div),
                     ("pow", gc.pow)]:
        with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4,\)"):
            fn(a, b)


def test_gradient_of_broadcast_operand_is_summed(device):
    x = gc.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    b = gc.tensor([[1.0], [2.0]], dtype="float64", device=device, requires_grad=True)
    (x * b).sum().backward()
    assert b.grad.shape == (2, 1)
    np.testing.assert_allclose(b.grad.numpy(), [[3.0], [12.0]])
