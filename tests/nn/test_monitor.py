"""gradcore/nn/monitor.py: GradNormMonitor records, summarizes and plots gradient norms."""
import math

import numpy as np
import pytest

import gradcore as gc


def test_norms_match_numpy():
    net = gc.nn.MLP([3, 5, 2], activation="tanh", dtype="float64")
    monitor = gc.nn.GradNormMonitor(net)
    assert monitor.layer_names == ["0", "2"]
    net(gc.randn(7, 3, dtype="float64")).sum().backward()
    rec = monitor.record()
    for name, p in net.named_parameters():
        assert rec[name] == pytest.approx(np.linalg.norm(p.grad.numpy()))
    layer0 = math.hypot(np.linalg.norm(net[0].weight.grad.numpy()),
                        np.linalg.norm(net[0].bias.grad.numpy()))
    assert rec["0"] == pytest.approx(layer0)
    assert monitor.last() is rec and monitor.layer_norms() == [rec["0"], rec["2"]]


def test_history_and_summary():
    net = gc.nn.MLP([2, 4, 1])
    opt = gc.optim.SGD(net.parameters(), lr=0.1)  # flat buffers: grads are views
    monitor = gc.nn.GradNormMonitor(net)
    for _ in range(3):
        opt.zero_grad()
        net(gc.randn(5, 2)).mean().backward()
        monitor.record()
        opt.step()
    assert len(monitor.history) == 3
    assert monitor.history[0] is not monitor.history[1]
    text = monitor.summary()
    assert "over 3 step(s)" in text and "0 (Linear 2->4)" in text and "2.bias" in text
    monitor.clear()
    assert monitor.history == [] and "nothing recorded" in monitor.summary()


def test_missing_gradients_are_nan():
    net = gc.nn.Linear(3, 2)  # the root module itself is the Linear layer
    monitor = gc.nn.GradNormMonitor(net)
    assert monitor.layer_names == ["Linear"]
    rec = monitor.record()
    assert math.isnan(rec["weight"]) and math.isnan(rec["Linear"])
    assert "(no grad)" in monitor.summary()


def test_errors_before_recording():
    monitor = gc.nn.GradNormMonitor(gc.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="nothing recorded"):
        monitor.last()


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    net = gc.nn.MLP([2, 4, 4, 1], activation="sigmoid")
    monitor = gc.nn.GradNormMonitor(net)
    for _ in range(2):
        net(gc.randn(5, 2)).mean().backward()
        monitor.record()
    monitor.plot(tmp_path / "steps.png")
    fig = monitor.plot(tmp_path / "layers.png", by="layer")
    assert (tmp_path / "steps.png").stat().st_size > 0 and (tmp_path / "layers.png").exists()
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="by must be"):
        monitor.plot(by="depth")


def test_plot_without_matplotlib(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    net = gc.nn.Linear(2, 1)
    monitor = gc.nn.GradNormMonitor(net)
    net(gc.ones((1, 2))).sum().backward()
    monitor.record()
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="gradcore\\[plot\\]"):
        monitor.plot()
