"""``Tensor``: an array on a device plus what the tape needs to differentiate through it.

Operators and methods delegate, in plain code, to the functions of :mod:`gradcore.ops`; the ops
modules are imported at the bottom of this file because they build Tensors themselves. Methods
that are only one call into an op (``x.sum(axis=1)``, ``x.unsqueeze(0)``) live in the mixin
:class:`gradcore.tensor_methods.TensorMethods`.
"""
from __future__ import annotations

import numpy

from gradcore import backend, tracing
from gradcore.kernels import errors as kernel_errors
from gradcore.tensor_inplace import InplaceMethods
from gradcore.tensor_methods import TensorMethods

__all__ = ["Tensor"]


class Tensor(InplaceMethods, TensorMethods):
    """An n-dimensional array on a device that can record the ops applied to it.

    Make one with :func:`gradcore.tensor` or the creation functions (``zeros``, ``randn``...).

    >>> import gradcore as gc
    >>> x = gc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.tolist()
    [[2.0, 4.0], [6.0, 8.0]]
    """

    # array: the NumPy/CuPy array; _vc: the version counter, a one-element list shared with
    # the views and detached aliases of the same storage; tangent: (jvp level, tangent array)
    __slots__ = ("array", "_grad", "requires_grad", "node", "_index", "device", "_vc",
                 "tangent", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    @staticmethod
    def _make(array, device, requires_grad, node, index):
        """Wrap an array without checks (the per-op hot path)."""
        t = object.__new__(Tensor)
        t.array, t.device, t.requires_grad, t.node, t._index = array, device, requires_grad, node, index
        t._grad = t.tangent = None
        t._vc = [0]
        return t

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        dev = backend.device(device) if device is not None else None
        if isinstance(data, Tensor):
            dev = dev or data.device
            data = data.array
        self.array = _to_array(data, dtype, dev, copy=False)
        self.device = backend.device_of(self.array) if dev is None else dev
        self._grad = self.node = self.tangent = None
        self._index = 0
        self._vc = [0]
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- attributes ---------------------------------------------------------------------
    shape = property(lambda self: self.array.shape, doc="Tuple of dimensions.")
    dtype = property(lambda self: self.array.dtype, doc="NumPy dtype of the elements.")
    ndim = property(lambda self: self.array.ndim, doc="Number of dimensions.")
    size = property(lambda self: _Size(self.array.size), doc=(
        "Number of elements, an int as NumPy's ``x.size`` (PyTorch's ``x.size()`` is "
        "``x.shape`` here: calling it raises a TypeError saying so)."))
    is_leaf = property(lambda self: self.node is None,
                       doc="True for tensors made by the user rather than by a recorded op.")
    grad_fn = property(lambda self: self.node, doc="The recorded op that made this tensor.")
    T = property(lambda self: _shape.transpose(self), doc="The transpose (axes reversed).")
    mT = property(lambda self: _shape.swapaxes(self, -1, -2), doc="Transpose of the last two axes.")

    def numel(self):
        """Number of elements (PyTorch's name of :attr:`size`)."""
        return self.array.size

    nelement = numel  # PyTorch's older name

    def dim(self):
        """Number of dimensions (PyTorch's name of :attr:`ndim`)."""
        return self.array.ndim

    def __format__(self, spec):
        # as PyTorch: a 0-d tensor formats as its number (f"{loss:.4f}"); other tensors only
        # with an empty spec, since a spec such as ".2f" has no meaning for an array
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"format: spec {spec!r} needs a 0-d tensor, got shape {self.shape}; "
                            "format t.item() for a one-element tensor, or t.tolist()")
        return str(self)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = numpy.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = "" if self.dtype == get_default_dtype() or self.dtype.kind in "bi" else f", dtype={self.dtype}"
        extra += "" if self.device is backend.CPU else f", device='{self.device}'"
        if self.node is not None:
            extra += f", grad_fn=<{type(self.node).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__  # __eq__ is elementwise, so hash by identity as PyTorch does

    def __bool__(self):
        tracing.host_read("bool()")
        kernel_errors.check()  # a GPU value read on the host: report what the kernels flagged
        return bool(self.array)

    def __float__(self):
        tracing.host_read("float()")
        return float(self.item())

    def __int__(self):
        tracing.host_read("int()")
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        if self.device is not backend.CPU:  # as CuPy: never an implicit device-to-host copy
            raise TypeError(f"numpy.asarray: the tensor (shape {self.shape}) is on "
                            f"{self.device}; implicit conversion to a NumPy array is not "
                            "allowed, use t.numpy() or t.cpu()")
        tracing.host_read("__array__ (numpy.asarray)")
        a = self.numpy()
        if copy:
            return a.astype(a.dtype if dtype is None else dtype, copy=True)
        return a if dtype is None else a.astype(dtype, copy=False)

    # NumPy's dispatch (NEP 13, NEP 18), DLPack and PyTorch: see gradcore/interop
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _numpy_protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _numpy_protocol.array_function(func, types, args, kwargs)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        return _dlpack.export(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        return _dlpack.dlpack_device(self)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return _torch_protocol.torch_function(func, types, args, kwargs)

    def _set_version(self, value):
        self._vc[0] = value

    _version = property(lambda self: self._vc[0], _set_version,
                        doc="How many times the storage was changed in place (shared by views).")

    @property
    def data(self):
        """This tensor's storage as a tensor cut off from the graph (PyTorch's ``.data``).

        ``p.data.add_(u)``, ``p.data += u`` and ``p.data.zero_()`` change ``p`` in place. Unlike
        PyTorch's, it shares ``p``'s version counter, so such a change to a tensor that a recorded
        op saved is reported at ``backward()`` instead of giving a wrong gradient. Assigning
        (``p.data = t``) makes ``t``'s array the storage of ``p`` (same device; the shape may
        change, as in PyTorch). The raw NumPy/CuPy array is ``.array``.

        >>> import gradcore as gc
        >>> p = gc.tensor([1.0, 2.0], requires_grad=True)
        >>> p.data -= 0.5; p.tolist(), p.requires_grad
        ([0.5, 1.5], True)
        """
        t = Tensor._make(self.array, self.device, False, None, 0)
        t._vc = self._vc
        return t

    @data.setter
    def data(self, value):
        if isinstance(value, Tensor):
            if value.array is self.array:  # p.data += u: already written in place
                return
            array = value.array
            if value.device is not self.device:
                raise RuntimeError(f"data: cannot assign a tensor on {value.device} to the .data "
                                   f"of a tensor on {self.device} (shape {self.shape}); move it "
                                   "with .to() first")
        else:
            array = _to_array(value, None, self.device, copy=False)
        if self.requires_grad and array.dtype.kind not in "f":
            raise TypeError(f"data: a tensor that requires grad needs floating data, got dtype "
                            f"{array.dtype} (shape {array.shape})")
        self.array = array
        self._vc[0] += 1

    # ---- conversion ---------------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array: a read-only view on the CPU, a copy from a GPU.

        Read-only, as JAX's are, so that no write can bypass the version counter that guards
        tensors saved for backward; change a tensor with its in-place methods (``x[i] = v``,
        ``x.copy_(a)``), or take ``x.numpy().copy()``.
        """
        tracing.host_read(".numpy()")
        a = backend.to_device(self.array, backend.CPU)
        if a is self.array:
            a = a.view()
            a.flags.writeable = False
        return a

    def item(self):
        """The single element as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item: the tensor has {self.array.size} elements (shape "
                             f"{self.shape}); only one-element tensors convert to a number")
        tracing.host_read(".item()")
        kernel_errors.check()  # a GPU value read on the host: report what the kernels flagged
        return self.array.item()

    def tolist(self):
        """The data as (nested) Python lists."""
        tracing.host_read(".tolist()")
        return self.numpy().tolist()

    def to(self, device=None, dtype=None):
        """Move to ``device`` and/or cast to ``dtype`` (differentiable): ``x.to("cuda")``,
        ``x.to("float64")``, ``x.to(gc.float64)``, ``x.to("cuda", dtype="float16")``."""
        device, dtype = backend.device_and_dtype(device, dtype, "to")
        out = self
        if dtype is not None and numpy.dtype(dtype) != self.dtype:
            out = _convert.astype(out, dtype)
        if device is not None and backend.device(device) is not self.device:
            out = _convert.to_device(out, device)
        return out

    def cpu(self):
        """``self.to("cpu")``."""
        return self.to("cpu")

    def cuda(self, index=None):
        """``self.to("cuda")`` (or ``"cuda:index"``)."""
        return self.to("cuda" if index is None else f"cuda:{index}")

    def astype(self, dtype):
        """Cast to ``dtype`` (differentiable between floating dtypes)."""
        return _convert.astype(self, dtype)

    def detach(self):
        """A tensor sharing this storage (and its version counter) but cut off from the graph."""
        t = Tensor._make(self.array, self.device, False, None, 0)
        t._vc = self._vc
        return t

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (only real floating tensors can require grad)."""
        if requires_grad and self.array.dtype.kind != "f":
            hint = (" (complex differentiation is not supported: split real and imaginary "
                    "parts into real tensors)" if self.array.dtype.kind == "c" else "")
            raise TypeError(f"requires_grad_: only floating tensors can require gradients, got "
                            f"dtype {self.dtype} (shape {self.shape}){hint}")
        if not requires_grad and self.node is not None:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad on a non-leaf "
                               "tensor; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves it came from.

        ``gradient`` is required unless the tensor has one element. The saved arrays of the
        graph are released afterwards unless ``retain_graph`` (or ``create_graph``) is set.
        """
        if not self.requires_grad:
            raise RuntimeError(f"backward: the tensor (shape {self.shape}) does not require grad "
                               "and has no grad_fn; did you forget requires_grad=True?")
        gradient = _root_gradient(self, gradient, "backward")
        _engine.run_backward([self], [gradient], retain_graph or create_graph, create_graph)

    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (None before the first one)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # as PyTorch: a gradient must be a Tensor like this one, so a stray float (or a tensor
        # of another shape) fails here, not as a puzzling error in the next optimizer step
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned grad must be a Tensor or None, got "
                                f"{type(value).__name__} (for a tensor of shape {self.shape})")
            if value.shape != self.shape or value.dtype != self.dtype or value.device != self.device:
                raise RuntimeError(f"grad: assigned grad has shape {value.shape}, dtype "
                                   f"{value.dtype}, device {value.device}; the tensor has shape "
                                   f"{self.shape}, dtype {self.dtype}, device {self.device}")
        self._grad = value

    def _grad_buffer(self):
        """An array the next gradient of this leaf may be written into directly, or None.

        Plain tensors offer none; a Parameter in a flat buffer offers its gradient view while
        its ``.grad`` is None, so a GEMM can write the weight gradient in place (no copy).
        """
        return None

    def _accumulate_grad(self, gx, create_graph):
        """Add the gradient ``gx`` into ``.grad`` (called by the engine for leaves)."""
        if tracing.STATE.grads is not None:  # gc.compile: this .grad steers the branch below
            tracing.note_grads((self,))
        if gx.shape != self.shape:  # NOTE: an op's backward must return its input's shape
            raise RuntimeError(f"backward: gradient of shape {gx.shape} for a leaf of shape "
                               f"{self.shape}; an op's backward returned the wrong shape")
        if gx.dtype != self.dtype:
            gx = gx.astype(self.dtype)
        grad = self._grad  # (checked shape and dtype above: no need for the setter's checks)
        if grad is None:
            # Copy: backward may hand one array to several inputs (add returns gy twice), and a
            # later in-place accumulation must not write into a shared array.
            self._grad = (gx if create_graph
                          else Tensor._make(gx.array.copy(), self.device, False, None, 0))
        elif create_graph or grad.requires_grad:
            self._grad = grad + gx
        else:  # in place, so a .grad that is a view into a flat gradient buffer stays one
            g = tracing.watch(grad.array)
            self.device.xp.add(g, gx.array, out=g)
            grad._version += 1

    # ---- operators ----------------------------------------------------------------------
    def __add__(self, other): return _arith.add(self, other)
    def __radd__(self, other): return _arith.add(other, self)  # other + self
    def __sub__(self, other): return _arith.sub(self, other)
    def __rsub__(self, other): return _arith.sub(other, self)  # other - self
    def __mul__(self, other): return _arith.mul(self, other)
    def __rmul__(self, other): return _arith.mul(other, self)  # other * self
    def __truediv__(self, other): return _arith.div(self, other)
    def __rtruediv__(self, other): return _arith.div(other, self)  # other / self
    def __pow__(self, other): return _arith.pow(self, other)
    def __mod__(self, other): return _binary.remainder(self, other)
    def __rmod__(self, other): return _binary.remainder(other, self)  # other % self
    def __round__(self, ndigits=None): return _elementwise.round(self, ndigits or 0)
    def __rpow__(self, other): return _arith.pow(other, self)  # other ** self
    def __matmul__(self, other): return _linalg.matmul(self, other)
    def __rmatmul__(self, other): return _linalg.matmul(other, self)  # other @ self
    def __neg__(self): return _arith.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _math.abs(self)
    def __getitem__(self, key): return _indexing.getitem(self, key)
    def __eq__(self, other): return _compare.equal(self, other)
    def __ne__(self, other): return _compare.not_equal(self, other)
    def __lt__(self, other): return _compare.less(self, other)
    def __le__(self, other): return _compare.less_equal(self, other)
    def __gt__(self, other): return _compare.greater(self, other)
    def __ge__(self, other): return _compare.greater_equal(self, other)


class _Size(int):
    """``Tensor.size``: NumPy's int; calling it (PyTorch's ``x.size()``) explains the choice."""

    __slots__ = ()

    def __call__(self, dim=None):
        hint = "x.shape" if dim is None else f"x.shape[{dim}]"
        raise TypeError(f"size is NumPy's attribute here, the number of elements (an int: "
                        f"{int(self)}), not PyTorch's method; for x.size() use {hint}, for "
                        "the element count x.size or x.numel()")


# The constructors and the ops build Tensors themselves, so they are imported once Tensor
# exists (creation first: the ops import as_tensor from it). This also loads every ops module
# the mixins (tensor_methods, tensor_inplace) reach as ``ops.<module>`` at call time.
from gradcore.creation import _to_array, as_tensor, get_default_dtype  # noqa: E402
from gradcore.autograd import engine as _engine  # noqa: E402
from gradcore.autograd.backprop import root_gradient as _root_gradient  # noqa: E402
from gradcore.ops import activation as _activation  # noqa: E402
from gradcore.ops import arithmetic as _arith  # noqa: E402
from gradcore.ops import binary as _binary  # noqa: E402
from gradcore.ops import compare as _compare  # noqa: E402
from gradcore.ops import convert as _convert  # noqa: E402
from gradcore.ops import diagonal as _diagonal  # noqa: E402
from gradcore.ops import elementwise as _elementwise  # noqa: E402
from gradcore.ops import indexing as _indexing  # noqa: E402
from gradcore.ops import inplace as _inplace  # noqa: E402
from gradcore.ops import linalg as _linalg  # noqa: E402
from gradcore.ops import math as _math  # noqa: E402
from gradcore.ops import products as _products  # noqa: E402
from gradcore.ops import reduction as _reduction  # noqa: E402
from gradcore.ops import reorder as _reorder  # noqa: E402
from gradcore.ops import repeat as _repeat  # noqa: E402
from gradcore.ops import scan as _scan  # noqa: E402
from gradcore.ops import shape as _shape  # noqa: E402
from gradcore.ops import softmax as _softmax  # noqa: E402
from gradcore.interop import dlpack as _dlpack  # noqa: E402
from gradcore.interop import numpy_protocol as _numpy_protocol  # noqa: E402
from gradcore.interop import torch_protocol as _torch_protocol  # noqa: E402
