"""Draw the documentation's figures into docs/figures/ (PNG), from the examples and gc.viz.

Run by the MkDocs hook (docs/hooks.py) before every build, or by hand:
``python docs/figures.py [--force]``. A figure is redrawn only when it is missing or older than
the files it is made from, so ``mkdocs serve`` stays quick. Needs matplotlib; needs neither
Graphviz (graphs are drawn with matplotlib when ``dot`` is missing) nor a network.
"""
from __future__ import annotations

import importlib.util
import pathlib
import shutil
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "figures"
EXAMPLES = ROOT / "examples"
if str(ROOT) not in sys.path:  # a source checkout, not necessarily installed
    sys.path.insert(0, str(ROOT))

import gradcore as gc  # noqa: E402

# figure file -> (example script, keyword arguments of its main)
EXAMPLE_FIGURES = {
    "finite-differences.png": ("finite_differences", {}),
    "expression-swell.png": ("expression_swell", {}),
    "gradient-descent.png": ("gradient_descent", {}),
    "momentum.png": ("momentum", {}),
    "vanishing-gradients.png": ("vanishing_gradients", {}),
    "universal-approximation.png": ("universal_approximation", {}),
}


def load_example(name):
    """Import examples/<name>.py (a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location(f"gradcore_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- graph figures --------------------------------------------------------------------------
def expression_graph():
    """y = tanh(x @ w + b).sum(), the graph of computation-graphs.md."""
    x = gc.tensor([[0.5, -1.0, 2.0]], device="cpu")
    w = gc.randn(3, 2, device="cpu", requires_grad=True)
    b = gc.zeros(2, device="cpu", requires_grad=True)
    return gc.tanh(x @ w + b).sum(), {"w": w, "b": b}


def mlp_graph():
    """The loss of a 2-layer MLP on a batch: fused Linear + activation ops and cross-entropy."""
    gc.manual_seed(0)
    model = gc.nn.MLP([4, 8, 3], device="cpu")
    x = gc.randn(5, 4, device="cpu")
    labels = gc.tensor([0, 2, 1, 1, 0], device="cpu")
    loss = gc.nn.functional.cross_entropy(model(x), labels)
    return loss, dict(model.named_parameters())


GRAPH_FIGURES = {"graph-expression.png": expression_graph, "graph-mlp.png": mlp_graph}


def draw_graph(graph, path, title=None):
    """Draw a :class:`gradcore.viz.Graph` with matplotlib: a layered drawing, inputs at the
    bottom and the output on top, like ``dot -Grankdir=BT``."""
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.patches import FancyArrowPatch  # noqa: PLC0415

    parents = {n.id: [] for n in graph.nodes}
    for source, target, _ in graph.edges:
        parents[target].append(source)
    # level = longest distance from the output: each node sits above everything it consumes
    level = {graph.nodes[0].id: 0}
    for n in graph.nodes:  # discovery order is breadth first from the output
        for p in parents[n.id]:
            level[p] = max(level.get(p, 0), level[n.id] + 1)
    changed = True
    while changed:  # settle longest paths (graphs here are small)
        changed = False
        for source, target, _ in graph.edges:
            if level[source] < level[target] + 1:
                level[source], changed = level[target] + 1, True
    depth = max(level.values())
    rows = {}
    for n in graph.nodes:
        rows.setdefault(level[n.id], []).append(n.id)
    x = {nid: i - (len(row) - 1) / 2 for row in rows.values() for i, nid in enumerate(row)}
    children = {n.id: [] for n in graph.nodes}
    for source, target, _ in graph.edges:
        children[source].append(target)
    for _ in range(4):  # barycentre sweeps: order each row by its neighbours' positions
        for lv in sorted(rows):
            row = rows[lv]
            bary = {nid: sum(x[c] for c in children[nid] + parents[nid]) /
                    max(1, len(children[nid] + parents[nid])) for nid in row}
            row.sort(key=lambda nid: bary[nid])
            for i, nid in enumerate(row):
                x[nid] = i - (len(row) - 1) / 2
    width = max(len(r) for r in rows.values())
    fig = Figure(figsize=(max(4.0, 2.3 * width), 1.15 * (depth + 1) + 0.4), layout="constrained")
    ax = fig.add_subplot()
    colors = {"op": "#e8eef7", "leaf": "#d9f2d9", "output": "#f7e3c6"}
    pos = {nid: (x[nid] * 2.3, -level[nid] * 1.15) for nid in x}
    texts = {}
    for n in graph.nodes:
        shape = "round,pad=0.35" if n.kind == "op" else "round,pad=0.45,rounding_size=0.9"
        texts[n.id] = ax.text(*pos[n.id], gc.viz.node_text(n), ha="center", va="center",
                              fontsize=8.5, zorder=3,
                              bbox=dict(boxstyle=shape, fc=colors[n.kind], ec="0.3"))
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 1.4, max(xs) + 1.4)
    ax.set_ylim(-depth * 1.15 - 0.6, 0.6)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    fig.draw_without_rendering()  # place the boxes, so arrows can stop at their edges
    seen = {}
    for source, target, label in graph.edges:
        (x0, y0), (x1, y1) = pos[source], pos[target]
        k = seen[source, target] = seen.get((source, target), -1) + 1  # parallel edges bend
        rad = 0.0 if k == 0 else 0.25 * (1 if k % 2 else -1) * ((k + 1) // 2)
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12,
                                     color="0.35", zorder=2, shrinkA=2, shrinkB=2,
                                     connectionstyle=f"arc3,rad={rad}",
                                     patchA=texts[source].get_bbox_patch(),
                                     patchB=texts[target].get_bbox_patch()))
        if label:
            # the midpoint of an arc3 curve lies rad/2 of the chord away from the chord's middle
            ax.text((x0 + x1) / 2 + rad / 2 * (y1 - y0), (y0 + y1) / 2 - rad / 2 * (x1 - x0),
                    label, fontsize=7, color="0.3", ha="center", va="center",
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none"))
    fig.savefig(path, dpi=110)


def make_graph_figure(name, path):
    tensor, params = GRAPH_FIGURES[name]()
    if shutil.which("dot"):
        gc.viz.render(tensor, path, params=params)
    else:
        draw_graph(gc.viz.trace(tensor, params), path)
    (path.with_suffix(".dot")).write_text(gc.viz.to_dot(tensor, params=params) + "\n")


# ---- driver -----------------------------------------------------------------------------------
def _stale(path, sources):
    if not path.exists():
        return True
    built = path.stat().st_mtime
    return any(s.stat().st_mtime > built for s in sources if s.exists())


def build(out=OUT, force=False, log=print):
    """Draw every missing or out-of-date figure into ``out``; returns the names drawn."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    here = pathlib.Path(__file__).resolve()
    drawn = []
    gc.set_default_device("cpu")  # figures are the same on every machine
    for name, (example, kwargs) in EXAMPLE_FIGURES.items():
        path = out / name
        if force or _stale(path, [here, EXAMPLES / f"{example}.py"]):
            start = time.perf_counter()
            gc.manual_seed(0)
            load_example(example).main(plot=str(path), **kwargs)
            log(f"figure {name}: {time.perf_counter() - start:.1f} s")
            drawn.append(name)
    for name in GRAPH_FIGURES:
        path = out / name
        if force or _stale(path, [here, ROOT / "gradcore" / "viz.py"]):
            gc.manual_seed(0)
            make_graph_figure(name, path)
            drawn.append(name)
    return drawn


if __name__ == "__main__":
    build(force="--force" in sys.argv[1:])
