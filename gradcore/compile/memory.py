"""Memory planning for the CPU replay: intermediate buffers share memory by liveness.

A trace allocates a new buffer for every intermediate result and keeps all of them alive (the
schedule refers to them), so without planning a recording holds the whole step's temporaries at
once, where eager frees each when its last user is done. The planner gives every *plannable*
buffer a live range in the schedule (first entry that touches it to last) and packs the ranges
into a few blocks, best fit, a block being reused only by a buffer whose range starts strictly
after the previous tenant's ends (an entry never reads and writes two tenants of one block).

Plannable: created by the trace, not reachable from the program after it (outputs, ``.grad``
and module attributes are kept), untouched by host calls, not of an object dtype, and first
touched by an entry that
overwrites it entirely without reading it (so no value has to survive from one replay to the
next). Every array an entry refers to that lives in such a buffer, views included, is re-made
on the buffer's block at the same byte offset and strides: no view derivation needs recording.
"""
from __future__ import annotations

import numpy as np

from gradcore.compile.traced import root

__all__ = ["plan", "held_bytes"]


def held_bytes(entries, born, blocks):
    """Bytes of the buffers a recording holds for itself: those the trace created (outputs
    included) and the planned blocks; not parameters, gradients or other state of the program."""
    own = {id(b) for b in blocks} | set(born)
    seen = {}
    for e in entries:
        for a in _each_array((e.args, e.kwargs)):
            r = root(a)
            if id(r) in own:
                seen[id(r)] = r.nbytes
    return sum(seen.values())


def _each_array(x):
    if isinstance(x, np.ndarray):
        yield x
    elif type(x) in (tuple, list):
        for v in x:
            yield from _each_array(v)
    elif type(x) is dict:
        for v in x.values():
            yield from _each_array(v)


def plan(entries, born, keep):
    """Re-point ``entries`` at shared blocks; returns (entries, bytes before, bytes after,
    the blocks, how many results are computed in place of an input)."""
    first, last, pinned = {}, {}, set(keep)
    roots = {}
    for i, e in enumerate(entries):
        touched = list(e.reads) + list(e.writes)
        if e.kind == "host":
            pinned.update(id(r) for r in touched)
        for r in touched:
            roots[id(r)] = r
            first.setdefault(id(r), (i, e))
            last[id(r)] = i
    candidates = []
    for rid, (i, e) in first.items():
        r = roots[rid]
        # NOTE: never object arrays (np.vectorize results): raw memory would be read as pointers
        if rid in born and rid not in pinned and r.flags.c_contiguous and r.base is None \
                and not r.dtype.hasobject \
                and any(f is r for f in e.full) and not any(x is r for x in e.reads):
            candidates.append((i, last[rid], r, e))
    candidates.sort(key=lambda c: c[0])
    blocks, free, home = [], [], {}  # free: (size, block index, free from entry index)
    where, shared = {}, 0  # id(root) -> block index; results computed in place
    for start, end, r, e in candidates:
        fits = [f for f in free if f[0] >= r.nbytes and f[2] < start]
        k = _in_place(e, r, start, last, where)
        if k is not None:  # an elementwise result takes the block of an input it ends
            free.remove(next(f for f in free if f[1] == k))
            shared += 1
        elif fits:
            choice = min(fits, key=lambda f: f[0])
            free.remove(choice)
            k = choice[1]
        else:
            k = len(blocks)
            blocks.append(np.empty(max(r.nbytes, 1), np.uint8))
        home[id(r)], where[id(r)] = blocks[k], k
        free.append((blocks[k].nbytes, k, end))
    before = sum(c[2].nbytes for c in candidates)
    after = sum(b.nbytes for b in blocks)
    if not home:
        return entries, before, after, blocks, shared
    remade = {}
    for e in entries:
        e.args = _rebind(e.args, home, roots, remade)
        e.kwargs = _rebind(e.kwargs, home, roots, remade)
    return entries, before, after, blocks, shared


def _in_place(e, r, start, last, where):
    """The block ``r`` may share with an input of ``e``, its first writer: ``e`` is an
    elementwise ufunc call, the input is the whole of a planned buffer whose last use is ``e``,
    with the shape, strides and dtype of the output (NumPy computes such an exact overlap in
    place), as the hand-written ``z += b; maximum(z, 0, out=z)`` does."""
    if not IN_PLACE or not isinstance(e.fn, np.ufunc) or e.fn.signature is not None \
            or "where" in e.kwargs:
        return None
    outs = e.kwargs.get("out")
    outs = outs if type(outs) is tuple else (outs,)
    o = next((a for a in outs if isinstance(a, np.ndarray) and root(a) is r), None)
    if o is None or o.size != r.size or not o.flags.c_contiguous:
        return None
    for a in e.args:
        if isinstance(a, np.ndarray):
            q = root(a)
            if id(q) in where and last[id(q)] == start and a.size == q.size \
                    and a.shape == o.shape and a.strides == o.strides and a.dtype == o.dtype:
                return where[id(q)]
    return None


# In place or not: on the MLP step 784-1024-1024-10 b256, interleaved in one process on the
# 2-core EPYC (lightly loaded), in place 20.9/22.7 ms (min) and 23.2/24.1 ms (median) against
# 22.1/22.8 and 24.2/25.2 without, two runs: the hand-written NumPy step works in place too.
IN_PLACE = True


def _rebind(x, home, roots, remade):
    """``x`` (an argument) with every array living in a planned buffer re-made on its block."""
    if isinstance(x, np.ndarray):
        r = root(x)
        block = home.get(id(r))
        if block is None:
            return x
        key = id(x)
        if key not in remade:
            offset = x.__array_interface__["data"][0] - r.__array_interface__["data"][0]
            remade[key] = (x, np.ndarray(x.shape, x.dtype, buffer=block, offset=offset,
                                         strides=x.strides))
        return remade[key][1]
    t = type(x)
    if t is tuple or t is list:
        return t(_rebind(v, home, roots, remade) for v in x)
    if t is dict:
        return {k: _rebind(v, home, roots, remade) for k, v in x.items()}
    return x
