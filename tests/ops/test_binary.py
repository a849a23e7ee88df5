"""The binary table (gradcore/ops/binary.py): arctan2, logaddexp, hypot, mod/remainder/fmod and
``%``: values vs NumPy, broadcasting, gradients, second order, forward mode, dtypes."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import away_from_zero, gradcheck2, jvpcheck, randn

BINARY = {
    "arctan2": (gc.arctan2, np.arctan2),
    "logaddexp": (gc.logaddexp, np.logaddexp),
    "hypot": (gc.hypot, np.hypot),
    "remainder": (gc.remainder, np.remainder),
    "mod": (gc.mod, np.mod),
    "fmod": (gc.fmod, np.fmod),
    "%": (lambda a, b: a % b, np.remainder),
}
SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((2,), ())]


def _operands(shapes, device):
    # away from zero: the divisor of mod and the origin of arctan2/hypot are singular
    return away_from_zero(shapes[0], device, seed=1) * 2, away_from_zero(shapes[1], device, seed=2)


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_forward_and_gradcheck(name, shapes, device):
    fn, ref = BINARY[name]
    x0, x1 = _operands(shapes, device)
    y = fn(x0, x1)
    assert y.shape == np.broadcast_shapes(*shapes) and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ref(x0.numpy(), x1.numpy()), rtol=1e-13, atol=1e-15)
    assert gc.gradcheck(fn, (x0, x1))
    assert jvpcheck(fn, (x0, x1))


@pytest.mark.parametrize("name", BINARY)
def test_second_order(name, device):
    fn, _ = BINARY[name]
    x0, x1 = _operands(((2, 3), (3,)), device)
    assert gradcheck2(fn, (x0, x1))
    assert gradcheck2(lambda a, b: fn(a, b) * fn(a, b), (x0, x1))


@pytest.mark.parametrize("name", BINARY)
def test_python_scalars_on_either_side(name, device):
    fn, ref = BINARY[name]
    x = away_from_zero((4,), device, seed=5)
    for args, refargs in (((x, 0.7), (x.numpy(), 0.7)), ((1.3, x), (1.3, x.numpy()))):
        np.testing.assert_allclose(fn(*args).numpy(), ref(*refargs), rtol=1e-13)
        assert gc.gradcheck(lambda t: fn(*(t if a is x else a for a in args)), (x,))
        assert jvpcheck(lambda t: fn(*(t if a is x else a for a in args)), (x,))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("name", ["arctan2", "logaddexp", "hypot", "remainder", "fmod"])
def test_low_precision_keeps_dtype(name, dtype, device):
    fn, ref = BINARY[name]
    a = np.array([0.3, -1.7, 2.2], dtype=dtype)
    x = gc.tensor(a, device=device, requires_grad=True)
    y = fn(x, 0.9)  # a Python scalar never widens a float tensor
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), ref(a, np.asarray(0.9, dtype)), rtol=2e-3)
    y.sum().backward()
    assert x.grad.dtype == np.dtype(dtype)


def test_rmod_and_mod_operator(device):
    x = gc.tensor([1.5, -2.5, 4.0], dtype="float64", device=device, requires_grad=True)
    np.testing.assert_array_equal((x % 2).numpy(), np.array([1.5, -2.5, 4.0]) % 2)
    y = 5.0 % x
    np.testing.assert_array_equal(y.numpy(), 5.0 % np.array([1.5, -2.5, 4.0]))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), -np.floor_divide(5.0, [1.5, -2.5, 4.0]))


def test_mod_divisor_gradient_uses_numpys_quotient(device):
    """1 % 0.1 is 0.0999... with quotient 9 (NumPy's divmod); floor(1 / 0.1) is 10, which
    would give a gradient that disagrees with the value returned."""
    x1 = gc.tensor(0.1, dtype="float64", device=device, requires_grad=True)
    gc.remainder(1.0, x1).backward()
    q, r = np.divmod(1.0, 0.1)
    assert (q, np.remainder(1.0, 0.1)) == (9.0, r)
    assert x1.grad.item() == -9.0
    x1 = gc.tensor(-0.1, dtype="float64", device=device, requires_grad=True)
    gc.fmod(1.0, x1).backward()
    assert x1.grad.item() == -np.round((1.0 - np.fmod(1.0, -0.1)) / -0.1) == 9.0


def test_logaddexp_does_not_overflow(device):
    x = gc.tensor([1000.0, -1000.0], dtype="float32", device=device, requires_grad=True)
    y = gc.logaddexp(x, gc.tensor([1000.0, -1001.0], dtype="float32", device=device))
    np.testing.assert_allclose(y.numpy(), np.logaddexp([1000.0, -1000.0], [1000.0, -1001.0]),
                               rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 1 / (1 + np.exp(-1.0))], rtol=1e-6)


def test_bad_broadcast_names_op_and_shapes(device):
    with pytest.raises(ValueError, match=r"hypot: operands with shapes \(2,\) and \(3,\)"):
        gc.hypot(randn((2,), device), randn((3,), device))


def test_origin_gives_nan_gradient_as_documented(device):
    x = gc.tensor([0.0], dtype="float64", device=device, requires_grad=True)
    with np.errstate(invalid="ignore"):
        gc.hypot(x, 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_only_wanted_gradients_are_computed(device):
    """A constant divisor of 0 in the unused partial must not matter to the wanted one."""
    x = gc.tensor([3.0], dtype="float64", device=device, requires_grad=True)
    gc.arctan2(x, gc.tensor([4.0], dtype="float64", device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0 / 25.0], rtol=1e-15)
