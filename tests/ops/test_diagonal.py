"""diagonal, trace, diag, tril, triu: values vs NumPy, gradients, second order, forward mode."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, randn

DIAGONALS = [(0, 0, 1), (1, 0, 1), (-2, 1, 2), (0, 2, 0), (3, 1, 2), (-1, -1, 0), (9, 0, 1)]


@pytest.mark.parametrize("offset, axis1, axis2", DIAGONALS, ids=str)
def test_diagonal_and_trace(offset, axis1, axis2, device):
    x = randn((3, 4, 5), device)
    y = gc.diagonal(x, offset, axis1, axis2)
    ref = np.diagonal(x.numpy(), offset, axis1, axis2)
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y.numpy(), ref)
    np.testing.assert_array_equal(x.diagonal(offset, axis1, axis2).numpy(), ref)
    np.testing.assert_allclose(gc.trace(x, offset, axis1, axis2).numpy(),
                               np.trace(x.numpy(), offset, axis1, axis2), rtol=1e-13)
    np.testing.assert_allclose(x.trace(offset, axis1, axis2).numpy(),
                               np.trace(x.numpy(), offset, axis1, axis2), rtol=1e-13)
    for f in (lambda t: gc.diagonal(t, offset, axis1, axis2) ** 2,
              lambda t: gc.trace(t, offset, axis1, axis2) * gc.trace(t, offset, axis1, axis2)):
        assert gc.gradcheck(f, (x,))
        assert jvpcheck(f, (x,))
        assert gradcheck2(f, (x,))


def test_diagonal_output_is_writable(device):
    y = gc.diagonal(randn((2, 2), device))
    y += 1.0  # NumPy's diagonal is a read-only view; this one is a copy


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(k, device):
    v, m = randn((3,), device), randn((3, 4), device, seed=1)
    np.testing.assert_array_equal(gc.diag(v, k).numpy(), np.diag(v.numpy(), k))
    np.testing.assert_array_equal(gc.diag(m, k).numpy(), np.diag(m.numpy(), k))
    for x in (v, m):
        f = lambda t: gc.diag(t, k) ** 2  # noqa: E731
        assert gc.gradcheck(f, (x,))
        assert jvpcheck(f, (x,))
        assert gradcheck2(f, (x,))


@pytest.mark.parametrize("k", [0, 1, -1, 5])
@pytest.mark.parametrize("name", ["tril", "triu"])
def test_triangles(name, k, device):
    fn, ref = getattr(gc, name), getattr(np, name)
    x = randn((2, 3, 4), device)
    np.testing.assert_array_equal(fn(x, k).numpy(), ref(x.numpy(), k))
    f = lambda t: fn(t, k) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))
    assert gradcheck2(f, (x,))


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_dtypes(dtype, device):
    x = gc.tensor(np.ones((3, 3)), dtype=dtype, device=device, requires_grad=True)
    for y in (gc.diagonal(x), gc.trace(x), gc.diag(gc.diagonal(x)), gc.tril(x), gc.triu(x, 1)):
        assert y.dtype == np.dtype(dtype)
        y.sum().backward()
        assert x.grad.dtype == np.dtype(dtype)


def test_errors(device):
    v = gc.zeros(3, device=device)
    with pytest.raises(ValueError, match="diagonal: needs a tensor of at least 2 dimensions"):
        gc.diagonal(v)
    with pytest.raises(ValueError, match="diagonal: axis1 and axis2 are the same axis"):
        gc.diagonal(gc.zeros((2, 2), device=device), 0, 1, -1)
    with pytest.raises(ValueError, match=r"diag: needs a 1-D or 2-D tensor, got shape \(1, 1, 1\)"):
        gc.diag(gc.zeros((1, 1, 1), device=device))
    with pytest.raises(ValueError, match="tril: needs a tensor of at least 2 dimensions"):
        gc.tril(v)
