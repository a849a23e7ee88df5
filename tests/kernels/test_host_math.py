"""The CUDA headers' math against the NumPy twins, element by element, edge values included
(+-0, +-inf, NaN, +-1e4, +-1e30, +-float max, denormals).

The kernels run on the host stand-in for CuPy (tests/kernels/hostcupy/): gradcore's own kernel
calls, operation strings and headers, built with g++ (no fast-math) into host loops. Same
formulas in the same precision on both sides, so the only differences are the libm vs NumPy
implementations of exp/log1p/tanh: a few ulps. (On the GPU, CuPy compiles with -ftz=true, so
float32 denormals flush to zero there; that is the GPU test's business, not this one's.)
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.kernels import activation as ka
from gradcore.kernels import cupy_kernel, errors
from gradcore.kernels import loss as kl
from gradcore.kernels import optim as ko
from gradcore.kernels import reduction as kr

DTYPES = [np.float32, np.float64]
ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]
SMOOTH = ["gelu", "gelu_tanh", "silu"]  # the rows whose backward reads the input


def edge_values(dtype, seed=0):
    fi = np.finfo(dtype)
    special = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -3.0, 10.0, -10.0, 17.0, -17.0, 30.0, -30.0,
               88.0, -88.0, 104.0, -104.0, 700.0, -700.0, 750.0, -750.0, 1e4, -1e4, 1e30, -1e30,
               fi.max, -fi.max, fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal,
               1e-20, -1e-20, 1e-7, -1e-7, np.inf, -np.inf, np.nan]
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(88) * np.repeat([1.0, 5.0, 50.0], [40, 24, 24])
    return np.concatenate([np.array(special, dtype), noise.astype(dtype)])  # 127 values


def assert_ulp_close(actual, expected, ulps=4, atol=0.0):
    """Same NaNs, same infinities, finite values within `ulps` ulps of expected (or atol)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    atol = np.broadcast_to(atol, expected.shape).ravel()
    actual, expected = actual.ravel(), expected.ravel()
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), "NaN positions differ")
    inf = np.isinf(expected)
    np.testing.assert_array_equal(actual[inf], expected[inf], "infinities differ")
    finite = ~np.isnan(expected) & ~inf
    a, e = actual[finite], expected[finite]
    atol = atol[finite]
    with np.errstate(over="ignore", invalid="ignore"):  # spacing(float max) is inf
        tol = np.maximum(ulps * np.spacing(np.abs(e)), atol)
        bad = ~((a == e) | (np.abs(a - e) <= tol))
    assert not bad.any(), f"{bad.sum()} mismatches, e.g. got {a[bad][:5]}, expected {e[bad][:5]}"


@pytest.fixture
def host(use_hostcupy):
    """Run a kernel-layer function on the stand-in: host(fn, *arrays, **kw) -> NumPy result(s)."""
    def run(fn, *args, **kwargs):
        args = [use_hostcupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        out = fn(*args, **kwargs)
        return tuple(o.get() for o in out) if isinstance(out, tuple) else out.get()
    return run


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"):  # the twins see inf/NaN on purpose
        yield


def test_activation_codes_match_the_header(header_act_codes):
    assert header_act_codes == ka._ACT_CODES


def activate(host, act, x, slope=0.0):
    """act(x) by the header's gradcore_activate<ACT>: the unary kernel where there is one, else
    the fused bias kernel with b = 0 (x + 0 is x, up to the sign of zero, which == ignores)."""
    unary = {"relu": ka.relu, "sigmoid": ka.sigmoid}
    if act in unary:
        return host(unary[act], x)
    if act in SMOOTH:
        return host(ka.activate, act, x)
    if act == "leaky_relu":
        return host(ka.leaky_relu, x, slope)
    return host(ka.bias_act, x[:, None], np.zeros(1, x.dtype), act, slope)[:, 0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_activations(host, dtype):
    x = edge_values(dtype)
    assert_ulp_close(activate(host, "relu", x), ka.relu(x), ulps=0)
    for slope in (0.01, 0.1, 2.0, -0.5):
        # 2 * -float max = -inf, as in the kernel
        assert_ulp_close(activate(host, "leaky_relu", x, slope), ka.leaky_relu(x, slope), ulps=0)
    assert_ulp_close(activate(host, "sigmoid", x), ka.sigmoid(x))
    assert_ulp_close(activate(host, "tanh", x), np.tanh(x))
    assert_ulp_close(activate(host, "identity", x), x, ulps=0)
    assert_ulp_close(host(ka.softplus, x), ka.softplus(x))
    # erf: CUDA's/libm's erff/erf vs the twin's Cody in float64 (rounded once for float32)
    assert_ulp_close(host(ka.erf, x), ka.erf(x), ulps=4)
    for act in SMOOTH:
        assert_ulp_close(activate(host, act, x), ka.activate(act, x), ulps=8,
                         atol=smooth_atol(act, x))


def smooth_atol(act, x):
    """Where the smooth activations cancel, a few ulp of their inputs' scale become absolute
    error: 1 + erf (gelu) and 1 + tanh (gelu_tanh) for x << 0; erf/tanh of libm and NumPy
    differ by an ulp there."""
    eps = np.finfo(x.dtype).eps
    with np.errstate(over="ignore"):
        return 8 * eps * np.minimum(np.abs(x.astype(np.float64)), 1e300).astype(x.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_activations(host, dtype):
    y = edge_values(dtype)
    gy = np.roll(edge_values(dtype, seed=1), 17)  # every pairing of specials with others
    for fn in (ka.relu_backward, ka.sigmoid_backward, ka.tanh_backward):
        assert_ulp_close(host(fn, y, gy), fn(y, gy), ulps=0)
    assert_ulp_close(host(ka.leaky_relu_backward, y, gy, 0.1),
                     ka.leaky_relu_backward(y, gy, 0.1), ulps=0)
    assert_ulp_close(host(ka.softplus_backward, y, gy), ka.softplus_backward(y, gy))
    for act in SMOOTH:  # from the saved input: y plays x here
        assert_ulp_close(host(ka.act_grad, act, y, gy), ka.act_grad(act, y, gy), ulps=8,
                         atol=smooth_atol(act, y) * np.abs(gy))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_bias_act_and_backward(host, dtype, act):
    z = edge_values(dtype)[:120].reshape(8, 15)
    b = np.linspace(-2, 2, 15).astype(dtype)
    y = ka.bias_act(z, b, act, slope=0.1)
    smooth = act in SMOOTH
    atol = smooth_atol(act, z + b) if smooth else 0.0
    assert_ulp_close(host(ka.bias_act, z, b, act, 0.1), y, ulps=8 if smooth else 4, atol=atol)
    if smooth:  # the kernel's second output, s = z + b, over z
        hz = z.copy()
        host_y = host(ka.bias_act, hz, b, act, 0.1, None, hz)
        assert_ulp_close(host_y, y, ulps=8, atol=atol)
    s = z + b if smooth else y
    gy = np.random.default_rng(2).standard_normal(z.shape).astype(dtype)
    gz, gb = ka.bias_act_backward(s, gy, act, slope=0.1)
    host_gz, host_gb = host(ka.bias_act_backward, s, gy, act, 0.1)
    assert_ulp_close(host_gz, gz, ulps=8 if smooth else 0, atol=atol * np.abs(gy))
    # pairwise (twin) vs chunked (kernel) summation of the same 8 values
    finite_gz = np.where(np.isfinite(gz), np.abs(gz), 0)  # a NaN column must not void atol
    assert_ulp_close(host_gb, gb, atol=8 * np.finfo(dtype).eps * finite_gz.sum(axis=0).max())


def special_logits(dtype):
    """Rows that break naive softmax: huge, infinite, NaN, flat, one-hot-like."""
    fi = np.finfo(dtype)
    rows = [
        [1e4, -1e4, 0.0, 3.0],
        [-1e4, -1e4, -1e4, -1e4 + 1],
        [1e30, 1e30, -1e30, 0.0],
        [fi.max, fi.max, 0.0, -fi.max],
        [-fi.max, -fi.max, -fi.max, -fi.max],
        [-np.inf, -np.inf, -np.inf, -np.inf],
        [np.inf, 0.0, 1.0, 2.0],
        [np.inf, np.inf, 0.0, -np.inf],
        [np.nan, 0.0, 1.0, 2.0],
        [0.0, 0.0, 0.0, 0.0],
        [1000.0, -1000.0, 999.0, 0.5],
        [fi.smallest_subnormal, -fi.tiny, 0.0, -0.0],
    ]
    rng = np.random.default_rng(3)
    rows += list(rng.standard_normal((20, 4)) * 30)
    return np.array(rows, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tree", [False, True])
def test_logsumexp_rows(host, dtype, tree):
    x = special_logits(dtype)
    labels = np.arange(len(x)) % x.shape[1]
    loss, lse = kl.softmax_cross_entropy(x, labels, reduction="none")
    # online (m, s) merge, sequential or in CuPy's block order, vs max-shift: a few ulps of the
    # row's largest magnitude
    cupy_kernel(kl._LSE["double" if dtype == np.float64 else "float"]).tree = tree
    host_loss, host_lse = host(kl.softmax_cross_entropy, x, labels, "none")
    atol = 8 * np.finfo(dtype).eps * np.maximum(np.abs(np.nan_to_num(lse, posinf=0, neginf=0)), 1)
    assert_ulp_close(host_lse, lse, atol=atol)
    assert_ulp_close(host_loss, loss, atol=2 * atol)
    errors.check()  # no label was flagged (it would raise here)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_backward(host, dtype, reduction):
    x = special_logits(dtype)
    n = len(x)
    labels = (np.arange(n) * 3) % x.shape[1]
    _, lse = kl.softmax_cross_entropy(x, labels, reduction="none")
    gloss = np.linspace(0.5, 2.0, n).astype(dtype) if reduction == "none" else np.array(1.5, dtype)
    gx = kl.softmax_cross_entropy_backward(x, labels, lse, gloss, reduction)
    host_gx = host(kl.softmax_cross_entropy_backward, x, labels, lse, gloss, reduction)
    assert_ulp_close(host_gx, gx, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_range_flag(host, dtype):
    x = np.zeros((3, 4), dtype)
    for bad_label in (-1, 4, 1000):
        labels = np.array([0, bad_label, 3])
        loss, _ = host(kl.softmax_cross_entropy, x, labels, "none")
        # the kernel names the label and poisons its row; the host raises at the next sync
        assert np.isnan(loss[1]) and not np.isnan(loss[[0, 2]]).any()
        with pytest.raises(ValueError, match=rf"cross_entropy.*label {bad_label} .*4 classes"):
            errors.check()
        with pytest.raises(ValueError, match=rf"cross_entropy.*{bad_label}.*4 classes"):
            kl.softmax_cross_entropy(x, labels)
    host(kl.softmax_cross_entropy, x, np.array([0, 1, 3]), "none")
    errors.check()  # good labels: nothing raised


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_rows(host, dtype):
    g = np.random.default_rng(4).standard_normal((3, 50, 7)).astype(dtype)
    atol = 150 * np.finfo(dtype).eps * np.abs(g).sum(axis=(0, 1)).max()
    assert_ulp_close(host(kr.sum_rows, g), kr.sum_rows(g), atol=atol)


SGD_CASES = [
    dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(momentum=0.0, dampening=0.0, weight_decay=0.01, nesterov=False),
    dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False),
    dict(momentum=0.9, dampening=0.1, weight_decay=1e-4, nesterov=False),
    dict(momentum=0.9, dampening=0.0, weight_decay=1e-4, nesterov=True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_steps(use_hostcupy, dtype, case):
    cp = use_hostcupy
    rng = np.random.default_rng(5)
    p = rng.standard_normal(257).astype(dtype)
    buf = np.zeros_like(p) if case["momentum"] else None
    hp, hbuf = cp.asarray(p), None if buf is None else cp.asarray(buf)
    for step in range(5):
        g = rng.standard_normal(p.size).astype(dtype)
        g_before = g.copy()
        ko.sgd_step(p, g, buf, lr=0.05, first_step=step == 0, **case)
        np.testing.assert_array_equal(g, g_before)  # grad untouched
        hg = cp.asarray(g)
        ko.sgd_step(hp, hg, hbuf, lr=0.05, first_step=step == 0, **case)
        np.testing.assert_array_equal(hg.get(), g_before)
        assert_ulp_close(hp.get(), p, ulps=2)
        if buf is not None:
            assert_ulp_close(hbuf.get(), buf, ulps=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_steps(use_hostcupy, dtype, decoupled, weight_decay):
    cp = use_hostcupy
    rng = np.random.default_rng(6)
    p = rng.standard_normal(257).astype(dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    hp, hm, hv = cp.asarray(p), cp.asarray(m), cp.asarray(v)
    for step in range(1, 6):
        g = rng.standard_normal(p.size).astype(dtype)
        g[::7] = 0  # v = 0 rows: denominator is eps alone
        kw = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=weight_decay,
                  step=step, decoupled=decoupled)
        ko.adam_step(p, g, m, v, **kw)
        ko.adam_step(hp, cp.asarray(g), hm, hv, **kw)
        for host_state, twin in ((hp, p), (hm, m), (hv, v)):
            assert_ulp_close(host_state.get(), twin, ulps=2)
