"""Losses PyTorch users reach for beyond MSE and cross-entropy: nll_loss, l1_loss,
smooth_l1_loss, huber_loss, binary_cross_entropy (on probabilities) and kl_div, each with
``reduction='mean' | 'sum' | 'none'`` and a module form, written with differentiable ops."""
from __future__ import annotations

import numpy

from gradcore.nn.module import Module
from gradcore.ops.math import abs as _abs
from gradcore.ops.math import clip, exp, log, where
from gradcore.ops.indexing import getitem
from gradcore.ops.reduction import mean, sum as _sum
from gradcore.tensor import Tensor

__all__ = ["nll_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "kl_div", "NLLLoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss"]


def reduce_loss(loss, reduction, op):
    """``loss`` averaged, summed, or returned as is (``reduction`` = mean / sum / none)."""
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return _sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def check_same_shape(x, target, op):
    """Refuse a target of another shape (broadcasting it would silently change the loss)."""
    if tuple(x.shape) != tuple(getattr(target, "shape", ())):
        raise ValueError(f"{op}: input of shape {x.shape} and target of shape "
                         f"{getattr(target, 'shape', ())} must have the same shape")


def nll_loss(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer class ``target`` (N,) under log-probabilities ``x``
    (N, C), as ``torch.nn.functional.nll_loss``: ``-weight[t] * x[n, t]``. The mean divides by
    the summed weights of the targets that are not ``ignore_index``.

    >>> import gradcore as gc
    >>> logp = gc.tensor([[-0.5, -1.0], [-2.0, -0.1]])
    >>> round(gc.nn.functional.nll_loss(logp, gc.tensor([0, 1])).item(), 4)  # (0.5 + 0.1) / 2
    0.3
    """
    t = target if isinstance(target, Tensor) else Tensor(target)
    if x.ndim != 2 or t.shape != (x.shape[0],) or t.dtype.kind not in "iu":
        raise ValueError(f"nll_loss: expected input (N, C) and integer target (N,), got input "
                         f"{x.shape} and target {t.shape} of {t.dtype}")
    if t.device is not x.device:
        raise ValueError(f"nll_loss: input on {x.device} but target on {t.device}")
    n, c = x.shape
    xp = x.device.xp
    keep = t.array != ignore_index
    labels = xp.where(keep, t.array, 0)
    if n and (int(labels.min()) < 0 or int(labels.max()) >= c):
        raise IndexError(f"nll_loss: target values must be in [0, {c}) (or ignore_index="
                         f"{ignore_index}), got values from {int(t.array.min())} to "
                         f"{int(t.array.max())}")
    w = Tensor(keep.astype(x.dtype), device=x.device)
    if weight is not None:
        if tuple(weight.shape) != (c,):
            raise ValueError(f"nll_loss: weight has shape {weight.shape}, expected ({c},)")
        w = w * getitem(weight, Tensor(labels, device=x.device))
    picked = getitem(x, (Tensor(xp.arange(n), device=x.device), Tensor(labels, device=x.device)))
    loss = -(picked * w)
    if reduction == "mean":
        return _sum(loss) / _sum(w)  # an empty or fully ignored batch gives nan, as PyTorch
    return reduce_loss(loss, reduction, "nll_loss")


def l1_loss(x, target, reduction="mean"):
    """Absolute error ``|x - target|``.

    >>> import gradcore as gc
    >>> gc.nn.functional.l1_loss(gc.tensor([1.0, -3.0]), gc.zeros(2)).item()
    2.0
    """
    check_same_shape(x, target, "l1_loss")
    return reduce_loss(_abs(x - target), reduction, "l1_loss")


def smooth_l1_loss(x, target, reduction="mean", beta=1.0):
    """``0.5 d² / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = x - target), as
    PyTorch; ``beta=0`` is the L1 loss.

    >>> import gradcore as gc
    >>> gc.nn.functional.smooth_l1_loss(gc.tensor([0.5, 3.0]), gc.zeros(2), reduction="none").tolist()
    [0.125, 2.5]
    """
    check_same_shape(x, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    a = _abs(x - target)
    if beta == 0:
        return reduce_loss(a, reduction, "smooth_l1_loss")
    return reduce_loss(where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta), reduction, "smooth_l1_loss")


def huber_loss(x, target, reduction="mean", delta=1.0):
    """``0.5 d²`` where ``|d| <= delta``, else ``delta (|d| - 0.5 delta)``; this is
    ``delta * smooth_l1_loss(beta=delta)``, as PyTorch.

    >>> import gradcore as gc
    >>> gc.nn.functional.huber_loss(gc.tensor([0.5, 3.0]), gc.zeros(2), reduction="none", delta=2.0).tolist()
    [0.125, 4.0]
    """
    check_same_shape(x, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    a = _abs(x - target)
    return reduce_loss(where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta)), reduction, "huber_loss")


def binary_cross_entropy(x, target, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities ``x`` in [0, 1]:
    ``-(t log x + (1 - t) log(1 - x))``, each log clamped at -100 as PyTorch (so x = 0 or 1
    gives a finite loss). Prefer :func:`binary_cross_entropy_with_logits` on logits.

    >>> import gradcore as gc
    >>> F = gc.nn.functional
    >>> round(F.binary_cross_entropy(gc.tensor([0.5, 0.5]), gc.tensor([0.0, 1.0])).item(), 4)
    0.6931
    >>> F.binary_cross_entropy(gc.tensor([0.0]), gc.tensor([1.0])).item()  # clamped log
    100.0
    """
    check_same_shape(x, target, "binary_cross_entropy")
    lo, hi = float(x.array.min()) if x.size else 0.0, float(x.array.max()) if x.size else 0.0
    if lo < 0 or hi > 1 or lo != lo or hi != hi:
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got "
                         f"values from {lo} to {hi} (use binary_cross_entropy_with_logits for "
                         f"logits)")
    # NOTE: clip after log, as PyTorch: log(0) = -inf becomes -100; its gradient there is 0.
    # (PyTorch's own backward divides by max(x (1 - x), 1e-12) instead: finite, and huge.)
    with numpy.errstate(divide="ignore"):  # log(0) is expected here, not worth a warning
        loss = -(target * clip(log(x), -100, None) + (1 - target) * clip(log(1 - x), -100, None))
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction, "binary_cross_entropy")


def kl_div(x, target, reduction="mean", log_target=False):
    """KL divergence ``target * (log target - x)`` with ``x`` log-probabilities and ``target``
    probabilities (or log-probabilities with ``log_target=True``), as PyTorch; a zero target
    contributes 0. ``reduction='batchmean'`` divides the sum by the batch size (the true KL
    divergence per sample); ``'mean'`` divides by the number of elements, as PyTorch does.

    >>> import gradcore as gc
    >>> logq = gc.tensor([[0.5, 0.5]]).log()
    >>> round(gc.nn.functional.kl_div(logq, gc.tensor([[1.0, 0.0]]), reduction="batchmean").item(), 4)
    0.6931
    """
    check_same_shape(x, target, "kl_div")
    if log_target:
        loss = exp(target) * (target - x)
    else:
        # t log t with 0 log 0 = 0: log of 1 where t = 0 keeps the gradient finite too
        loss = target * (log(where(target > 0, target, 1.0)) - x)
    if reduction == "batchmean":
        return _sum(loss) / (x.shape[0] if x.ndim else 1)
    return reduce_loss(loss, reduction, "kl_div")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none") + (("batchmean",) if type(self) is KLDivLoss else ()):
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss`.

    >>> import gradcore as gc
    >>> gc.nn.NLLLoss()(gc.tensor([[-1.0, -2.0]]), gc.tensor([1])).item()
    2.0
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, x, target):
        return nll_loss(x, target, self.weight, self.ignore_index, self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss`.

    >>> import gradcore as gc
    >>> gc.nn.L1Loss(reduction="sum")(gc.tensor([1.0, -3.0]), gc.zeros(2)).item()
    4.0
    """

    def forward(self, x, target):
        return l1_loss(x, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss`.

    >>> import gradcore as gc
    >>> gc.nn.SmoothL1Loss(beta=0.5)(gc.tensor([2.0]), gc.zeros(1)).item()
    1.75
    """

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, x, target):
        return smooth_l1_loss(x, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss`.

    >>> import gradcore as gc
    >>> gc.nn.HuberLoss(delta=0.5)(gc.tensor([2.0]), gc.zeros(1)).item()
    0.875
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, x, target):
        return huber_loss(x, target, self.reduction, self.delta)


class BCELoss(_Loss):
    """Module form of :func:`binary_cross_entropy`.

    >>> import gradcore as gc
    >>> round(gc.nn.BCELoss()(gc.tensor([0.5]), gc.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, x, target):
        return binary_cross_entropy(x, target, self.weight, self.reduction)


class KLDivLoss(_Loss):
    """Module form of :func:`kl_div`.

    >>> import gradcore as gc
    >>> gc.nn.KLDivLoss(reduction="batchmean")(gc.zeros((1, 2)), gc.tensor([[1.0, 0.0]])).item()
    0.0
    """

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, x, target):
        return kl_div(x, target, self.reduction, self.log_target)
