"""gc.linalg cholesky and eigh: values vs numpy.linalg, gradients along symmetric inputs (the
documented convention), second order, forward mode, degenerate cases, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck


def _sym(t):
    return (t + gc.swapaxes(t, -1, -2)) / 2


def _spd(t):
    n = t.shape[-1]
    return gc.matmul(t, gc.swapaxes(t, -1, -2)) + 3 * gc.tensor(np.eye(n), device=t.device)


def _x(shape, device, seed=0):
    return gc.tensor(np.random.default_rng(seed).standard_normal(shape), device=device)


WEIGHTS = np.arange(9.0).reshape(3, 3) - 4.0
CASES = {
    "cholesky": lambda t: gc.linalg.cholesky(_spd(t)),
    "cholesky of sym": lambda t: gc.linalg.cholesky(_sym(t) + 4 * gc.tensor(np.eye(3),
                                                                           device=t.device)),
    "eigh values": lambda t: gc.linalg.eigh(_sym(t))[0],
    "eigh vectors": lambda t: gc.linalg.eigh(_sym(t))[1] ** 2,  # V's signs are arbitrary
    "eigh both": lambda t: gc.linalg.eigh(_sym(t))[0][..., None] * gc.tensor(
        WEIGHTS, device=t.device) * gc.linalg.eigh(_sym(t))[1] ** 2,
}


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)], ids=str)
@pytest.mark.parametrize("name", CASES)
def test_gradients(name, shape, device):
    f = CASES[name]
    x = _x(shape, device)
    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))
    assert gradcheck2(f, (x,))


def test_values(device):
    a = _spd(_x((2, 3, 3), device)).numpy()
    x = gc.tensor(a, device=device)
    np.testing.assert_allclose(gc.linalg.cholesky(x).numpy(), np.linalg.cholesky(a), rtol=1e-12)
    w, v = gc.linalg.eigh(x)
    rw, rv = np.linalg.eigh(a)
    np.testing.assert_allclose(w.numpy(), rw, rtol=1e-12)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(rv), rtol=1e-10, atol=1e-12)
    vn = v.numpy()
    np.testing.assert_allclose((vn * w.numpy()[..., None, :]) @ np.swapaxes(vn, -1, -2), a,
                               rtol=1e-12)


def test_gradients_are_symmetric(device):
    x = gc.tensor(_spd(_x((3, 3), device)).numpy(), device=device, requires_grad=True)
    (gc.linalg.cholesky(x) * gc.tensor(WEIGHTS, device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x.grad.numpy().T, rtol=1e-12)
    x.grad = None
    (gc.linalg.eigh(x)[1] ** 2 * gc.tensor(WEIGHTS, device=device)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x.grad.numpy().T, rtol=1e-10, atol=1e-12)


def test_repeated_eigenvalues(device):
    x = gc.tensor(np.eye(3) * 2.0, device=device, requires_grad=True)
    w, v = gc.linalg.eigh(x)
    (w * gc.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()  # eigenvalues alone: a gradient everywhere
    np.testing.assert_allclose(np.trace(x.grad.numpy()), 6.0, rtol=1e-12)
    x.grad = None
    w, v = gc.linalg.eigh(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        (v * gc.tensor(WEIGHTS, device=device)).sum().backward()
    assert not np.isfinite(x.grad.numpy()).all()  # documented: undefined, not a made-up value


def test_float32_and_errors(device):
    x = gc.tensor([[4.0, 2.0], [2.0, 5.0]], device=device, requires_grad=True)
    lo = gc.linalg.cholesky(x)
    assert lo.dtype == np.float32
    lo.sum().backward()
    assert x.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"eigh: needs square matrices"):
        gc.linalg.eigh(gc.zeros((2, 3), device=device))


def test_not_positive_definite_raises_naming_the_op():
    with pytest.raises(np.linalg.LinAlgError, match="cholesky: Matrix is not positive definite"):
        gc.linalg.cholesky(gc.tensor([[1.0, 2.0], [2.0, 1.0]]))
