"""Fused ops of the training hot path: Linear + bias + activation, and softmax cross-entropy.

Each runs its elementwise work as one kernel pass (``gradcore/kernels``; the NumPy twin on the
CPU) after a single GEMM, and each fused backward is itself a differentiable op, so gradients
of gradients keep working.
"""
from __future__ import annotations

from gradcore import tracing
from gradcore.autograd.function import Function
from gradcore.autograd.mode import STATE
from gradcore.backend import array_module
from gradcore.kernels import activation as KA
from gradcore.kernels import errors as kernel_errors
from gradcore.kernels import gemm
from gradcore.kernels import loss as KL
from gradcore.ops.activation import act_grad, activation_backward_jvp, activation_backward_vjp
from gradcore.ops.linalg import matmul
from gradcore.ops.math import exp
from gradcore.ops.reduction import sum as _sum
from gradcore.ops.shape import broadcast_to, reshape, swapaxes
from gradcore.ops.softmax import log_softmax
from gradcore.tensor import Tensor

__all__ = ["linear_act", "cross_entropy", "ACTIVATIONS"]

ACTIVATIONS = KA.ACTIVATIONS  # the kernel layer's table decides what can be fused


class LinearAct(Function):
    """``act(x @ w.T + b)``: one GEMM, then bias and activation in one in-place pass.

    What the activation's backward reads (``TABLE[act].saves``) is kept: the output y, or, for
    gelu, gelu_tanh and silu, the pre-activation z + b, which the same pass writes over the
    GEMM's output (kept as ``self.pre``; ``saves_output`` is then off and b is saved too).
    """

    saves = (0, 1)
    saves_output = True

    def __init__(self, act, slope):
        self.act, self.slope = act, slope
        self.keeps_input = KA.activation(act).saves == "input"
        if self.keeps_input:
            self.saves, self.saves_output = (0, 1, 2), False
            self.pre = None

    def forward(self, x, w, b):
        if x.shape[-1] != w.shape[1] or w.ndim != 2 or b.shape != (w.shape[0],):
            raise ValueError(f"linear: input {x.shape}, weight {w.shape} and bias {b.shape} do "
                             f"not fit (expected weight (out, {x.shape[-1]}) and bias (out,))")
        if not x.dtype == w.dtype == b.dtype:  # as PyTorch: no silent promotion in a layer
            raise TypeError(f"linear: input dtype {x.dtype} (shape {x.shape}) does not match the "
                            f"weight's {w.dtype} and bias's {b.dtype}; cast one with .to(dtype)")
        z = gemm.matmul(x, w.T)
        if self.keeps_input:  # z becomes z + b, y is new
            self.pre = z
            return KA.bias_act(z, b, self.act, self.slope, pre=z)
        return KA.bias_act(z, b, self.act, self.slope, out=z)  # z is ours: overwrite it

    def release(self):
        super().release()
        if self.keeps_input:
            self.pre = None

    def _activation_input(self, saved):
        """What the activation's backward reads, as a Tensor: the output, or the kept z + b.

        While a backward is itself recorded (create_graph) or pushes tangents (forward over
        reverse), z + b is recomputed from the saved x, w, b with the differentiable op (one
        more GEMM), so second derivatives flow through it; a first-order backward reads the
        kept array.
        """
        if not self.keeps_input:
            return self.saved_output()
        if STATE.grad_enabled or STATE.forward_ad:
            return linear_act(*saved)
        return Tensor._make(self.pre, saved[0].device, False, None, 0)

    def backward(self, gy):
        saved = self.saved_tensors()
        x, w = saved[:2]
        gz, gb = BiasActBackward(self.act, self.slope)(self._activation_input(saved), gy)
        gx = matmul(gz, w) if self.edges[0] is not None else None
        gw = None
        if self.edges[1] is not None:
            gz2 = reshape(gz, (-1, gz.shape[-1])) if gz.ndim != 2 else gz
            x2 = reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
            gw = _weight_grad(self.edges[1], gz2, x2)
        return gx, gw, gb

    def jvp(self, xs, y, txs):
        (x, w, b), (tx, tw, tb) = xs, txs
        xp = array_module(y)
        tz = xp.zeros_like(y)
        if tx is not None:
            tz += gemm.matmul(tx, w.T)
        if tw is not None:
            tz += gemm.matmul(x, tw.T)
        if tb is not None:
            tz += tb
        return act_grad(self.act, self.pre if self.keeps_input else y, tz, self.slope)


def _weight_grad(edge, gz, x):
    """gz.T @ x. In a first-order backward into a leaf that offers a gradient buffer (a packed
    Parameter), the GEMM writes there directly: no temporary, no copy into the flat buffer."""
    if STATE.into_leaves and not STATE.grad_enabled and type(edge) is not tuple:
        buf = edge._grad_buffer()
        if buf is not None and buf.dtype == gz.dtype:
            gemm.matmul(gz.array.T, x.array, out=buf)
            return Tensor._make(buf, gz.device, False, None, 0)
    return matmul(swapaxes(gz, 0, 1), x)


class BiasActBackward(Function):
    """``(gz, gb)`` from what the activation saved, s, and gy: gz = gy * act'(s), gb = gz
    summed over rows. s is the output y, or the pre-activation z + b (gelu, gelu_tanh, silu).

    Linear in gy, so its own backward reuses the activation-backward op; through s it has the
    curvature term (see :class:`gradcore.ops.activation.ActivationBackward`).
    """

    saves = (0, 1)

    def __init__(self, act, slope):
        self.act, self.slope = act, slope
        self.n_outputs = 2

    def forward(self, s, gy):
        return KA.bias_act_backward(s, gy, self.act, self.slope)

    def backward(self, ggz, ggb):
        s, gy = self.saved_tensors()
        h = ggz  # gb is the row sum of gz, so its gradient joins gz's
        if ggb is not None:
            h = broadcast_to(ggb, gy.shape) if h is None else h + ggb
        if self.act == "identity":
            return None, h
        return activation_backward_vjp(self, s, gy, h)

    def jvp(self, xs, y, txs):
        tz = activation_backward_jvp(self.act, self.slope, *xs, *txs)
        if tz is None:
            tz = array_module(xs[1]).zeros_like(xs[1])
        return tz, tz.reshape(-1, tz.shape[-1]).sum(axis=0)


def linear_act(x, weight, bias, activation="identity", negative_slope=0.01):
    """``activation(x @ weight.T + bias)`` as one fused op (the forward of Linear + activation).

    >>> import gradcore as gc
    >>> x, w, b = gc.ones((2, 3)), gc.ones((4, 3)), gc.zeros(4)
    >>> gc.ops.fused.linear_act(x, w, b, "relu").shape
    (2, 4)
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"linear_act: unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    if activation == "leaky_relu" and negative_slope <= 0:
        raise ValueError("linear_act: the fused leaky_relu needs negative_slope > 0 (it recovers "
                         "the sign of the pre-activation from the output)")
    return LinearAct(activation, negative_slope)(x, weight, bias)


class CrossEntropy(Function):
    """Softmax cross-entropy of (N, C) logits and integer labels, stable via row logsumexp."""

    saves = (0,)

    def __init__(self, labels, reduction):
        self.labels, self.reduction = labels, reduction

    def forward(self, logits):
        loss, self.lse = KL.softmax_cross_entropy(logits, self.labels, self.reduction)
        if STATE.anomaly:  # debugging: raise a bad GPU label here, not at the next host read
            kernel_errors.check()
        return loss

    def backward(self, gloss):
        logits, = self.saved_tensors()
        return CrossEntropyBackward(self.labels, self.lse, self.reduction)(logits, gloss)

    def jvp(self, xs, y, txs):
        xp = array_module(y)
        glogits = KL.softmax_cross_entropy_backward(xs[0], self.labels, self.lse,
                                                    xp.ones_like(y), self.reduction)
        per_row = (glogits * txs[0]).sum(axis=-1)
        return per_row if self.reduction == "none" else per_row.sum().astype(y.dtype)


class CrossEntropyBackward(Function):
    """glogits = (softmax(logits) - onehot(labels)) * scale(gloss), in one kernel."""

    saves = (0, 1)

    def __init__(self, labels, lse, reduction):
        self.labels, self.lse, self.reduction = labels, lse, reduction

    def forward(self, logits, gloss):
        return KL.softmax_cross_entropy_backward(logits, self.labels, self.lse, gloss, self.reduction)

    def backward(self, gg):
        # Rarely needed (second order): written with differentiable ops, not fused.
        logits, gloss = self.saved_tensors()
        n = logits.shape[0]
        p = exp(log_softmax(logits, axis=-1))
        scale = gloss / n if self.reduction == "mean" else gloss
        scale_col = reshape(scale, (-1, 1)) if self.reduction == "none" else scale
        g_logits = p * (gg - _sum(gg * p, -1, keepdims=True)) * scale_col
        onehot = _onehot(self.labels, logits)
        per_row = _sum((p - onehot) * gg, -1)
        g_gloss = per_row if self.reduction == "none" else _sum(per_row) / (n if self.reduction == "mean" else 1)
        return g_logits, g_gloss


def _onehot(labels, like):
    xp = array_module(like.array)
    out = tracing.created(xp.zeros(like.shape, like.dtype))  # gc.compile: labels change
    out[xp.arange(like.shape[0]), labels] = 1
    return out


def cross_entropy(logits, labels, reduction="mean"):
    """Softmax cross-entropy of ``logits`` (N, C) against integer ``labels`` (N,).

    ``reduction`` is "mean" (default), "sum" or "none". Stable for logits of any size; labels
    out of range raise ``ValueError``. An empty batch (N = 0) is not an error: "mean" gives nan
    (0 / 0, as PyTorch and ``gc.mean`` of nothing), "sum" 0 and "none" an empty (0,) tensor; the
    gradient is then an empty (0, C) array.

    >>> import gradcore as gc
    >>> round(gc.ops.fused.cross_entropy(gc.zeros((2, 4)), gc.tensor([0, 3])).item(), 4)
    1.3863
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    labels = getattr(labels, "array", labels)
    if logits.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating, got dtype {logits.dtype} "
                        f"(shape {logits.shape})")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    if not hasattr(labels, "dtype"):
        labels = logits.device.xp.asarray(labels)
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: labels of shape {labels.shape} do not match logits of "
                         f"shape {logits.shape} (expected ({logits.shape[0]},))")
    return CrossEntropy(labels, reduction)(logits)
