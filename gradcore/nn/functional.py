"""Stateless layer functions and losses (``gc.nn.functional``, conventionally imported as F)."""
from __future__ import annotations

import functools

from gradcore.nn.activation import gelu, silu, softplus
from gradcore.nn.basic import dropout, embedding
from gradcore.nn.losses import (binary_cross_entropy, check_same_shape, huber_loss, kl_div,
                                l1_loss, nll_loss, reduce_loss, smooth_l1_loss)
from gradcore.nn.normalization import batch_norm, layer_norm
from gradcore.ops.activation import leaky_relu, relu, sigmoid, tanh
from gradcore.ops.activation import softplus as _softplus
from gradcore.ops.fused import ACTIVATIONS, cross_entropy, linear_act
from gradcore.ops.linalg import linear as _linear
from gradcore.ops.reduction import sum as _sum
from gradcore.ops.softmax import log_softmax, softmax

__all__ = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "gelu", "silu",
           "softmax", "log_softmax", "dropout", "embedding", "layer_norm", "batch_norm",
           "mse_loss", "cross_entropy", "binary_cross_entropy_with_logits", "nll_loss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "kl_div", "l2_penalty",
           "ACTIVATIONS"]

_APPLY = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "gelu": gelu, "silu": silu,
          "gelu_tanh": functools.partial(gelu, approximate="tanh")}


def linear(x, weight, bias=None, activation=None, negative_slope=0.01):
    """``activation(x @ weight.T + bias)``; with a bias this is one fused op (GEMM, then bias
    and activation in a single pass; on a GPU a CUDA kernel). ``activation`` is one of
    ``ACTIVATIONS``: identity, relu, leaky_relu, sigmoid, tanh, gelu, gelu_tanh (GELU with
    ``approximate='tanh'``) or silu.

    >>> import gradcore as gc
    >>> F = gc.nn.functional
    >>> F.linear(gc.ones((2, 3)), gc.ones((4, 3)), gc.zeros(4), activation="relu").shape
    (2, 4)
    """
    if x.ndim == 0 or weight.ndim != 2 or (bias is not None and bias.ndim != 1):
        raise ValueError(f"linear: expected input (..., in_features), weight (out_features, "
                         f"in_features) and bias (out_features,), got input {x.shape}, weight "
                         f"{weight.shape}" + ("" if bias is None else f" and bias {bias.shape}"))
    act = activation or "identity"
    if bias is not None and (act != "leaky_relu" or negative_slope > 0):
        return linear_act(x, weight, bias, act, negative_slope)
    if act not in ACTIVATIONS:  # (linear_act checks the fused path itself)
        raise ValueError(f"linear: unknown activation {activation!r}; expected one of "
                         f"{ACTIVATIONS}")
    y = _linear(x, weight, bias)
    if act == "identity":
        return y
    return leaky_relu(y, negative_slope) if act == "leaky_relu" else _APPLY[act](y)


def mse_loss(x, target, reduction="mean"):
    """Squared error (x - target)², averaged (or summed) over all elements.

    >>> import gradcore as gc
    >>> gc.nn.functional.mse_loss(gc.tensor([1.0, 3.0]), gc.tensor([0.0, 0.0])).item()
    5.0
    """
    check_same_shape(x, target, "mse_loss")
    d = x - target
    return reduce_loss(d * d, reduction, "mse_loss")


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid + binary cross-entropy in the stable form softplus(x) - x * t (never log(0)).

    >>> import gradcore as gc
    >>> logits, target = gc.tensor([1000.0, -1000.0]), gc.tensor([1.0, 0.0])
    >>> gc.nn.functional.binary_cross_entropy_with_logits(logits, target).item()  # no overflow
    0.0
    """
    check_same_shape(logits, target, "binary_cross_entropy_with_logits")
    return reduce_loss(_softplus(logits) - logits * target, reduction, "binary_cross_entropy_with_logits")


def l2_penalty(parameters, weight_decay):
    """``weight_decay / 2 * sum(||p||²)``: L2 regularization as an explicit loss term (its
    gradient ``weight_decay * p`` is what optimizers' ``weight_decay`` adds directly).

    >>> import gradcore as gc
    >>> params = [gc.tensor([1.0, 2.0]), gc.tensor([2.0])]
    >>> round(gc.nn.functional.l2_penalty(params, weight_decay=0.1).item(), 6)  # 0.05 * 9
    0.45
    """
    total = None
    for p in parameters:
        term = _sum(p * p)
        total = term if total is None else total + term
    return total * (weight_decay / 2)
