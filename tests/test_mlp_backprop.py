"""End to end: a 2-layer MLP whose gradients are derived by hand (the chain rule written out in
NumPy), and composite expressions compared with PyTorch when it is installed."""
import numpy as np
import pytest

import gradcore as gc


def _mlp_data(rng):
    return {"x": rng.standard_normal((4, 3)), "w1": rng.standard_normal((3, 5)),
            "b1": rng.standard_normal(5), "w2": rng.standard_normal((5, 2)),
            "b2": rng.standard_normal(2), "t": rng.standard_normal((4, 2))}


def _by_hand(x, w1, b1, w2, b2, t):
    """Loss and gradients of mean((tanh(x w1 + b1) w2 + b2 - t)^2), backward written out."""
    z1 = x @ w1 + b1
    h = np.tanh(z1)
    z2 = h @ w2 + b2
    loss = np.mean((z2 - t) ** 2)
    dz2 = 2 * (z2 - t) / z2.size       # d mean(r^2) / dz2
    dw2 = h.T @ dz2                     # z2 = h w2 + b2
    db2 = dz2.sum(axis=0)               # b2 was broadcast over the rows
    dh = dz2 @ w2.T
    dz1 = dh * (1 - h * h)              # tanh' = 1 - tanh^2
    dw1 = x.T @ dz1
    db1 = dz1.sum(axis=0)
    dx = dz1 @ w1.T
    return loss, {"x": dx, "w1": dw1, "b1": db1, "w2": dw2, "b2": db2}


def test_mlp_gradients_match_the_chain_rule_by_hand(device, rng):
    data = _mlp_data(rng)
    p = {k: gc.tensor(v, device=device, requires_grad=k != "t") for k, v in data.items()}
    z2 = gc.tanh(p["x"] @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    loss = ((z2 - p["t"]) ** 2).mean()
    loss.backward()
    expected_loss, expected = _by_hand(**data)
    assert loss.dtype == np.float64
    np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-12)
    for k, g in expected.items():
        assert p[k].grad.shape == g.shape, k
        np.testing.assert_allclose(p[k].grad.numpy(), g, rtol=1e-10, atol=1e-14, err_msg=k)
    assert p["t"].grad is None
    # the same through the functional API and through linear() with torch-style weights
    grads = gc.grad(lambda w1, w2: ((gc.linear(gc.tanh(gc.linear(p["x"], w1.T, p["b1"])),
                                               w2.T, p["b2"]) - p["t"]) ** 2).mean(),
                    argnums=(0, 1))(p["w1"].detach(), p["w2"].detach())
    np.testing.assert_allclose(grads[0].numpy(), expected["w1"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads[1].numpy(), expected["w2"], rtol=1e-10, atol=1e-14)


# ---- against PyTorch ---------------------------------------------------------------------
def _expr_classifier(m, x, w, b, idx):
    logits = m.tanh(x @ w + b)
    lp = m.log_softmax(logits, -1)
    return -m.pick(lp, idx).mean() + m.logsumexp(logits, 0).sum() * 0.1 + m.var(logits) \
        + m.max(logits, 1).sum()


def _expr_elementwise(m, x, w, b, idx):
    a = m.sigmoid(x) * m.softplus(w[:, :4].T) * b[1:] + m.relu(x - 0.1) - m.leaky_relu(x, 0.2)
    c = m.clip(a, -0.5, 0.8) + m.maximum(a, x) * m.minimum(a, 0.3) + m.where(x > 0, a, x * 2)
    d = m.sqrt(m.abs(c) + 1.0) ** 1.5 / (1.0 + m.exp(-c)) + m.log1p(m.abs(a)) * m.cos(x) ** 2
    return (d * m.sin(x) - c ** 2).sum()


def _expr_shapes(m, x, w, b, idx):
    parts = m.split(x, [1, 3], 1)
    s = m.stack([parts[0].squeeze(1), parts[2].sum(1), x[:, 1]], 1)
    t = m.concatenate([s, m.flip_rows(x)[:, ::2]], 1).reshape(2, -1).transpose(1, 0)
    u = m.expand_dims(t, 0) * m.softmax(b, 0)[1:3]
    return (u * u).mean() + (x[idx, idx] * x.T[idx]).sum() + (x @ w[:, 0]).sum()


EXPRESSIONS = {"classifier": _expr_classifier, "elementwise": _expr_elementwise,
               "shapes": _expr_shapes}


class _GC:
    """The gradcore spelling of the operations the expressions use."""

    tanh, sigmoid, softplus, relu, exp, sqrt, abs, log1p = (
        gc.tanh, gc.sigmoid, gc.softplus, gc.relu, gc.exp, gc.sqrt, gc.abs, gc.log1p)
    sin, cos, maximum, minimum, where, concatenate, stack = (
        gc.sin, gc.cos, gc.maximum, gc.minimum, gc.where, gc.concatenate, gc.stack)
    leaky_relu, clip, softmax, log_softmax = gc.leaky_relu, gc.clip, gc.softmax, gc.log_softmax
    logsumexp, max, var, split, expand_dims = gc.logsumexp, gc.max, gc.var, gc.split, gc.expand_dims

    @staticmethod
    def pick(lp, idx):
        return lp[gc.arange(lp.shape[0], device=lp.device), idx]

    @staticmethod
    def flip_rows(x):
        return x[::-1]  # a negative step, which torch indexing does not allow


def _torch_namespace(torch):
    class T:
        tanh, sigmoid, relu, exp, sqrt, abs, log1p = (
            torch.tanh, torch.sigmoid, torch.relu, torch.exp, torch.sqrt, torch.abs, torch.log1p)
        sin, cos, where = torch.sin, torch.cos, torch.where
        softplus = staticmethod(torch.nn.functional.softplus)
        leaky_relu = staticmethod(torch.nn.functional.leaky_relu)
        clip = staticmethod(torch.clamp)
        softmax = staticmethod(lambda x, axis: torch.softmax(x, axis))
        log_softmax = staticmethod(lambda x, axis: torch.log_softmax(x, axis))
        logsumexp = staticmethod(lambda x, axis: torch.logsumexp(x, axis))
        max = staticmethod(lambda x, axis: torch.amax(x, axis))
        var = staticmethod(lambda x: torch.var(x, unbiased=False))
        maximum = staticmethod(lambda a, b: torch.maximum(a, torch.as_tensor(b, dtype=a.dtype)))
        minimum = staticmethod(lambda a, b: torch.minimum(a, torch.as_tensor(b, dtype=a.dtype)))
        concatenate = staticmethod(lambda xs, axis: torch.cat(xs, axis))
        stack = staticmethod(lambda xs, axis: torch.stack(xs, axis))
        expand_dims = staticmethod(torch.unsqueeze)
        pick = staticmethod(lambda lp, idx: lp[torch.arange(lp.shape[0]), idx])
        flip_rows = staticmethod(lambda x: torch.flip(x, (0,)))

        @staticmethod
        def split(x, bounds, axis):
            sizes = np.diff([0, *bounds, x.shape[axis]]).tolist()
            return torch.split(x, sizes, axis)

    return T


def _inputs(rng):
    return (rng.standard_normal((4, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5),
            np.array([1, 0, 3, 1]))


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_composites_match_torch(name, device, rng):
    torch = pytest.importorskip("torch")
    x, w, b, idx = _inputs(rng)
    expr = EXPRESSIONS[name]
    tx, tw, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    T = _torch_namespace(torch)
    ty = expr(T, tx, tw, tb, torch.tensor(idx))
    ty.backward()
    gx, gw, gb = (gc.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    y = expr(_GC, gx, gw, gb, gc.tensor(idx, device=device))
    y.backward()
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-12)
    for mine, theirs in ((gx, tx), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_hessian_vector_product_matches_torch(device, rng):
    torch = pytest.importorskip("torch")
    x, w, b, idx = _inputs(rng)
    v = rng.standard_normal(x.shape)
    T = _torch_namespace(torch)
    tw, tb, tidx = torch.tensor(w), torch.tensor(b), torch.tensor(idx)
    _, thv = torch.autograd.functional.hvp(
        lambda a: _expr_classifier(T, a, tw, tb, tidx), torch.tensor(x), torch.tensor(v))
    gw, gb, gidx = (gc.tensor(a, device=device) for a in (w, b, idx))
    _, (hv,) = gc.hvp(lambda a: _expr_classifier(_GC, a, gw, gb, gidx),
                      (gc.tensor(x, device=device),), (gc.tensor(v, device=device),))
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-10, atol=1e-12)
