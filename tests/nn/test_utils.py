"""gc.nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters,
on plain and flat-buffer (optimizer-packed) parameters, against NumPy and PyTorch."""
import math

import numpy as np
import pytest

import gradcore as gc
from gradcore.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                               vector_to_parameters)


def _net(device, packed):
    gc.manual_seed(0)
    net = gc.nn.Sequential(gc.nn.Linear(3, 4), gc.nn.Tanh(), gc.nn.Linear(4, 2)).to(device)
    if packed:
        gc.nn.pack_parameters(list(net.parameters()))
    (net(gc.randn(5, 3, device=device)) ** 2).sum().backward()
    return net


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm(packed, norm_type, device):
    net = _net(device, packed)
    params = list(net.parameters())
    params[1].grad = None  # skipped: as PyTorch, a parameter without a gradient is left out
    grads = [p.grad.numpy().copy() if p.grad is not None else None for p in params]
    flat = np.concatenate([g.ravel() for g in grads if g is not None])
    total = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    max_norm = total / 4
    got = clip_grad_norm_(net.parameters(), max_norm, norm_type)
    np.testing.assert_allclose(got.item(), total, rtol=1e-5)
    coef = max_norm / (total + 1e-6)
    for p, g in zip(params, grads):
        if g is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-5)
    if packed:  # the gradients stay views of the flat buffer
        assert all(p._pack.intact() for p in params)
    before = [p.grad.numpy().copy() for p in params if p.grad is not None]
    clip_grad_norm_(net.parameters(), max_norm * 10, norm_type)  # under the limit: unchanged
    for p, g in zip([p for p in params if p.grad is not None], before):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6)


def test_clip_grad_norm_subset_of_a_flat_buffer(device):
    net = _net(device, packed=True)
    params = list(net.parameters())
    untouched = params[0].grad.numpy().copy()
    g3 = params[3].grad.numpy().copy()
    norm = clip_grad_norm_([params[3]], 1e-3)  # only the last bias, though all share one buffer
    assert norm.item() == pytest.approx(np.linalg.norm(g3), rel=1e-5)
    np.testing.assert_array_equal(params[0].grad.numpy(), untouched)
    assert np.linalg.norm(params[3].grad.numpy()) == pytest.approx(1e-3, rel=1e-3)


def test_clip_grad_norm_edge_cases(device):
    p = gc.nn.Parameter(gc.zeros(2, device=device))
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients at all
    p.grad = gc.tensor([float("inf"), 1.0], device=device)
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm .* is inf"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type must be positive"):
        clip_grad_norm_(p, 1.0, norm_type=0)
    with pytest.raises(TypeError, match="clip_grad_norm_: item 0 is a list"):
        clip_grad_norm_([[p]], 1.0)


@pytest.mark.parametrize("packed", [False, True])
def test_clip_grad_value(packed, device):
    net = _net(device, packed)
    params = list(net.parameters())
    grads = [p.grad.numpy().copy() for p in params]
    v = float(np.median(np.abs(np.concatenate([g.ravel() for g in grads]))))
    clip_grad_value_(net.parameters(), v)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), np.clip(g, -v, v), rtol=1e-6)
    with pytest.raises(ValueError, match="clip_value must be non-negative"):
        clip_grad_value_(params, -1)


def test_parameters_vector_roundtrip(device):
    net = _net(device, packed=True)
    params = list(net.parameters())
    vec = parameters_to_vector(params)
    assert vec.shape == (sum(p.size for p in params),)
    np.testing.assert_array_equal(vec.numpy(), np.concatenate([p.numpy().ravel() for p in params]))
    (vec * vec).sum().backward()  # differentiable
    new = gc.arange(vec.size, device=device).astype(params[0].dtype)
    vector_to_parameters(new, params)
    np.testing.assert_array_equal(parameters_to_vector(params).numpy(), new.numpy())
    assert all(p._pack.intact() for p in params)  # copied into the views, not rebound
    with pytest.raises(ValueError, match="the vector has 3 elements but the parameters have 26"):
        vector_to_parameters(gc.zeros(3, device=device), params)


def test_clip_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(3, 4), (4,), (2, 4)]]
    for norm_type in (2.0, 1.5, math.inf):
        tp = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays]
        gp = [gc.nn.Parameter(gc.zeros(a.shape, dtype="float64")) for a in arrays]
        for t, g, a in zip(tp, gp, arrays):
            t.grad, g.grad = torch.tensor(a), gc.tensor(a)
        tn = torch.nn.utils.clip_grad_norm_(tp, 0.5, norm_type)
        gn = clip_grad_norm_(gp, 0.5, norm_type)
        assert gn.item() == pytest.approx(tn.item(), rel=1e-12)
        for t, g in zip(tp, gp):
            np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=1e-12)
        torch.nn.utils.clip_grad_value_(tp, 0.01)
        clip_grad_value_(gp, 0.01)
        for t, g in zip(tp, gp):
            np.testing.assert_array_equal(g.grad.numpy(), t.grad.numpy())
    np.testing.assert_array_equal(parameters_to_vector(gp).detach().numpy(),
                                  torch.nn.utils.parameters_to_vector(tp).detach().numpy())


def test_clip_grad_norm_float16_does_not_overflow(device):
    # |g|² overflows float16 past 256: computed there, the norm is inf and every gradient is
    # scaled by max_norm / inf = 0. Widened first, it is exact.
    p = gc.nn.Parameter(gc.zeros(2, dtype="float16", device=device))
    p.grad = gc.tensor([300.0, 400.0], dtype="float16", device=device)
    assert clip_grad_norm_([p], 50.0).item() == 500.0
    np.testing.assert_allclose(p.grad.numpy().astype(np.float64), [30.0, 40.0], rtol=1e-3)
