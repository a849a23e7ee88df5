"""``__torch_function__``: gradcore Tensors as arguments of PyTorch functions and methods.

PyTorch calls ``Tensor.__torch_function__`` when a torch function (``torch.add``,
``torch_param.copy_``...) gets a gradcore Tensor. The gradcore Tensors are handed to PyTorch
through DLPack (zero copy, see :mod:`gradcore.interop.dlpack`) and the torch function runs on
them, returning what it returns (torch tensors). That is what ``torch_module.load_state_dict(
gc_module.state_dict())`` needs: PyTorch accepts "tensor-like" values (those with
``__torch_function__``) and copies each into its parameter with ``param.copy_(value)``.

A gradcore Tensor that requires grad is refused: PyTorch cannot differentiate through
gradcore's tape, so the result would silently carry no gradient. Pass ``t.detach()``.
"""
from __future__ import annotations

from gradcore.tensor import Tensor


def torch_function(func, types, args, kwargs):
    """``Tensor.__torch_function__``: ``func`` with the gradcore Tensors converted to torch."""
    import torch  # only reached from PyTorch's own dispatch: torch is imported already

    if not all(issubclass(t, (Tensor, torch.Tensor)) for t in types):
        return NotImplemented
    name = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
    return func(*_to_torch(args, name, torch), **_to_torch(kwargs or {}, name, torch))


def _to_torch(obj, name, torch):
    if isinstance(obj, Tensor):
        if obj.requires_grad:
            raise TypeError(f"torch {name}: a gradcore tensor (shape {obj.shape}) that requires "
                            "grad cannot enter PyTorch, which cannot differentiate through "
                            "gradcore; pass t.detach()")
        return torch.from_dlpack(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(v, name, torch) for v in obj)
    if isinstance(obj, dict):
        return {k: _to_torch(v, name, torch) for k, v in obj.items()}
    return obj
