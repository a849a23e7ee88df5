"""Optimizers: each update equals the hand-computed update (PyTorch's, in float64), also for
frozen and unused parameters; state dicts; validation."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import adam_reference, sgd_reference


def _param(values, device="cpu"):
    return gc.nn.Parameter(gc.tensor(values, dtype="float64", device=device))


def _run(opt_factory, grads, x0, device):
    p = _param(x0, device)
    opt = opt_factory([p])
    out = []
    for g in grads:
        opt.zero_grad()
        (p * gc.tensor(g, dtype="float64", device=device)).sum().backward()  # dL/dp = g
        opt.step()
        out.append(p.numpy().copy())
    return out


GRADS = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 3.0])]
X0 = np.array([0.3, -0.7])


def test_plain_gradient_descent(device):
    got = _run(lambda ps: gc.optim.SGD(ps, lr=0.1), GRADS, X0, device)
    for y, x in zip(got, sgd_reference(X0, GRADS, lr=0.1)):
        np.testing.assert_allclose(y, x)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_nesterov_with_weight_decay(nesterov, device):
    lr, mu, wd = 0.1, 0.9, 0.01
    got = _run(lambda ps: gc.optim.SGD(ps, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd),
               GRADS, X0, device)
    expected = sgd_reference(X0, GRADS, lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
    for y, x in zip(got, expected):
        np.testing.assert_allclose(y, x, rtol=1e-12)


def test_momentum_equals_textbook_form():
    """PyTorch's v <- mu v + g; x -= lr v is the textbook v' <- mu v' - lr g; x += v'."""
    got = _run(lambda ps: gc.optim.SGD(ps, lr=0.2, momentum=0.5), GRADS, X0, "cpu")
    x, v = X0.copy(), np.zeros(2)
    for g, y in zip(GRADS, got):
        v = 0.5 * v - 0.2 * g
        x = x + v
        np.testing.assert_allclose(y, x, rtol=1e-12)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw(decoupled, device):
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    cls = gc.optim.AdamW if decoupled else gc.optim.Adam
    got = _run(lambda ps: cls(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), GRADS, X0, device)
    for y, x in zip(got, adam_reference(X0, GRADS, lr, b1, b2, eps, wd, decoupled)):
        np.testing.assert_allclose(y, x, rtol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.1), "lr=-0.1"),
    (dict(lr=0.1, momentum=1.0), "momentum"),
    (dict(lr=0.1, momentum=-0.5), "momentum"),
    (dict(lr=0.1, nesterov=True), "nesterov"),
    (dict(lr=0.1, weight_decay=-1), "weight_decay"),
])
def test_invalid_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gc.optim.SGD([_param([1.0])], **kwargs)


def test_empty_and_frozen_parameter_lists():
    with pytest.raises(ValueError, match="empty"):
        gc.optim.SGD([], lr=0.1)
    frozen = gc.nn.Parameter(gc.zeros(2), requires_grad=False)
    with pytest.raises(ValueError, match="requires grad"):
        gc.optim.SGD([frozen], lr=0.1)


def test_state_dict_round_trip_continues_identically():
    def make():
        gc.manual_seed(0)
        net = gc.nn.MLP([3, 4, 2])
        return net, gc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    x, y = gc.randn(6, 3), gc.tensor([0, 1, 0, 1, 1, 0])

    def train(net, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            gc.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    net_a, opt_a = make()
    train(net_a, opt_a, 4)
    net_b, opt_b = make()
    train(net_b, opt_b, 2)
    model_state, opt_state = net_b.state_dict(), opt_b.state_dict()
    net_c, opt_c = make()
    net_c.load_state_dict(model_state)
    opt_c.load_state_dict(opt_state)
    train(net_c, opt_c, 2)
    for p, q in zip(net_a.parameters(), net_c.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_checks_before_changing():
    opt = gc.optim.SGD([_param([1.0, 2.0])], lr=0.1, momentum=0.9)
    bad = opt.state_dict()
    bad["param_groups"] = bad["param_groups"] * 2
    with pytest.raises(ValueError, match="groups"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1


def test_step_bumps_versions_so_stale_graphs_are_caught():
    p = _param([1.0, 2.0])
    opt = gc.optim.SGD([p], lr=0.1)
    loss = (p * p).sum()
    p.grad = gc.ones(2, dtype=p.dtype)
    opt.step()  # modifies p in place after (p * p) saved it
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


# ---- parameters without a gradient: PyTorch leaves them (and their state) alone -------------
OPTIMIZERS = {
    "sgd-wd": (lambda ps: gc.optim.SGD(ps, lr=0.1, weight_decay=0.1),
               lambda x0, gs: sgd_reference(x0, gs, 0.1, weight_decay=0.1)),
    "momentum": (lambda ps: gc.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01),
                 lambda x0, gs: sgd_reference(x0, gs, 0.1, 0.9, 0.2, 0.01)),
    "nesterov": (lambda ps: gc.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                 lambda x0, gs: sgd_reference(x0, gs, 0.1, 0.9, 0.0, 0.01, nesterov=True)),
    "adam": (lambda ps: gc.optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1),
             lambda x0, gs: adam_reference(x0, gs, 0.01, 0.8, 0.9, 1e-8, 0.1, False)),
    "adamw": (lambda ps: gc.optim.AdamW(ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1),
              lambda x0, gs: adam_reference(x0, gs, 0.01, 0.8, 0.9, 1e-8, 0.1, True)),
}
# step -> does the extra parameter take part in the loss?
EXTRA_USED = [False, True, False, False, True, True]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_frozen_layer_and_unused_parameter_are_left_alone(name, device):
    """A layer frozen after the optimizer was built (its .grad is None after zero_grad) never
    moves, and a parameter the loss uses only in some steps moves only in those, with its own
    step count (first momentum step, Adam's bias correction), as PyTorch does."""
    make, reference = OPTIMIZERS[name]
    gc.manual_seed(1)
    net = gc.nn.MLP([3, 4, 2], activation="tanh", dtype="float64", device=device)
    extra = gc.nn.Parameter(gc.tensor([0.5, -1.5], dtype="float64", device=device))
    params = list(net.parameters()) + [extra]
    opt = make(params)
    frozen = list(net[0].parameters())
    for p in frozen:
        p.requires_grad_(False)
    x = gc.tensor(np.random.default_rng(2).standard_normal((5, 3)), dtype="float64", device=device)
    start = [p.numpy().copy() for p in params]
    seen = [[] for _ in params]
    for used in EXTRA_USED:
        opt.zero_grad()
        loss = (net(x) ** 2).sum()
        if used:
            loss = loss + (extra * net(x)[0]).sum()
        loss.backward()
        for s, p in zip(seen, params):
            s.append(None if p.grad is None else p.grad.numpy().copy())
        opt.step()
    assert all(g is None for s in seen[:2] for g in s)  # params[:2] are the frozen layer's
    assert [g is not None for g in seen[-1]] == EXTRA_USED
    for p, x0, grads in zip(params, start, seen):
        *_, expected = reference(x0, grads)
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12, atol=1e-14)
    for p, x0 in zip(frozen, start):
        np.testing.assert_array_equal(p.numpy(), x0)
    steps = {i: s["step"] for i, s in opt.state_dict()["state"].items()}
    assert steps == {2: 6, 3: 6, 4: sum(EXTRA_USED)}  # the frozen 0 and 1 have no state at all


def test_skipped_parameter_keeps_its_state_and_version():
    a, b = _param([1.0, 2.0]), _param([3.0])
    opt = gc.optim.Adam([a, b], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    before = {k: v.numpy().copy() for k, v in opt.state_dict()["state"][1].items() if k != "step"}
    version = b._version
    opt.zero_grad()
    (a * a).sum().backward()
    assert b.grad is None
    opt.step()
    state = opt.state_dict()["state"]
    assert state[0]["step"] == 2 and state[1]["step"] == 1
    for k, v in before.items():
        np.testing.assert_array_equal(state[1][k].numpy(), v)
    assert b._version == version and b.grad is None


def test_one_launch_per_buffer_when_every_parameter_has_a_gradient(monkeypatch):
    """The common case stays one fused update per flat buffer; a skipped parameter in the
    middle splits it into the runs on either side, nothing more."""
    net = gc.nn.MLP([3, 4, 4, 2])
    opt = gc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    calls = []
    real_step = gc.kernels.optim.sgd_step
    monkeypatch.setattr(gc.kernels.optim, "sgd_step",
                        lambda p, *a, **k: (calls.append(p.size), real_step(p, *a, **k)))
    x = gc.randn(2, 3)
    for _ in range(2):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    assert calls == [opt.param_groups[0]["_packs"][0].size] * 2
    calls.clear()
    opt.zero_grad()
    net(x).sum().backward()
    net[2].weight.grad = None  # the middle layer's weight: runs before and after it
    opt.step()
    assert calls == [12 + 4, 4 + 8 + 2]


def test_state_dict_with_skipped_parameters_round_trips():
    """Per-parameter step counts survive a save/load: a parameter that never had a gradient
    has no entry (as in PyTorch) and loads as step 0 with zero moments."""
    def make():
        a, b, c = _param([1.0, 2.0]), _param([3.0]), _param([-1.0, 0.5])
        return [a, b, c], gc.optim.Adam([a, b, c], lr=0.1)

    def train(params, opt, which):
        for used in which:
            opt.zero_grad()
            sum((p * p).sum() for p, u in zip(params, used) if u).backward()
            opt.step()

    plan = [(True, False, True), (True, False, False), (True, True, True), (False, True, True)]
    ref_params, ref_opt = make()
    train(ref_params, ref_opt, plan)
    params, opt = make()
    train(params, opt, plan[:2])
    saved = opt.state_dict()
    assert sorted(saved["state"]) == [0, 2] and saved["state"][2]["step"] == 1
    params2, opt2 = make()
    for p, q in zip(params2, params):
        p.array[...] = q.array
    opt2.load_state_dict(saved)
    train(params2, opt2, plan[2:])
    for p, q in zip(params2, ref_params):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert [s["step"] for s in opt2.state_dict()["state"].values()] == [3, 2, 3]
