"""Each CuPy kernel against its NumPy twin, for float16/float32/float64, including broadcast and
non-contiguous inputs, through the kernel layer's GPU branch.

Every test runs twice: on ``host``, where ``cupy`` is the stand-in of tests/kernels/hostcupy/
(the same operation strings and headers, built with g++ into host loops with CuPy's argument
semantics), so CI checks the GPU branch without a GPU; and on ``cuda`` with the real CuPy,
skipped without a usable device.

NOTE: CuPy compiles with -ftz=true, so float32 denormals flush to zero on the GPU; the absolute
tolerances below absorb that (and values are kept away from the denormal range where it matters).
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.kernels import activation as ka
from gradcore.kernels import cupy_kernel
from gradcore.kernels import loss as kl
from gradcore.kernels import optim as ko
from gradcore.kernels import reduction as kr


def _real_cupy():
    try:
        import cupy

        if cupy.__name__ == "hostcupy":  # GRADCORE_TEST_HOSTCUPY=1 put the stand-in there
            return None, "cupy is the host stand-in here; its cases are the 'host' ones"
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("device count is 0")
    except Exception as exc:  # not installed, no driver, no device: nothing to run them on
        return None, f"no usable CUDA device: {exc}"
    return cupy, None


@pytest.fixture(params=["host", pytest.param("cuda", marks=pytest.mark.gpu)])
def cp(request, monkeypatch):
    """The CuPy the kernel layer imports: the host stand-in, or the real one on a GPU."""
    if request.param == "cuda":
        real, why = _real_cupy()
        if real is None:
            pytest.skip(why)
        yield real
        return
    yield request.getfixturevalue("use_hostcupy")


def to_host(a):
    return a.get()


FLOATS = [np.float16, np.float32, np.float64]
RTOL = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}
ATOL = {np.float16: 1e-4, np.float32: 1e-6, np.float64: 1e-12}
ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]
SMOOTH = ["gelu", "gelu_tanh", "silu"]  # the rows whose backward reads the input


def sample(shape, dtype, seed=0, scale=3.0):
    """Random values plus the specials every kernel must get right (no denormals)."""
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    flat = x.reshape(-1)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e4, -1e4, 30.0, -30.0]
    flat[: len(specials)] = specials[: flat.size]
    return x.astype(dtype)


def check(gpu, cpu, dtype=None, atol=None):
    dtype = np.dtype(dtype or cpu.dtype).type
    host = to_host(gpu)
    assert host.dtype == cpu.dtype and host.shape == cpu.shape
    if np.ndim(atol):  # per element (assert_allclose wants a scalar): NaNs equal, finite close
        a, e = host.astype(np.float64), cpu.astype(np.float64)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), "NaN positions differ")
        with np.errstate(invalid="ignore"):
            ok = (a == e) | (np.abs(a - e) <= RTOL[dtype] * np.abs(e) + atol) | np.isnan(e)
        assert ok.all(), f"{(~ok).sum()} mismatches, e.g. {a[~ok][:5]} vs {e[~ok][:5]}"
        return
    np.testing.assert_allclose(host.astype(np.float64), cpu.astype(np.float64),
                               rtol=RTOL[dtype], atol=ATOL[dtype] if atol is None else atol)


def cancel_atol(x):
    """PyTorch's GELU formulas 0.5 x (1 + erf) and 0.5 x (1 + tanh) cancel for x << 0: an ulp
    of difference between CUDA's (or libm's) erff/tanhf and the twin's becomes about |x| eps
    of absolute error there."""
    dtype = np.dtype(x.dtype).type
    scale = np.nan_to_num(np.abs(x.astype(np.float64)), posinf=0.0)
    return ATOL[dtype] + 16 * np.finfo(dtype).eps * scale


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"):  # the twins see inf/NaN on purpose
        yield


@pytest.mark.parametrize("dtype", FLOATS)
def test_activations(cp, dtype):
    x = sample((7, 33), dtype)
    gy = sample((7, 33), dtype, seed=1)
    xg, gyg = cp.asarray(x), cp.asarray(gy)
    check(ka.relu(xg), ka.relu(x))
    check(ka.leaky_relu(xg, 0.1), ka.leaky_relu(x, 0.1))
    check(ka.sigmoid(xg), ka.sigmoid(x))
    check(ka.softplus(xg), ka.softplus(x))
    check(ka.relu_backward(xg, gyg), ka.relu_backward(x, gy))
    check(ka.leaky_relu_backward(xg, gyg, 0.1), ka.leaky_relu_backward(x, gy, 0.1))
    check(ka.sigmoid_backward(xg, gyg), ka.sigmoid_backward(x, gy))
    check(ka.tanh_backward(xg, gyg), ka.tanh_backward(x, gy))
    check(ka.softplus_backward(xg, gyg), ka.softplus_backward(x, gy))
    check(ka.erf(xg), ka.erf(x))
    for act in SMOOTH:
        atol = cancel_atol(x)
        check(ka.activate(act, xg), ka.activate(act, x), atol=atol)
        check(ka.act_grad(act, xg, gyg), ka.act_grad(act, x, gy), atol=atol * np.abs(gy))


@pytest.mark.parametrize("dtype", FLOATS)
def test_activations_strided_broadcast_and_out(cp, dtype):
    x = sample((12, 40), dtype)[::2, ::3].T  # non-contiguous, transposed
    gy = sample((1, 6), dtype, seed=2)  # broadcasts over the rows
    xg, gyg = cp.asarray(x), cp.asarray(gy)
    assert not xg.flags.c_contiguous
    check(ka.sigmoid(xg), ka.sigmoid(x))
    check(ka.sigmoid_backward(xg, gyg), ka.sigmoid_backward(x, gy))
    check(ka.erf(xg), ka.erf(x))
    check(ka.act_grad("gelu", xg, gyg), ka.act_grad("gelu", x, gy))
    out = cp.empty(x.shape, dtype)
    assert ka.relu(xg, out=out) is out
    check(out, ka.relu(x))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("act", ACTS)
def test_bias_act(cp, dtype, act):
    z = sample((4, 5, 16), dtype)
    b = sample(16, dtype, seed=3)
    zg, bg = cp.asarray(z), cp.asarray(b)
    y = ka.bias_act(z, b, act, slope=0.1)
    atol = cancel_atol(z + b) if act in SMOOTH else None
    check(ka.bias_act(zg, bg, act, slope=0.1), y, atol=atol)
    check(ka.bias_act(zg.transpose(1, 0, 2), bg, act, slope=0.1),
          ka.bias_act(z.transpose(1, 0, 2), b, act, slope=0.1),
          atol=None if atol is None else atol.transpose(1, 0, 2))
    in_place = zg.copy()
    assert ka.bias_act(in_place, bg, act, slope=0.1, out=in_place) is in_place
    check(in_place, y, atol=atol)

    if act in SMOOTH:  # the kernel's second output: z + b over z
        kept = zg.copy()
        check(ka.bias_act(kept, bg, act, slope=0.1, pre=kept), y, atol=atol)
        check(kept, (z.astype(np.float64) + b).astype(dtype))

    gy = sample(z.shape, dtype, seed=4, scale=1.0)
    saved = (z + b) if act in SMOOTH else y  # what the fused Linear keeps for backward
    y_finite = np.nan_to_num(saved, posinf=1.0, neginf=-1.0)  # keep gb sums finite
    gz, gb = ka.bias_act_backward(y_finite, gy, act, slope=0.1)
    gz_gpu, gb_gpu = ka.bias_act_backward(cp.asarray(y_finite), cp.asarray(gy), act, slope=0.1)
    check(gz_gpu, gz, atol=None if atol is None else atol * np.abs(gy))
    np.testing.assert_allclose(to_host(gb_gpu).astype(np.float64), gb.astype(np.float64),
                               rtol=RTOL[dtype] * 10, atol=ATOL[dtype] * 100)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sum_rows(cp, dtype):
    g = sample((6, 50, 9), dtype, scale=1.0)
    g[0, 0, :] = 0  # no inf/NaN in sums
    g = np.nan_to_num(g, posinf=1.0, neginf=-1.0)
    gg = cp.asarray(g)
    wide = g.reshape(300, 9).T  # (9, 300), strided: stage 1 indexes it in place, no copy
    tall = np.nan_to_num(sample((1000, 3), dtype, seed=7, scale=1.0), posinf=1.0, neginf=-1.0)
    assert kr.sum_rows_plan(1000, 3) == (59, 17)  # many chunks, a short last one (14 rows)
    for a, b in [(gg, g), (gg[:, ::2, 1:], g[:, ::2, 1:]), (gg[0, 0], g[0, 0]),
                 (cp.asarray(g).reshape(300, 9).T, wide), (cp.asarray(tall), tall),
                 (cp.zeros((0, 4), dtype), np.zeros((0, 4), dtype))]:
        np.testing.assert_allclose(to_host(kr.sum_rows(a)).astype(np.float64),
                                   kr.sum_rows(b).astype(np.float64),
                                   rtol=RTOL[dtype] * 10, atol=ATOL[dtype] * 100)
    out = cp.empty(9, dtype)
    assert kr.sum_rows(gg, out=out) is out
    ones = cp.ones((4096, 3), np.float16)  # a float16 accumulator would stall at 2048
    np.testing.assert_array_equal(to_host(kr.sum_rows(ones)), [4096] * 3)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy(cp, dtype, label_dtype, reduction):
    n, c = 37, 11
    x = sample((n, c), dtype, scale=5.0)
    x[1] = [1e4] * 3 + [-1e4] * (c - 3)
    x[2] = -np.inf
    x = np.nan_to_num(x, nan=0.0)
    labels = (np.arange(n) * 7 % c).astype(label_dtype)
    for logits in (x, np.asfortranarray(x)):  # contiguous and column-major
        loss, lse = kl.softmax_cross_entropy(logits, labels, reduction)
        loss_g, lse_g = kl.softmax_cross_entropy(cp.asarray(logits), cp.asarray(labels), reduction)
        acc = np.float32 if dtype == np.float16 else dtype
        # online merge (GPU) vs max-shift (twin): a few ulps of lse, absolute after lse - x
        atol = 16 * np.finfo(acc).eps * 50
        check(lse_g, lse, acc, atol)
        check(cp.asarray(loss_g), np.asarray(loss), acc, atol)
        gloss = np.linspace(0.5, 2, n).astype(acc) if reduction == "none" else np.array(1.5, acc)
        gx = kl.softmax_cross_entropy_backward(logits, labels, lse, gloss, reduction)
        gx_g = kl.softmax_cross_entropy_backward(cp.asarray(logits), cp.asarray(labels), lse_g,
                                                 cp.asarray(gloss), reduction)
        check(gx_g, gx)


def test_cross_entropy_label_range_on_gpu(cp):
    """A bad label is flagged by the kernel and raised at the next synchronization (the call
    itself never waits for the GPU), naming the label, the class count and this file's line."""
    from gradcore.kernels import errors

    x = cp.zeros((4, 3), cp.float32)
    loss, _ = kl.softmax_cross_entropy(x, cp.asarray([0, 1, 3, 2]), "none")
    assert errors.pending() == 1
    with pytest.raises(ValueError, match=r"cross_entropy: label 3 .*3 classes.*test_gpu_kernels"):
        errors.check()
    assert errors.pending() == 0
    assert np.isnan(to_host(loss)).tolist() == [False, False, True, False]  # poisoned row
    kl.softmax_cross_entropy(x, cp.asarray([0, -2, 1, 2]))
    with pytest.raises(ValueError, match=r"label -2 "):
        errors.check()
    kl.softmax_cross_entropy(x, cp.asarray([0, 1, 2, 2]))  # good labels leave the rows clear
    errors.check()
    with pytest.raises(TypeError, match="integer dtype"):  # dtypes are checked at the call
        kl.softmax_cross_entropy(x, cp.zeros(4, cp.float32))


def test_flag_rows_are_reused_after_a_full_buffer(cp, monkeypatch):
    from gradcore.kernels import errors

    monkeypatch.setattr(errors, "_ledgers", {})
    monkeypatch.setattr(errors, "CAPACITY", 4)
    x, good = cp.zeros((2, 3), cp.float32), cp.asarray([0, 2])
    for _ in range(9):  # two automatic checks on the way
        kl.softmax_cross_entropy(x, good)
    assert errors.pending() == 1
    kl.softmax_cross_entropy(x, cp.asarray([0, 5]))
    with pytest.raises(ValueError, match="label 5"):
        errors.check()


def test_kernels_carry_their_names(cp):
    for spec in ka.KERNELS + kl.KERNELS + kr.KERNELS + ko.KERNELS:
        assert cupy_kernel(spec).name == spec.name
