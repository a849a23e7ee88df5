"""concatenate, stack, split: values vs NumPy, gradients (including split parts that receive no
gradient), second order, forward mode, errors."""
import numpy as np
import pytest

import gradcore as gc
from tests.helpers import gradcheck2, jvpcheck, noncontig, randn

CONCAT = [  # (shapes, axis)
    (((2, 3), (1, 3)), 0),
    (((2, 1), (2, 3), (2, 2)), 1),
    (((2, 1, 2), (2, 3, 2)), -2),
    (((1,), (3,)), 0),
]


def _check_join(join, ref, xs, axis):
    """``join(xs, axis)`` equals NumPy's ``ref`` exactly; first, second order and jvp check."""
    np.testing.assert_array_equal(join(xs, axis).numpy(), ref([x.numpy() for x in xs], axis))
    f = lambda *zs: join(zs, axis)  # noqa: E731
    assert gc.gradcheck(f, xs)
    assert gradcheck2(lambda *zs: f(*zs) ** 2, xs)
    assert jvpcheck(f, xs)


@pytest.mark.parametrize("shapes,axis", CONCAT, ids=str)
def test_concatenate(shapes, axis, device):
    xs = [randn(s, device, seed=i) for i, s in enumerate(shapes)]
    _check_join(gc.concatenate, np.concatenate, xs, axis)


@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_stack(axis, device):
    _check_join(gc.stack, np.stack, [randn((2, 3), device, seed=i) for i in range(3)], axis)


def test_stack_of_scalars_and_noncontiguous(device):
    s = [randn((), device, seed=i) for i in range(3)]
    np.testing.assert_array_equal(gc.stack(s).numpy(), [x.item() for x in s])
    assert gc.gradcheck(lambda *zs: gc.stack(zs), s)
    a, b = randn((3, 2), device, seed=1).numpy(), randn((3, 2), device, seed=2).numpy()
    xs = [noncontig(a, device, "transposed"), noncontig(b, device)]
    np.testing.assert_array_equal(gc.concatenate(xs, 1).numpy(), np.concatenate([a, b], 1))
    assert gc.gradcheck(lambda *zs: gc.concatenate(zs, 1), xs)
    assert gc.gradcheck(lambda *zs: gc.stack(zs, 1), xs)


SPLIT = [  # (shape, indices_or_sections, axis)
    ((6,), 3, 0),
    ((2, 6), [1, 4], 1),
    ((4, 3), 2, 0),
    ((2, 5), [2], -1),
    ((3, 4), [0, 2, 4], 1),  # includes empty parts
]


@pytest.mark.parametrize("shape,sections,axis", SPLIT, ids=str)
def test_split(shape, sections, axis, device):
    x = randn(shape, device)
    parts = gc.split(x, sections, axis)
    expected = np.split(x.numpy(), sections, axis)
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        np.testing.assert_array_equal(p.numpy(), e)

    def weighted(z):  # every part, each with its own weight
        return gc.concatenate([p * (i + 1) for i, p in enumerate(gc.split(z, sections, axis))],
                              axis)

    assert gc.gradcheck(weighted, (x,))
    assert gradcheck2(lambda z: weighted(z) ** 2, (x,))
    assert jvpcheck(weighted, (x,))
    assert gc.gradcheck(weighted, (noncontig(x.numpy(), device),))


def test_split_parts_without_gradient_get_zeros(device):
    x = gc.tensor(np.arange(6.0), device=device, requires_grad=True)
    a, b, c = gc.split(x, 3)
    (b * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 2, 2, 0, 0])
    assert gc.gradcheck(lambda z: gc.split(z, 3)[2] ** 2, (randn((6,), device),))


def test_errors(device):
    a, b = gc.zeros((2, 3), device=device), gc.zeros((2, 2), device=device)
    with pytest.raises(ValueError, match="concatenate"):
        gc.concatenate([a, b], 0)
    with pytest.raises(ValueError, match="concatenate"):
        gc.concatenate([])
    with pytest.raises(ValueError, match="concatenate"):
        gc.concatenate([a, a], 2)
    with pytest.raises(ValueError, match="stack"):
        gc.stack([a, b])
    with pytest.raises(ValueError, match="split"):
        gc.split(a, 2, axis=1)
    with pytest.raises(ValueError, match="split"):
        gc.split(a, 2, axis=2)


def test_axes_and_split_points_must_be_integers(device):
    x = gc.ones((2, 4), device=device)
    for call, match in [(lambda: gc.concatenate([x, x], axis=1.5), r"^concatenate: axis must be"),
                        (lambda: gc.stack([x, x], axis=1.5), r"^stack: axis must be"),
                        (lambda: gc.split(x, 2, axis=1.0), r"^split: axis must be"),
                        (lambda: gc.split(x, 1.5, axis=1), r"^split: indices_or_sections must"),
                        (lambda: gc.split(x, [1.5], axis=1), r"^split: indices_or_sections must")]:
        with pytest.raises(TypeError, match=match):
            call()
    assert [t.shape for t in gc.split(x, np.int64(2), axis=1)] == [(2, 2), (2, 2)]


# ---- NumPy's forms: hstack, vstack, column_stack, append, array_split -----------------------
JOINS = {
    "hstack 1-D": (gc.hstack, np.hstack, [(2,), (3,)]),
    "hstack 2-D": (gc.hstack, np.hstack, [(2, 1), (2, 3)]),
    "vstack 1-D": (gc.vstack, np.vstack, [(3,), (3,)]),
    "vstack 2-D": (gc.vstack, np.vstack, [(1, 3), (2, 3), (3,)]),
    "column_stack": (gc.column_stack, np.column_stack, [(3,), (3, 2)]),
}


@pytest.mark.parametrize("name", JOINS)
def test_numpy_joins(name, device):
    fn, ref, shapes = JOINS[name]
    xs = [randn(s, device, seed=i) for i, s in enumerate(shapes)]
    np.testing.assert_array_equal(fn(xs).numpy(), ref([x.numpy() for x in xs]))
    f = lambda *ts: fn(list(ts)) ** 2  # noqa: E731
    assert gc.gradcheck(f, xs)
    assert gradcheck2(f, xs)
    assert jvpcheck(f, xs)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_append(axis, device):
    x, v = randn((2, 3), device, seed=1), randn((2, 3), device, seed=2)
    np.testing.assert_array_equal(gc.append(x, v, axis).numpy(),
                                  np.append(x.numpy(), v.numpy(), axis))
    assert gc.gradcheck(lambda a, b: gc.append(a, b, axis) ** 2, (x, v))
    assert jvpcheck(lambda a, b: gc.append(a, b, axis), (x, v))


@pytest.mark.parametrize("sections, axis", [(3, 0), (4, 1), ([1, 3], 1), (7, 0), (1, 1)],
                         ids=str)
def test_array_split(sections, axis, device):
    x = randn((5, 4), device)
    parts = gc.array_split(x, sections, axis)
    refs = np.array_split(x.numpy(), sections, axis)
    assert [p.shape for p in parts] == [r.shape for r in refs]
    for p, r in zip(parts, refs):
        np.testing.assert_array_equal(p.numpy(), r)
    def f(t):  # each part weighted differently, so a misrouted gradient shows
        parts = gc.array_split(t, sections, axis)
        return gc.concatenate([p * (i + 1) for i, p in enumerate(parts)], axis)

    assert gc.gradcheck(f, (x,))
    assert jvpcheck(f, (x,))


def test_numpy_join_errors(device):
    with pytest.raises(ValueError, match="hstack: need at least one tensor"):
        gc.hstack([])
    with pytest.raises(ValueError, match="array_split: axis 0 of size 3 does not divide into 0"):
        gc.array_split(gc.zeros(3, device=device), 0)
    with pytest.raises(ValueError, match="split: axis 0 of size 3 does not divide into 2"):
        gc.split(gc.zeros(3, device=device), 2)


def test_cat_is_concatenate_with_dim(device):
    a, b = randn((2, 3), device, seed=1), randn((2, 1), device, seed=2)
    np.testing.assert_array_equal(gc.cat([a, b], dim=1).numpy(),
                                  np.concatenate([a.numpy(), b.numpy()], axis=1))
    assert gc.cat((a, a)).shape == (4, 3)
    assert gc.gradcheck(lambda a, b: gc.cat([a, b], dim=1), (a, b))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid(indexing, device):
    x, y, z = (randn((n,), device, seed=n) for n in (3, 2, 4))
    for xs in ((x,), (x, y), (x, y, z)):
        got = gc.meshgrid(*xs, indexing=indexing)
        want = np.meshgrid(*(v.numpy() for v in xs), indexing=indexing)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w)
    f = lambda x, y: gc.meshgrid(x, y, indexing=indexing)[0] * gc.meshgrid(x, y, indexing=indexing)[1]  # noqa: E731,E501
    assert gc.gradcheck(f, (x, y)) and gradcheck2(f, (x, y)) and jvpcheck(f, (x, y))
    assert gc.meshgrid([x, y])[0].shape == (2, 3)
    f32 = gc.meshgrid(gc.ones(2, device=device), gc.ones(3, device=device))
    assert f32[0].dtype == np.float32


def test_meshgrid_errors():
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'xy' or 'ij'"):
        gc.meshgrid(gc.ones(2), indexing="ji")
    with pytest.raises(ValueError, match=r"meshgrid: expected 1-D tensors, got shapes \[\(2, 2\)\]"):
        gc.meshgrid(gc.ones((2, 2)))
