"""Function transforms in the style of JAX: grad, value_and_grad, vjp, jvp (forward mode), hvp.

They compose: ``grad(grad(f))`` is the second derivative. A transform differentiates with
respect to fresh leaves sharing the argument's data; when an argument already requires grad
(for instance inside an outer transform) it is used as it is and the result keeps its graph.
"""
from __future__ import annotations

from gradcore.autograd.engine import run_backward
from gradcore.autograd.mode import STATE, enable_grad
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "hvp"]


def _as_variable(x):
    """(tensor to differentiate with respect to, whether it belongs to an outer graph)."""
    t = as_tensor(x)
    if t.dtype.kind not in "fc":
        raise TypeError(f"grad: can only differentiate with respect to floating inputs, got "
                        f"dtype {t.dtype} (shape {t.shape})")
    if t.requires_grad:
        return t, True
    v = Tensor._make(t.data, t.device, True, None, 0)
    v.tangent = t.tangent  # inside gc.jvp (forward over reverse) the tangent must come along
    return v, False


def _zeros_like(v):
    """The gradient of an input the output does not depend on."""
    return Tensor._make(v.device.xp.zeros_like(v.data), v.device, False, None, 0)


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
            ones = Tensor._make(out.device.xp.ones_like(out.data), out.device, False, None, 0)
            grads = run_backward([out], [ones], retain_graph=outer, create_graph=outer,
                                 inputs=variables)
        grads = [_zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        value = out if outer else out.detach()
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

    return (out if outer else out.detach()), vjp_fn


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
    inputs = []
    for p, t in zip(primals, tangents):
        p = as_tensor(p)
        t = as_tensor(t, device=p.device)
        if t.shape != p.shape:
            raise ValueError(f"jvp: tangent of shape {t.shape} for a primal of shape {p.shape}")
        x = Tensor._make(p.data, p.device, p.requires_grad, p.node, p._index)
        x.tangent = t.data.astype(p.dtype, copy=False)
        inputs.append(x)
    STATE.forward_ad += 1
    try:
        out = f(*inputs)
    finally:
        STATE.forward_ad -= 1
    outs = out if isinstance(out, tuple) else (out,)
    tans = []
    for o in outs:
        t = o.tangent if o.tangent is not None else o.device.xp.zeros_like(o.data)
        o.tangent = None  # tangents live only for this call
        tans.append(Tensor._make(t, o.device, False, None, 0))
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
    return value.detach(), tuple(hv)
