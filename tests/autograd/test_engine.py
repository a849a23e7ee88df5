"""The reverse pass (gradcore/autograd/engine.py) and the tape bookkeeping it relies on: depth,
accumulation, release of saved arrays, no_grad, detach, error messages, in-place detection."""
import gc as pygc
import math
import weakref

import numpy as np
import pytest

import gradcore as gc
from gradcore import backend


def _x(values, device):
    return gc.tensor(values, dtype="float64", device=device, requires_grad=True)


def test_chain_100000_ops_deep(device):
    x = _x(1.0, device)
    y = x
    for _ in range(100_000):
        y = y * 1.000001  # Mul saves its inputs: every node is visited and released
    y.backward()  # an explicit stack: no RecursionError
    assert x.grad.item() == pytest.approx(1.000001 ** 100_000, rel=1e-9)


def test_gradients_accumulate_into_leaves(device):
    x = _x([1.0, 2.0], device)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_only_leaves_get_grad(device):
    x = _x([1.0, 2.0], device)
    h = x * 2
    assert x.is_leaf and not h.is_leaf and h.grad_fn is not None
    (h * h).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0])


def test_saved_arrays_released_and_second_backward_raises(device):
    x = _x([1.0, 2.0], device)
    h = x * 2
    y = (h * h).sum()  # Mul saves h
    ref = weakref.ref(h)
    del h
    pygc.collect()
    assert ref() is not None  # kept alive by the Mul node for backward
    y.backward()
    pygc.collect()
    assert ref() is None  # released after backward
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0])  # untouched by the failed call


def test_saved_output_released_too(device):
    x = _x([0.5], device)
    y = gc.exp(x).sum()  # Exp saves its output
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = _x([1.0, 2.0], device)
    h = x * 2
    y = (h * h).sum()
    ref = weakref.ref(h)
    del h
    y.backward(retain_graph=True)
    pygc.collect()
    assert ref() is not None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [16.0, 32.0])


def test_no_grad_records_nothing(device):
    x = _x([1.0, 2.0], device)
    with gc.no_grad():
        assert not gc.is_grad_enabled()
        y = (x * x).sin().sum()
        with gc.enable_grad():
            z = x * 2
    assert gc.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad and z.grad_fn is not None

    @gc.no_grad()
    def f(t):
        return t * t

    assert not f(x).requires_grad
    with gc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach(device):
    x = _x([1.0, 2.0], device)
    h = x * 3
    d = h.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    np.testing.assert_array_equal(d.numpy(), h.numpy())
    if device == "cpu":
        assert np.shares_memory(d.array, h.array)
    (h * d).sum().backward()  # d is a constant: d(h * d)/dx = 3 * d
    np.testing.assert_allclose(x.grad.numpy(), [9.0, 18.0])


def test_backward_argument_errors(device):
    x = _x([1.0, 2.0], device)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"one-element.*\(2,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\).*\(2,\)"):
        y.backward(gc.ones(3, device=device))
    y.backward(gradient=gc.tensor([1.0, 10.0], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        gc.tensor([1.0], device=device).sum().backward()
    (x[0:1] * 1).backward()  # a one-element non-0-d output needs no gradient


def test_requires_grad_needs_a_floating_dtype(device):
    with pytest.raises(TypeError, match="floating"):
        gc.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        gc.arange(3, device=device).requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        gc.ones(2, dtype="bool", device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (_x([1.0], device) * 2).requires_grad_(False)


def test_mixing_devices_raises_with_a_fake_device():
    # A second Device object backed by NumPy stands in for a GPU: the check is identity-based.
    fake = backend.Device("cuda", 7, np)
    a = gc.tensor([1.0, 2.0])
    b = gc.Tensor._make(np.array([3.0, 4.0]), fake, False, None, 0)
    with pytest.raises(RuntimeError, match=r"one device.*cpu.*cuda:7"):
        a + b
    with pytest.raises(RuntimeError, match="one device"):
        gc.matmul(b, a)


@pytest.mark.gpu
@pytest.mark.skipif(not gc.cuda.is_available(), reason="needs a GPU")
def test_mixing_real_devices_raises():
    with pytest.raises(RuntimeError, match="one device"):
        gc.ones(2, device="cpu") * gc.ones(2, device="cuda")


def test_inplace_change_of_a_saved_input_is_detected(device):
    x = _x([1.0, 2.0], device)
    y = (x * x).sum()  # Mul saves x
    with gc.no_grad():
        x.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_change_of_a_saved_output_is_detected(device):
    x = _x([1.0, 2.0], device)
    s = x.sigmoid()  # Sigmoid saves its output
    y = (s * 2).sum()
    with gc.no_grad():
        s.mul_(0.5)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_change_of_an_unsaved_input_is_fine(device):
    x = _x([1.0, 2.0], device)
    y = (x + 1).sum()  # Add saves nothing
    with gc.no_grad():
        x.add_(1)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_inplace_on_a_leaf_while_recording_raises(device):
    x = _x([1.0, 2.0], device)
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(1.0),
               lambda: x.__setitem__(0, 5.0), lambda: x.copy_(x.detach())):
        with pytest.raises(RuntimeError, match="in-place"):
            op()


def test_diamond_graph_sums_both_branches(device):
    x = _x([0.5, -1.0], device)
    a = x.sin()
    b = x * x
    y = (a * b + a + b).sum()  # x reaches y through a and b, and a, b through two paths each
    y.backward()
    v = x.numpy()
    expected = np.cos(v) * v * v + np.sin(v) * 2 * v + np.cos(v) + 2 * v
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


def test_wide_fan_out(device):
    x = _x([2.0], device)
    total = x * 0
    for k in range(1, 51):
        total = total + x * k
    total.sum().backward()
    assert x.grad.item() == sum(range(1, 51))


def test_create_graph_gives_differentiable_grad(device):
    x = _x([1.5], device)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy(), [3 * 1.5 ** 2])
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6 * 1.5])


def test_detect_anomaly_names_the_op(device):
    x = _x([1.0, -1.0], device)
    with gc.detect_anomaly():
        assert gc.is_anomaly_enabled()
        with pytest.raises(FloatingPointError, match="Sqrt produced nan in its forward"):
            with np.errstate(invalid="ignore"):
                gc.sqrt(x)
        z = gc.tensor([0.0], dtype="float64", device=device, requires_grad=True)
        y = gc.sqrt(z).sum()  # a finite forward, but d sqrt(u)/du at u = 0 is inf
        assert math.isfinite(y.item())
        with pytest.raises(FloatingPointError, match="produced inf"):
            with np.errstate(divide="ignore"):
                y.backward()
    assert not gc.is_anomaly_enabled()
