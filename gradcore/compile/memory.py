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
    the blocks)."""
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
            candidates.append((i, last[rid], r))
    candidates.sort(key=lambda c: c[0])
    blocks, free, home = [], [], {}  # free: (size, block index, free from entry index)
    for start, end, r in candidates:
        fits = [f for f in free if f[0] >= r.nbytes and f[2] < start]
        if fits:
            choice = min(fits, key=lambda f: f[0])
            free.remove(choice)
            k = choice[1]
        else:
            k = len(blocks)
            blocks.append(np.empty(max(r.nbytes, 1), np.uint8))
        home[id(r)] = blocks[k]
        free.append((blocks[k].nbytes, k, end))
    before = sum(r.nbytes for _, _, r in candidates)
    after = sum(b.nbytes for b in blocks)
    if not home:
        return entries, before, after, blocks
    remade = {}
    for e in entries:
        e.args = _rebind(e.args, home, roots, remade)
        e.kwargs = _rebind(e.kwargs, home, roots, remade)
    return entries, before, after, blocks


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
