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
