"""The optimizer kernels (gradcore/kernels/optim.py, kernels/optim.cuh): every kernel against
its NumPy twin through CuPy's argument rules (on ``host``, the g++-built stand-in of
tests/kernels/hostcupy/; on ``cuda``, a real GPU when there is one), the twins against
PyTorch's update written out in float64, and the twins' memory bound.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from gradcore.kernels import optim as ko
from tests.helpers import adam_reference, sgd_reference
from tests.kernels.test_gpu_kernels import cp  # noqa: F401 (the host / cuda CuPy fixture)

FLOATS = [np.float16, np.float32, np.float64]
# On a GPU, FMA contraction and -ftz set a kernel a few ulps of the accumulate type away from its
# twin (then one rounding to the storage type); on the host stand-in they agree bit for bit.
RTOL = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 1e-14}
SCALARS = {  # every scalar a kernel takes, at values that exercise each term
    "lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01, "step_size": 0.02,
    "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "bc2_sqrt": 0.4, "decay": 0.999, "alpha": 0.9,
    "clr": 0.03, "rho": 0.85,
}


def sample(n, dtype, seed, specials=True):
    x = np.random.default_rng(seed).standard_normal(n)
    if specials:  # zeros of both signs, infinities and NaN must come out as the twin says
        x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e4]
    return x.astype(dtype)


def scalars_of(spec):
    return {name: SCALARS[name] for name in ko._scalars(spec)}


# ---------------------------------------------------------------- each kernel vs its twin
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("spec", ko.KERNELS, ids=lambda s: s.name)
def test_kernel_matches_twin(cp, spec, dtype):  # noqa: F811 (the imported fixture)
    """Three steps of each kernel and its twin from the same start, state included. The state
    starts >= 0 (v is under a square root), and zero with a zero gradient at every 7th element
    (Adam's denominator is then eps alone)."""
    n = 1001
    nout = len(spec.out_params.split(","))
    outs = [sample(n, dtype, seed=1)] + [np.abs(sample(n, dtype, seed=2 + k, specials=False))
                                         for k in range(nout - 1)]
    for state in outs[1:]:
        state[7::7] = 0
    gpu = [cp.asarray(o) for o in outs]
    with np.errstate(invalid="ignore", over="ignore"):
        for step in range(3):
            grad = sample(n, dtype, seed=10 + step, specials=step == 0)
            grad[7::7] = 0
            ko._update(spec, grad, outs, **scalars_of(spec))
            ko._update(spec, cp.asarray(grad), gpu, **scalars_of(spec))
    for g, c in zip(gpu, outs):
        host = g.get()
        assert host.dtype == c.dtype
        if cp.__name__ == "hostcupy":  # same operations in the same order, no FMA: bit for bit
            np.testing.assert_array_equal(host, c)
        else:
            np.testing.assert_allclose(host.astype(np.float64), c.astype(np.float64),
                                       rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("spec", ko.KERNELS, ids=lambda s: s.name)
def test_twin_runs_block_by_block_and_grad_is_untouched(spec):
    """Across BLOCK boundaries the twin equals one pass over the whole buffer (float64, where
    the blocking cannot change a rounding); the gradient is never written."""
    n = 2 * ko.BLOCK + 17
    nout = len(spec.out_params.split(","))
    outs = [sample(n, np.float64, 1, False)] + [np.abs(sample(n, np.float64, 2 + k, False))
                                               for k in range(nout - 1)]
    whole = [o.copy() for o in outs]
    grad = sample(n, np.float64, 3, False)
    grad_before = grad.copy()
    ko._update(spec, grad, outs, **scalars_of(spec))
    ko.TWINS[spec](grad, *whole, **scalars_of(spec))
    for blocked, one_pass in zip(outs, whole):
        np.testing.assert_array_equal(blocked, one_pass)
    np.testing.assert_array_equal(grad, grad_before)


def test_every_kernel_has_a_twin_and_its_own_name():
    assert set(ko.TWINS) == set(ko.KERNELS)
    names = [spec.name for spec in ko.KERNELS]
    assert len(set(names)) == len(names) and all(n.startswith("gradcore_") for n in names)
    for spec in ko.KERNELS:  # a kernel takes the scalars its twin names, in its own order
        twin_scalars = ko.TWINS[spec].__code__.co_varnames[ko.TWINS[spec].__code__.co_argcount:]
        assert set(ko._scalars(spec)) <= set(twin_scalars)


# ---------------------------------------------------------------- twins vs PyTorch's formulas
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("momentum,dampening,weight_decay,nesterov", [
    (0.0, 0.0, 0.0, False), (0.0, 0.0, 0.1, False), (0.9, 0.0, 0.0, False),
    (0.9, 0.5, 0.01, False), (0.8, 0.0, 0.01, True),
])
def test_sgd_matches_pytorch_formula(dtype, momentum, dampening, weight_decay, nesterov):
    p0 = sample(33, dtype, 0, specials=False)
    grads = [sample(33, dtype, s, specials=False) for s in range(1, 6)]
    p = p0.copy()
    buf = np.zeros_like(p) if momentum else None  # a fresh state: first_step relies on it
    for k, g in enumerate(grads):
        ko.sgd_step(p, g, buf, lr=0.1, momentum=momentum, dampening=dampening,
                    weight_decay=weight_decay, nesterov=nesterov, first_step=k == 0)
    *_, expected = sgd_reference(p0, grads, 0.1, momentum, dampening, weight_decay, nesterov)
    atol = {np.float16: 1e-2, np.float32: 1e-6, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(p.astype(np.float64), expected, rtol=RTOL[dtype], atol=atol)


def test_first_momentum_step_sets_the_buffer_to_the_gradient():
    """PyTorch's first step is buf = g (dampening ignored), also for Nesterov."""
    for nesterov in (False, True):
        p, g, buf = np.ones(4), np.array([1.0, -2.0, 0.5, 3.0]), np.zeros(4)
        ko.sgd_step(p, g, buf, lr=0.1, momentum=0.9, dampening=0.0 if nesterov else 0.5,
                    nesterov=nesterov, first_step=True)
        np.testing.assert_array_equal(buf, g)
        np.testing.assert_array_equal(p, 1 - 0.1 * (g + 0.9 * g if nesterov else g))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_matches_pytorch_formula(dtype, decoupled):
    p0 = sample(33, dtype, 0, specials=False)
    grads = [sample(33, dtype, s, specials=False) for s in range(1, 6)]
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        ko.adam_step(p, g, m, v, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1,
                     step=t, decoupled=decoupled)
    *_, expected = adam_reference(p0, grads, 0.01, 0.9, 0.999, 1e-8, 0.1, decoupled)
    atol = {np.float16: 2e-3, np.float32: 1e-6, np.float64: 1e-13}[dtype]
    np.testing.assert_allclose(p.astype(np.float64), expected, rtol=RTOL[dtype], atol=atol)


def test_optimizer_errors():
    p = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="momentum buffer"):
        ko.sgd_step(p, p.copy(), None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"sgd_step: buffers must be 1-D.*\(4,\).*\(5,\)"):
        ko.sgd_step(p, np.zeros(5, np.float32), None, lr=0.1)
    with pytest.raises(TypeError, match="one dtype"):
        ko.sgd_step(p, np.zeros(4), None, lr=0.1)
    for bad_step in (0, 1.5, True):
        with pytest.raises(ValueError, match="step"):
            ko.adam_step(p, p.copy(), p.copy(), p.copy(), 0.1, 0.9, 0.999, 1e-8, 0.0, bad_step)
        with pytest.raises(ValueError, match="adagrad_step: step must be an integer >= 1"):
            ko.adagrad_step(p, p.copy(), p.copy(), 0.1, 0.0, 1e-10, 0.0, bad_step)
    with pytest.raises(ValueError, match="rmsprop_step: momentum != 0 needs a momentum buffer"):
        ko.rmsprop_step(p, p.copy(), p.copy(), 0.1, 0.9, 1e-8, momentum=0.9)
    with pytest.raises(ValueError, match=r"adadelta_step: buffers must be 1-D"):
        ko.adadelta_step(p, p.copy(), p.copy(), np.zeros(3, np.float32), 1.0, 0.9, 1e-6)


# ---------------------------------------------------------------- memory
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("variant", ["sgd", "sgd-wd", "momentum", "nesterov", "adam", "adamw",
                                     "rmsprop", "rmsprop-centered-momentum", "adagrad", "adadelta"])
def test_twin_temporaries_are_bounded_by_the_block(variant, dtype):
    """The twins' scratch memory is a few blocks, not a copy of the model (the whole-buffer
    version allocated one to four buffer-sized arrays per step; NumPy reports to tracemalloc)."""
    n = 32 * ko.BLOCK  # 4 Mi elements: 16 MiB per whole-buffer float32 temporary
    p, g, a, b = (np.ones(n, dtype) for _ in range(4))
    c = np.zeros(n, dtype)
    momentum = 0.0 if variant.startswith("sgd") else 0.9
    tracemalloc.start()
    try:
        if variant == "rmsprop":
            ko.rmsprop_step(p, g, a, 1e-3, 0.99, 1e-8, 0.01)
        elif variant == "rmsprop-centered-momentum":
            ko.rmsprop_step(p, g, a, 1e-3, 0.99, 1e-8, 0.01, momentum, grad_avg=c, buf=b)
        elif variant == "adagrad":
            ko.adagrad_step(p, g, a, 1e-2, 0.1, 1e-10, 0.01, 3)
        elif variant == "adadelta":
            ko.adadelta_step(p, g, a, b, 1.0, 0.9, 1e-6, 0.01)
        elif variant in ("adam", "adamw"):
            ko.adam_step(p, g, a, b, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3, variant == "adamw")
        else:
            ko.sgd_step(p, g, a, lr=0.1, momentum=momentum, nesterov=variant == "nesterov",
                        weight_decay=0.01 if variant != "sgd" else 0.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 16 * ko.BLOCK * 4, f"{variant}: {peak} bytes of temporaries"
