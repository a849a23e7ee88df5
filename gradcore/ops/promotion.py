"""Type promotion of the operands of binary ops, PyTorch's rule: a float32 model stays float32.

NumPy widens ``float32 * numpy.float64(0.1)`` and ``float32 ** int64`` to float64; PyTorch does
not, and neither does gradcore. Operands fall into three tiers, strongest first:

1. tensors (and arrays) with at least one dimension;
2. 0-d tensors and 0-d arrays;
3. Python numbers and NumPy scalars (``numpy.float64(0.1)``, as PyTorch treats them): a float
   counts as the default dtype, an int as int64. NumPy scalars are passed on as Python numbers.

A weaker tier changes the result only when its *category* (bool < integer < floating < complex)
is higher: ``float32[n] + float64 0-d`` is float32, ``int64[n] + 0.5`` is float32 (the default
dtype), ``int64[n] + float64 0-d`` is float64. Within a tier, dtypes of one category promote as
NumPy does (``float32[n] + float64[n]`` is float64) and across categories the higher one wins
(``int64[n] + float32[n]`` is float32, where NumPy says float64).

Ops opt in by subclassing :class:`Promoting` (the arithmetic, comparisons, ``where``,
``maximum``/``minimum``, the binary table, ``matmul``); ops whose operands have roles (indices,
masks) do not. ``Function.__call__`` calls :meth:`Promoting.promote` only when the operands
could disagree (two tensor dtypes, a non-tensor operand, a Python float with a non-float
tensor), so ``a * b`` on two float32 tensors pays one identity test.

>>> import numpy as np, gradcore as gc
>>> (gc.ones(2) * np.float64(0.1)).dtype, (gc.ones(3, 1) ** gc.tensor([1, 2, 3])).dtype
(dtype('float32'), dtype('float32'))
>>> (gc.ones(2) + gc.ones(2, dtype="float64")).dtype
dtype('float64')
"""
from __future__ import annotations

import numpy

from gradcore.autograd.function import Function, constant_operand
from gradcore.creation import get_default_dtype
from gradcore.ops.convert import astype
from gradcore.tensor import Tensor

__all__ = ["Promoting", "result_type"]

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
_PY_SCALARS = frozenset((bool, int, float, complex))  # exact types: numpy.float64 is a float


def _category(dt):
    return _CATEGORY[dt.kind]


def _promote_types(a, b):
    """PyTorch's ``promote_types``: the higher category wins; one category promotes as NumPy."""
    if a is None:
        return b
    ca, cb = _category(a), _category(b)
    if ca != cb and 3 not in (ca, cb):  # (a complex operand widens with its float partner)
        return a if ca > cb else b
    return numpy.promote_types(a, b)


def _combine(higher, lower):
    """The dtype of a stronger tier ``higher`` with a weaker one ``lower`` (None: empty)."""
    if higher is None:
        return lower
    if lower is None or _category(lower) <= _category(higher):
        return higher
    if _category(lower) == 3 and _category(higher) == 2:  # complex of the float's precision
        return numpy.result_type(higher, numpy.complex64)
    return lower


def _python_dtype(x):
    kind = "b" if type(x) is bool else "i" if type(x) is int else "f" if type(x) is float else "c"
    if kind == "b":
        return numpy.dtype(bool)
    if kind == "i":
        return numpy.dtype(numpy.int64)
    dt = get_default_dtype()
    return dt if kind == "f" else numpy.result_type(dt, numpy.complex64)


def result_type(*operands, python_scalars=True):
    """The dtype of a binary op on ``operands`` under PyTorch's rule (see the module docstring).

    ``python_scalars=False`` leaves Python numbers out (comparisons: NumPy then compares them
    exactly against integer tensors, where a cast to float32 would round).

    >>> import numpy as np, gradcore as gc
    >>> from gradcore.ops.promotion import result_type
    >>> result_type(gc.ones(2), np.float64(0.1)), result_type(gc.arange(3), 0.5)
    (dtype('float32'), dtype('float32'))
    """
    dim = zero = py = None
    for x in operands:
        if isinstance(x, numpy.generic):
            x = x.item()  # a NumPy scalar counts as the Python number
        if type(x) in _PY_SCALARS:
            if python_scalars:
                py = _promote_types(py, _python_dtype(x))
            continue
        dt = x.dtype if hasattr(x, "dtype") else numpy.asarray(x).dtype
        if getattr(x, "ndim", 0) or (not hasattr(x, "ndim") and numpy.ndim(x)):
            dim = _promote_types(dim, numpy.dtype(dt))
        else:
            zero = _promote_types(zero, numpy.dtype(dt))
    return _combine(dim, _combine(zero, py))


class Promoting(Function):
    """A Function whose operands are first brought to one dtype by :func:`result_type`.

    Tensor operands of another dtype are cast with :func:`gradcore.astype`, a recorded op, so
    each input's gradient comes back in its own dtype. Python numbers stay Python numbers
    (NumPy's weak scalars then keep the common dtype).
    """

    python_scalars = True  # Compare sets False: see result_type

    def promote(self, inputs, device, record):
        inputs = tuple(x if type(x) in _PY_SCALARS or isinstance(x, Tensor) else
                       x.item() if isinstance(x, numpy.generic) else
                       constant_operand(x, device, record) for x in inputs)
        dt = result_type(*inputs, python_scalars=self.python_scalars)
        inputs = tuple(astype(x, dt) if isinstance(x, Tensor) and x.dtype != dt else x
                       for x in inputs)
        return inputs, [x.array if isinstance(x, Tensor) else x for x in inputs]
