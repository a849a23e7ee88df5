"""Losses: nll_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy, kl_div, against
NumPy references (CI) and PyTorch (where installed), with float64 gradchecks on every device."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import functional as F
from tests.helpers import gradcheck2, randn

RED = ["mean", "sum", "none"]


def _reduce(a, reduction):
    return {"mean": a.mean(), "sum": a.sum(), "none": a}[reduction]


def _pair(device, shape=(4, 5), seed=0):
    return randn(shape, device, seed), randn(shape, device, seed + 1)


def _smooth_ref(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * a * a / beta, a - 0.5 * beta) if beta else a


def _huber_ref(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))


@pytest.mark.parametrize("reduction", RED)
def test_regression_losses_match_numpy(reduction, device):
    x, t = _pair(device)
    d = x.numpy() - t.numpy()
    cases = [(F.l1_loss(x, t, reduction), np.abs(d)),
             (F.smooth_l1_loss(x, t, reduction), _smooth_ref(d, 1.0)),
             (F.smooth_l1_loss(x, t, reduction, beta=0.3), _smooth_ref(d, 0.3)),
             (F.smooth_l1_loss(x, t, reduction, beta=0.0), _smooth_ref(d, 0.0)),
             (F.huber_loss(x, t, reduction, delta=0.7), _huber_ref(d, 0.7))]
    for got, ref in cases:
        np.testing.assert_allclose(got.numpy(), _reduce(ref, reduction), rtol=1e-12, atol=1e-14)


def test_regression_losses_gradients(device):
    x, t = _pair(device, (3, 4), 2)
    for f in (lambda x, t: F.l1_loss(x, t), lambda x, t: F.smooth_l1_loss(x, t, beta=0.5),
              lambda x, t: F.huber_loss(x, t, "sum", delta=0.5)):
        assert gc.gradcheck(f, (x, t))
    assert gradcheck2(lambda x, t: F.huber_loss(x, t, "none", delta=0.5), (x, t))


def _nll_ref(logp, t, w=None, ignore=-100, reduction="mean"):
    keep = t != ignore
    tt = np.where(keep, t, 0)
    ww = (np.ones(logp.shape[1]) if w is None else w)[tt] * keep
    loss = -logp[np.arange(len(t)), tt] * ww
    return loss.sum() / ww.sum() if reduction == "mean" else _reduce(loss, reduction)


@pytest.mark.parametrize("reduction", RED)
def test_nll_loss_weights_and_ignore_index(reduction, device):
    logp = F.log_softmax(randn((6, 4), device, 3), axis=1)
    t = np.array([0, 3, 3, 1, 2, 3])
    w = np.array([0.5, 1.0, 2.0, 3.0])
    tt = gc.tensor(t, device=device)
    np.testing.assert_allclose(F.nll_loss(logp, tt, reduction=reduction).numpy(),
                               _nll_ref(logp.numpy(), t, reduction=reduction), rtol=1e-12)
    t2 = t.copy()
    t2[1] = -100
    got = F.nll_loss(logp, gc.tensor(t2, device=device), gc.tensor(w, device=device), reduction=reduction)
    np.testing.assert_allclose(got.numpy(), _nll_ref(logp.numpy(), t2, w, reduction=reduction), rtol=1e-12)
    x = randn((6, 4), device, 4)
    wt = gc.tensor(w, device=device)
    assert gc.gradcheck(lambda x: F.nll_loss(F.log_softmax(x, axis=1), gc.tensor(t2, device=device), wt,
                                             reduction=reduction), (x,))


def test_nll_loss_equals_cross_entropy(device):
    x = randn((5, 3), device, 5)
    t = gc.tensor([0, 2, 1, 1, 0], device=device)
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, axis=1), t).numpy(),
                               F.cross_entropy(x, t).numpy(), rtol=1e-12)


def test_nll_loss_errors(device):
    logp = gc.zeros((2, 3), device=device)
    with pytest.raises(IndexError, match=r"nll_loss: target values must be in \[0, 3\)"):
        F.nll_loss(logp, gc.tensor([0, 3], device=device))
    with pytest.raises(ValueError, match=r"nll_loss: expected input \(N, C\) and integer target"):
        F.nll_loss(logp, gc.tensor([0.0, 1.0], device=device))
    with pytest.raises(ValueError, match=r"nll_loss: weight has shape \(2,\), expected \(3,\)"):
        F.nll_loss(logp, gc.tensor([0, 1], device=device), gc.ones(2, device=device))


@pytest.mark.parametrize("reduction", RED)
def test_binary_cross_entropy(reduction, device):
    p = randn((4, 3), device, 6, low=0.01, high=0.99)
    t = randn((4, 3), device, 7, low=0.0, high=1.0)
    pa, ta = p.numpy(), t.numpy()
    ref = -(ta * np.log(pa) + (1 - ta) * np.log(1 - pa))
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, reduction=reduction).numpy(),
                               _reduce(ref, reduction), rtol=1e-12)
    w = randn((4, 3), device, 8, low=0.5, high=2.0)
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, w, reduction).numpy(),
                               _reduce(ref * w.numpy(), reduction), rtol=1e-12)
    assert gc.gradcheck(lambda p: F.binary_cross_entropy(p, t, reduction=reduction), (p,))
    assert gradcheck2(lambda p: F.binary_cross_entropy(p, t, reduction="sum"), (p,))


def test_binary_cross_entropy_clamps_log_and_checks_range(device):
    p = gc.tensor([0.0, 1.0, 0.0, 1.0], dtype="float64", device=device)
    t = gc.tensor([1.0, 0.0, 0.0, 1.0], dtype="float64", device=device)
    with np.errstate(divide="ignore"):
        got = F.binary_cross_entropy(p, t, reduction="none")
    assert got.tolist() == [100.0, 100.0, 0.0, 0.0]  # log(0) clamped at -100, as PyTorch
    for bad in ([1.5], [-0.1], [float("nan")]):
        with pytest.raises(ValueError, match="binary_cross_entropy: input must be probabilities"):
            F.binary_cross_entropy(gc.tensor(bad, device=device), gc.tensor([1.0], device=device))


@pytest.mark.parametrize("reduction", RED + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, device):
    logq = F.log_softmax(randn((3, 4), device, 9), axis=1)
    p = np.random.default_rng(10).dirichlet(np.ones(4), size=3)
    if not log_target:  # (a log target of -inf gives nan, in PyTorch too)
        p[0, 1] = 0.0  # a zero target contributes 0 (0 log 0 = 0)
        p[0] /= p[0].sum()
    t = gc.tensor(np.log(p) if log_target else p, device=device)
    with np.errstate(divide="ignore"):
        ref = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - logq.numpy()), 0)
        got = F.kl_div(logq, t, reduction, log_target)
    want = ref.sum() / 3 if reduction == "batchmean" else _reduce(ref, reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)
    if not log_target:
        x = randn((3, 4), device, 11)
        assert gc.gradcheck(lambda x: F.kl_div(F.log_softmax(x, axis=1), t, reduction), (x,))
        assert gradcheck2(lambda x: F.kl_div(F.log_softmax(x, axis=1), t, "sum"), (x,))


def test_loss_modules_and_reduction_errors(device):
    x, t = _pair(device)
    assert gc.nn.L1Loss()(x, t).item() == pytest.approx(F.l1_loss(x, t).item())
    assert gc.nn.HuberLoss(delta=2.0)(x, t).item() == pytest.approx(F.huber_loss(x, t, delta=2.0).item())
    assert gc.nn.SmoothL1Loss(beta=2.0)(x, t).item() == pytest.approx(F.smooth_l1_loss(x, t, beta=2.0).item())
    assert gc.nn.KLDivLoss(reduction="batchmean", log_target=True)(x, t).item() == pytest.approx(
        F.kl_div(x, t, "batchmean", True).item())
    for cls in (gc.nn.L1Loss, gc.nn.NLLLoss, gc.nn.BCELoss, gc.nn.HuberLoss):
        with pytest.raises(ValueError, match="unknown reduction 'batchmean'"):
            cls(reduction="batchmean")
    with pytest.raises(ValueError, match="l1_loss: reduction must be"):
        F.l1_loss(x, t, "avg")
    with pytest.raises(ValueError, match=r"huber_loss: input of shape \(4, 5\) and target of shape \(5,\)"):
        F.huber_loss(x, t[0])
    with pytest.raises(ValueError, match="huber_loss: delta must be positive"):
        F.huber_loss(x, t, delta=0)


TORCH_CASES = {
    "l1": (lambda F_, x, t: F_.l1_loss(x, t), "reg"),
    "smooth_l1": (lambda F_, x, t: F_.smooth_l1_loss(x, t, beta=0.4), "reg"),
    "huber": (lambda F_, x, t: F_.huber_loss(x, t, delta=0.4), "reg"),
    "bce": (lambda F_, x, t: F_.binary_cross_entropy(x, t), "prob"),
    "kl": (lambda F_, x, t: F_.kl_div(x, t, reduction="batchmean"), "kl"),
    "kl_log": (lambda F_, x, t: F_.kl_div(x, t, reduction="sum", log_target=True), "kl_log"),
    "nll": (lambda F_, x, t: F_.nll_loss(x, t, ignore_index=2), "nll"),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    f, kind = TORCH_CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    t = rng.standard_normal((5, 4))
    if kind == "prob":
        x, t = 1 / (1 + np.exp(-x)), rng.uniform(0, 1, (5, 4))
    if kind.startswith("kl"):
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        t = np.exp(t) / np.exp(t).sum(1, keepdims=True)
        t = np.log(t) if kind == "kl_log" else t
    if kind == "nll":
        t = np.array([0, 2, 3, 1, 2])
    tx = torch.tensor(x, requires_grad=True)
    tl = f(torch.nn.functional, tx, torch.tensor(t))
    tl.backward()
    gx = gc.tensor(x, requires_grad=True)
    gl = f(F, gx, gc.tensor(t))
    gl.backward()
    np.testing.assert_allclose(gl.item(), tl.item(), rtol=1e-12)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
