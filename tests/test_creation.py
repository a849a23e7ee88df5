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
