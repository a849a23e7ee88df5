"""gc.linalg.svd: values vs numpy.linalg.svd, gradients of S, U and Vh (through losses that do
not depend on the sign choices), second order, forward mode, square/tall/wide/batched, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck

SHAPES = [(3, 3), (4, 2), (2, 4), (2, 3, 2)]


def _x(shape, device, seed=0):
    return gc.tensor(np.random.default_rng(seed).standard_normal(shape), device=device)


def _losses(x):
    u, _, vh = gc.linalg.svd(x)
    rng = np.random.default_rng(5)
    wu = gc.tensor(rng.standard_normal(u.shape), device=x.device)
    wv = gc.tensor(rng.standard_normal(vh.shape), device=x.device)
    return {
        "S": lambda t: gc.linalg.svd(t, compute_uv=False),
        "U": lambda t: gc.linalg.svd(t)[0] ** 2 * wu,  # column signs cancel
        "Vh": lambda t: gc.linalg.svd(t)[2] ** 2 * wv,
        "U Vh": lambda t: gc.matmul(gc.linalg.svd(t)[0], gc.linalg.svd(t)[2]),
        "all": lambda t: gc.linalg.svd(t)[0] ** 2 * wu + gc.linalg.svd(t)[1].sum(),
    }


@pytest.mark.parametrize("loss", ["S", "U", "Vh", "U Vh", "all"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gradients(shape, loss, device):
    x = _x(shape, device)
    f = _losses(x)[loss]
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))
    assert gradcheck2(f, (x,))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_values(shape, device):
    x = _x(shape, device, seed=1)
    u, s, vh = gc.linalg.svd(x)
    ru, rs, rvh = np.linalg.svd(x.numpy(), full_matrices=False)
    np.testing.assert_allclose(s.numpy(), rs, rtol=1e-12)
    assert u.shape == ru.shape and vh.shape == rvh.shape
    np.testing.assert_allclose((u.numpy() * s.numpy()[..., None, :]) @ vh.numpy(), x.numpy(),
                               rtol=1e-12, atol=1e-13)
    if shape[-1] == shape[-2]:  # full and reduced agree for square matrices: both accepted
        np.testing.assert_allclose(gc.linalg.svd(x, full_matrices=True)[1].numpy(), rs,
                                   rtol=1e-12)


def test_singular_values_have_a_gradient_at_repeated_values(device):
    x = gc.tensor(np.eye(3) * 2.0, device=device, requires_grad=True)
    gc.linalg.svd(x, compute_uv=False).sum().backward()  # d(sum s) = U V^T
    np.testing.assert_allclose(x.grad.numpy(), np.eye(3), rtol=1e-12)


def test_float32_and_errors(device):
    x = gc.tensor([[3.0, 0.0], [0.0, 1.0]], device=device, requires_grad=True)
    s = gc.linalg.svd(x, compute_uv=False)
    assert s.dtype == np.float32
    s.sum().backward()
    assert x.grad.dtype == np.float32
    with pytest.raises(NotImplementedError, match="svd: full_matrices=True is not supported"):
        gc.linalg.svd(gc.zeros((2, 3), device=device), full_matrices=True)
    with pytest.raises(ValueError, match="svd: needs a tensor of at least 2 dimensions"):
        gc.linalg.svd(gc.zeros(3, device=device))
    with pytest.raises(TypeError, match="svd: needs a floating-point tensor"):
        gc.linalg.svd(gc.tensor([[1, 2]], device=device))
