"""Tensor products: einsum, and tensordot, dot, inner, outer, kron built on it or on matmul.

One gradient rule serves them all: the gradient of an einsum operand is itself an einsum (of the
output gradient with the other operands), so it is differentiable again. Repeated labels in an
operand (``"ii->i"``, a diagonal) and labels only that operand has (summed away) are covered by
constant identity and ones operands in that einsum.
"""
from __future__ import annotations

import string

from gradcore import checks
from gradcore.autograd.function import Function
from gradcore.backend import array_module
from gradcore.kernels import gemm
from gradcore.creation import ones
from gradcore.ops.arithmetic import mul
from gradcore.ops.linalg import matmul
from gradcore.ops.shape import reshape, sum_to
from gradcore.tensor import Tensor

__all__ = ["einsum", "tensordot", "dot", "inner", "outer", "kron"]

_LETTERS = string.ascii_letters


def _parse(subscripts, shapes):
    """``subscripts`` in explicit form with every ``...`` replaced by letters: (inputs, output)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {len(shapes)}")
    for part in ins + ([out] if arrow else []):
        if any(c not in _LETTERS for c in part.replace("...", "")) or part.count("...") > 1:
            raise ValueError(f"einsum: invalid subscripts {subscripts!r} (letters, commas, one "
                             "'...' per operand, '->')")
    unused = [c for c in _LETTERS if c not in spec]
    n_ell = 0
    for part, shape in zip(ins, shapes):
        labels = len(part.replace("...", ""))
        if ("..." not in part and labels != len(shape)) or labels > len(shape):
            raise ValueError(f"einsum: operand subscripts {part!r} do not fit shape {shape}")
        if "..." in part:
            n_ell = max(n_ell, len(shape) - labels)
    ell = "".join(unused[:n_ell])  # right-aligned: an operand with fewer such axes takes the last
    ins = [p.replace("...", ell[n_ell - (len(s) - len(p.replace("...", ""))):] if n_ell else "")
           for p, s in zip(ins, shapes)]
    if arrow:
        out = out.replace("...", ell)
    else:  # NumPy's implicit output: the broadcast axes, then the labels used once, sorted
        joined = "".join(ins)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell))
    return ins, out


class Einsum(Function):
    def __init__(self, ins, out):
        self.ins, self.out = ins, out
        self.spec = ",".join(ins) + "->" + out

    def forward(self, *xs):
        self.shapes = [tuple(x.shape) for x in xs]
        self.saves = tuple(range(len(xs)))
        gemm.refuse_under_capture("einsum", "cuBLAS through CuPy's einsum")
        try:
            # optimize: NumPy contracts through tensordot (BLAS) instead of its plain loops
            return array_module(xs[0]).einsum(self.spec, *xs, optimize=len(xs) > 1)
        except ValueError as e:
            raise ValueError(f"einsum: {self.spec!r} does not fit the shapes {self.shapes}: "
                             f"{e}") from e

    def backward(self, gy):
        xs = self.saved_tensors()
        return tuple(None if self.edges[i] is None else self._grad(i, gy, xs)
                     for i in range(len(xs)))

    def _grad(self, i, gy, xs):
        """d/d operand i: an einsum of gy with the other operands (written with this op)."""
        sub, shape = self.ins[i], self.shapes[i]
        terms, operands = [self.out], [gy]
        for j, x in enumerate(xs):
            if j != i:
                terms.append(self.ins[j])
                operands.append(x)
        spare = iter(c for c in _LETTERS if c not in self.spec)
        target, seen = [], set()
        for c, n in zip(sub, shape):
            if c in seen:  # a repeated label: a fresh one, tied to the first by an identity
                fresh = next(spare)
                eye = array_module(gy.array).eye(n, dtype=gy.array.dtype)
                terms.append(c + fresh)
                operands.append(Tensor._make(eye, gy.device, False, None, 0))
                c = fresh
            elif not any(c in t for t in terms):  # summed away in the forward: gradient 1
                terms.append(c)
                operands.append(ones(n, dtype=gy.dtype, device=gy.device))
            seen.add(c)
            target.append(c)
        g = Einsum(terms, "".join(target))(*operands)
        return sum_to(g, shape)  # size-1 axes that the other operands broadcast

    def jvp(self, xs, y, txs):
        gemm.refuse_under_capture("einsum (jvp)", "cuBLAS through CuPy's einsum")
        xp = array_module(y)
        out = None
        for i, t in enumerate(txs):
            if t is not None:
                term = xp.einsum(self.spec, *xs[:i], t, *xs[i + 1:], optimize=len(xs) > 1)
                out = term if out is None else out + term
        return out


def einsum(subscripts, *operands):
    """Einstein summation, like ``numpy.einsum``: ``"ij,jk->ik"`` (explicit output), implicit
    output (labels used once, sorted), ``...`` broadcasting, repeated labels (``"ii->i"``).
    Differentiable in every operand, to any order.

    >>> import gradcore as gc
    >>> a = gc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> gc.einsum("ii->", a).item()  # the trace
    5.0
    >>> gc.einsum("ij,j->i", a, gc.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    if not operands:
        raise ValueError("einsum: need at least one operand")
    ins, out = _parse(subscripts, [tuple(getattr(x, "shape", ())) for x in operands])
    return Einsum(ins, out)(*operands)


def tensordot(a, b, axes=2):
    """Sum of products over ``axes`` (N: the last N of ``a`` with the first N of ``b``; or a
    pair of axis lists), like ``numpy.tensordot``.

    >>> import gradcore as gc
    >>> gc.tensordot(gc.ones((2, 3, 4)), gc.ones((3, 4, 5)), axes=2).shape
    (2, 5)
    """
    if checks.is_integer(axes):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} does not fit shapes {tuple(a.shape)} and "
                             f"{tuple(b.shape)}")
        axes_a, axes_b = tuple(range(a.ndim - n, a.ndim)), tuple(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError) as e:
            raise TypeError(f"tensordot: axes must be an int or a pair of axis lists, got "
                            f"{axes!r}") from e
        axes_a = tuple(x % a.ndim for x in checks.int_tuple(axes_a, "tensordot", "axes"))
        axes_b = tuple(x % b.ndim for x in checks.int_tuple(axes_b, "tensordot", "axes"))
    if len(axes_a) != len(axes_b) or any(a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"tensordot: axes {axes_a} of {tuple(a.shape)} and {axes_b} of "
                         f"{tuple(b.shape)} do not match")
    la = _LETTERS[:a.ndim]
    lb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for i, j in zip(axes_a, axes_b):
        lb[j] = la[i]
    out = "".join(c for k, c in enumerate(la) if k not in axes_a) + \
        "".join(c for k, c in enumerate(lb) if k not in axes_b)
    return Einsum([la, "".join(lb)], out)(a, b)


def dot(a, b):
    """NumPy's ``dot``: a product for 0-d operands, matmul for 1-D and 2-D, else a sum over the
    last axis of ``a`` and the second-to-last of ``b``.

    >>> import gradcore as gc
    >>> gc.dot(gc.tensor([1.0, 2.0]), gc.tensor([3.0, 4.0])).item()
    11.0
    """
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ((a.ndim - 1,), (max(b.ndim - 2, 0),)))


def inner(a, b):
    """Sum of products over the last axes, like ``numpy.inner`` (a product for 0-d operands).

    >>> import gradcore as gc
    >>> gc.inner(gc.tensor([[1.0, 2.0]]), gc.tensor([[3.0, 4.0], [5.0, 6.0]])).tolist()
    [[11.0, 17.0]]
    """
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    return tensordot(a, b, ((a.ndim - 1,), (b.ndim - 1,)))


def outer(a, b):
    """All products ``a[i] * b[j]`` of the flattened operands, like ``numpy.outer``.

    >>> import gradcore as gc
    >>> gc.outer(gc.tensor([1.0, 2.0]), gc.tensor([1.0, 10.0])).tolist()
    [[1.0, 10.0], [2.0, 20.0]]
    """
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def kron(a, b):
    """Kronecker product, like ``numpy.kron``: blocks ``a[i, j] * b`` (any number of axes, the
    shorter shape padded with leading 1s).

    >>> import gradcore as gc
    >>> gc.kron(gc.tensor([1.0, 2.0]), gc.tensor([1.0, 10.0])).tolist()
    [1.0, 10.0, 2.0, 20.0]
    """
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + tuple(a.shape)
    sb = (1,) * (nd - b.ndim) + tuple(b.shape)
    # (a0, 1, a1, 1...) * (1, b0, 1, b1...) -> (a0, b0, a1, b1...) -> (a0 b0, a1 b1...)
    y = mul(reshape(a, tuple(v for n in sa for v in (n, 1))),
            reshape(b, tuple(v for n in sb for v in (1, n))))
    return reshape(y, tuple(m * n for m, n in zip(sa, sb)))
