"""``gc.nn.utils``: gradient clipping and parameters as one vector (PyTorch's ``nn.utils``).

Parameters packed into a flat buffer (what an optimizer does, see :mod:`gradcore.nn.flat`) are
clipped a whole run of the buffer at a time: one reduction and one scale per run, not per tensor.
"""
from __future__ import annotations

import math

import numpy

from gradcore import tracing
from gradcore.autograd.mode import no_grad
from gradcore.ops.join import concatenate
from gradcore.ops.shape import reshape
from gradcore.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters, op):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: item {i} is a {type(p).__name__}, not a Tensor")
    return params


def _grad_segments(params):
    """The gradient arrays of ``params`` (those with a gradient), each once: for packed
    parameters whose views are intact, runs of the flat gradient buffer; else ``p.grad.array``.
    Also the gradient tensors, whose versions change when the segments are written."""
    segments, grads, packs = [], [], {}
    for p in params:
        if p.grad is None:
            continue
        grads.append(p.grad)
        pack = getattr(p, "_pack", None)
        if pack is not None and pack.intact():
            packs.setdefault(id(pack), (pack, set()))[1].add(id(p))
        else:
            segments.append(p.grad.array)
    for pack, wanted in packs.values():
        keys = [1 if id(p) in wanted else None for p in pack.params]
        segments += [pack.grad[start:stop] for start, stop, _ in pack.runs(keys)]
    return segments, grads


def _widened(a):
    return a.astype(numpy.float32) if a.dtype.itemsize < 4 else a


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients of ``parameters`` in place so that their joint ``norm_type`` norm
    is at most ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``: every gradient is multiplied
    by ``min(1, max_norm / (total_norm + 1e-6))``. Parameters without a gradient are skipped.
    Returns the total norm before clipping, as a 0-d tensor (0.0 when no parameter has one).

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.zeros(2)); p.grad = gc.tensor([3.0, 4.0])
    >>> gc.nn.utils.clip_grad_norm_([p], max_norm=1.0).item(), [round(g, 4) for g in p.grad.tolist()]
    (5.0, [0.6, 0.8])
    """
    params = _as_list(parameters, "clip_grad_norm_")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (or inf), got {norm_type}")
    tracing.note_grads(params)
    if all(p.grad is None for p in params):
        return Tensor(0.0)
    device = next(p.grad.device for p in params if p.grad is not None)
    # a host call: under gc.compile the norm is measured and applied again at every replay
    total = tracing.host_call(_clip_norm, params, max_norm, norm_type, error_if_nonfinite)
    return Tensor(total, device=device)


def _clip_norm(params, max_norm, norm_type, error_if_nonfinite):
    """The body of :func:`clip_grad_norm_` on the host: the total norm as a 0-d array."""
    segments, grads = _grad_segments(params)
    dtype = grads[0].dtype
    # NOTE: one host read per segment; partial results combine on the host in float64.
    # float16 is widened first: its squares overflow past |g| = 256 (an inf norm would zero
    # every gradient); the sums accumulate in float64.
    if norm_type == math.inf:
        total = max((float(abs(s).max()) for s in segments if s.size), default=0.0)
    else:
        total = sum(float((abs(_widened(s)) ** norm_type).sum(dtype=numpy.float64))
                    for s in segments) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}; set error_if_nonfinite=False to clip anyway")
    coef = min(1.0, max_norm / (total + 1e-6))
    if coef < 1.0:
        with no_grad():
            for s in segments:
                s *= s.dtype.type(coef)
            for g in grads:
                g._version += 1
    return numpy.asarray(total, dtype=dtype)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient of ``parameters`` to ``[-clip_value, clip_value]`` in place.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.zeros(3)); p.grad = gc.tensor([-5.0, 0.5, 2.0])
    >>> gc.nn.utils.clip_grad_value_([p], 1.0); p.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    params = _as_list(parameters, "clip_grad_value_")
    v = float(clip_value)
    if not v >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    tracing.note_grads(params)
    tracing.host_call(_clip_value, params, v)  # under gc.compile: again at every replay


def _clip_value(params, v):
    segments, grads = _grad_segments(params)
    for s in segments:
        s.clip(-v, v, out=s)
    for g in grads:
        g._version += 1


def parameters_to_vector(parameters):
    """The parameters flattened and joined into one 1-d tensor (a differentiable copy).

    >>> import gradcore as gc
    >>> net = gc.nn.Linear(3, 2)
    >>> gc.nn.utils.parameters_to_vector(net.parameters()).shape
    (8,)
    """
    params = _as_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: no parameters")
    return concatenate([reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d ``vec`` into ``parameters``, in place. Unlike
    PyTorch, which makes each parameter a view of ``vec``, the values are copied, so parameters
    packed in a flat buffer stay views of it.

    >>> import gradcore as gc
    >>> net = gc.nn.Linear(1, 1)
    >>> gc.nn.utils.vector_to_parameters(gc.tensor([2.0, 3.0]), net.parameters())
    >>> net.weight.tolist(), net.bias.tolist()
    ([[2.0]], [3.0])
    """
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-d Tensor, got "
                        f"{getattr(vec, 'shape', type(vec).__name__)}")
    params = _as_list(parameters, "vector_to_parameters")
    n = sum(p.size for p in params)
    if vec.size != n:
        raise ValueError(f"vector_to_parameters: the vector has {vec.size} elements but the "
                         f"parameters have {n}")
    offset = 0
    with no_grad():
        for p in params:
            if vec.device is not p.device:
                raise ValueError(f"vector_to_parameters: vector on {vec.device}, parameter on {p.device}")
            p.copy_(reshape(vec[offset:offset + p.size], p.shape))
            offset += p.size
