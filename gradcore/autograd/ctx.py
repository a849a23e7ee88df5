"""PyTorch's form of a custom op: ``@staticmethod forward(ctx, ...)`` / ``backward(ctx, ...)``,
called as ``Op.apply(...)`` (see :meth:`gradcore.Function.apply`). The node on the tape is a
:class:`CtxFunction`, which is also the ``ctx`` the static methods receive."""
from __future__ import annotations

from gradcore.autograd.function import Function
from gradcore.autograd.mode import no_grad
from gradcore.backend import device_of
from gradcore.tensor import Tensor

__all__ = ["CtxFunction"]


class CtxFunction(Function):
    """The tape node of an op written in PyTorch's form; it is the ``ctx`` the op's static
    methods receive.

    ``forward(ctx, *args)`` gets Tensors (recording off inside, as in PyTorch) and returns a
    Tensor or a tuple of Tensors; ``backward(ctx, *grad_outputs)`` returns one gradient (or None)
    per argument of ``forward``; the optional ``jvp(ctx, *tangents)`` is the forward-mode rule.
    ``ctx.save_for_backward(*tensors)`` keeps inputs or outputs for ``backward``, which reads them
    from ``ctx.saved_tensors`` (linked to the graph, so double backward works through inputs and
    outputs); ``ctx.needs_input_grad`` says which inputs want a gradient; other attributes set on
    ``ctx`` are kept as they are.

    >>> import gradcore as gc
    >>> class Cube(gc.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, gy):
    ...         x, = ctx.saved_tensors
    ...         return gy * 3 * x ** 2
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> (Cube.apply(x) + Cube.apply(2 * x)).sum().backward(); x.grad.tolist()
    [27.0, 108.0]
    """

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *inputs):
        if self.edges is not None:
            return self._fresh()(*inputs)
        self.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        try:
            return super().__call__(*inputs)
        finally:
            self.__dict__.pop("_jvp_saved", None)  # what jvp may read, for this call only

    def forward(self, *xs):
        self._inputs = [_wrap(x) for x in xs]
        self._to_save = ()
        with no_grad():
            out = self.fn.forward(self, *self._inputs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        for o in outs:
            if not isinstance(o, Tensor):
                raise TypeError(f"{self.fn.__name__}.forward must return Tensors, got "
                                f"{type(o).__name__}")
        self.n_outputs = len(outs)
        self._out_ids = [id(o) for o in outs]
        self._jvp_saved = self._to_save
        self._plan_saves()
        arrays = tuple(o.array for o in outs)
        return arrays if multi else arrays[0]

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` (inputs or outputs of ``forward``) for ``backward``."""
        self._to_save = tensors

    @property
    def saved_tensors(self):
        """What ``save_for_backward`` kept, inputs and output 0 linked to the graph."""
        if "_jvp_saved" in self.__dict__:  # inside the forward-mode rule: the forward's values
            return tuple(self._jvp_saved)
        inputs = Function.saved_tensors(self) if self.saves else ()
        out = self.saved_output() if self.saves_output else None
        picked = []
        for kind, ref in self._plan:
            picked.append(inputs[ref] if kind == "input" else out if kind == "output" else ref)
        return tuple(picked)

    def _plan_saves(self):
        """Map each tensor given to save_for_backward to an input index, output 0, or itself (an
        intermediate: kept detached, so no gradient flows through it)."""
        where = {id(t): i for i, t in enumerate(self._inputs) if isinstance(t, Tensor)}
        saves, plan = [], []
        for t in self._to_save:
            if id(t) in where:
                plan.append(("input", len(saves)))
                saves.append(where[id(t)])
            elif self._out_ids and id(t) == self._out_ids[0]:
                plan.append(("output", None))
                self.saves_output = True
            else:
                plan.append(("tensor", t.detach() if isinstance(t, Tensor) else t))
        self.saves, self._plan = tuple(saves), plan
        del self._inputs, self._to_save

    def backward(self, *gys):
        gxs = self.fn.backward(self, *gys)
        return gxs if isinstance(gxs, tuple) else (gxs,)

    def jvp(self, xs, y, txs):
        jvp = getattr(self.fn, "jvp", None)
        if jvp is None:
            raise NotImplementedError(f"{self.fn.__name__} has no forward-mode rule (a static "
                                      "jvp(ctx, *tangents))")
        device = device_of(y[0] if isinstance(y, tuple) else y)
        tangents = [None if t is None else Tensor._make(t, device, False, None, 0) for t in txs]
        with no_grad():
            out = jvp(self, *tangents)
        if isinstance(out, tuple):
            return tuple(None if o is None else o.array for o in out)
        return None if out is None else out.array


def _wrap(x):
    """An array input of a ctx-form forward as a Tensor cut off from the graph."""
    if isinstance(x, (int, float, bool)) or not hasattr(x, "dtype"):
        return x
    return Tensor._make(x, device_of(x), False, None, 0)
