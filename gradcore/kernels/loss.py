"""Softmax cross-entropy, forward and fused backward. Header: kernels/loss.cuh.

GPU forward: one ReductionKernel pass over the logits computes the row logsumexp with the online
(max, sum) merge, then a small per-row kernel picks ``logits[i, label]``, checks the label range
into a device flag. The flag is read at the next synchronization, not at the call (see
``gradcore.kernels.errors``), so the host never waits for the GPU here. GPU backward: one
elementwise kernel.
"""

from __future__ import annotations

import functools

import numpy as np

from gradcore.kernels import errors
from gradcore.kernels import Elementwise, Reduction, acc_dtype, cupy_kernel, float_dtype, is_cpu

__all__ = ["softmax_cross_entropy", "softmax_cross_entropy_backward"]

_REDUCTIONS = ("mean", "sum", "none")


def _lse_spec(acc: str) -> Reduction:
    # NOTE: the output is `y`, not `lse`: on its CUB path (C-contiguous logits, 128 or more
    # classes) CuPy renames the params to in0/out0 by plain text replacement in the map and
    # post-map expressions, and `lse` would also be replaced inside gradcore_lse_value.
    # tests/kernels/test_cupy_codegen.py keeps the old text as a regression case.
    return Reduction(
        name="gradcore_logsumexp_rows",
        family="loss",
        in_params="T x",
        out_params="S y",
        map_expr=f"gradcore_lse_leaf<{acc}>(({acc})x)",
        reduce_expr="gradcore_lse_merge(a, b)",
        post_map_expr="y = (S)gradcore_lse_value(a)",
        identity=f"gradcore_lse_identity<{acc}>()",
        reduce_type=f"gradcore_lse_state<{acc}>",
    )


# reduce_type is fixed per CuPy ReductionKernel, hence one spec per accumulate type.
_LOGSUMEXP_ROWS_FLOAT = _lse_spec("float")
_LOGSUMEXP_ROWS_DOUBLE = _lse_spec("double")
_LSE = {"float": _LOGSUMEXP_ROWS_FLOAT, "double": _LOGSUMEXP_ROWS_DOUBLE}

# One thread per row. Out-of-range labels never index the logits: they mark the flag row
# [found, value] instead and get a NaN loss, so a result used before the error is raised at the
# next synchronization is visibly wrong.
_PICK = Elementwise(
    "gradcore_cross_entropy_pick", "loss",
    "raw T x, L label, S lse, int64 n_class", "S loss, raw int64 bad",
    "const long long t = (long long)label; "
    "if (gradcore_label_ok(t, n_class)) { "
    "ptrdiff_t idx[] = {(ptrdiff_t)i, (ptrdiff_t)t}; "
    "loss = lse - (S)x[idx]; "
    "} else { loss = gradcore_nan<S>(); gradcore_flag_error(&bad[0], t); }",
    raw_ndim=(("x", 2),),
)

# Over the (N, C) grid: lse, label and g come in as (N, 1) columns (g may be 0-d), so i % C is
# the class index of element i (ElementwiseKernel's i runs in C order of the output).
_GRAD = Elementwise(
    "gradcore_cross_entropy_backward", "loss",
    "T x, S lse, L label, S g, float64 scale, int64 n_class", "T gx",
    "typedef gradcore_acc<T>::type A; "
    "const bool is_label = (long long)label == (long long)(i % n_class); "
    "gx = (T)gradcore_ce_grad<A>((A)x, (A)lse, is_label, (A)g * (A)scale);",
)
KERNELS = (*_LSE.values(), _PICK, _GRAD)


def _acc_name(dtype) -> str:
    return "double" if dtype == np.float64 else "float"


def _check(logits, labels, reduction):
    """Validate shapes and dtypes; return (dtype, N, C)."""
    dtype = float_dtype(logits)
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
        )
    if np.dtype(labels.dtype).kind not in "iu":
        raise TypeError(f"cross_entropy: labels must have an integer dtype, got {labels.dtype}")
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            "cross_entropy: logits must be (N, C) and labels (N,), "
            f"got {logits.shape} and {labels.shape}"
        )
    n, c = logits.shape
    if c == 0:
        raise ValueError("cross_entropy: logits need at least one class")
    return dtype, n, c


def _label_error(value, n_class):
    return ValueError(f"cross_entropy: label {value} is out of range for {n_class} classes "
                      f"(valid labels are 0..{n_class - 1})")


def _check_label_range(labels, n_class):
    """Raise ValueError naming the first out-of-range label (NumPy labels)."""
    bad = (labels < 0) | (labels >= n_class)
    if bad.any():
        raise _label_error(labels[bad][0], n_class)


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    total = loss.mean() if reduction == "mean" else loss.sum()
    return np.asarray(total) if is_cpu(loss) else total  # NumPy gives a scalar: make it 0-d


def softmax_cross_entropy(logits, labels, reduction="mean"):
    """Cross-entropy of softmax(logits) against integer labels; returns ``(loss, lse)``.

    logits (N, C) float, labels (N,) integer. lse is the row logsumexp, float32 for float16
    logits (and so is loss), else the logits dtype. loss = lse - logits[i, label], then "mean"
    or "sum" (0-d arrays) or "none" ((N,)). Stable for any finite logits (+-1e4 and beyond).

    >>> loss, lse = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> float(loss), lse
    (1.3862943611198906, array([1.38629436, 1.38629436]))
    """
    dtype, n, c = _check(logits, labels, reduction)
    acc = acc_dtype(dtype)
    if not is_cpu(logits):
        return _forward_gpu(logits, labels, reduction, acc, n, c)
    _check_label_range(labels, c)
    x = logits.astype(acc, copy=False)
    m = x.max(axis=1)
    # Shift finite rows by their max; rows whose max is +-inf or NaN are shifted by 0 instead:
    # inf - inf would be NaN where the true lse is +inf (or -inf for an all -inf row).
    m[~np.isfinite(m)] = 0
    e = np.subtract(x, m[:, None])
    np.exp(e, out=e)
    lse = e.sum(axis=1)
    with np.errstate(divide="ignore"):  # log(0) = -inf for all -inf rows is the right answer
        np.log(lse, out=lse)
    lse += m
    loss = lse - x[np.arange(n), labels]
    return _reduce(loss, reduction), lse


def _forward_gpu(logits, labels, reduction, acc, n, c):
    import cupy

    lse = cupy.empty(n, acc)
    cupy_kernel(_LSE[_acc_name(acc)])(logits, axis=1, out=lse)
    loss = cupy.empty(n, acc)
    # The kernel marks a bad label in `bad`; reading it here would stall the host once per call,
    # so it is read at the next synchronization (see gradcore.kernels.errors).
    bad = errors.flag_for(logits, functools.partial(_label_error, n_class=c))
    cupy_kernel(_PICK)(logits, labels, lse, c, loss, bad)
    return _reduce(loss, reduction), lse


def _scale(gloss, reduction, n, xp, dtype):
    """(g, scale) with g * scale the factor of row i: gloss/N, gloss, or gloss[i]."""
    # astype, not asarray: asarray would hand gc.compile's tracer a plain view (a frozen gloss)
    g = gloss.astype(dtype, copy=False) if hasattr(gloss, "astype") else xp.asarray(gloss, dtype)
    if reduction == "none":
        if g.shape != (n,):
            raise ValueError(f"cross_entropy: gloss must have shape ({n},) for reduction='none'")
        return g[:, None], 1.0
    if g.ndim != 0:
        raise ValueError(f"cross_entropy: gloss must be 0-d for reduction={reduction!r}")
    return g, (1.0 / max(n, 1) if reduction == "mean" else 1.0)


def softmax_cross_entropy_backward(logits, labels, lse, gloss, reduction="mean"):
    """glogits = (softmax(logits) - onehot(labels)) * scale, one fused pass.

    scale = gloss / N ("mean"), gloss ("sum"), gloss[i] for row i ("none"); softmax comes from the
    saved lse. glogits has the logits dtype. The GPU path trusts the labels the forward checked
    (an out-of-range label just gets no -1); the CPU path checks them again.

    >>> x, t = np.zeros((1, 2)), np.array([1])
    >>> loss, lse = softmax_cross_entropy(x, t)
    >>> softmax_cross_entropy_backward(x, t, lse, np.array(1.0))
    array([[ 0.5, -0.5]])
    """
    dtype, n, c = _check(logits, labels, reduction)
    acc = acc_dtype(dtype)
    if not is_cpu(logits):
        import cupy

        g, scale = _scale(gloss, reduction, n, cupy, lse.dtype)
        return cupy_kernel(_GRAD)(logits, lse[:, None], labels[:, None], g, scale, c)
    _check_label_range(labels, c)  # cheap on the CPU; NumPy would wrap a label of -1 silently
    g, scale = _scale(gloss, reduction, n, np, acc)
    p = np.subtract(logits.astype(acc, copy=False), lse.astype(acc, copy=False)[:, None])
    np.exp(p, out=p)
    p[np.arange(n), labels] -= 1
    # g * scale rounded in acc first, as the kernel does: (A)g * (A)scale
    p *= g * acc.type(scale)
    return p if p.dtype == dtype else p.astype(dtype)
