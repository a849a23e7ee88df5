"""The reverse-mode tape (Function, engine), grad modes, functional transforms and numerical checks.

The names PyTorch code reaches for as ``torch.autograd.X`` are here too: ``Function`` (both
forms of a custom op), ``grad`` and ``backward`` (PyTorch's signatures: they take computed
tensors; the top-level ``gc.grad`` is the JAX-style transform), ``gradcheck``, the grad modes
and ``detect_anomaly``.

>>> import gradcore as gc
>>> gc.autograd.Function is gc.Function
True
"""
from gradcore.autograd.backprop import backward, grad
from gradcore.autograd.function import Function
from gradcore.autograd.mode import (detect_anomaly, enable_grad, no_grad, set_detect_anomaly,
                                    set_grad_enabled)
from gradcore.autograd.numerical import gradcheck

__all__ = ["Function", "backward", "detect_anomaly", "enable_grad", "grad", "gradcheck", "no_grad",
           "set_detect_anomaly", "set_grad_enabled"]
