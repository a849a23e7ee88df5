"""PyTorch's ``dim=``/``keepdim=`` wherever NumPy's ``axis=``/``keepdims=`` are taken
(gradcore/checks.py ``dim_alias``): every public function and Tensor method with an ``axis``
parameter is found by walking the API, so a new op that forgets ``dim`` fails here."""
import inspect

import numpy as np
import pytest

import gradcore as gc
from gradcore.tensor_methods import TensorMethods

NAMESPACES = {"gc": gc, "gc.linalg": gc.linalg, "gc.nn.functional": gc.nn.functional}


def _x():
    return gc.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))


# name -> (positional args before axis, axis value); default: (x,), axis 1
CALLS = {
    "concatenate": (lambda: ([_x(), _x()],), 1),
    "stack": (lambda: ([_x(), _x()],), 1),
    "split": (lambda: (_x(), 3), 1),
    "array_split": (lambda: (_x(), 2), 1),
    "append": (lambda: (_x(), _x()), 1),
    "repeat": (lambda: (_x(), 2), 1),
    "take": (lambda: (_x(), [0, 2]), 1),
    "take_along_axis": (lambda: (_x(), gc.argsort(_x(), axis=1)), 1),
    "roll": (lambda: (_x(), 1), 1),
    "squeeze": (lambda: (gc.zeros((2, 1, 4)),), 1),
    "norm": (lambda: (_x(),), 1),
}
METHOD_CALLS = {"take": (lambda: ([0, 2],), 1), "repeat": (lambda: (2,), 1)}


def _functions():
    found = {}
    for ns, module in NAMESPACES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) and "axis" in inspect.signature(obj).parameters:
                found[f"{ns}.{name}"] = obj
    return found


FUNCTIONS = _functions()
METHODS = {name: m for name, m in vars(TensorMethods).items()
           if inspect.isfunction(m) and "axis" in inspect.signature(m).parameters}


def test_the_walk_finds_the_ops():
    assert {"gc.sum", "gc.max", "gc.softmax", "gc.concatenate", "gc.linalg.norm",
            "gc.nn.functional.log_softmax", "gc.take_along_axis"} <= set(FUNCTIONS)
    assert {"sum", "max", "argmax", "squeeze", "cumsum"} <= set(METHODS)


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    else:
        np.testing.assert_array_equal(gc.as_tensor(a).numpy(), gc.as_tensor(b).numpy())


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_takes_dim(name):
    fn = FUNCTIONS[name]
    params = inspect.signature(fn).parameters
    assert "dim" in params, f"{name} takes axis= but not dim="
    make, axis = CALLS.get(name.rsplit(".", 1)[1], (lambda: (_x(),), 1))
    _same(fn(*make(), axis=axis), fn(*make(), dim=axis))
    with pytest.raises(TypeError, match=name.rsplit(".", 1)[1] + ": got both axis"):
        fn(*make(), axis=axis, dim=axis)
    if "keepdims" in params:
        assert "keepdim" in params, f"{name} takes keepdims= but not keepdim="
        _same(fn(*make(), axis=axis, keepdims=True), fn(*make(), dim=axis, keepdim=True))
        with pytest.raises(TypeError, match="got both keepdims"):
            fn(*make(), axis=axis, keepdims=True, keepdim=True)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_takes_dim(name):
    params = inspect.signature(METHODS[name]).parameters
    assert "dim" in params, f"Tensor.{name} takes axis= but not dim="
    make, axis = METHOD_CALLS.get(name, (lambda: (), 1 if name != "squeeze" else 1))
    x = gc.zeros((2, 1, 4)) + 1 if name == "squeeze" else _x()
    method = getattr(x, name)
    _same(method(*make(), axis=axis), method(*make(), dim=axis))
    if "keepdim" in params:
        _same(method(*make(), axis=axis, keepdims=True), method(*make(), dim=axis, keepdim=True))


def test_max_with_a_dim_returns_values_only():
    # NumPy's convention: PyTorch's x.max(1) returns (values, indices); here it is the values
    x = gc.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert x.max(1).tolist() == [5.0, 7.0] and gc.max(x, dim=1).tolist() == [5.0, 7.0]
    assert x.argmax(dim=1).tolist() == [1, 0]


def test_argmax_argmin_methods_take_keepdims_and_check_axis():
    x = gc.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert x.argmax(axis=1, keepdims=True).shape == (2, 1)
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1]]
    with pytest.raises(TypeError, match=r"argmax: axis must be an integer or None, got 1.5"):
        x.argmax(axis=1.5)
    with pytest.raises(TypeError, match="argmin: axis must be an integer"):
        gc.argmin(x, axis=(0, 1))


def test_dim_is_differentiable_like_axis():
    x = gc.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", requires_grad=True)
    assert gc.gradcheck(lambda x: gc.softmax(x, dim=0) * gc.logsumexp(x, dim=1, keepdim=True),
                        (x,))


def test_required_axis():
    with pytest.raises(TypeError, match="expand_dims: missing the axis"):
        gc.expand_dims(gc.zeros(3))
    assert gc.expand_dims(gc.zeros(3), dim=1).shape == (3, 1)
