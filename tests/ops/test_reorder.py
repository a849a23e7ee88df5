"""flip and moveaxis: values vs NumPy, gradients, second order, forward mode, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, randn


@pytest.mark.parametrize("axis", [None, 0, 2, -1, (0, 2), (0, 1, 2)], ids=str)
def test_flip(axis, device):
    x = randn((2, 3, 4), device)
    np.testing.assert_array_equal(gc.flip(x, axis).numpy(), np.flip(x.numpy(), axis))
    f = lambda t: gc.flip(t, axis) * t  # noqa: E731 (a product: a wrong flip would show)
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


@pytest.mark.parametrize("src, dst", [(0, -1), (-1, 0), ((0, 1), (2, 0)), ((0, 2), (1, 0)),
                                      (1, 1)], ids=str)
def test_moveaxis(src, dst, device):
    x = randn((2, 3, 4), device)
    y = gc.moveaxis(x, src, dst)
    np.testing.assert_array_equal(y.numpy(), np.moveaxis(x.numpy(), src, dst))
    f = lambda t: gc.moveaxis(t, src, dst) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))


def test_errors(device):
    x = gc.zeros((2, 3), device=device)
    with pytest.raises(ValueError, match="flip: axis 2 is out of range"):
        gc.flip(x, 2)
    with pytest.raises(ValueError, match="moveaxis: source"):
        gc.moveaxis(x, (0, 1), 0)
    with pytest.raises(ValueError, match="moveaxis: repeated axis"):
        gc.moveaxis(x, (0, 0), (0, 1))


@pytest.mark.parametrize("shift, axis", [(1, None), (-7, None), (2, 1), ((1, -2), (0, 2)),
                                         (1, (0, 1)), ((1, 2), 2)], ids=str)
def test_roll(shift, axis, device):
    x = randn((2, 3, 4), device)
    np.testing.assert_array_equal(gc.roll(x, shift, axis).numpy(), np.roll(x.numpy(), shift, axis))
    f = lambda t: gc.roll(t, shift, axis) * t  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


@pytest.mark.parametrize("axis", [-1, 0, 1, None], ids=str)
def test_sort_and_argsort(axis, device):
    x = randn((3, 4), device, seed=8)
    np.testing.assert_array_equal(gc.sort(x, axis).numpy(), np.sort(x.numpy(), axis))
    i = gc.argsort(x, axis)
    assert i.dtype == np.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), np.argsort(x.numpy(), axis, kind="stable"))
    np.testing.assert_array_equal(x.argsort(axis).numpy(), i.numpy())
    w = randn(gc.sort(x, axis).shape, device, seed=9)
    f = lambda t: gc.sort(t, axis) * w  # noqa: E731 (a weight per rank: a wrong route shows)
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(lambda t: gc.sort(t, axis) ** 3, (x,))
    assert jvpcheck(f, (x,))


def test_sort_ties_are_stable(device):
    x = gc.tensor([2.0, 1.0, 2.0, 1.0], dtype="float64", device=device, requires_grad=True)
    assert gc.argsort(x).tolist() == [1, 3, 0, 2]
    (gc.sort(x) * gc.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64", device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.0, 4.0, 2.0])


def test_roll_errors(device):
    x = gc.zeros((2, 3), device=device)
    with pytest.raises(ValueError, match="roll: shift"):
        gc.roll(x, (1, 2))
    with pytest.raises(ValueError, match="roll: shift .* different lengths"):
        gc.roll(x, (1, 2, 3), (0, 1))
