"""The NumPy twins against plain float64 formulas, numerical gradients and hand-made updates."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from gradcore.kernels import activation as ka
from gradcore.kernels import loss as kl
from gradcore.kernels import reduction as kr

FLOATS = [np.float16, np.float32, np.float64]
RTOL = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-13}
ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]
SMOOTH = ["gelu", "gelu_tanh", "silu"]  # the rows whose backward reads the input
_erf64 = np.vectorize(math.erf, otypes=[float])


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
            "gelu": 0.5 * x * (1 + _erf64(x / math.sqrt(2))),
            "gelu_tanh": 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
            "silu": x / (1 + np.exp(-x)),
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


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "sigmoid", "tanh", "softplus", *SMOOTH])
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
        "gelu": lambda: ka.act_grad("gelu", x, gy),
        "gelu_tanh": lambda: ka.act_grad("gelu_tanh", x, gy),
        "silu": lambda: ka.act_grad("silu", x, gy),
    }[act]()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("act", ACTS)
def test_bias_act_matches_unfused(dtype, act):
    z, b = rand((4, 5, 6), dtype), rand(6, dtype, seed=3)
    y = ka.bias_act(z, b, act, slope=0.1)
    assert y.dtype == dtype and y.shape == z.shape
    s = z.astype(np.float64) + b
    if ka.TABLE[act].saves == "input":  # act reads s rounded to dtype, what backward will read
        acc = np.float32 if dtype == np.float16 else dtype
        s = (z.astype(acc) + b.astype(acc)).astype(dtype).astype(np.float64)
    # NOTE: PyTorch's tanh-GELU formula 0.5 x (1 + tanh u), which gradcore keeps so values
    # match torch, cancels for x << 0: an absolute error of about |x| eps there
    atol = 1e-7 if act != "gelu_tanh" else 4 * np.finfo(dtype).eps * np.abs(s).max()
    close(y, ref_act(s, act), dtype, atol=atol)
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
    saved = z + b if ka.TABLE[act].saves == "input" else y  # what the fused Linear keeps
    gz, gb = ka.bias_act_backward(saved, gy, act, slope=0.1)
    expected = numerical_grad(lambda t: ref_act(t, act), z + b, gy)
    np.testing.assert_allclose(gz, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, expected.sum(axis=(0, 1)), rtol=1e-6, atol=1e-8)
    if act == "identity":
        assert gz is gy  # documented: no copy


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("act", SMOOTH)
def test_bias_act_keeps_the_pre_activation(dtype, act):
    z, b = rand((3, 4), dtype), rand(4, dtype, seed=3)
    s = (z.astype(np.float32) + b.astype(np.float32)).astype(dtype)  # rounded once to dtype
    y = ka.bias_act(z, b, act)
    z2 = z.copy()
    y2 = ka.bias_act(z2, b, act, pre=z2)  # what the fused Linear does: z becomes z + b
    np.testing.assert_array_equal(z2, s if dtype == np.float16 else z + b)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(y, ka.activate(act, z2))  # act reads the rounded s
    with pytest.raises(ValueError, match="pre="):
        ka.bias_act(z2, b, act, out=z2, pre=z2)
    with pytest.raises(ValueError, match="pre="):
        ka.bias_act(z2, b, "relu", pre=z2)


@pytest.mark.parametrize("act", [a for a in ACTS if ka.TABLE[a].curvature is not None])
def test_curvature_is_the_derivative_of_the_gradient(act):
    x = rand(300, seed=8)
    if ka.TABLE[act].saves == "output":
        s, h = ref_act(x, act), 1e-6  # d act'/d y, from the output
        f = lambda t: ka.act_grad(act, t, np.ones_like(t))  # noqa: E731
    else:
        s, h = x, 1e-6
        f = lambda t: ka.act_grad(act, t, np.ones_like(t))  # noqa: E731
    m = types.SimpleNamespace(exp=np.exp, tanh=np.tanh, sigmoid=ka.sigmoid)
    np.testing.assert_allclose(ka.TABLE[act].curvature(s, m), (f(s + h) - f(s - h)) / (2 * h),
                               rtol=1e-6, atol=1e-8)


def test_erf_matches_c_erf_on_a_dense_grid():
    rng = np.random.default_rng(9)
    tiny = np.geomspace(5e-324, 1e-300, 2000)  # subnormals and below-xtiny arguments
    x = np.concatenate([np.linspace(-8, 8, 400_001), rng.standard_normal(20_000) * 4,
                        np.geomspace(1e-300, 30, 20_000), tiny, -tiny,
                        [0.46875, np.nextafter(0.46875, 1), 4.0, np.nextafter(4.0, 5), 26.5,
                         1e154, 1e300, np.finfo(float).max]])
    x = np.concatenate([x, -x])
    got, expected = ka.erf(x), _erf64(x)
    assert got.dtype == np.float64 and got.shape == x.shape
    ulps = np.abs(got - expected) / np.spacing(np.abs(expected))
    window = (np.abs(x) > 0.46875) & (np.abs(x) < 0.4770)  # erf < 1/2 taken as 1 - erfc
    assert ulps.max() <= 4 and ulps[~window].max() <= 3, (ulps.max(), x[ulps.argmax()])
    assert (got == expected).mean() > 0.6  # mostly correctly rounded, not just close
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    out = ka.erf(specials)
    np.testing.assert_array_equal(out[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(out[1]) and not np.signbit(out[0]) and np.isnan(out[4])
    assert ka.erf(np.array(0.5)).shape == ()  # 0-d stays 0-d
    strided = x[:4000].reshape(40, 100)[::2, ::3]
    np.testing.assert_array_equal(ka.erf(strided), _erf64(strided))
    for dtype in (np.float16, np.float32):  # rounded once from the float64 value
        xs = x[::97].astype(dtype)
        np.testing.assert_array_equal(ka.erf(xs), _erf64(xs.astype(float)).astype(dtype))


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
                         *[(lambda *a, act=act: ka.activate(act, *a), (x,), (x32,))
                           for act in SMOOTH],
                         *[(lambda *a, act=act: ka.act_grad(act, *a), (x, gy), (x32, gy32))
                           for act in SMOOTH],
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
