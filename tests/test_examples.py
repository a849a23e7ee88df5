"""The teaching examples (examples/*.py) run in quick mode and show what their docs claim."""
import pathlib

import numpy as np

from tests.helpers import load_script

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    return load_script(EXAMPLES / f"{name}.py")


def test_gradient_descent_learning_rates():
    out = load("gradient_descent").main(quick=True)
    traj, dist = out["trajectories"], out["distance"]
    start = np.linalg.norm([1.5, -1.0])
    # lr 0.1: a smooth slide, |x| shrinks every step and x1 never changes sign
    norms = np.linalg.norm(traj[0.1], axis=1)
    assert np.all(np.diff(norms) < 0) and np.all(traj[0.1][:, 0] > 0)
    # lr 0.5: the minimum in one step
    assert np.linalg.norm(traj[0.5][1]) < 1e-12
    # lr 0.9: converges while flipping sign every step
    signs = np.sign(traj[0.9][:, 0])
    assert np.all(signs[1:] == -signs[:-1]) and dist[0.9] < start
    # lr 1.05: diverges
    assert dist[1.05] > 2 * start
    assert np.all(np.diff(np.linalg.norm(traj[1.05], axis=1)) > 0)


def test_gradient_descent_batch_sizes():
    losses = load("gradient_descent").main(quick=True)["losses"]
    assert set(losses) == {"full batch", "mini-batch", "stochastic"}
    for curve in losses.values():
        assert curve[-1] < 0.5 * curve[0]
    full = losses["full batch"]
    assert all(b < a for a, b in zip(full, full[1:]))  # full batch: monotone at this lr
    # more (noisier) updates per epoch: far lower loss after the same number of epochs
    assert losses["mini-batch"][-1] < 0.2 * full[-1]
    assert losses["stochastic"][-1] < 0.2 * full[-1]


def test_momentum_and_saddle():
    out = load("momentum").main(quick=True)
    steps = out["steps"]
    assert steps["momentum"] < steps["plain"] / 2
    assert steps["plain"] < 2000  # both actually reached the tolerance
    assert out["escape_steps"]["momentum"] < out["escape_steps"]["plain"] < 500
    assert out["stuck_at_saddle"] < 1e-2  # started on x2 = 0: converges to the saddle


def test_vanishing_gradients():
    norms = load("vanishing_gradients").main(quick=True)["norms"]
    assert len(norms["sigmoid"]) == 10
    assert norms["sigmoid"][0] < 1e-3 * norms["relu"][0]
    assert norms["sigmoid"][0] < 1e-3 * norms["sigmoid"][-1]
    assert np.all(np.diff(norms["sigmoid"]) > 0)  # shrinks layer by layer towards the input
    for act in ("tanh", "relu", "leaky_relu"):
        assert norms[act][0] > 0.05 * norms[act][-1]


def test_universal_approximation():
    errors = load("universal_approximation").main(quick=True)["max_error"]
    assert errors[32] < 0.15  # the full run (3,000 steps) promises < 0.05


def test_universal_approximation_full():
    mod = load("universal_approximation")
    model, _ = mod.fit_sin(32, 3000)
    assert mod.max_error(model) < mod.TARGET_ERROR


def test_finite_differences():
    out = load("finite_differences").main(quick=True)
    h = out["h"]
    i = int(np.argmin(np.abs(np.log10(h) + 4)))  # h = 1e-4
    fwd, cen = out["errors"]["forward"], out["errors"]["central"]
    assert cen[i] < 1e-3 * fwd[i]
    # truncation falls with h at large h; rounding grows as h shrinks at tiny h
    assert fwd[0] > fwd[i] and cen[0] > cen[i]
    assert fwd[-1] > 100 * min(fwd) and cen[-1] > 100 * min(cen)
    for k, n in enumerate(out["sizes"]):
        assert out["counts"]["forward"][k] == n + 1
        assert out["counts"]["central"][k] == 2 * n
        assert out["counts"]["reverse"][k] == 1
    assert out["max_diff"] < 1e-6


def test_expression_swell():
    out = load("expression_swell").main(quick=True)
    assert out["tape"] == [3 * (n - 1) for n in out["n"]]  # linear
    d = out["derivative"]
    assert d[-1] > 1000 and d[-1] / d[-2] > 2  # exponential
