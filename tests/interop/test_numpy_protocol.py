"""NumPy's protocols: numpy.f(t) runs gradcore's op, with the gradient gradcore's op gives."""
import numpy
import pytest

import gradcore as gc
from gradcore.interop import numpy_protocol
from tests.helpers import randn

# (id, numpy call, the gradcore call it must equal): inputs x (3, 4) and w (4, 2), float64
CASES = [
    ("sum-axis", lambda x, w: numpy.sum(x, axis=1), lambda x, w: gc.sum(x, 1)),
    ("sum-keepdims", lambda x, w: numpy.sum(x, 0, keepdims=True), lambda x, w: gc.sum(x, 0, True)),
    ("mean", lambda x, w: numpy.mean(x), lambda x, w: gc.mean(x)),
    ("var-ddof", lambda x, w: numpy.var(x, axis=0, ddof=1), lambda x, w: gc.var(x, 0, ddof=1)),
    ("std", lambda x, w: numpy.std(x, 1), lambda x, w: gc.std(x, 1)),
    ("max", lambda x, w: numpy.max(x, axis=1), lambda x, w: gc.max(x, 1)),
    ("prod", lambda x, w: numpy.prod(x, axis=0), lambda x, w: gc.prod(x, 0)),
    ("cumsum", lambda x, w: numpy.cumsum(x, axis=1), lambda x, w: gc.cumsum(x, 1)),
    ("exp", lambda x, w: numpy.exp(x), lambda x, w: gc.exp(x)),
    ("tanh", lambda x, w: numpy.tanh(x), lambda x, w: gc.tanh(x)),
    ("square", lambda x, w: numpy.square(x), lambda x, w: x * x),
    ("add-scalar", lambda x, w: numpy.add(x, 1.5), lambda x, w: x + 1.5),
    ("maximum", lambda x, w: numpy.maximum(x, 0.1), lambda x, w: gc.maximum(x, 0.1)),
    ("matmul", lambda x, w: numpy.matmul(x, w), lambda x, w: x @ w),
    ("dot", lambda x, w: numpy.dot(x, w), lambda x, w: x @ w),
    ("einsum", lambda x, w: numpy.einsum("ij,jk->ik", x, w, optimize=True), lambda x, w: x @ w),
    ("concatenate", lambda x, w: numpy.concatenate([x, x * 2]), lambda x, w: gc.concatenate([x, x * 2])),
    ("stack", lambda x, w: numpy.stack([x, x], axis=1), lambda x, w: gc.stack([x, x], 1)),
    ("where", lambda x, w: numpy.where(x > 0, x, 0.0), lambda x, w: gc.where(x > 0, x, 0.0)),
    ("clip", lambda x, w: numpy.clip(x, -0.5, 0.5), lambda x, w: gc.clip(x, -0.5, 0.5)),
    ("clip-kw", lambda x, w: numpy.clip(x, max=0.5), lambda x, w: gc.clip(x, None, 0.5)),
    ("transpose", lambda x, w: numpy.transpose(x), lambda x, w: x.T),
    ("reshape", lambda x, w: numpy.reshape(x, (-1,)), lambda x, w: x.reshape(-1)),
    ("ravel", lambda x, w: numpy.ravel(x), lambda x, w: x.reshape(-1)),
    ("norm", lambda x, w: numpy.linalg.norm(x), lambda x, w: gc.linalg.norm(x)),
    ("tensordot", lambda x, w: numpy.tensordot(x, w, axes=1), lambda x, w: x @ w),
    ("flip", lambda x, w: numpy.flip(x, 0), lambda x, w: gc.flip(x, 0)),
    ("pad", lambda x, w: numpy.pad(x, 1, constant_values=2.0), lambda x, w: gc.pad(x, 1, constant_values=2.0)),
    ("add.reduce", lambda x, w: numpy.add.reduce(x), lambda x, w: gc.sum(x, 0)),  # NumPy: axis 0
    ("maximum.reduce", lambda x, w: numpy.maximum.reduce(x, axis=1, keepdims=True), lambda x, w: gc.max(x, 1, True)),
    ("multiply.accumulate", lambda x, w: numpy.multiply.accumulate(x), lambda x, w: gc.cumprod(x, 0)),
]


@pytest.mark.parametrize("np_call, gc_call", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_numpy_call_equals_gradcore_op_with_its_gradient(np_call, gc_call, device):
    xa, wa = randn((3, 4), device, seed=1), randn((4, 2), device, seed=2)
    results = []
    for call in (np_call, gc_call):
        x = gc.tensor(xa, device=device, requires_grad=True)
        w = gc.tensor(wa, device=device, requires_grad=True)
        y = call(x, w)
        assert isinstance(y, gc.Tensor) and y.requires_grad and y.device == device
        (y * gc.tensor(numpy.linspace(0.5, 1.5, y.size).reshape(y.shape), device=device)).sum().backward()
        results.append((y.numpy(), x.grad.numpy(), None if w.grad is None else w.grad.numpy()))
    (y0, gx0, gw0), (y1, gx1, gw1) = results
    numpy.testing.assert_allclose(y0, y1, rtol=1e-12)
    numpy.testing.assert_allclose(gx0, gx1, rtol=1e-12)
    assert (gw0 is None) == (gw1 is None)
    if gw0 is not None:
        numpy.testing.assert_allclose(gw0, gw1, rtol=1e-12)


def test_ndarray_op_tensor_stays_a_differentiable_tensor():
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = numpy.array([2.0, 3.0, 4.0])
    for y in (a * x, a + x, a - x, a / x, a ** x, numpy.float64(2.0) * x):
        assert isinstance(y, gc.Tensor) and y.requires_grad
    (a * x).sum().backward()
    assert x.grad.tolist() == [2.0, 3.0, 4.0]
    assert (a @ x).tolist() == 20.0


def test_reductions_keep_numpy_defaults_not_gradcores():
    x = gc.tensor(numpy.arange(6.0).reshape(2, 3))
    assert numpy.add.reduce(x).shape == (3,)  # NumPy's default axis=0, not "all axes"
    # NumPy's svd default is full_matrices=True, which gradcore refuses rather than silently
    # giving the reduced factors
    with pytest.raises(NotImplementedError, match="full_matrices"):
        numpy.linalg.svd(x)
    u, s, vh = numpy.linalg.svd(x, full_matrices=False)
    numpy.testing.assert_allclose((u * s) @ vh, x.numpy(), atol=1e-12)


def test_positional_arguments_bind_to_numpys_signature_not_gradcores():
    x = gc.tensor(numpy.arange(6.0).reshape(2, 3))
    # numpy.sum(a, axis, dtype, out, keepdims): the 5th positional is keepdims, gradcore's 3rd
    assert numpy.sum(x, 0, None, None, True).shape == (1, 3)
    # numpy.var(a, axis, dtype, out, ddof): the 5th positional is ddof
    assert numpy.var(x, 1, None, None, 1).tolist() == [1.0, 1.0]


def test_unsupported_numpy_arguments_raise_naming_function_and_argument():
    x = gc.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"numpy\.sum: the argument where="):
        numpy.sum(x, where=numpy.array([True, False]))
    with pytest.raises(TypeError, match=r"numpy\.max: the argument initial=0"):
        numpy.max(x, initial=0)
    with pytest.raises(TypeError, match=r"numpy\.add: the argument casting='unsafe'"):
        numpy.add(x, 1, casting="unsafe")
    assert numpy.sum(x, out=None, keepdims=False).tolist() == 3.0  # defaults are fine


def test_dtype_argument_casts_first():
    x = gc.tensor([1, 2, 3])
    y = numpy.sum(x, dtype=numpy.float64)
    assert isinstance(y, gc.Tensor) and y.dtype == numpy.float64 and y.item() == 6.0
    assert numpy.multiply(x, 2, dtype=numpy.float32).dtype == numpy.float32


def test_out_writes_through_the_in_place_path():
    x = gc.tensor([1.0, 2.0])
    out = gc.zeros(2, dtype=x.dtype)
    assert numpy.add(x, 1.0, out=out) is out and out.tolist() == [2.0, 3.0]
    assert out._version == 1
    arr = numpy.zeros(2, dtype=x.dtype)
    assert numpy.multiply(x, 3.0, out=arr) is arr and arr.tolist() == [3.0, 6.0]
    with pytest.raises(TypeError, match="requires grad"):
        numpy.exp(gc.tensor([1.0], requires_grad=True), out=numpy.zeros(1))
    with pytest.raises(ValueError, match="shape"):
        numpy.add(x, 1.0, out=gc.zeros(3))
    with pytest.raises(ValueError, match="dtype"):
        numpy.add(x, 1.0, out=gc.zeros(2, dtype=numpy.int64))  # same_kind: float -> int refused


def test_functions_without_an_op_fall_back_only_without_grad_on_the_cpu():
    x = gc.tensor([3.0, 1.0, 3.0])
    u = numpy.unique(x)
    assert type(u) is numpy.ndarray and u.tolist() == [1.0, 3.0]
    assert type(numpy.add.outer(x, x)) is numpy.ndarray
    xg = gc.tensor([3.0, 1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"numpy\.unique is not differentiable in gradcore"):
        numpy.unique(xg)
    with pytest.raises(TypeError, match=r"numpy\.add\.outer is not differentiable"):
        numpy.add.outer(xg, xg)
    with pytest.raises(TypeError, match=r"numpy\.add\.at: writes into its first argument"):
        numpy.add.at(x, [0], 1.0)
    # results without floating values need no gradient: allowed even when inputs require grad
    assert numpy.allclose(xg, [3.0, 1.0]) and numpy.count_nonzero(xg) == 2
    assert numpy.shape(xg) == (2,) and numpy.ndim(xg) == 1 and numpy.size(xg) == 2


def test_fallback_never_writes_into_a_tensor():
    x = gc.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        numpy.copyto(x, numpy.zeros(2))
    assert x.tolist() == [1.0, 2.0] and x._version == 0


def test_predicates_run_on_the_data_of_any_tensor(device):
    x = gc.tensor([1.0, numpy.nan, numpy.inf], device=device, requires_grad=True)
    y = numpy.isnan(x)
    assert isinstance(y, gc.Tensor) and not y.requires_grad and y.device == device
    assert y.tolist() == [False, True, False]
    assert numpy.logical_and(numpy.isfinite(x), x > 0).tolist() == [True, False, False]


def test_gpu_tensors_never_go_to_the_host_implicitly(device):
    x = gc.tensor([3.0, 1.0], device=device)
    if device == "cpu":
        assert numpy.asarray(x).tolist() == [3.0, 1.0]
        return
    with pytest.raises(TypeError, match="implicit conversion"):
        numpy.asarray(x)
    with pytest.raises(TypeError, match=r"numpy\.unique: gradcore has no op for it"):
        numpy.unique(x)
    assert numpy.sum(x).item() == 4.0  # the table still dispatches on the GPU


def test_every_table_entry_names_real_numpy_parameters():
    import inspect
    for func, entry in numpy_protocol.FUNCTIONS.items():
        params = inspect.signature(func).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())  # numpy.pad
        for names in entry.spec:
            for name in names.lstrip("*").split("|"):
                assert name in params or takes_any, f"{func.__name__}: {name} is not a parameter"
        assert len(entry.spec) <= len(entry.op_params), func.__name__
        assert entry.ignore <= set(params), func.__name__
