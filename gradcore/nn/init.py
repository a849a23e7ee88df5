"""Weight initializers (in place, like ``torch.nn.init``), drawn from gradcore's seeded generator.

Why they matter: with n inputs of unit variance, a weight variance of 1/n keeps activations at
unit variance through a linear layer (Xavier/Glorot uses 2/(fan_in + fan_out) to balance the
backward pass too); ReLU zeroes half of its inputs, so He/Kaiming doubles it to 2/fan_in.
Too small and signals (and gradients) vanish layer by layer; too large and they explode.
"""
from __future__ import annotations

import math

import numpy

from gradcore import backend, rng

__all__ = ["calculate_gain", "normal_", "uniform_", "zeros_", "ones_", "constant_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activation variance stable through ``nonlinearity`` (PyTorch's values).

    >>> import gradcore as gc
    >>> round(gc.nn.init.calculate_gain("relu"), 4)
    1.4142
    """
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fans(t):
    if t.ndim < 2:
        raise ValueError(f"init: fan in/out need a tensor of at least 2 dimensions, got shape {t.shape}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t, host_values):
    t.array[...] = backend.to_device(host_values.astype(t.dtype), t.device)
    t._version += 1
    return t


def normal_(t, mean=0.0, std=1.0):
    """Fill with N(mean, std²) samples.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.normal_(gc.empty(1000), std=0.1)
    >>> round(float(w.numpy().std()), 2)
    0.1
    """
    return _fill(t, rng.random_state().normal(mean, std, t.shape))


def uniform_(t, a=0.0, b=1.0):
    """Fill with U(a, b) samples.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.uniform_(gc.empty(1000), -1.0, 1.0)
    >>> -1 <= w.min().item() < w.max().item() < 1
    True
    """
    return _fill(t, rng.random_state().uniform(a, b, t.shape))


def constant_(t, value):
    """Fill with ``value``.

    >>> import gradcore as gc
    >>> gc.nn.init.constant_(gc.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    t.array.fill(value)
    t._version += 1
    return t


def zeros_(t):
    """Fill with zeros.

    >>> import gradcore as gc
    >>> gc.nn.init.zeros_(gc.ones(2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    return constant_(t, 0)


def ones_(t):
    """Fill with ones.

    >>> import gradcore as gc
    >>> gc.nn.init.ones_(gc.empty(3)).tolist()
    [1.0, 1.0, 1.0]
    """
    return constant_(t, 1)


def xavier_uniform_(t, gain=1.0):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); for tanh/sigmoid.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.xavier_uniform_(gc.empty(20, 30))  # a = sqrt(6 / 50)
    >>> w.abs().max().item() <= (6 / 50) ** 0.5
    True
    """
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t, gain=1.0):
    """Glorot normal: N(0, gain² * 2 / (fan_in + fan_out)).

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.xavier_normal_(gc.empty(200, 300))  # std sqrt(2 / 500)
    >>> round(float(w.numpy().std()), 3)
    0.063
    """
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(t, a, mode, nonlinearity):
    fan_in, fan_out = _fans(t)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="relu"):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); for ReLU-family networks.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.kaiming_uniform_(gc.empty(20, 24))  # b = sqrt(6 / 24)
    >>> w.abs().max().item() <= 0.5
    True
    """
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="relu"):
    """He normal: N(0, gain² / fan); for ReLU-family networks.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.kaiming_normal_(gc.empty(300, 200))  # std sqrt(2 / 200)
    >>> round(float(w.numpy().std()), 2)
    0.1
    """
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))


def orthogonal_(t, gain=1.0):
    """A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_`` (Saxe et
    al. 2013): the tensor is seen as (shape[0], rest) and gets orthonormal rows or columns,
    whichever are fewer, from the QR factorization of a Gaussian matrix (signs fixed by R's
    diagonal, so the distribution is uniform over orthogonal matrices). Drawn on the host.

    >>> import gradcore as gc, numpy as np
    >>> gc.manual_seed(0)
    >>> w = gc.nn.init.orthogonal_(gc.empty(3, 5)).numpy()
    >>> bool(np.allclose(w @ w.T, np.eye(3), atol=1e-6))
    True
    """
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor of at least 2 dimensions, got shape {t.shape}")
    rows = t.shape[0]
    cols = t.size // rows if rows else 0
    if t.size == 0:
        return t
    flat = rng.random_state().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = numpy.linalg.qr(flat)
    q *= numpy.sign(numpy.diag(r))  # QR is unique only up to these signs
    if rows < cols:
        q = q.T
    return _fill(t, (gain * q).reshape(t.shape))
