"""Tensor constructors (gradcore/creation.py): sizes are integers, named in every error, and a
shape too large to address is refused by the op, not by NumPy's "array is too big"."""
import numpy as np
import pytest

import gradcore as gc

MAKERS = {  # name -> call with sizes given as positional arguments
    "zeros": gc.zeros, "ones": gc.ones, "empty": gc.empty, "randn": gc.randn, "rand": gc.rand,
    "full": lambda *shape, **kw: gc.full(shape[0] if len(shape) == 1 else shape, 7.0, **kw),
}


@pytest.mark.parametrize("sizes", [(2.5,), (2, 2.0), ((2, 2.5),), (True,), ("3",)], ids=repr)
@pytest.mark.parametrize("name", MAKERS)
def test_sizes_must_be_integers(name, sizes):
    with pytest.raises(TypeError, match=rf"^{name}: size must be an integer, got"):
        MAKERS[name](*sizes)


@pytest.mark.parametrize("name", MAKERS)
def test_a_shape_too_large_to_address_names_the_op(name):
    with pytest.raises(ValueError, match=rf"^{name}: shape \(1099511627776, 1099511627776\) of "
                                         r"float32 is larger than this machine can address"):
        MAKERS[name](2**40, 2**40, dtype="float32")


@pytest.mark.parametrize("name", MAKERS)
def test_integer_sizes_of_every_kind_work(name, device):
    for sizes in [(2, 3), ((2, 3),), ([2, 3],), (np.int64(2), np.int32(3)), ((np.int64(2), 3),)]:
        assert MAKERS[name](*sizes, device=device).shape == (2, 3)
    assert MAKERS[name](0, 3, device=device).shape == (0, 3)
    assert gc.full(4, 1.0, device=device).shape == (4,)


def test_full_takes_an_int_or_a_shape():
    with pytest.raises(TypeError, match="^full: size must be an integer, got 2.5"):
        gc.full(2.5, 1.0)


@pytest.mark.parametrize("args, match", [((0, 1, 0), "step=0"), ((0, 1e20), r"stop=1e\+20"),
                                         ((0, float("nan")), "stop=nan")])
def test_arange_errors_name_the_arguments(args, match):
    with pytest.raises((ValueError, ZeroDivisionError), match=rf"^arange: .*{match}"):
        gc.arange(*args)


# ---- NumPy's ranges and matrices, from_numpy, the seeded Generator (issue 13) ----------------
def test_linspace_logspace_eye_identity_tri(device):
    np.testing.assert_allclose(gc.linspace(-1, 2, 7, device=device).numpy(), np.linspace(-1, 2, 7),
                               rtol=1e-6)
    assert gc.linspace(0, 1, 3).dtype == np.float32
    assert gc.linspace(0, 1, 3, dtype="float64", device=device).tolist() == [0.0, 0.5, 1.0]
    assert gc.linspace(0, 1, 0).shape == (0,)
    np.testing.assert_allclose(gc.logspace(0, 3, 4, base=2, device=device).numpy(),
                               [1, 2, 4, 8])
    assert gc.eye(3, 2, k=-1, device=device).tolist() == np.eye(3, 2, k=-1).tolist()
    assert gc.identity(3, dtype="int64").tolist() == np.identity(3, dtype=int).tolist()
    assert gc.tri(3, 4, k=1, device=device).tolist() == np.tri(3, 4, k=1).tolist()
    x = gc.eye(2, requires_grad=True, device=device)
    assert x.requires_grad and str(x.device).startswith(device)
    with pytest.raises(ValueError, match="linspace: num must be non-negative"):
        gc.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="eye: size must be an integer"):
        gc.eye(2.5)


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(4, dtype=np.float64)
    t = gc.from_numpy(a)
    assert t.dtype == np.float64 and t.device == gc.device("cpu")
    a[0] = 10.0
    t[1] = 20.0
    assert t.tolist() == [10.0, 20.0, 2.0, 3.0] and a.tolist() == [10.0, 20.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        gc.from_numpy([1.0])


def test_generator_same_seed_same_numbers(device):
    g1, g2 = gc.Generator().manual_seed(5), gc.Generator().manual_seed(5)
    for draw in (lambda g: gc.randn(3, generator=g, device=device),
                 lambda g: gc.rand(3, generator=g, device=device),
                 lambda g: gc.randint(0, 100, (4,), generator=g, device=device),
                 lambda g: gc.multinomial(gc.ones(5, device=device), 3, generator=g),
                 lambda g: gc.zeros(3, device=device).normal_(generator=g),
                 lambda g: gc.zeros(3, device=device).uniform_(generator=g),
                 lambda g: gc.nn.functional.dropout(gc.ones(8, device=device), generator=g)):
        assert draw(g1).tolist() == draw(g2).tolist()
    gc.manual_seed(0)
    before = gc.randn(2).tolist()
    gc.manual_seed(0)
    gc.randn(3, generator=g1)  # a private generator leaves the global stream alone
    assert gc.randn(2).tolist() == before
    assert g1.initial_seed() == 5 and gc.Generator().initial_seed() is None
    with pytest.raises(TypeError, match="randn: generator must be a gradcore.Generator"):
        gc.randn(2, generator=np.random.default_rng(0))


def test_randint():
    x = gc.randint(10, size=(2000,))
    assert x.dtype == np.int64 and x.min().item() == 0 and x.max().item() == 9
    assert gc.randint(3, 4).shape == () and gc.randint(3, 4).item() == 3
    assert gc.randint(0, 2, (3,), dtype="int32").dtype == np.int32
    with pytest.raises(ValueError, match=r"randint: empty range \[5, 5\)"):
        gc.randint(5, 5)
    with pytest.raises(TypeError, match="randint: dtype must be an integer dtype"):
        gc.randint(5, dtype="float32")


def test_multinomial_frequencies_and_rows(device):
    g = gc.Generator().manual_seed(1)
    p = gc.tensor([[0.1, 0.0, 0.6, 0.3], [0.0, 0.0, 0.0, 2.0]], device=device)
    s = gc.multinomial(p, 20000, replacement=True, generator=g)
    assert s.shape == (2, 20000) and s.dtype == np.int64
    freq = np.bincount(s.numpy()[0], minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.02)
    assert set(s.numpy()[1].tolist()) == {3}
    # without replacement: distinct indices, zero weights only once the others are used up
    w = gc.multinomial(gc.tensor([0.0, 1.0, 1.0], device=device), 3, generator=g).tolist()
    assert sorted(w) == [0, 1, 2] and w[2] == 0
    first = [gc.multinomial(gc.tensor([1.0, 9.0]), 1, generator=g).item() for _ in range(2000)]
    assert 0.87 < np.mean(first) < 0.93  # P(first draw is 1) = 0.9


@pytest.mark.parametrize("probs, n, kw, match", [
    ([0.5, 0.5], 3, {}, r"num_samples must be in \[1, 2\] without replacement"),
    ([0.5, 0.5], 0, {"replacement": True}, "num_samples must be positive"),
    ([-0.1, 0.5], 1, {}, "inf, nan or a negative weight"),
    ([0.0, 0.0], 1, {}, "sums to 0"),
    ([[[0.5]]], 1, {}, r"1-D or 2-D floating tensor, got shape \(1, 1, 1\)"),
])
def test_multinomial_errors(probs, n, kw, match):
    with pytest.raises(ValueError, match=match):
        gc.multinomial(gc.tensor(probs), n, **kw)
