"""OneCycleLR and ReduceLROnPlateau: hand-computed schedules (CI) and PyTorch's (where installed)."""
import math

import pytest

import gradcore as gc
from gradcore.optim import lr_scheduler as S


def _sgd(lr=0.1, momentum=0.9):
    return gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=lr, momentum=momentum)


def _cos(a, b, pct):
    return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)


def _trace(s, n, key="lr"):
    g = s.optimizer.param_groups[0]
    out = [g[key] if key != "beta1" else g["betas"][0]]
    for _ in range(n):
        s.step()
        out.append(g[key] if key != "beta1" else g["betas"][0])
    return out


def test_one_cycle_by_hand():
    opt = _sgd()
    s = S.OneCycleLR(opt, max_lr=2.0, total_steps=10, pct_start=0.3)
    lrs, ms = [], []
    g = opt.param_groups[0]
    for t in range(10):
        lrs.append(g["lr"])
        ms.append(g["momentum"])
        if t < 9:
            s.step()
    init, lo = 2.0 / 25, 2.0 / 25 / 1e4
    up_end = 0.3 * 10 - 1  # PyTorch's phase boundary: step 2
    want = [_cos(init, 2.0, t / up_end) if t <= up_end else _cos(2.0, lo, (t - up_end) / (9 - up_end))
            for t in range(10)]
    assert lrs == pytest.approx(want, rel=1e-12)
    assert ms[0] == pytest.approx(0.95) and ms[2] == pytest.approx(0.85) and ms[9] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times; the schedule has total_steps=10"):
        s.step()
        s.step()


def test_one_cycle_linear_three_phase_and_adam_beta1():
    opt = gc.optim.Adam([gc.nn.Parameter(gc.zeros(1))], lr=1.0)
    s = S.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=5, anneal_strategy="linear",
                     three_phase=True, pct_start=0.25, div_factor=10.0, final_div_factor=100.0)
    lrs = _trace(s, 9)
    # phases end at 1.5, 3.0 and 9: 0.1 -> 1 -> 0.1 -> 0.001 linearly
    assert lrs[0] == pytest.approx(0.1) and lrs[3] == pytest.approx(0.1)
    assert lrs[1] == pytest.approx(0.1 + 0.9 / 1.5) and lrs[9] == pytest.approx(0.001)
    assert opt.param_groups[0]["betas"][0] == pytest.approx(0.95)  # beta1 cycles like momentum
    assert opt.param_groups[0]["betas"][1] == 0.999


def test_one_cycle_errors():
    with pytest.raises(ValueError, match="give total_steps, or both epochs and steps_per_epoch"):
        S.OneCycleLR(_sgd(), max_lr=1.0)
    with pytest.raises(ValueError, match="needs the optimizer built with momentum > 0"):
        S.OneCycleLR(_sgd(momentum=0.0), max_lr=1.0, total_steps=5)
    S.OneCycleLR(_sgd(momentum=0.0), max_lr=1.0, total_steps=5, cycle_momentum=False)
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum or betas"):
        S.OneCycleLR(gc.optim.Adagrad([gc.nn.Parameter(gc.zeros(1))]), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="anneal_strategy must be"):
        S.OneCycleLR(_sgd(), max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="expected 1 values of max_lr"):
        S.OneCycleLR(_sgd(), max_lr=[1.0, 2.0], total_steps=5)


def test_plateau_by_hand():
    opt = _sgd(lr=1.0)
    s = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    lrs = []
    for loss in [5, 4] + [4] * 14:
        s.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    # bad calls from the 3rd on; the 3rd bad one (> patience 2) halves the lr; the call after a
    # reduction is cooldown (not counted); 0.25 * 0.5 is floored at min_lr 0.2
    assert lrs == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2]


def test_plateau_threshold_modes_and_max():
    opt = _sgd(lr=1.0)
    s = S.ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    s.step(1.0)
    s.step(1.05)  # not above 1.0 + 0.1: a bad epoch, patience 0: reduce
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    s.step(1.2)  # better: no change
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and s.best == 1.2
    state = s.state_dict()
    t = S.ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    t.load_state_dict(state)
    assert t.best == 1.2 and t.last_step == 3
    s.step(gc.tensor(1.0))  # a 0-d tensor works as the metric
    with pytest.raises(ValueError, match="factor=1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        S.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        S.ReduceLROnPlateau(opt, patience=-1)


def test_one_cycle_matches_torch():
    torch = pytest.importorskip("torch")
    for kw in [dict(max_lr=1.0, total_steps=37), dict(max_lr=0.5, epochs=3, steps_per_epoch=7,
                                                          pct_start=0.4, three_phase=True),
               dict(max_lr=0.3, total_steps=20, anneal_strategy="linear", div_factor=5.0)]:
        tp = torch.nn.Parameter(torch.zeros(1))
        topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
        ts = torch.optim.lr_scheduler.OneCycleLR(topt, **kw)
        gs = S.OneCycleLR(_sgd(), **kw)
        n = gs.total_steps - 1
        for _ in range(n):
            t_lr, t_m = topt.param_groups[0]["lr"], topt.param_groups[0]["momentum"]
            g = gs.optimizer.param_groups[0]
            assert g["lr"] == pytest.approx(t_lr, rel=1e-12, abs=1e-15)
            assert g["momentum"] == pytest.approx(t_m, rel=1e-12)
            topt.step()
            ts.step()
            gs.step()


def test_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    metrics = [1.0, 0.9, 0.95, 0.91, 0.9, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.84, 0.84, 0.84]
    for kw in [dict(), dict(patience=1, factor=0.5, cooldown=2), dict(mode="max", patience=0),
               dict(patience=1, threshold=0.05, threshold_mode="abs", min_lr=0.02)]:
        topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
        gs = S.ReduceLROnPlateau(_sgd(momentum=0.0), **kw)
        for m in metrics * 3:
            ts.step(m)
            gs.step(m)
            assert gs.get_last_lr()[0] == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
