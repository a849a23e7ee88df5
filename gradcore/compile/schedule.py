"""The CPU replay: a flat schedule of array calls, and the build-time passes that shrink it.

A trace gives a list of :class:`~gradcore.compile.traced.Entry` (a call that writes one or more
buffers, or a host call). Before it becomes a schedule, two passes run:

* **dead-op elimination**: walking backwards, an entry is kept when it is a host call, writes a
  buffer the trace did not create (a parameter's gradient, a running statistic, an input), or
  writes a buffer that a kept entry reads, that the function returns, or that is still reachable
  from the program after the trace (a ``.grad``, a module attribute);
* **constant folding**: an entry whose inputs are all constants (the values of buffers written
  only by such entries; seeds are calls that read no buffer, such as the ``ones_like`` that seeds
  backward) has already run during the trace and writes the same values at every replay: it is
  dropped, its buffers keep what the trace left in them.

Buffers are tracked by their root (the array owning the memory), so a view costs nothing and a
write through a view counts as a write of its root.
"""
from __future__ import annotations

from gradcore.compile import memory

__all__ = ["Replay", "build"]


class Replay:
    """Re-runs the recorded work in place: ``replay()``; ``outputs`` is what the traced function
    returned (its Tensors' arrays are the buffers each replay rewrites)."""

    def __init__(self, outputs, steps, stats, external=(), owners=()):
        self.outputs = outputs
        self.steps = steps
        self.stats = stats
        self._external, self._owners = list(external), list(owners)

    def state(self):
        """What a replay changes outside its own buffers (for ``gc.compile(check=True)``): the
        arrays it reads or writes that the trace did not create, and the objects with a
        ``state_dict`` whose host calls it runs (optimizers, schedulers)."""
        return self._external, self._owners

    def __call__(self):
        for fn, args, kwargs in self.steps:
            fn(*args, **kwargs)


def eliminate_dead(entries, born, keep):
    """The entries that affect something outside the trace (see the module docstring).

    ``born``: ids of the buffers the trace created; ``keep``: ids of buffers that must hold
    their values after a replay (outputs, buffers still reachable from the program)."""
    needed = set(keep)
    kept = []
    for e in reversed(entries):
        if (e.kind == "host" or any(id(w) not in born or id(w) in needed for w in e.writes)):
            kept.append(e)
            needed.update(id(r) for r in e.reads)
    kept.reverse()
    return kept


def fold_constants(entries, born):
    """Drop the entries whose results are the same at every replay (see the module docstring).

    Candidates write only trace-created buffers that nothing else writes (so no reader can see
    an earlier value of them); a candidate stays one while every buffer it reads is written by a
    candidate or is a constant the trace created and nothing writes (the greatest such set: a
    closed computation that depends on nothing outside)."""
    count, producer = {}, {}
    for e in entries:
        for w in e.writes:
            count[id(w)] = count.get(id(w), 0) + 1
            producer[id(w)] = e
    cand = {id(e) for e in entries if e.kind != "host" and e.writes
            and all(id(w) in born and count[id(w)] == 1 for w in e.writes)}
    changed = True
    while changed:
        changed = False
        for e in entries:
            if id(e) in cand and any(id(producer.get(id(r))) not in cand and
                                     not (id(r) in born and id(r) not in producer)
                                     for r in e.reads):
                cand.discard(id(e))
                changed = True
    return [e for e in entries if id(e) not in cand], len(cand)


def build(entries, born, keep, outputs, plan_memory=True):
    """The Replay of ``entries`` after dead-op elimination, constant folding and (unless
    ``plan_memory`` is false) memory planning (:mod:`gradcore.compile.memory`)."""
    live = eliminate_dead(entries, born, keep)
    folded, n_folded = fold_constants(live, born)
    before = after = in_place = 0
    blocks = []
    if plan_memory:
        folded, before, after, blocks, in_place = memory.plan(folded, born, keep)
    stats = {"recorded": len(entries), "dead": len(entries) - len(live), "folded": n_folded,
             "steps": len(folded), "planned_bytes": before, "block_bytes": after,
             "in_place": in_place,
             "held_bytes": memory.held_bytes(folded, born, blocks)}
    external = {id(r): r for e in folded for r in list(e.reads) + list(e.writes)
                if id(r) not in born}
    owners = {}
    for e in folded:
        owner = getattr(e.fn, "owner", getattr(e.fn, "__self__", None))
        if e.kind == "host" and hasattr(owner, "state_dict") and hasattr(owner, "load_state_dict"):
            owners[id(owner)] = owner
    return Replay(outputs, [(e.fn, e.args, e.kwargs) for e in folded], stats,
                  external.values(), owners.values())
