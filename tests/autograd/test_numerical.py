"""numerical_grad (central vs forward differences) and gradcheck (success, a precise error for a
wrong gradient, float32 refused)."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import noncontig, randn


def _f(x):
    return (gc.exp(x) * gc.sin(x)).sum()


def _true_grad(a):
    return np.exp(a) * (np.sin(a) + np.cos(a))


def test_central_is_much_more_accurate_than_forward(device):
    x = randn((5,), device)
    exact = _true_grad(x.numpy())
    central, = gc.numerical_grad(_f, x, eps=1e-4)
    forward, = gc.numerical_grad(_f, x, eps=1e-4, method="forward")
    err_central = np.abs(central - exact).max()
    err_forward = np.abs(forward - exact).max()
    assert err_forward > 1e-6  # O(eps): about eps * f'' / 2
    assert err_central < err_forward / 100  # O(eps ** 2)
    default, = gc.numerical_grad(_f, x)
    np.testing.assert_allclose(default, exact, rtol=1e-8)


def test_numerical_grad_several_inputs_shapes_and_layouts(device):
    a, b = randn((2, 3), device, seed=1), randn((3,), device, seed=2)
    ga, gb = gc.numerical_grad(lambda x, y: (x * y).sum(), a, b)
    np.testing.assert_allclose(ga, np.broadcast_to(b.numpy(), (2, 3)), rtol=1e-8)
    np.testing.assert_allclose(gb, a.numpy().sum(0), rtol=1e-8)
    w = np.arange(6.0).reshape(3, 2)
    for kind in ("strided", "transposed"):  # perturbations must reach every element
        t = noncontig(np.arange(1.0, 7.0).reshape(3, 2), device, kind)
        g, = gc.numerical_grad(lambda x: (x * x * gc.tensor(w, device=device)).sum(), t)
        np.testing.assert_allclose(g, 2 * t.numpy() * w, rtol=1e-8, atol=1e-8)
    idx = gc.tensor([0, 1], device=device)
    g, none = gc.numerical_grad(lambda x, i: x[i].sum(), a, idx)  # integer inputs: no gradient
    assert none is None
    np.testing.assert_allclose(g, [[1, 1, 1], [1, 1, 1]], rtol=1e-8)


def test_numerical_grad_errors(device):
    x = randn((2,), device)
    with pytest.raises(ValueError, match="one element"):
        gc.numerical_grad(lambda z: z * 2, x)
    with pytest.raises(ValueError, match="method"):
        gc.numerical_grad(_f, x, method="backward")


def test_gradcheck_passes_for_correct_ops(device):
    x, y = randn((2, 3), device, seed=1), randn((3,), device, seed=2)
    assert gc.gradcheck(lambda a, b: gc.tanh(a * b) @ b, (x, y)) is True
    assert gc.gradcheck(gc.sin, x) is True  # a single input need not be in a tuple


class _WrongSquare(gc.Function):
    """x ** 2 with a deliberately wrong backward: 2x everywhere except element 2, which is off by
    one."""

    saves = (0,)

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x, = self.saved_tensors()
        bump = np.zeros(x.shape)
        bump[2] = 1.0
        return gy * 2 * x + gc.tensor(bump, device=x.device)


def test_gradcheck_names_input_element_and_both_values(device):
    x = gc.tensor([0.5, -1.0, 2.0, 3.0], dtype="float64", device=device)
    other = randn((4,), device, seed=3)
    with pytest.raises(gc.GradcheckError) as info:
        gc.gradcheck(lambda a, b: (_WrongSquare()(b) * a).sum(), (other, x))
    message = str(info.value)
    assert "input 1" in message and "(4,)" in message and "element (2,)" in message
    # both values, as plain numbers: the 0-d output is projected on u (gradcheck's seed 0), so
    # the true gradient at x[2] = 2 is u * a[2] * 2 * x[2], and the wrong rule adds 1 to it
    analytic, numerical = (float(s.split()[0]) for s in
                           message.split("analytic ")[1].split(" vs numerical "))
    u = float(np.random.default_rng(0).standard_normal(()))
    true = u * other.numpy()[2] * 2 * 2.0
    assert analytic == pytest.approx(true + 1, rel=1e-12)
    assert numerical == pytest.approx(true, rel=1e-6)
    assert isinstance(info.value, AssertionError)


class _WrongShape(gc.Function):
    """x * c with c broadcast over rows, whose backward forgets to sum c's gradient back."""

    saves = (0, 1)

    def forward(self, x, c):
        return x * c

    def backward(self, gy):
        x, c = self.saved_tensors()
        return gy * c, gy * x


def test_gradcheck_reports_a_wrongly_shaped_gradient(device):
    x, c = randn((2, 3), device, seed=1), randn((3,), device, seed=2)
    with pytest.raises(gc.GradcheckError, match=r"input 1 has shape \(2, 3\).*\(3,\)"):
        gc.gradcheck(lambda a, b: _WrongShape()(a, b), (x, c))


def test_gradcheck_refuses_float32(device):
    with pytest.raises(TypeError, match="float64"):
        gc.gradcheck(gc.sin, (gc.ones(3, device=device),))
    with pytest.raises(TypeError, match="input 1 has dtype float32"):
        gc.gradcheck(gc.mul, (gc.ones(3, dtype="float64", device=device),
                              gc.ones(3, device=device)))
