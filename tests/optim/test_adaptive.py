"""RMSprop, Adagrad, Adadelta: every update against PyTorch's rule written out in float64
(tests/helpers.py), parameters without a gradient skipped, state dicts, validation, float32,
and PyTorch itself where installed."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import adadelta_reference, adagrad_reference, rmsprop_reference

GRADS = [np.array([1.0, -2.0, 0.1]), np.array([0.5, 0.5, -0.3]), np.array([-1.0, 3.0, 0.0]),
         np.array([0.2, -0.4, 2.0])]
X0 = np.array([0.3, -0.7, 1.5])

CASES = {
    "rmsprop": (lambda ps: gc.optim.RMSprop(ps, lr=0.01),
                lambda gs: rmsprop_reference(X0, gs, 0.01, 0.99, 1e-8)),
    "rmsprop_all": (lambda ps: gc.optim.RMSprop(ps, lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1,
                                                momentum=0.8, centered=True),
                    lambda gs: rmsprop_reference(X0, gs, 0.02, 0.9, 1e-6, 0.1, 0.8, True)),
    "rmsprop_centered": (lambda ps: gc.optim.RMSprop(ps, lr=0.02, centered=True),
                         lambda gs: rmsprop_reference(X0, gs, 0.02, 0.99, 1e-8, centered=True)),
    "rmsprop_momentum": (lambda ps: gc.optim.RMSprop(ps, lr=0.02, momentum=0.5),
                         lambda gs: rmsprop_reference(X0, gs, 0.02, 0.99, 1e-8, momentum=0.5)),
    "adagrad": (lambda ps: gc.optim.Adagrad(ps, lr=0.1),
                lambda gs: adagrad_reference(X0, gs, 0.1)),
    "adagrad_all": (lambda ps: gc.optim.Adagrad(ps, lr=0.1, lr_decay=0.05, weight_decay=0.2,
                                                initial_accumulator_value=0.3, eps=1e-6),
                    lambda gs: adagrad_reference(X0, gs, 0.1, 0.05, 0.2, 0.3, 1e-6)),
    "adadelta": (lambda ps: gc.optim.Adadelta(ps),
                 lambda gs: adadelta_reference(X0, gs, 1.0, 0.9, 1e-6)),
    "adadelta_all": (lambda ps: gc.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
                     lambda gs: adadelta_reference(X0, gs, 0.5, 0.8, 1e-4, 0.1)),
}


def _run(factory, grads, device, dtype="float64", x0=X0):
    p = gc.nn.Parameter(gc.tensor(x0, dtype=dtype, device=device))
    opt = factory([p])
    out = []
    for g in grads:
        opt.zero_grad()
        if g is not None:
            (p * gc.tensor(g, dtype=dtype, device=device)).sum().backward()  # dL/dp = g
        opt.step()
        out.append(p.numpy().copy())
    return out, opt


@pytest.mark.parametrize("name", list(CASES))
def test_matches_the_rule_in_float64(name, device):
    factory, reference = CASES[name]
    got, _ = _run(factory, GRADS, device)
    for y, x in zip(got, reference(GRADS)):
        np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["rmsprop", "adagrad_all", "adadelta"])
def test_float32(name, device):
    factory, reference = CASES[name]
    got, _ = _run(factory, GRADS, device, dtype="float32")
    assert got[-1].dtype == np.float32
    np.testing.assert_allclose(got[-1], list(reference(GRADS))[-1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_none_gradient_skips_the_parameter_and_its_state(name, device):
    """A parameter without a gradient at some steps keeps its value and state, and its step
    count does not advance (Adagrad's decay); the other parameter is updated as usual."""
    factory, reference = CASES[name]
    a = gc.nn.Parameter(gc.tensor(X0, dtype="float64", device=device))
    b = gc.nn.Parameter(gc.tensor(X0, dtype="float64", device=device))
    opt = factory([a, b])
    used = [True, False, True, True]
    for g, use_b in zip(GRADS, used):
        opt.zero_grad()
        w = gc.tensor(g, dtype="float64", device=device)
        ((a * w).sum() + ((b * w).sum() if use_b else 0)).backward()
        assert (b.grad is None) != use_b
        opt.step()
    np.testing.assert_allclose(a.numpy(), list(reference(GRADS))[-1], rtol=1e-12, atol=1e-15)
    skipped = [g if u else None for g, u in zip(GRADS, used)]
    np.testing.assert_allclose(b.numpy(), list(reference(skipped))[-1], rtol=1e-12, atol=1e-15)
    assert opt.state_dict()["state"][1]["step"] == 3


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip(name, device):
    factory, reference = CASES[name]
    p = gc.nn.Parameter(gc.tensor(X0, dtype="float64", device=device))
    opt = factory([p])
    for g in GRADS[:2]:
        p.grad = gc.tensor(g, dtype="float64", device=device)
        opt.step()
    saved = opt.state_dict()
    q = gc.nn.Parameter(gc.tensor(p.numpy(), dtype="float64", device=device))
    fresh = factory([q])
    fresh.load_state_dict(saved)
    for g in GRADS[2:]:
        for param, o in ((p, opt), (q, fresh)):
            param.grad = gc.tensor(g, dtype="float64", device=device)
            o.step()
    np.testing.assert_array_equal(q.numpy(), p.numpy())
    np.testing.assert_allclose(p.numpy(), list(reference(GRADS))[-1], rtol=1e-12, atol=1e-15)


def test_state_names_as_pytorch():
    p = gc.nn.Parameter(gc.zeros(2))
    names = {
        gc.optim.RMSprop: {"square_avg"},
        lambda ps: gc.optim.RMSprop(ps, momentum=0.9, centered=True): {"square_avg", "momentum_buffer", "grad_avg"},
        gc.optim.Adagrad: {"sum"},
        gc.optim.Adadelta: {"square_avg", "acc_delta"},
    }
    for factory, expected in names.items():
        opt = factory([p])
        p.grad = gc.ones(2)
        opt.step()
        assert set(opt.state_dict()["state"][0]) == expected | {"step"}


def test_validation():
    p = gc.nn.Parameter(gc.zeros(2))
    bad = [(lambda: gc.optim.RMSprop([p], alpha=-0.1), ValueError, "RMSprop: invalid alpha"),
           (lambda: gc.optim.RMSprop([p], momentum=-1), ValueError, "RMSprop: invalid momentum"),
           (lambda: gc.optim.RMSprop([p], centered=1), TypeError, "RMSprop: centered must be"),
           (lambda: gc.optim.RMSprop([p], lr="0.1"), TypeError, "RMSprop: lr must be a real"),
           (lambda: gc.optim.Adagrad([p], lr_decay=-1), ValueError, "Adagrad: invalid lr_decay"),
           (lambda: gc.optim.Adagrad([p], initial_accumulator_value=-1), ValueError,
            "Adagrad: invalid initial_accumulator_value"),
           (lambda: gc.optim.Adadelta([p], rho=1.5), ValueError, r"Adadelta: invalid rho=1.5"),
           (lambda: gc.optim.Adadelta([p], eps=-1), ValueError, "Adadelta: invalid eps")]
    for make, err, msg in bad:
        with pytest.raises(err, match=msg):
            make()
    opt = gc.optim.RMSprop([p])
    opt.param_groups[0]["momentum"] = 0.9  # state for momentum was not made at construction
    p.grad = gc.ones(2)
    with pytest.raises(ValueError, match=r"RMSprop: \['momentum_buffer'\] turned on after construction"):
        opt.step()


TORCH = {
    "rmsprop_all": ("RMSprop", dict(lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "adagrad_all": ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.2, initial_accumulator_value=0.3, eps=1e-6)),
    "adadelta_all": ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
}


@pytest.mark.parametrize("name", list(TORCH))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    cls, kw = TORCH[name]
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    tp = torch.nn.Parameter(torch.tensor(x0))
    topt = getattr(torch.optim, cls)([tp], **kw)
    gp = gc.nn.Parameter(gc.tensor(x0))
    gopt = getattr(gc.optim, cls)([gp], **kw)
    for g in grads:
        tp.grad, gp.grad = torch.tensor(g), gc.tensor(g)
        topt.step()
        gopt.step()
    np.testing.assert_allclose(gp.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    tstate = topt.state_dict()["state"][0]
    for key, value in gopt.state_dict()["state"][0].items():
        if key != "step":
            np.testing.assert_allclose(value.numpy(), tstate[key].numpy(), rtol=1e-12, atol=1e-15)
