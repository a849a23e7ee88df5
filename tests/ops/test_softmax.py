"""logsumexp, softmax, log_softmax: values vs NumPy, gradients, second order, forward mode, and
stability for inputs of magnitude 1e4 and infinities."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn


def _np_lse(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(a, axis=-1):
    return a - _np_lse(a, axis, keepdims=True)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)], ids=str)
def test_logsumexp(axis, keepdims, device):
    x = randn((2, 3, 4), device)
    y = gc.logsumexp(x, axis, keepdims)
    np.testing.assert_allclose(y.numpy(), _np_lse(x.numpy(), axis, keepdims), rtol=1e-13)
    np.testing.assert_allclose(x.logsumexp(axis, keepdims).numpy(), y.numpy())
    assert gc.gradcheck(lambda z: gc.logsumexp(z, axis, keepdims), (x,))
    assert jvpcheck(lambda z: gc.logsumexp(z, axis, keepdims), (x,))


# name -> (gradcore function(x, axis), NumPy reference(a, axis))
SOFT = {
    "softmax": (gc.softmax, _np_softmax),
    "log_softmax": (gc.log_softmax, _np_log_softmax),
    "Tensor.softmax": (lambda x, axis: x.softmax(axis), _np_softmax),
    "Tensor.log_softmax": (lambda x, axis: x.log_softmax(axis=axis), _np_log_softmax),
}


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", SOFT)
def test_softmax_family(name, axis, device):
    fn, ref = SOFT[name]
    x = randn((2, 3, 4), device)
    y = fn(x, axis)
    np.testing.assert_allclose(y.numpy(), ref(x.numpy(), axis), rtol=1e-13, atol=1e-15)
    assert gc.gradcheck(lambda z: fn(z, axis), (x,))
    assert jvpcheck(lambda z: fn(z, axis), (x,))


def test_softmax_default_axis_is_last_and_rows_sum_to_one(device):
    x = randn((3, 4), device)
    np.testing.assert_allclose(gc.softmax(x).numpy(), gc.softmax(x, -1).numpy())
    np.testing.assert_allclose(gc.softmax(x).numpy().sum(-1), np.ones(3), rtol=1e-14)
    np.testing.assert_allclose(np.exp(gc.log_softmax(x).numpy()), gc.softmax(x).numpy(),
                               rtol=1e-13)


@pytest.mark.parametrize("shape", [(1,), (3, 1), (1, 3)], ids=str)
def test_size_one_dims_and_scalar(shape, device):
    x = randn(shape, device)
    for name in ("softmax", "log_softmax"):
        fn, ref = SOFT[name]
        for axis in range(-len(shape), len(shape)):
            np.testing.assert_allclose(fn(x, axis).numpy(), ref(x.numpy(), axis), atol=1e-15)
            assert gc.gradcheck(lambda z: fn(z, axis), (x,))
    s = randn((), device)
    np.testing.assert_allclose(gc.logsumexp(s).numpy(), s.numpy())
    assert gc.gradcheck(gc.logsumexp, (s,))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
def test_noncontiguous(kind, device):
    a = randn((3, 4), device).numpy()
    x = noncontig(a, device, kind)
    np.testing.assert_allclose(gc.softmax(x, 0).numpy(), _np_softmax(a, 0), rtol=1e-13)
    np.testing.assert_allclose(gc.logsumexp(x, 1).numpy(), _np_lse(a, 1), rtol=1e-13)
    for f in (lambda z: gc.softmax(z, 0), lambda z: gc.log_softmax(z, -1),
              lambda z: gc.logsumexp(z, 0)):
        assert gc.gradcheck(f, (x,))


@pytest.mark.parametrize("fn", [lambda z: gc.softmax(z, 1), lambda z: gc.log_softmax(z, 0),
                                lambda z: gc.logsumexp(z, 1, True), gc.logsumexp],
                         ids=["softmax", "log_softmax", "logsumexp", "logsumexp(None)"])
def test_second_order(fn, device):
    x = randn((2, 3), device)
    assert gradcheck2(fn, (x,))
    assert gradcheck2(lambda z: fn(z) * fn(z), (x,))
    assert jvpcheck(gc.grad(lambda z: (fn(z) * fn(z)).sum()), (x,))  # forward over reverse


def test_stable_for_large_inputs(device):
    x = gc.tensor([[1e4, -1e4, 0.0], [1e4, 1e4, 1e4]], dtype="float64", device=device,
                  requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        lse = gc.logsumexp(x, axis=1)
        np.testing.assert_allclose(lse.numpy(), [1e4, 1e4 + np.log(3)], rtol=1e-15)
        lse.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [[1, 0, 0], [1 / 3] * 3], atol=1e-15)
        ls = gc.log_softmax(x, axis=1)
        assert np.isfinite(ls.numpy()).all()
        np.testing.assert_allclose(ls.numpy(), [[0, -2e4, -1e4], [-np.log(3)] * 3],
                                   rtol=1e-15, atol=1e-11)  # x - lse(x) loses ulp(1e4) ~ 2e-12
        x.grad = None
        (ls * gc.tensor([[1.0, 2.0, 3.0]] * 2, dtype="float64", device=device)).sum().backward()
        # d/dx sum(w * log_softmax(x)) = w - softmax(x) * sum(w)
        np.testing.assert_allclose(x.grad.numpy(), [[1 - 6, 2, 3], [1 - 2, 2 - 2, 3 - 2]],
                                   atol=1e-12)
        sm = gc.softmax(x, axis=1)
        np.testing.assert_allclose(sm.numpy(), [[1, 0, 0], [1 / 3] * 3], atol=1e-15)
    for dtype in ("float32", "float64"):
        big = gc.tensor([1e4, -1e4], dtype=dtype, device=device)
        assert np.isfinite(gc.logsumexp(big).numpy()) and gc.logsumexp(big).dtype == dtype
        assert np.isfinite(gc.log_softmax(big).numpy()).all()


def test_infinities(device):
    x = gc.tensor([[-np.inf, -np.inf], [0.0, -np.inf], [np.inf, 1.0]], dtype="float64",
                  device=device)
    with np.errstate(invalid="raise"):
        np.testing.assert_array_equal(gc.logsumexp(x, axis=1).numpy(), [-np.inf, 0.0, np.inf])
    np.testing.assert_array_equal(gc.softmax(x[1]).numpy(), [1.0, 0.0])


@pytest.mark.parametrize("shape, axis", [((0,), None), ((2, 0), 1), ((2, 0, 3), (1, 2)),
                                         ((0, 3), 0)], ids=str)
def test_logsumexp_of_nothing_is_minus_inf(shape, axis, device):
    """As PyTorch: the log of an empty sum (NumPy's max raised "zero-size array")."""
    x = gc.zeros(shape, dtype="float64", device=device, requires_grad=True)
    y = gc.logsumexp(x, axis=axis)
    expected_shape = np.zeros(shape).sum(axis=axis).shape
    np.testing.assert_array_equal(y.numpy(), np.full(expected_shape, -np.inf))
    gx = gc.grad(lambda t: gc.logsumexp(t, axis=axis).sum())(x)
    assert gx.shape == shape  # no element feeds the result: an empty gradient
    _, ty = gc.jvp(lambda t: gc.logsumexp(t, axis=axis), (x,), (gc.zeros_like(x),))
    np.testing.assert_array_equal(ty.numpy(), np.zeros(expected_shape))


@pytest.mark.parametrize("fn", [gc.softmax, gc.log_softmax])
def test_softmax_of_an_empty_axis_is_empty(fn, device):
    x = gc.zeros((2, 0), dtype="float64", device=device, requires_grad=True)
    y = fn(x, axis=1)
    assert y.shape == (2, 0)
    y.sum().backward()
    assert x.grad.shape == (2, 0)


@pytest.mark.parametrize("fn", [gc.softmax, gc.log_softmax])
def test_softmax_takes_one_integer_axis(fn, device):
    """A tuple was silently cut to its first axis: softmax over (0, 1) normalised over 0 only."""
    x = gc.ones((2, 3), device=device)
    for axis in [(0, 1), 1.0, True]:
        with pytest.raises(TypeError, match=rf"^{fn.__name__}: axis must be an integer, got"):
            fn(x, axis=axis)
