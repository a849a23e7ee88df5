"""Comparisons: NumPy's values, bool results, never differentiable (nothing recorded)."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import randn

COMPARE = {
    "equal": (gc.equal, np.equal, lambda a, b: a == b),
    "not_equal": (gc.not_equal, np.not_equal, lambda a, b: a != b),
    "less": (gc.less, np.less, lambda a, b: a < b),
    "less_equal": (gc.less_equal, np.less_equal, lambda a, b: a <= b),
    "greater": (gc.greater, np.greater, lambda a, b: a > b),
    "greater_equal": (gc.greater_equal, np.greater_equal, lambda a, b: a >= b),
}


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)),
                                    ((), (2,)), ((), ())], ids=str)
@pytest.mark.parametrize("name", COMPARE)
def test_values_dtype_and_no_graph(name, shapes, device):
    fn, ref, op = COMPARE[name]
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, shapes[0]).astype(np.float64)  # small integers: plenty of ties
    b = rng.integers(0, 3, shapes[1]).astype(np.float64)
    x0 = gc.tensor(a, device=device, requires_grad=True)
    x1 = gc.tensor(b, device=device, requires_grad=True)
    for y in (fn(x0, x1), op(x0, x1)):
        assert y.dtype == np.bool_ and y.shape == np.broadcast_shapes(a.shape, b.shape)
        np.testing.assert_array_equal(y.numpy(), ref(a, b))
        assert not y.requires_grad and y.is_leaf and y.grad_fn is None
    np.testing.assert_array_equal(op(x0, 1.0).numpy(), ref(a, 1.0))
    np.testing.assert_array_equal(op(1.0, x1).numpy(), ref(1.0, b))


def test_comparison_cannot_be_differentiated(device):
    x = gc.tensor([1.0, 2.0], dtype="float64", device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x > 1).sum().backward()
    g = gc.grad(lambda z: ((z > 1.5).astype("float64") * z).sum())(x)
    np.testing.assert_array_equal(g.numpy(), [0.0, 1.0])  # the mask is a constant


def test_broadcast_error_names_op(device):
    with pytest.raises(ValueError, match=r"less.*\(2,\).*\(3,\)"):
        gc.zeros(2, device=device) < gc.zeros(3, device=device)


def test_integer_and_bool_inputs(device):
    i = gc.arange(4, device=device)
    np.testing.assert_array_equal((i >= 2).numpy(), [False, False, True, True])
    m = randn((3,), device) > 0
    np.testing.assert_array_equal((m == m).numpy(), [True] * 3)
