"""In-place updates of a tensor's storage: ``x -= y``, ``x.add_(y)``, ``x.clamp_(0, 1)``, ``x[i] = v``.

PyTorch's rules:

* **Not recording** (inside ``no_grad``, or when neither the tensor nor an operand requires
  grad): one ufunc writes the result into the storage (``out=``), and the version counter,
  shared with the tensor's views and detached aliases, goes up. An op that saved the tensor
  for backward then refuses to run (``RuntimeError`` at ``backward()``), instead of using the
  changed values. This is how ``with no_grad(): p -= lr * p.grad`` updates a parameter.
* **A leaf that requires grad, while recording**: ``RuntimeError`` (as PyTorch); update
  parameters under ``gc.no_grad()``.
* **Otherwise, while recording** (a non-leaf, or an operand that requires grad): recorded. The
  out-of-place op runs, its result is written into the storage, and the tensor becomes that
  op's output on the tape. The op sees a copy of the old value where it saved it.
* **With a forward-mode tangent** (inside ``gc.jvp``): as while recording, so the tangent is
  updated too.
* **A view of other storage, while recording**: ``RuntimeError`` (views are not rebased onto
  their base's graph, so the base's gradient would miss the change).

The result keeps the tensor's shape and dtype: an operand that would broadcast the tensor to a
larger shape, or a value that cannot be cast to its dtype (``same_kind``), is an error.
"""
from __future__ import annotations

import numpy

from gradcore import tracing
from gradcore.autograd.function import Function, tangent_of
from gradcore.autograd.mode import STATE, no_grad
from gradcore.backend import array_module, to_device
from gradcore.creation import _draw, as_tensor
from gradcore.ops.indexing import array_key, getitem
from gradcore.ops.shape import sum_to
from gradcore.tensor import Tensor

__all__ = ["update", "fill", "copy", "copy_from", "fill_random", "setitem"]


def update(x, name, op, fast, *args):
    """Apply ``op(x, *args)`` (a differentiable gradcore op) to ``x`` in place.

    ``fast(array, *operand_arrays, out=array)`` is the NumPy/CuPy call for the unrecorded path
    (None: compute ``op`` and copy).
    """
    if _tracked(x, args):
        return _record(x, name, op, args)
    arrays = [_operand(x, name, a) for a in args]
    try:
        if fast is None:
            with no_grad():
                y = op(x, *args)
            _write(x, name, y.array)
        else:
            xa = x.array if tracing.STATE.tracer is None else tracing.watch(x.array)
            fast(xa, *arrays, out=xa, casting="same_kind")
    except (ValueError, TypeError) as e:
        raise _shape_or_dtype_error(x, name, args, e) from e
    x._vc[0] += 1
    return x


def _tracked(x, args):
    """True when the update must go through the op: it is recorded on the tape, or it carries
    a forward-mode tangent of the current ``gc.jvp`` level."""
    if STATE.grad_enabled and (x.requires_grad or _any_requires_grad(args)):
        return True
    level = STATE.forward_ad
    return bool(level) and any(tangent_of(a, level) is not None for a in (x, *args))


def _record(x, name, op, args):
    if x.node is None and x.requires_grad and STATE.grad_enabled:
        raise RuntimeError(
            f"{name}: in-place change of a leaf tensor that requires grad (shape {x.shape}) "
            "while gradients are recorded; update it under gc.no_grad() (as an optimizer step "
            "does) or use an out-of-place op (x = x - y)")
    if getattr(x.array, "base", None) is not None:
        raise RuntimeError(
            f"{name}: in-place change of a view (shape {x.shape}) while gradients are "
            "recorded is not supported: the tensor it views would not see it on the tape; use "
            "an out-of-place op, or gc.no_grad()")
    # The op reads an alias of the old value; if it saves that alias for backward, the alias
    # gets a copy, since the storage is overwritten below.
    alias = Tensor._make(x.array, x.device, x.requires_grad, x.node, x._index)
    alias._vc, alias.tangent = [x._vc[0]], x.tangent
    y = op(alias, *args)
    if y.shape != x.shape:
        raise ValueError(f"{name}: the result has shape {y.shape}, but an in-place op keeps the "
                         f"tensor's shape {x.shape} (operand shapes "
                         f"{[tuple(getattr(a, 'shape', ())) for a in args]})")
    if y.dtype != x.dtype:
        _check_cast(x, name, y.dtype)
        y = y.astype(x.dtype)
    saved = getattr(y.node, "saved", None) if y.node is not None else None
    if saved and any(t is alias for t, _ in saved):
        alias.array = x.array.copy()
    _write(x, name, y.array)
    x.node, x._index, x.requires_grad, x.tangent = y.node, y._index, y.requires_grad, y.tangent
    x._vc[0] += 1
    return x


def _write(x, name, array):
    if getattr(x.array.flags, "writeable", True):
        x.device.xp.copyto(tracing.watch(x.array), array, casting="same_kind")
    else:
        raise ValueError(f"{name}: the tensor (shape {x.shape}) is a read-only view (from "
                         "broadcast_to); copy it first")


def _operand(x, name, a):
    if isinstance(a, Tensor):
        if a.device is not x.device:
            raise RuntimeError(f"{name}: the operand is on {a.device} but the tensor (shape "
                               f"{x.shape}) is on {x.device}")
        return a.array
    if isinstance(a, (int, float, bool)) or a is None:
        return a
    return as_tensor(a, device=x.device).array


def _any_requires_grad(args):
    for a in args:
        if isinstance(a, Tensor) and a.requires_grad:
            return True
    return False


def _check_cast(x, name, dtype):
    if not numpy.can_cast(dtype, x.dtype, casting="same_kind"):
        raise TypeError(f"{name}: the result has dtype {dtype}, which cannot be stored in place "
                        f"in a tensor of dtype {x.dtype} (shape {x.shape})")


def _shape_or_dtype_error(x, name, args, err):
    shapes = [tuple(getattr(a, "shape", ())) for a in args]
    dtypes = [str(getattr(a, "dtype", type(a).__name__)) for a in args]
    kind = TypeError if isinstance(err, TypeError) else ValueError
    return kind(f"{name}: cannot update a tensor of shape {x.shape} and dtype {x.dtype} in place "
                f"with operands of shapes {shapes} and dtypes {dtypes}: {err}")


# ---- ops whose result does not depend on the old value -----------------------------------
class Fill(Function):
    """``x`` filled with a constant: the gradient to the old value is zero."""

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        y = array_module(x).empty_like(x)
        y.fill(self.value)
        return y

    def backward(self, gy):
        return gy * 0

    def jvp(self, xs, y, txs):
        return array_module(y).zeros_like(y)


def fill(x, value):
    """``x`` with every element ``value`` (differentiable: a zero gradient to ``x``)."""
    return Fill(value)(x)


class Copy(Function):
    """``src`` broadcast into ``x``'s shape and dtype: the gradient goes to ``src`` only."""

    def forward(self, x, src):
        self.shape = getattr(src, "shape", ())
        xp = array_module(x)
        # broadcast, then cast: asarray(src) would hide src from gc.compile's tracer
        return xp.broadcast_to(src, x.shape).astype(x.dtype)

    def backward(self, gy):
        return None, sum_to(gy, self.shape)

    def jvp(self, xs, y, txs):
        t = txs[1]
        return None if t is None else array_module(y).broadcast_to(t, y.shape).astype(y.dtype)


def copy_into(array, src, out, casting):
    """The unrecorded ``copy_``: ``out[...] = src`` (``array`` is ``out``)."""
    array_module(out).copyto(out, src, casting=casting)


def copy(x, src):
    """``src`` (broadcast to ``x``'s shape) as a new tensor that replaces ``x`` on the tape."""
    return Copy()(x, src)


def copy_from(x, src):
    """``x.copy_(src)``: ``src`` (any array-like, on any device) into ``x`` in place."""
    if not isinstance(src, Tensor):
        src = as_tensor(src, device=x.device)
    elif src.device is not x.device:
        src = src.to(x.device)
    return update(x, "copy_", copy, copy_into, src)


def fill_random(x, name, kind, generator, *params):
    """``x.normal_()``, ``x.uniform_()``: samples of ``kind`` from ``generator`` (None: the
    global one) into ``x`` in place. A host call, so a gc.compile replay draws new numbers."""
    values = tracing.host_call(_draw, generator, name, kind, x.shape, x.dtype, *params)
    return copy_from(x, to_device(values, x.device))


class SetItem(Function):
    """``x`` with ``x[key] = v``: the gradient of ``x`` is zero at ``key``, that of ``v`` is
    ``gy[key]`` summed back to ``v``'s shape."""

    def __init__(self, key):
        self.key = key

    def forward(self, x, v):
        self.shape = getattr(v, "shape", ())
        y = x.copy()
        y[self.key] = v
        return y

    def backward(self, gy):
        keep = gy.device.xp.ones(gy.shape, gy.dtype)
        keep[self.key] = 0
        gv = sum_to(getitem(gy, self.key), self.shape) if self.edges[1] is not None else None
        return gy * keep, gv

    def jvp(self, xs, y, txs):
        tx, tv = txs
        xp = array_module(y)
        t = xp.zeros_like(y) if tx is None else tx.copy()
        t[self.key] = 0 if tv is None else tv
        return t


def setitem(x, key, value):
    """``x[key] = value`` in place, by the rules of this module."""
    key = array_key(key)
    if _tracked(x, (value,)):
        return _record(x, "__setitem__", lambda a, v: SetItem(key)(a, v), (value,))
    v = _operand(x, "__setitem__", value)
    try:
        tracing.watch(x.array)[key] = v
    except (ValueError, TypeError) as e:
        raise _shape_or_dtype_error(x, "__setitem__", (value,), e) from e
    x._vc[0] += 1
    return x

