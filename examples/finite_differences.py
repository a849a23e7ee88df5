"""Finite differences: error against the step h, and the O(N) cost that autodiff avoids.

Part 1 differentiates f(x) = sin x at x = 1 (exact derivative cos 1) with ``gc.numerical_grad``:

* forward difference (f(x + h) - f(x)) / h has truncation error h/2 |f''| = O(h);
* central difference (f(x + h) - f(x - h)) / 2h has truncation error h²/6 |f'''| = O(h²).

Both also suffer rounding: f(x ± h) carry a relative error of about machine epsilon
(2.2e-16 in float64), and dividing their difference by h magnifies it to about eps |f| / h.
So the total error falls with h until rounding takes over: the best h is near sqrt(eps) ≈ 1e-8
for forward differences and eps^(1/3) ≈ 6e-6 for central ones, and below that the error grows
again as h shrinks.

Part 2 counts evaluations of a function of N inputs: a finite-difference gradient needs N + 1
(forward) or 2N (central) of them, while reverse mode gets all N partial derivatives from one
forward pass and one backward pass.

Run ``python examples/finite_differences.py [--quick] [--plot FILE]``.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import gradcore as gc


def errors_vs_step(steps, x0=1.0):
    """|numerical - exact| derivative of sin at ``x0`` for each h:
    ``{"forward": [...], "central": [...]}``."""
    x = gc.tensor([x0], dtype="float64", device="cpu")
    exact = math.cos(x0)
    f = lambda t: gc.sin(t).sum()  # noqa: E731
    return {method: [abs(float(gc.numerical_grad(f, x, eps=h, method=method)[0][0]) - exact)
                     for h in steps]
            for method in ("forward", "central")}


def evaluation_counts(sizes):
    """For each N: evaluations of f and seconds taken by forward/central differences and by
    one reverse-mode gradient of f(x) = sum(tanh(x) * x) with x of N elements."""
    counts = {"forward": [], "central": [], "reverse": []}
    seconds = {"forward": [], "central": [], "reverse": []}
    max_diff = 0.0
    for n in sizes:
        x = gc.tensor(np.linspace(-1, 1, n), device="cpu")
        calls = [0]

        def f(t):
            calls[0] += 1
            return (gc.tanh(t) * t).sum()

        for method in ("forward", "central"):
            calls[0] = 0
            start = time.perf_counter()
            numeric, = gc.numerical_grad(f, x, method=method)
            seconds[method].append(time.perf_counter() - start)
            counts[method].append(calls[0])
        calls[0] = 0
        start = time.perf_counter()
        analytic = gc.grad(f)(x)  # one forward pass (one call of f) + one backward pass
        seconds["reverse"].append(time.perf_counter() - start)
        counts["reverse"].append(calls[0])
        max_diff = max(max_diff, float(np.abs(analytic.numpy() - numeric).max()))
    return counts, seconds, max_diff


def main(quick=False, plot=None):
    """Returns ``{"h": steps, "errors": {"forward" | "central": [...]}, "sizes": Ns,
    "counts": {...}, "seconds": {...}, "max_diff": max |central - reverse|}``."""
    steps = np.logspace(-1, -13, 25 if quick else 49)
    errors = errors_vs_step(steps)
    sizes = (10, 100) if quick else (10, 100, 1000)
    counts, seconds, max_diff = evaluation_counts(sizes)
    if plot:
        _plot(steps, errors, sizes, counts, plot)
    return {"h": steps, "errors": errors, "sizes": sizes, "counts": counts, "seconds": seconds,
            "max_diff": max_diff}


def _plot(steps, errors, sizes, counts, path):
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[1.3, 1])
    floor = 1e-17  # an exact hit would be log(0)
    for method, err in errors.items():
        ax.loglog(steps, np.maximum(err, floor), marker=".", label=f"{method} difference")
    eps = np.finfo(np.float64).eps
    ax.loglog(steps, steps / 2 * math.sin(1.0), ":", color="C0", label="truncation h/2 |f''|")
    ax.loglog(steps, steps ** 2 / 6 * math.cos(1.0), ":", color="C1",
              label="truncation h²/6 |f'''|")
    ax.loglog(steps, eps / steps, "--", color="0.5", label="rounding ≈ eps / h")
    ax.set(xlabel="step h", ylabel="|error| of d/dx sin x at x = 1", ylim=(1e-13, 1),
           title="finite-difference error vs step")
    ax.invert_xaxis()
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    for method, c in counts.items():
        bx.loglog(sizes, c, marker="o", label=method if method != "reverse" else
                  "reverse mode (1 forward + 1 backward)")
    bx.set(xlabel="number of inputs N", ylabel="evaluations of f per gradient",
           title="cost of one gradient")
    bx.grid(True, which="major", alpha=0.3)
    bx.legend(fontsize="small")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and sizes")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG figure")
    args = parser.parse_args()
    out = main(args.quick, args.plot)
    for method, err in out["errors"].items():
        best = int(np.argmin(err))
        print(f"{method:<7}: smallest error {err[best]:.1e} at h = {out['h'][best]:.0e}")
    for i, n in enumerate(out["sizes"]):
        print(f"N = {n:>5}: evaluations forward {out['counts']['forward'][i]}, central "
              f"{out['counts']['central'][i]}, reverse mode {out['counts']['reverse'][i]}; "
              f"seconds {out['seconds']['central'][i]:.4f} (central) vs "
              f"{out['seconds']['reverse'][i]:.5f} (reverse)")
