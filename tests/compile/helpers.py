"""Run one training setup eagerly and compiled, from the same seed, and collect everything."""
import numpy

import gradcore as gc


def batches(n, shape, steps, seed=1, kind="float", classes=3, dtype="float32"):
    """``steps`` different batches (so a frozen input would show): floats or class labels."""
    rng = numpy.random.default_rng(seed)
    if kind == "labels":
        return [gc.tensor(rng.integers(0, classes, n)) for _ in range(steps)]
    return [gc.tensor(rng.standard_normal((n, *shape)).astype(dtype)) for _ in range(steps)]


def train(setup, compiled, steps, dtype="float32"):
    """``setup(dtype)`` -> (model, optimizer, step_fn(x, y) -> loss, xs, ys, extras) where
    extras is a list of Tensors (buffers) to compare. Returns losses, parameters, optimizer
    state arrays, extras, and the compiled callable (or None)."""
    gc.manual_seed(0)
    model, opt, step, xs, ys, extras = setup(dtype)
    fn = gc.compile(step) if compiled else step
    losses = [fn(x, y).numpy().copy() for x, y in zip(xs, ys)]
    params = [p.numpy().copy() for p in model.parameters()]
    state = []
    if opt is not None:
        for pack_state in opt.state.values():
            state += [numpy.array(v, copy=True) for k, v in sorted(pack_state.items())
                      if k != "step"]
            state.append(list(pack_state["step"]))
    extra = [e.numpy().copy() for e in extras()]
    return losses, params, state, extra, (fn if compiled else None)


def assert_same(setup, steps, dtype="float32", exact=True):
    """Compiled equals eager: losses, parameters, optimizer state and extras."""
    eager = train(setup, False, steps, dtype)
    comp = train(setup, True, steps, dtype)
    check = numpy.testing.assert_array_equal if exact else (
        lambda a, b: numpy.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7))
    for name, a, b in zip(("losses", "parameters", "optimizer state", "extras"), eager, comp):
        assert len(a) == len(b), name
        for i, (u, v) in enumerate(zip(a, b)):
            check(numpy.asarray(u), numpy.asarray(v)), f"{name}[{i}]"
    return comp[4]
