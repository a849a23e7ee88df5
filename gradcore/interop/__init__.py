"""Interop: NumPy's protocols (NEP 13 and NEP 18), DLPack both ways, and PyTorch's
``__torch_function__``.

``Tensor``'s dunder methods (``__array_ufunc__``, ``__array_function__``, ``__dlpack__``,
``__dlpack_device__``, ``__torch_function__``) delegate, in plain code, to the modules here:

* :mod:`gradcore.interop.numpy_protocol`: the tables that send ``numpy.sum(t)``,
  ``numpy.exp(t)``, ``ndarray + t``... to gradcore's ops, so they stay differentiable;
* :mod:`gradcore.interop.dlpack`: zero-copy exchange with NumPy, PyTorch, CuPy and JAX;
* :mod:`gradcore.interop.torch_protocol`: gradcore tensors as arguments of torch functions
  (``torch_module.load_state_dict(gc_module.state_dict())``).

>>> import numpy, gradcore as gc
>>> x = gc.tensor([1.0, 2.0], requires_grad=True)
>>> numpy.sum(numpy.square(x)).backward()  # gradcore's square and sum, on the tape
>>> x.grad.tolist()
[2.0, 4.0]
"""
from gradcore.interop.dlpack import from_dlpack

__all__ = ["from_dlpack"]
