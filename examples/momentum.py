"""Momentum vs plain gradient descent, and escaping a saddle point, with ``gc.optim.SGD``.

Part 1: the ill-conditioned bowl f = 0.5 (x1² + 25 x2²) has curvatures 1 and 25 (condition
number 25). Plain gradient descent must keep lr < 2/25 = 0.08 or the steep x2 direction
diverges, and at such a learning rate the shallow x1 direction crawls: each step shrinks x1 by
only (1 - lr). Momentum (``momentum=0.9``) accumulates the consistent x1 gradient into a velocity
(up to 1 / (1 - 0.9) = 10 times a plain step) while the alternating x2 gradients largely cancel,
so at the same learning rate it reaches the tolerance in far fewer steps.

Part 2: f = x1² - x2² has a saddle at the origin: a minimum along x1, a maximum along x2.
Started at (1, 1e-3), near the saddle, gradient descent first slides towards it (x1 shrinks)
while the tiny x2 grows by (1 + 2 lr) per step until it escapes (|x2| > 1); momentum escapes
sooner. Started exactly at x2 = 0 the gradient never points away from the saddle: plain
gradient descent converges to the saddle point and stays there, as if it were a minimum.

Run ``python examples/momentum.py [--quick] [--plot FILE]``.
"""
from __future__ import annotations

import argparse

import numpy as np

import gradcore as gc

START = (-10.0, 1.0)
LR = 0.02


def bowl(x):
    """The ill-conditioned quadratic 0.5 * (x1² + 25 x2²)."""
    return 0.5 * (x[0] ** 2 + 25 * x[1] ** 2)


def saddle(x):
    """x1² - x2²: a saddle point at the origin."""
    return x[0] ** 2 - x[1] ** 2


def descend(f, x0, lr, momentum, max_steps, stop):
    """Run ``gc.optim.SGD`` on ``f`` from ``x0`` until ``stop(x)`` or ``max_steps``; returns the
    visited points, shape (steps+1, 2)."""
    x = gc.nn.Parameter(gc.tensor(x0, dtype="float64", device="cpu"))
    opt = gc.optim.SGD([x], lr=lr, momentum=momentum)
    points = [x.numpy().copy()]
    for _ in range(max_steps):
        if stop(points[-1]):
            break
        opt.zero_grad()
        f(x).backward()
        opt.step()
        points.append(x.numpy().copy())
    return np.array(points)


def main(quick=False, plot=None, tol=1e-3):
    """Returns ``{"steps": {"plain" | "momentum": steps to |x| < tol on the bowl},
    "escape_steps": {...: steps until |x2| > 1 on the saddle},
    "stuck_at_saddle": |x| after plain descent started exactly at x2 = 0, "paths": {...}}``."""
    max_steps = 2000
    near = lambda p: np.linalg.norm(p) < tol  # noqa: E731
    paths = {name: descend(bowl, START, LR, m, max_steps, near)
             for name, m in (("plain", 0.0), ("momentum", 0.9))}
    steps = {name: len(p) - 1 for name, p in paths.items()}

    escaped = lambda p: abs(p[1]) > 1  # noqa: E731
    saddle_paths = {name: descend(saddle, (1.0, 1e-3), 0.05, m, 500, escaped)
                    for name, m in (("plain", 0.0), ("momentum", 0.9))}
    escape_steps = {name: len(p) - 1 for name, p in saddle_paths.items()}
    stuck = descend(saddle, (1.0, 0.0), 0.05, 0.0, 60 if quick else 200, lambda p: False)
    if plot:
        _plot(paths, steps, saddle_paths, stuck, plot)
    return {"steps": steps, "escape_steps": escape_steps,
            "stuck_at_saddle": float(np.linalg.norm(stuck[-1])), "paths": paths,
            "saddle_paths": saddle_paths}


def _plot(paths, steps, saddle_paths, stuck, path):
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[1.4, 1])
    right = max(float(p[:, 0].max()) for p in paths.values()) + 1
    g1, g2 = np.meshgrid(np.linspace(-11, right, 300), np.linspace(-2, 2, 200))
    ax.contour(g1, g2, 0.5 * (g1 ** 2 + 25 * g2 ** 2), levels=np.geomspace(0.01, 80, 12),
               colors="0.85", linewidths=0.7)
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], marker=".", markersize=3, linewidth=0.9,
                label=f"{name}: {steps[name]} steps to |x| < 1e-3")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-11, right), ylim=(-2, 2),
           title=r"$0.5\,(x_1^2 + 25 x_2^2)$, lr = 0.02")
    ax.legend(fontsize="small", loc="lower right")

    g1, g2 = np.meshgrid(np.linspace(-1.3, 1.3, 200), np.linspace(-1.3, 1.3, 200))
    bx.contour(g1, g2, g1 ** 2 - g2 ** 2, levels=15, colors="0.85", linewidths=0.7)
    for name, p in saddle_paths.items():
        bx.plot(p[:, 0], p[:, 1], marker=".", markersize=3, linewidth=0.9,
                label=f"{name}: escapes in {len(p) - 1} steps")
    bx.plot(stuck[:, 0], stuck[:, 1], marker=".", markersize=3, color="0.4",
            label="plain from $x_2 = 0$: stuck")
    bx.plot(0, 0, marker="x", color="crimson", markersize=8)
    bx.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), aspect="equal", xlabel="$x_1$", ylabel="$x_2$",
           title=r"saddle $x_1^2 - x_2^2$ from (1, 0.001), lr = 0.05")
    bx.legend(fontsize="small", loc="lower left")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG figure")
    args = parser.parse_args()
    out = main(args.quick, args.plot)
    print(f"bowl, steps to |x| < 1e-3: {out['steps']}")
    print(f"saddle, steps until |x2| > 1: {out['escape_steps']}")
    print(f"plain descent started on x2 = 0 ends at |x| = {out['stuck_at_saddle']:.2e} "
          "(the saddle)")
