"""x[key]: basic (ints, slices with negative steps, None, Ellipsis) and advanced (integer arrays
with repeated indices, boolean masks) indexing; values vs NumPy, gradients, second order."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn


def _keys(device):
    """name -> (key as given to a Tensor, the same key for a NumPy array)."""
    idx = gc.tensor([0, 2, 0, 0], device=device)  # repeated: gradients must accumulate
    rows = gc.tensor([[1, 0], [1, 1]], device=device)
    mask = gc.tensor([[True, False, True, False], [False, False, True, True],
                      [True, True, False, False]], device=device)
    keys = {
        "int": 1,
        "-int": -1,
        "int,int": (2, -3),
        "slice": slice(1, 3),
        "slice step": (slice(None), slice(None, None, 2)),
        "negative step": slice(None, None, -1),
        "negative step 2": (slice(None), slice(3, 0, -2)),
        "None": (None, slice(None), None),
        "Ellipsis": (Ellipsis, 1),
        "Ellipsis None": (Ellipsis, None, slice(1, None)),
        "int array (repeats)": idx,
        "list (repeats)": [2, 2, 1],
        "2-D int array": rows,
        "arrays on both axes": (idx, gc.tensor([3, 1, 3, 3], device=device)),
        "slice + array": (slice(None), idx),
        "bool mask": mask,
        "bool mask on rows": gc.tensor([True, False, True], device=device),
        "numpy int array": np.array([1, 1]) if device == "cpu" else gc.tensor([1, 1],
                                                                               device=device),
    }
    as_np = {k: tuple(getattr(p, "numpy", lambda p=p: p)() for p in v) if type(v) is tuple
             else getattr(v, "numpy", lambda v=v: v)() for k, v in keys.items()}
    return keys, as_np


KEY_NAMES = list(_keys("cpu")[0])


@pytest.mark.parametrize("name", KEY_NAMES)
def test_forward_and_gradcheck(name, device):
    keys, np_keys = _keys(device)
    key = keys[name]
    x = randn((3, 4), device)
    y = x[key]
    expected = x.numpy()[np_keys[name]]
    assert y.shape == expected.shape and y.dtype == np.float64
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(gc.getitem(x, key).numpy(), expected)
    assert gc.gradcheck(lambda z: z[key], (x,))
    assert gc.gradcheck(lambda z: z[key], (noncontig(x.numpy(), device, "transposed"),))
    assert jvpcheck(lambda z: z[key], (x,))


@pytest.mark.parametrize("name", ["slice step", "negative step 2", "int array (repeats)",
                                  "arrays on both axes", "bool mask", "Ellipsis None"])
def test_second_order(name, device):
    key = _keys(device)[0][name]
    assert gradcheck2(lambda z: z[key] ** 2, (randn((3, 4), device),))


def test_repeated_indices_accumulate(device):
    x = gc.tensor([1.0, 2.0, 3.0], dtype="float64", device=device, requires_grad=True)
    x[gc.tensor([0, 0, 2, 0], device=device)].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    m = gc.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    w = gc.tensor([[1.0, 10.0], [100.0, 1000.0]], dtype="float64", device=device)
    (m[gc.tensor([1, 1], device=device), gc.tensor([[2, 2], [0, 2]], device=device)] * w)\
        .sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [[0, 0, 0], [100, 0, 1011]])


def test_boolean_mask_gradient(device):
    x = gc.tensor([-1.0, 2.0, -3.0, 4.0], dtype="float64", device=device, requires_grad=True)
    y = x[x > 0]
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 4.0, 0.0, 8.0])


def test_scalar_and_size_one_dims(device):
    x = randn((1, 3, 1), device)
    for key in [(0, slice(None), 0), (Ellipsis, 0), (0, 1, 0), (slice(None), [2, 2], None)]:
        np.testing.assert_array_equal(x[key].numpy(), x.numpy()[key])
        assert gc.gradcheck(lambda z: z[key], (x,))
    s = randn((), device)
    np.testing.assert_array_equal(s[None].numpy(), s.numpy()[None])
    assert gc.gradcheck(lambda z: z[...] * z[None], (s,))


def test_iteration_and_len(device):
    x = gc.tensor(np.arange(6.0).reshape(3, 2), device=device, requires_grad=True)
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    (rows[0] * 1 + rows[2] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [0, 0], [2, 2]])


def test_out_of_range_raises(device):
    x = gc.zeros((2, 3), device=device)
    with pytest.raises(IndexError, match=r"getitem.*\(2, 3\)"):
        x[5]


# ---- take, take_along_axis, nonzero, where(cond) ---------------------------------------------
@pytest.mark.parametrize("indices, axis", [([0, 2, 2], 0), ([[1, 0], [3, 3]], 1), ([5, -1], None),
                                           (2, 1), ([-1], -1)], ids=str)
def test_take(indices, axis, device):
    x = randn((3, 4), device)
    np.testing.assert_array_equal(gc.take(x, indices, axis).numpy(),
                                  np.take(x.numpy(), indices, axis))
    np.testing.assert_array_equal(x.take(indices, axis).numpy(), np.take(x.numpy(), indices, axis))
    f = lambda t: gc.take(t, indices, axis) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


def test_take_repeated_indices_accumulate_and_errors(device):
    x = gc.tensor([1.0, 2.0, 3.0], dtype="float64", device=device, requires_grad=True)
    gc.take(x, gc.tensor([2, 2, 0], device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 2.0])
    with pytest.raises(IndexError, match="getitem: index"):
        gc.take(x, [3])
    with pytest.raises(TypeError, match="take: indices must be integers, got dtype float64"):
        gc.take(x, np.array([0.0]))


@pytest.mark.parametrize("axis", [0, 1, -1, None], ids=str)
def test_take_along_axis(axis, device):
    x = randn((3, 4), device, seed=3)
    rng = np.random.default_rng(0)
    shape = (12,) if axis is None else ((5, 4) if axis == 0 else (3, 6))
    idx = rng.integers(0, 12 if axis is None else x.shape[axis], shape)
    np.testing.assert_array_equal(gc.take_along_axis(x, idx, axis).numpy(),
                                  np.take_along_axis(x.numpy(), idx, axis))
    f = lambda t: gc.take_along_axis(t, idx, axis) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))
    assert gradcheck2(f, (x,))
    assert jvpcheck(f, (x,))


def test_take_along_axis_with_argmax_and_errors(device):
    x = randn((3, 4), device, seed=4)
    top = gc.take_along_axis(x, gc.argmax(x, axis=1, keepdims=True), axis=1)
    np.testing.assert_array_equal(top.numpy(), x.numpy().max(axis=1, keepdims=True))
    with pytest.raises(ValueError, match=r"take_along_axis: indices of shape \(3,\) need as many"):
        gc.take_along_axis(x, [0, 1, 2], axis=1)


def test_nonzero_and_where_with_one_argument(device):
    a = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, -1.0]])
    x = gc.tensor(a, device=device)
    for got in (gc.nonzero(x), gc.where(x != 0), x.nonzero()):
        assert len(got) == 2 and all(g.dtype == np.int64 and g.device == x.device for g in got)
        for g, r in zip(got, np.nonzero(a)):
            np.testing.assert_array_equal(g.numpy(), r)
    np.testing.assert_array_equal(x[gc.where(x > 0)].numpy(), a[np.where(a > 0)])
    with pytest.raises(TypeError, match="where: give both x0 and x1, or neither"):
        gc.where(x > 0, x)
