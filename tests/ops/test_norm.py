"""gc.linalg.norm: vector and matrix norms vs numpy.linalg.norm, gradients, second order,
forward mode, the zero-vector subgradient and the errors."""
import math

import numpy as np
import pytest

import gradcore as gc
from tests.helpers import away_from_zero, gradcheck2, jvpcheck

VECTOR_ORDS = [None, 2, 1, math.inf, -math.inf, 3, 1.5, 0.5]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1], ids=str)
@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
def test_vector_norms(ord, axis, keepdims, device):
    x = away_from_zero((3, 4), device, seed=1)  # distinct |x|: no ties in the inf norms
    f = lambda t: gc.linalg.norm(t, ord, axis, keepdims)  # noqa: E731
    ref = np.linalg.norm(x.numpy(), ord, axis, keepdims)
    np.testing.assert_allclose(f(x).numpy(), ref, rtol=1e-13)
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))
    if ord not in (math.inf, -math.inf):  # max/min: second derivative 0, checked elsewhere
        assert gradcheck2(f, (x,))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, (0, 1), (1, 0), (-1, -2)], ids=str)
@pytest.mark.parametrize("ord", [None, "fro", 1, -1, math.inf, -math.inf], ids=str)
def test_matrix_norms(ord, axis, keepdims, device):
    x = away_from_zero((3, 4), device, seed=2)
    f = lambda t: gc.linalg.norm(t, ord, axis, keepdims)  # noqa: E731
    np.testing.assert_allclose(f(x).numpy(), np.linalg.norm(x.numpy(), ord, axis, keepdims),
                               rtol=1e-13)
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))


def test_batched_matrix_and_flattened(device):
    x = away_from_zero((2, 3, 4), device, seed=3)
    np.testing.assert_allclose(gc.linalg.norm(x).numpy(), np.linalg.norm(x.numpy()), rtol=1e-13)
    np.testing.assert_allclose(gc.linalg.norm(x, 1, (1, 2)).numpy(),
                               np.linalg.norm(x.numpy(), 1, (1, 2)), rtol=1e-13)
    assert gradcheck2(lambda t: gc.linalg.norm(t, "fro", (1, 2)), (x,))


def test_zero_vector_subgradient_is_zero(device):
    """The documented choice (PyTorch's): 0, where x / ||x|| would be nan."""
    for ord in (None, 2, 3, 1.5):
        x = gc.zeros((2, 3), dtype="float64", device=device, requires_grad=True)
        gc.linalg.norm(x, ord, axis=1).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)), err_msg=str(ord))
    x = gc.tensor([[0.0, 0.0], [3.0, 4.0]], dtype="float64", device=device, requires_grad=True)
    _, t = gc.jvp(lambda z: gc.linalg.norm(z, axis=1), (x,), (gc.ones_like(x),))
    np.testing.assert_allclose(t.numpy(), [0.0, 1.4], rtol=1e-15)


def test_inf_norm_ties_share(device):
    x = gc.tensor([3.0, -3.0, 1.0], dtype="float64", device=device, requires_grad=True)
    gc.linalg.norm(x, math.inf).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, -0.5, 0.0])


def test_count_norm_and_float32(device):
    x = gc.tensor([0.0, 2.0, -1.0], device=device, requires_grad=True)
    assert gc.linalg.norm(x, 0).item() == 2.0
    y = gc.linalg.norm(x)
    assert y.dtype == np.float32
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.array([0.0, 2.0, -1.0]) / np.sqrt(5), rtol=1e-6)


def test_errors(device):
    x = gc.ones((2, 3), device=device)
    with pytest.raises(NotImplementedError, match="norm: matrix ord='nuc' needs singular"):
        gc.linalg.norm(x, "nuc")
    with pytest.raises(ValueError, match="norm: ord='fro' is not supported for vectors"):
        gc.linalg.norm(x, "fro", axis=1)
    with pytest.raises(ValueError, match="norm: ord=1 with axis=None needs a 1-D or 2-D"):
        gc.linalg.norm(gc.ones((2, 2, 2), device=device), 1)
    with pytest.raises(ValueError, match="norm: axis 2 is out of range"):
        gc.linalg.norm(x, axis=2)
