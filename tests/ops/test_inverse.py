"""gc.linalg inv, det, slogdet, solve: values vs numpy.linalg, gradients vs finite differences,
second order, forward mode, batches and broadcasting, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck


def _well_conditioned(shape, device, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape) + 3 * np.eye(shape[-1])
    return gc.tensor(a, device=device)


def _rand(shape, device, seed=1):
    return gc.tensor(np.random.default_rng(seed).standard_normal(shape), device=device)


def _logabsdet(t):
    return gc.linalg.slogdet(t)[1]


UNARY = {"inv": (gc.linalg.inv, np.linalg.inv), "det": (gc.linalg.det, np.linalg.det),
         "slogdet": (_logabsdet, lambda a: np.linalg.slogdet(a)[1])}


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 1, 2, 2)], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary(name, shape, device):
    fn, ref = UNARY[name]
    x = _well_conditioned(shape, device)
    np.testing.assert_allclose(fn(x).numpy(), ref(x.numpy()), rtol=1e-12, atol=1e-14)
    assert gc.gradcheck(fn, (x,))
    assert jvpcheck(fn, (x,))
    assert gradcheck2(fn, (x,))


def test_slogdet_sign_and_negative_determinant(device):
    x = gc.tensor([[0.0, 2.0], [3.0, 0.0]], dtype="float64", device=device, requires_grad=True)
    sign, logabs = gc.linalg.slogdet(x)
    assert sign.item() == -1.0
    np.testing.assert_allclose(logabs.item(), np.log(6.0), rtol=1e-15)
    logabs.backward()  # d log|det| / dX = inv(X)^T, whatever the sign
    np.testing.assert_allclose(x.grad.numpy(), np.linalg.inv(x.numpy()).T, rtol=1e-15)
    # slogdet does not overflow where det does
    big = gc.tensor(np.eye(3) * 1e200, device=device)
    with np.errstate(over="ignore"):
        assert np.isinf(gc.linalg.det(big).item())
    np.testing.assert_allclose(gc.linalg.slogdet(big)[1].item(), 3 * np.log(1e200), rtol=1e-15)


SOLVE = [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)), ((2, 3, 3), (3, 1)),
         ((3, 3), (2, 3, 2)), ((1, 3, 3), (2, 3, 2))]


@pytest.mark.parametrize("sa, sb", SOLVE, ids=str)
def test_solve(sa, sb, device):
    a, b = _well_conditioned(sa, device), _rand(sb, device)
    np.testing.assert_allclose(gc.linalg.solve(a, b).numpy(), np.linalg.solve(a.numpy(), b.numpy()),
                               rtol=1e-12, atol=1e-14)
    assert gc.gradcheck(gc.linalg.solve, (a, b))
    assert jvpcheck(gc.linalg.solve, (a, b))
    assert gradcheck2(gc.linalg.solve, (a, b))


@pytest.mark.parametrize("dtype", ["float32"])
def test_float32(dtype, device):
    x = gc.tensor(np.eye(2) * 2.0, dtype=dtype, device=device, requires_grad=True)
    for y in (gc.linalg.inv(x), gc.linalg.det(x), gc.linalg.slogdet(x)[1],
              gc.linalg.solve(x, gc.ones(2, dtype=dtype, device=device))):
        assert y.dtype == np.dtype(dtype)
        y.sum().backward()
        assert x.grad.dtype == np.dtype(dtype)


def test_errors(device):
    with pytest.raises(ValueError, match=r"inv: needs square matrices .* shape \(2, 3\)"):
        gc.linalg.inv(gc.zeros((2, 3), device=device))
    with pytest.raises(TypeError, match="det: needs a floating-point tensor, got dtype int64"):
        gc.linalg.det(gc.tensor([[1, 2], [3, 4]], device=device))
    with pytest.raises(TypeError, match="inv: float16 is not supported"):
        gc.linalg.inv(gc.ones((2, 2), dtype="float16", device=device))
    with pytest.raises(ValueError, match=r"solve: b of shape \(2,\) does not match a of shape"):
        gc.linalg.solve(gc.ones((3, 3), device=device), gc.ones(2, device=device))
    with pytest.raises(ValueError, match="solve: batch axes"):
        gc.linalg.solve(gc.ones((2, 3, 3), device=device), gc.ones((4, 3, 1), device=device))


def test_singular_matrix_raises_naming_the_op():
    with pytest.raises(np.linalg.LinAlgError, match="inv: Singular matrix"):
        gc.linalg.inv(gc.zeros((2, 2)))
