"""gradcore/viz.py: the traced graph, its DOT text, and rendering through Graphviz."""
import os
import shutil
import stat

import pytest

import gradcore as gc


def small_graph():
    x = gc.tensor([[1.0, 2.0]], requires_grad=True)
    w = gc.tensor([[1.0], [3.0]], requires_grad=True)
    c = gc.tensor([[0.5]])  # a constant: not recorded
    y = gc.tanh(x @ w + c).sum()
    return x, w, y


def test_trace_nodes_and_edges():
    x, w, y = small_graph()
    g = gc.viz.trace(y, params={"x": x, "w": w})
    kinds = {n.id: (n.kind, n.label) for n in g.nodes}
    assert sorted(label for kind, label in kinds.values() if kind == "op") == \
        ["Add", "MatMul", "Sum", "Tanh"]
    leaves = {label: n for n in g.nodes for kind, label in [kinds[n.id]] if kind == "leaf"}
    assert set(leaves) == {"x", "w"}
    assert leaves["w"].shape == (2, 1) and leaves["w"].dtype == "float32"
    named = {(kinds[s][1], kinds[t][1]) for s, t, _ in g.edges}
    assert named == {("x", "MatMul"), ("w", "MatMul"), ("MatMul", "Add"), ("Add", "Tanh"),
                     ("Tanh", "Sum"), ("Sum", "output")}


def test_to_dot_content():
    x, w, y = small_graph()
    dot = gc.viz.to_dot(y)
    assert dot.startswith("digraph gradcore {") and dot.rstrip().endswith("}")
    for op in ("MatMul", "Add", "Tanh", "Sum"):
        assert f'label="{op}"' in dot
    assert "(1, 2) float32\\nrequires_grad" in dot  # leaf x with shape, dtype and the mark
    assert "output\\n() float32" in dot
    assert dot.count("->") == 6
    assert "(1, 2)" not in gc.viz.to_dot(y, show_shapes=False)


def test_graph_survives_backward_and_shares_nodes():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    y = x * x  # x used twice: one leaf node, two edges
    z = (y + y).sum()
    before = gc.viz.to_dot(z)
    z.backward()  # releases saved arrays; the edges remain
    assert gc.viz.to_dot(z) == before
    g = gc.viz.trace(z)
    assert sum(n.kind == "leaf" for n in g.nodes) == 1
    assert len(g.ops()) == 3


def test_multi_output_and_leaf_output():
    x = gc.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = gc.split(x, 2)
    dot = gc.viz.to_dot((a * b).sum())
    assert 'label="out 0"' in dot and 'label="out 1"' in dot
    g = gc.viz.trace(x)  # a leaf: just the output node
    assert [n.kind for n in g.nodes] == ["output"] and not g.edges


def test_long_chain_is_iterative():
    x = gc.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    assert len(gc.viz.trace(y).ops()) == 5000


def test_render_without_graphviz(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, _, y = small_graph()
    with pytest.raises(RuntimeError, match="install Graphviz"):
        gc.viz.render(y, tmp_path / "g.svg")


def test_render_calls_dot(monkeypatch, tmp_path):
    """A stand-in `dot` that records its arguments and copies stdin to the -o file."""
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$@" > "$ARGS_FILE"\ncat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("ARGS_FILE", str(tmp_path / "args"))
    _, _, y = small_graph()
    out = gc.viz.render(y, tmp_path / "g.png")
    assert out == str(tmp_path / "g.png")
    assert (tmp_path / "args").read_text().split()[0] == "-Tpng"
    assert (tmp_path / "g.png").read_text() == gc.viz.to_dot(y)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_render_with_graphviz(tmp_path, suffix):
    _, _, y = small_graph()
    path = gc.viz.render(y, tmp_path / f"g.{suffix}")
    data = open(path, "rb").read()
    assert data.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in data
