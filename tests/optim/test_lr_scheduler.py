"""Learning-rate schedules."""
import math

import pytest

import gradcore as gc
from gradcore.optim import lr_scheduler as S


def _opt(lr=1.0):
    return gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=lr)


def _trace(sched, n):
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_step_lr():
    assert _trace(S.StepLR(_opt(), step_size=2, gamma=0.5), 5) == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_cosine():
    lrs = _trace(S.CosineAnnealingLR(_opt(2.0), T_max=4, eta_min=0.0), 6)
    assert lrs[0] == 2.0 and lrs[2] == pytest.approx(1.0) and lrs[4] == pytest.approx(0.0)
    assert lrs[6] == pytest.approx(0.0)
    assert lrs[1] == pytest.approx(1 + math.cos(math.pi / 4))


def test_linear_warmup_then_cosine():
    opt = _opt(1.0)
    after = S.CosineAnnealingLR(opt, T_max=2)
    lrs = _trace(S.LinearWarmup(opt, warmup_steps=4, start_factor=0.0, after=after), 6)
    assert lrs[:5] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert lrs[5] == pytest.approx(0.5) and lrs[6] == pytest.approx(0.0)


def test_state_dict_resume():
    a = S.StepLR(_opt(), step_size=1, gamma=0.5)
    for _ in range(3):
        a.step()
    b = S.StepLR(_opt(), step_size=1, gamma=0.5)
    b.load_state_dict(a.state_dict())
    assert b.get_last_lr() == a.get_last_lr() == [0.125]


def test_invalid():
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(_opt(), step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        S.CosineAnnealingLR(_opt(), T_max=0)
