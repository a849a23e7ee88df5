"""Small helpers shared by the tests: float64 inputs on a device, non-contiguous views, numerical
checks of second derivatives and of forward-mode (jvp) tangents, float64 references of the
optimizers, and importing a script file."""
import importlib.util
import pathlib

import numpy as np

import gradcore as gc


def randn(shape, device, seed=0, low=None, high=None):
    """A float64 tensor on ``device``: standard normal, or uniform in [low, high)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return gc.tensor(np.asarray(a, dtype=np.float64), device=device)


def away_from_zero(shape, device, seed=0, gap=0.2):
    """Normal samples pushed at least ``gap`` away from 0 (no kink within finite differences)."""
    a = np.random.default_rng(seed).standard_normal(shape)
    a = np.where(a >= 0, a + gap, a - gap)
    return gc.tensor(np.asarray(a, dtype=np.float64), device=device)


def noncontig(a, device, kind="strided"):
    """A tensor equal to ``a`` whose data is a non-contiguous view on ``device``.

    ``strided``: every other element of a twice-as-wide array (any ndim >= 1);
    ``transposed``: the transpose of a contiguous array (ndim >= 2; Fortran-ordered).
    """
    a = np.asarray(a, dtype=np.float64)
    if kind == "transposed":
        base = gc.tensor(np.ascontiguousarray(a.T), device=device)
        view = gc.as_tensor(base.array.T)
    else:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
        wide[..., ::2] = a
        view = gc.as_tensor(gc.tensor(wide, device=device).array[..., ::2])
    assert not view.array.flags.c_contiguous
    np.testing.assert_array_equal(view.numpy(), a)
    return view


def gradcheck2(f, inputs, **kw):
    """Second-order check: gradcheck of x -> d<f(x), w>/dx (every input, flattened and joined)
    for a fixed random weight w, so the gradient of the gradient is compared with finite
    differences of the gradient."""
    inputs = tuple(inputs)
    with gc.no_grad():
        shape = f(*inputs).shape
    w = gc.tensor(np.random.default_rng(7).standard_normal(shape), device=inputs[0].device)
    nums = tuple(range(len(inputs)))

    def first(*xs):
        gs = gc.grad(lambda *zs: (f(*zs) * w).sum(), argnums=nums)(*xs)
        return gc.concatenate([g.flatten() for g in gs])

    return gc.gradcheck(first, inputs, **kw)


def jvpcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5):
    """Forward mode: the tangent from ``gc.jvp`` against the central difference
    (f(x + eps v) - f(x - eps v)) / 2 eps along a random direction v; values against f(x)."""
    inputs = tuple(inputs)
    rng = np.random.default_rng(3)
    tangents = [gc.tensor(rng.standard_normal(x.shape), device=x.device) for x in inputs]
    y, ty = gc.jvp(f, inputs, tangents)

    def at(sign):
        moved = [gc.tensor(x.numpy() + sign * eps * t.numpy(), device=x.device)
                 for x, t in zip(inputs, tangents)]
        with gc.no_grad():
            return f(*moved).numpy()

    with gc.no_grad():
        np.testing.assert_allclose(y.numpy(), f(*inputs).numpy(), rtol=1e-12, atol=1e-12)
    assert ty.shape == y.shape and ty.dtype == y.dtype
    numeric = (at(1) - at(-1)) / (2 * eps)
    np.testing.assert_allclose(ty.numpy(), numeric, rtol=rtol, atol=atol)
    return True


def check_unary(fn, ref, x):
    """``fn(x)`` against NumPy's ``ref`` in float64 (shape, dtype, values), then gradcheck."""
    y = fn(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ref(x.numpy()), rtol=1e-13, atol=1e-15)
    assert gc.gradcheck(fn, (x,))


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """PyTorch's SGD written out in float64: yields the parameters after each step. A gradient
    of None skips the step, as PyTorch skips a parameter whose .grad is None."""
    p, buf = np.array(p, np.float64), None
    for g in grads:
        if g is None:
            yield p
            continue
        g = np.asarray(g, np.float64) + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        yield p


def adam_reference(p, grads, lr, beta1, beta2, eps, weight_decay, decoupled):
    """Adam (L2 in the gradient) or AdamW (decoupled decay) in float64: yields the parameters
    after each step. A gradient of None skips the step: the step count t is per parameter."""
    p = np.array(p, np.float64)
    m, v, t = np.zeros_like(p), np.zeros_like(p), 0
    for g in grads:
        if g is None:
            yield p
            continue
        t += 1
        g = np.array(g, np.float64)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield p


def rmsprop_reference(p, grads, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
    """PyTorch's RMSprop written out in float64: yields the parameters after each step; a
    gradient of None skips the step (and leaves the state alone)."""
    p = np.array(p, np.float64)
    sq, ga, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        if g is not None:
            g = np.asarray(g, np.float64) + weight_decay * p
            sq = alpha * sq + (1 - alpha) * g * g
            if centered:
                ga = alpha * ga + (1 - alpha) * g
                avg = np.sqrt(sq - ga * ga) + eps
            else:
                avg = np.sqrt(sq) + eps
            if momentum:
                buf = momentum * buf + g / avg
                p = p - lr * buf
            else:
                p = p - lr * g / avg
        yield p


def adagrad_reference(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial=0.0, eps=1e-10):
    """PyTorch's Adagrad in float64 (step count t per parameter: a None gradient skips)."""
    p = np.array(p, np.float64)
    s, t = np.full_like(p, initial), 0
    for g in grads:
        if g is not None:
            t += 1
            g = np.asarray(g, np.float64) + weight_decay * p
            s = s + g * g
            p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        yield p


def adadelta_reference(p, grads, lr, rho, eps, weight_decay=0.0):
    """PyTorch's Adadelta in float64; a None gradient skips the step."""
    p = np.array(p, np.float64)
    sq, acc = np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        if g is not None:
            g = np.asarray(g, np.float64) + weight_decay * p
            sq = rho * sq + (1 - rho) * g * g
            d = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
            acc = rho * acc + (1 - rho) * d * d
            p = p - lr * d
        yield p


def load_script(path):
    """Import a file that is not part of a package (examples/*.py, docs/*.py) as a module."""
    path = pathlib.Path(path)
    spec = importlib.util.spec_from_file_location(f"gradcore_script_{path.parent.name}_{path.stem}",
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_close(actual, expected, rtol=1e-12, atol=1e-12):
    """``actual`` (a Tensor or array, any device) equals ``expected`` within float64 tolerances."""
    a = actual.numpy() if isinstance(actual, gc.Tensor) else np.asarray(actual)
    np.testing.assert_allclose(a, np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)
