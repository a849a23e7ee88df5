"""``Parameter``: a Tensor that a Module registers as trainable."""
from __future__ import annotations

from gradcore.tensor import Tensor, as_tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that requires grad and that :class:`Module` collects in ``parameters()``.

    After an optimizer is built, ``.data`` and ``.grad`` are views into one flat buffer per
    device and dtype (see :mod:`gradcore.nn.flat`); ``_pack`` points at that buffer.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.zeros(3))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ("_pack",)

    def __init__(self, data, requires_grad=True):
        t = as_tensor(data)
        super().__init__(t.data, device=t.device)
        self._pack = None
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
