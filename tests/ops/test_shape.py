"""reshape, transpose, swapaxes, expand_dims, squeeze, broadcast_to, sum_to, flatten (and the
.T / .mT / method forms): values vs NumPy, gradients, second order, forward mode, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn


def _np_sum_to(a, shape):
    lead = a.ndim - len(shape)
    a = a.sum(axis=tuple(range(lead)))
    return a.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


# name -> (input shape, gradcore function, NumPy reference)
CASES = {
    "reshape": ((2, 3, 2), lambda x: gc.reshape(x, (3, 4)), lambda a: a.reshape(3, 4)),
    "reshape(-1)": ((2, 3, 2), lambda x: gc.reshape(x, (2, -1)), lambda a: a.reshape(2, -1)),
    "reshape(int)": ((2, 3), lambda x: gc.reshape(x, 6), lambda a: a.reshape(6)),
    "reshape(0d->1)": ((), lambda x: gc.reshape(x, (1, 1)), lambda a: a.reshape(1, 1)),
    "Tensor.reshape": ((2, 3, 2), lambda x: x.reshape(6, 2), lambda a: a.reshape(6, 2)),
    "Tensor.reshape(tuple)": ((4, 3), lambda x: x.reshape((2, 6)), lambda a: a.reshape(2, 6)),
    "transpose": ((2, 3, 4), gc.transpose, np.transpose),
    "transpose(axes)": ((2, 3, 4), lambda x: gc.transpose(x, (1, 2, 0)),
                        lambda a: a.transpose(1, 2, 0)),
    "transpose(-axes)": ((2, 3, 4), lambda x: gc.transpose(x, (-1, 0, -2)),
                         lambda a: a.transpose(2, 0, 1)),
    "Tensor.transpose": ((2, 3, 4), lambda x: x.transpose(2, 0, 1),
                         lambda a: a.transpose(2, 0, 1)),
    "Tensor.transpose()": ((2, 3), lambda x: x.transpose(), lambda a: a.T),
    ".T": ((2, 3, 4), lambda x: x.T, lambda a: a.T),
    ".mT": ((2, 3, 4), lambda x: x.mT, lambda a: np.swapaxes(a, -1, -2)),
    "swapaxes": ((2, 3, 4), lambda x: gc.swapaxes(x, 0, -1), lambda a: np.swapaxes(a, 0, -1)),
    "Tensor.swapaxes": ((2, 3, 4), lambda x: x.swapaxes(1, 2), lambda a: np.swapaxes(a, 1, 2)),
    "expand_dims": ((2, 3), lambda x: gc.expand_dims(x, 1), lambda a: np.expand_dims(a, 1)),
    "expand_dims(-1)": ((2, 3), lambda x: gc.expand_dims(x, -1), lambda a: a[..., None]),
    "expand_dims(tuple)": ((2, 3), lambda x: gc.expand_dims(x, (0, 3)),
                           lambda a: np.expand_dims(a, (0, 3))),
    "expand_dims(0d)": ((), lambda x: x.expand_dims(0), lambda a: a.reshape(1)),
    "squeeze": ((1, 3, 1, 2), gc.squeeze, np.squeeze),
    "squeeze(axis)": ((1, 3, 1, 2), lambda x: gc.squeeze(x, 2), lambda a: np.squeeze(a, 2)),
    "squeeze(tuple)": ((1, 3, 1, 2), lambda x: x.squeeze((0, -2)),
                       lambda a: np.squeeze(a, (0, 2))),
    "squeeze(->0d)": ((1, 1), gc.squeeze, np.squeeze),
    "broadcast_to": ((3,), lambda x: gc.broadcast_to(x, (2, 3)),
                     lambda a: np.broadcast_to(a, (2, 3))),
    "broadcast_to(size-1)": ((2, 1, 3), lambda x: gc.broadcast_to(x, (4, 2, 2, 3)),
                             lambda a: np.broadcast_to(a, (4, 2, 2, 3))),
    "broadcast_to(0d)": ((), lambda x: x.broadcast_to((2, 2)),
                         lambda a: np.broadcast_to(a, (2, 2))),
    "sum_to": ((4, 2, 3), lambda x: gc.sum_to(x, (2, 1)), lambda a: _np_sum_to(a, (2, 1))),
    "sum_to(lead)": ((2, 3), lambda x: gc.sum_to(x, (3,)), lambda a: _np_sum_to(a, (3,))),
    "sum_to(0d)": ((2, 3), lambda x: gc.sum_to(x, ()), lambda a: a.sum()),
    "flatten": ((2, 3, 2), gc.flatten, np.ravel),
    "Tensor.flatten": ((2, 1, 3), lambda x: x.flatten(), np.ravel),
    "flatten(0d)": ((), gc.flatten, np.ravel),
}


@pytest.mark.parametrize("name", CASES)
def test_forward_and_gradcheck(name, device):
    shape, fn, ref = CASES[name]
    x = randn(shape, device)
    y = fn(x)
    expected = ref(x.numpy())
    assert y.shape == expected.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-14)  # sum_to: summation order
    assert gc.gradcheck(fn, (x,))
    assert jvpcheck(fn, (x,))


@pytest.mark.parametrize("kind", ["strided", "transposed"])
@pytest.mark.parametrize("name", ["reshape", "transpose(axes)", "swapaxes", "expand_dims(tuple)",
                                  "squeeze", "broadcast_to(size-1)", "sum_to", "flatten"])
def test_noncontiguous(name, kind, device):
    shape, fn, ref = CASES[name]
    a = randn(shape, device).numpy()
    x = noncontig(a, device, kind)
    np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-14)
    assert gc.gradcheck(fn, (x,))


@pytest.mark.parametrize("name", ["reshape", "transpose(axes)", "swapaxes", "expand_dims(tuple)",
                                  "squeeze", "broadcast_to(size-1)", "sum_to", "flatten", ".T"])
def test_second_order(name, device):
    shape, fn, _ = CASES[name]
    # squared: the gradient then depends on x, so the backward's own backward is exercised
    assert gradcheck2(lambda z: fn(z) ** 2, (randn(shape, device),))


def test_same_shape_is_a_no_op(device):
    x = randn((2, 3), device)
    assert gc.reshape(x, (2, 3)) is x
    assert gc.broadcast_to(x, (2, 3)) is x
    assert gc.sum_to(x, (2, 3)) is x


def test_broadcast_gradient_sums_back(device):
    x = gc.tensor([1.0, 2.0, 3.0], dtype="float64", device=device, requires_grad=True)
    gc.broadcast_to(x, (4, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0, 4.0])


def test_errors(device):
    x = gc.zeros((2, 3), device=device)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        gc.reshape(x, (4, 2))
    with pytest.raises(ValueError, match="transpose"):
        gc.transpose(x, (0, 0))
    with pytest.raises(ValueError, match="transpose"):
        gc.transpose(x, (0, 1, 2))
    with pytest.raises(ValueError, match="swapaxes"):
        gc.swapaxes(x, 0, 2)
    with pytest.raises(ValueError, match="squeeze"):
        gc.squeeze(x, 1)
    with pytest.raises(ValueError, match="expand_dims"):
        gc.expand_dims(x, 4)
    with pytest.raises(ValueError, match=r"broadcast_to.*\(2, 3\).*\(3, 2\)"):
        gc.broadcast_to(x, (3, 2))


def test_axes_and_shapes_must_be_integers(device):
    """Each names the op and the argument (it was "'float' object is not iterable" and the like)."""
    x = gc.ones((2, 3), device=device)
    for call, match in [(lambda: gc.reshape(x, (3.0, 2)), r"^reshape: shape must be"),
                        (lambda: x.reshape(2.5, 2), r"^reshape: shape must be"),
                        (lambda: gc.transpose(x, (1.0, 0)), r"^transpose: axes must be"),
                        (lambda: gc.swapaxes(x, 0, 1.5), r"^swapaxes: axis must be"),
                        (lambda: gc.expand_dims(x, 0.5), r"^expand_dims: axis must be"),
                        (lambda: gc.squeeze(gc.ones((1, 3), device=device), 0.5),
                         r"^squeeze: axis must be")]:
        with pytest.raises(TypeError, match=match):
            call()
    assert gc.reshape(x, (np.int64(3), -1)).shape == (3, 2)


# ---- atleast_1d/2d/3d -------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast(name, shape, device):
    fn, ref = getattr(gc, name), getattr(np, name)
    x = randn(shape, device)
    y = fn(x)
    assert y.shape == ref(x.numpy()).shape
    np.testing.assert_array_equal(y.numpy(), ref(x.numpy()))
    if len(y.shape) == len(shape):
        assert y is x  # nothing to add: the same tensor, as NumPy returns the same array
    assert gc.gradcheck(lambda t: fn(t) ** 2, (x,))
    many = fn(x, x)
    assert isinstance(many, list) and len(many) == 2 and many[0].shape == y.shape
