"""``Module``: the base class of layers and models (PyTorch's interface)."""
from __future__ import annotations

from collections import OrderedDict

import numpy

from gradcore import backend, tracing
from gradcore.autograd.mode import no_grad
from gradcore.interop.dlpack import from_dlpack
from gradcore.nn.parameter import Parameter
from gradcore.tensor import Tensor

__all__ = ["Module"]


class Module:
    """Base class: assign Parameters and sub-Modules as attributes and they are registered.

    >>> import gradcore as gc
    >>> class Affine(gc.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = gc.nn.Parameter(gc.ones(2))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> [name for name, _ in Affine().named_parameters()]
    ['w']
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        if name in self._buffers:  # self.running_mean = t replaces the buffer, as PyTorch
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor or "
                                f"None, got {type(value).__name__}")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)  # plain attribute too: fast access in forward

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """Register ``tensor`` (or None) as state that is saved and moved with the module but
        not trained (BatchNorm's running statistics): it is in ``state_dict`` and follows
        ``to()``, but not in ``parameters()``.

        >>> import gradcore as gc
        >>> m = gc.nn.Module()
        >>> m.register_buffer("count", gc.zeros(1))
        >>> list(m.state_dict())
        ['count']
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: name must be a non-empty string without '.', got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or module")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal -------------------------------------------------------------------------
    def named_children(self):
        """(name, module) for the direct sub-modules."""
        return iter(self._modules.items())

    def children(self):
        """The direct sub-modules."""
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every descendant, depth first."""
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            for child_name, child in reversed(module._modules.items()):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self):
        """This module and every descendant."""
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) for every parameter, each once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self):
        """Every parameter, each once (what an optimizer takes)."""
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix=""):
        """(dotted name, Tensor) for every buffer that is not None."""
        for module_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    def buffers(self):
        """Every buffer that is not None."""
        return (b for _, b in self.named_buffers())

    # ---- modes and devices -------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (and the children's); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient: to None (default, as PyTorch) or, with
        ``set_to_none=False``, to zeros (one fill per flat buffer)."""
        packs = {}
        params = list(self.parameters())
        if tracing.STATE.grads is not None:  # gc.compile: None is set without a look
            tracing.note_grads([p for p in params if p._pack is None], reads=not set_to_none)
        for p in params:
            if p._pack is not None:
                packs[id(p._pack)] = p._pack
            elif p.grad is not None:
                p.grad = None if set_to_none else p.grad.zero_()
        for pack in packs.values():
            pack.zero_grad(set_to_none)

    def to(self, device=None, dtype=None):
        """Move parameters to ``device`` and/or cast them to ``dtype``, in place; returns self.
        As PyTorch's: ``m.to("cuda")``, ``m.to(gc.float64)``, ``m.to("cuda", gc.float16)``.

        Parameters packed into a flat buffer move as one copy and stay views of it.
        """
        device, dt = backend.device_and_dtype(device, dtype, "Module.to")
        dev = backend.device(device) if device is not None else None
        moved = set()
        for p in self.parameters():
            if dt is not None and p.dtype != dt:
                if p._pack is not None:
                    p._pack.release()  # a new dtype leaves the flat buffer; an optimizer repacks
                p.array = p.array.astype(dt)
                p.grad = None if p.grad is None else Tensor._make(p.grad.array.astype(dt), p.device, False, None, 0)
            if dev is not None and p.device is not dev:
                if p._pack is not None:
                    if id(p._pack) not in moved:
                        moved.add(id(p._pack))
                        p._pack.to(dev)
                    continue
                p.array = backend.to_device(p.array, dev)
                if p.grad is not None:
                    p.grad = Tensor._make(backend.to_device(p.grad.array, dev), dev, False, None, 0)
                p.device = dev
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is None:
                    continue
                # only floating buffers take the dtype, as PyTorch (a step counter stays int64)
                array = b.array.astype(dt) if dt is not None and b.dtype.kind == "f" else b.array
                array = backend.to_device(array, dev) if dev is not None else array
                if array is not b.array:
                    m._buffers[name] = Tensor._make(array, dev or b.device, False, None, 0)
                    object.__setattr__(m, name, m._buffers[name])
        return self

    # ---- state -------------------------------------------------------------------------------
    def state_dict(self):
        """An ordered dict of name -> Tensor (detached; shares the data): each module's
        parameters, then its buffers, depth first; the keys PyTorch gives the same model.

        >>> import gradcore as gc
        >>> list(gc.nn.Sequential(gc.nn.Linear(2, 3), gc.nn.BatchNorm1d(3)).state_dict())
        ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']
        """
        return OrderedDict((name, t.detach()) for name, t in self._named_state())

    def _named_state(self):
        seen = set()
        for module_name, module in self.named_modules():
            for name, t in [*module._parameters.items(), *module._buffers.items()]:
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{module_name}.{name}" if module_name else name), t

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the parameters and buffers in place (flat-buffer views stay views).

        Everything is checked before anything is written, so a failed call changes nothing.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        own = OrderedDict(self._named_state())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in own.items():
            if name in state_dict:
                value = state_dict[name]
                shape = tuple(getattr(value, "shape", numpy.shape(value)))
                if shape != p.shape:
                    raise ValueError(f"load_state_dict: {name!r} has shape {shape} in the state "
                                     f"dict but {p.shape} in the model")
        with no_grad():
            for name, p in own.items():
                if name in state_dict:
                    value = state_dict[name]
                    value = _as_array(value)
                    p.array[...] = backend.to_device(value, p.device)
                    p._version += 1
        return missing, unexpected

    # ---- printing ----------------------------------------------------------------------------
    def extra_repr(self):
        """One line of the module's own settings, shown by repr."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _as_array(value):
    """A state dict value's array: a Tensor's own, a PyTorch/CuPy/JAX array's through DLPack (no
    copy; a CUDA one stays on its GPU), anything else through NumPy."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "__dlpack__") and not isinstance(value, numpy.ndarray):
        return from_dlpack(value).array
    return numpy.asarray(value)
