"""Universal approximation: one hidden tanh layer fits sin(x) on [-π, π].

The universal approximation theorem (Cybenko 1989, Hornik 1991) says that a network with one
hidden layer of enough units and a non-polynomial activation can approximate any continuous
function on a compact set as closely as we like. It promises that such weights exist, not that
training finds them, nor how many units are needed. Here one tanh unit can only make one bend
(max error ~0.7), two get stuck half-way, and three already fit sin to ~0.01; beyond a few
units the error is limited by the optimisation (steps, learning rate), not by capacity.

The model is ``gc.nn.MLP([1, H, 1], activation="tanh")`` trained with Adam on a mean-squared
error over 256 evenly spaced points; the reported error is the maximum |f(x) - sin x| on a
finer grid of 1,000 points.

Run ``python examples/universal_approximation.py [--quick] [--plot FILE]``.
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import gradcore as gc

TARGET_ERROR = 0.05  # the full run's promise for H = 32; quick runs are looser


def fit_sin(hidden=32, steps=3000, lr=0.01, seed=0):
    """Train ``MLP([1, hidden, 1], "tanh")`` on sin; returns (model, loss history)."""
    gc.manual_seed(seed)
    model = gc.nn.MLP([1, hidden, 1], activation="tanh", dtype="float64", device="cpu")
    opt = gc.optim.Adam(model.parameters(), lr=lr)
    x = gc.tensor(np.linspace(-math.pi, math.pi, 256).reshape(-1, 1), device="cpu")
    y = gc.sin(x)
    losses = []
    for _ in range(steps):
        loss = gc.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def max_error(model, n=1000):
    """max |model(x) - sin x| over ``n`` points of [-π, π]."""
    x = np.linspace(-math.pi, math.pi, n).reshape(-1, 1)
    with gc.no_grad():
        y = model(gc.tensor(x, device="cpu")).numpy()
    return float(np.abs(y - np.sin(x)).max())


def main(quick=False, plot=None):
    """Returns ``{"max_error": {H: error}, "losses": {H: per-step MSE}}``; the widest H is 32."""
    widths = (32,) if quick else (1, 2, 3, 32)
    steps = 800 if quick else 3000
    models, errors, losses = {}, {}, {}
    for h in widths:
        models[h], losses[h] = fit_sin(h, steps)
        errors[h] = max_error(models[h])
    if plot:
        _plot(models, errors, losses, plot)
    return {"max_error": errors, "losses": losses}


def _plot(models, errors, losses, path):
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    x = np.linspace(-math.pi, math.pi, 400).reshape(-1, 1)
    ax.plot(x, np.sin(x), color="black", linewidth=3, alpha=0.25, label="sin x")
    for h, model in models.items():
        with gc.no_grad():
            ax.plot(x, model(gc.tensor(x, device="cpu")).numpy(),
                    label=f"H = {h}: max error {errors[h]:.3f}")
    ax.set(xlabel="x", title="MLP([1, H, 1], tanh) fitting sin x")
    ax.legend(fontsize="small")
    for h, curve in losses.items():
        bx.plot(curve, label=f"H = {h}")
    bx.set(yscale="log", xlabel="Adam step", ylabel="training MSE", title="training loss")
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize="small")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="H = 32 only, fewer steps")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG figure")
    args = parser.parse_args()
    out = main(args.quick, args.plot)
    for h, err in out["max_error"].items():
        print(f"H = {h:>3}: max |f(x) - sin x| = {err:.4f}")
