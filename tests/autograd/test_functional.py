"""grad, value_and_grad, vjp, jvp, hvp: against each other and against finite differences."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import randn


def _mlp_inputs(device):
    return (randn((3, 4), device, seed=1), randn((4, 5), device, seed=2),
            randn((5,), device, seed=3), randn((5, 3), device, seed=4))


def _mlp(x, w1, b1, w2):
    """A non-trivial composition: matmul, broadcasting, tanh, softmax, indexing, reductions."""
    h = gc.tanh(x @ w1 + b1)
    p = gc.softmax(h @ w2, axis=-1)
    picked = p[gc.tensor([0, 1, 2], device=x.device), gc.tensor([2, 0, 2], device=x.device)]
    return gc.stack([picked.sum(), gc.max(h, axis=0).mean(), (h * h).var(axis=1).sum()]) \
        + gc.log_softmax(h.sum(axis=0, keepdims=True) @ w2)[0, :3]


def _numeric_grad_of(f_grad, x, v, eps=1e-6):
    """Central difference of a gradient function along v: an approximation of H v."""
    plus = f_grad(gc.tensor(x.numpy() + eps * v.numpy(), device=x.device)).numpy()
    minus = f_grad(gc.tensor(x.numpy() - eps * v.numpy(), device=x.device)).numpy()
    return (plus - minus) / (2 * eps)


def test_grad_and_value_and_grad(device):
    f = lambda x, y: (x * x * y).sum()  # noqa: E731
    x, y = randn((3,), device, seed=1), randn((3,), device, seed=2)
    np.testing.assert_allclose(gc.grad(f)(x, y).numpy(), 2 * x.numpy() * y.numpy())
    np.testing.assert_allclose(gc.grad(f, argnums=1)(x, y).numpy(), x.numpy() ** 2)
    gx, gy = gc.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gy.numpy(), x.numpy() ** 2)
    value, (gx2,) = gc.value_and_grad(f, argnums=(0,))(x, y)
    np.testing.assert_allclose(value.item(), f(x, y).item())
    np.testing.assert_array_equal(gx2.numpy(), gx.numpy())
    assert not value.requires_grad and not gx.requires_grad
    assert x.grad is None and not x.requires_grad  # the arguments are not touched


def test_has_aux(device):
    def f(x):
        y = (x ** 2).sum()
        return y, {"double": x * 2}

    x = randn((2,), device)
    g, aux = gc.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    np.testing.assert_allclose(aux["double"].numpy(), 2 * x.numpy())
    (value, aux2), g2 = gc.value_and_grad(f, has_aux=True)(x)
    assert value.item() == pytest.approx((x.numpy() ** 2).sum())
    np.testing.assert_array_equal(g2.numpy(), g.numpy())


def test_grad_of_unused_or_constant_input_is_zero(device):
    x, y = randn((2,), device, seed=1), randn((3,), device, seed=2)
    gx, gy = gc.grad(lambda a, b: (a * 2).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gy.numpy(), np.zeros(3))
    np.testing.assert_array_equal(gc.grad(lambda a: gc.tensor(1.0, device=device))(x).numpy(),
                                  [0.0, 0.0])


def test_grad_errors(device):
    x = randn((2,), device)
    with pytest.raises(ValueError, match="one-element"):
        gc.grad(lambda a: a * 2)(x)
    with pytest.raises(TypeError, match="must return a Tensor"):
        gc.grad(lambda a: 3.0)(x)
    with pytest.raises(TypeError, match="floating"):
        gc.grad(lambda a: a.sum())(gc.arange(3, device=device))
    with pytest.raises(ValueError, match="argnums"):
        gc.grad(lambda a: a.sum(), argnums=2)(x)


def test_vjp_called_twice_and_linear(device):
    args = _mlp_inputs(device)
    y, back = gc.vjp(_mlp, *args)
    np.testing.assert_allclose(y.numpy(), _mlp(*args).numpy())
    u1 = gc.tensor([1.0, -2.0, 0.5], dtype="float64", device=device)
    u2 = gc.tensor([0.3, 0.0, 4.0], dtype="float64", device=device)
    first, second, both = back(u1), back(u2), back(u1 * 2 + u2)
    again = back(u1)
    assert len(first) == 4
    for g1, g2, g12, g1b, a in zip(first, second, both, again, args):
        assert g1.shape == a.shape
        np.testing.assert_array_equal(g1b.numpy(), g1.numpy())
        np.testing.assert_allclose(g12.numpy(), 2 * g1.numpy() + g2.numpy(), rtol=1e-10,
                                   atol=1e-12)
    with pytest.raises(ValueError, match="cotangent"):
        back(gc.ones(4, dtype="float64", device=device))


def test_jvp_matches_jacobian_from_vjp(device):
    args = _mlp_inputs(device)
    rng = np.random.default_rng(11)
    tangents = [gc.tensor(rng.standard_normal(a.shape), device=device) for a in args]
    y, ty = gc.jvp(_mlp, args, tangents)
    np.testing.assert_allclose(y.numpy(), _mlp(*args).numpy())
    _, back = gc.vjp(_mlp, *args)
    jv = np.zeros(y.shape)
    for i in range(y.size):  # J v, one row of J at a time from vjp with a basis cotangent
        e = np.zeros(y.shape)
        e[i] = 1.0
        rows = back(gc.tensor(e, device=device))
        jv[i] = sum((r.numpy() * t.numpy()).sum() for r, t in zip(rows, tangents))
    np.testing.assert_allclose(ty.numpy(), jv, rtol=1e-10, atol=1e-12)


def test_jvp_partial_tangents_tuple_outputs_and_errors(device):
    x, w = randn((2, 3), device, seed=1), randn((3, 2), device, seed=2)
    zero = gc.zeros((3, 2), dtype="float64", device=device)
    _, t = gc.jvp(lambda a, b: gc.tanh(a @ b), (x, w), (gc.ones_like(x), zero))
    expected = (1 - np.tanh(x.numpy() @ w.numpy()) ** 2) * (np.ones((2, 3)) @ w.numpy())
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12)
    (a, b), (ta, tb) = gc.jvp(lambda z: tuple(gc.split(z * z, [1], axis=1)), (x,), (x,))
    np.testing.assert_allclose(ta.numpy(), 2 * x.numpy()[:, :1] ** 2)
    np.testing.assert_allclose(tb.numpy(), 2 * x.numpy()[:, 1:] ** 2)
    with pytest.raises(ValueError, match="tangent of shape"):
        gc.jvp(gc.sin, (x,), (w,))
    with pytest.raises(ValueError, match="1 primals but 2 tangents"):
        gc.jvp(gc.sin, (x,), (x, x))


def _scalar_mlp(x):
    return (_mlp(x, *_mlp_inputs(x.device)[1:]) ** 2).sum()


def test_hvp_matches_finite_differences_of_gradients(device):
    x = _mlp_inputs(device)[0]
    v = randn(x.shape, device, seed=9)
    value, (hv,) = gc.hvp(_scalar_mlp, (x,), (v,))
    assert value.item() == pytest.approx(_scalar_mlp(x).item(), rel=1e-14)
    numeric = _numeric_grad_of(gc.grad(_scalar_mlp), x, v)
    np.testing.assert_allclose(hv.numpy(), numeric, rtol=1e-6, atol=1e-8)
    # forward over reverse gives the same H v
    _, hv_fwd = gc.jvp(gc.grad(_scalar_mlp), (x,), (v,))
    np.testing.assert_allclose(hv_fwd.numpy(), hv.numpy(), rtol=1e-10, atol=1e-12)


def test_hvp_with_two_arguments(device):
    f = lambda a, b: (gc.sin(a) * b * b).sum()  # noqa: E731
    a, b = randn((3,), device, seed=1), randn((3,), device, seed=2)
    va, vb = randn((3,), device, seed=3), randn((3,), device, seed=4)
    _, (ha, hb) = gc.hvp(f, (a, b), (va, vb))
    A, B, VA, VB = (t.numpy() for t in (a, b, va, vb))
    # H = [[-sin(a) b^2, 2 b cos(a)], [2 b cos(a), 2 sin(a)]] (diagonal blocks)
    np.testing.assert_allclose(ha.numpy(), -np.sin(A) * B * B * VA + 2 * B * np.cos(A) * VB)
    np.testing.assert_allclose(hb.numpy(), 2 * B * np.cos(A) * VA + 2 * np.sin(A) * VB)


def test_grad_of_grad_matches_finite_differences(device):
    x = _mlp_inputs(device)[0]
    ones = gc.ones_like(x)
    second = gc.grad(lambda z: gc.grad(_scalar_mlp)(z).sum())(x)  # H 1 for symmetric H
    numeric = _numeric_grad_of(gc.grad(_scalar_mlp), x, ones)
    np.testing.assert_allclose(second.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_third_derivative_of_a_polynomial(device):
    f = lambda x: (x ** 4 + 2 * x ** 3 - x * 5 + 7).sum()  # noqa: E731
    x = gc.tensor([-1.5, 0.0, 2.0], dtype="float64", device=device)
    d1 = gc.grad(f)
    d2 = gc.grad(lambda z: d1(z).sum())
    d3 = gc.grad(lambda z: d2(z).sum())
    d4 = gc.grad(lambda z: d3(z).sum())
    v = x.numpy()
    np.testing.assert_allclose(d1(x).numpy(), 4 * v ** 3 + 6 * v ** 2 - 5)
    np.testing.assert_allclose(d2(x).numpy(), 12 * v ** 2 + 12 * v)
    np.testing.assert_allclose(d3(x).numpy(), 24 * v + 12)
    np.testing.assert_allclose(d4(x).numpy(), [24.0, 24.0, 24.0])
    assert gc.grad(gc.grad(gc.grad(lambda z: z ** 3)))(gc.tensor(5.0, device=device)).item() == 6


# ---- nested forward mode (issue 12.4-12.6): no perturbation confusion ---------------------
def _f64(values):
    return gc.tensor(np.asarray(values, dtype=np.float64))


def test_forward_over_forward_second_derivative():
    """jvp of jvp: d/dx [sin'(x) v] in direction (1, 0) is -sin(x) v (gave 0)."""
    x, v = _f64([0.3, 1.1, -2.0]), _f64([1.0, 2.0, -0.5])
    H = lambda x, v: gc.jvp(gc.sin, (x,), (v,))[1]  # noqa: E731
    _, t = gc.jvp(H, (x, v), (gc.ones_like(x), gc.zeros_like(v)))
    np.testing.assert_allclose(t.numpy(), -np.sin(x.numpy()) * v.numpy(), rtol=1e-12)
    _, t = gc.jvp(H, (x, v), (gc.zeros_like(x), gc.ones_like(v)))  # H is linear in v
    np.testing.assert_allclose(t.numpy(), np.cos(x.numpy()), rtol=1e-12)


def test_reverse_over_forward():
    """vjp of a jvp (gave zeros)."""
    x, v = _f64([0.3, 1.1]), _f64([1.0, 2.0])
    H = lambda x, v: gc.jvp(gc.sin, (x,), (v,))[1]  # noqa: E731
    _, back = gc.vjp(H, x, v)
    gx, gv = back(gc.ones_like(x))
    np.testing.assert_allclose(gx.numpy(), -np.sin(x.numpy()) * v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gv.numpy(), np.cos(x.numpy()), rtol=1e-12)
    g = gc.grad(lambda x: H(x, v).sum())(x)
    np.testing.assert_allclose(g.numpy(), -np.sin(x.numpy()) * v.numpy(), rtol=1e-12)


def test_perturbation_confusion_classic():
    """Siskind & Pearlmutter's example: d/dx [x * d/dy (x + y)] = 1, not 2."""
    x0, y0 = _f64(2.0), _f64(5.0)
    inner = lambda x: gc.jvp(lambda y: x + y, (y0,), (gc.ones_like(y0),))[1]  # noqa: E731
    _, t = gc.jvp(lambda x: x * inner(x), (x0,), (gc.ones_like(x0),))
    assert t.item() == 1.0


def test_third_order_nested_forward_and_reverse_against_finite_differences():
    f = lambda x: gc.sin(x) * gc.exp(0.3 * x)  # noqa: E731
    x0 = _f64([0.4, -1.3])
    ones = gc.ones_like(x0)
    d1 = lambda x: gc.jvp(f, (x,), (gc.ones_like(x),))[1]  # noqa: E731
    d2 = lambda x: gc.jvp(d1, (x,), (gc.ones_like(x),))[1]  # noqa: E731
    _, d3_fff = gc.jvp(d2, (x0,), (ones,))                      # forward^3
    d3_rff = gc.grad(lambda x: d2(x).sum())(x0)                  # reverse over forward^2
    d3_frf = gc.jvp(lambda x: gc.grad(lambda s: d1(s).sum())(x), (x0,), (ones,))[1]
    h = 1e-4
    xs = x0.numpy()
    d2n = lambda a: (d2(_f64(a)).numpy())  # noqa: E731
    fd = (d2n(xs + h) - d2n(xs - h)) / (2 * h)
    for got in (d3_fff, d3_rff, d3_frf):
        np.testing.assert_allclose(got.numpy(), fd, rtol=1e-6, atol=1e-8)
    a, b = xs, 0.3   # closed form of f''' for sin(x) e^(bx)
    exact = np.exp(b * a) * ((b ** 3 - 3 * b) * np.sin(a) + (3 * b ** 2 - 1) * np.cos(a))
    np.testing.assert_allclose(d3_fff.numpy(), exact, rtol=1e-12)


def test_a_tensor_returned_twice_keeps_its_tangent():
    """Issue 12.5: jvp(lambda x: (x, x)) returned (v, 0)."""
    x, v = _f64([1.0, 2.0]), _f64([3.0, 4.0])
    _, (t0, t1) = gc.jvp(lambda x: (x, x), (x,), (v,))
    np.testing.assert_allclose(t0.numpy(), v.numpy())
    np.testing.assert_allclose(t1.numpy(), v.numpy())
    # forward over reverse, where add's backward hands one tensor to both inputs
    _, (g0, g1) = gc.jvp(lambda x: gc.grad(lambda a, b: (a * b).sum() + (a + b).sum(),
                                           argnums=(0, 1))(x, x), (x,), (v,))
    np.testing.assert_allclose(g0.numpy(), v.numpy())
    np.testing.assert_allclose(g1.numpy(), v.numpy())


def test_values_keep_their_tangent_under_an_outer_jvp():
    """Issue 12.6: value_and_grad's value and hvp's value lost their tangent (detach)."""
    x, v = _f64([0.5, 1.5]), _f64([1.0, -1.0])
    f = lambda z: (z ** 3).sum()  # noqa: E731
    _, t = gc.jvp(lambda z: gc.value_and_grad(f)(z)[0], (x,), (v,))
    np.testing.assert_allclose(t.item(), (3 * x.numpy() ** 2 * v.numpy()).sum())
    _, t = gc.jvp(lambda z: gc.hvp(f, (z,), (gc.ones_like(z),))[0], (x,), (v,))
    np.testing.assert_allclose(t.item(), (3 * x.numpy() ** 2 * v.numpy()).sum())


def test_a_stale_tangent_from_another_jvp_is_not_read():
    x, v = _f64([1.0, 2.0]), _f64([1.0, 1.0])
    kept = []
    gc.jvp(lambda x: kept.append(x * 3) or x, (x,), (v,))
    c = kept[0]                               # carries a tangent of the first call's level
    _, t = gc.jvp(lambda y: y * c, (x,), (v,))
    np.testing.assert_allclose(t.numpy(), c.numpy())   # not c + x * 3v


def test_jvp_through_closed_over_parameters_is_differentiable():
    """A jvp whose function uses tensors that require grad returns a tangent that backward can
    differentiate (Jacobian regularization), checked against finite differences."""
    w = gc.tensor(np.array([0.7, -0.2]), requires_grad=True)
    x, v = _f64([0.3, 0.9]), _f64([1.0, 0.5])

    def penalty(w):
        _, t = gc.jvp(lambda x: gc.tanh(w * x), (x,), (v,))
        return (t * t).sum()
    penalty(w).backward()
    h, w0 = 1e-6, w.numpy().copy()
    fd = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        fd.append((penalty(_f64(w0 + e)).item() - penalty(_f64(w0 - e)).item()) / (2 * h))
    np.testing.assert_allclose(w.grad.numpy(), fd, rtol=1e-6)


def test_pow_with_a_zero_base():
    """Issue 12.7: d/dy 0 ** y crashed (math domain error) and its tangent was nan; it is 0."""
    y = _f64([0.5, 2.0])
    np.testing.assert_array_equal(gc.grad(lambda y: gc.pow(0.0, y).sum())(y).numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(gc.jvp(lambda y: gc.pow(0.0, y), (y,), (gc.ones_like(y),))[1]
                                  .numpy(), [0.0, 0.0])
    zero = _f64([0.0, 0.0])
    np.testing.assert_array_equal(gc.grad(lambda y: gc.pow(zero, y).sum())(y).numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(gc.grad(lambda x: gc.pow(x, _f64([0.0, 2.0])).sum())(zero)
                                  .numpy(), [0.0, 0.0])


def test_grad_of_a_function_closing_over_a_tensor_that_requires_grad():
    """grad w.r.t. x of x * (w * 2), w requiring grad, crashed with a KeyError in the engine
    (a node whose input leads to no requested tensor)."""
    w = gc.tensor([1.0, 2.0], requires_grad=True)
    x = _f64([3.0, 4.0])
    np.testing.assert_allclose(gc.grad(lambda x: (x * (w * 2)).sum())(x).numpy(), [2.0, 4.0])
    assert w.grad is None
