"""The reverse pass: replay the tape from the outputs back to the leaves, without recursion.

1. Walk the graph from the roots with an explicit stack and count, for every node, how many
   recorded consumers will send it a gradient.
2. Process nodes whose consumers have all reported (a ready stack): call ``backward``, add each
   input gradient into the producer's pending slot or into a leaf's ``.grad``.
3. Release what each node saved, unless ``retain_graph``.

A chain of 100,000 ops therefore uses a flat loop and two dictionaries, never the Python stack.
"""
from __future__ import annotations

from gradcore.autograd.mode import STATE
from gradcore.tensor import Tensor

__all__ = ["run_backward"]


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None):
    """Accumulate d(roots)/d(leaves) into the leaves' ``.grad`` (or return it for ``inputs``).

    ``inputs`` (a sequence of Tensors), when given, makes this a functional call: gradients for
    exactly those Tensors are returned in a list and no ``.grad`` is touched.
    """
    wanted = None
    results = {}
    if inputs is not None:
        wanted = {id(t): t for t in inputs}
        for t in inputs:  # a requested non-leaf is caught at its producer's output slot
            if t.node is not None:
                wanted[(id(t.node), t._index)] = t

    pending = {}   # node -> list of gradients for its outputs
    for root, g in zip(roots, root_grads):
        if root.node is None:
            if wanted is not None:
                if id(root) in wanted:
                    prior = results.get(id(root))
                    results[id(root)] = g if prior is None else prior + g
            elif root.requires_grad:
                root._accumulate_grad(g, create_graph)
            continue
        slot = pending.setdefault(root.node, [None] * _n_outputs(root.node))
        slot[root._index] = g if slot[root._index] is None else slot[root._index] + g

    needed = None if wanted is None else _nodes_leading_to(pending, wanted)
    if needed is not None:  # functional mode: never run (or release) nodes past the inputs
        for node in [n for n in pending if n not in needed]:
            del pending[node]
    deps = _count_dependencies(pending, needed)
    ready = [node for node in pending if deps.get(node, 0) == 0]
    anomaly = STATE.anomaly  # read once: the loop below tests a local, not the flag
    prev, prev_into = STATE.grad_enabled, STATE.into_leaves
    STATE.grad_enabled = create_graph
    STATE.into_leaves = inputs is None and not create_graph
    try:
        while ready:
            node = ready.pop()
            gys = pending.pop(node)
            if wanted is not None:
                for i, g in enumerate(gys):
                    key = (id(node), i)
                    if key in wanted and g is not None:
                        results[id(wanted[key])] = g
            if gys[0] is not None if len(gys) == 1 else any(g is not None for g in gys):
                if anomaly:
                    gxs = _backward_checked(node, gys)
                else:
                    gxs = node.backward(*gys)
                    if type(gxs) is not tuple:
                        gxs = (gxs,)
            else:
                gxs = (None,) * len(node.edges)
            if not retain_graph:
                node.release()
            for edge, gx in zip(node.edges, gxs):
                if edge is None:
                    continue
                if type(edge) is tuple:
                    parent, index = edge
                    if parent not in deps:  # functional mode: leads to no requested input
                        continue
                    slot = pending.get(parent)
                    if slot is None:
                        slot = pending[parent] = [None] * _n_outputs(parent)
                    if gx is not None:
                        slot[index] = gx if slot[index] is None else slot[index] + gx
                    deps[parent] -= 1
                    if deps[parent] == 0:
                        ready.append(parent)
                elif gx is not None:  # a leaf
                    if wanted is not None:
                        if id(edge) in wanted:
                            prior = results.get(id(edge))
                            results[id(edge)] = gx if prior is None else prior + gx
                    else:
                        edge._accumulate_grad(gx, create_graph)
    finally:
        STATE.grad_enabled, STATE.into_leaves = prev, prev_into
    if inputs is not None:
        out = [results.get(id(t)) for t in inputs]
        for i, (t, g) in enumerate(zip(inputs, out)):
            if g is not None and g.shape != t.shape:
                raise RuntimeError(f"backward: the gradient of input {i} has shape {g.shape}, but "
                                   f"the input has shape {t.shape}; an op's backward returned the "
                                   "wrong shape")
        return out
    return None


def _backward_checked(node, gys):
    """``node.backward`` under ``detect_anomaly``: a NaN/Inf made by the ops its backward is
    written with, or in its result, is reported against ``node`` and the user's line that made
    it (the inner op alone would only point at the ``backward()`` call)."""
    try:
        gxs = node.backward(*gys)
    except FloatingPointError as e:
        name = type(node).__name__
        origin = getattr(node, "_trace", None) or "an unknown place (outside detect_anomaly)"
        raise FloatingPointError(f"{name} (created at {origin}) produced a non-finite value in "
                                 f"its backward pass: {e}") from e
    if type(gxs) is not tuple:
        gxs = (gxs,)
    node._check_finite([g.array for g in gxs if g is not None], "backward output")
    return gxs


def _n_outputs(node):
    return getattr(node, "n_outputs", 1)


def _count_dependencies(starts, needed=None):
    """For every node reachable from ``starts`` (through ``needed`` nodes, when given): how many
    recorded edges point at it."""
    deps = {}
    stack = list(starts)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if type(edge) is tuple:
                parent = edge[0]
                if needed is not None and parent not in needed:
                    continue
                deps[parent] = deps.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    return deps


def _nodes_leading_to(starts, wanted):
    """The nodes whose backward sends gradient, directly or through other nodes, to a wanted
    Tensor (a leaf, or an output slot of a node). Iterative post-order walk."""
    leads = {}
    stack = [(node, False) for node in starts]
    while stack:
        node, expanded = stack.pop()
        if node in leads and not expanded:
            continue
        parents = [e[0] for e in node.edges if type(e) is tuple]
        if not expanded:
            leads.setdefault(node, False)
            stack.append((node, True))
            stack.extend((p, False) for p in parents if p not in leads)
            continue
        hit = False
        for edge in node.edges:
            if edge is None:
                continue
            if type(edge) is tuple:
                hit = hit or (id(edge[0]), edge[1]) in wanted or leads.get(edge[0], False)
            else:
                hit = hit or id(edge) in wanted
        leads[node] = hit
    return {node for node, hit in leads.items() if hit}
