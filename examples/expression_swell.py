"""Expression swell: a symbolic derivative grows much faster than the tape that computes it.

The logistic map l(n+1) = 4 l(n) (1 - l(n)), l(1) = x, is the example of Baydin et al.,
"Automatic differentiation in machine learning: a survey" (JMLR 2018). Written out as an
expression tree, l(n) already doubles in size with each n (l(n) appears twice in l(n+1)), and
its derivative, built by the product rule d(uv) = u'v + uv' without simplification, grows
faster still. Reverse-mode autodiff never builds an expression: it records 3 ops per iteration
on the tape and replays them backwards once, so its cost stays a constant multiple of
evaluating l(n) itself.

A toy symbolic differentiator below (tuples as expression trees) measures the first; the size
of gradcore's recorded graph (``gc.viz.trace``) measures the second.

Run ``python examples/expression_swell.py [--quick] [--plot FILE]``.
"""
from __future__ import annotations

import argparse

import gradcore as gc

X = ("x",)


def logistic(n):
    """The expression tree of l(n) (subtrees are shared objects, the tree they stand for is not)."""
    expr = X
    for _ in range(n - 1):
        expr = ("*", ("*", ("const", 4), expr), ("-", ("const", 1), expr))
    return expr


def derivative(expr, memo=None):
    """d expr / dx by the sum and product rules, without simplification."""
    memo = {} if memo is None else memo
    found = memo.get(id(expr))
    if found is not None:
        return found
    op = expr[0]
    if op == "x":
        out = ("const", 1)
    elif op == "const":
        out = ("const", 0)
    elif op in ("+", "-"):
        out = (op, derivative(expr[1], memo), derivative(expr[2], memo))
    else:  # "*": the product rule
        u, v = expr[1], expr[2]
        out = ("+", ("*", derivative(u, memo), v), ("*", u, derivative(v, memo)))
    memo[id(expr)] = out
    return out


def tree_size(expr, memo=None):
    """Number of nodes of the tree ``expr`` stands for (shared subtrees counted every time)."""
    memo = {} if memo is None else memo
    found = memo.get(id(expr))
    if found is None:
        found = memo[id(expr)] = 1 + sum(tree_size(e, memo) for e in expr[1:]
                                         if isinstance(e, tuple))
    return found


def tape_size(n):
    """Ops gradcore records computing l(n); the backward pass replays each of them once."""
    x = gc.tensor(0.3, dtype="float64", device="cpu", requires_grad=True)
    y = x
    for _ in range(n - 1):
        y = 4 * y * (1 - y)
    return len(gc.viz.trace(y).ops())


def main(quick=False, plot=None):
    """Returns ``{"n": [...], "expression": [...], "derivative": [...], "tape": [...]}`` sizes."""
    ns = list(range(1, 9 if quick else 15))
    sizes = {"n": ns, "expression": [], "derivative": [], "tape": []}
    for n in ns:
        expr = logistic(n)
        sizes["expression"].append(tree_size(expr))
        sizes["derivative"].append(tree_size(derivative(expr)))
        sizes["tape"].append(tape_size(n))
    if plot:
        _plot(sizes, plot)
    return sizes


def _plot(sizes, path):
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional dependency)

    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.semilogy(sizes["n"], sizes["derivative"], marker="o",
                label="symbolic derivative (tree nodes)")
    ax.semilogy(sizes["n"], sizes["expression"], marker="o", label="expression l(n) (tree nodes)")
    ax.semilogy(sizes["n"], sizes["tape"], marker="o", label="gradcore tape (recorded ops)")
    ax.set(xlabel="n (iterations of the logistic map)", ylabel="size",
           title="expression swell vs the tape")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n up to 8")
    parser.add_argument("--plot", metavar="FILE", help="write a PNG figure")
    args = parser.parse_args()
    out = main(args.quick, args.plot)
    print(f"{'n':>3} {'l(n)':>8} {'dl/dx':>10} {'tape':>5}")
    for row in zip(out["n"], out["expression"], out["derivative"], out["tape"]):
        print(f"{row[0]:>3} {row[1]:>8} {row[2]:>10} {row[3]:>5}")
