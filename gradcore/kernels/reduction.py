"""Reductions: ``sum_rows`` (the bias gradient). Header: kernels/reduction.cuh."""

from __future__ import annotations

import numpy as np

from gradcore.kernels import Reduction, acc_dtype, cupy_kernel, float_dtype, is_cpu

__all__ = ["sum_rows"]


def _sum_rows_spec(acc: str) -> Reduction:
    # A ReductionKernel over the leading axes is what cupy.sum runs for this layout anyway (its
    # CUB path only serves reductions over the trailing, contiguous axes), so it is at least as
    # fast; writing it ourselves pins the accumulate type: float for half inputs.
    return Reduction(
        name="gradcore_sum_rows",
        family="reduction",
        in_params="T x",
        out_params="T y",
        map_expr="x",
        reduce_expr="gradcore_add(a, b)",
        post_map_expr="y = (T)a",
        identity="0",
        reduce_type=acc,
    )


# One kernel object per accumulate type: reduce_type is fixed per CuPy ReductionKernel.
_SUM_ROWS = {"float": _sum_rows_spec("float"), "double": _sum_rows_spec("double")}
KERNELS = tuple(_SUM_ROWS.values())


def sum_rows(g, out=None):
    """Sum ``g`` over every axis but the last: shape ``(..., N)`` -> ``(N,)``.

    float16 input accumulates in float32 and is rounded once at the end.

    >>> sum_rows(np.ones((2, 3, 4), dtype=np.float32))
    array([6., 6., 6., 6.], dtype=float32)
    """
    dtype = float_dtype(g)
    if g.ndim == 0:
        raise ValueError("sum_rows needs an array with at least one axis")
    axes = tuple(range(g.ndim - 1))
    if is_cpu(g):
        # pairwise summation in the accumulate dtype, straight from g's memory: no reshape copy
        total = np.sum(g, axis=axes, dtype=acc_dtype(dtype))
        if out is None:
            return total.astype(dtype, copy=False)
        np.copyto(out, total, casting="same_kind")
        return out
    if g.ndim == 1:  # nothing to reduce; CuPy's reduction over zero axes is not worth a launch
        if out is None:
            return g.copy()
        out[...] = g
        return out
    kernel = cupy_kernel(_SUM_ROWS["double" if dtype == np.float64 else "float"])
    return kernel(g, axis=axes, out=out)
