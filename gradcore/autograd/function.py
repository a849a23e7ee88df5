"""``Function``: one differentiable op, and the node it leaves on the tape.

An op is a subclass with ``forward`` (arrays in, arrays out), ``backward`` (output gradients in,
input gradients out, written with Tensor ops so it is itself differentiable) and ``jvp`` (the
forward-mode tangent rule on arrays), side by side. Calling an instance runs ``forward`` and, when
some input requires grad and recording is on, the instance itself becomes the tape node.

Example: a user-defined op (see docs/architecture.md, "Adding an op")

>>> import gradcore as gc
>>> class Cube(gc.Function):
...     saves = (0,)                       # keep input 0 for backward
...     def forward(self, x):
...         return x ** 3
...     def backward(self, gy):
...         x, = self.saved_tensors()
...         return gy * 3 * x ** 2
...     def jvp(self, xs, y, txs):
...         return 3 * xs[0] ** 2 * txs[0]
>>> x = gc.tensor(2.0, dtype="float64", requires_grad=True)
>>> Cube()(x).backward(); x.grad.item()
12.0
"""
from __future__ import annotations

import os
import traceback
import weakref

import numpy

from gradcore import tracing
from gradcore.autograd.mode import STATE
from gradcore.backend import OutOfMemoryError, array_module, device_of, out_of_memory
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["Function", "tsum", "tangent_of", "constant_operand"]

_FLOAT_KINDS = frozenset("f")  # complex results never require grad: not differentiated
_PY_SCALARS = frozenset((int, float, bool))
_NP_SCALAR = numpy.generic


class Function:
    """Base class of every differentiable op; see the module docstring for an example.

    Class attributes a subclass may set:

    * ``saves``: indices of the inputs that ``backward`` needs (kept as the input Tensors);
    * ``saves_output``: keep output 0 for ``backward`` (its array, re-linked to this node);
    * ``differentiable``: ``False`` for ops whose outputs never require grad (comparisons).

    Binary ops that follow PyTorch's type promotion subclass ``gradcore.ops.promotion.Promoting``
    (the autograd layer cannot import the cast it needs), which defines ``promote``.

    >>> import gradcore as gc
    >>> class Double(gc.Function):
    ...     def forward(self, x): return 2 * x      # arrays in, arrays out
    ...     def backward(self, gy): return 2 * gy   # Tensor ops, so itself differentiable
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> Double()(x).sum().backward(); x.grad.tolist()
    [2.0, 2.0]
    """

    # edges lives in the instance dict, so the class default None tells a fresh instance from one
    # that is already a node on the tape (a second call then records a copy: see _fresh)
    __slots__ = ("saved", "_out", "_trace", "__dict__")

    edges = None
    promote = None  # (inputs, device, record) -> (inputs, arrays): see ops/promotion.py
    saves = ()
    saves_output = False
    differentiable = True

    # ---- the parts a subclass writes -------------------------------------------------------
    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} has no backward rule")

    def jvp(self, xs, y, txs):
        """Tangent of the output from the input arrays ``xs``, output ``y`` and input tangents
        ``txs`` (``None`` where an input's tangent is zero)."""
        raise NotImplementedError(f"{type(self).__name__} has no forward-mode (jvp) rule")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if _is_ctx_form(cls):  # PyTorch's form: its static forward takes ctx, so only apply works
            cls.__call__ = _ctx_form_called_directly

    @classmethod
    def apply(cls, *inputs):
        """Call the op: ``Cube.apply(x)``. Ops written in PyTorch's form (``@staticmethod
        forward(ctx, ...)``) are called this way only; the other form also as ``Cube()(x)``."""
        if _is_ctx_form(cls):
            from gradcore.autograd.ctx import CtxFunction  # ctx imports this module
            return CtxFunction(cls)(*inputs)
        return cls()(*inputs)

    # ---- the machinery ----------------------------------------------------------------------
    def __call__(self, *inputs):
        if self.edges is not None:  # already a node of a graph: record this call on a copy
            return self._fresh()(*inputs)
        device = dtype = None
        needs_grad = False
        foreign = mixed = py_float = False
        xs = []
        for x in inputs:
            if isinstance(x, Tensor):  # Tensor or a subclass (nn.Parameter)
                a = x.array
                if device is None:
                    device, dtype = x.device, a.dtype
                elif x.device is not device:
                    self._device_error(inputs)
                elif a.dtype is not dtype:  # (NumPy's builtin dtypes are singletons)
                    mixed = True
                needs_grad = needs_grad or x.requires_grad
                xs.append(a)
            else:
                # Python scalars stay Python scalars, so NumPy's weak promotion keeps float32
                t = type(x)
                if t not in _PY_SCALARS:
                    foreign = True
                elif t is float:
                    py_float = True
                xs.append(x)
        state = STATE
        record = needs_grad and state.grad_enabled and self.differentiable
        if device is None:  # no Tensor among the inputs: the first one becomes a Tensor
            inputs = (as_tensor(inputs[0]),) + inputs[1:]
            device, xs[0] = inputs[0].device, inputs[0].array
            dtype, mixed = xs[0].dtype, len(inputs) > 1
        # Operands that may disagree on the dtype: ops that opt in (ops/promotion.py) apply
        # PyTorch's promotion rule; a Python float widens only a non-float tensor
        if foreign or mixed or py_float:  # (one test on the hot path: same-dtype tensors)
            if self.promote is not None and (foreign or mixed or dtype.kind != "f"):
                inputs, xs = self.promote(inputs, device, record)
            elif foreign:
                inputs, xs = _constants(inputs, device, record)
        if state.special and state.tracing:  # gc.compile records what forward computes
            xs = [tracing.watch(x) for x in xs]

        try:
            ys = self.forward(*xs)
        except MemoryError as e:  # CuPy's OutOfMemoryError is a MemoryError
            if device.type == "cpu" or isinstance(e, OutOfMemoryError):
                raise
            shapes = [tuple(getattr(x, "shape", ())) for x in xs]
            raise out_of_memory(f"{type(self).__name__} (input shapes {shapes})", device, e) from e
        if isinstance(ys, _NP_SCALAR):  # NumPy returns scalars from 0-d math; keep arrays
            ys = numpy.asarray(ys)
        multi = type(ys) is tuple
        if not multi:
            # an integer or bool output (x.long()) is off the tape: no grad, no grad_fn
            tracked = record and ys.dtype.kind in _FLOAT_KINDS
            out = Tensor._make(ys, device, tracked, self if tracked else None, 0)
            if ys.base is not None:  # a view of an input shares its version counter
                _share_version(out, ys, inputs, xs)
            outs = (out,)
        else:
            tracks = [record and y.dtype.kind in _FLOAT_KINDS for y in ys]
            outs = tuple(Tensor._make(y, device, t, self if t else None, i)
                         for i, (y, t) in enumerate(zip(ys, tracks)))
        if record:
            self.edges = [_edge(x) for x in inputs]
            if self.saves:
                self.saved = [(x, x._vc[0]) if isinstance(x, Tensor) else (x, 0)
                              for x in [inputs[i] for i in self.saves]]
            if self.saves_output:
                vc = outs[0]._vc
                self._out = (outs[0].array, weakref.ref(outs[0]), vc, vc[0])
        else:
            self.edges = ()  # used: a later call records on a copy (forward may keep state)
        if state.special:  # forward mode or anomaly detection
            self._special(inputs, xs, ys, outs, multi, record)
        return outs if multi else outs[0]

    def _special(self, inputs, xs, ys, outs, multi, record):
        """The rarer duties of a call: forward-mode tangents and anomaly checks."""
        if record and STATE.anomaly:
            self._trace = _user_frame()
        if STATE.forward_ad and self.differentiable:
            self._push_tangents(inputs, xs, ys, outs, multi)
            if record and self.saves_output:  # saved_output() hands it on (forward over reverse)
                self._out_tangent = outs[0].tangent
        if STATE.anomaly:
            self._check_finite(ys if multi else (ys,), "forward output")

    def _fresh(self):
        """A new node with this op's settings (what ``__init__`` stored), for a repeated call."""
        node = object.__new__(type(self))
        node.__dict__.update({k: v for k, v in self.__dict__.items()
                              if k not in _PER_CALL})
        return node

    def saved_tensors(self):
        """The inputs named in ``saves``, as Tensors still linked to the graph.

        Raises ``RuntimeError`` when the graph was already released by an earlier backward, or
        when a saved Tensor was modified in place after the op saw it.
        """
        saved = getattr(self, "saved", None)
        if saved is None:
            self._released_error()
        for t, version in saved:
            if _version_of(t) != version:
                raise RuntimeError(
                    f"{type(self).__name__}.backward: an input it saved (shape "
                    f"{tuple(t.shape)}) was modified in place after the forward pass (version "
                    f"{t._version}, expected {version}); use an out-of-place op instead")
        return tuple(t for t, _ in saved)

    def saved_output(self):
        """Output 0 as a Tensor linked to this node (so gradients of gradients flow through it)."""
        out = getattr(self, "_out", None)
        if out is None:
            self._released_error()
        data, ref, counter, version = out
        if counter[0] != version:
            raise RuntimeError(
                f"{type(self).__name__}.backward: its output (shape {tuple(data.shape)}) was "
                "modified in place after the forward pass; use an out-of-place op instead")
        alive = ref()
        device = alive.device if alive is not None else device_of(data)
        out = Tensor._make(data, device, True, self, 0)
        if STATE.forward_ad:
            out.tangent = self.__dict__.get("_out_tangent")
        return out

    def release(self):
        """Drop what was saved for backward (called by the engine unless retain_graph)."""
        self.saved = None
        self._out = None
        self.__dict__.pop("_out_tangent", None)

    # ---- helpers ----------------------------------------------------------------------------
    def _released_error(self):
        raise RuntimeError(
            f"{type(self).__name__}.backward: trying to backward through the graph a second "
            "time, but the arrays it saved were released after the first backward; pass "
            "retain_graph=True to the first backward() if you need to call it twice")

    def _device_error(self, inputs):
        devices = [str(getattr(x, "device", "python")) for x in inputs]
        shapes = [tuple(getattr(x, "shape", ())) for x in inputs]
        raise RuntimeError(f"{type(self).__name__}: expected all tensors on one device, got "
                           f"devices {devices} (shapes {shapes})")

    def _push_tangents(self, inputs, xs, ys, outs, multi):
        level = STATE.forward_ad
        txs = tuple(tangent_of(x, level) for x in inputs)
        if all(t is None for t in txs):
            return
        tys = self.jvp(tuple(xs), ys, txs)
        for out, ty in zip(outs, tys if multi else (tys,)):
            if ty is not None:
                if ty.shape != out.array.shape or ty.dtype != out.array.dtype:
                    # a tangent that skipped a broadcast (e.g. only the smaller operand moved)
                    ty = array_module(ty).broadcast_to(ty, out.array.shape).astype(out.array.dtype)
                out.tangent = (level, ty)

    def _check_finite(self, arrays, where):
        for a in arrays:
            if a is None or not hasattr(a, "dtype") or a.dtype.kind not in _FLOAT_KINDS:
                continue
            xp = array_module(a)
            if not bool(xp.isfinite(a).all()):
                bad = "nan" if bool(xp.isnan(a).any()) else "inf"
                origin = getattr(self, "_trace", None) or _user_frame()
                raise FloatingPointError(
                    f"{type(self).__name__} produced {bad} in its {where} (shape "
                    f"{tuple(a.shape)}, dtype {a.dtype}); the op was created at {origin}")


def tangent_of(x, level):
    """The tangent array of ``x`` at forward-mode level ``level``, or None (zero): a tangent that
    another ``gc.jvp`` call left on ``x`` belongs to another level and is not read."""
    t = getattr(x, "tangent", None)
    return t[1] if t is not None and t[0] == level else None


def tsum(*ts):
    """Sum of tangents for jvp rules, skipping ``None`` (a zero tangent)."""
    out = None
    for t in ts:
        if t is not None:
            out = t if out is None else out + t
    return out


# What Function.__call__ stores per call; a copy of a used node (_fresh) leaves it behind.
_PER_CALL = frozenset(("edges", "_out_tangent", "needs_input_grad"))


def _version_of(x):
    return x._vc[0] if isinstance(x, Tensor) else 0


def _constants(inputs, device, record):
    """Arrays, lists and NumPy scalars among ``inputs`` as constant Tensors on ``device`` (a
    backward that used a raw NumPy input would make a CPU tensor of it). A recorded op copies a
    NumPy array operand: the caller may change it in place before backward (``c[0] = 10``)."""
    inputs = tuple(x if type(x) in _PY_SCALARS or isinstance(x, Tensor) else
                   constant_operand(x, device, record) for x in inputs)
    return inputs, [x.array if isinstance(x, Tensor) else x for x in inputs]


def constant_operand(x, device, record):
    """A non-Tensor operand (array, list, NumPy scalar) as a constant Tensor on ``device``."""
    t = as_tensor(x, device=device)
    if record and t.array is x:
        t.array = x.copy()
    return t


def _share_version(out, y, inputs, xs):
    """When output array ``y`` is a view of an input's array, ``out`` shares that input's
    version counter (as PyTorch's views do): an in-place change through either is seen by the
    saved-tensor checks of both."""
    base = y.base
    for x, a in zip(inputs, xs):
        if isinstance(x, Tensor) and (a is base or (a.base is not None and a.base is base)):
            out._vc = x._vc
            return


def _edge(x):
    """Where the gradient of input ``x`` goes: its creator node, the leaf itself, or nowhere."""
    if not isinstance(x, Tensor) or not x.requires_grad:
        return None
    node = x.node
    return x if node is None else (node, x._index)


# The installed package's own folder. NOTE: matching "/gradcore/" anywhere in a path would also
# skip user code in a checkout named gradcore (CI clones into .../gradcore/gradcore/tests).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_frame():
    """The innermost stack frame outside the gradcore package, as 'file:line in function: code'."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def _ctx_form_called_directly(self, *inputs):
    name = type(self).__name__
    raise TypeError(f"{name} is written in PyTorch's form (a static forward taking ctx): call "
                    f"{name}.apply(...), not {name}()(...)")


def _is_ctx_form(cls):
    """True for an op written in PyTorch's form: ``forward`` is a staticmethod taking ctx."""
    for klass in cls.__mro__:
        if "forward" in klass.__dict__:
            return isinstance(klass.__dict__["forward"], staticmethod)
    return False
