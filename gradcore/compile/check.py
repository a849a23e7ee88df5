"""``gc.compile(fn, check=True)``: run ``fn`` eagerly beside every replay and compare.

For a user who suspects the recording missed something (a computation the tracer could not see
is frozen: a silent wrong answer). Each call then

1. saves the state the step touches: the arrays the recording reads or writes that it did not
   create (parameters, gradients, running statistics), the ``state_dict`` of the objects whose
   host calls it replays (optimizers, schedulers), gradcore's random generator, ``.grad``
   bindings;
2. runs ``fn`` eagerly and keeps its outputs and the state it left;
3. puts the saved state back, replays, and compares outputs and state with eager's, exactly
   (the CPU replay runs the same NumPy calls in the same order). A difference raises
   :class:`CheckError` naming what differs; the replay's state is kept.

It costs an eager step and copies of the state per call: a debugging aid, CPU recordings only.
"""
from __future__ import annotations

import numpy as np

from gradcore import rng
from gradcore.tensor import Tensor

__all__ = ["CheckError", "checked_call"]


class CheckError(AssertionError):
    """A compiled replay gave another result than the eager run of the same call."""


def checked_call(graph, fn, args, kwargs, tensors, copy_out):
    """Run ``graph`` (a recording of ``fn``) for this call, checked against eager."""
    state = getattr(graph.replay, "state", None)
    if state is None:
        raise NotImplementedError("gc.compile(check=True) compares CPU recordings only")
    arrays, owners = state()
    inputs = {id(s.array) for s in graph.statics}  # the eager run reads the caller's tensors
    arrays = [a for a in arrays if id(a) not in inputs]
    before = _save(arrays, owners, graph, tensors)
    eager = copy_out(fn(*args, **kwargs))
    after_eager = [a.copy() for a in arrays], [_arrays_of(o.state_dict()) for o in owners]
    _restore(arrays, owners, before)
    out = graph.run(tensors)
    where = getattr(fn, "__name__", "fn")
    _same(f"{where}: output", _leaves(out), _leaves(eager))
    _same(f"{where}: a parameter, gradient or buffer", arrays, after_eager[0])
    for o, e in zip(owners, after_eager[1]):
        _same(f"{where}: the state of {type(o).__name__}", _arrays_of(o.state_dict()), e)
    return out


def _save(arrays, owners, graph, tensors):
    bound = [(t, t.grad) for t, _ in graph.end_grads] + [(t, t.grad) for t in tensors]
    return ([a.copy() for a in arrays], [_arrays_of(o.state_dict(), keep=True) for o in owners],
            rng.random_state().bit_generator.state, bound)


def _restore(arrays, owners, saved):
    copies, states, rng_state, bound = saved
    for a, c in zip(arrays, copies):
        np.copyto(a, c)
    for o, s in zip(owners, states):
        o.load_state_dict(s)
    rng.random_state().bit_generator.state = rng_state
    for t, g in bound:
        t.grad = g


def _arrays_of(x, keep=False):
    """A state dict's values as a flat list of arrays (numbers included, as 0-d arrays), or
    with ``keep`` the dict itself with every Tensor replaced by a copy of its array."""
    if keep:
        if isinstance(x, Tensor):
            return x.array.copy()
        if isinstance(x, dict):
            return {k: _arrays_of(v, True) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(_arrays_of(v, True) for v in x)
        return x
    if isinstance(x, Tensor):
        return [x.array.copy()]
    if isinstance(x, dict):
        return [a for v in x.values() for a in _arrays_of(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _arrays_of(v)]
    if isinstance(x, (int, float, np.ndarray, np.generic)) and not isinstance(x, bool):
        return [np.array(x)]
    return []


def _leaves(x):
    if isinstance(x, Tensor):
        return [x.array]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _leaves(v)]
    if isinstance(x, dict):
        return [a for v in x.values() for a in _leaves(v)]
    return []


def _same(what, got, want):
    for k, (a, b) in enumerate(zip(got, want)):
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            diff = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) \
                if a.shape == b.shape else "shapes differ"
            raise CheckError(f"gc.compile(check=True): {what} #{k} (shape {a.shape}) differs "
                             f"between the replay and the eager run (max |difference| {diff}); "
                             "the recording missed a computation: please report it")
