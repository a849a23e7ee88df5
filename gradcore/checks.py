"""Argument checks shared by the user-facing functions: integers (sizes, axes, seeds) and shapes.

Each check raises an exception that names the op and the offending argument, where NumPy
would say ``'float' object is not iterable`` or ``array is too big``, or accept ``True`` as 1.

>>> from gradcore import checks
>>> checks.shape((2, 3), "zeros")
(2, 3)
>>> checks.shape((2.5,), "ones")
Traceback (most recent call last):
    ...
TypeError: ones: size must be an integer, got 2.5 (float)
"""
from __future__ import annotations

import collections.abc
import math
import sys

import numpy

__all__ = ["integer", "is_integer", "seed", "int_tuple", "shape", "addressable", "dim_alias",
           "keepdim_alias"]


def integer(value, op, what):
    """``value`` as an ``int`` if it is an integer (``int`` or NumPy integer, not ``bool``)."""
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{op}: {what} must be an integer, got {value!r} "
                        f"({type(value).__name__})")
    return int(value)


def seed(value, op):
    """A seed for ``numpy.random.default_rng``: a non-negative integer (NumPy refuses others)."""
    value = integer(value, op, "seed")
    if value < 0:
        raise ValueError(f"{op}: seed must be a non-negative integer, got {value}")
    return value


def is_integer(value):
    """Whether ``value`` is an ``int`` or a NumPy integer, and not a ``bool``."""
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


def int_tuple(value, op, what):
    """One integer or a sequence of them (axes, a new shape) as a tuple of ints; the range is
    the caller's to check, since it depends on the op."""
    if is_integer(value):
        return (int(value),)
    if not isinstance(value, collections.abc.Iterable) or isinstance(value, str):
        raise TypeError(f"{op}: {what} must be an integer or a tuple of integers, got {value!r} "
                        f"({type(value).__name__})")
    return tuple(integer(v, op, what) for v in value)


def shape(dims, op, dtype=None):
    """The sizes of a new array, given as ``f(2, 3)`` or ``f((2, 3))``, as a tuple of
    non-negative ints; with ``dtype``, also refuses a shape too large to address."""
    if len(dims) == 1 and not is_integer(dims[0]) and isinstance(
            dims[0], collections.abc.Iterable) and not isinstance(dims[0], str):
        dims = tuple(dims[0])
    out = tuple(integer(n, op, "size") for n in dims)
    if any(n < 0 for n in out):
        raise ValueError(f"{op}: sizes must be non-negative, got shape {out}")
    if dtype is not None and not addressable(out, numpy.dtype(dtype).itemsize):
        raise ValueError(f"{op}: shape {out} of {numpy.dtype(dtype)} is larger than this machine "
                         f"can address ({sys.maxsize} bytes)")
    return out


def addressable(dims, itemsize):
    """Whether NumPy can make an array of ``dims`` and ``itemsize``: its rule counts the nonzero
    sizes only, so ``(2**62, 2**62, 0)`` is refused although it holds nothing."""
    return math.prod(n for n in dims if n) * itemsize <= sys.maxsize


def dim_alias(op, axis, dim, default=None, required=False):
    """NumPy's ``axis=`` or PyTorch's ``dim=``: one argument under two names, for every op that
    takes an axis (the one place that reconciles them). Both given raises ``TypeError``; an
    ``axis`` left at its ``default`` yields to ``dim``. ``required``: one of them must be given.

    >>> from gradcore import checks
    >>> checks.dim_alias("sum", None, 1), checks.dim_alias("softmax", -1, 0, default=-1)
    (1, 0)
    >>> checks.dim_alias("sum", 0, 1)
    Traceback (most recent call last):
        ...
    TypeError: sum: got both axis=0 and dim=1; they are the same argument (NumPy's and PyTorch's name), give one
    """
    if dim is None:
        if required and axis is None:
            raise TypeError(f"{op}: missing the axis (give axis= or dim=)")
        return axis
    if axis is not default and axis != default:
        raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; they are the same "
                        "argument (NumPy's and PyTorch's name), give one")
    return dim


def keepdim_alias(op, keepdims, keepdim):
    """NumPy's ``keepdims=`` or PyTorch's ``keepdim=`` (see :func:`dim_alias`).

    >>> from gradcore import checks
    >>> checks.keepdim_alias("sum", False, True)
    True
    """
    if keepdim is None:
        return keepdims
    if keepdims:
        raise TypeError(f"{op}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; they are "
                        "the same argument (NumPy's and PyTorch's name), give one")
    return bool(keepdim)
