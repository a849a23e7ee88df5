"""Function transforms in the style of JAX: grad, value_and_grad, vjp, jvp (forward mode), hvp.

They compose: ``grad(grad(f))`` is the second derivative, ``jvp`` of ``jvp`` the second
directional derivative, ``vjp`` of ``jvp`` reverse over forward. A reverse transform
differentiates with respect to fresh leaves sharing the argument's data; when an argument
already requires grad (for instance inside an outer transform) it is used as it is and the
result keeps its graph.

Forward mode, nested. The outermost ``jvp`` runs natively: each op pushes tangents tagged with
that call's level id, so a tangent left on a tensor by another call is never read as this
one's. A ``jvp`` whose result must itself be differentiated (inside another ``jvp``, or with
inputs or closed-over tensors that require grad while recording) is computed through reverse
mode instead (the "double vjp" linearization, as HIPS autograd's ``make_jvp_reversemode``):
``u -> J^T u`` is built with a recorded backward pass, and ``J v`` is its transpose applied to
``v``, again by a recorded backward pass. Everything it computes is made of ops, so outer
tangents and outer gradients flow through it: inner and outer perturbations can never be
confused. It costs two backward passes instead of one forward pass.
"""
from __future__ import annotations

import itertools

from gradcore.autograd.engine import run_backward
from gradcore.autograd.function import tangent_of
from gradcore.autograd.mode import STATE, enable_grad
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

_LEVELS = itertools.count(1)  # forward-mode level ids, one per native jvp call

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "hvp"]


def _as_variable(x):
    """(tensor to differentiate with respect to, whether it belongs to an outer graph)."""
    t = as_tensor(x)
    if t.dtype.kind != "f":
        raise TypeError(f"grad: can only differentiate with respect to real floating inputs, "
                        f"got dtype {t.dtype} (shape {t.shape})")
    if t.requires_grad:
        return t, True
    v = Tensor._make(t.array, t.device, True, None, 0)
    v.tangent = t.tangent  # inside gc.jvp (forward over reverse) the tangent must come along
    return v, False


def _value(out):
    """``out`` cut off from the graph; under an outer jvp it keeps its tangent."""
    v = Tensor._make(out.array, out.device, False, None, 0)
    v.tangent = out.tangent
    return v


def _zeros_like(v):
    """The gradient of an input the output does not depend on."""
    return Tensor._make(v.device.xp.zeros_like(v.array), v.device, False, None, 0)


def _scalar_output(out, name):
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the function must return a Tensor, got {type(out).__name__}")
    if out.size != 1:
        raise ValueError(f"{name}: the function must return a one-element tensor, got shape "
                         f"{out.shape}; use vjp for non-scalar outputs")
    return out


def value_and_grad(f, argnums=0, has_aux=False):
    """A function returning ``(f(*args), df/dargs[argnums])``; with ``has_aux``, ``f`` returns
    ``(value, aux)`` and the result is ``((value, aux), grad)``.

    >>> import gradcore as gc
    >>> value, g = gc.value_and_grad(lambda x: (x ** 2).sum())(gc.tensor([1.0, 2.0]))
    >>> value.item(), g.tolist()
    (5.0, [2.0, 4.0])
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def wrapped(*args, **kwargs):
        args = list(args)
        outer = False
        variables = []
        for i in nums:
            if i >= len(args):
                raise ValueError(f"grad: argnums {argnums} but the function got {len(args)} arguments")
            args[i], nested = _as_variable(args[i])
            outer = outer or nested
            variables.append(args[i])
        with enable_grad():
            result = f(*args, **kwargs)
        out, aux = result if has_aux else (result, None)
        out = _scalar_output(out, "grad")
        grads = [None] * len(variables)
        if out.requires_grad:
            ones = Tensor._make(out.device.xp.ones_like(out.array), out.device, False, None, 0)
            grads = run_backward([out], [ones], retain_graph=outer, create_graph=outer,
                                 inputs=variables)
        grads = [_zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        value = out if outer else _value(out)
        g = grads[0] if single else tuple(grads)
        return ((value, aux) if has_aux else value), g

    return wrapped


def grad(f, argnums=0, has_aux=False):
    """A function returning the gradient of scalar-valued ``f`` with respect to ``args[argnums]``.

    >>> import gradcore as gc
    >>> d2 = gc.grad(gc.grad(lambda x: x ** 3))
    >>> d2(gc.tensor(2.0)).item()
    12.0
    """
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def vjp(f, *primals):
    """``(f(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns one gradient per primal:
    the vector-Jacobian product, i.e. reverse mode. ``vjp_fn`` may be called repeatedly.

    >>> import gradcore as gc
    >>> y, back = gc.vjp(lambda x: x * 3, gc.tensor([1.0, 2.0]))
    >>> back(gc.tensor([1.0, 10.0]))[0].tolist()
    [3.0, 30.0]
    """
    pairs = [_as_variable(p) for p in primals]
    variables = [v for v, _ in pairs]
    outer = any(nested for _, nested in pairs)
    with enable_grad():
        out = f(*variables)

    def vjp_fn(cotangent):
        ct = as_tensor(cotangent, dtype=out.dtype, device=out.device)
        if ct.shape != out.shape:
            raise ValueError(f"vjp: cotangent of shape {ct.shape} for an output of shape {out.shape}")
        if not out.requires_grad:
            grads = [None] * len(variables)
        else:
            grads = run_backward([out], [ct], retain_graph=True, create_graph=outer or ct.requires_grad,
                                 inputs=variables)
        return tuple(_zeros_like(v) if g is None else g for g, v in zip(grads, variables))

    return (out if outer else _value(out)), vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J @ tangents)``, the Jacobian-vector product, computed in
    one forward pass by each op's tangent rule (no backward pass, no tape).

    >>> import gradcore as gc
    >>> y, t = gc.jvp(lambda x: x * x, (gc.tensor([3.0]),), (gc.tensor([1.0]),))
    >>> t.tolist()
    [6.0]
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    pairs = []
    for p, t in zip(primals, tangents):
        p = as_tensor(p)
        t = as_tensor(t, device=p.device)
        if t.shape != p.shape:
            raise ValueError(f"jvp: tangent of shape {t.shape} for a primal of shape {p.shape}")
        if t.dtype != p.dtype:
            t = t.astype(p.dtype)
        pairs.append((p, t))
    differentiable = STATE.grad_enabled and any(p.requires_grad or t.requires_grad
                                                for p, t in pairs)
    if STATE.forward_ad or differentiable:
        return _jvp_by_reverse(f, pairs)
    level = next(_LEVELS)
    inputs = []
    for p, t in pairs:
        x = Tensor._make(p.array, p.device, False, None, 0)
        x.tangent = (level, t.array)
        inputs.append(x)
    STATE.set("forward_ad", level)
    try:
        out = f(*inputs)
    finally:
        STATE.set("forward_ad", 0)
    outs = out if isinstance(out, tuple) else (out,)
    if STATE.grad_enabled and any(o.requires_grad for o in outs):
        # f used tensors that require grad: the tangent depends on them, so it must be a
        # recorded computation too
        return _jvp_by_reverse(f, pairs)
    tans = []
    for o in outs:
        t = tangent_of(o, level)
        tans.append(Tensor._make(o.device.xp.zeros_like(o.array) if t is None else t,
                                 o.device, False, None, 0))
    return out, (tuple(tans) if isinstance(out, tuple) else tans[0])


def _jvp_by_reverse(f, pairs):
    """``jvp`` as two recorded backward passes (see the module docstring): differentiable, in
    both modes, with respect to everything it reads."""
    with enable_grad():
        xs = []
        for p, _ in pairs:
            if p.requires_grad:
                xs.append(p)
            else:
                x = Tensor._make(p.array, p.device, True, None, 0)
                x.tangent = p.tangent
                xs.append(x)
        out = f(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        live = [o for o in outs if o.requires_grad]
        us = [Tensor._make(o.device.xp.zeros_like(o.array), o.device, True, None, 0) for o in live]
        dot = None
        if live:
            gxs = run_backward(live, us, retain_graph=True, create_graph=True, inputs=xs)
            for g, (_, t) in zip(gxs, pairs):
                if g is not None:
                    term = (g * t).sum()
                    dot = term if dot is None else dot + term
        jus = [None] * len(us)
        if dot is not None and dot.requires_grad:
            one = Tensor._make(dot.device.xp.ones_like(dot.array), dot.device, False, None, 0)
            jus = run_backward([dot], [one], retain_graph=True, create_graph=True, inputs=us)
    by_id = {id(o): j for o, j in zip(live, jus)}
    tans = []
    for o in outs:
        j = by_id.get(id(o))
        tans.append(j if j is not None else
                    Tensor._make(o.device.xp.zeros_like(o.array), o.device, False, None, 0))
    return out, (tuple(tans) if isinstance(out, tuple) else tans[0])


def hvp(f, primals, tangents):
    """``(f(*primals), H @ tangents)`` for scalar ``f``: the Hessian-vector product, computed as
    the gradient of ``<grad f, v>`` (reverse over reverse), without forming H.

    >>> import gradcore as gc
    >>> _, hv = gc.hvp(lambda x: (x ** 3).sum(), (gc.tensor([1.0, 2.0]),), (gc.tensor([1.0, 1.0]),))
    >>> hv[0].tolist()
    [6.0, 12.0]
    """
    primals, tangents = tuple(primals), tuple(tangents)
    nums = tuple(range(len(primals)))

    def inner(*xs):
        value, gs = value_and_grad(f, nums)(*xs)
        dot = None
        for g, v in zip(gs, tangents):
            term = (g * as_tensor(v, dtype=g.dtype, device=g.device)).sum()
            dot = term if dot is None else dot + term
        return dot, value

    hv, value = grad(inner, nums, has_aux=True)(*primals)
    return _value(value), tuple(hv)
