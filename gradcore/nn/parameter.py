"""``Parameter``: a Tensor that a Module registers as trainable."""
from __future__ import annotations

from gradcore import tracing
from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that requires grad and that :class:`Module` collects in ``parameters()``.

    After an optimizer is built, ``.array`` and ``.grad`` are views into one flat buffer per
    device and dtype (see :mod:`gradcore.nn.flat`); ``_pack`` points at that buffer.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.zeros(3))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ("_pack", "_slot")

    def __init__(self, data, requires_grad=True):
        t = as_tensor(data)
        super().__init__(t.array, device=t.device)
        self._pack, self._slot = None, 0
        self.requires_grad_(requires_grad)

    def _grad_buffer(self):
        if tracing.STATE.grads is not None:  # gc.compile: the branch depends on .grad
            tracing.note_grads((self,))
        pack = self._pack
        if self.grad is None and pack is not None:
            return pack.grad_view(self._slot)
        return None

    def _accumulate_grad(self, gx, create_graph):
        # After zero_grad(set_to_none=True) a packed parameter's first gradient is copied
        # straight into its view of the flat buffer: one pass, where fill + add would be three.
        if tracing.STATE.grads is not None:  # gc.compile: the branch depends on .grad
            tracing.note_grads((self,))
        pack = self._pack
        if self.grad is None and pack is not None and not create_graph and gx.shape == self.shape:
            pack.store_grad(self._slot, gx.array)
            return
        super()._accumulate_grad(gx, create_graph)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
