"""``gc.compile``: trace a step once, replay it without Python overhead.

``compiled = gc.compile(fn)`` returns a callable with ``fn``'s signature. The first call for an
input signature (the shapes, dtypes, devices and ``requires_grad`` of its Tensor arguments, the
values of its other arguments, grad mode) runs ``fn`` once and records what it does: forward,
``backward()``, the optimizer step. Later calls with that signature copy their input Tensors into
the graph's input buffers and replay the recording: no Tensor or Function per op, no tape.

What a trace cannot see (as with ``jax.jit`` and CUDA graphs):

* Python control flow and Python values are frozen at trace time: a branch on a tensor's value,
  ``module.training``, a hyperparameter read outside an optimizer step. Compile one function
  per mode (train, eval).
* Host reads inside ``fn`` (``.item()``, ``.numpy()``, ``float(t)``, ``bool(t)``, printing)
  raise :class:`HostReadError` while tracing; return the tensor instead.
* Python side effects of ``fn`` (appending to a list, printing) happen once, at the trace.
  Optimizer steps, learning-rate schedulers, gradient clipping and random draws (``randn``,
  Dropout) are the exceptions: they register as host calls and run at every replay, so a seeded
  compiled run equals the eager run bit for bit on the CPU.
* Outputs are copies: each call returns new Tensors (detached), so a loss kept from the last
  step is never overwritten by the next replay.
* Gradients reach the parameters ``fn`` uses; input Tensors are copied into the graph's own
  buffers, so an input's ``.grad`` is not set (return ``x.grad`` from ``fn`` if you need it: it
  starts from None at every call), and a Parameter is refused as an argument (its gradient
  would be lost). An input that ``fn`` changes in place is copied back to the caller's tensor.
* A new signature traces again; at most ``cache_size`` recordings are kept (least recently used
  evicted). A recording is replayed only from the state it was traced in, as far as ``.grad``
  being None or not goes (``zero_grad()`` placement): another state traces again.

>>> import gradcore as gc
>>> net = gc.nn.Linear(3, 1)
>>> opt = gc.optim.SGD(net.parameters(), lr=0.1)
>>> @gc.compile
... def step(x, y):
...     opt.zero_grad()
...     loss = ((net(x) - y) ** 2).mean()
...     loss.backward()
...     opt.step()
...     return loss
>>> x, y = gc.ones(4, 3), gc.zeros(4, 1)
>>> first, second = step(x, y), step(x, y)
>>> bool(second.item() < first.item()), step.traces
(True, 1)
"""
from __future__ import annotations

import collections
import functools
import os

from gradcore import tracing
from gradcore.autograd.mode import STATE as MODE
from gradcore.compile.check import CheckError, checked_call
from gradcore.compile.cpu import HostReadError
from gradcore.nn.parameter import Parameter
from gradcore.tensor import Tensor

__all__ = ["compile", "Compiled", "CheckError", "HostReadError"]


def compile(fn=None, *, cache_size=8, check=None):
    """Trace ``fn`` once per input signature and replay it after (see :mod:`gradcore.compile`
    for what a trace cannot see).

    Usable as ``gc.compile(fn)``, ``@gc.compile`` or ``@gc.compile(cache_size=4)``; at most
    ``cache_size`` recordings are kept, the least recently used is dropped first. ``check=True``
    (or the environment variable ``GRADCORE_COMPILE_CHECK=1``) runs ``fn`` eagerly beside every
    replay and raises :class:`CheckError` where they differ (see :mod:`gradcore.compile.check`).

    >>> import gradcore as gc
    >>> double = gc.compile(lambda x: x * 2 + 1, cache_size=4)
    >>> double(gc.ones(2)).tolist(), double(gc.zeros(2)).tolist(), double.traces
    ([3.0, 3.0], [1.0, 1.0], 1)
    """
    if fn is None:
        return functools.partial(compile, cache_size=cache_size, check=check)
    if not callable(fn):
        raise TypeError(f"gc.compile: expected a function, got {type(fn).__name__}")
    if int(cache_size) < 1:
        raise ValueError(f"gc.compile: cache_size must be >= 1, got {cache_size}")
    if check is None:
        check = os.environ.get("GRADCORE_COMPILE_CHECK", "") not in ("", "0")
    return Compiled(fn, int(cache_size), bool(check))


class _Graph:
    """One recording: its replay, input buffers, and the ``.grad`` state it is valid from."""

    def __init__(self, replay, statics, guards, end_grads):
        self.replay, self.statics = replay, statics
        self.guards, self.end_grads = guards, end_grads

    def valid(self):
        for s in self.statics:
            s.grad = None  # an input's gradient starts from None at every call
        return all((t.grad is None) is was_none for t, was_none in self.guards)

    def run(self, tensors):
        for s, t in zip(self.statics, tensors):
            s.device.xp.copyto(s.array, t.array)
        self.replay()
        for t, g in self.end_grads:  # .grad as the traced call left it (a replay rebinds none)
            t.grad = g
        self.write_back(tensors)
        return _copy_out(self.replay.outputs)

    def write_back(self, tensors):
        """Inputs that ``fn`` changes in place (``x += 1``) change in the caller's tensors too."""
        for k in getattr(self.replay, "inputs_written", ()):
            tensors[k].device.xp.copyto(tensors[k].array, self.statics[k].array)
            tensors[k]._vc[0] += 1


class Compiled:
    """The callable ``gc.compile`` returns. ``traces`` counts the traces made so far."""

    def __init__(self, fn, cache_size, check=False):
        functools.update_wrapper(self, fn)
        self.fn, self.cache_size, self.check = fn, cache_size, check
        self.traces = 0
        self._cache = collections.OrderedDict()  # signature -> [_Graph]

    def __call__(self, *args, **kwargs):
        tensors, key = _signature(self.fn, args, kwargs)
        graphs = self._cache.get(key)
        if graphs is not None:
            self._cache.move_to_end(key)
            for g in graphs:
                if g.valid():
                    if self.check:
                        return checked_call(g, self.fn, args, kwargs, tensors, _copy_out)
                    return g.run(tensors)
        graph = self._trace(tensors, args, kwargs)
        self._cache.setdefault(key, []).append(graph)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return _copy_out(graph.replay.outputs)

    def _trace(self, tensors, args, kwargs):
        statics = [Tensor._make(t.array.copy(), t.device, t.requires_grad, None, 0)
                   for t in tensors]
        devices = {t.device.type for t in tensors} or {"cpu"}
        if devices == {"cpu"}:
            from gradcore.compile import cpu as backend
        else:
            try:
                from gradcore.compile import cuda as backend
            except ImportError as e:
                raise NotImplementedError(
                    "gc.compile: CUDA tensors need the capture layer gradcore.compile.cuda "
                    f"(not installed in this build: {e})") from e
        fn, slots = self.fn, _slots(args, kwargs)

        def bound(*statics_in):
            a, kw = _rebuild(args, kwargs, slots, statics_in)
            return fn(*a, **kw)
        bound.__name__ = getattr(fn, "__name__", "fn")
        tracing.STATE.grads = {}
        try:
            replay = backend.trace(bound, statics, {})
            noted = list(tracing.STATE.grads.values())
        finally:
            tracing.STATE.grads = None
        guards = [(t, was_none) for t, was_none in noted if was_none is not None]
        end_grads = [(t, t.grad) for t, _ in noted]
        self.traces += 1
        graph = _Graph(replay, statics, guards, end_grads)
        graph.write_back(tensors)
        return graph


def _slots(args, kwargs):
    """Where the Tensor arguments sit: ("a", i) or ("k", name)."""
    return [("a", i) for i, a in enumerate(args) if isinstance(a, Tensor)] + \
        [("k", k) for k, v in kwargs.items() if isinstance(v, Tensor)]


def _rebuild(args, kwargs, slots, statics):
    args, kwargs = list(args), dict(kwargs)
    for (kind, where), s in zip(slots, statics):
        if kind == "a":
            args[where] = s
        else:
            kwargs[where] = s
    return args, kwargs


def _signature(fn, args, kwargs):
    tensors, key = [], [MODE.grad_enabled]
    for name, v in [(i, a) for i, a in enumerate(args)] + sorted(kwargs.items()):
        if isinstance(v, Parameter):
            raise TypeError(f"gc.compile: argument {name!r} of {getattr(fn, '__name__', fn)} "
                            "is a Parameter; the graph copies its Tensor arguments into its own "
                            "buffers, so its gradient would not reach the Parameter: use "
                            "parameters through fn's closure (a module, an optimizer)")
        if isinstance(v, Tensor):
            tensors.append(v)
            key.append((name, v.shape, v.dtype.str, str(v.device), v.requires_grad))
        else:
            try:
                hash(v)
            except TypeError:
                raise TypeError(f"gc.compile: argument {name!r} of {getattr(fn, '__name__', fn)} "
                                f"is a {type(v).__name__}, which is neither a Tensor nor "
                                "hashable; pass Tensors, or Python values that are constants "
                                "of the trace") from None
            key.append((name, type(v).__name__, v))
    return tensors, tuple(key)


def _copy_out(x):
    """``x`` with every Tensor replaced by a detached copy (a replay rewrites the originals)."""
    if isinstance(x, Tensor):
        return Tensor._make(x.array.copy(), x.device, False, None, 0)
    if type(x) in (tuple, list):
        return type(x)(_copy_out(v) for v in x)
    if type(x) is dict:
        return {k: _copy_out(v) for k, v in x.items()}
    return x
