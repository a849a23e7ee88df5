"""nn activations: GELU (exact and tanh), SiLU, Softplus (beta, threshold), Softmax/LogSoftmax
modules: NumPy references, PyTorch where installed, gradients in float64 (first and second
order), on every device."""
import math

import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import functional as F
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn

_erf = np.vectorize(math.erf)
X = np.linspace(-6, 6, 41)

REFS = {
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softplus_b2": lambda x: np.where(2 * x > 20, x, np.log1p(np.exp(2 * x)) / 2),
}
FUNCS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "softplus": F.softplus,
    "softplus_b2": lambda x: F.softplus(x, beta=2),
}


@pytest.mark.parametrize("name", list(FUNCS))
def test_values_match_numpy(name, device):
    y = FUNCS[name](gc.tensor(X, device=device))
    np.testing.assert_allclose(y.numpy(), REFS[name](X), rtol=1e-12, atol=1e-12)
    y32 = FUNCS[name](gc.tensor(X, dtype="float32", device=device))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.numpy(), REFS[name](X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(FUNCS))
def test_gradients_first_second_order_and_jvp(name, device):
    x = randn((3, 4), device, seed=1) * 3
    assert gc.gradcheck(FUNCS[name], (x,))
    assert gradcheck2(FUNCS[name], (x,), atol=1e-5)
    jvpcheck(FUNCS[name], (x,))


@pytest.mark.parametrize("name", list(FUNCS))
def test_matches_torch(name, device):
    torch = pytest.importorskip("torch")
    tf = {"gelu": lambda t: torch.nn.functional.gelu(t),
          "gelu_tanh": lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
          "silu": torch.nn.functional.silu, "softplus": torch.nn.functional.softplus,
          "softplus_b2": lambda t: torch.nn.functional.softplus(t, beta=2)}[name]
    a = np.random.default_rng(0).standard_normal(50) * 8
    t = torch.tensor(a, requires_grad=True)
    tf(t).sum().backward()
    x = gc.tensor(a, device=device, requires_grad=True)
    FUNCS[name](x).sum().backward()
    np.testing.assert_allclose(FUNCS[name](gc.tensor(a, device=device)).numpy(), tf(torch.tensor(a)).numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-13)


SMOOTH = ["gelu", "gelu_tanh", "silu"]  # one fused kernel forward, one backward


@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_ops_third_order(name, device):
    x = randn((5,), device, seed=4) * 2
    d = lambda f: lambda t: gc.grad(lambda u: f(u).sum())(t)  # noqa: E731
    assert gc.gradcheck(d(d(FUNCS[name])), (x,), atol=1e-5)  # the third derivative


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("kind", ["strided", "transposed"])
def test_smooth_ops_noncontiguous(name, kind, device):
    a = np.random.default_rng(5).standard_normal((3, 4)) * 3
    x = noncontig(a, device, kind)
    np.testing.assert_allclose(FUNCS[name](x).numpy(), REFS[name](a), rtol=1e-12, atol=1e-13)
    assert gc.gradcheck(FUNCS[name], (x,))


@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_ops_float16_and_float32(name, device):
    for dtype, tol in (("float16", 4e-3), ("float32", 2e-6)):
        x = gc.tensor(X, dtype=dtype, device=device, requires_grad=True)
        y = FUNCS[name](x)
        assert y.dtype == np.dtype(dtype)
        ref = REFS[name](X.astype(dtype).astype(np.float64))
        np.testing.assert_allclose(y.numpy().astype(np.float64), ref, rtol=tol, atol=tol)
        y.sum().backward()
        assert x.grad.dtype == np.dtype(dtype)
        x64 = gc.tensor(X.astype(dtype).astype(np.float64), device=device, requires_grad=True)
        FUNCS[name](x64).sum().backward()
        np.testing.assert_allclose(x.grad.numpy().astype(np.float64), x64.grad.numpy(),
                                   rtol=tol, atol=tol)


def test_modules_and_errors(device):
    x = gc.tensor(X, device=device)
    # atol: PyTorch's 0.5 x (1 + tanh u) cancels for x << 0 (about |x| eps absolute), so an ulp
    # between two tanh implementations (NumPy's, CUDA's) shows there
    np.testing.assert_allclose(gc.nn.GELU("tanh")(x).numpy(), REFS["gelu_tanh"](X), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(gc.nn.SiLU()(x).numpy(), REFS["silu"](X), rtol=1e-12)
    np.testing.assert_allclose(gc.nn.Softplus(beta=2)(x).numpy(), REFS["softplus_b2"](X), rtol=1e-12)
    with pytest.raises(ValueError, match="GELU: approximate"):
        gc.nn.GELU("erf")
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="Softplus: beta"):
        gc.nn.Softplus(beta=0)


def test_softplus_threshold_switches_to_identity(device):
    x = gc.tensor([10.0, 10.5], dtype="float64", device=device)
    y = F.softplus(x, beta=2, threshold=20)  # 2 * 10 = 20 is not above: the log form
    assert y.tolist()[0] == pytest.approx(math.log1p(math.exp(20)) / 2, rel=1e-15)
    assert y.tolist()[1] == 10.5


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_modules(dim, device):
    a = np.random.default_rng(2).standard_normal((3, 4))
    x = gc.tensor(a, device=device)
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    ref = e / e.sum(axis=dim, keepdims=True)
    np.testing.assert_allclose(gc.nn.Softmax(dim=dim)(x).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(gc.nn.LogSoftmax(dim=dim)(x).numpy(), np.log(ref), rtol=1e-12)
    assert gc.gradcheck(gc.nn.LogSoftmax(dim=dim), (randn((3, 4), device),))
    with pytest.raises(TypeError):
        gc.nn.Softmax()  # dim is required
