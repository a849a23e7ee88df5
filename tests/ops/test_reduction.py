"""sum, mean, var, max, min over axis=None|int|tuple with keepdims: values vs NumPy, gradients,
second order, forward mode, and the tie rule of max/min (ties share the gradient equally)."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn

# name -> (gradcore function(x, axis, keepdims), NumPy reference(a, axis, keepdims))
RED = {
    "sum": (gc.sum, np.sum),
    "mean": (gc.mean, np.mean),
    "var": (gc.var, np.var),
    "var(ddof=1)": (lambda x, axis, keepdims: gc.var(x, axis, keepdims, ddof=1),
                    lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1)),
    "max": (gc.max, np.max),
    "min": (gc.min, np.min),
    "Tensor.sum": (lambda x, axis, keepdims: x.sum(axis, keepdims), np.sum),
    "Tensor.mean": (lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims), np.mean),
    "Tensor.var": (lambda x, axis, keepdims: x.var(axis, keepdims), np.var),
    "Tensor.max": (lambda x, axis, keepdims: x.max(axis, keepdims), np.max),
    "Tensor.min": (lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims), np.min),
}
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2)]
FAMILIES = ["sum", "mean", "var", "var(ddof=1)", "max", "min"]


def _call(name, x, axis, keepdims):
    return RED[name][0](x, axis, keepdims)


def _ref(name, a, axis, keepdims):
    return RED[name][1](a, axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", RED)
def test_forward_and_gradcheck(name, axis, keepdims, device):
    x = randn((2, 3, 4), device)
    y = _call(name, x, axis, keepdims)
    expected = _ref(name, x.numpy(), axis, keepdims)
    assert y.shape == expected.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert gc.gradcheck(lambda z: _call(name, z, axis, keepdims), (x,))


@pytest.mark.parametrize("shape", [(), (1,), (3, 1), (1, 4)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "var(ddof=1)", "max", "min"])
def test_scalars_and_size_one_dims(name, shape, device):
    x = randn(shape, device)
    axes = [None] + ([] if shape == () else [0, -1])
    for axis in axes:
        for keepdims in (False, True):
            if name == "var(ddof=1)" and (x.size == 1 or axis is not None and shape[axis] == 1):
                continue  # ddof=1 over one element divides by zero
            y = _call(name, x, axis, keepdims)
            np.testing.assert_allclose(y.numpy(), _ref(name, x.numpy(), axis, keepdims),
                                       rtol=1e-12)
            assert gc.gradcheck(lambda z: _call(name, z, axis, keepdims), (x,))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
@pytest.mark.parametrize("name", FAMILIES)
def test_noncontiguous(name, kind, device):
    a = randn((3, 4), device).numpy()
    x = noncontig(a, device, kind)
    for axis in (None, 0, 1):
        np.testing.assert_allclose(_call(name, x, axis, False).numpy(), _ref(name, a, axis, False),
                                   rtol=1e-12)
        assert gc.gradcheck(lambda z: _call(name, z, axis, False), (x,))


@pytest.mark.parametrize("axis", [None, 1, (0, 2)], ids=str)
@pytest.mark.parametrize("name", FAMILIES)
def test_second_order_and_jvp(name, axis, device):
    x = randn((2, 3, 2), device)
    f = lambda z: _call(name, z, axis, True)  # noqa: E731
    assert gradcheck2(f, (x,))
    assert gradcheck2(lambda z: f(z) ** 2, (x,))  # sum/mean/max are linear or piecewise linear
    assert jvpcheck(f, (x,))
    assert jvpcheck(lambda z: _call(name, z, axis, False), (x,))


@pytest.mark.parametrize("name", ["max", "min"])
def test_ties_share_the_gradient(name, device):
    v = 3.0 if name == "max" else -3.0
    x = gc.tensor([[1.0, v, v], [v, 0.0, 2.0 * (v < 0) - 1.0]], dtype="float64", device=device,
                  requires_grad=True)
    _call(name, x, None, False).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1 / 3, 1 / 3], [1 / 3, 0, 0]])
    x.grad = None
    _call(name, x, 1, False).backward(gc.tensor([6.0, 6.0], dtype="float64", device=device))
    np.testing.assert_allclose(x.grad.numpy(), [[0, 3, 3], [6, 0, 0]])
    _, t = gc.jvp(lambda z: _call(name, z, 1, False), (x.detach(),),
                  (gc.tensor([[0.0, 1.0, 3.0], [5.0, 7.0, 9.0]], dtype="float64", device=device),))
    np.testing.assert_allclose(t.numpy(), [2.0, 5.0])  # the mean of the tied tangents


def test_mean_and_var_gradients_by_hand(device):
    x = gc.tensor([[1.0, 2.0, 6.0]], dtype="float64", device=device, requires_grad=True)
    gc.mean(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3] * 3])
    x.grad = None
    gc.var(x, ddof=1).backward()  # d/dx var = 2 (x - mean) / (n - 1)
    np.testing.assert_allclose(x.grad.numpy(), [[-2.0, -1.0, 3.0]])


def test_float32_sum_stays_float32(device):
    x = gc.ones((2, 3), device=device, requires_grad=True)
    y = x.sum(axis=0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", FAMILIES)
def test_axis_errors(name, device):
    x = gc.ones((2, 3), dtype="float64", device=device)
    with pytest.raises(ValueError, match="out of range"):
        _call(name, x, 2, False)
    with pytest.raises(ValueError, match="repeated axis"):
        _call(name, x, (1, -1), False)


@pytest.mark.parametrize("name", ["max", "min"])
def test_extreme_of_empty_raises(name, device):
    with pytest.raises(ValueError, match="zero-size"):
        _call(name, gc.zeros((0, 3), device=device), None, False)


@pytest.mark.parametrize("axis", [1.5, True, (0, 1.0), "1", np.float64(1.0)], ids=repr)
@pytest.mark.parametrize("name", FAMILIES + ["Tensor.sum"])
def test_axis_must_be_integers(name, axis, device):
    """NumPy-style integer axes only: 1.5 was "'float' object is not iterable" and True was
    silently axis 1; the error names the op and the axis."""
    x = gc.ones((2, 3), dtype="float64", device=device)
    op = name.split("(")[0].replace("Tensor.", "")
    with pytest.raises(TypeError, match=rf"^{op}: axis must be an integer.*got"):
        _call(name, x, axis, False)
    np.testing.assert_allclose(_call(name, x, np.int64(1), False).numpy(),  # NumPy ints are fine
                               _ref(name, np.ones((2, 3)), 1, False))


@pytest.mark.parametrize("ddof, n", [(5, 3), (3, 3), (4, 1)])
def test_var_without_degrees_of_freedom_is_inf_like_numpy(ddof, n, device):
    """ddof=5 on 3 elements returned -1 (a negative variance): the divisor went negative."""
    a = np.arange(1.0, n + 1)
    x = gc.tensor(a, device=device, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="var: degrees of freedom <= 0"):
        y = gc.var(x, ddof=ddof)
    with np.errstate(divide="ignore", invalid="ignore"), pytest.warns(RuntimeWarning):
        expected = np.var(a, ddof=ddof)
    np.testing.assert_array_equal(y.numpy(), expected)  # inf, or nan for one element (0/0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y.backward()
    assert np.isnan(x.grad.numpy()).all()  # documented: no degrees of freedom, no derivative


def test_var_per_axis_without_degrees_of_freedom(device):
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    with pytest.warns(RuntimeWarning, match="3 elements, ddof=3"):
        y = gc.var(gc.tensor(a, device=device), axis=1, ddof=3)
    np.testing.assert_array_equal(y.numpy(), [np.inf, np.nan])
    with pytest.warns(RuntimeWarning, match="2 elements, ddof=2"):
        y = gc.var(gc.tensor(a, device=device), axis=0, ddof=2)
    assert np.isinf(y.numpy()[[0, 2]]).all()


# ---- std, average -------------------------------------------------------------------------
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
def test_std(axis, ddof, device):
    x = randn((3, 4), device, seed=3)
    f = lambda t: gc.std(t, axis=axis, ddof=ddof)  # noqa: E731
    np.testing.assert_allclose(f(x).numpy(), np.std(x.numpy(), axis=axis, ddof=ddof), rtol=1e-13)
    np.testing.assert_allclose(x.std(axis, True, ddof).numpy(),
                               np.std(x.numpy(), axis=axis, ddof=ddof, keepdims=True), rtol=1e-13)
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


def test_std_of_constant_has_nan_gradient_as_documented(device):
    x = gc.ones(3, dtype="float64", device=device, requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        gc.std(x).backward()
    assert np.isnan(x.grad.numpy()).all()


@pytest.mark.parametrize("axis, wshape", [(None, (3, 4)), (0, (3, 4)), (1, (4,)), (0, (3,)),
                                          ((0, 1), (3, 4)), (-1, (4,))], ids=str)
def test_average_weights(axis, wshape, device):
    x = randn((3, 4), device, seed=4)
    w = randn(wshape, device, seed=5, low=0.2, high=2.0)
    ref = np.average(x.numpy(), axis=axis, weights=w.numpy())
    np.testing.assert_allclose(gc.average(x, axis, w).numpy(), ref, rtol=1e-13)
    avg, scale = gc.average(x, axis, w, returned=True)
    _, ref_scale = np.average(x.numpy(), axis=axis, weights=w.numpy(), returned=True)
    np.testing.assert_allclose(scale.numpy(), ref_scale, rtol=1e-13)
    f = lambda a, b: gc.average(a, axis, b)  # noqa: E731
    assert gc.gradcheck(f, (x, w))
    assert gradcheck2(f, (x, w))
    assert jvpcheck(f, (x, w))


def test_average_without_weights_and_errors(device):
    x = randn((3, 4), device, seed=6)
    np.testing.assert_allclose(gc.average(x, 1).numpy(), np.average(x.numpy(), 1), rtol=1e-13)
    _, count = gc.average(x, 0, returned=True)
    np.testing.assert_array_equal(count.numpy(), np.average(x.numpy(), 0, returned=True)[1])
    np.testing.assert_allclose(gc.average(x, 1, [1.0, 2.0, 3.0, 4.0]).numpy(),
                               np.average(x.numpy(), 1, [1.0, 2.0, 3.0, 4.0]), rtol=1e-13)
    with pytest.raises(ZeroDivisionError, match="average: weights sum to zero"):
        gc.average(x, 1, gc.zeros(4, dtype="float64", device=device))
    with pytest.raises(ValueError, match=r"average: 1-D weights of length 3 do not match axis 1"):
        gc.average(x, 1, gc.ones(3, dtype="float64", device=device))
    with pytest.raises(TypeError, match=r"average: weights of shape \(4,\) differ"):
        gc.average(x, None, gc.ones(4, dtype="float64", device=device))


# ---- argmax, argmin, all, any ----------------------------------------------------------------
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_extremes(name, axis, keepdims, device):
    a = np.array([[1.0, 5.0, 5.0], [7.0, -2.0, 7.0]])  # ties: the first one, as NumPy
    x = gc.tensor(a, device=device, requires_grad=True)
    y = getattr(gc, name)(x, axis=axis, keepdims=keepdims)
    ref = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    assert y.dtype == np.int64 and not y.requires_grad and y.device == x.device
    np.testing.assert_array_equal(y.numpy(), ref)


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
def test_all_any(name, axis, device):
    a = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    x = gc.tensor(a, device=device)
    for keepdims in (False, True):
        y = getattr(gc, name)(x, axis=axis, keepdims=keepdims)
        assert y.dtype == np.bool_
        np.testing.assert_array_equal(y.numpy(), getattr(np, name)(a, axis=axis, keepdims=keepdims))
        np.testing.assert_array_equal(getattr(x, name)(axis, keepdims).numpy(), y.numpy())


def test_arg_extremes_errors(device):
    with pytest.raises(ValueError, match="argmax: zero-size tensor"):
        gc.argmax(gc.zeros(0, device=device))
    with pytest.raises(TypeError, match="argmin: axis must be an integer or None"):
        gc.argmin(gc.zeros((2, 2), device=device), axis=(0, 1))
    with pytest.raises(ValueError, match="any: axis 3 is out of range"):
        gc.any(gc.zeros((2, 2), device=device), axis=3)
