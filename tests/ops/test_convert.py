"""astype / Tensor.to(dtype) / to_device: values, dtypes, gradients flowing back in the source
dtype, non-differentiable integer casts."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn


@pytest.mark.parametrize("src,dst", [("float32", "float64"), ("float64", "float32"),
                                     ("float32", "float16"), ("float16", "float32")])
def test_astype_value_and_gradient_dtype(src, dst, device):
    x = gc.tensor([0.5, -1.25, 3.0], dtype=src, device=device, requires_grad=True)
    y = x.astype(dst)
    assert y.dtype == dst and y.requires_grad
    np.testing.assert_array_equal(y.numpy(), x.numpy().astype(dst))
    (y * gc.tensor([1.0, 2.0, 3.0], dtype=dst, device=device)).sum().backward()
    assert x.grad.dtype == src
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_astype_gradcheck_through_float32(device):
    x = randn((2, 3), device)
    # a float32 round trip: finite differences need a step far above float32 rounding
    f = lambda z: gc.astype(z, "float32") ** 3  # noqa: E731
    assert gc.gradcheck(f, (x,), eps=1e-3, atol=1e-3, rtol=1e-3)
    assert gradcheck2(lambda z: f(z).astype("float64"), (x,), eps=1e-3, atol=1e-3, rtol=1e-3)
    assert jvpcheck(lambda z: (z.astype("float32") * 2).astype("float64"), (x,), eps=1e-3,
                    atol=1e-4, rtol=1e-4)


def test_astype_scalar_size_one_and_noncontiguous(device):
    for x in (randn((), device), randn((1, 3, 1), device),
              noncontig(randn((3, 2), device).numpy(), device, "transposed")):
        y = x.astype("float32")
        assert y.shape == x.shape and y.dtype == np.float32
        np.testing.assert_array_equal(y.numpy(), x.numpy().astype(np.float32))
        g = gc.grad(lambda z: (z.astype("float32") * 3).sum())(x)
        assert g.shape == x.shape and g.dtype == np.float64
        np.testing.assert_array_equal(g.numpy(), np.full(x.shape, 3.0))


def test_second_derivative_through_casts(device):
    x = gc.tensor([0.5, 2.0], dtype="float64", device=device)
    d2 = gc.grad(lambda a: gc.grad(lambda b: (b.astype("float32") ** 3).sum())(a).sum())(x)
    assert d2.dtype == np.float64
    np.testing.assert_allclose(d2.numpy(), 6 * x.numpy(), rtol=1e-6)


def test_same_dtype_is_a_no_op_and_to_forms(device):
    x = randn((2,), device).requires_grad_()
    assert x.astype("float64") is x and gc.astype(x, np.float64) is x
    assert x.to("float32").dtype == np.float32
    assert x.to(gc.float32).dtype == np.float32
    assert x.to(dtype="float32").dtype == np.float32
    assert x.to(device, dtype="float16").dtype == np.float16
    assert x.to(device) is x and gc.to_device(x, device) is x and x.cpu().device == "cpu"


def test_integer_casts_are_not_differentiable(device):
    x = gc.tensor([1.7, -2.2], dtype="float64", device=device, requires_grad=True)
    i = x.astype("int64")
    assert i.dtype == np.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), [1, -2])
    f = gc.arange(3, device=device).astype("float32")
    assert f.dtype == np.float32 and not f.requires_grad
    np.testing.assert_array_equal(f.numpy(), [0, 1, 2])
