"""Nothing is lost: after a failed call the model's parameters, their gradients and the
optimizer's state are exactly what they were, and training carries on normally."""
import copy

import numpy as np
import pytest

import gradcore as gc

F = gc.nn.functional


def _setup(momentum=0.9, groups=False):
    """An MLP with an optimizer that has taken two steps (so it has state worth losing)."""
    gc.manual_seed(0)
    model = gc.nn.MLP([4, 6, 3])
    if groups:  # two groups: two flat buffers, two fused updates per step
        first, second = model[0], model[2]
        params = [{"params": list(first.parameters())},
                  {"params": list(second.parameters()), "lr": 0.01}]
    else:
        params = model.parameters()
    opt = gc.optim.SGD(params, lr=0.1, momentum=momentum)
    x, y = gc.randn(5, 4), gc.tensor(np.array([0, 1, 2, 1, 0]))
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()  # leave gradients in place too
    return model, opt, x, y


def _snapshot(model, opt):
    params = {k: p.numpy().copy() for k, p in model.named_parameters()}
    grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
    views = {k: (p.array, p.grad) for k, p in model.named_parameters()}
    state = {k: {n: (v.copy() if hasattr(v, "copy") else v) for n, v in s.items()}
             for k, s in opt.state.items()}
    groups = [{k: v for k, v in g.items() if k not in ("params", "_packs")}
              for g in opt.param_groups]
    return params, grads, views, state, copy.deepcopy(groups), opt.step_count


def _assert_unchanged(model, opt, snap):
    params, grads, views, state, groups, step_count = snap
    for k, p in model.named_parameters():
        np.testing.assert_array_equal(p.numpy(), params[k], err_msg=k)
        np.testing.assert_array_equal(p.grad.numpy(), grads[k], err_msg=k)
        assert p.array is views[k][0] and p.grad is views[k][1], f"{k} left its flat buffer"
    assert opt.state.keys() == state.keys()
    for k, s in opt.state.items():
        assert s.keys() == state[k].keys()
        for n, v in s.items():
            np.testing.assert_array_equal(v, state[k][n], err_msg=n)
    assert [{k: v for k, v in g.items() if k not in ("params", "_packs")}
            for g in opt.param_groups] == groups
    assert opt.step_count == step_count


def _still_trains(model, opt, x, y):
    before = F.cross_entropy(model(x), y).item()
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert F.cross_entropy(model(x), y).item() < before


def _bad_module_states(model):
    good = {k: v.numpy() + 1 for k, v in model.state_dict().items()}
    last = list(good)[-1]
    wrong_shape = {**good, last: np.zeros((7,), np.float32)}  # every other key would load
    missing = {k: v for k, v in good.items() if k != last}
    extra = {**good, "2.scale": np.ones(3, np.float32)}
    return [(wrong_shape, ValueError), (missing, KeyError), (extra, KeyError)]


def _check_failed_load(pick, bad_states, which):
    """``load_state_dict`` of the picked object (model or optimizer) with bad state number
    ``which`` raises, changes nothing, and training goes on."""
    model, opt, x, y = _setup()
    snap = _snapshot(model, opt)
    target = pick(model, opt)
    state, exc = bad_states(target)[which]
    with pytest.raises(exc):
        target.load_state_dict(state)
    _assert_unchanged(model, opt, snap)
    _still_trains(model, opt, x, y)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["wrong-shape-last", "missing", "unexpected"])
def test_failed_module_load_state_dict_changes_nothing(which):
    _check_failed_load(lambda model, opt: model, _bad_module_states, which)


def _bad_optimizer_states(opt):
    good = opt.state_dict()
    n = len(good["state"])

    def variant(fn):
        sd = copy.deepcopy({**good, "state": {k: dict(v) for k, v in good["state"].items()}})
        for g in sd["param_groups"]:
            g["lr"] = 123.0  # would change the hyperparameters if applied before the failure
        fn(sd)
        return sd

    def wrong_last_shape(sd):
        sd["state"][n - 1]["momentum_buffer"] = np.zeros((9, 9), np.float32)

    def missing_last(sd):
        del sd["state"][n - 1]["momentum_buffer"]

    def bad_momentum(sd):
        sd["param_groups"][0]["momentum"] = 1.5

    def fewer_params(sd):
        sd["param_groups"][0]["params"] = sd["param_groups"][0]["params"][:-1]

    return [(variant(wrong_last_shape), ValueError), (variant(missing_last), KeyError),
            (variant(bad_momentum), ValueError), (variant(fewer_params), ValueError),
            ({"param_groups": good["param_groups"]}, KeyError)]


@pytest.mark.parametrize("which", range(5),
                         ids=["state-shape", "state-key", "hyper", "param-count", "no-state"])
def test_failed_optimizer_load_state_dict_changes_nothing(which):
    _check_failed_load(lambda model, opt: opt, _bad_optimizer_states, which)


@pytest.mark.parametrize("groups", [False, True], ids=["one-buffer", "two-groups"])
@pytest.mark.parametrize("what", ["grad", "data"])
def test_optimizer_step_with_a_wrong_shaped_grad_or_data_changes_nothing(groups, what):
    """A .grad (or .array) rebound to a wrong shape fails the step before ANY buffer is updated
    (with two groups the first group's update used to happen before the second one failed)."""
    model, opt, x, y = _setup(groups=groups)
    last = list(model.parameters())[-1]
    snap = _snapshot(model, opt)
    good = getattr(last, what)
    if what == "grad":  # would broadcast silently into the (3,) gradient view
        with pytest.raises(RuntimeError, match=r"grad: assigned grad has shape \(1,\)"):
            last.grad = gc.ones(1)  # refused at the assignment now, as in PyTorch
        last._grad = gc.ones(1)  # past the setter: the step's own check still holds
        pattern = r"the \.grad of a parameter of shape \(3,\) was set to a tensor of shape \(1,\)"
    else:
        last.array = np.ones((3, 1), np.float32)
        pattern = r"a parameter of shape \(3,\) was rebound to shape \(3, 1\)"
    with pytest.raises(RuntimeError, match="FlatParameters: " + pattern):
        opt.step()
    setattr(last, what, good)
    _assert_unchanged(model, opt, snap)
    _still_trains(model, opt, x, y)


def test_optimizer_step_with_a_rebound_grad_of_the_right_shape_uses_it():
    model, opt, x, y = _setup(momentum=0.0)
    p = list(model.parameters())[-1]
    before = p.numpy().copy()
    p.grad = gc.ones(*p.shape)  # rebinding is allowed: it is copied into the flat buffer
    opt.step()
    np.testing.assert_allclose(p.numpy(), before - 0.1, rtol=1e-6)


@pytest.mark.parametrize("bad", ["shape", "label", "dtype"])
def test_failed_forward_changes_nothing_and_records_nothing(bad):
    model, opt, x, y = _setup()
    snap = _snapshot(model, opt)
    with pytest.raises((ValueError, TypeError)):
        if bad == "shape":
            model(gc.randn(5, 7))
        elif bad == "label":
            F.cross_entropy(model(x), gc.tensor(np.array([0, 1, 2, 3, 0])))
        else:
            F.cross_entropy(model(x), y.astype("float32"))
    _assert_unchanged(model, opt, snap)
    # the failed call left nothing on the tape: a fresh backward gives the usual gradients
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for k, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), snap[1][k], rtol=1e-6, atol=1e-7, err_msg=k)
    _still_trains(model, opt, x, y)


def test_failed_backward_after_an_optimizer_step_leaves_the_step_in_place():
    """The step happened (it is what invalidated the graph); the failed backward adds nothing."""
    model, opt, x, y = _setup()
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=False)  # zero gradients, not None: the step updates (momentum)
    opt.step()  # and bumps the versions
    snap = _snapshot(model, opt)
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()
    _assert_unchanged(model, opt, snap)
    _still_trains(model, opt, x, y)


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    model, opt, x, y = _setup()
    path = tmp_path / "model.ckpt"
    gc.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="save: cannot store a object"):
        gc.save({"model": model.state_dict(), "note": object()}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.ckpt"]  # no temporary file left
    restored = gc.load(path, device="cpu")
    fresh, opt2, _, _ = _setup(momentum=0.5)
    fresh.load_state_dict(restored["model"])
    opt2.load_state_dict(restored["optimizer"])
    for (k, p), q in zip(model.named_parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
    assert opt2.param_groups[0]["momentum"] == 0.9 and opt2.step_count == opt.step_count
    for s1, s2 in zip(opt.state.values(), opt2.state.values()):
        np.testing.assert_array_equal(s1["momentum_buffer"], s2["momentum_buffer"])
