"""gc.autograd.grad / gc.autograd.backward: PyTorch's signatures over the engine."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.autograd.numerical import numerical_grad


def _f(x, w):
    return ((x @ w).tanh() ** 2).sum()


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = gc.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = gc.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    return x, w


def test_grad_equals_backward_and_leaves_dot_grad_alone():
    x, w = _inputs()
    gx, gw = gc.autograd.grad(_f(x, w), [x, w])
    assert x.grad is None and w.grad is None
    _f(x, w).backward()
    np.testing.assert_array_equal(gx.numpy(), x.grad.numpy())
    np.testing.assert_array_equal(gw.numpy(), w.grad.numpy())


def test_grad_matches_finite_differences_and_second_order():
    x, w = _inputs(1)
    (gx,) = gc.autograd.grad(_f(x, w), x, create_graph=True)
    (num,) = numerical_grad(lambda a: _f(a, w.detach()), x.detach())
    np.testing.assert_allclose(gx.numpy(), num, rtol=1e-6, atol=1e-8)
    # d/dw of sum(gx): differentiate the gradient again, against finite differences of it
    (ggw,) = gc.autograd.grad(gx.sum(), w)

    def first(wa):  # finite differences evaluate with recording off: switch it back on
        with gc.enable_grad():
            xx = x.detach().requires_grad_()
            return gc.autograd.grad(_f(xx, wa), xx)[0].sum()

    (num2,) = numerical_grad(first, w.detach())
    np.testing.assert_allclose(ggw.numpy(), num2, rtol=1e-5, atol=1e-7)


def test_grad_outputs_for_a_non_scalar_output_and_the_error_without():
    x, _ = _inputs()
    y = x * 3.0
    with pytest.raises(RuntimeError, match=r"autograd.grad: gradient can be omitted.*\(3, 4\)"):
        gc.autograd.grad(y, x, retain_graph=True)
    v = gc.ones(3, 4, dtype=gc.float64) * 2.0
    (gx,) = gc.autograd.grad(y, x, grad_outputs=v)
    np.testing.assert_array_equal(gx.numpy(), np.full((3, 4), 6.0))


def test_unused_input_raises_unless_allowed():
    x, w = _inputs()
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"inputs\[1\].*not used.*allow_unused"):
        gc.autograd.grad(y, [x, w], retain_graph=True)
    gx, gw = gc.autograd.grad(y, [x, w], allow_unused=True, retain_graph=True)
    assert gw is None
    _, gw = gc.autograd.grad(y, [x, w], materialize_grads=True)
    np.testing.assert_array_equal(gw.numpy(), np.zeros((4, 2)))


def test_retain_graph_defaults_to_create_graph():
    x, _ = _inputs()
    y = (x.exp()).sum()
    gc.autograd.grad(y, x)
    with pytest.raises(RuntimeError):  # the graph was released
        gc.autograd.grad(y, x)


def test_bad_arguments_name_the_op():
    x, _ = _inputs()
    with pytest.raises(TypeError, match=r"autograd.grad: inputs\[0\] must be a Tensor"):
        gc.autograd.grad((x * 2).sum(), [np.ones(2)])
    with pytest.raises(RuntimeError, match=r"autograd.grad: inputs\[0\].*does not require grad"):
        gc.autograd.grad((x * 2).sum(), gc.ones(2))
    with pytest.raises(RuntimeError, match=r"autograd.backward: outputs\[0\].*does not require"):
        gc.autograd.backward(gc.ones(2).sum())
    with pytest.raises(ValueError, match="2 outputs but 1 gradients"):
        gc.autograd.backward([x.sum(), x.sum()], [gc.tensor(1.0)])


def test_backward_accumulates_several_roots_and_restricts_to_inputs():
    x, w = _inputs()
    gc.autograd.backward([_f(x, w), (x * x).sum()])
    ref_x, ref_w = _inputs()
    _f(ref_x, ref_w).backward()
    (ref_x * ref_x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), ref_w.grad.numpy(), rtol=1e-12)
    x2, w2 = _inputs()
    gc.autograd.backward(_f(x2, w2), inputs=[w2])
    assert x2.grad is None
    np.testing.assert_allclose(w2.grad.numpy(), ref_w.grad.numpy(), rtol=1e-12)


def test_set_detect_anomaly_is_per_call_and_restored():
    assert not gc.is_anomaly_enabled()
    with gc.autograd.set_detect_anomaly(True):
        assert gc.is_anomaly_enabled()
        with pytest.raises(FloatingPointError, match="Log"):
            gc.log(gc.tensor([-1.0]))
    assert not gc.is_anomaly_enabled()
