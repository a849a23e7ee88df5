"""In-place updates (gradcore/ops/inplace.py): PyTorch's rules, shared version counters, and
the idioms of published training loops (``p -= lr * p.grad``, ``p.data.add_``)."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import assert_close


def _leaf(values, device, dtype="float64"):
    return gc.tensor(values, dtype=dtype, device=device, requires_grad=True)


def test_isub_under_no_grad_updates_the_parameter_in_place(device):
    """Issue 12.1: ``p -= lr * p.grad`` used to rebind the name and leave the model unchanged."""
    model = gc.nn.Linear(3, 1, dtype="float64").to(device)
    x = gc.tensor(np.arange(12.0).reshape(4, 3) / 10, dtype="float64", device=device)
    y = gc.tensor([[1.0], [2.0], [3.0], [4.0]], dtype="float64", device=device)
    params = list(model.parameters())
    ids = [id(p) for p in params]
    losses = []
    for _ in range(50):
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        for p in params:
            p.grad = None
        loss.backward()
        with gc.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert [id(p) for p in model.parameters()] == ids  # the same Parameter objects
    assert all(p.requires_grad and p.is_leaf for p in model.parameters())
    assert losses[-1] < 0.2 * losses[0]


@pytest.mark.parametrize("op, expect", [
    (lambda t: t.__iadd__(2.0), [3.0, 4.0]),
    (lambda t: t.__isub__(2.0), [-1.0, 0.0]),
    (lambda t: t.__imul__(3.0), [3.0, 6.0]),
    (lambda t: t.__itruediv__(2.0), [0.5, 1.0]),
    (lambda t: t.__ipow__(2.0), [1.0, 4.0]),
    (lambda t: t.add_(gc.tensor([1.0, 1.0], dtype="float64"), alpha=2), [3.0, 4.0]),
    (lambda t: t.sub_(1.0), [0.0, 1.0]),
    (lambda t: t.mul_(2.0), [2.0, 4.0]),
    (lambda t: t.div_(4.0), [0.25, 0.5]),
    (lambda t: t.neg_(), [-1.0, -2.0]),
    (lambda t: t.clamp_(1.5, None), [1.5, 2.0]),
    (lambda t: t.clip_(None, 1.5), [1.0, 1.5]),
    (lambda t: t.zero_(), [0.0, 0.0]),
    (lambda t: t.fill_(7.0), [7.0, 7.0]),
    (lambda t: t.copy_([5.0, 6.0]), [5.0, 6.0]),
    (lambda t: t.exp_(), list(np.exp([1.0, 2.0]))),
    (lambda t: t.sqrt_(), list(np.sqrt([1.0, 2.0]))),
    (lambda t: t.abs_(), [1.0, 2.0]),
    (lambda t: t.relu_(), [1.0, 2.0]),
])
def test_inplace_methods_write_the_same_storage_and_bump_the_version(op, expect):
    t = gc.tensor([1.0, 2.0], dtype="float64")
    alias = t.detach()
    storage, version = t.array, t._version
    out = op(t)
    assert out is t and t.array is storage
    assert_close(t, expect)
    assert_close(alias, expect)  # the alias shares the storage
    assert t._version == version + 1 == alias._version


def test_a_leaf_that_requires_grad_refuses_in_place_while_recording(device):
    p = _leaf([1.0, 2.0], device)
    for op in (lambda: p.__isub__(1.0), lambda: p.sub_(1.0), lambda: p.clamp_(0, 1),
               lambda: p.copy_(p.detach()), lambda: p.__setitem__(0, 3.0), lambda: p.zero_()):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
            op()
    assert_close(p, [1.0, 2.0])


def test_inplace_on_a_non_leaf_is_recorded(device):
    x = _leaf([1.0, 2.0, 3.0], device)
    w = _leaf([0.5, -1.0, 2.0], device)
    h = x * 2
    h += w           # Add, recorded
    h *= 3           # Mul by a constant: the old h is not needed, nothing to copy
    h.sub_(x * x)    # Sub
    h.clamp_(-100.0, 100.0)
    h.sum().backward()
    # h = clamp(3 (2x + w) - x^2), all inside the clamp range here
    assert_close(x.grad, 6 - 2 * np.array([1.0, 2.0, 3.0]))
    assert_close(w.grad, [3.0, 3.0, 3.0])


def test_recorded_inplace_that_saves_the_old_value_keeps_a_copy(device):
    """``h *= w`` needs the old h for w's gradient; the storage is overwritten, so the op must
    see a copy, not the new values."""
    x = _leaf([1.0, 2.0], device)
    w = _leaf([3.0, 4.0], device)
    h = x + 1
    h *= w
    h.sum().backward()
    assert_close(h, [6.0, 12.0])
    assert_close(w.grad, [2.0, 3.0])   # the old h
    assert_close(x.grad, [3.0, 4.0])


def test_inplace_matches_out_of_place_gradients_numerically():
    x0 = np.array([0.3, -1.2, 2.0])

    def f(x):
        h = x * 1.5
        h += x ** 2
        h.mul_(x)
        h[1] = x[0] * 4
        return h.sum()
    assert gc.gradcheck(f, (gc.tensor(x0, dtype="float64"),))


def test_inplace_on_a_saved_tensor_is_caught_at_backward(device):
    x = _leaf([1.0, 2.0], device)
    h = x * 1.0
    y = (h * h).sum()            # Mul saves h
    with gc.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


@pytest.mark.parametrize("write", [
    pytest.param(lambda x: x.detach().add_(1), id="detach().add_"),
    pytest.param(lambda x: x[0:2].add_(1), id="slice.add_"),
    pytest.param(lambda x: x.reshape(2, 2).mul_(2), id="reshape.mul_"),
    pytest.param(lambda x: x.T.zero_(), id="transpose.zero_"),
    pytest.param(lambda x: x.data.fill_(3.0), id="data.fill_"),
    pytest.param(lambda x: x.detach().__setitem__(0, 9.0), id="detach()[0] = v"),
])
def test_writes_through_views_and_aliases_are_caught(write, device):
    """Issue 12.8: views and detached tensors share their base's version counter."""
    x = _leaf([1.0, 2.0, 3.0, 4.0], device)
    y = (x.exp() * x).sum()      # Exp saves its output, Mul saves x
    with gc.no_grad():
        write(x)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_numpy_gives_a_read_only_view():
    """Issue 12.8: ``x.numpy()[:] = 5`` after x was saved used to change the gradient silently."""
    x = gc.tensor([1.0, 2.0], dtype="float64")
    a = x.numpy()
    assert np.shares_memory(a, x.array)
    with pytest.raises(ValueError, match="read-only"):
        a[:] = 5
    b = x.numpy().copy()
    b[:] = 5
    assert_close(x, [1.0, 2.0])


def test_a_numpy_operand_is_copied_when_recorded():
    """Issue 12.8: ``y = x * c; c[0] = 10`` used to change the gradient silently."""
    x = _leaf([1.0, 2.0], "cpu")
    c = np.array([3.0, 4.0])
    y = (x * c).sum()
    c[0] = 10.0
    y.backward()
    assert_close(x.grad, [3.0, 4.0])


def test_data_is_a_tensor_alias_that_updates_the_parameter(device):
    """Issue 12.2: ``p.data += -lr * p.grad`` and ``p.data.add_`` as PyTorch users write them."""
    p = gc.nn.Parameter(gc.tensor([1.0, 2.0], dtype="float64", device=device))
    p.grad = gc.tensor([10.0, 20.0], dtype="float64", device=device)
    p.data += -0.1 * p.grad
    assert isinstance(p.data, gc.Tensor) and not p.data.requires_grad
    assert p.requires_grad and p.is_leaf and p.array.dtype == np.float64
    assert_close(p, [0.0, 0.0])
    p.data.add_(-0.1 * p.grad)
    assert_close(p, [-1.0, -2.0])
    p.data = gc.tensor([5.0, 6.0], dtype="float64", device=device)
    assert_close(p, [5.0, 6.0])
    assert isinstance(p.array, type(gc.zeros(1, device=device).array))


def test_data_update_trains_a_model_with_cross_entropy():
    """The reported failure: after ``p.data += ...``, cross_entropy failed with 'No module named
    cupy' because .data had become a Tensor holding a Tensor."""
    gc.manual_seed(0)
    model = gc.nn.Linear(4, 3)
    x, labels = gc.randn(16, 4), gc.tensor(np.arange(16) % 3)
    first = None
    for _ in range(30):
        loss = gc.nn.functional.cross_entropy(model(x), labels)
        first = first if first is not None else loss.item()
        for p in model.parameters():
            p.grad = None
        loss.backward()
        for p in model.parameters():
            p.data += -0.5 * p.grad
    assert loss.item() < first


def test_data_assignment_checks_device_and_dtype():
    p = gc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        p.data = np.array([1, 2])


def test_inplace_shape_and_dtype_errors_name_the_op():
    t = gc.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"add_: .*shape \(2,\)"):
        t += gc.ones((3, 2))
    i = gc.tensor([1, 2])
    with pytest.raises(TypeError, match=r"mul_: .*dtype int64"):
        i *= 0.5
    b = gc.broadcast_to(gc.tensor([1.0]), (3,))
    with pytest.raises(ValueError, match="add_"):
        b += 1


def test_inplace_on_a_view_while_recording_raises():
    x = _leaf([1.0, 2.0, 3.0], "cpu")
    h = x * 2
    v = h[0:2]
    with pytest.raises(RuntimeError, match="view"):
        v += 1


def test_setitem_recorded_gradients():
    x = _leaf([1.0, 2.0, 3.0], "cpu")
    v = _leaf([10.0], "cpu")
    h = x * 1.0
    h[1:2] = v * 2
    (h * gc.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert_close(x.grad, [1.0, 0.0, 3.0])
    assert_close(v.grad, [4.0])


def test_setitem_forward_mode():
    x = gc.tensor([1.0, 2.0, 3.0], dtype="float64")

    def f(x):
        h = x * 1.0
        h[0] = x[2] * 5
        return h
    _, t = gc.jvp(f, (x,), (gc.tensor([1.0, 1.0, 1.0], dtype="float64"),))
    assert_close(t, [5.0, 1.0, 1.0])
