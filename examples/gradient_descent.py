"""Plain gradient descent: what the learning rate does, and full-batch vs mini-batch vs
stochastic gradients.

Part 1 minimises f(x1, x2) = x1² + x2² from (1.5, -1) with gradients from ``gc.grad``. The
gradient is 2x, so one step maps x to (1 - 2 lr) x:

* lr 0.1 multiplies x by 0.8 each step: a smooth slide to the minimum;
* lr 0.5 multiplies it by 0: the minimum in exactly one step;
* lr 0.9 multiplies it by -0.8: it overshoots, flipping sign each step, and still converges;
* lr 1.05 multiplies it by -1.1: every step overshoots further, so it diverges.

Any lr above 2 / curvature (here 2 / 2 = 1) diverges.

Part 2 fits a linear regression with ``gc.optim.SGD`` three ways, at one learning rate and for
the same number of passes over the data (epochs): the full batch (one smooth step per epoch),
mini-batches of 16, and single samples (stochastic: many cheap, noisy steps per epoch).

Run ``python examples/gradient_descent.py [--quick] [--plot FILE]``.
"""
from __future__ import annotations

import argparse

import numpy as np

import gradcore as gc

LEARNING_RATES = (0.1, 0.5, 0.9, 1.05)
X0 = (1.5, -1.0)


def f(x):
    """The bowl x1² + x2²."""
    return (x * x).sum()


def trajectory(lr, x0=X0, steps=15):
    """The points visited by ``steps`` steps of gradient descent on :func:`f`: shape
    (steps + 1, 2)."""
    df = gc.grad(f)
    x = gc.tensor(x0, dtype="float64")
    points = [x.numpy().copy()]
    for _ in range(steps):
        x = x - lr * df(x)
        points.append(x.numpy().copy())
    return np.array(points)


def make_regression(n, d=5, noise=0.1, seed=0):
    """``y = X w + noise`` with standard normal X (n, d): float64 NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, 1))
    return x, x @ w + noise * rng.normal(size=(n, 1))


def fit_regression(x, y, batch_size, epochs, lr=0.05, seed=0):
    """Mean squared error on the whole data set after each epoch (index 0: before training)."""
    gc.manual_seed(seed)  # the same starting weights for every batch size
    model = gc.nn.Linear(x.shape[1], 1, dtype="float64", device="cpu")
    opt = gc.optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    x_all, y_all = gc.tensor(x, device="cpu"), gc.tensor(y, device="cpu")

    def full_loss():
        with gc.no_grad():
            return gc.nn.functional.mse_loss(model(x_all), y_all).item()

    losses = [full_loss()]
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            loss = gc.nn.functional.mse_loss(model(gc.tensor(x[rows], device="cpu")),
                                             gc.tensor(y[rows], device="cpu"))
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(full_loss())
    return losses


def main(quick=False, plot=None):
    """Run both parts; returns ``{"trajectories": {lr: points}, "distance": {lr: final |x|},
    "losses": {"full batch" | "mini-batch" | "stochastic": per-epoch MSE}}``."""
    steps = 10 if quick else 15
    trajectories = {lr: trajectory(lr, steps=steps) for lr in LEARNING_RATES}
    distance = {lr: float(np.linalg.norm(p[-1])) for lr, p in trajectories.items()}

    n, epochs = (128, 8) if quick else (256, 20)
    x, y = make_regression(n)
    losses = {"full batch": fit_regression(x, y, n, epochs),
              "mini-batch": fit_regression(x, y, 16, epochs),
              "stochastic": fit_regression(x, y, 1, epochs)}
    if plot:
        _plot(trajectories, losses, plot)
    return {"trajectories": trajectories, "distance": distance, "losses": losses}


def _plot(trajectories, losses, path):
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)

    fig = Figure(figsize=(11, 5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.15, 1])
    g = np.linspace(-2.2, 2.2, 200)
    g1, g2 = np.meshgrid(g, g)
    axes = left.subplots(2, 2, sharex=True, sharey=True).flat
    for ax, (lr, p) in zip(axes, trajectories.items()):
        ax.contour(g1, g2, g1 ** 2 + g2 ** 2, levels=8, colors="0.85", linewidths=0.7)
        ax.plot(p[:, 0], p[:, 1], color="0.6", linewidth=0.8)
        ax.scatter(p[:, 0], p[:, 1], c=np.arange(len(p)), cmap="viridis", s=14, zorder=3)
        ax.plot(0, 0, marker="*", color="crimson", markersize=9)
        ax.set(xlim=(-2.2, 2.2), ylim=(-2.2, 2.2), aspect="equal", title=f"lr = {lr}")
    left.suptitle("gradient descent on $x_1^2 + x_2^2$ from (1.5, -1); colour = step")
    bx = right.subplots()
    for name, curve in losses.items():
        bx.plot(curve, marker=".", label=name)
    bx.set(yscale="log", xlabel="epoch (passes over the data)", ylabel="MSE on all data",
           title="linear regression, lr = 0.05")
    bx.legend(fontsize="small")
    bx.grid(True, which="both", alpha=0.3)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and samples")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG figure")
    args = parser.parse_args()
    out = main(args.quick, args.plot)
    for lr, d in out["distance"].items():
        print(f"lr {lr:<5}: |x| after {len(out['trajectories'][lr]) - 1} steps = {d:.3g}")
    for name, curve in out["losses"].items():
        print(f"{name:<11}: MSE {curve[0]:.3f} -> {curve[-1]:.4f}")
