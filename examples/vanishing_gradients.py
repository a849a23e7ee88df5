"""Vanishing gradients: per-layer gradient norms of a deep MLP for four activations.

Backpropagation multiplies the gradient, layer by layer, by each activation's derivative. The
sigmoid's derivative s (1 - s) is at most 1/4 (at x = 0), so through n sigmoid layers the
gradient reaching the first layers shrinks roughly like (1/4)^n times the weights' gains:
the input-side layers of a deep sigmoid network barely learn. tanh' = 1 - tanh² is at most 1
(and Xavier initialisation with gain 5/3 compensates the average), relu' is exactly 1 for
active units (with He initialisation the norms stay level), and leaky relu behaves like relu.

The network is ``gc.nn.MLP([64] * depth + [1])`` with each activation's default
initialisation (Xavier for sigmoid/tanh, He for relu/leaky relu), on random inputs and targets
with a mean-squared-error loss; ``gc.nn.GradNormMonitor`` reads the norms.

Run ``python examples/vanishing_gradients.py [--quick] [--plot FILE]``.
"""
from __future__ import annotations

import argparse

import numpy as np

import gradcore as gc

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")


def layer_norms(activation, depth=10, width=64, batch=128, repeats=1, seed=0):
    """Gradient L2 norm of each Linear layer (input layer first), averaged over ``repeats``
    random batches."""
    gc.manual_seed(seed)
    model = gc.nn.MLP([width] * depth + [1], activation=activation, dtype="float64",
                      device="cpu")
    monitor = gc.nn.GradNormMonitor(model)
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        x = gc.tensor(rng.normal(size=(batch, width)), device="cpu")
        y = gc.tensor(rng.normal(size=(batch, 1)), device="cpu")
        model.zero_grad()
        gc.nn.functional.mse_loss(model(x), y).backward()
        monitor.record()
    return np.mean([monitor.layer_norms(i) for i in range(repeats)], axis=0)


def main(quick=False, plot=None):
    """Returns ``{"norms": {activation: per-layer norms}, "ratio": {activation: first-layer norm /
    last-layer norm}}``."""
    depth = 10
    norms = {act: layer_norms(act, depth=depth, repeats=1 if quick else 5) for act in ACTIVATIONS}
    ratio = {act: float(n[0] / n[-1]) for act, n in norms.items()}
    if plot:
        _plot(norms, plot)
    return {"norms": norms, "ratio": ratio}


def _plot(norms, path):
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)

    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    styles = {"relu": "-", "leaky_relu": "--"}  # nearly equal at slope 0.01: dash one
    for act, n in norms.items():
        ax.plot(range(1, len(n) + 1), n, marker="o", linestyle=styles.get(act, "-"), label=act)
    ax.set(yscale="log", xlabel="layer (1 = input side)", ylabel="gradient L2 norm (weight + bias)",
           title=f"{len(next(iter(norms.values())))}-layer MLP, width 64, random data")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one batch instead of five")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG figure")
    args = parser.parse_args()
    out = main(args.quick, args.plot)
    for act, n in out["norms"].items():
        print(f"{act:<10} first layer {n[0]:.2e}  last layer {n[-1]:.2e}  "
              f"ratio {out['ratio'][act]:.1e}")
