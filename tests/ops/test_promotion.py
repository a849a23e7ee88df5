"""Type promotion of binary ops (gradcore/ops/promotion.py): PyTorch's rule, so a float32 model
stays float32; every binary op family; gradients in each input's dtype; mixed-dtype gradchecks."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.ops.promotion import result_type
from tests.helpers import gradcheck2, jvpcheck

F32, F64, I64, I32 = np.dtype("float32"), np.dtype("float64"), np.dtype("int64"), np.dtype("int32")

# (name, op, needs positive / nonzero operands)
VALUE_OPS = {
    "add": gc.add, "sub": gc.sub, "mul": gc.mul, "div": gc.div, "pow": gc.pow,
    "maximum": gc.maximum, "minimum": gc.minimum, "arctan2": gc.arctan2, "hypot": gc.hypot,
    "remainder": gc.remainder, "fmod": gc.fmod, "logaddexp": gc.logaddexp,
    "where": lambda a, b: gc.where(gc.tensor(True), a, b),
}
COMPARE_OPS = {"equal": gc.equal, "not_equal": gc.not_equal, "less": gc.less,
               "less_equal": gc.less_equal, "greater": gc.greater,
               "greater_equal": gc.greater_equal}


def _f32(device, shape=(3,)):
    return gc.full(shape, 1.5, dtype="float32", device=device)


# (description, second operand builder, expected result dtype with a float32 (3,) tensor)
OPERANDS = [
    ("python float", lambda d: 0.5, F32),
    ("python int", lambda d: 2, F32),
    ("numpy float64 scalar", lambda d: np.float64(0.5), F32),
    ("numpy int64 scalar", lambda d: np.int64(2), F32),
    ("0-d float64 tensor", lambda d: gc.tensor(0.5, dtype="float64", device=d), F32),
    ("0-d float64 array", lambda d: np.array(0.5), F32),
    ("int64 tensor", lambda d: gc.tensor([1, 2, 3], device=d), F32),
    ("int32 tensor", lambda d: gc.tensor([1, 2, 3], dtype="int32", device=d), F32),
    ("bool tensor", lambda d: gc.tensor([True, True, True], device=d), F32),
    ("float64 tensor", lambda d: gc.full((3,), 0.5, dtype="float64", device=d), F64),
    ("float64 array", lambda d: np.full(3, 0.5), F64),
    ("float16 tensor", lambda d: gc.full((3,), 0.5, dtype="float16", device=d), F32),
]


@pytest.mark.parametrize("name", VALUE_OPS)
@pytest.mark.parametrize("desc, other, expected", OPERANDS, ids=[o[0] for o in OPERANDS])
def test_a_float32_tensor_is_widened_only_by_a_wider_float_tensor(name, desc, other, expected,
                                                                   device):
    op = VALUE_OPS[name]
    x = _f32(device)
    for a, b in ((x, other(device)), (other(device), x)):
        y = op(a, b)
        assert y.dtype == expected, f"{name}({desc}) order {type(a).__name__}: {y.dtype}"
        # the value is NumPy's on the operands cast to the expected dtype
        ref = getattr(np, {"add": "add", "sub": "subtract", "mul": "multiply",
                           "div": "true_divide", "pow": "power"}.get(name, name), None)
        if ref is not None and name != "where":
            a_, b_ = (np.asarray(gc.as_tensor(v).numpy() if not isinstance(v, (int, float))
                                 else v).astype(expected) for v in (a, b))
            np.testing.assert_allclose(y.numpy(), ref(a_, b_), rtol=1e-6)


@pytest.mark.parametrize("name", COMPARE_OPS)
@pytest.mark.parametrize("desc, other, expected", OPERANDS, ids=[o[0] for o in OPERANDS])
def test_comparisons_compare_in_the_promoted_dtype(name, desc, other, expected, device):
    x = gc.full((3,), 0.1, dtype="float32", device=device)
    assert COMPARE_OPS[name](x, other(device)).dtype == np.bool_
    # float32 0.1 against a float64 0.1 scalar: equal in float32 (NumPy would say False)
    assert gc.equal(x, np.float64(0.1)).all().item()
    assert gc.equal(x, gc.tensor(0.1, dtype="float64", device=device)).all().item()
    assert (x == 0.1).all().item()


def test_comparison_with_a_python_float_is_exact_for_integer_tensors(device):
    # a cast of the int64 tensor to float32 would round 16777217 to 16777216 (PyTorch's answer
    # is then False): Python numbers are left to NumPy, which compares exactly
    x = gc.tensor([16777217], device=device)
    assert (x > 16777216.5).item() is True
    assert (x == 16777217.0).item() is True


def test_the_issue_examples():
    assert (gc.ones(2) * np.float64(0.1)).dtype == F32
    assert (gc.ones(3, 1) ** gc.tensor([1, 2, 3])).dtype == F32
    assert (gc.ones(2, dtype="float32") + gc.tensor(1.0, dtype="float64")).dtype == F32
    assert (gc.ones(2, dtype="float32") + gc.ones(2, dtype="float64")).dtype == F64
    layer = gc.nn.Linear(3, 2)  # the issue: Linear refused the float64 input this made
    assert layer(gc.ones(4, 1) ** gc.tensor([1, 2, 3])).dtype == F32


@pytest.mark.parametrize("a, b, expected", [
    (gc.tensor([1, 2]), 0.5, F32),  # int tensor + Python float: the default dtype
    (gc.tensor([1, 2]), np.float64(0.5), F32),  # a NumPy scalar counts as a Python number
    (gc.tensor(1.0), np.float64(0.5), F32),
    (gc.tensor(1.0), np.array(0.5), F64),  # a 0-d array as a 0-d tensor
    (gc.tensor([1, 2]), gc.tensor(0.5, dtype="float64"), F64),
    (gc.tensor([1, 2], dtype="int32"), gc.tensor(5), I32),  # same category: the tensor wins
    (gc.tensor([1, 2], dtype="int32"), 5, I32),
    (gc.tensor([True, False]), 1, I64),
    (gc.tensor([True, False]), True, np.dtype(bool)),
    (gc.tensor(1.0, dtype="float32"), gc.tensor(1.0, dtype="float64"), F64),  # both 0-d
    (gc.tensor([1, 2]), gc.tensor([1.0, 2.0]), F32),  # NumPy: float64
    (gc.tensor([1.0], dtype="float16"), gc.tensor([1], dtype="int64"), np.dtype("float16")),
])
def test_result_type(a, b, expected):
    assert result_type(a, b) == expected == result_type(b, a)
    assert gc.add(a, b).dtype == expected


def test_int_tensor_and_python_float_follow_the_default_dtype():
    old = gc.get_default_dtype()
    try:
        gc.set_default_dtype("float64")
        assert (gc.arange(3) * 0.5).dtype == F64
        assert (gc.arange(3) ** 0.5).dtype == F64
    finally:
        gc.set_default_dtype(old)
    assert (gc.arange(3) * 0.5).dtype == F32 and (gc.arange(4) ** 0.5).dtype == F32
    np.testing.assert_allclose((gc.arange(4) ** 0.5).numpy(), np.sqrt(np.arange(4)), rtol=1e-6)


def test_matmul_promotes_and_refuses_0d(device):
    a32 = gc.ones((2, 3), dtype="float32", device=device)
    a64 = gc.ones((3, 2), dtype="float64", device=device)
    assert (a32 @ a64).dtype == F64
    assert (a32 @ gc.ones((3,), dtype="int64", device=device)).dtype == F32
    with pytest.raises(ValueError, match="matmul: 0-d"):
        a32 @ gc.tensor(2.0, dtype="float64", device=device)


@pytest.mark.parametrize("name", VALUE_OPS)
def test_gradients_come_back_in_each_inputs_dtype(name, device):
    op = VALUE_OPS[name]
    x = gc.full((3,), 1.5, dtype="float32", device=device, requires_grad=True)
    s = gc.tensor(0.7, dtype="float64", device=device, requires_grad=True)  # 0-d: no widening
    w = gc.full((3,), 0.3, dtype="float64", device=device, requires_grad=True)  # widens
    h = x * 1.0  # a non-leaf float32 input: its node must receive a float32 gradient
    y = op(h, s)
    assert y.dtype == F32
    (op(y, w).sum()).backward()
    assert x.grad.dtype == F32 and s.grad.dtype == F64 and w.grad.dtype == F64
    assert x.grad.shape == (3,) and s.grad.shape == ()


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow", "hypot", "maximum"])
def test_mixed_dtype_gradcheck(name, device):
    # float64 (3,) with a float32 0-d: computed in float64 (the 0-d float32 is cast, on the tape)
    op = VALUE_OPS[name]
    x = gc.tensor([1.3, 2.1, 0.7], dtype="float64", device=device, requires_grad=True)
    c = gc.tensor(1.25, dtype="float32", device=device)
    f = lambda x: op(x, c)  # noqa: E731
    assert f(x).dtype == F64
    assert gc.gradcheck(f, (x,)) and gradcheck2(f, (x,)) and jvpcheck(f, (x,))
    # an int operand: the float64 tensor keeps its dtype and its gradient
    i = gc.tensor([1, 2, 3], device=device)
    g = lambda x: op(x, i)  # noqa: E731
    assert g(x).dtype == F64 and gc.gradcheck(g, (x,)) and jvpcheck(g, (x,))


def test_inplace_keeps_the_dtype(device):
    x = gc.ones(3, dtype="float32", device=device)
    x += np.float64(0.1)
    x *= gc.tensor(2.0, dtype="float64", device=device)
    assert x.dtype == F32
    np.testing.assert_allclose(x.numpy(), 2.2, rtol=1e-6)


def test_float32_model_stays_float32():
    gc.manual_seed(0)
    model = gc.nn.Sequential(gc.nn.Linear(3, 4), gc.nn.Linear(4, 1))
    x = gc.randn(5, 3) * np.float64(2.0) + np.float32(1.0)
    loss = ((model(x) - np.float64(1.0)) ** 2).mean() * np.float64(0.5)
    assert loss.dtype == F32
    loss.backward()
    assert all(p.grad.dtype == F32 for p in model.parameters())
