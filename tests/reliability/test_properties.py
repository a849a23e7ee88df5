"""Property-based tests (hypothesis): random shapes, broadcasts, axes, indices and dtypes for every
op family, and random compositions of ops.

Every drawn case is checked twice: ``gc.gradcheck`` (reverse mode against central differences,
float64), and forward against reverse mode: <J t, u> == <t, J^T u> for random tangents t and
cotangents u, with J t from ``gc.jvp`` and J^T u from ``gc.vjp``. Inputs stay away from kinks
(relu at 0, ties of max) by at least 0.05, far beyond the finite-difference step of 1e-6.
Run with ``--hypothesis-show-statistics`` to see how many examples each test ran.
"""
import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcore as gc

F = gc.nn.functional

EXAMPLES = 200
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ---- strategies -----------------------------------------------------------------------------
def reals(lo=-2.0, hi=2.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def away_from_zero(lo=0.05, hi=2.0):
    """|x| in [lo, hi], either sign."""
    return st.one_of(reals(lo, hi), reals(-hi, -lo))


def shapes(min_dims=0, max_dims=3, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def arrays(shape, elements=None, unique=False):
    elements = reals() if elements is None else elements
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def axis_args(ndim):
    """None, an int (either sign) or a tuple of distinct axes (either sign) of an ndim array."""
    if ndim == 0:
        return st.none()
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes]))
    return st.one_of(st.none(), one, many)


def T(a):
    return gc.tensor(np.asarray(a, dtype=np.float64))


# ---- the two checks ---------------------------------------------------------------------------
def check(f, inputs, seed=0):
    """gradcheck, then <J t, u> == <t, J^T u> with jvp and vjp."""
    inputs = tuple(T(a) if not isinstance(a, gc.Tensor) else a for a in inputs)
    assert gc.gradcheck(f, inputs)
    rng = np.random.default_rng(seed)
    tangents = tuple(T(rng.standard_normal(x.shape)) for x in inputs)
    y, jt = gc.jvp(f, inputs, tangents)
    u = T(rng.standard_normal(y.shape))
    jtu = gc.vjp(f, *inputs)[1](u)
    forward = float((jt.numpy() * u.numpy()).sum())
    reverse = float(sum((t.numpy() * g.numpy()).sum() for t, g in zip(tangents, jtu)))
    scale = 1 + abs(forward) + abs(reverse)
    assert abs(forward - reverse) <= 1e-9 * scale, (forward, reverse)


# ---- arithmetic with broadcasting ---------------------------------------------------------------
BINARY = {
    "add": (gc.add, reals(), reals()),
    "sub": (gc.sub, reals(), reals()),
    "mul": (gc.mul, reals(), reals()),
    "div": (gc.div, reals(), away_from_zero(0.3)),
    "pow": (gc.pow, reals(0.3, 2.0), reals(-2.0, 2.0)),
    "maximum": (gc.maximum, reals(), reals()),
    "minimum": (gc.minimum, reals(), reals()),
}


@SETTINGS
@given(name=st.sampled_from(sorted(BINARY)),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       data=st.data())
def test_binary_ops_broadcast(name, shapes, data):
    op, left, right = BINARY[name]
    a = data.draw(arrays(shapes.input_shapes[0], left), label="a")
    b = data.draw(arrays(shapes.input_shapes[1], right), label="b")
    if name in ("maximum", "minimum"):  # no (near) ties: the gradient jumps there
        assume(np.abs(np.subtract(a, b)).min(initial=1.0) > 0.05)
    check(op, (a, b))


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       data=st.data())
def test_where_broadcasts(shapes, data):
    cond = data.draw(hnp.arrays(np.bool_, shapes.input_shapes[0]), label="cond")
    a = data.draw(arrays(shapes.input_shapes[1]), label="a")
    b = data.draw(arrays(shapes.input_shapes[2]), label="b")
    check(lambda x0, x1: gc.where(cond, x0, x1), (a, b))


# ---- unary math and activations on safe domains -------------------------------------------------
UNARY = {
    "exp": (gc.exp, reals()),
    "log": (gc.log, reals(0.2, 3.0)),
    "log1p": (gc.log1p, reals(-0.7, 3.0)),
    "sqrt": (gc.sqrt, reals(0.2, 3.0)),
    "abs": (gc.abs, away_from_zero()),
    "sin": (gc.sin, reals(-4.0, 4.0)),
    "cos": (gc.cos, reals(-4.0, 4.0)),
    "neg": (gc.neg, reals()),
    "clip": (lambda x: gc.clip(x, -0.5, 0.75),
             st.one_of(reals(-2.0, -0.55), reals(-0.45, 0.7), reals(0.8, 2.0))),
    "pow-scalar": (lambda x: x ** 3, reals()),
    "pow-fraction": (lambda x: x ** -1.5, reals(0.3, 3.0)),
    "rtruediv": (lambda x: 2.0 / x, away_from_zero(0.3)),
    "sigmoid": (gc.sigmoid, reals(-6.0, 6.0)),
    "tanh": (gc.tanh, reals(-3.0, 3.0)),
    "relu": (gc.relu, away_from_zero()),
    "leaky_relu": (lambda x: gc.leaky_relu(x, 0.2), away_from_zero()),
    "softplus": (gc.softplus, reals(-6.0, 6.0)),
}


@SETTINGS
@given(name=st.sampled_from(sorted(UNARY)), shape=shapes(), data=st.data())
def test_unary_math_and_activations(name, shape, data):
    op, elements = UNARY[name]
    check(op, (data.draw(arrays(shape, elements), label="x"),))


# ---- reductions with random axes and keepdims ---------------------------------------------------
@SETTINGS
@given(name=st.sampled_from(["sum", "mean", "var", "max", "min"]), shape=shapes(),
       keepdims=st.booleans(), ddof=st.sampled_from([0, 1]), data=st.data())
def test_reductions(name, shape, keepdims, ddof, data):
    axis = data.draw(axis_args(len(shape)), label="axis")
    # distinct values, 0.05 apart: max/min have no ties
    grid = st.integers(-40, 40).map(lambda k: k * 0.05)
    x = data.draw(arrays(shape, grid, unique=True), label="x")
    if name == "var":
        axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
        assume(int(np.prod([shape[a] for a in axes])) > ddof)
        check(lambda t: gc.var(t, axis, keepdims, ddof), (x,))
    else:
        check(lambda t: getattr(gc, name)(t, axis, keepdims), (x,))


# ---- softmax family -----------------------------------------------------------------------------
@SETTINGS
@given(name=st.sampled_from(["softmax", "log_softmax", "logsumexp"]), shape=shapes(min_dims=1),
       keepdims=st.booleans(), offset=st.sampled_from([0.0, 50.0, -300.0]), data=st.data())
def test_softmax_family(name, shape, keepdims, offset, data):
    x = data.draw(arrays(shape, reals(-4.0, 4.0)), label="x") + offset
    if name == "logsumexp":
        axis = data.draw(axis_args(len(shape)), label="axis")
        check(lambda t: gc.logsumexp(t, axis, keepdims), (x,))
    else:
        axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
        check(lambda t: getattr(gc, name)(t, axis), (x,))


# ---- shape ops --------------------------------------------------------------------------------
@st.composite
def reshapes(draw, shape):
    """A random shape with the same number of elements (one entry may be -1)."""
    size, factors, n = int(np.prod(shape)), [], int(np.prod(shape))
    for p in (2, 3, 5, 7):
        while n % p == 0:
            factors.append(p)
            n //= p
    factors = draw(st.permutations(factors))
    ndim = draw(st.integers(1, 4))
    dims = [1] * ndim
    for f in factors:
        dims[draw(st.integers(0, ndim - 1))] *= f
    if draw(st.booleans()):
        dims[draw(st.integers(0, ndim - 1))] = -1
    assert size == int(np.prod(shape))
    return tuple(dims)


@SETTINGS
@given(name=st.sampled_from(["reshape", "transpose", "swapaxes", "expand_dims", "squeeze",
                             "broadcast_to", "sum_to", "flatten"]),
       shape=shapes(max_dims=3), data=st.data())
def test_shape_ops(name, shape, data):
    x = data.draw(arrays(shape), label="x")
    ndim = len(shape)
    if name == "reshape":
        new = data.draw(reshapes(shape), label="new shape")
        f = lambda t: gc.reshape(t, new)  # noqa: E731
    elif name == "transpose":
        axes = data.draw(st.one_of(st.none(), st.permutations(range(ndim)).map(tuple)),
                         label="axes")
        f = lambda t: gc.transpose(t, axes)  # noqa: E731
    elif name == "swapaxes":
        assume(ndim > 0)
        a, b = data.draw(st.tuples(st.integers(-ndim, ndim - 1), st.integers(-ndim, ndim - 1)))
        f = lambda t: gc.swapaxes(t, a, b)  # noqa: E731
    elif name == "expand_dims":
        axis = data.draw(st.integers(-ndim - 1, ndim), label="axis")
        f = lambda t: gc.expand_dims(t, axis)  # noqa: E731
    elif name == "squeeze":
        where = data.draw(st.integers(0, ndim), label="size-1 axis at")
        x = np.expand_dims(x, where)
        axis = data.draw(st.sampled_from([None, where, where - x.ndim]), label="axis")
        f = lambda t: gc.squeeze(t, axis)  # noqa: E731
    elif name in ("broadcast_to", "sum_to"):
        target = data.draw(hnp.mutually_broadcastable_shapes(
            num_shapes=1, base_shape=shape, max_side=3), label="target").result_shape
        if name == "broadcast_to":
            f = lambda t: gc.broadcast_to(t, target)  # noqa: E731
        else:
            x = np.broadcast_to(x, target) + np.zeros(target)  # a real array of the big shape
            f = lambda t: gc.sum_to(t, shape)  # noqa: E731
    else:
        f = gc.flatten
    check(f, (x,))


# ---- indexing with random slices, arrays and masks ---------------------------------------------
@SETTINGS
@given(shape=shapes(min_dims=1), kind=st.sampled_from(["basic", "integer", "mask"]), data=st.data())
def test_indexing(shape, kind, data):
    x = data.draw(arrays(shape), label="x")
    if kind == "basic":  # ints, slices (any step, empty ones too), Ellipsis, None
        key = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="key")
    elif kind == "integer":  # repeats accumulate in the backward (scatter-add)
        key = data.draw(hnp.integer_array_indices(shape, result_shape=shapes(1, 2, 5)), label="key")
        key = tuple(gc.tensor(k) for k in key)
    else:
        key = gc.tensor(data.draw(hnp.arrays(np.bool_, shape), label="mask"))
    check(lambda t: t[key], (x,))


# ---- matmul with random batch dims, linear ------------------------------------------------------
@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                                max_side=3),
       data=st.data())
def test_matmul_with_batch_dims(shapes, data):
    a = data.draw(arrays(shapes.input_shapes[0]), label="a")
    b = data.draw(arrays(shapes.input_shapes[1]), label="b")
    check(gc.matmul, (a, b))


@SETTINGS
@given(lead=shapes(min_dims=1, max_dims=2), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       activation=st.sampled_from([None, "relu", "leaky_relu", "sigmoid", "tanh"]),
       bias=st.booleans(), data=st.data())
def test_linear_and_fused_linear(lead, n_in, n_out, activation, bias, data):
    x = data.draw(arrays(lead + (n_in,)), label="x")
    w = data.draw(arrays((n_out, n_in)), label="w")
    b = data.draw(arrays((n_out,)), label="b") if bias else np.zeros(n_out)
    if activation in ("relu", "leaky_relu"):  # pre-activations away from the kink at 0
        assume(np.abs(x @ w.T + b).min() > 0.05)
    if bias:
        check(lambda x_, w_, b_: F.linear(x_, w_, b_, activation=activation), (x, w, b))
    else:
        check(lambda x_, w_: F.linear(x_, w_, None, activation=activation), (x, w))


# ---- concatenate, stack, split --------------------------------------------------------------
@SETTINGS
@given(shape=shapes(min_dims=1), count=st.integers(1, 3), data=st.data())
def test_concatenate_and_stack(shape, count, data):
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=count, max_size=count), label="sizes")
    parts = []
    for n in sizes:
        s = list(shape)
        s[axis] = n
        parts.append(data.draw(arrays(tuple(s)), label="part"))
    check(lambda *ts: gc.concatenate(ts, axis), parts)
    stack_axis = data.draw(st.integers(-ndim - 1, ndim), label="stack axis")
    same = [data.draw(arrays(shape), label="same") for _ in range(count)]
    check(lambda *ts: gc.stack(ts, stack_axis), same)


@SETTINGS
@given(shape=shapes(min_dims=1, max_side=6), data=st.data())
def test_split_and_use_some_pieces(shape, data):
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    n = shape[axis]
    sections = data.draw(st.one_of(
        st.sampled_from([d for d in range(1, n + 1) if n % d == 0]),
        st.lists(st.integers(0, n), max_size=3).map(sorted)), label="sections")
    x = data.draw(arrays(shape), label="x")
    count = sections if isinstance(sections, int) else len(sections) + 1
    used = data.draw(st.lists(st.integers(0, count - 1), min_size=1, unique=True), label="used")

    def f(t):  # unused pieces get no gradient: the backward fills zeros for them
        pieces = gc.split(t, sections, axis)
        return gc.concatenate([pieces[i].flatten() * (i + 1) for i in used])

    check(f, (x,))


# ---- cross-entropy --------------------------------------------------------------------------
@SETTINGS
@given(n=st.integers(1, 4), c=st.integers(1, 5),
       reduction=st.sampled_from(["mean", "sum", "none"]), data=st.data())
def test_cross_entropy(n, c, reduction, data):
    logits = data.draw(arrays((n, c), reals(-5.0, 5.0)), label="logits")
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    check(lambda t: F.cross_entropy(t, labels, reduction=reduction), (logits,))


# ---- random compositions ----------------------------------------------------------------------
COMPOSE_UNARY = {
    "tanh": gc.tanh, "sin": gc.sin, "cos": gc.cos, "sigmoid": gc.sigmoid, "softplus": gc.softplus,
    "square": lambda x: x * x, "exp(tanh)": lambda x: gc.exp(gc.tanh(x)),
    "log1p(x^2)": lambda x: gc.log1p(x * x), "1/(1+x^2)": lambda x: 1 / (1 + x * x),
    "softmax": lambda x: gc.softmax(x, -1), "lse": lambda x: gc.logsumexp(x, -1, keepdims=True),
    "mean": lambda x: x.mean(axis=-1, keepdims=True), "neg": gc.neg, "scale": lambda x: x * 0.7,
    "sqrt(1+x^2)": lambda x: gc.sqrt(1 + x * x), "log_softmax": lambda x: gc.log_softmax(x, -1),
}
COMPOSE_BINARY = {
    "add": gc.add, "sub": gc.sub, "mul": gc.mul, "div": lambda a, b: a / (1.5 + gc.tanh(b)),
}


@st.composite
def programs(draw, n_inputs):
    """3 to 6 steps; step k applies an op to earlier values (inputs are values 0..n_inputs-1)."""
    steps = []
    for k in range(draw(st.integers(3, 6))):
        n_values = n_inputs + k
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(COMPOSE_UNARY))),
                          draw(st.integers(0, n_values - 1))))
        else:
            steps.append((draw(st.sampled_from(sorted(COMPOSE_BINARY))),
                          draw(st.integers(0, n_values - 1)), draw(st.integers(0, n_values - 1))))
    return steps


def run_program(steps, inputs):
    values = list(inputs)
    for name, *args in steps:
        op = COMPOSE_UNARY.get(name) or COMPOSE_BINARY[name]
        values.append(op(*[values[i] for i in args]))
    return values[-1]


@settings(SETTINGS, max_examples=2 * EXAMPLES)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=1, max_dims=3, max_side=3),
       n_inputs=st.integers(1, 3), data=st.data())
def test_random_compositions(shapes, n_inputs, data):
    steps = data.draw(programs(n_inputs), label="program")
    note(" ; ".join(f"v{n_inputs + k} = {name}{tuple(f'v{i}' for i in args)}"
                    for k, (name, *args) in enumerate(steps)))
    inputs = [data.draw(arrays(s), label=f"v{i}") for i, s in
              enumerate(shapes.input_shapes[:n_inputs])]
    with gc.no_grad():  # square of square of ...: finite differences need a moderate scale
        assume(np.abs(run_program(steps, [T(a) for a in inputs]).numpy()).max() < 1e3)
    check(lambda *xs: run_program(steps, xs), inputs)


# ---- dtypes: float16/32/64 forward and backward keep the dtype and agree with float64 ------------
DTYPE_OPS = {
    "exp": gc.exp, "tanh": gc.tanh, "sigmoid": gc.sigmoid, "softplus": gc.softplus,
    "sin": gc.sin, "square": lambda x: x * x, "softmax": lambda x: gc.softmax(x, -1),
    "log_softmax": lambda x: gc.log_softmax(x, -1), "lse": lambda x: gc.logsumexp(x, -1),
    "sum": lambda x: x.sum(axis=-1), "mean": lambda x: x.mean(), "var": lambda x: gc.var(x, -1),
    "matmul": lambda x: x @ x.mT,
}
DTYPE_TOL = {"float16": 2e-2, "float32": 1e-5, "float64": 1e-12}


@SETTINGS
@given(name=st.sampled_from(sorted(DTYPE_OPS)), dtype=st.sampled_from(sorted(DTYPE_TOL)),
       shape=shapes(min_dims=2, max_dims=3), data=st.data())
def test_dtypes_are_kept_and_agree_with_float64(name, dtype, shape, data):
    a = data.draw(arrays(shape, reals(-2.0, 2.0)), label="x").astype(dtype).astype(np.float64)
    out = {}
    for dt in (dtype, "float64"):
        x = gc.tensor(a, dtype=dt, requires_grad=True)
        y = DTYPE_OPS[name](x)
        assert y.dtype == dt and y.shape == out.get("float64", (y,))[0].shape
        y.backward(gc.ones(*y.shape, dtype=dt))
        assert x.grad.dtype == dt
        out[dt] = (y, y.numpy().astype(np.float64), x.grad.numpy().astype(np.float64))
    tol = DTYPE_TOL[dtype]
    for lo, hi in zip(out[dtype][1:], out["float64"][1:]):
        np.testing.assert_allclose(lo, hi, rtol=tol, atol=tol * (1 + np.abs(hi).max()))
