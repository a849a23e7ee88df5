"""The NumPy twins against plain float64 formulas, numerical gradients and hand-made updates."""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.kernels import activation as ka
from gradcore.kernels import loss as kl
from gradcore.kernels import reduction as kr

FLOATS = [np.float16, np.float32, np.float64]
RTOL = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-13}
ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]


def rand(shape, dtype=np.float64, scale=3.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def close(actual, expected, dtype, atol=0.0):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=RTOL[dtype],
                               atol=atol)


# float64 references, written the obvious way
def ref_act(x, act, slope=0.1):
    x = np.asarray(x, np.float64)
    with np.errstate(over="ignore"):
        return {
            "identity": x,
            "relu": np.where(x > 0, x, 0.0),
            "leaky_relu": np.where(x > 0, x, slope * x),
            "sigmoid": 1.0 / (1.0 + np.exp(-x)),
            "tanh": np.tanh(x),
            "softplus": np.logaddexp(0.0, x),
        }[act]


def numerical_grad(f, x, gy, h=1e-6):
    """d/dx sum(gy * f(x)) by central differences (float64, elementwise f)."""
    return gy * (f(x + h) - f(x - h)) / (2 * h)


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("dtype", FLOATS)
def test_forward_matches_reference(dtype):
    x = rand(1000, dtype)
    atol = 1e-7 if dtype == np.float16 else 0.0  # float16 subnormals below 6e-5
    close(ka.relu(x), ref_act(x, "relu"), dtype)
    close(ka.leaky_relu(x, 0.1), ref_act(x, "leaky_relu"), dtype, atol)
    close(ka.sigmoid(x), ref_act(x, "sigmoid"), dtype, atol)
    close(ka.softplus(x), ref_act(x, "softplus"), dtype, atol)
    for fn in (ka.relu, ka.sigmoid, ka.softplus):
        assert fn(x).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big", [1000.0, 1e4, 1e30])
def test_stable_for_huge_inputs(dtype, big):
    x = np.array([-big, big], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        np.testing.assert_array_equal(ka.sigmoid(x), [0.0, 1.0])
        np.testing.assert_array_equal(ka.softplus(x), [0.0, x[1]])
        np.testing.assert_array_equal(ka.softplus_backward(x, np.ones_like(x)), [0.0, 1.0])
    fmax = np.finfo(dtype).max
    np.testing.assert_array_equal(ka.sigmoid(np.array([-fmax, fmax, -np.inf, np.inf], dtype)),
                                  [0, 1, 0, 1])


def test_nan_propagates_and_ties():
    x = np.array([np.nan, 0.0, -0.0])
    assert np.isnan(ka.relu(x)[0]) and np.isnan(ka.sigmoid(x)[0]) and np.isnan(ka.softplus(x)[0])
    np.testing.assert_array_equal(ka.relu_backward(np.array([0.0, 1.0]), np.ones(2)), [0, 1])
    np.testing.assert_array_equal(ka.leaky_relu_backward(np.array([0.0, 1.0]), np.ones(2), 0.2),
                                  [0.2, 1])
    # relu_backward never turns an infinite upstream gradient into NaN at dead units
    np.testing.assert_array_equal(ka.relu_backward(np.array([0.0]), np.array([np.inf])), [0.0])


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "sigmoid", "tanh", "softplus"])
def test_backward_matches_numerical_gradient(act):
    x = rand(200, seed=1)
    x = x[np.abs(x) > 1e-3]  # keep central differences off the relu kinks
    gy = rand(x.shape, seed=2)
    expected = numerical_grad(lambda t: ref_act(t, act), x, gy)
    y = ref_act(x, act)
    got = {
        "relu": lambda: ka.relu_backward(y, gy),
        "leaky_relu": lambda: ka.leaky_relu_backward(x, gy, 0.1),
        "sigmoid": lambda: ka.sigmoid_backward(y, gy),
        "tanh": lambda: ka.tanh_backward(y, gy),
        "softplus": lambda: ka.softplus_backward(x, gy),
    }[act]()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("act", ACTS)
def test_bias_act_matches_unfused(dtype, act):
    z, b = rand((4, 5, 6), dtype), rand(6, dtype, seed=3)
    y = ka.bias_act(z, b, act, slope=0.1)
    assert y.dtype == dtype and y.shape == z.shape
    close(y, ref_act(z.astype(np.float64) + b, act), dtype, atol=1e-7)
    # in place: out=z
    z2 = z.copy()
    assert ka.bias_act(z2, b, act, slope=0.1, out=z2) is z2
    np.testing.assert_array_equal(z2, y)


@pytest.mark.parametrize("act", ACTS)
def test_bias_act_backward(act):
    z, b = rand((3, 4, 5)), rand(5, seed=4)
    z = np.where(np.abs(z + b) < 1e-3, 1.0, z)
    gy = rand(z.shape, seed=5)
    y = ka.bias_act(z, b, act, slope=0.1)
    gz, gb = ka.bias_act_backward(y, gy, act, slope=0.1)
    expected = numerical_grad(lambda t: ref_act(t, act), z + b, gy)
    np.testing.assert_allclose(gz, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, expected.sum(axis=(0, 1)), rtol=1e-6, atol=1e-8)
    if act == "identity":
        assert gz is gy  # documented: no copy


def test_bias_act_errors():
    z, b = np.zeros((2, 3)), np.zeros(3)
    with pytest.raises(ValueError, match="slope > 0"):
        ka.bias_act_backward(z, z, "leaky_relu", slope=0.0)
    with pytest.raises(ValueError, match="unknown activation"):
        ka.bias_act(z, b, "swish")
    with pytest.raises(ValueError, match=r"\(\.\.\., N\)"):
        ka.bias_act(z, np.zeros(4), "relu")
    with pytest.raises(TypeError, match="one dtype"):
        ka.relu_backward(z, z.astype(np.float32))
    with pytest.raises(TypeError, match="floating"):
        ka.relu(np.arange(3))


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_buffers(dtype):
    x, gy = rand((3, 7), dtype), rand((3, 7), dtype, seed=6)
    for fn, args in [(ka.relu, (x,)), (ka.sigmoid, (x,)), (ka.softplus, (x,)),
                     (ka.leaky_relu, (x, 0.1)), (ka.sigmoid_backward, (x, gy)),
                     (ka.tanh_backward, (x, gy)), (ka.relu_backward, (x, gy)),
                     (ka.softplus_backward, (x, gy)), (ka.leaky_relu_backward, (x, gy, 0.1))]:
        expected = fn(*args)
        out = np.empty_like(x)
        assert fn(*args, out=out) is out
        np.testing.assert_array_equal(out, expected)
        for i, a in enumerate(args[:2]):  # out aliasing an input is safe
            if isinstance(a, np.ndarray):
                copies = [c.copy() if isinstance(c, np.ndarray) else c for c in args]
                fn(*copies, out=copies[i])
                np.testing.assert_array_equal(copies[i], expected, err_msg=fn.__name__)


@pytest.mark.parametrize("dtype", FLOATS)
def test_zero_dimensional_arrays(dtype):
    x, gy = np.array(0.5, dtype), np.array(2.0, dtype)
    unary = [ka.relu, ka.sigmoid, ka.softplus, lambda a: ka.leaky_relu(a, 0.1)]
    binary = [ka.relu_backward, ka.sigmoid_backward, ka.tanh_backward, ka.softplus_backward,
              lambda a, g: ka.leaky_relu_backward(a, g, 0.1)]
    for fn in unary:
        y = fn(x)
        assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == dtype
    for fn in binary:
        gx = fn(x, gy)
        assert isinstance(gx, np.ndarray) and gx.shape == () and gx.dtype == dtype
    close(ka.tanh_backward(x, gy), 2.0 * (1 - 0.25), dtype)


def test_float16_rounds_once_from_float32():
    x, gy = rand(500, np.float16), rand(500, np.float16, seed=7)
    x32, gy32 = x.astype(np.float32), gy.astype(np.float32)
    for fn, a16, a32 in [(ka.sigmoid, (x,), (x32,)), (ka.softplus, (x,), (x32,)),
                         (ka.sigmoid_backward, (x, gy), (x32, gy32)),
                         (ka.tanh_backward, (x, gy), (x32, gy32))]:
        np.testing.assert_array_equal(fn(*a16), fn(*a32).astype(np.float16))


# ---------------------------------------------------------------- reduction
@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_rows(dtype):
    g = rand((4, 3, 5), dtype)
    close(kr.sum_rows(g), g.astype(np.float64).sum(axis=(0, 1)), dtype, atol=1e-2)
    out = np.empty(5, dtype)
    assert kr.sum_rows(g, out=out) is out
    np.testing.assert_array_equal(kr.sum_rows(g[0, 0]), g[0, 0])
    np.testing.assert_array_equal(kr.sum_rows(g[:, :, ::2]), kr.sum_rows(g)[::2])


def test_sum_rows_float16_accumulates_in_float32():
    g = np.ones((4096, 2), np.float16)  # a float16 running sum would stall at 2048
    np.testing.assert_array_equal(kr.sum_rows(g), [4096, 4096])


# ---------------------------------------------------------------- cross-entropy
def ref_cross_entropy(x, labels):
    x = np.asarray(x, np.float64)
    lse = np.logaddexp.reduce(x, axis=1)
    return lse - x[np.arange(len(x)), labels], lse


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("scale", [1.0, 1000.0, 1e4])
def test_cross_entropy_forward(dtype, scale):
    x = rand((16, 10), dtype, scale=scale)
    labels = np.arange(16) % 10
    ref_loss, ref_lse = ref_cross_entropy(x, labels)
    loss, lse = kl.softmax_cross_entropy(x, labels, reduction="none")
    assert lse.dtype == (np.float32 if dtype == np.float16 else dtype) == loss.dtype
    atol = 4 * scale * np.finfo(lse.dtype).eps
    np.testing.assert_allclose(lse, ref_lse, rtol=RTOL[np.dtype(lse.dtype).type], atol=atol)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=atol)
    mean, _ = kl.softmax_cross_entropy(x, labels)
    total, _ = kl.softmax_cross_entropy(x, labels, reduction="sum")
    assert mean.shape == total.shape == ()
    np.testing.assert_allclose([mean, total], [ref_loss.mean(), ref_loss.sum()], rtol=1e-5,
                               atol=16 * atol)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_backward(dtype, reduction):
    x = rand((6, 5), dtype)
    labels = np.array([0, 4, 2, 2, 1, 3], dtype=np.int32)
    _, lse = kl.softmax_cross_entropy(x, labels, reduction=reduction)
    gloss = np.linspace(0.5, 1.5, 6) if reduction == "none" else np.array(2.0)
    gx = kl.softmax_cross_entropy_backward(x, labels, lse, gloss, reduction)
    assert gx.dtype == dtype and gx.shape == x.shape
    x64 = x.astype(np.float64)
    p = np.exp(x64 - np.logaddexp.reduce(x64, axis=1, keepdims=True))
    p[np.arange(6), labels] -= 1
    row_scale = {"mean": 2.0 / 6, "sum": 2.0, "none": gloss}[reduction]
    expected = p * np.reshape(row_scale, (-1, 1))
    close(gx, expected, dtype, atol=1e-3 if dtype == np.float16 else 1e-7)


def test_cross_entropy_backward_matches_numerical_gradient():
    x, labels = rand((3, 4), seed=8), np.array([1, 0, 3])

    def loss_of(t):
        return float(kl.softmax_cross_entropy(t, labels)[0])

    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1e-6
        numeric[idx] = (loss_of(x + e) - loss_of(x - e)) / 2e-6
    _, lse = kl.softmax_cross_entropy(x, labels)
    gx = kl.softmax_cross_entropy_backward(x, labels, lse, np.array(1.0))
    np.testing.assert_allclose(gx, numeric, rtol=1e-6, atol=1e-9)


def test_cross_entropy_extreme_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e30, -1e30, 0.0]], np.float32)
    labels = np.array([1, 0, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, lse = kl.softmax_cross_entropy(x, labels, reduction="none")
    np.testing.assert_allclose(lse, [1e4, -1e4 + np.log(3), 1e30], rtol=1e-6)
    # float32 resolves 1e4 to 1e-3: so much for the loss of the flat -1e4 row
    np.testing.assert_allclose(loss, [2e4, np.log(3), 0.0], rtol=1e-6, atol=2e-3)
    gx = kl.softmax_cross_entropy_backward(x, labels, lse, np.array(1.0), "sum")
    np.testing.assert_allclose(gx, [[1, -1, 0], [-2 / 3, 1 / 3, 1 / 3], [0, 0, 0]], atol=5e-5)


def test_cross_entropy_label_errors():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"cross_entropy: label 3 .*3 classes"):
        kl.softmax_cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"label -1 "):
        kl.softmax_cross_entropy(x, np.array([-1, 0], np.int8))
    with pytest.raises(TypeError, match="integer dtype"):
        kl.softmax_cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        kl.softmax_cross_entropy(x, np.array([0, 1]), reduction="avg")
    loss, _ = kl.softmax_cross_entropy(x, np.array([0, 2], np.uint8))
    np.testing.assert_allclose(loss, np.log(3), rtol=1e-6)
