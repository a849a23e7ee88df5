"""Draw the graph the tape recorded behind a tensor: Graphviz DOT text, or an SVG/PNG file.

The walk reads only what every node keeps after ``backward`` (``node.edges``), never the saved
arrays, so a graph can be drawn before or after its gradients were computed. It is iterative,
so a chain of 100,000 ops can be traced without touching the Python recursion limit.

>>> import gradcore as gc
>>> x = gc.tensor([1.0, 2.0], requires_grad=True)
>>> y = (x * x).sum()
>>> g = gc.viz.trace(y)
>>> [n.label for n in g.nodes if n.kind == "op"]
['Sum', 'Mul']
>>> print(gc.viz.to_dot(y, show_shapes=False))  # doctest: +ELLIPSIS
digraph gradcore {
...
  n1 [label="Sum", shape=box, ...];
...
}
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from dataclasses import dataclass, field

from gradcore.tensor import Tensor

__all__ = ["GraphNode", "Graph", "trace", "node_text", "to_dot", "render"]


@dataclass
class GraphNode:
    """One node of a drawn graph.

    ``kind`` is ``"op"`` (a recorded Function, labelled by its class name), ``"leaf"`` (a tensor
    the user made that requires grad) or ``"output"`` (the tensor the graph was drawn from).

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0], requires_grad=True)
    >>> gc.viz.trace(gc.exp(x)).nodes[1]
    GraphNode(id='n1', kind='op', label='Exp', shape=None, dtype=None)
    """

    id: str
    kind: str
    label: str
    shape: tuple | None = None
    dtype: str | None = None


@dataclass
class Graph:
    """Nodes in discovery order from the output, and edges ``(source id, target id, label)``
    pointing the way data flows (inputs -> ops -> output).

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0], requires_grad=True)
    >>> g = gc.viz.trace((x * 2).sum())
    >>> [n.label for n in g.ops()], g.edges
    (['Sum', 'Mul'], [('n1', 'n0', ''), ('n2', 'n1', ''), ('n3', 'n2', '')])
    """

    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)

    def ops(self):
        """The op nodes."""
        return [n for n in self.nodes if n.kind == "op"]


def trace(tensor, params=None):
    """The recorded graph behind ``tensor`` as a :class:`Graph`.

    ``params`` (optional) maps names to tensors, e.g. ``dict(model.named_parameters())``, so
    those leaves are labelled by name.

    >>> import gradcore as gc
    >>> w = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> g = gc.viz.trace(gc.tanh(w).sum(), params={"w": w})
    >>> [(n.kind, n.label) for n in g.nodes]
    [('output', 'output'), ('op', 'Sum'), ('op', 'Tanh'), ('leaf', 'w')]
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz: expected a Tensor, got {type(tensor).__name__}")
    names = {id(t): name for name, t in (params or {}).items()}
    graph = Graph()
    ids = {}  # id(node or leaf tensor) -> graph node id

    def tensor_node(t, kind):
        nid = f"n{len(graph.nodes)}"
        ids[id(t)] = nid
        label = names.get(id(t), "output" if kind == "output" else "leaf")
        graph.nodes.append(GraphNode(nid, kind, label, tuple(t.shape), str(t.dtype)))
        return nid

    out_id = tensor_node(tensor, "output")
    if tensor.node is None:  # a leaf: nothing was recorded
        return graph

    def op_node(node):
        nid = ids.get(id(node))
        if nid is None:
            nid = f"n{len(graph.nodes)}"
            ids[id(node)] = nid
            graph.nodes.append(GraphNode(nid, "op", type(node).__name__))
            queue.append(node)
        return nid

    queue = deque()  # breadth first: ops listed from the output down, level by level
    root = op_node(tensor.node)
    graph.edges.append((root, out_id, _slot_label(tensor.node, tensor._index)))
    while queue:  # each op once; edges are listed in input order
        node = queue.popleft()
        target = ids[id(node)]
        for edge in getattr(node, "edges", ()):
            if edge is None:  # an input that does not require grad: not recorded
                continue
            if type(edge) is tuple:
                parent, index = edge
                graph.edges.append((op_node(parent), target, _slot_label(parent, index)))
            else:
                source = ids.get(id(edge)) or tensor_node(edge, "leaf")
                graph.edges.append((source, target, ""))
    return graph


def _slot_label(node, index):
    """Name the output slot only for multi-output ops (``split``), where it is ambiguous."""
    return f"out {index}" if getattr(node, "n_outputs", 1) > 1 else ""


_STYLE = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#e8eef7"',
    "leaf": 'shape=ellipse, style=filled, fillcolor="#d9f2d9"',  # requires grad: gets a .grad
    "output": 'shape=ellipse, style=filled, fillcolor="#f7e3c6", penwidth=2',
}


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_text(n, show_shapes=True):
    """The text a drawing shows for node ``n`` (label, then shape and dtype for tensors).

    >>> import gradcore as gc
    >>> print(gc.viz.node_text(gc.viz.GraphNode("n0", "leaf", "w", (2,), "float32")))
    w
    (2,) float32
    requires_grad
    """
    if n.kind == "op" or not show_shapes:
        return n.label if n.kind != "leaf" else f"{n.label}\nrequires_grad"
    tail = "\nrequires_grad" if n.kind == "leaf" else ""
    return f"{n.label}\n{n.shape} {n.dtype}{tail}"


def to_dot(tensor, show_shapes=True, params=None):
    """Graphviz DOT source of the graph behind ``tensor``: one box per op (its class name), one
    ellipse per leaf that requires grad (green) and one for the output (orange), with edges from
    inputs to ops to the output. ``show_shapes`` adds each tensor's shape and dtype.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> "Exp" in gc.viz.to_dot(gc.exp(x).sum())
    True
    """
    graph = trace(tensor, params)
    lines = ["digraph gradcore {", "  rankdir=BT;",  # inputs at the bottom, output on top
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for n in graph.nodes:
        lines.append(f"  {n.id} [label={_quote(node_text(n, show_shapes))}, {_STYLE[n.kind]}];")
    for source, target, label in graph.edges:
        extra = f" [label={_quote(label)}]" if label else ""
        lines.append(f"  {source} -> {target}{extra};")
    lines.append("}")
    return "\n".join(lines)


def render(tensor, path, format=None, show_shapes=True, params=None):
    """Write the graph behind ``tensor`` to ``path`` with Graphviz's ``dot`` program.

    ``format`` defaults to the file's suffix (``.svg``, ``.png``, ``.pdf``...), else ``svg``.
    Raises ``RuntimeError`` when Graphviz is not installed; :func:`to_dot` needs nothing.
    Returns ``path``.

    >>> import gradcore as gc
    >>> x = gc.tensor([1.0, 2.0], requires_grad=True)
    >>> gc.viz.render(gc.exp(x).sum(), "graph.svg")  # doctest: +SKIP
    'graph.svg'
    >>> gc.viz.to_dot(gc.exp(x).sum()).startswith("digraph")  # the text it hands to dot
    True
    """
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("viz.render: the Graphviz 'dot' program is not on PATH; install "
                           "Graphviz (e.g. 'apt install graphviz', 'brew install graphviz' or "
                           "'conda install graphviz') or use gc.viz.to_dot() for the DOT text")
    path = os.fspath(path)
    if format is None:
        format = os.path.splitext(path)[1].lstrip(".").lower() or "svg"
    source = to_dot(tensor, show_shapes, params)
    done = subprocess.run([exe, f"-T{format}", "-o", path], input=source.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"viz.render: dot -T{format} failed (exit {done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path
