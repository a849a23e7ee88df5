"""The CUDA headers, built as host C++, against the NumPy twins: element by element, edge values
included (+-0, +-inf, NaN, +-1e4, +-1e30, +-float max, denormals).

Same formulas in the same precision on both sides, so the only differences are the libm vs NumPy
implementations of exp/log1p/tanh: a few ulps. (On the GPU, CuPy compiles with -ftz=true, so
float32 denormals flush to zero there; that is the GPU test's business, not this one's.)
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.kernels import activation as ka
from gradcore.kernels import loss as kl
from gradcore.kernels import reduction as kr

DTYPES = [np.float32, np.float64]
ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]


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
    actual, expected = actual.ravel(), expected.ravel()
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), "NaN positions differ")
    inf = np.isinf(expected)
    np.testing.assert_array_equal(actual[inf], expected[inf], "infinities differ")
    finite = ~np.isnan(expected) & ~inf
    a, e = actual[finite], expected[finite]
    atol = np.broadcast_to(atol, expected.shape)[finite]
    with np.errstate(over="ignore", invalid="ignore"):  # spacing(float max) is inf
        tol = np.maximum(ulps * np.spacing(np.abs(e)), atol)
        bad = ~((a == e) | (np.abs(a - e) <= tol))
    assert not bad.any(), f"{bad.sum()} mismatches, e.g. got {a[bad][:5]}, expected {e[bad][:5]}"


def test_activation_codes_match_the_header(header_act_codes):
    assert header_act_codes == ka._ACT_CODES


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_activations(host_lib, dtype):
    x = edge_values(dtype)
    assert_ulp_close(host_lib.activate("relu", x), ka.relu(x), ulps=0)
    for slope in (0.01, 0.1, 2.0, -0.5):
        with np.errstate(over="ignore"):  # 2 * -float max = -inf, as in the kernel
            expected = ka.leaky_relu(x, slope)
        assert_ulp_close(host_lib.activate("leaky_relu", x, slope), expected, ulps=0)
    assert_ulp_close(host_lib.activate("sigmoid", x), ka.sigmoid(x))
    assert_ulp_close(host_lib.activate("tanh", x), np.tanh(x))
    assert_ulp_close(host_lib.activate("identity", x), x, ulps=0)
    assert_ulp_close(host_lib.softplus(x), ka.softplus(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_activations(host_lib, dtype):
    y = edge_values(dtype)
    gy = np.roll(edge_values(dtype, seed=1), 17)  # every pairing of specials with others
    with np.errstate(invalid="ignore", over="ignore"):
        assert_ulp_close(host_lib.activate_grad("relu", y, gy), ka.relu_backward(y, gy), ulps=0)
        assert_ulp_close(host_lib.activate_grad("leaky_relu", y, gy, 0.1),
                         ka.leaky_relu_backward(y, gy, 0.1), ulps=0)
        assert_ulp_close(host_lib.activate_grad("sigmoid", y, gy), ka.sigmoid_backward(y, gy),
                         ulps=0)
        assert_ulp_close(host_lib.activate_grad("tanh", y, gy), ka.tanh_backward(y, gy), ulps=0)
        assert_ulp_close(host_lib.softplus_grad(y, gy), ka.softplus_backward(y, gy))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_bias_act_and_backward(host_lib, dtype, act):
    z = edge_values(dtype)[:120].reshape(8, 15)
    b = np.linspace(-2, 2, 15).astype(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        y = ka.bias_act(z, b, act, slope=0.1)
        assert_ulp_close(host_lib.bias_act(act, z, b, 0.1), y)
        gy = np.random.default_rng(2).standard_normal(z.shape).astype(dtype)
        gz, gb = ka.bias_act_backward(y, gy, act, slope=0.1)
        assert_ulp_close(host_lib.activate_grad(act, y, gy, 0.1), gz, ulps=0)
        expected_gb = host_lib.sum_rows(gz)
    # pairwise (twin) vs sequential (host) summation of the same 8 values
    assert_ulp_close(gb, expected_gb, atol=8 * np.finfo(dtype).eps * np.abs(gz).sum(axis=0).max())


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
def test_logsumexp_rows(host_lib, dtype):
    x = special_logits(dtype)
    labels = np.arange(len(x)) % x.shape[1]
    with np.errstate(invalid="ignore", over="ignore"):
        loss, lse = kl.softmax_cross_entropy(x, labels, reduction="none")
    # online (m, s) merge vs max-shift: a few ulps of the row's largest magnitude
    atol = 8 * np.finfo(dtype).eps * np.maximum(np.abs(np.nan_to_num(lse, posinf=0, neginf=0)), 1)
    for tree in (False, True):
        host_lse = host_lib.lse_rows(x, tree=tree)
        assert_ulp_close(host_lse, lse, atol=atol)
        host_loss, flag = host_lib.ce_pick(x, labels, host_lse)
        assert flag.tolist() == [0, 0]
        with np.errstate(invalid="ignore"):
            assert_ulp_close(host_loss, loss, atol=2 * atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_backward(host_lib, dtype, reduction):
    x = special_logits(dtype)
    n = len(x)
    labels = (np.arange(n) * 3) % x.shape[1]
    with np.errstate(invalid="ignore", over="ignore"):
        _, lse = kl.softmax_cross_entropy(x, labels, reduction="none")
        gloss = (np.linspace(0.5, 2.0, n).astype(dtype) if reduction == "none"
                 else np.array(1.5, dtype))
        gx = kl.softmax_cross_entropy_backward(x, labels, lse, gloss, reduction)
        scale = 1.0 / n if reduction == "mean" else 1.0
        host_gx = host_lib.ce_grad(x, lse, labels, gloss, scale)
    assert_ulp_close(host_gx, gx, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_range_flag(host_lib, dtype):
    x = np.zeros((3, 4), dtype)
    for bad_label in (-1, 4, 1000):
        labels = np.array([0, bad_label, 3])
        loss, flag = host_lib.ce_pick(x, labels, np.zeros(3, dtype))
        # the kernel names the label and poisons its row; the host raises at the next sync
        assert flag.tolist() == [1, bad_label]
        assert np.isnan(loss[1]) and not np.isnan(loss[[0, 2]]).any()
        with pytest.raises(ValueError, match=rf"cross_entropy.*{bad_label}.*4 classes"):
            kl.softmax_cross_entropy(x, labels)
    assert host_lib.ce_pick(x, np.array([0, 1, 3]), np.zeros(3, dtype))[1].tolist() == [0, 0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_rows(host_lib, dtype):
    g = np.random.default_rng(4).standard_normal((3, 50, 7)).astype(dtype)
    atol = 150 * np.finfo(dtype).eps * np.abs(g).sum(axis=(0, 1)).max()
    assert_ulp_close(host_lib.sum_rows(g), kr.sum_rows(g), atol=atol)
