"""Normalization layers: LayerNorm and BatchNorm1d (with functional forms ``layer_norm`` and
``batch_norm``), written with differentiable ops, so second derivatives come for free."""
from __future__ import annotations

from gradcore import checks
from gradcore.autograd.mode import no_grad
from gradcore.creation import ones, zeros
from gradcore.nn.module import Module
from gradcore.nn.parameter import Parameter
from gradcore.ops.math import sqrt
from gradcore.ops.reduction import mean

__all__ = ["layer_norm", "batch_norm", "LayerNorm", "BatchNorm1d"]


def _normalize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes``, with the biased variance; also the stats."""
    mu = mean(x, axes, keepdims=True)
    d = x - mu
    var = mean(d * d, axes, keepdims=True)
    return d / sqrt(var + eps), mu, var


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes over the trailing dims ``normalized_shape`` of ``x`` (biased variance, as
    ``torch.nn.functional.layer_norm``), then ``* weight + bias`` when given.

    >>> import gradcore as gc
    >>> y = gc.nn.functional.layer_norm(gc.tensor([[1.0, 2.0, 3.0]]), (3,))
    >>> [round(v, 4) for v in y.tolist()[0]]
    [-1.2247, 0.0, 1.2247]
    """
    shape = checks.int_tuple(normalized_shape, "layer_norm", "normalized_shape")
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the trailing dims of "
                         f"the input, got input of shape {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} has shape {t.shape}, expected {shape}")
    y, _, _ = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        y = y * weight
    return y + bias if bias is not None else y


class LayerNorm(Module):
    """Module form of :func:`layer_norm`; ``weight`` starts at 1 and ``bias`` at 0.

    >>> import gradcore as gc
    >>> ln = gc.nn.LayerNorm(4)
    >>> ln(gc.randn(2, 4)).shape, [n for n, _ in ln.named_parameters()]
    ((2, 4), ['weight', 'bias'])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=None, device=None):
        super().__init__()
        self.normalized_shape = checks.int_tuple(normalized_shape, "LayerNorm", "normalized_shape")
        self.eps = eps
        self.weight = Parameter(ones(self.normalized_shape, dtype=dtype, device=device)) \
            if elementwise_affine else None
        self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype, device=device)) \
            if elementwise_affine and bias else None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization of ``x`` (N, C) or (N, C, L) per channel C, as
    ``torch.nn.functional.batch_norm``.

    ``training=True``: normalize with the batch's mean and biased variance, and (when the
    running tensors are given) update them in place: ``running = (1 - momentum) * running +
    momentum * batch_stat``, with the *unbiased* variance, as PyTorch. ``training=False``:
    normalize with ``running_mean``/``running_var``.

    >>> import gradcore as gc
    >>> rm, rv = gc.zeros(1), gc.ones(1)
    >>> y = gc.nn.functional.batch_norm(gc.tensor([[1.0], [3.0]]), rm, rv, training=True)
    >>> [round(v[0], 4) for v in y.tolist()], round(rm.item(), 4), round(rv.item(), 4)  # unbiased var 2
    ([-1.0, 1.0], 0.2, 1.1)
    """
    if x.ndim not in (2, 3):
        raise ValueError(f"batch_norm: expected input (N, C) or (N, C, L), got shape {x.shape}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {t.shape}, expected ({c},) for "
                             f"input of shape {x.shape}")
    axes = (0,) if x.ndim == 2 else (0, 2)
    shape = (1, c) if x.ndim == 2 else (1, c, 1)  # the per-channel vectors broadcast like this
    if training:
        n = x.size // c
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        y, mu, var = _normalize(x, axes, eps)
        if running_mean is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mu.reshape(c).detach(), alpha=momentum)
        if running_var is not None:
            with no_grad():
                unbiased = var.reshape(c).detach() * (n / (n - 1))
                running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        y = (x - running_mean.reshape(shape)) / sqrt(running_var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y + bias.reshape(shape) if bias is not None else y


class BatchNorm1d(Module):
    """Batch normalization over (N, C) or (N, C, L) inputs, as ``torch.nn.BatchNorm1d``:
    batch statistics in training mode, running statistics after ``eval()``. The running mean
    and variance and ``num_batches_tracked`` are buffers (in ``state_dict``, not trained).
    ``momentum=None`` makes the running statistics a plain average over all batches seen.

    >>> import gradcore as gc
    >>> bn = gc.nn.BatchNorm1d(3)
    >>> _ = bn(gc.randn(8, 3))
    >>> bn.num_batches_tracked.item(), bn.eval()(gc.randn(2, 3)).shape
    (1, (2, 3))
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, device=None):
        super().__init__()
        self.num_features = checks.integer(num_features, "BatchNorm1d", "num_features")
        if self.num_features <= 0:
            raise ValueError(f"BatchNorm1d: num_features must be positive, got {num_features}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got {momentum}")
        self.eps, self.momentum, self.affine = eps, momentum, affine
        self.track_running_stats = track_running_stats
        n = self.num_features
        self.weight = Parameter(ones(n, dtype=dtype, device=device)) if affine else None
        self.bias = Parameter(zeros(n, dtype=dtype, device=device)) if affine else None
        tracked = track_running_stats
        self.register_buffer("running_mean", zeros(n, dtype=dtype, device=device) if tracked else None)
        self.register_buffer("running_var", ones(n, dtype=dtype, device=device) if tracked else None)
        self.register_buffer("num_batches_tracked",
                             zeros((), dtype="int64", device=device) if tracked else None)

    def forward(self, x):
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got shape {x.shape}")
        use_batch = self.training or self.running_mean is None
        momentum = self.momentum
        if self.training and self.running_mean is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative average: batch k gets weight 1/k
                momentum = 1.0 / int(self.num_batches_tracked.item())
        update = self.training and self.running_mean is not None
        return batch_norm(x, self.running_mean if update or not use_batch else None,
                          self.running_var if update or not use_batch else None,
                          self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


