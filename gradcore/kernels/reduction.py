"""Reductions: ``sum_rows``, the bias gradient. Header: kernels/reduction.cuh.

GPU: two stages, so that every SM streams its share of the gradient (benchmark: the
``bias_grad`` workload of gradcore/bench/workloads.py, benchmarks/test_kernels.py).

Why not one CuPy ReductionKernel over axis 0: its block rules (``_get_block_specs`` in
``cupy/_core/_reduction.pyx``) give, for a (rows, 1024) input, block_size = 512,
reduce_block_size = rows, contiguous_size = min(1024, 32) = 32,
block_stride = max(32, 512 // rows) = 32 (rows >= 16), out_block_num = 1024 / 32 = 32 blocks of
512 threads, whatever the number of rows: 32 of an H200's 132 SMs busy, the other 100 idle.

Stage 1 (``gradcore_sum_rows_partial``, an ElementwiseKernel over a (chunks, N) output): thread
(k, c) sums rows [k*R, (k+1)*R) of column c in the accumulate type. Neighbouring threads read
neighbouring columns of one row, so each warp load is one 128-byte line (float32). The chunk
count aims at ``_STAGE1_THREADS`` = 2**18 threads (an H200 keeps 132 SMs x 2048 = 270,336
resident), with at least ``_MIN_ROWS_PER_THREAD`` rows each so the partials stay small.
Stage 2 (``gradcore_sum_rows``, a ReductionKernel over axis 0 of the partials) folds the
chunks and rounds once to the storage dtype.

For (8192, 1024) float32 (32 MiB): stage 1 = 256 chunks x 1024 columns = 262,144 threads =
2,048 blocks of 128 on all 132 SMs, 32 rows each; it reads the 32 MiB once and writes 1 MiB of
partials; stage 2 reads that 1 MiB (32 blocks, as above, but over 256 rows instead of 8192).
Bytes moved: 34 MiB against the 32 MiB a copy would read. (A ones-vector GEMV through cuBLAS
would move the same bytes but leave the float16 accumulate type and the kernel to cuBLAS, out
of the compile check and of the host stand-in.) Not yet timed on a GPU.
"""

from __future__ import annotations

import numpy as np

from gradcore.kernels import (
    Elementwise, Reduction, acc_dtype, cupy_kernel, float_dtype, is_cpu,
)

__all__ = ["sum_rows", "sum_rows_plan"]

_STAGE1_THREADS = 1 << 18
_MIN_ROWS_PER_THREAD = 16

# Stage 1: S is the accumulate dtype (float for half and float storage, double for double).
_SUM_ROWS_PARTIAL = Elementwise(
    "gradcore_sum_rows_partial", "reduction",
    "raw T g, int64 rows, int64 rows_per_chunk, int64 n_col", "S part",
    "const ptrdiff_t c = i % n_col, k = i / n_col; "
    "const ptrdiff_t r0 = k * rows_per_chunk; "
    "const ptrdiff_t r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows; "
    "S s = S(0); "
    "for (ptrdiff_t r = r0; r < r1; ++r) { ptrdiff_t idx[] = {r, c}; s += (S)g[idx]; } "
    "part = s;",
    raw_ndim=(("g", 2),),
)


def _sum_rows_spec(acc: str) -> Reduction:
    # Stage 2, over axis 0 of the (chunks, N) partials: x is S, y the storage dtype T.
    return Reduction(
        name="gradcore_sum_rows",
        family="reduction",
        in_params="S x",
        out_params="T y",
        map_expr="x",
        reduce_expr="gradcore_add(a, b)",
        post_map_expr="y = (T)a",
        identity="0",
        reduce_type=acc,
    )


# reduce_type is fixed per CuPy ReductionKernel, hence one kernel object per accumulate type.
_SUM_ROWS_FLOAT = _sum_rows_spec("float")
_SUM_ROWS_DOUBLE = _sum_rows_spec("double")
KERNELS = (_SUM_ROWS_PARTIAL, _SUM_ROWS_FLOAT, _SUM_ROWS_DOUBLE)


def sum_rows_plan(rows: int, n_col: int) -> tuple[int, int]:
    """(chunks, rows_per_chunk) of stage 1 for a (rows, n_col) gradient (see the module doc).

    >>> sum_rows_plan(8192, 1024)
    (256, 32)
    >>> sum_rows_plan(10, 1024), sum_rows_plan(1000, 3)
    ((1, 10), (59, 17))
    """
    wanted = max(1, _STAGE1_THREADS // max(n_col, 1))
    chunks = max(1, min(wanted, rows // _MIN_ROWS_PER_THREAD))
    rows_per_chunk = max(1, -(-rows // chunks))
    return max(1, -(-rows // rows_per_chunk)), rows_per_chunk


def sum_rows(g, out=None):
    """Sum ``g`` over every axis but the last: shape ``(..., N)`` -> ``(N,)``.

    float16 input accumulates in float32 and is rounded once at the end.

    >>> sum_rows(np.ones((2, 3, 4), dtype=np.float32))
    array([6., 6., 6., 6.], dtype=float32)
    """
    dtype = float_dtype(g)
    if g.ndim == 0:
        raise ValueError("sum_rows needs an array with at least one axis")
    if is_cpu(g):
        # the specification: the sum in the accumulate dtype (NumPy sums pairwise), straight
        # from g's memory (no reshape copy), rounded once
        total = np.sum(g, axis=tuple(range(g.ndim - 1)), dtype=acc_dtype(dtype))
        if out is None:
            return total.astype(dtype, copy=False)
        np.copyto(out, total, casting="same_kind")
        return out
    import cupy

    if g.ndim == 1:  # nothing to reduce: a copy, not worth two launches
        if out is None:
            return g.copy()
        out[...] = g
        return out
    n_col = g.shape[-1]
    g2 = g.reshape(-1, n_col)  # a view unless g's leading axes cannot merge
    chunks, rows_per_chunk = sum_rows_plan(g2.shape[0], n_col)
    acc = acc_dtype(dtype)
    part = cupy.empty((chunks, n_col), acc)
    cupy_kernel(_SUM_ROWS_PARTIAL)(g2, g2.shape[0], rows_per_chunk, n_col, part)
    if out is None:
        out = cupy.empty(n_col, dtype)
    stage2 = _SUM_ROWS_DOUBLE if acc == np.float64 else _SUM_ROWS_FLOAT
    return cupy_kernel(stage2)(part, axis=0, out=out)
