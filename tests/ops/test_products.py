"""einsum, tensordot, dot, inner, outer, kron: values vs NumPy, gradients of every operand,
second order, forward mode, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, randn

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ii->i", [(3, 3)]),  # a repeated label: the diagonal
    ("ii", [(3, 3)]),  # implicit output: the trace
    ("ij->", [(2, 3)]),
    ("ji", [(2, 3)]),  # implicit output sorts the labels: a transpose
    ("i,i", [(3,), (3,)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),  # broadcast batch axes
    ("bij,bjk", [(2, 2, 3), (2, 3, 4)]),
    ("ij,kl->ijkl", [(2, 2), (3, 1)]),
    ("iij->j", [(2, 2, 3)]),
    ("ij,ij->i", [(2, 3), (1, 3)]),  # a size-1 axis broadcast against 2
    ("ijk,jl,kl->il", [(2, 3, 4), (3, 5), (4, 5)]),
    ("...i->...", [(2, 3, 4)]),
    ("i...->...", [(2, 3, 4)]),
    ("ij, jk -> ki", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum(spec, shapes, device):
    xs = [randn(s, device, seed=i) for i, s in enumerate(shapes)]
    y = gc.einsum(spec, *xs)
    ref = np.einsum(spec, *[x.numpy() for x in xs])
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-13, atol=1e-14)
    f = lambda *ts: gc.einsum(spec, *ts)  # noqa: E731
    assert gc.gradcheck(f, xs)
    assert jvpcheck(f, xs)
    assert gradcheck2(lambda *ts: f(*ts) ** 2, xs)


def test_einsum_gradient_of_one_operand_only(device):
    a = randn((2, 3), device).requires_grad_()
    b = randn((3, 4), device, seed=1)  # a constant
    gc.einsum("ij,jk->ik", a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 4)) @ b.numpy().T, rtol=1e-13)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_einsum_dtypes(dtype, device):
    a = gc.tensor(np.ones((2, 3)), dtype=dtype, device=device, requires_grad=True)
    y = gc.einsum("ij,kj->ik", a, a)
    assert y.dtype == np.dtype(dtype)
    y.sum().backward()
    assert a.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 3), 4.0))


def test_einsum_errors(device):
    a = gc.zeros((2, 3), device=device)
    with pytest.raises(ValueError, match="einsum: 'ij,jk' names 2 operands, got 1"):
        gc.einsum("ij,jk", a)
    with pytest.raises(ValueError, match=r"einsum: operand subscripts 'ijk' do not fit shape"):
        gc.einsum("ijk", a)
    with pytest.raises(ValueError, match="einsum: invalid subscripts"):
        gc.einsum("i1", a)
    with pytest.raises(ValueError, match=r"einsum: 'ij,ij->ij' does not fit the shapes"):
        gc.einsum("ij,ij->ij", a, gc.zeros((3, 2), device=device))


TENSORDOT = [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0),
             ((2, 3, 4), (4, 2), ([0, 2], [1, 0])), ((3, 2), (3,), ([0], [-1]))]


@pytest.mark.parametrize("sa, sb, axes", TENSORDOT, ids=str)
def test_tensordot(sa, sb, axes, device):
    a, b = randn(sa, device, seed=1), randn(sb, device, seed=2)
    np.testing.assert_allclose(gc.tensordot(a, b, axes).numpy(),
                               np.tensordot(a.numpy(), b.numpy(), axes), rtol=1e-13)
    f = lambda x, y: gc.tensordot(x, y, axes)  # noqa: E731
    assert gc.gradcheck(f, (a, b))
    assert jvpcheck(f, (a, b))
    assert gradcheck2(lambda x, y: f(x, y) ** 2, (a, b))


ANY = [((), (3,)), ((3,), (2,)), ((2, 3), (3,)), ((2, 1), (3, 4)), ((2, 2, 3), (2,))]
PAIRS = {  # shapes that each product accepts
    "dot": [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
            ((2, 2, 3), (3, 4)), ((2, 2, 3), (4, 3, 2)), ((2, 2, 3), (3,))],
    "inner": [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (5, 3))],
    "outer": ANY,
    "kron": ANY,
}


@pytest.mark.parametrize("name, sa, sb", [(n, a, b) for n, pairs in PAIRS.items()
                                          for a, b in pairs], ids=str)
def test_products(name, sa, sb, device):
    fn, ref = getattr(gc, name), getattr(np, name)
    a, b = randn(sa, device, seed=1), randn(sb, device, seed=2)
    expected = ref(a.numpy(), b.numpy())
    y = fn(a, b)
    assert y.shape == np.shape(expected)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13)
    f = lambda x, z: fn(x, z) ** 2  # noqa: E731
    assert gc.gradcheck(f, (a, b))
    assert jvpcheck(f, (a, b))
    assert gradcheck2(f, (a, b))


def test_dot_method_and_tensordot_errors(device):
    a, b = randn((2, 3), device), randn((3,), device)
    np.testing.assert_allclose(a.dot(b).numpy(), a.numpy().dot(b.numpy()), rtol=1e-13)
    with pytest.raises(ValueError, match=r"tensordot: axes \(1,\) of \(2, 3\) and \(0,\)"):
        gc.tensordot(a, randn((2,), device), ([1], [0]))
    with pytest.raises(ValueError, match="tensordot: axes=3 does not fit"):
        gc.tensordot(a, b, 3)
