"""The extension point: a user subclass of gc.Function with forward, backward and jvp (as in the
docstring of gradcore/autograd/function.py) works with gradcheck, jvp and create_graph."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.backend import array_module
from tests.helpers import gradcheck2, jvpcheck, randn


class Cube(gc.Function):
    saves = (0,)

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        x, = self.saved_tensors()
        return gy * 3 * x ** 2

    def jvp(self, xs, y, txs):
        return 3 * xs[0] ** 2 * txs[0]


class ScaledExp(gc.Function):
    """Two inputs (broadcast), a constructor argument and a saved output: y = exp(a x) s."""

    saves = (1,)
    saves_output = True

    def __init__(self, a):
        self.a = a

    def forward(self, x, s):
        return array_module(x).exp(self.a * x) * s

    def backward(self, gy):
        s, = self.saved_tensors()
        y = self.saved_output()
        gx = gy * y * self.a if self.edges[0] is not None else None
        # s broadcasts against x: its gradient is summed back to its own shape
        gs = gc.sum_to(gy * y / s, s.shape) if self.edges[1] is not None else None
        return gx, gs

    def jvp(self, xs, y, txs):
        tx, ts = txs
        out = 0
        if tx is not None:
            out = out + tx * y * self.a
        if ts is not None:
            out = out + ts * y / xs[1]
        return out


def test_docstring_example(device):
    x = gc.tensor(2.0, dtype="float64", device=device, requires_grad=True)
    Cube()(x).backward()
    assert x.grad.item() == 12.0


def test_gradcheck_jvp_and_second_order(device):
    x = randn((2, 3), device)
    assert gc.gradcheck(lambda z: Cube()(z), (x,))
    assert jvpcheck(lambda z: Cube()(z), (x,))
    assert gradcheck2(lambda z: Cube()(z), (x,))
    s = randn((3,), device, seed=2, low=0.5, high=2.0)
    f = lambda a, b: ScaledExp(0.7)(a, b)  # noqa: E731
    assert gc.gradcheck(f, (x, s))
    assert jvpcheck(f, (x, s))
    assert gradcheck2(f, (x, s))


def test_create_graph(device):
    x = gc.tensor([1.0, -2.0], dtype="float64", device=device, requires_grad=True)
    Cube()(x).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    x.grad = None
    (g * g).sum().backward()  # d/dx (3x^2)^2 = 36 x^3
    np.testing.assert_allclose(x.grad.numpy(), 36 * x.detach().numpy() ** 3)
    third = gc.grad(lambda z: gc.grad(lambda u: gc.grad(lambda v: Cube()(v).sum())(u).sum())(z)
                    .sum())(x.detach())
    np.testing.assert_allclose(third.numpy(), [6.0, 6.0])


def test_python_scalar_and_array_inputs(device):
    x = randn((3,), device)
    y = gc.tensor([1.0, 2.0, 3.0], dtype="float64", device=device)
    assert gc.gradcheck(lambda z: ScaledExp(1.5)(z, y), (x,))
    out = ScaledExp(2.0)(x, 3.0)  # a Python scalar stays a constant
    np.testing.assert_allclose(out.numpy(), np.exp(2 * x.numpy()) * 3)


def test_function_without_jvp_says_so(device):
    class NoJvp(gc.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2

    x = randn((2,), device)
    assert gc.gradcheck(lambda z: NoJvp()(z), (x,))
    try:
        gc.jvp(lambda z: NoJvp()(z), (x,), (x,))
    except NotImplementedError as e:
        assert "NoJvp has no forward-mode (jvp) rule" in str(e)
    else:
        raise AssertionError("jvp of a Function without a jvp rule did not raise")


def test_one_function_object_called_twice_records_two_nodes():
    """Issue 12.3: ``f = Cube(); f(x) + f(2*x)`` gave [48, 192] instead of [27, 108]."""
    x = gc.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    f = Cube()
    (f(x) + f(2 * x)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [27.0, 108.0])
    x.grad = None
    y = f(x)            # a third call, after backward
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_reused_function_keeps_per_call_state_apart():
    """Ops keep per-call state from forward (shapes); a reused instance must not mix calls."""
    x = gc.tensor([[1.0, 2.0]], dtype="float64", requires_grad=True)
    v = gc.tensor([3.0], dtype="float64", requires_grad=True)
    add = gc.ops.arithmetic.Add()
    a = add(x, v)       # broadcasts v (1,) -> (1, 2)
    b = add(v, v)       # no broadcast
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 1.0]])
    np.testing.assert_allclose(v.grad.numpy(), [4.0])


class _CtxCube(gc.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        y = x ** 3 * scale
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return gy * 3 * x ** 2 * ctx.scale, None

    @staticmethod
    def jvp(ctx, tx, tscale):
        return None  # unused: forward mode of this op is not exercised natively here


class _CtxExp(gc.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y

    @staticmethod
    def jvp(ctx, tx):
        y, = ctx.saved_tensors
        return tx * y


def test_pytorch_ctx_form_first_and_second_order():
    x = gc.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (_CtxCube.apply(x, 2.0) + _CtxCube.apply(2 * x, 1.0)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6 + 24, 24 + 96])
    # saved output and input are linked to the graph: second order through both
    x0 = gc.tensor([0.3, -0.7], dtype="float64")
    assert gc.gradcheck(lambda t: _CtxExp.apply(t * t), (x0,))
    d2 = gc.grad(lambda t: gc.grad(lambda s: _CtxExp.apply(s).sum())(t).sum())(x0)
    np.testing.assert_allclose(d2.numpy(), np.exp(x0.numpy()))
    _, t = gc.jvp(lambda s: _CtxExp.apply(s), (x0,), (gc.ones_like(x0),))
    np.testing.assert_allclose(t.numpy(), np.exp(x0.numpy()))


def test_ctx_form_must_be_called_through_apply():
    with pytest.raises(TypeError, match=r"_CtxExp.apply"):
        _CtxExp()(gc.tensor([1.0]))
