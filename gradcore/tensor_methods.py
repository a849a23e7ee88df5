"""The methods of :class:`gradcore.Tensor` that only delegate to an op: NumPy's names
(``x.sum(axis=1)``, ``x.reshape(2, 3)``) and PyTorch's (``x.unsqueeze(0)``, ``x.double()``).

The seam: ``gradcore/tensor.py`` holds what a tensor *is* (storage, device, version counter, the
tape links, conversion, in-place updates and the operators); this mixin holds the methods that
are one call into :mod:`gradcore.ops`, so adding an op's method touches neither. The ops are
reached as ``ops.<module>.<function>`` at call time: they import Tensor, so they are loaded only
after it exists (at the bottom of tensor.py), while this mixin must exist before it.
"""
from __future__ import annotations

from gradcore import ops

__all__ = ["TensorMethods"]


class TensorMethods:
    """Delegating methods of :class:`gradcore.Tensor` (see the module docstring)."""

    __slots__ = ()

    # ---- NumPy's names ------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Sum over ``axis`` (see :func:`gradcore.sum`)."""
        return ops.reduction.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Mean over ``axis`` (see :func:`gradcore.mean`)."""
        return ops.reduction.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def var(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
        """Variance over ``axis`` (see :func:`gradcore.var`)."""
        return ops.reduction.var(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim)
    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Maximum over ``axis``: the values only, as NumPy (PyTorch's ``x.max(1)`` also returns
        indices: use :meth:`argmax`; see :func:`gradcore.max`)."""
        return ops.reduction.max(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Minimum over ``axis``: the values only, as NumPy (indices: :meth:`argmin`; see
        :func:`gradcore.min`)."""
        return ops.reduction.min(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """log(sum(exp(x))) over ``axis`` without overflow (see :func:`gradcore.logsumexp`)."""
        return ops.softmax.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def softmax(self, axis=-1, *, dim=None):
        """Softmax along ``axis`` (see :func:`gradcore.softmax`)."""
        return ops.softmax.softmax(self, axis, dim=dim)
    def log_softmax(self, axis=-1, *, dim=None):
        """Log-softmax along ``axis`` (see :func:`gradcore.log_softmax`)."""
        return ops.softmax.log_softmax(self, axis, dim=dim)
    def std(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None):
        """Standard deviation over ``axis``, ``ddof=0`` as NumPy (PyTorch's default is 1; see
        :func:`gradcore.std`)."""
        return ops.reduction.std(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim)
    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Product over ``axis``, exact gradient with zeros (see :func:`gradcore.prod`)."""
        return ops.scan.prod(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def cumsum(self, axis=None, *, dim=None):
        """Running sum along ``axis`` (see :func:`gradcore.cumsum`)."""
        return ops.scan.cumsum(self, axis, dim=dim)
    def cumprod(self, axis=None, *, dim=None):
        """Running product along ``axis`` (see :func:`gradcore.cumprod`)."""
        return ops.scan.cumprod(self, axis, dim=dim)
    def all(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Whether all elements over ``axis`` are nonzero (see :func:`gradcore.all`)."""
        return ops.reduction.all(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def any(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Whether any element over ``axis`` is nonzero (see :func:`gradcore.any`)."""
        return ops.reduction.any(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def repeat(self, *repeats, axis=None, dim=None):
        """Each element repeated, NumPy's ``repeat`` with ``axis=`` by keyword (PyTorch's tiling
        ``x.repeat(2, 3)`` raises, pointing to :func:`gradcore.tile`)."""
        return ops.repeat.tensor_repeat(self, *repeats, axis=axis, dim=dim)
    def take(self, indices, axis=None, *, dim=None):
        """Elements at ``indices`` along ``axis`` (see :func:`gradcore.take`)."""
        return ops.indexing.take(self, indices, axis, dim=dim)
    def argsort(self, axis=-1, *, dim=None):
        """Indices that sort along ``axis``, stable (see :func:`gradcore.argsort`)."""
        return ops.reorder.argsort(self, axis, dim=dim)
    def nonzero(self):
        """Indices of the nonzero elements as NumPy gives them, a tuple of one tensor per axis
        (PyTorch's is one (n, ndim) tensor; see :func:`gradcore.nonzero`)."""
        return ops.indexing.nonzero(self)
    def dot(self, other):
        """NumPy's ``dot`` (see :func:`gradcore.dot`)."""
        return ops.products.dot(self, other)
    def trace(self, offset=0, axis1=0, axis2=1):
        """Sum of a diagonal (see :func:`gradcore.trace`)."""
        return ops.diagonal.trace(self, offset, axis1, axis2)
    def diagonal(self, offset=0, axis1=0, axis2=1):
        """A diagonal as the last axis (see :func:`gradcore.diagonal`)."""
        return ops.diagonal.diagonal(self, offset, axis1, axis2)
    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the maximum over ``axis``, an int64 tensor, not differentiated (see
        :func:`gradcore.argmax`)."""
        return ops.reduction.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the minimum over ``axis``, an int64 tensor, not differentiated (see
        :func:`gradcore.argmin`)."""
        return ops.reduction.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)
    def reshape(self, *shape):
        """The same elements in a new shape: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
        return ops.shape.reshape(self, shape[0] if len(shape) == 1 else shape)
    def transpose(self, *axes):
        """Permute the axes (reversed if none are given): ``x.transpose(1, 0)``."""
        return ops.shape.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    def swapaxes(self, axis1, axis2):
        """Interchange two axes (see :func:`gradcore.swapaxes`)."""
        return ops.shape.swapaxes(self, axis1, axis2)
    def squeeze(self, axis=None, *, dim=None):
        """Remove size-1 axes (see :func:`gradcore.squeeze`)."""
        return ops.shape.squeeze(self, axis, dim=dim)
    def expand_dims(self, axis=None, *, dim=None):
        """Insert size-1 axes at ``axis`` (see :func:`gradcore.expand_dims`)."""
        return ops.shape.expand_dims(self, axis, dim=dim)
    def broadcast_to(self, shape):
        """Broadcast to ``shape`` (see :func:`gradcore.broadcast_to`)."""
        return ops.shape.broadcast_to(self, shape)
    def flatten(self, start_dim=0, end_dim=-1):
        """Join axes ``start_dim..end_dim`` into one; all by default (see :func:`gradcore.flatten`)."""
        return ops.shape.flatten(self, start_dim, end_dim)
    def matmul(self, other):
        """``self @ other`` (see :func:`gradcore.matmul`)."""
        return ops.linalg.matmul(self, other)
    def exp(self):
        """Elementwise e**x (see :func:`gradcore.exp`)."""
        return ops.math.exp(self)
    def log(self):
        """Elementwise natural logarithm (see :func:`gradcore.log`)."""
        return ops.math.log(self)
    def log1p(self):
        """Elementwise log(1 + x) (see :func:`gradcore.log1p`)."""
        return ops.math.log1p(self)
    def sqrt(self):
        """Elementwise square root (see :func:`gradcore.sqrt`)."""
        return ops.math.sqrt(self)
    def abs(self):
        """Elementwise absolute value (see :func:`gradcore.abs`)."""
        return ops.math.abs(self)
    def sin(self):
        """Elementwise sine (see :func:`gradcore.sin`)."""
        return ops.math.sin(self)
    def cos(self):
        """Elementwise cosine (see :func:`gradcore.cos`)."""
        return ops.math.cos(self)
    def clip(self, min=None, max=None):
        """Limit values to ``[min, max]`` (see :func:`gradcore.clip`)."""
        return ops.math.clip(self, min, max)
    def tanh(self):
        """Elementwise hyperbolic tangent (see :func:`gradcore.tanh`)."""
        return ops.activation.tanh(self)
    def sigmoid(self):
        """Elementwise logistic sigmoid (see :func:`gradcore.sigmoid`)."""
        return ops.activation.sigmoid(self)
    def relu(self):
        """Elementwise max(x, 0) (see :func:`gradcore.relu`)."""
        return ops.activation.relu(self)
    def round(self, decimals=0):
        """Round to ``decimals`` places, zero gradient (see :func:`gradcore.round`)."""
        return ops.elementwise.round(self, decimals)

    # ---- PyTorch's names ----------------------------------------------------------------
    def unsqueeze(self, dim):
        """Insert a size-1 axis at ``dim`` (PyTorch's name of :meth:`expand_dims`)."""
        return ops.shape.expand_dims(self, dim)
    def permute(self, *dims):
        """Reorder the axes: ``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))`` (see
        :func:`gradcore.transpose`)."""
        return ops.shape.transpose(self, dims[0] if len(dims) == 1 else dims)
    def view(self, *shape):
        """The same storage in a new shape (``x.view(2, -1)``), sharing the version counter, as
        PyTorch's ``view``; a shape that needs a copy (a non-contiguous tensor) raises, use
        :meth:`reshape`. ``view(dtype)`` (reinterpreting bits) is not supported."""
        return ops.shape.view(self, shape[0] if len(shape) == 1 else shape)
    def view_as(self, other):
        """``self.view(other.shape)``."""
        return self.view(other.shape)
    def reshape_as(self, other):
        """``self.reshape(other.shape)``."""
        return ops.shape.reshape(self, other.shape)
    def expand(self, *sizes):
        """Broadcast to ``sizes`` without copying, ``-1`` keeping an axis (PyTorch's
        ``expand``; see :func:`gradcore.broadcast_to`)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a tensor of shape {self.shape}")
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s
                      for i, s in enumerate(sizes))
        return ops.shape.broadcast_to(self, shape)
    def expand_as(self, other):
        """``self.expand(other.shape)``."""
        return ops.shape.broadcast_to(self, other.shape)
    def type_as(self, other):
        """Cast to ``other``'s dtype (differentiable between float dtypes)."""
        return ops.convert.astype(self, other.dtype)
    def pow(self, exponent):
        """Elementwise ``self ** exponent`` (see :func:`gradcore.pow`)."""
        return ops.arithmetic.pow(self, exponent)
    def mm(self, other):
        """Matrix product of two 2-D tensors (PyTorch's ``mm``; :meth:`matmul` broadcasts)."""
        return ops.linalg.mm(self, other)
    def clone(self):
        """A differentiable copy with its own storage (see :func:`gradcore.ops.convert.clone`)."""
        return ops.convert.clone(self)
    def double(self):
        """Cast to float64 (differentiable)."""
        return ops.convert.astype(self, "float64")
    def float(self):
        """Cast to float32 (differentiable)."""
        return ops.convert.astype(self, "float32")
    def half(self):
        """Cast to float16 (differentiable)."""
        return ops.convert.astype(self, "float16")
    def long(self):
        """Cast to int64 (the result never requires grad)."""
        return ops.convert.astype(self, "int64")
    def int(self):
        """Cast to int32 (the result never requires grad)."""
        return ops.convert.astype(self, "int32")
    def bool(self):
        """Cast to bool (the result never requires grad)."""
        return ops.convert.astype(self, "bool")
    def eq(self, other):
        """Elementwise ``self == other`` (see :func:`gradcore.equal`)."""
        return ops.compare.equal(self, other)
    def ne(self, other):
        """Elementwise ``self != other`` (see :func:`gradcore.not_equal`)."""
        return ops.compare.not_equal(self, other)
    def lt(self, other):
        """Elementwise ``self < other`` (see :func:`gradcore.less`)."""
        return ops.compare.less(self, other)
    def le(self, other):
        """Elementwise ``self <= other`` (see :func:`gradcore.less_equal`)."""
        return ops.compare.less_equal(self, other)
    def gt(self, other):
        """Elementwise ``self > other`` (see :func:`gradcore.greater`)."""
        return ops.compare.greater(self, other)
    def ge(self, other):
        """Elementwise ``self >= other`` (see :func:`gradcore.greater_equal`)."""
        return ops.compare.greater_equal(self, other)

    # ---- the rest of the elementwise table (gradcore/ops/elementwise.py) as methods
    def log2(self):
        """Elementwise ``log2`` (see :func:`gradcore.log2`)."""
        return ops.elementwise.log2(self)
    def log10(self):
        """Elementwise ``log10`` (see :func:`gradcore.log10`)."""
        return ops.elementwise.log10(self)
    def exp2(self):
        """Elementwise ``exp2`` (see :func:`gradcore.exp2`)."""
        return ops.elementwise.exp2(self)
    def expm1(self):
        """Elementwise ``expm1`` (see :func:`gradcore.expm1`)."""
        return ops.elementwise.expm1(self)
    def square(self):
        """Elementwise ``square`` (see :func:`gradcore.square`)."""
        return ops.elementwise.square(self)
    def reciprocal(self):
        """Elementwise ``reciprocal`` (see :func:`gradcore.reciprocal`)."""
        return ops.elementwise.reciprocal(self)
    def sign(self):
        """Elementwise ``sign`` (see :func:`gradcore.sign`)."""
        return ops.elementwise.sign(self)
    def floor(self):
        """Elementwise ``floor`` (see :func:`gradcore.floor`)."""
        return ops.elementwise.floor(self)
    def ceil(self):
        """Elementwise ``ceil`` (see :func:`gradcore.ceil`)."""
        return ops.elementwise.ceil(self)
    def trunc(self):
        """Elementwise ``trunc`` (see :func:`gradcore.trunc`)."""
        return ops.elementwise.trunc(self)
    def tan(self):
        """Elementwise ``tan`` (see :func:`gradcore.tan`)."""
        return ops.elementwise.tan(self)
    def sinh(self):
        """Elementwise ``sinh`` (see :func:`gradcore.sinh`)."""
        return ops.elementwise.sinh(self)
    def cosh(self):
        """Elementwise ``cosh`` (see :func:`gradcore.cosh`)."""
        return ops.elementwise.cosh(self)
    def arcsin(self):
        """Elementwise ``arcsin`` (see :func:`gradcore.arcsin`)."""
        return ops.elementwise.arcsin(self)
    def arccos(self):
        """Elementwise ``arccos`` (see :func:`gradcore.arccos`)."""
        return ops.elementwise.arccos(self)
    def arctan(self):
        """Elementwise ``arctan`` (see :func:`gradcore.arctan`)."""
        return ops.elementwise.arctan(self)
    def arcsinh(self):
        """Elementwise ``arcsinh`` (see :func:`gradcore.arcsinh`)."""
        return ops.elementwise.arcsinh(self)
    def arccosh(self):
        """Elementwise ``arccosh`` (see :func:`gradcore.arccosh`)."""
        return ops.elementwise.arccosh(self)
    def arctanh(self):
        """Elementwise ``arctanh`` (see :func:`gradcore.arctanh`)."""
        return ops.elementwise.arctanh(self)
    def erf(self):
        """Elementwise error function (see :func:`gradcore.erf`)."""
        return ops.math.erf(self)
