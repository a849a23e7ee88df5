"""``GradNormMonitor``: per-parameter and per-layer gradient norms over training, to see
vanishing or exploding gradients as they happen.

>>> import gradcore as gc
>>> net = gc.nn.MLP([4, 8, 8, 1], activation="sigmoid")
>>> monitor = gc.nn.GradNormMonitor(net)
>>> net(gc.randn(16, 4)).mean().backward()
>>> norms = monitor.record()
>>> monitor.layer_names
['0', '2', '4']
>>> sorted(norms)[:3]
['0', '0.bias', '0.weight']
>>> all(v > 0 for v in norms.values())
True
"""
from __future__ import annotations

import math

from gradcore.nn.layers import Linear

__all__ = ["GradNormMonitor"]


class GradNormMonitor:
    """Records gradient L2 norms of ``model``: call :meth:`record` after each ``backward()``.

    Each record is a dict from name to norm holding every named parameter (``"0.weight"``,
    ``"0.bias"``...) and every :class:`~gradcore.nn.Linear` layer (``"0"``: the norm of its
    weight and bias gradients together, ``sqrt(|gW|² + |gb|²)``). A parameter without a
    gradient yet records ``nan``. Records accumulate in :attr:`history`, one per call.

    >>> import gradcore as gc
    >>> net = gc.nn.Sequential(gc.nn.Linear(2, 1))
    >>> monitor = gc.nn.GradNormMonitor(net)
    >>> net(gc.ones((1, 2))).sum().backward(); norms = monitor.record()
    >>> round(norms["0.weight"], 4), norms["0.bias"], round(norms["0"], 4)  # sqrt(2), 1, sqrt(3)
    (1.4142, 1.0, 1.7321)
    """

    def __init__(self, model):
        self.model = model
        self.param_names = [name for name, _ in model.named_parameters()]
        self.layers = [(name or type(m).__name__, m) for name, m in model.named_modules()
                       if isinstance(m, Linear)]
        self.layer_names = [name for name, _ in self.layers]
        self.history = []

    def record(self):
        """Compute the current norms, append them to :attr:`history` and return them."""
        squares = {}  # id(param) -> squared norm (one host transfer per parameter)
        norms = {}
        for name, p in self.model.named_parameters():
            if p.grad is None:
                norms[name] = math.nan
                continue
            g = p.grad.array
            sq = float((g * g).sum()) if g.size else 0.0
            squares[id(p)] = sq
            norms[name] = math.sqrt(sq)
        for name, layer in self.layers:
            parts = [squares.get(id(p)) for p in (layer.weight, layer.bias) if p is not None]
            parts = [s for s in parts if s is not None]
            norms[name] = math.sqrt(sum(parts)) if parts else math.nan
        self.history.append(norms)
        return norms

    def last(self):
        """The most recent record (a dict of name -> norm)."""
        if not self.history:
            raise RuntimeError("GradNormMonitor.last: nothing recorded yet; call record() after "
                               "backward()")
        return self.history[-1]

    def layer_norms(self, step=-1):
        """The Linear layers' norms of one record, in forward order (input layer first)."""
        if not self.history:
            raise RuntimeError("GradNormMonitor.layer_norms: nothing recorded yet")
        rec = self.history[step]
        return [rec[name] for name in self.layer_names]

    def clear(self):
        """Forget every record."""
        self.history.clear()

    def summary(self):
        """A text table: one row per parameter and per Linear layer, with the last norm and the
        mean, min and max over the recorded steps."""
        if not self.history:
            return "GradNormMonitor: nothing recorded yet"
        rows = [(f"{name} (Linear {m.in_features}->{m.out_features})", name)
                for name, m in self.layers]
        rows += [(name, name) for name in self.param_names]
        width = max(len(label) for label, _ in rows)
        head = f"{'name':<{width}}  {'last':>10}  {'mean':>10}  {'min':>10}  {'max':>10}"
        lines = [f"gradient L2 norms over {len(self.history)} step(s)", head, "-" * len(head)]
        for label, key in rows:
            values = [rec[key] for rec in self.history if not math.isnan(rec[key])]
            if not values:
                lines.append(f"{label:<{width}}  {'(no grad)':>10}")
                continue
            last = self.history[-1][key]
            lines.append(f"{label:<{width}}  {last:>10.3e}  {sum(values) / len(values):>10.3e}  "
                         f"{min(values):>10.3e}  {max(values):>10.3e}")
        return "\n".join(lines)

    def plot(self, path=None, by="step"):
        """Plot the Linear layers' gradient norms on a log scale and return the matplotlib Figure
        (also saved to ``path`` when given).

        ``by="step"``: one line per layer over the recorded steps. ``by="layer"``: the last
        record's norms against layer depth (input layer on the left).
        """
        try:
            from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)
        except ImportError as e:
            raise ImportError("GradNormMonitor.plot needs matplotlib: pip install "
                              "'gradcore[plot]' (or pip install matplotlib)") from e
        if not self.history:
            raise RuntimeError("GradNormMonitor.plot: nothing recorded yet")
        if by not in ("step", "layer"):
            raise ValueError(f"GradNormMonitor.plot: by must be 'step' or 'layer', got {by!r}")
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.add_subplot()
        if by == "step":
            for name in self.layer_names:
                ax.plot([rec[name] for rec in self.history], label=f"layer {name}")
            ax.set_xlabel("recorded step")
            ax.legend(fontsize="small", ncol=2)
        else:
            ax.plot(range(1, len(self.layer_names) + 1), self.layer_norms(), marker="o")
            ax.set_xlabel("layer (1 = input side)")
        ax.set_yscale("log")
        ax.set_ylabel("gradient L2 norm")
        ax.grid(True, which="both", alpha=0.3)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig
