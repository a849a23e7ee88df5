"""repeat, tile, pad: values vs NumPy, gradients (copies summed), second order, forward mode,
errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, randn

REPEATS = [(2, None), (3, 0), (2, 1), ([1, 0, 2], 0), ([1, 2, 0, 1], 1), ([2], -1), (0, 1)]


@pytest.mark.parametrize("repeats, axis", REPEATS, ids=str)
def test_repeat(repeats, axis, device):
    x = randn((3, 4), device)
    np.testing.assert_array_equal(gc.repeat(x, repeats, axis).numpy(),
                                  np.repeat(x.numpy(), repeats, axis))
    np.testing.assert_array_equal(x.repeat(repeats, axis=axis).numpy(),
                                  np.repeat(x.numpy(), repeats, axis))
    f = lambda t: gc.repeat(t, repeats, axis) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


def test_repeat_gradient_counts_copies(device):
    x = gc.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", device=device, requires_grad=True)
    gc.repeat(x, gc.tensor([3, 1]), axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 3.0], [1.0, 1.0]])


@pytest.mark.parametrize("reps", [2, (2, 1), (1, 3), (2, 2, 2), (0, 2), ()], ids=str)
def test_tile(reps, device):
    x = randn((3, 4), device)
    np.testing.assert_array_equal(gc.tile(x, reps).numpy(), np.tile(x.numpy(), reps))
    f = lambda t: gc.tile(t, reps) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


@pytest.mark.parametrize("pad_width", [1, (1, 2), ((0, 1), (2, 0)), ((1, 1),), 0], ids=str)
def test_pad(pad_width, device):
    x = randn((3, 4), device)
    np.testing.assert_array_equal(gc.pad(x, pad_width, constant_values=-1.5).numpy(),
                                  np.pad(x.numpy(), pad_width, constant_values=-1.5))
    f = lambda t: gc.pad(t, pad_width, constant_values=2.0) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_dtypes_kept(dtype, device):
    x = gc.tensor([[1.0, 2.0]], dtype=dtype, device=device, requires_grad=True)
    for y in (gc.repeat(x, 2), gc.tile(x, (2, 1)), gc.pad(x, 1)):
        assert y.dtype == np.dtype(dtype)
        y.sum().backward()
        assert x.grad.dtype == np.dtype(dtype)


def test_errors(device):
    x = gc.zeros((2, 3), device=device)
    with pytest.raises(TypeError, match=r"Tensor.repeat follows NumPy.*use gc.tile"):
        x.repeat(2, 3)  # PyTorch's tiling form: refused, not a silent repeat along axis 3
    with pytest.raises(ValueError, match="repeat: 2 repeat counts for axis 1 of size 3"):
        gc.repeat(x, [1, 2], axis=1)
    with pytest.raises(ValueError, match="repeat: repeats must be non-negative integers"):
        gc.repeat(x, -1)
    with pytest.raises(ValueError, match="tile: reps must be non-negative"):
        gc.tile(x, (-1, 1))
    with pytest.raises(NotImplementedError, match="pad: mode='reflect'"):
        gc.pad(x, 1, mode="reflect")
    with pytest.raises(ValueError, match="pad: pad_width"):
        gc.pad(x, ((1, 2), (3, 4), (5, 6)))
    with pytest.raises(ValueError, match="pad: pad_width must be non-negative"):
        gc.pad(x, -1)
