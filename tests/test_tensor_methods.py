"""PyTorch's Tensor methods (gradcore/tensor_methods.py and the ones in tensor.py): view,
unsqueeze, permute, pow, casts, clone, mm, eq..ge, numel, dim, size, item, format, to."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn


def test_view_shares_storage_and_version(device):
    x = gc.arange(6.0, device=device)
    v = x.view(2, 3)
    assert v.shape == (2, 3) and x.view((3, 2)).shape == (3, 2) and x.view(-1, 2).shape == (3, 2)
    v[1, 2] = 9.0
    assert x.tolist()[5] == 9.0 and x._version == v._version == 1
    x[0] = 4.0
    assert v.tolist()[0][0] == 4.0


def test_view_refuses_a_copy_and_dtypes(device):
    x = gc.zeros((2, 3), device=device)
    with pytest.raises(RuntimeError, match=r"view: the tensor of shape \(3, 2\) is not contiguous.*reshape"):
        x.T.view(6)
    with pytest.raises(NotImplementedError, match="view: reinterpreting"):
        x.view(gc.int32)
    with pytest.raises(ValueError):
        x.view(4)


def test_view_is_differentiable(device):
    x = randn((2, 3), device)
    f = lambda x: x.view(3, 2) * x.view(3, 2)  # noqa: E731
    assert gc.gradcheck(f, (x,)) and gradcheck2(f, (x,)) and jvpcheck(f, (x,))


def test_clone(device):
    x = randn((2, 3), device)
    f = lambda x: x.clone() * x  # noqa: E731
    assert gc.gradcheck(f, (x,)) and gradcheck2(f, (x,)) and jvpcheck(f, (x,))
    c = noncontig(np.arange(6.0).reshape(2, 3), device)
    y = c.clone()
    assert y.array is not c.array and y.tolist() == c.tolist()
    y[0, 0] = 100.0
    assert c.tolist()[0][0] == 0.0 and c._version == 0
    x32 = gc.ones(3, device=device, requires_grad=True)
    (x32.clone() * 2).sum().backward()
    assert x32.grad.dtype == np.float32 and x32.grad.tolist() == [2.0, 2.0, 2.0]


def test_mm(device):
    a, b = randn((2, 3), device, seed=1), randn((3, 4), device, seed=2)
    assert gc.gradcheck(lambda a, b: a.mm(b), (a, b))
    assert gradcheck2(lambda a, b: a.mm(b), (a, b)) and jvpcheck(lambda a, b: a.mm(b), (a, b))
    np.testing.assert_allclose(a.mm(b).numpy(), a.numpy() @ b.numpy())
    with pytest.raises(ValueError, match=r"mm: expected two 2-D tensors, got shapes \(2, 3\) and \(3,\)"):
        a.mm(gc.ones(3, dtype="float64", device=device))


def test_unsqueeze_permute_pow(device):
    x = randn((2, 3, 4), device)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.permute((1, 0, 2)).shape == (3, 2, 4)
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), x.numpy().transpose(2, 0, 1))
    assert gc.gradcheck(lambda x: x.permute(2, 0, 1).unsqueeze(1) * 2, (x,))
    pos = randn((3,), device, low=0.5, high=2.0)
    assert gc.gradcheck(lambda x: x.pow(3) + x.pow(x), (pos,))
    np.testing.assert_allclose(pos.pow(2).numpy(), pos.numpy() ** 2)


def test_casts(device):
    x = gc.tensor([1.7, -2.2], dtype="float32", device=device, requires_grad=True)
    assert (x.double().dtype, x.float().dtype, x.half().dtype) == (
        np.float64, np.float32, np.float16)
    assert x.float() is x  # no cast needed: the same tensor, as PyTorch
    x.double().sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]
    for cast, dt in ((x.long, np.int64), (x.int, np.int32), (x.bool, np.bool_)):
        y = cast()
        assert y.dtype == dt and not y.requires_grad and y.grad_fn is None
    assert x.long().tolist() == [1, -2]
    x64 = randn((3,), device)
    x64.requires_grad_()
    (x64.float() * x64.float()).sum().backward()  # the float32 gradient comes back as float64
    assert x64.grad.dtype == np.float64
    np.testing.assert_allclose(x64.grad.numpy(), 2 * x64.numpy(), rtol=1e-6)


def test_comparison_methods(device):
    x = gc.tensor([1.0, 2.0, 3.0], device=device)
    assert x.eq(2.0).tolist() == [False, True, False] and x.ne(2.0).tolist() == [True, False, True]
    assert x.lt(2.0).tolist() == [True, False, False] and x.le(2.0).tolist() == [True, True, False]
    assert x.gt(2.0).tolist() == [False, False, True] and x.ge(2.0).tolist() == [False, True, True]
    assert x.eq(gc.tensor([1.0, 0.0, 3.0], device=device)).tolist() == [True, False, True]


def test_numel_dim_size_item_tolist():
    x = gc.zeros((2, 3))
    assert x.numel() == 6 and x.nelement() == 6 and x.dim() == 2 and x.size == 6 and isinstance(x.size, int)
    assert x.size + 1 == 7 and x.tolist() == [[0.0] * 3] * 2
    with pytest.raises(TypeError, match=r"size is NumPy's attribute.*x\.shape\[1\]"):
        x.size(1)
    with pytest.raises(TypeError, match=r"for x.size\(\) use x\.shape,"):
        x.size()
    with pytest.raises(ValueError, match=r"item: the tensor has 6 elements \(shape \(2, 3\)\)"):
        x.item()
    assert gc.ones((1, 1)).item() == 1.0 and isinstance(gc.tensor(3).item(), int)


def test_format():
    assert f"{gc.tensor(3.14159):.2f}" == "3.14" and f"{gc.tensor(7):>4d}" == "   7"
    assert format(gc.tensor([1.0, 2.0]), "") == str(gc.tensor([1.0, 2.0]))
    assert f"{gc.tensor([1.0, 2.0])}" == str(gc.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"format: spec '\.2f' needs a 0-d tensor, got shape \(1,\)"):
        f"{gc.tensor([1.0]):.2f}"


def test_to_takes_a_dtype_positionally(device):
    x = gc.ones(2, requires_grad=True)
    assert x.to(gc.float64).dtype == np.float64 and x.to("float16").dtype == np.float16
    assert x.to(device, gc.float64).dtype == np.float64
    with pytest.raises(ValueError, match="to: 'gpu' is neither a device"):
        x.to("gpu")
    m = gc.nn.Linear(2, 3)
    assert m.to(gc.float64) is m and m.weight.dtype == np.float64
    m.to(device, gc.float32)
    assert m.weight.dtype == np.float32 and str(m.weight.device).startswith(device)
    with pytest.raises(ValueError, match="Module.to: 'gpu' is neither"):
        m.to("gpu")


def test_dtype_aliases():
    assert (gc.float, gc.double, gc.half, gc.long, gc.int, gc.bool) == (
        np.float32, np.float64, np.float16, np.int64, np.int32, np.bool_)
    assert gc.ones(2, dtype=gc.long).dtype == np.int64
    # not exported by `from gradcore import *`: they would shadow Python's float, int and bool
    assert not {"float", "int", "bool", "double", "half", "long"} & set(gc.__all__)
    assert {"float32", "float64", "float16", "int64", "int32", "bool_"} <= set(gc.__all__)


def test_as_methods_and_expand(device):
    x = gc.arange(6, dtype="float64", device=device).reshape(2, 3)
    other = gc.zeros((3, 2), device=device)
    assert x.view_as(other).shape == (3, 2) and x.reshape_as(other).shape == (3, 2)
    y = gc.tensor([[1.0], [2.0]], dtype="float64", device=device)
    assert y.expand(2, 4).shape == (2, 4) and y.expand(-1, 4).shape == (2, 4)
    assert y.expand((3, 2, 4)).shape == (3, 2, 4) and y.expand(3, -1, 4).shape == (3, 2, 4)
    assert y.expand_as(gc.zeros((2, 5))).shape == (2, 5)
    with pytest.raises(ValueError, match=r"expand: 1 sizes for a tensor of shape \(2, 1\)"):
        y.expand(4)
    assert x.type_as(gc.zeros(1, dtype="float32")).dtype == np.float32
    w = gc.tensor([[1.0], [2.0]], dtype="float64", device=device, requires_grad=True)
    (w.expand(2, 3) * x).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[3.0], [12.0]])


ELEMENTWISE_METHODS = ["log2", "log10", "exp2", "expm1", "square", "reciprocal", "sign", "floor",
                       "ceil", "trunc", "tan", "sinh", "cosh", "arcsin", "arccos", "arctan",
                       "arcsinh", "arccosh", "arctanh", "erf"]


@pytest.mark.parametrize("name", ELEMENTWISE_METHODS)
def test_elementwise_methods_are_the_functions(name, device):
    # makemore part 2 calls loss.log10(): every elementwise function is also a method
    x = gc.tensor([0.25, 0.5] if name not in ("arccosh",) else [1.5, 2.0], dtype="float64",
                  device=device, requires_grad=True)
    y_m, y_f = getattr(x, name)(), getattr(gc, name)(x)
    np.testing.assert_array_equal(y_m.numpy(), y_f.numpy())
    (gm,) = gc.autograd.grad(y_m.sum(), x)
    (gf,) = gc.autograd.grad(y_f.sum(), x)
    np.testing.assert_array_equal(gm.numpy(), gf.numpy())
