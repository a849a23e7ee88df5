"""A hyperparameter of the wrong type or out of range raises an error that names the optimizer
or schedule, the argument and the value: at construction, in a parameter group, when loaded
from a state dict, and when changed between steps."""
import numpy as np
import pytest

import gradcore as gc

S = gc.optim.lr_scheduler


def _params():
    return gc.nn.Linear(3, 2).parameters()


def _sgd(**kw):
    return gc.optim.SGD(_params(), **{"lr": 0.1, **kw})


CASES = [
    # (call, exception, substrings of the message)
    (lambda: gc.optim.SGD(_params(), lr="0.1"), TypeError, ["SGD", "lr must be a real number", "'0.1'", "str"]),
    (lambda: gc.optim.SGD(_params(), lr=True), TypeError, ["SGD", "lr", "True", "bool"]),
    (lambda: gc.optim.SGD(_params(), lr=None), TypeError, ["SGD", "lr", "None"]),
    (lambda: gc.optim.SGD(_params(), lr=float("inf")), ValueError, ["SGD", "lr=inf", "finite"]),
    (lambda: _sgd(momentum="0.9"), TypeError, ["SGD", "momentum", "'0.9'"]),
    (lambda: _sgd(momentum=0.9, dampening=None), TypeError, ["SGD", "dampening", "None"]),
    (lambda: _sgd(weight_decay=[0.1]), TypeError, ["SGD", "weight_decay", "[0.1]", "list"]),
    (lambda: _sgd(momentum=0.9, nesterov="yes"), TypeError, ["SGD", "nesterov", "'yes'"]),
    (lambda: gc.optim.SGD([{"params": list(_params()), "lr": "0.1"}]), TypeError,
     ["SGD", "lr", "'0.1'"]),
    (lambda: gc.optim.Adam(_params(), betas=("0.9", 0.999)), TypeError, ["Adam", "betas[0]", "'0.9'"]),
    (lambda: gc.optim.Adam(_params(), betas=(0.9, None)), TypeError, ["Adam", "betas[1]", "None"]),
    (lambda: gc.optim.Adam(_params(), betas=0.9), ValueError, ["Adam", "betas", "pair", "0.9"]),
    (lambda: gc.optim.Adam(_params(), eps="1e-8"), TypeError, ["Adam", "eps", "'1e-8'"]),
    (lambda: gc.optim.AdamW(_params(), weight_decay="0.01"), TypeError,
     ["AdamW", "weight_decay", "'0.01'"]),
    (lambda: gc.optim.AdamW(_params(), lr=float("nan")), ValueError, ["AdamW", "lr=nan"]),
    (lambda: S.StepLR(_sgd(), step_size=2.5), TypeError, ["StepLR", "step_size", "2.5", "integer"]),
    (lambda: S.StepLR(_sgd(), step_size=2, gamma="0.5"), TypeError, ["StepLR", "gamma", "'0.5'"]),
    (lambda: S.CosineAnnealingLR(_sgd(), T_max="10"), TypeError, ["CosineAnnealingLR", "T_max", "'10'"]),
    (lambda: S.CosineAnnealingLR(_sgd(), T_max=0), ValueError, ["CosineAnnealingLR", "T_max=0"]),
    (lambda: S.CosineAnnealingLR(_sgd(), T_max=10, eta_min=-1.0), ValueError,
     ["CosineAnnealingLR", "eta_min=-1.0"]),
    (lambda: S.LinearWarmup(_sgd(), warmup_steps=0), ValueError, ["LinearWarmup", "warmup_steps=0"]),
    (lambda: S.LinearWarmup(_sgd(), warmup_steps=3, start_factor=2.0), ValueError,
     ["LinearWarmup", "start_factor=2.0"]),
    (lambda: S.LinearWarmup(_sgd(), warmup_steps=3, after="cosine"), TypeError,
     ["LinearWarmup", "after", "'cosine'"]),
    (lambda: S.StepLR("sgd", step_size=2), TypeError, ["StepLR", "optimizer", "str"]),
]


@pytest.mark.parametrize("call, exc, parts", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_hyperparameter_is_named(call, exc, parts):
    with pytest.raises(exc) as info:
        call()
    for part in parts:
        assert part in str(info.value), f"{part!r} not in {str(info.value)!r}"


def test_numbers_of_any_real_type_are_accepted():
    opt = gc.optim.SGD(_params(), lr=np.float32(0.5), momentum=np.float64(0.9), nesterov=np.bool_(True))
    gc.optim.Adam(_params(), lr=1, betas=[np.float32(0.9), 0.99], eps=0)
    S.StepLR(opt, step_size=np.int64(2), gamma=1)


def test_a_bad_value_set_between_steps_fails_before_any_update():
    net = gc.nn.Linear(3, 2)
    opt = gc.optim.SGD(net.parameters(), lr=0.1)
    net(gc.ones(1, 3)).sum().backward()
    before = [p.numpy().copy() for p in net.parameters()]
    opt.param_groups[0]["lr"] = "0.1"
    with pytest.raises(TypeError, match=r"SGD: lr must be a real number, got lr='0.1' \(str\)"):
        opt.step()
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)


def test_a_bad_value_in_a_loaded_state_dict_is_named():
    opt = _sgd(momentum=0.9)
    state = opt.state_dict()
    state["param_groups"][0]["momentum"] = "0.9"
    with pytest.raises(TypeError, match=r"SGD: momentum must be a real number, got momentum='0.9'"):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize("step", ["3", -1, 2.5, None])
def test_a_bad_step_count_in_a_loaded_state_dict_is_named(step):
    opt = _sgd(momentum=0.9)
    state = opt.state_dict()
    state["state"] = {0: {"step": step, "momentum_buffer": np.zeros((2, 3), np.float32)}}
    with pytest.raises(ValueError, match=rf"SGD.load_state_dict: the state of parameter 0 has step={step!r}"):
        opt.load_state_dict(state)
