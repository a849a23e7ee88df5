"""One contiguous buffer for many parameters, so an optimizer step is one kernel launch.

``FlatParameters`` owns a flat ``data`` array and a flat ``grad`` array of one device and dtype;
each Parameter's ``.array`` and ``.grad`` become views into them. ``zero_grad`` is one fill; the
fused optimizer kernels update every parameter in one pass. If user code rebinds a
parameter's ``.array`` or ``.grad`` to another array, :meth:`sync` copies it back into the views.
A ``.grad`` that is None stays None (its view holds no gradient): optimizers skip that
parameter, as PyTorch's do, and :meth:`runs` gives them the stretches of the buffer to update.
"""
from __future__ import annotations

from gradcore import backend, tracing
from gradcore.tensor import Tensor

__all__ = ["FlatParameters", "pack_parameters"]


class FlatParameters:
    """Parameters of one device and dtype living as views into two flat buffers.

    >>> import gradcore as gc
    >>> net = gc.nn.Linear(3, 2)
    >>> flat = gc.nn.FlatParameters(net.parameters())
    >>> flat.data[:] = 0; flat.size, net.weight.tolist()  # the weight is a view of the buffer
    (8, [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    """

    def __init__(self, params):
        params = list(params)
        if not params:
            raise ValueError("FlatParameters: no parameters to pack")
        self.device, self.dtype = params[0].device, params[0].dtype
        for p in params:
            if p.device is not self.device or p.dtype != self.dtype:
                raise ValueError(f"FlatParameters: parameters must share one device and dtype, got "
                                 f"{p.device}/{p.dtype} and {self.device}/{self.dtype}")
        self.params = params
        self.sizes = [p.size for p in params]
        self.size = sum(self.sizes)
        xp = self.device.xp
        self.data = xp.empty(self.size, self.dtype)
        self.grad = xp.zeros(self.size, self.dtype)
        self._views = []
        self._bind(copy=True)

    def _bind(self, copy):
        views, offset = [], 0
        for p in self.params:
            n = p.size
            data_view = self.data[offset:offset + n].reshape(p.shape)
            grad_view = self.grad[offset:offset + n].reshape(p.shape)
            if copy:
                data_view[...] = p.array
                if p.grad is not None:
                    grad_view[...] = p.grad.array
            grad = Tensor._make(grad_view, self.device, False, None, 0)
            p.array = data_view
            p.grad = None if p.grad is None else grad  # None stays None: no gradient yet
            p.device = self.device
            p._pack, p._slot = self, len(views)
            views.append((data_view, grad))
            offset += n
        self._views = views

    def intact(self):
        """True when every parameter's .array and .grad (unless None) are this buffer's views."""
        return all(p.array is d and (p.grad is g or p.grad is None)
                   for p, (d, g) in zip(self.params, self._views))

    def has_grad(self):
        """For each parameter: does it have a gradient (``.grad`` not None)?"""
        if tracing.STATE.grads is not None:  # gc.compile: the caller branches on these
            tracing.note_grads(self.params)
        return [p.grad is not None for p in self.params]

    def runs(self, keys):
        """The stretches ``(start, stop, first)`` of the flat buffers to update in one launch
        each: maximal runs of consecutive parameters with one key that is not None (``first``
        is the index of the run's first parameter). Parameters keyed None are skipped.

        >>> import gradcore as gc
        >>> flat = gc.nn.FlatParameters(gc.nn.Linear(3, 2).parameters())  # sizes 6 and 2
        >>> list(flat.runs([1, 1])), list(flat.runs([None, 1])), list(flat.runs([1, 2]))
        ([(0, 8, 0)], [(6, 8, 1)], [(0, 6, 0), (6, 8, 1)])
        """
        start = offset = first = 0
        current = None
        for k, (n, key) in enumerate(zip(self.sizes, keys)):
            if key != current:
                if current is not None:
                    yield start, offset, first
                start, first, current = offset, k, key
            offset += n
        if current is not None:
            yield start, offset, first

    def grad_view(self, slot):
        """The array of parameter ``slot``'s gradient view."""
        return self._views[slot][1].array

    def store_grad(self, slot, gx):
        """Make parameter ``slot``'s gradient ``gx``, copied into its view (after set-to-none);
        no copy when an op already wrote it there (see Tensor._grad_buffer)."""
        p, (_, g) = self.params[slot], self._views[slot]
        if gx is not g.array:
            g.device.xp.copyto(tracing.watch(g.array), gx, casting="same_kind")
        g._version += 1
        p._grad = g  # its own view: the .grad setter's checks hold by construction

    def sync(self):
        """Copy rebound ``.array``/``.grad`` arrays back into the views and rebind them (a
        ``.grad`` set to None stays None).

        Shapes are checked first, so a failed sync changes nothing (a wrong-shaped ``.grad``
        would otherwise broadcast silently into the view)."""
        for p, (d, g) in zip(self.params, self._views):
            if p.array is not d and p.array.shape != d.shape:
                raise RuntimeError(f"FlatParameters: a parameter of shape {d.shape} was "
                                   f"rebound to shape {p.array.shape}")
            if p.grad is not g and p.grad is not None and p.grad.shape != d.shape:
                raise RuntimeError(f"FlatParameters: the .grad of a parameter of shape {d.shape} "
                                   f"was set to a tensor of shape {p.grad.shape}")
        for p, (d, g) in zip(self.params, self._views):
            if p.array is not d:
                d[...] = backend.to_device(p.array, self.device)
                p.array = d
            if p.grad is not g and p.grad is not None:
                g.array[...] = backend.to_device(p.grad.array, self.device)
                p.grad = g

    def release(self):
        """Detach every parameter from this buffer (their arrays stay as they are)."""
        self.sync()
        for p in self.params:
            p._pack = None

    def zero_grad(self, set_to_none=True):
        """Reset the gradients: to None (the next backward copies into the views, no fill), or
        with ``set_to_none=False`` to zeros with one fill of the flat buffer."""
        if tracing.STATE.grads is not None:
            tracing.note_grads(self.params, reads=False)
        if set_to_none:
            for p in self.params:
                p.grad = None
            return
        tracing.watch(self.grad).fill(0)
        for p, (_, g) in zip(self.params, self._views):
            g._version += 1
            p._grad = g  # its own view: the .grad setter's checks hold by construction

    def bump_versions(self, which=None):
        """Mark the parameters (those flagged in ``which``, or all) as modified in place."""
        for p, changed in zip(self.params, which or [True] * len(self.params)):
            if changed:
                p._version += 1

    def to(self, device):
        """Move both buffers to ``device`` (one copy each) and rebind every view."""
        device = backend.device(device)
        if device is self.device:
            return self
        self.sync()
        self.data = backend.to_device(self.data, device)
        self.grad = backend.to_device(self.grad, device)
        self.device = device
        self._bind(copy=False)
        return self


def pack_parameters(params):
    """Group ``params`` by (device, dtype) and pack each group; reuse packs that already match.

    >>> import gradcore as gc
    >>> net = gc.nn.Linear(3, 2)
    >>> packs = gc.nn.pack_parameters(net.parameters())
    >>> len(packs), packs[0].size, gc.nn.pack_parameters(net.parameters())[0] is packs[0]
    (1, 8, True)
    """
    groups = {}
    for p in params:
        groups.setdefault((p.device, p.dtype), []).append(p)
    packs = []
    for members in groups.values():
        existing = members[0]._pack
        if existing is not None and _same(existing.params, members) and existing.device is members[0].device:
            existing.sync()
            packs.append(existing)
        else:
            packs.append(FlatParameters(members))
    return packs


def _same(a, b):
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))
