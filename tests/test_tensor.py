"""Tensor: creation functions, attributes, conversions, dtype rules, repr, in-place methods and
error messages."""
import numpy as np
import pytest

import gradcore as gc

# name -> (call(device, dtype, requires_grad), expected shape, expected values or None)
CREATORS = {
    "zeros(2, 3)": (lambda d, t, r: gc.zeros(2, 3, device=d, dtype=t, requires_grad=r), (2, 3),
                    np.zeros((2, 3))),
    "zeros((2, 3))": (lambda d, t, r: gc.zeros((2, 3), device=d, dtype=t, requires_grad=r),
                      (2, 3), np.zeros((2, 3))),
    "zeros()": (lambda d, t, r: gc.zeros(device=d, dtype=t, requires_grad=r), (), np.zeros(())),
    "ones": (lambda d, t, r: gc.ones(3, device=d, dtype=t, requires_grad=r), (3,), np.ones(3)),
    "full": (lambda d, t, r: gc.full((2, 2), 1.5, device=d, dtype=t, requires_grad=r), (2, 2),
             np.full((2, 2), 1.5)),
    "full(int)": (lambda d, t, r: gc.full(3, -2.0, device=d, dtype=t, requires_grad=r), (3,),
                  np.full(3, -2.0)),
    "empty": (lambda d, t, r: gc.empty(4, 1, device=d, dtype=t, requires_grad=r), (4, 1), None),
    "randn": (lambda d, t, r: gc.randn(3, 4, device=d, dtype=t, requires_grad=r), (3, 4), None),
    "rand": (lambda d, t, r: gc.rand((5,), device=d, dtype=t, requires_grad=r), (5,), None),
    "arange": (lambda d, t, r: gc.arange(0.0, 2.0, 0.5, device=d, dtype=t, requires_grad=r),
               (4,), np.arange(0.0, 2.0, 0.5)),
    "tensor": (lambda d, t, r: gc.tensor([[1.0, 2.0]], device=d, dtype=t, requires_grad=r),
               (1, 2), np.array([[1.0, 2.0]])),
    "zeros_like": (lambda d, t, r: gc.zeros_like(gc.ones((2, 1), device=d), dtype=t,
                                                 requires_grad=r), (2, 1), np.zeros((2, 1))),
    "ones_like": (lambda d, t, r: gc.ones_like(gc.zeros(2, device=d), dtype=t, requires_grad=r),
                  (2,), np.ones(2)),
    "full_like": (lambda d, t, r: gc.full_like(gc.zeros(2, device=d), 7.0, dtype=t,
                                               requires_grad=r), (2,), np.full(2, 7.0)),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("dtype", [None, "float64", "float16"])
@pytest.mark.parametrize("name", CREATORS)
def test_creation(name, dtype, requires_grad, device):
    make, shape, values = CREATORS[name]
    t = make(device, dtype, requires_grad)
    assert isinstance(t, gc.Tensor)
    assert t.shape == shape and t.ndim == len(shape) and t.size == int(np.prod(shape))
    assert t.dtype == (np.dtype(dtype) if dtype else np.float32)  # float32 by default
    assert t.device == device and t.device is gc.device(device)
    assert t.requires_grad is requires_grad and t.is_leaf and t.grad is None
    if values is not None:
        np.testing.assert_array_equal(t.numpy(), values.astype(t.dtype))
    if name == "rand":
        assert ((t.numpy() >= 0) & (t.numpy() < 1)).all()


def test_tensor_dtype_inference(device):
    assert gc.tensor(1.0, device=device).dtype == np.float32
    assert gc.tensor([1, 2], device=device).dtype == np.int64
    assert gc.tensor([True, False], device=device).dtype == np.bool_
    assert gc.tensor(np.ones(2, np.float64), device=device).dtype == np.float64  # arrays keep it
    assert gc.tensor(np.ones(2, np.float16), device=device).dtype == np.float16
    assert gc.tensor(np.float64(2.0), device=device).dtype == np.float64
    assert gc.arange(4, device=device).dtype == np.int64
    assert gc.arange(4, dtype="float64", device=device).dtype == np.float64
    assert gc.tensor([gc.tensor(1.0), 2.0], device=device).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="cannot make a tensor"):
        gc.tensor([{"a": 1}], device=device)
    with pytest.raises(ValueError, match="non-negative"):
        gc.zeros(-1, device=device)


def test_set_default_dtype(device):
    try:
        gc.set_default_dtype("float64")
        assert gc.get_default_dtype() == np.float64
        assert gc.tensor([1.5], device=device).dtype == np.float64
        assert gc.zeros(2, device=device).dtype == np.float64
        assert gc.randn(2, device=device).dtype == np.float64
    finally:
        gc.set_default_dtype("float32")
    assert gc.ones(1, device=device).dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        gc.set_default_dtype("int32")


def test_manual_seed_determinism(device):
    gc.manual_seed(42)
    a, b = gc.randn(5, device=device).numpy(), gc.rand(3, device=device).numpy()
    gc.manual_seed(42)
    np.testing.assert_array_equal(gc.randn(5, device=device).numpy(), a)
    np.testing.assert_array_equal(gc.rand(3, device=device).numpy(), b)
    gc.manual_seed(43)
    assert not np.array_equal(gc.randn(5, device=device).numpy(), a)
    gc.manual_seed(7)
    c = gc.randn(4, device=device)
    assert not np.array_equal(c.numpy(), gc.randn(4, device=device).numpy())  # the stream moves


def test_attributes(device):
    t = gc.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float64
    assert str(t.device) == ("cpu" if device == "cpu" else "cuda:0")
    assert t.T.shape == (3, 2) and t.T.requires_grad and not t.T.is_leaf
    np.testing.assert_array_equal(t.T.numpy(), np.arange(6.0).reshape(2, 3).T)
    assert t.mT.shape == (3, 2)
    assert type(t.array) is np.ndarray if device == "cpu" else hasattr(t.array, "device")
    assert t.grad is None and t.requires_grad and t.is_leaf and t.grad_fn is None
    (t * 2).sum().backward()
    assert isinstance(t.grad, gc.Tensor) and not t.grad.requires_grad
    np.testing.assert_array_equal(t.grad.numpy(), np.full((2, 3), 2.0))


def test_conversions(device):
    src = np.array([[1.5, 2.0], [3.0, 4.0]])
    t = gc.tensor(src, device=device)
    src[0, 0] = 100.0  # tensor() copies
    assert t.numpy()[0, 0] == 1.5
    a = t.numpy()
    assert type(a) is np.ndarray and a.dtype == np.float64
    if device == "cpu":
        assert np.shares_memory(a, t.array)  # numpy() shares on the CPU
        shared = np.zeros(3)
        assert np.shares_memory(gc.as_tensor(shared).array, shared)  # as_tensor does not copy
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]] and type(t.tolist()[0][0]) is float
    assert t[1, 1].item() == 4.0 and type(t[1, 1].item()) is float
    assert gc.tensor([3], device=device).item() == 3
    with pytest.raises(ValueError, match="4 elements"):
        t.item()
    assert float(t[0, 0]) == 1.5 and int(t[1, 0]) == 3
    assert bool(gc.tensor(1.0, device=device)) and not bool(gc.tensor(0.0, device=device))
    assert [10, 20, 30][gc.tensor(1, device=device)] == 20
    with pytest.raises(TypeError, match="integer"):
        [1, 2][gc.tensor(1.0, device=device)]
    with pytest.raises(TypeError, match="0-d"):
        len(gc.tensor(1.0, device=device))
    if device == "cpu":
        np.testing.assert_array_equal(np.asarray(t), t.numpy())
    else:  # as CuPy: no implicit device-to-host copy (docs/interop.md)
        with pytest.raises(TypeError, match="implicit conversion"):
            np.asarray(t)
    assert t.to("float32").dtype == np.float32 and t.to(dtype=gc.float16).dtype == np.float16


def test_detach_and_backward_with_gradient(device):
    x = gc.tensor([1.0, 2.0, 3.0], dtype="float64", device=device, requires_grad=True)
    y = x * x
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    y.backward(gradient=[1.0, 0.5, 0.0])  # any array-like, cast to y's dtype
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 0.0])
    assert x.grad.dtype == np.float64


def test_python_scalars_do_not_upcast(device):
    f32 = gc.ones(2, device=device)
    assert (f32 * 2.5).dtype == np.float32 and (2.5 * f32).dtype == np.float32
    assert (f32 + 1).dtype == np.float32 and (f32 ** 2).dtype == np.float32
    assert gc.maximum(f32, 0.5).dtype == np.float32
    assert gc.where(f32 > 0, f32, 0.0).dtype == np.float32
    f64 = gc.ones(2, dtype="float64", device=device)
    assert (f64 * 2.5).dtype == np.float64 and (f64 * np.float32(2)).dtype == np.float64
    assert (f32 * f64).dtype == np.float64  # arrays promote as NumPy does
    i = gc.arange(3, device=device)
    # PyTorch's rule (ops/promotion.py): an int tensor and a Python float give the default dtype
    assert (i * 2).dtype == np.int64 and (i * 2.5).dtype == np.float32
    assert (gc.ones(2, dtype="float16", device=device) * 3.0).dtype == np.float16


def test_repr(device):
    suffix = "" if device == "cpu" else ", device='cuda:0'"
    assert repr(gc.tensor([1.0, 2.0], device=device)) == f"tensor([1., 2.]{suffix})"
    assert repr(gc.tensor([1.0], dtype="float64", device=device)) == \
        f"tensor([1.], dtype=float64{suffix})"
    x = gc.tensor([1.0], device=device, requires_grad=True)
    assert repr(x) == f"tensor([1.]{suffix}, requires_grad=True)"
    assert repr(x * 2) == f"tensor([2.]{suffix}, grad_fn=<Mul>)"
    assert repr(gc.tensor([1, 2], device=device)) == f"tensor([1, 2]{suffix})"
    assert repr(gc.tensor(0.5, device=device)) == f"tensor(0.5{suffix})"


def test_inplace_methods_outside_recording(device):
    t = gc.zeros(3, device=device)
    assert t.fill_(2.0).add_(gc.ones(3, device=device), alpha=3).mul_(2) is t
    np.testing.assert_array_equal(t.numpy(), [10.0, 10.0, 10.0])
    t[1] = 0.5
    t[gc.tensor([0, 0], device=device)] = -1.0
    np.testing.assert_array_equal(t.numpy(), [-1.0, 0.5, 10.0])
    t.copy_(gc.tensor([1.0, 2.0, 3.0], device=device))
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.zero_().numpy(), [0.0, 0.0, 0.0])
    w = gc.ones(2, device=device, requires_grad=True)
    with gc.no_grad():
        w.add_(1)
    np.testing.assert_array_equal(w.numpy(), [2.0, 2.0])


def test_error_messages(device):
    a, b = gc.ones((2, 3), device=device), gc.ones((4, 3), device=device)
    with pytest.raises(ValueError, match=r"^mul: operands with shapes \(2, 3\) and \(4, 3\)"):
        a * b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) do not match"):
        a @ a
    for bad in ("tpu", "cuda:x", "cpu:0", "gpu", ""):
        with pytest.raises(ValueError, match="unknown device"):
            gc.tensor([1.0], device=bad)
        with pytest.raises(ValueError, match="unknown device"):
            gc.zeros(2, device=bad)


@pytest.mark.skipif(gc.cuda.is_available(), reason="a GPU is usable here")
def test_to_cuda_without_gpu_says_why():
    t = gc.ones(2)
    for call in (lambda: t.to("cuda"), lambda: t.cuda(), lambda: gc.ones(2, device="cuda:0")):
        with pytest.raises(RuntimeError, match="no GPU is usable") as info:
            call()
        assert gc.cuda.unavailable_reason() in str(info.value)


def test_complex_tensors_cannot_require_grad():
    """Issue 12.11: (z*z).abs().sum() at 1+2j gave -1.2-2.4j instead of 2+4j; complex
    differentiation is refused with a clear error rather than answered wrongly."""
    with pytest.raises(TypeError, match="complex"):
        gc.tensor([1 + 2j], requires_grad=True)
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = x * gc.tensor([1j, 2j])      # a complex constant: the result is not differentiated
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.abs().sum().backward()
    with pytest.raises(TypeError, match="real floating"):
        gc.grad(lambda z: (z * z).abs().sum())(gc.tensor([1 + 2j]))


@pytest.mark.parametrize("data", [np.array([1, "a"], dtype=object), np.array([None, 1.0]),
                                  np.array(["x"]), [object()]])
def test_object_and_string_data_are_refused(data):
    with pytest.raises(TypeError, match="expected numbers"):
        gc.tensor(data)
    with pytest.raises(TypeError, match="expected numbers"):
        gc.as_tensor(data)


def test_assigning_grad_checks_it_as_pytorch_does():
    # the "PyTorch: Tensors and autograd" tutorial's `a.grad = 0.` used to be stored and then
    # failed in the next backward with "'float' object has no attribute 'requires_grad'"
    a = gc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"grad: assigned grad must be a Tensor or None, got float"):
        a.grad = 0.0
    with pytest.raises(RuntimeError, match=r"assigned grad has shape \(3,\).*tensor has shape \(2,\)"):
        a.grad = gc.zeros(3)
    with pytest.raises(RuntimeError, match="dtype float64.*dtype float32"):
        a.grad = gc.zeros(2, dtype="float64")
    assert a.grad is None
    a.grad = gc.ones(2)
    (a * a).sum().backward()
    assert a.grad.tolist() == [3.0, 5.0]
    a.grad = None
    assert a.grad is None
