"""PyTorch's ``torch.autograd.grad`` and ``torch.autograd.backward`` over gradcore's engine.

``gc.grad`` at the top level is the JAX-style transform (``gc.grad(f)(x)``); these two take
tensors already computed, as PyTorch's do. Both are thin: they check the arguments, make the
root gradients, and call :func:`gradcore.autograd.engine.run_backward`.
"""
from __future__ import annotations

from gradcore.autograd.engine import run_backward
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["backward", "grad", "root_gradient"]


def _tensors(value, what, op):
    items = (value,) if isinstance(value, Tensor) else tuple(value)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def root_gradient(t, gradient, op):
    """The gradient a backward pass starts from at ``t``: ``gradient`` checked against ``t``,
    or ones when ``t`` has one element."""
    if gradient is None:
        if t.array.size != 1:
            raise RuntimeError(f"{op}: gradient can be omitted only for a one-element output; "
                               f"got shape {t.shape}. Pass the output's gradient explicitly")
        return Tensor._make(t.device.xp.ones_like(t.array), t.device, False, None, 0)
    gradient = as_tensor(gradient, dtype=t.dtype, device=t.device)
    if gradient.shape != t.shape:
        raise ValueError(f"{op}: gradient has shape {gradient.shape} but the output has shape "
                         f"{t.shape}")
    return gradient


def _roots(outputs, grad_outputs, op):
    outputs = _tensors(outputs, "outputs", op)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{op}: {len(outputs)} outputs but {len(grad_outputs)} gradients")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: outputs[{i}] (shape {t.shape}) does not require grad")
    return outputs, [root_gradient(t, g, op) for t, g in zip(outputs, grad_outputs)]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple, leaving every
    ``.grad`` alone (``torch.autograd.grad``).

    ``retain_graph`` defaults to ``create_graph``. An input the outputs do not depend on raises,
    unless ``allow_unused`` (its gradient is then None, or zeros with ``materialize_grads``).

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x ** 3).sum()
    >>> (gx,) = gc.autograd.grad(y, x, create_graph=True)
    >>> gx.tolist()
    [3.0, 12.0]
    >>> gc.autograd.grad(gx.sum(), x)[0].tolist()  # second order
    [6.0, 12.0]
    """
    op = "autograd.grad"
    inputs = _tensors(inputs, "inputs", op)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: inputs[{i}] (shape {t.shape}) does not require grad")
    outputs, roots = _roots(outputs, grad_outputs, op)
    retain = create_graph if retain_graph is None else retain_graph
    grads = run_backward(list(outputs), roots, retain, create_graph, inputs=list(inputs))
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"{op}: inputs[{i}] (shape {t.shape}) was not used to compute "
                                   "the outputs; pass allow_unused=True if that is expected")
            if materialize_grads:
                grads[i] = Tensor._make(t.device.xp.zeros_like(t.array), t.device, False, None, 0)
    return tuple(grads)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad``
    (``torch.autograd.backward``); with ``inputs``, only into those tensors' ``.grad``.

    >>> import gradcore as gc
    >>> a = gc.tensor(2.0, requires_grad=True)
    >>> gc.autograd.backward([a * a, 3 * a]); a.grad.item()
    7.0
    """
    op = "autograd.backward"
    outputs, roots = _roots(tensors, grad_tensors, op)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(list(outputs), roots, retain, create_graph)
        return
    inputs = _tensors(inputs, "inputs", op)
    grads = run_backward(list(outputs), roots, retain, create_graph, inputs=list(inputs))
    for t, g in zip(inputs, grads):
        if g is not None:
            t._accumulate_grad(g, create_graph)
